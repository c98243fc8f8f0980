"""Shared machinery of interventions that read a source run (Patch, Subspace, DAS, resampling).

Base positions ``positions`` count the base example's real tokens; ``source_positions`` (default:
the same selector) count the source example's own real tokens, so a span that tokenises to
different lengths on the two sides is still aligned. ``source_site`` (default: ``site``) lets a
patch read one site of the source and write another of the same width.

Source values are checked when the intervention is bound, at the positions it reads: a NaN or inf
there is an :class:`InputError` naming the intervention (NaN at padding that is never read, as
some models leave in caches, is no error).

Per row: with :class:`~interp.interventions.positions.Slots` positions, a tensor ``source``
``[R, ...]`` is the value each row writes (the width of one selected slot), e.g. a packed forward's
rows; any other source is read at ``source_positions`` (Slots too; default: the same slots).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions import positions as P
from interp.interventions.base import Intervention, check_finite, check_width, site_shape
from interp.interventions.source import Source


class Interchange(Intervention):
    fields = ("site", "positions", "heads", "source_positions", "source_site")

    def __init__(
        self,
        site: str,
        source: Any = None,
        positions: P.PositionSpec | None = None,
        *,
        source_positions: P.PositionSpec | None = None,
        heads: list[int] | None = None,
        source_site: str | None = None,
    ):
        super().__init__(site, positions, heads)
        self.source_site = source_site
        self.source_positions = source_positions
        self.source = self._source_of(source)

    def _source_of(self, source: Any) -> Source | None:
        if isinstance(self.positions, P.Slots) and self.source_positions is None and isinstance(source, Tensor) \
                and source.is_floating_point():
            return Source.rows(source)  # one value per row
        return Source.of(source, self.source_site or self.site)

    def using(self, **changes) -> Intervention:
        source = changes.pop("source", None)
        clone = super().using(**changes)
        if source is not None:
            clone.source = clone._source_of(source)
        return clone

    def source_values(self, hm, batch: Batch, idx: Tensor | None) -> Tensor:
        """Source activations at the source positions, ``[batch, k, (heads,) ...]``, validated."""
        if self.source is None:
            raise InputError(f"{type(self).__name__} at {self.site} has no source: pass source=...")
        if isinstance(idx, P.Slots):
            return self.slot_values(hm, idx)
        if self.source.per_row:
            raise InputError(f"{self.label}: a source value per row [R, ...] goes with positions=Slots(...); "
                             "here the positions are not slots")
        read_site = self.source_site or self.site
        source = self.source.materialise(hm, read_site)
        spec = self.source_positions if self.source_positions is not None else self.positions
        values = source.at(spec, batch.size, batch.width, self.site)
        check_finite(self.label, "the source activation at the patched positions", values)
        check_width(f"{self.site}: the source activation", values, self.full_shape(hm), self.site)
        k = batch.width if idx is None else idx.shape[1]
        if values.shape[1] not in (k, 1) or (values.shape[1] == 1 and idx is not None and k != 1):
            raise InputError(
                f"{self.site}: the base positions select {k} tokens per example but the source "
                f"positions select {values.shape[1]}"
            )
        heads = self.check_heads(hm)
        return values if heads is None else values[:, :, heads.to(values.device)]

    def slot_values(self, hm, slots: P.Slots) -> Tensor:
        """One source value per slot, ``[R, 1, (heads,) ...]``, validated."""
        heads = self.check_heads(hm, slots)
        spec = self.source_positions
        if self.source.per_row:
            values = self.source.acts  # [R, *slot]
            self.check_rows("the source (one value per row)", values, len(slots))
            values = values[:, None] if slots.head is None else values[:, None, None]
        else:
            spec = slots if spec is None else spec
            if not isinstance(spec, P.Slots) or len(spec) != len(slots):
                raise InputError(f"{self.label}: with Slots positions the source is one value per row [R, ...], or "
                                 f"is read at source_positions=Slots(...) of as many rows ({len(slots)})")
            acts = self.source.materialise(hm, self.source_site or self.site).acts
            spec.check(acts.shape[0], acts.shape[1], f"{self.label}, the source")
            values = P.select(acts, spec, heads)
        check_finite(self.label, "the source activation at the patched slots", values)
        check_width(f"{self.site}: the source value per row", values, self.slot_shape(hm, slots), self.site)
        return values

    def full_shape(self, hm) -> tuple[int, ...] | None:
        return site_shape(hm, self.site)

    # ------------------------------------------------------------- saving
    def config(self) -> dict:
        return {**super().config(), "source": None if self.source is None else self.source.config()}

    def tensors(self) -> dict[str, Tensor]:
        return {**super().tensors(), **({} if self.source is None else self.source.tensors())}

    @classmethod
    def from_saved(cls, config: dict, tensors: dict[str, Tensor]) -> Intervention:
        source = Source.from_saved(config.get("source"), tensors)
        obj = super().from_saved(config, tensors)
        obj.source = source
        return obj

    def __repr__(self) -> str:
        text = super().__repr__()
        return text[:-1] + f", source={self.source!r})" if self.source is not None else text
