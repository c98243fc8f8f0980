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

:class:`Slots` name explicit per-row slots instead: row ``r`` is ``act[batch[r], token[r]]`` (head
``head[r]`` if given), token indices absolute (padding counted). A packed forward of ``R`` rows end
to end in one sequence addresses ``Slots(batch=zeros(R), token=first)``:

>>> slots = Slots(batch=torch.tensor([0, 0, 1]), token=torch.tensor([0, 2, 1]))
>>> out = place(act, slots, None, torch.tensor([1.0, 2.0, 3.0])[:, None, None].expand(3, 1, 4))
>>> out[:, :, 0].tolist(), select(out, slots, None).shape     # rows r -> [R, 1, ...]
([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]], torch.Size([3, 1, 4]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.graph.positions import PositionSpec, integer_index, resolve_positions


@dataclass(frozen=True)
class Slots:
    """One slot per row: row ``r`` acts on ``act[batch[r], token[r]]`` (only head ``head[r]`` if given).

    ``batch``, ``token``, ``head``: integer tensors ``[R]`` (kept as given: no copy). Tokens are
    absolute indices into the activation (padding counted, unlike ``positions``). An intervention
    whose ``positions`` are Slots sees ``[R, 1, (heads,) ...]`` in ``edit``, and its per-row
    parameters (first dim ``R``) go one to each row. Rows should name distinct slots.
    """

    batch: Tensor  # [R]
    token: Tensor  # [R]
    head: Tensor | None = None  # [R]

    def __post_init__(self) -> None:
        for name in ("batch", "token", "head"):
            value = getattr(self, name)
            if value is None and name == "head":
                continue
            value = torch.as_tensor(value)
            if value.ndim != 1 or value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
                raise InputError(f"Slots.{name} must be a 1-D integer tensor (one index per row); got "
                                 f"{value.dtype} of shape {list(value.shape)}")
            if len(value) != len(self.batch):
                raise InputError(f"Slots has {len(self.batch)} batch indices but {len(value)} {name} indices")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.batch)

    def take(self, rows: Tensor) -> Slots:
        """The slots of ``rows`` (indices into these rows), in that order."""
        return Slots(self.batch[rows], self.token[rows], None if self.head is None else self.head[rows])

    def index(self, device) -> tuple[Tensor, ...]:
        """``(batch, token(, head))`` on ``device``, for advanced indexing."""
        parts = (self.batch, self.token) if self.head is None else (self.batch, self.token, self.head)
        return tuple(part.to(device) for part in parts)

    def check(self, size: int, width: int, where: str) -> None:
        """Every slot inside a ``[size, width, ...]`` activation (else an :class:`InputError`)."""
        for name, bound in (("batch", size), ("token", width)):
            value = getattr(self, name)
            if len(value) and not (0 <= int(value.min()) and int(value.max()) < bound):
                raise InputError(f"{where}: Slots.{name} holds {value.tolist()}, outside 0..{bound - 1}")


def resolve(spec: PositionSpec | Slots, batch: Batch) -> Tensor | Slots | None:
    """``[batch, k]`` absolute indices, the :class:`Slots` themselves, or None for "every position"."""
    if spec is None or isinstance(spec, Slots):
        return spec
    return resolve_positions(spec, batch)


def mask_batch(mask: Tensor | None, size: int, width: int) -> Batch:
    """A Batch that knows only where real tokens are (for resolving source positions)."""
    if mask is None:
        mask = torch.ones(size, width, dtype=torch.long)
    return Batch(torch.zeros_like(mask, dtype=torch.long), mask.long().cpu())


def select(act: Tensor, idx: Tensor | Slots | None, heads: Tensor | None) -> Tensor:
    """``act[b, idx[b, j], heads]`` -> ``[batch, k, (h,) ...]``; at :class:`Slots`: ``[R, 1, (h,) ...]``."""
    if isinstance(idx, Slots):
        picked = act[idx.index(act.device)][:, None]  # [R, 1, ...]
        if idx.head is not None:
            return picked[:, :, None]  # [R, 1, 1, d_head]
        return picked if heads is None else picked[:, :, heads.to(act.device)]
    if idx is not None:
        rows = torch.arange(act.shape[0], device=act.device)[:, None]
        act = act[rows, idx.to(act.device)]
    if heads is not None:
        act = act[:, :, heads.to(act.device)]
    return act


def place(act: Tensor, idx: Tensor | Slots | None, heads: Tensor | None, new: Tensor) -> Tensor:
    """A copy of ``act`` with the selected slots replaced by ``new`` (never in place)."""
    new = new.to(act.dtype)
    if isinstance(idx, Slots):
        out = act.clone()
        index = idx.index(act.device)
        if idx.head is not None or heads is None:
            out[index] = new.reshape(len(idx), *act.shape[len(index):])
        else:
            h = heads.to(act.device)
            out[index[0][:, None], index[1][:, None], h[None, :]] = new.reshape(len(idx), len(h), *act.shape[3:])
        return out
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
    if isinstance(spec, Slots):
        return {"slots": [spec.batch.tolist(), spec.token.tolist(), None if spec.head is None else spec.head.tolist()]}
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
    if isinstance(obj, dict) and set(obj) == {"slots"}:
        parts = obj["slots"]
        if not isinstance(parts, list) or len(parts) != 3:
            raise InputError(f"not saved slots: {obj!r}")
        return Slots(*(None if part is None else torch.tensor(part, dtype=torch.long) for part in parts))
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
    if isinstance(spec, Slots):
        return f"Slots[{len(spec)}{'' if spec.head is None else ', heads'}]"
    if isinstance(spec, slice):
        return f"[{spec.start or ''}:{spec.stop or ''}{'' if spec.step is None else f':{spec.step}'}]"
    return repr(encode(spec))
