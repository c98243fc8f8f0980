"""``probe``: the weight vector of a logistic-regression probe that tells the two types apart.

>>> import torch
>>> acts = torch.tensor([[0.0, 1.0], [0.1, 3.0], [2.0, 1.0], [2.1, 3.0]])
>>> probe_direction(acts, [0, 0, 1, 1])[0].item() > 0.9
True
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from interp.methods._common import as_matrix, binary_labels, unit


def probe_direction(acts: Tensor, labels: Sequence | Tensor, seed: int = 0, *, C: float = 1.0,
                    max_iter: int = 1000) -> Tensor:
    """``acts [n, d]``, ``labels [n]`` -> unit ``[d]``: the L2-regularised probe's ``coef_`` (points to type 1).

    The activations are divided by their overall standard deviation first (one scalar, so the
    direction is unchanged): residual streams have large norms, on which lbfgs converges badly.
    """
    from sklearn.linear_model import LogisticRegression

    x = as_matrix(acts)
    x = x / max(float(x.std()), 1e-12)
    y = binary_labels(labels, len(x))
    probe = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    probe.fit(x, y)
    return unit(probe.coef_[0])
