"""``mean``: the difference of the two types' mean activations.

>>> import torch
>>> acts = torch.tensor([[0.0, 1.0], [0.0, 3.0], [2.0, 1.0], [2.0, 3.0]])
>>> mean_direction(acts, [0, 0, 1, 1]).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from interp.methods._common import as_matrix, binary_labels, unit


def mean_direction(acts: Tensor, labels: Sequence | Tensor, seed: int = 0) -> Tensor:
    """``acts [n, d]``, ``labels [n]`` (two types) -> unit ``[d]``: mean(type 1) − mean(type 0)."""
    x = as_matrix(acts)
    y = binary_labels(labels, len(x))
    return unit(x[y == 1].mean(0) - x[y == 0].mean(0))
