"""Layer groups (Ghilardi et al. 2024, "Efficient Training of Sparse Autoencoders for Large Language
Models via Layer Groups"): adjacent layers whose activations point the same way share one SAE.

1. :func:`angular_distances`: ``D[i, j]``, the mean over tokens of ``arccos(cos(x_i, x_j)) / pi``
   between layers ``i`` and ``j`` at the same token (0: same direction, 1: opposite).
2. :func:`merge_order`: contiguous agglomerative clustering with complete linkage: start from one
   group per layer and merge, again and again, the two *adjacent* groups whose union has the smallest
   maximum pairwise distance (ties: the leftmost pair), down to one group.
3. :func:`layer_groups`: the grouping with ``n_groups`` groups, or the fewest groups whose average
   maximum angular distance (AMAD: the mean over groups of the largest distance inside each) is at most
   ``threshold``.

>>> import torch
>>> D = torch.tensor([[0.0, 0.1, 0.5, 0.6], [0.1, 0.0, 0.4, 0.5], [0.5, 0.4, 0.0, 0.05], [0.6, 0.5, 0.05, 0.0]])
>>> layer_groups(D, n_groups=2)
[[0, 1], [2, 3]]
>>> layer_groups(D, threshold=0.05)         # AMAD of [[0], [1], [2, 3]] is (0 + 0 + 0.05) / 3
[[0], [1], [2, 3]]
>>> round(amad(D, [[0, 1], [2, 3]]), 4)
0.075
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.sae.activations import Activations


def angular_distances(store: Activations, sites: Sequence[str], *, max_tokens: int = 8192) -> Tensor:
    """``[n_layers, n_layers]`` mean angular distances (in units of pi) between the sites' activations
    at the same tokens (the first ``max_tokens`` of the store)."""
    rows = slice(0, min(store.n_tokens, max_tokens))
    units = torch.stack([torch.nn.functional.normalize(store[s][rows].float(), dim=-1) for s in sites])  # [L, N, d]
    distances = torch.zeros(len(sites), len(sites))
    for i in range(len(sites)):       # one row at a time: [L, N] cosines, never [L, L, N]
        cosines = torch.einsum("nd,lnd->ln", units[i], units).clamp(-1.0, 1.0)
        distances[i] = torch.arccos(cosines).mean(-1) / math.pi
    distances = (distances + distances.T) / 2
    distances.fill_diagonal_(0.0)
    return distances


def _diameter(distances: Tensor, group: Sequence[int]) -> float:
    return float(distances[list(group)][:, list(group)].max())


def amad(distances: Tensor, groups: Sequence[Sequence[int]]) -> float:
    """Average maximum angular distance: the mean over groups of the largest distance inside each."""
    return sum(_diameter(distances, g) for g in groups) / len(groups)


def merge_order(distances: Tensor) -> list[list[list[int]]]:
    """Every grouping from one group per layer (index 0) down to a single group (index L-1)."""
    n = distances.shape[0]
    if distances.shape != (n, n) or n == 0:
        raise InputError(f"distances must be a square [layers, layers] matrix; got {tuple(distances.shape)}")
    groups = [[i] for i in range(n)]
    history = [[list(g) for g in groups]]
    while len(groups) > 1:
        costs = [_diameter(distances, groups[i] + groups[i + 1]) for i in range(len(groups) - 1)]
        best = min(range(len(costs)), key=lambda i: (costs[i], i))
        groups[best:best + 2] = [groups[best] + groups[best + 1]]
        history.append([list(g) for g in groups])
    return history


def layer_groups(distances: Tensor, *, n_groups: int | None = None, threshold: float | None = None) -> list[list[int]]:
    """Contiguous groups of layer indices: ``n_groups`` of them, or the fewest with AMAD <= ``threshold``."""
    if (n_groups is None) == (threshold is None):
        raise InputError("give exactly one of n_groups (how many groups) and threshold (the largest AMAD)")
    history = merge_order(distances)
    n = distances.shape[0]
    if n_groups is not None:
        if not 1 <= n_groups <= n:
            raise InputError(f"n_groups must be between 1 and the {n} layers; got {n_groups}")
        return history[n - n_groups]
    fitting = [groups for groups in history if amad(distances, groups) <= threshold]
    return min(fitting, key=len)  # one group per layer always fits (AMAD 0)
