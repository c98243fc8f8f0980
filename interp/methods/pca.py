"""``pca``: the first principal component of both types' activations together (unsupervised).

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> acts = torch.randn(200, 3, generator=g) * torch.tensor([0.1, 5.0, 0.1])
>>> abs(pca_direction(acts, [0, 1] * 100)[1].item()) > 0.99
True
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from interp.methods._common import as_matrix, binary_labels, orient, unit


def pca_direction(acts: Tensor, labels: Sequence | Tensor | None = None, seed: int = 0) -> Tensor:
    """``acts [n, d]`` -> unit ``[d]``: PCA(1) component; oriented toward type 1 when labels are given."""
    from sklearn.decomposition import PCA

    x = as_matrix(acts)
    direction = unit(PCA(n_components=1, random_state=seed).fit(x).components_[0])
    return direction if labels is None else orient(direction, x, binary_labels(labels, len(x)))
