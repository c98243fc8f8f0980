"""``lda``: Fisher's linear discriminant, ``Σ⁻¹ (μ₁ − μ₀)`` with the pooled within-type covariance.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> acts = torch.randn(100, 2, generator=g) * 0.1
>>> acts[50:, 0] += 1
>>> lda_direction(acts, [0] * 50 + [1] * 50)[0].item() > 0.95
True
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from interp.methods._common import as_matrix, binary_labels, orient, unit


def lda_direction(acts: Tensor, labels: Sequence | Tensor, seed: int = 0) -> Tensor:
    """``acts [n, d]``, ``labels [n]`` -> unit ``[d]``: scikit-learn LDA's (svd solver) discriminant axis."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x = as_matrix(acts)
    y = binary_labels(labels, len(x))
    lda = LinearDiscriminantAnalysis(n_components=1).fit(x, y)
    return orient(unit(lda.scalings_[:, 0]), x, y)
