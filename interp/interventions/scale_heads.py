"""ScaleHeads: multiply chosen heads' contributions by factors.

On ``z.L`` (per-head attention output, the input of the output projection) this scales what each
head writes; on ``v.L`` it scales the head's value vectors (Yu, Merullo & Pavlick 2023, where
scaling one head's values moves a model between an in-context and a memorised answer). Under
grouped-query attention ``v``/``k`` heads are key/value heads.

>>> import interp
>>> from interp.interventions import ScaleHeads
>>> ScaleHeads("z.1", {2: 0.0, 3: 2.0})
ScaleHeads(site='z.1', heads=[2, 3], factors=[0.0, 2.0])
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.errors import InputError
from interp.interventions import positions as P
from interp.interventions.base import Intervention, check_finite


class ScaleHeads(Intervention):
    """``act[:, positions, head] *= factor`` for each ``{head: factor}``; heads are integers, factors finite."""

    fields = ("site", "positions", "heads", "factors")

    def __init__(self, site: str, heads: dict[int, float] | list[int] | int, factor: float | None = None,
                 positions: P.PositionSpec | None = None, *, factors: list[float] | None = None):
        if isinstance(heads, dict):
            heads, factors = list(heads), [float(f) for f in heads.values()]
        else:
            if isinstance(heads, Tensor) or type(heads).__module__ == "numpy" and getattr(heads, "ndim", 0):
                heads = heads.tolist()
            heads = list(heads) if isinstance(heads, (list, tuple, range)) else [heads]
            if factors is None:
                if factor is None:
                    raise InputError("ScaleHeads needs factors: {head: factor}, or heads=[...] with factor=x")
                factors = [float(factor)] * len(heads)
        if len(factors) != len(heads):
            raise InputError(f"{len(heads)} heads but {len(factors)} factors")
        super().__init__(site, positions, heads)
        if self.site.split(".")[0] not in ("q", "k", "v", "z"):
            raise InputError(f"ScaleHeads acts on a per-head site (z.L or v.L, also q/k), not {site!r}")
        self.factors = check_finite(self.label, "factors", [float(f) for f in factors])

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        factors = torch.tensor(self.factors, dtype=selected.dtype, device=selected.device)
        return selected * factors[:, None]

    def __repr__(self) -> str:
        positions = "" if self.positions is None else f", positions={P.describe(self.positions)}"
        return f"ScaleHeads(site={self.site!r}, heads={self.heads}, factors={self.factors}{positions})"

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> ScaleHeads:
        return cls(kwargs["site"], kwargs["heads"], positions=kwargs["positions"], factors=kwargs["factors"])
