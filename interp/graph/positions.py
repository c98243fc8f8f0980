"""Position selectors, resolved against a :class:`~interp.graph.inputs.Batch`.

A selector counts real tokens of each example (padding never counts). The same selector means
the same thing whatever the batch size:

- ``int``: this index in every example; negative counts from the end (``-1`` = last token)
- ``"last"``: the last real token; ``"all"``: every real token (examples must be equally long)
- ``slice``: e.g. ``slice(-3, None)`` for the last three tokens of each example
- a flat list of ints (or a 1-D tensor/array), e.g. ``[1, 4]``: positions 1 and 4 in every example
- per-example positions: a list of lists (or a 2-D tensor/array), one equally long inner list per
  example, e.g. ``[[1], [4]]``: position 1 of example 0 and position 4 of example 1

>>> import torch
>>> from interp.graph.inputs import Batch
>>> batch = Batch(torch.zeros(2, 4, dtype=torch.long), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]))
>>> resolve_positions("last", batch).tolist()
[[2], [3]]
>>> resolve_positions([0, 1], batch).tolist()      # the same two positions in every example
[[0, 1], [0, 1]]
>>> resolve_positions([[0], [1]], batch).tolist()  # one position per example
[[0], [1]]
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch

PositionSpec = int | str | slice | Sequence[int] | Sequence[Sequence[int]] | Tensor | None


def integer_index(value: Any, what: str) -> int:
    """``value`` as an int if it is an integer (Python, numpy, or a 0-d integer tensor); bools, floats and
    anything else are an :class:`InputError` naming ``what`` (e.g. ``"a head index"``)."""
    if isinstance(value, Tensor) and value.ndim == 0 and not value.is_floating_point() \
            and not value.is_complex() and value.dtype != torch.bool:
        return int(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # numpy integers are Integral
        return int(value)
    raise InputError(f"{what} must be an integer, not {value!r} ({type(value).__name__})")


def _spelled(rows: list[list[int]]) -> str:
    return repr([list(r) for r in rows])


def _relative_rows(spec: PositionSpec, batch: Batch) -> list[list[int]]:
    lengths = batch.lengths.tolist()
    if spec is None or isinstance(spec, str) and spec == "all":
        if len(set(lengths)) != 1:
            raise InputError(f"positions='all' needs equally long examples; lengths are {lengths}")
        return [list(range(n)) for n in lengths]
    if isinstance(spec, str):
        if spec == "last":
            return [[-1] for _ in lengths]
        raise InputError(f"unknown position selector {spec!r}; use 'last', 'all', an int, a slice, a list of "
                         "positions for every example, or a list of lists (one per example)")
    if isinstance(spec, slice):
        rows = [list(range(n))[spec] for n in lengths]
        if len({len(r) for r in rows}) != 1:
            raise InputError(f"positions {spec} select different numbers of tokens per example: {rows}")
        return rows
    if isinstance(spec, Tensor) or type(spec).__module__ == "numpy":  # tensors, numpy arrays and scalars
        if getattr(spec, "ndim", 0) > 2:
            raise InputError(f"positions as a tensor/array must be 1-D (the same positions in every example) or "
                             f"2-D (one row per example); got shape {list(spec.shape)}")
        if getattr(spec, "ndim", 0) == 0:
            return [[integer_index(spec, "a position (token index)")] for _ in lengths]
        spec = [s for s in spec]  # rows (2-D) or 0-d elements (1-D), each checked below
    if isinstance(spec, bool) or not isinstance(spec, (Sequence, numbers.Integral)):
        raise InputError(f"unknown position selector {spec!r} ({type(spec).__name__}); use 'last', 'all', an int, "
                         "a slice, a list of positions for every example, or a list of lists (one per example)")
    if not isinstance(spec, Sequence):
        return [[integer_index(spec, "a position (token index)")] for _ in lengths]
    entries = list(spec)
    nested = [_is_row(e) for e in entries]
    if entries and all(nested):
        rows = [[integer_index(i, "a position (token index)") for i in e] for e in entries]
        if len(rows) != len(lengths):
            flat = sorted({p for r in rows for p in r})
            raise InputError(
                f"positions={_spelled(rows)} has {len(rows)} per-example lists for a batch of {len(lengths)}; "
                f"give one list per example, or for the same positions in every example write positions={flat}"
            )
        if len({len(r) for r in rows}) != 1:
            raise InputError(f"per-example position lists must be equally long; got positions={_spelled(rows)}")
        return rows
    if any(nested):
        raise InputError(f"positions={spec!r} mixes positions and lists; write a flat list for the same positions "
                         "in every example (positions=[1, 4]) or a list of lists, one per example "
                         "(positions=[[1], [4]])")
    row = [integer_index(e, "a position (token index)") for e in entries]
    if not row:
        raise InputError("positions=[] selects nothing; pass None for every position")
    return [list(row) for _ in lengths]


def _is_row(entry: Any) -> bool:
    if isinstance(entry, (Tensor,)) or type(entry).__module__ == "numpy":
        return getattr(entry, "ndim", 0) >= 1
    return isinstance(entry, Sequence) and not isinstance(entry, str)


def resolve_positions(spec: PositionSpec, batch: Batch) -> Tensor:
    """Absolute token indices ``[batch, k]`` for a selector, with range checks per example."""
    rows = _relative_rows(spec, batch)
    out = torch.empty((len(rows), len(rows[0])), dtype=torch.long)
    confusable = len(rows[0]) > 1 and _is_flat(spec)  # several flat positions: was it meant per example?
    for example, (row, length, offset) in enumerate(zip(rows, batch.lengths.tolist(), batch.offsets.tolist())):
        for j, pos in enumerate(row):
            if not -length <= pos < length:
                hint = ""
                if confusable:
                    hint = (f" (positions={row} means positions {', '.join(map(str, row))} in every example; "
                            f"for one position per example write positions={_spelled([[p] for p in row])})")
                raise InputError(
                    f"position {pos} is out of range for example {example}, which has {length} tokens "
                    f"(valid: {-length}..{length - 1}){hint}"
                )
            out[example, j] = offset + (pos % length)
    return out


def _is_flat(spec: PositionSpec) -> bool:
    """A flat list/1-D tensor of several positions (the spelling easily mistaken for per-example)."""
    if isinstance(spec, Tensor) or type(spec).__module__ == "numpy":
        return getattr(spec, "ndim", 0) == 1
    return isinstance(spec, Sequence) and not isinstance(spec, str) and not any(_is_row(e) for e in spec)
