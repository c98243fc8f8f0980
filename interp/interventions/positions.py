"""Selecting and writing the slots an intervention touches: positions (per example) and heads.

Positions are the selectors of :mod:`interp.graph.positions` (counting real tokens): an int,
``"last"``, ``"all"``, a slice, a flat list ``[1, 4]`` (positions 1 and 4 in every example) or a
list of lists ``[[1], [4]]`` (one list per example), plus ``None``: every position of the tensor,
padding included (no real token attends to padding, so writing there changes nothing; this form
also fits each new token during generation).

>>> import torch
>>> act = torch.zeros(2, 3, 4)
>>> idx = torch.tensor([[0], [2]])
>>> out = place(act, idx, None, torch.ones(2, 1, 4))
>>> out[:, :, 0].tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.graph.positions import PositionSpec, integer_index, resolve_positions


def resolve(spec: PositionSpec, batch: Batch) -> Tensor | None:
    """``[batch, k]`` absolute indices, or None for "every position"."""
    if spec is None:
        return None
    return resolve_positions(spec, batch)


def mask_batch(mask: Tensor | None, size: int, width: int) -> Batch:
    """A Batch that knows only where real tokens are (for resolving source positions)."""
    if mask is None:
        mask = torch.ones(size, width, dtype=torch.long)
    return Batch(torch.zeros_like(mask, dtype=torch.long), mask.long().cpu())


def select(act: Tensor, idx: Tensor | None, heads: Tensor | None) -> Tensor:
    """``act[b, idx[b, j], heads]`` -> ``[batch, k, (h,) ...]``."""
    if idx is not None:
        rows = torch.arange(act.shape[0], device=act.device)[:, None]
        act = act[rows, idx.to(act.device)]
    if heads is not None:
        act = act[:, :, heads.to(act.device)]
    return act


def place(act: Tensor, idx: Tensor | None, heads: Tensor | None, new: Tensor) -> Tensor:
    """A copy of ``act`` with the selected slots replaced by ``new`` (never in place)."""
    new = new.to(act.dtype)
    if idx is None and heads is None:
        return new.expand_as(act).clone() if new.shape != act.shape else new
    out = act.clone()
    rows = torch.arange(act.shape[0], device=act.device)
    if idx is None:
        out[:, :, heads.to(act.device)] = new.expand(act.shape[0], act.shape[1], *new.shape[2:])
    elif heads is None:
        out[rows[:, None], idx.to(act.device)] = new.expand(*idx.shape, *act.shape[2:])
    else:
        h = heads.to(act.device)
        out[rows[:, None, None], idx.to(act.device)[:, :, None], h[None, None, :]] = new.expand(
            *idx.shape, len(h), *act.shape[3:]
        )
    return out


def encode(spec: Any) -> Any:
    """A position selector as JSON (a tensor or array becomes a flat or nested list of ints)."""
    if isinstance(spec, slice):
        return {"slice": [spec.start, spec.stop, spec.step]}
    if isinstance(spec, Tensor) or type(spec).__module__ == "numpy":
        spec = spec.tolist()
    if isinstance(spec, (list, tuple)):
        return [encode(s) if isinstance(s, (list, tuple)) or isinstance(s, Tensor) and s.ndim
                else integer_index(s, "a position (token index)") for s in spec]
    return spec


def decode(obj: Any, version: int = 2) -> Any:
    """A position selector from JSON; anything that is not one is an :class:`InputError`.

    Format 1 (before flat lists meant "these positions in every example") read a flat list as one
    entry per example; such a list is rewritten as a list of lists, so it keeps its meaning.
    """
    if isinstance(obj, dict):
        bounds = obj.get("slice")
        if set(obj) != {"slice"} or not isinstance(bounds, list) or len(bounds) != 3 or not all(
                b is None or isinstance(b, int) and not isinstance(b, bool) for b in bounds):
            raise InputError(f"not a saved position selector: {obj!r}")
        return slice(*bounds)
    if version < 2 and isinstance(obj, list) and not all(isinstance(e, list) for e in obj):
        return [e if isinstance(e, list) else [e] for e in obj]
    return obj


def describe(spec: Any) -> str:
    if spec is None:
        return "all"
    if isinstance(spec, slice):
        return f"[{spec.start or ''}:{spec.stop or ''}{'' if spec.step is None else f':{spec.step}'}]"
    return repr(encode(spec))
