"""Per-example position selectors, resolved against a :class:`~interp.graph.inputs.Batch`.

A selector counts real tokens of each example (padding never counts):

- ``int``: the same index in every example; negative counts from the end (``-1`` = last token)
- ``"last"``: the last real token; ``"all"``: every real token (examples must be equally long)
- ``slice``: e.g. ``slice(-3, None)`` for the last three tokens of each example
- a sequence with one entry per example: ints, or equally long lists of ints

>>> import torch
>>> from interp.graph.inputs import Batch
>>> batch = Batch(torch.zeros(2, 4, dtype=torch.long), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]))
>>> resolve_positions("last", batch).tolist()
[[2], [3]]
>>> resolve_positions([0, [1]], batch).tolist()
[[0], [1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch

PositionSpec = int | str | slice | Sequence[int] | Sequence[Sequence[int]] | Tensor | None


def _relative_rows(spec: PositionSpec, batch: Batch) -> list[list[int]]:
    lengths = batch.lengths.tolist()
    if spec is None or spec == "all":
        if len(set(lengths)) != 1:
            raise InputError(f"positions='all' needs equally long examples; lengths are {lengths}")
        return [list(range(n)) for n in lengths]
    if spec == "last":
        return [[-1] for _ in lengths]
    if isinstance(spec, str):
        raise InputError(f"unknown position selector {spec!r}; use 'last', 'all', an int, a slice or a list")
    if isinstance(spec, bool):
        raise InputError(f"a position must be an integer token index, not {spec!r}")
    if isinstance(spec, int):
        return [[spec] for _ in lengths]
    if isinstance(spec, slice):
        rows = [list(range(n))[spec] for n in lengths]
        if len({len(r) for r in rows}) != 1:
            raise InputError(f"positions {spec} select different numbers of tokens per example: {rows}")
        return rows
    if isinstance(spec, Tensor) or type(spec).__module__ == "numpy":  # tensors, numpy arrays and scalars
        spec = spec.tolist()
        if isinstance(spec, int):
            return [[spec] for _ in lengths]
    if not isinstance(spec, Sequence):
        raise InputError(f"unknown position selector {spec!r} ({type(spec).__name__}); use 'last', 'all', an int, "
                         "a slice or a list")
    entries = list(spec)
    if len(entries) != len(lengths):
        raise InputError(f"per-example positions have {len(entries)} entries for a batch of {len(lengths)}")
    rows = [[_integer(e)] if not isinstance(e, Sequence) else [_integer(i) for i in e] for e in entries]
    if len({len(r) for r in rows}) != 1:
        raise InputError(f"per-example position lists must be equally long; got {rows}")
    return rows


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, Tensor) and value.ndim == 0
                                                                        and not value.is_floating_point()):
        raise InputError(f"a position must be an integer token index, not {value!r} ({type(value).__name__})")
    return int(value)


def resolve_positions(spec: PositionSpec, batch: Batch) -> Tensor:
    """Absolute token indices ``[batch, k]`` for a selector, with range checks per example."""
    rows = _relative_rows(spec, batch)
    out = torch.empty((len(rows), len(rows[0])), dtype=torch.long)
    for example, (row, length, offset) in enumerate(zip(rows, batch.lengths.tolist(), batch.offsets.tolist())):
        for j, pos in enumerate(row):
            if not -length <= pos < length:
                raise InputError(
                    f"position {pos} is out of range for example {example}, which has {length} tokens "
                    f"(valid: {-length}..{length - 1})"
                )
            out[example, j] = offset + (pos % length)
    return out
