"""The interchange written into packed suffix forwards (:mod:`interp.graph.packing`): DAS training
and scoring pack many intervened copies of base examples into one sequence, and
:class:`PackedInterchange` writes each row's start token.

>>> import interp, torch
>>> from interp.graph.packing import Packing, base_state, packed_last_logits
>>> hm = interp.models.tiny("llama")
>>> batch = hm.tokenize(["The key to the cabinets", "The dogs near the house"])
>>> packing = Packing(batch, examples=torch.tensor([0, 1]), starts=torch.tensor([1, 2]))
>>> source = hm.run(batch, cache=["resid_pre.1"]).cache["resid_pre.1"][[1, 0], [1, 2]]   # [R, d]
>>> edit = PackedInterchange("resid_pre.1", packing, source)
>>> logits = packed_last_logits(hm, base_state(hm, batch, layer=1), packing, [edit])
>>> logits.shape == (2, hm.model.config.vocab_size)
True
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.graph.packing import Packing


class PackedInterchange:
    """Row ``r`` writes its start token: ``h + B_r B_rᵀ (source[r] − h)`` (``basis [R, d, k]``), or the
    whole ``source[r]`` where ``full[r]`` (or everywhere when ``basis`` is None)."""

    def __init__(self, site: str, packing: Packing, source: Tensor, basis: Tensor | None = None,
                 full: Tensor | None = None):
        self.site, self.packing, self.source, self.basis, self.full = site, packing, source, basis, full

    def __call__(self, act: Tensor, context=None) -> Tensor:
        index = self.packing.first.to(act.device)
        base = act[0, index]  # [R, d]
        source = self.source.to(act.device, act.dtype)
        if self.basis is None:
            new = source
        else:
            basis = self.basis.to(act.device, act.dtype)  # [R, d, k]
            down = lambda x: torch.einsum("rd,rdk->rk", x, basis)  # noqa: E731
            up = lambda c: torch.einsum("rk,rdk->rd", c, basis)  # noqa: E731
            new = base - up(down(base)) + up(down(source))
            if self.full is not None:
                new = torch.where(self.full.to(act.device)[:, None], source, new)
        out = act.clone()
        out[0, index] = new
        return out
