"""Shared helpers of the direction-finding methods: labels, unit vectors, stacking two sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from interp.errors import InputError


def unit(vector: Tensor | np.ndarray) -> Tensor:
    """``[d]`` float32 tensor of norm 1 (a zero vector is an error: it names no direction)."""
    vector = torch.as_tensor(np.asarray(vector, dtype=np.float64) if isinstance(vector, np.ndarray) else vector)
    vector = vector.detach().double().flatten()
    norm = vector.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise InputError("the method found no direction (a zero or non-finite vector); are the two types' "
                         "activations identical?")
    return (vector / norm).float()


def binary_labels(labels: Sequence | Tensor, n: int) -> np.ndarray:
    """``[n]`` array of 0/1 from ints, bools or two distinct type names (sorted: first name -> 0)."""
    values = labels.tolist() if isinstance(labels, Tensor) else list(labels)
    if len(values) != n:
        raise InputError(f"{len(values)} labels for {n} activations")
    kinds = sorted(set(values), key=str)
    if len(kinds) != 2:
        raise InputError(f"a direction separates two types; the labels hold {len(kinds)}: {kinds[:5]}")
    if set(kinds) <= {0, 1}:
        return np.asarray(values, dtype=np.int64)
    return np.asarray([kinds.index(v) for v in values], dtype=np.int64)


def as_matrix(acts: Tensor | np.ndarray, name: str = "activations") -> np.ndarray:
    """``[n, d]`` float64 numpy array."""
    array = acts.detach().double().cpu().numpy() if isinstance(acts, Tensor) else np.asarray(acts, np.float64)
    if array.ndim != 2:
        raise InputError(f"{name} must be [n, d]; got shape {list(array.shape)}")
    return array


def orient(direction: Tensor, acts: np.ndarray, labels: np.ndarray) -> Tensor:
    """Flip ``direction`` so that type 1 projects higher than type 0 (the sign of a 1-d interchange
    does not matter; a fixed sign makes directions comparable across methods and seeds)."""
    projection = torch.as_tensor(acts, dtype=torch.float64) @ direction.double()
    gap = projection[torch.as_tensor(labels == 1)].mean() - projection[torch.as_tensor(labels == 0)].mean()
    return -direction if gap < 0 else direction
