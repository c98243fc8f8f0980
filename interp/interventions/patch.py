"""Patch: interchange (activation) patching.

Write activations taken from a source run into the base run at a site, at positions counted in
each example's real tokens (base and source positions may differ), optionally only for some heads.
``positions=[1, 4]`` patches positions 1 and 4 of every example; ``positions=[[1], [4]]`` patches
position 1 of example 0 and position 4 of example 1 (one list per example).

>>> import interp
>>> from interp.interventions import Patch
>>> hm = interp.models.tiny("gpt2")
>>> src = hm.run(["The keys to the cabinet"], cache=["resid_post.0"])
>>> patch = Patch("resid_post.0", source=src.cache, positions=[1])
>>> out = hm.run(["The key to the cabinets"], interventions=[patch])
>>> patch
Patch(site='resid_post.0', positions=[1], source=cache[1, 7, 64])

``source`` is a cache or RunOutput from an earlier run, an activation tensor
``[batch, pos, ...]`` for the site, or inputs (text, token ids) that are run first. With
``positions=Slots(...)`` (:class:`~interp.interventions.positions.Slots`), a tensor ``source``
``[R, ...]`` is the value each row writes.
"""

from __future__ import annotations

from torch import Tensor

from interp.graph.inputs import Batch
from interp.interventions.interchange import Interchange
from interp.interventions.subspace import interchange


class Patch(Interchange):
    """``h_base[b, positions[b]] <- h_src[b, source_positions[b]]`` (only ``heads`` if given)."""

    def prepare(self, hm, batch: Batch, idx: Tensor | None) -> dict:
        return {"values": self.source_values(hm, batch, idx)}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        return interchange(selected, prepared["values"], None)  # the whole source value
