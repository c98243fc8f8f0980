"""``kmeans``: the difference of the two centroids that 2-means finds (unsupervised).

>>> import torch
>>> acts = torch.tensor([[0.0, 1.0], [0.0, 1.2], [3.0, 1.0], [3.0, 1.2]])
>>> kmeans_direction(acts, [0, 0, 1, 1])[0].item() > 0.999
True
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from interp.methods._common import as_matrix, binary_labels, orient, unit


def kmeans_direction(acts: Tensor, labels: Sequence | Tensor | None = None, seed: int = 0) -> Tensor:
    """``acts [n, d]`` -> unit ``[d]``: centroid 1 − centroid 0; oriented toward type 1 given labels."""
    from sklearn.cluster import KMeans

    x = as_matrix(acts)
    centers = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(x).cluster_centers_
    direction = unit(centers[1] - centers[0])
    return direction if labels is None else orient(direction, x, binary_labels(labels, len(x)))
