"""Activations of both sides of every pair at one site, at each side's own positions.

>>> import interp
>>> from interp.methods import PairData
>>> hm = interp.models.tiny("gpt2")
>>> data = PairData.from_texts(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                            base_positions=[[1, 2]], source_positions=[[1, 2]],
...                            base_labels=[" is"], source_labels=[" are"])
>>> base, source = activations(hm, data, "resid_post.0")
>>> base.shape
torch.Size([1, 2, 64])
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.methods.pairs import PairData


def activations(hm, data: PairData, site: str) -> tuple[Tensor, Tensor]:
    """``(base [n, P, d], source [n, P, d])``: one forward per side, stopped right after ``site``."""
    out = []
    for side, batch in (("base", data.base), ("source", data.source)):
        acts = hm.run(batch, cache=[site], logits=False).cache[site]
        rows = torch.arange(data.n, device=acts.device)[:, None]
        out.append(acts[rows, data.absolute(side).to(acts.device)].float().cpu())
    return out[0], out[1]
