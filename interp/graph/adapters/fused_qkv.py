"""How a fused query/key/value projection packs its output, as data: :class:`FusedQKV`.

Every packing in the Hugging Face families is "groups of segments": the output ``[..., width]``
splits into ``groups`` equal blocks, and each block holds the three kinds in ``order``, each kind
with ``total heads of that kind / groups`` heads of ``d_head``:

================================  ==============  ==================  ===============================
packing                           ``groups``      ``order``           families
================================  ==============  ==================  ===============================
``concat`` ``[q | k | v]``        1               q k v               gpt2, phi3, mpt
``per_head`` ``[h: q k v | ...]`` ``"heads"``     q k v               gpt_neox, bloom, persimmon
``grouped`` ``[g: q..q k v]``     ``"kv_heads"``  q k v               falcon, gpt_bigcode
codegen                           4               q v k               codegen (``mp_num = 4``)
================================  ==============  ==================  ===============================

``grouped`` with one key/value head is ``concat`` (multi-query Falcon-7B, GPT-BigCode), with as many
key/value heads as query heads it is ``per_head`` (Falcon-RW, GPT-BigCode without multi-query): so
one table serves every configuration of those families, given the right ``n_kv_heads``.

``q`` has ``n_heads`` heads, ``k`` and ``v`` ``n_kv_heads`` (grouped-query and multi-query
attention), so ``concat`` with GQA widths is ``q: n_heads * d_head`` then ``k``, ``v``:
``n_kv_heads * d_head`` each.

>>> import torch
>>> from interp.graph.adapters.layout import Dims
>>> dims = Dims(1, n_heads=4, n_kv_heads=2, d_model=8, d_head=2)
>>> raw = torch.arange(16.)[None]                       # [q: 8 | k: 4 | v: 4]
>>> read, write = FusedQKV.named("concat").accessors("k", dims)
>>> read(raw, {}).tolist()
[[[8.0, 9.0], [10.0, 11.0]]]
>>> torch.equal(write(raw, read(raw, {}), {}), raw)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class FusedQKV:
    """``groups``: an int, ``"heads"`` (one per query head) or ``"kv_heads"`` (one per key/value
    head); ``order``: the kinds inside a group."""

    groups: int | str = 1
    order: tuple[str, str, str] = ("q", "k", "v")

    @staticmethod
    def named(packing: FusedQKV | str | None) -> FusedQKV | None:
        if packing is None or isinstance(packing, FusedQKV):
            return packing
        try:
            return NAMED[packing]
        except KeyError:
            raise ValueError(f"unknown fused-QKV packing {packing!r}; use one of {sorted(NAMED)} "
                             "or a FusedQKV") from None

    def n_groups(self, dims: Any) -> int:
        return {"heads": dims.n_heads, "kv_heads": dims.n_kv_heads}.get(self.groups, self.groups)

    def accessors(self, kind: str, dims: Any):
        """``(read, write)`` turning the fused output into ``[..., heads, d_head]`` of ``kind`` and back."""
        groups = self.n_groups(dims)
        heads = {"q": dims.n_heads, "k": dims.n_kv_heads, "v": dims.n_kv_heads}
        per_group = {name: heads[name] // groups * dims.d_head for name in self.order}
        start = sum(per_group[name] for name in self.order[: self.order.index(kind)])
        stop = start + per_group[kind]

        def read(raw: Tensor, state: dict) -> Tensor:  # [..., width] -> [..., heads, d_head]
            blocks = raw.unflatten(-1, (groups, -1))[..., start:stop]  # [..., groups, per_group]
            return blocks.unflatten(-1, (-1, dims.d_head)).flatten(-3, -2)

        def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
            blocks = raw.unflatten(-1, (groups, -1))
            part = new.to(raw.dtype).unflatten(-2, (groups, -1)).flatten(-2)  # [..., groups, per_group]
            return torch.cat([blocks[..., :start], part, blocks[..., stop:]], dim=-1).flatten(-2)

        return read, write


NAMED = {
    "concat": FusedQKV(1),
    "per_head": FusedQKV("heads"),
    "grouped": FusedQKV("kv_heads"),
}

__all__ = ["NAMED", "FusedQKV"]
