"""ScaleHeads: multiply chosen heads' contributions by factors.

On ``z.L`` (per-head attention output, the input of the output projection) this scales what each
head writes; on ``v.L`` it scales the head's value vectors (Yu, Merullo & Pavlick 2023, where
scaling one head's values moves a model between an in-context and a memorised answer). Under
grouped-query attention ``v``/``k`` heads are key/value heads.

>>> import interp
>>> from interp.interventions import ScaleHeads
>>> ScaleHeads("z.1", {2: 0.0, 3: 2.0})
ScaleHeads(site='z.1', heads=[2, 3], factors=[0.0, 2.0])

One factor per row (per batch example, or per :class:`~interp.interventions.positions.Slots`
row): ``factor=torch.tensor([0.0, 1.0, 2.0])`` scales every chosen head of row ``r`` by
``factor[r]``; ``factors`` ``[R, heads]`` gives each row and head its own.

>>> ScaleHeads("z.1", [0, 2], factor=torch.tensor([0.0, 1.0, 2.0]))
ScaleHeads(site='z.1', heads=[0, 2], factors=tensor[3, 2])
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.errors import InputError
from interp.interventions import positions as P
from interp.interventions.base import Intervention, check_finite, per_row


class ScaleHeads(Intervention):
    """``act[:, positions, head] *= factor`` for each ``{head: factor}``; heads are integers, factors finite
    (one per head, or per row and head ``[R, heads]``)."""

    fields = ("site", "positions", "heads", "factors")

    def __init__(self, site: str, heads: dict[int, float] | list[int] | int, factor: float | Tensor | None = None,
                 positions: P.PositionSpec | P.Slots | None = None, *,
                 factors: list[float] | Tensor | None = None):
        if isinstance(heads, dict):
            heads, factors = list(heads), [float(f) for f in heads.values()]
        else:
            if isinstance(heads, Tensor) or type(heads).__module__ == "numpy" and getattr(heads, "ndim", 0):
                heads = heads.tolist()
            heads = list(heads) if isinstance(heads, (list, tuple, range)) else [heads]
            if factors is None:
                if factor is None:
                    raise InputError("ScaleHeads needs factors: {head: factor}, or heads=[...] with factor=x")
                if isinstance(factor, (Tensor, list, tuple)) or type(factor).__module__ == "numpy":
                    factors = torch.as_tensor(factor).detach()[:, None].expand(-1, len(heads))  # one per row
                else:
                    factors = [float(factor)] * len(heads)
        if isinstance(factors, list) and factors and isinstance(factors[0], list) or type(factors).__module__ == \
                "numpy" or isinstance(factors, Tensor):
            factors = torch.as_tensor(factors).detach()
            factors = factors if factors.is_floating_point() else factors.float()
            if factors.ndim != 2 or factors.shape[1] != len(heads):
                raise InputError(f"factors per row must be [rows, heads={len(heads)}]; got {list(factors.shape)}")
        elif len(factors) != len(heads):
            raise InputError(f"{len(heads)} heads but {len(factors)} factors")
        super().__init__(site, positions, heads)
        if self.site.split(".")[0] not in ("q", "k", "v", "z"):
            raise InputError(f"ScaleHeads acts on a per-head site (z.L or v.L, also q/k), not {site!r}")
        self.factors = check_finite(self.label, "factors", factors if isinstance(factors, Tensor)
                                    else [float(f) for f in factors])

    def prepare(self, hm, batch, idx) -> dict:
        if isinstance(self.factors, Tensor):
            self.check_rows("factors (one per row)", self.factors, self.rows(batch, idx))
        return {}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        if isinstance(self.factors, Tensor):  # [R, heads]
            return selected * per_row(self.factors[:, :, None], selected)
        factors = torch.tensor(self.factors, dtype=selected.dtype, device=selected.device)
        return selected * factors[:, None]

    def __repr__(self) -> str:
        positions = "" if self.positions is None else f", positions={P.describe(self.positions)}"
        factors = f"tensor{list(self.factors.shape)}" if isinstance(self.factors, Tensor) else self.factors
        return f"ScaleHeads(site={self.site!r}, heads={self.heads}, factors={factors}{positions})"

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> ScaleHeads:
        return cls(kwargs["site"], kwargs["heads"], positions=kwargs["positions"], factors=kwargs["factors"])
