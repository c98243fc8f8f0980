"""Minimal pairs as tensors: what DAS training, the direction methods and scoring consume.

A :class:`PairData` holds, for ``n`` pairs and ``P`` aligned positions (spans):
the base and source token batches (right-padded), the per-example, **per-side** token index of
each position (a span may tokenise to different lengths on the two sides) and the label ids.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> data = PairData.from_texts(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                            base_positions=[[1]], source_positions=[[1]],
...                            base_labels=[" is"], source_labels=[" are"], base_types=["sg"])
>>> data.n, data.n_positions, data.source_types
(1, 1, ['other'])

From the suites' encoded pairs (``interp.suites``): ``PairData.from_encoded(task.encode(tok, "train"), spans)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch


@dataclass
class PairData:
    """``n`` minimal pairs at ``P`` positions. Positions count each side's real tokens."""

    base: Batch  # [n, T_base]
    source: Batch  # [n, T_source]
    base_positions: Tensor  # [n, P] long
    source_positions: Tensor  # [n, P] long
    base_labels: Tensor  # [n] token ids
    source_labels: Tensor  # [n] token ids
    base_types: list | None = None  # [n] type names (for the direction methods)
    source_types: list | None = None
    names: list = field(default_factory=list)  # [P] what each position is (e.g. span index)

    def __post_init__(self) -> None:
        self.base_positions = _matrix(self.base_positions, "base_positions")
        self.source_positions = _matrix(self.source_positions, "source_positions")
        self.base_labels = torch.as_tensor(self.base_labels, dtype=torch.long).flatten()
        self.source_labels = torch.as_tensor(self.source_labels, dtype=torch.long).flatten()
        n = self.base.size
        shapes = {"source batch": self.source.size, "base_positions": len(self.base_positions),
                  "source_positions": len(self.source_positions), "base_labels": len(self.base_labels),
                  "source_labels": len(self.source_labels)}
        bad = {k: v for k, v in shapes.items() if v != n}
        if bad:
            raise InputError(f"{n} base examples, but {bad}")
        if self.base_positions.shape != self.source_positions.shape:
            raise InputError(f"base_positions {list(self.base_positions.shape)} and source_positions "
                             f"{list(self.source_positions.shape)} must have the same shape [n, P]")
        for side, batch, pos in (("base", self.base, self.base_positions), ("source", self.source,
                                                                              self.source_positions)):
            lengths = batch.lengths[:, None]
            if ((pos < -lengths) | (pos >= lengths)).any():
                row = int(((pos < -lengths) | (pos >= lengths)).any(1).nonzero()[0])
                raise InputError(f"{side} example {row} has {int(lengths[row])} tokens; positions "
                                 f"{pos[row].tolist()} are out of range")
        if self.base_types is not None and self.source_types is None:
            kinds = sorted(set(self.base_types), key=str)
            other = {kinds[0]: kinds[-1], kinds[-1]: kinds[0]} if len(kinds) == 2 else {}
            self.source_types = [other.get(t, "other") for t in self.base_types]
        if not self.names:
            self.names = list(range(self.base_positions.shape[1]))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_texts(cls, hm, base: Sequence[str] | Batch, source: Sequence[str] | Batch,
                   base_positions: Any, source_positions: Any, base_labels: Sequence[int | str] | Tensor,
                   source_labels: Sequence[int | str] | Tensor, base_types: list | None = None,
                   source_types: list | None = None) -> PairData:
        """Texts (or Batches) plus per-example positions (``[n]`` or ``[n, P]``) and labels (ids or
        single-token strings)."""
        return cls(_right(hm.tokenize(base)), _right(hm.tokenize(source)), base_positions, source_positions,
                   _label_ids(hm.tokenizer, base_labels), _label_ids(hm.tokenizer, source_labels),
                   base_types, source_types)

    @classmethod
    def from_encoded(cls, encoded: Sequence[Any], spans: Sequence[int] | None = None,
                     pad_id: int = 0) -> PairData:
        """From ``interp.suites`` ``EncodedPair`` objects (``.base.ids``, ``.positions(span)``, label ids).

        ``spans``: which spans to use as positions (default: the sites common to every pair).
        """
        if not encoded:
            raise InputError("no pairs to encode")
        if spans is None:
            common = set(encoded[0].sites)
            for e in encoded[1:]:
                common &= set(e.sites)
            spans = sorted(common)
        spans = list(spans)
        if not spans:
            raise InputError("these pairs share no usable span")
        located = [[e.positions(k) for k in spans] for e in encoded]
        return cls(_ids_batch([e.base.ids for e in encoded], pad_id), _ids_batch([e.src.ids for e in encoded], pad_id),
                   [[b for b, _ in row] for row in located], [[s for _, s in row] for row in located],
                   [e.base_label_id for e in encoded], [e.src_label_id for e in encoded],
                   [e.pair.base_type for e in encoded], [e.pair.src_type for e in encoded], names=spans)

    # ------------------------------------------------------------------ views
    @property
    def n(self) -> int:
        return self.base.size

    @property
    def n_positions(self) -> int:
        return self.base_positions.shape[1]

    def absolute(self, side: str) -> Tensor:
        """``[n, P]`` absolute token indices (padding counted) on ``side`` (``"base"``/``"source"``)."""
        batch, pos = (self.base, self.base_positions) if side == "base" else (self.source, self.source_positions)
        return batch.offsets[:, None] + pos % batch.lengths[:, None]

    def subset(self, rows: Sequence[int] | Tensor, positions: Sequence[int] | None = None) -> PairData:
        """Some pairs (and optionally some position columns) only."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        cols = slice(None) if positions is None else torch.as_tensor(list(positions), dtype=torch.long)

        def pick(xs: list | None) -> list | None:
            return None if xs is None else [xs[i] for i in rows.tolist()]

        names = self.names if positions is None else [self.names[i] for i in positions]
        return replace(self, base=_rows(self.base, rows), source=_rows(self.source, rows),
                       base_positions=self.base_positions[rows][:, cols],
                       source_positions=self.source_positions[rows][:, cols],
                       base_labels=self.base_labels[rows], source_labels=self.source_labels[rows],
                       base_types=pick(self.base_types), source_types=pick(self.source_types), names=names)

    def __repr__(self) -> str:
        return f"PairData(n={self.n}, positions={self.names})"


def _matrix(value: Any, name: str) -> Tensor:
    tensor = torch.as_tensor(value, dtype=torch.long)
    if tensor.ndim == 1:
        tensor = tensor[:, None]
    if tensor.ndim != 2:
        raise InputError(f"{name} must be [n] or [n, P]; got shape {list(tensor.shape)}")
    return tensor


def _label_ids(tokenizer, labels: Any) -> Tensor:
    if isinstance(labels, Tensor):
        return labels.long()
    from interp.suites_common import single_token_id

    return torch.tensor([single_token_id(tokenizer, x) if isinstance(x, str) else int(x) for x in labels])


def _right(batch: Batch) -> Batch:
    """The same examples right-padded (positions count real tokens either way)."""
    if not batch.left_padded:
        return batch
    ids, mask = torch.zeros_like(batch.input_ids), torch.zeros_like(batch.attention_mask)
    for row, (offset, length) in enumerate(zip(batch.offsets.tolist(), batch.lengths.tolist())):
        ids[row, :length] = batch.input_ids[row, offset:offset + length]
        mask[row, :length] = 1
    return Batch(ids, mask, batch.texts)


def _ids_batch(rows: list[list[int]], pad_id: int) -> Batch:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return Batch(ids, mask)


def _rows(batch: Batch, rows: Tensor) -> Batch:
    """Selected examples, trimmed to the widest of them (right padding)."""
    width = int((batch.offsets[rows] + batch.lengths[rows]).max())
    texts = None if batch.texts is None else [batch.texts[i] for i in rows.tolist()]
    return Batch(batch.input_ids[rows, :width], batch.attention_mask[rows, :width], texts)
