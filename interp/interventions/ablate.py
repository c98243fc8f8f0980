"""Ablate: zero, mean or resample ablation at a site, positions and heads.

>>> import interp
>>> from interp.interventions import Ablate
>>> hm = interp.models.tiny("llama")
>>> zero = Ablate("z.0", heads=[1])
>>> mean = Ablate("resid_post.0", "mean", reference=["The dog was happy", "The key is here"])
>>> resample = Ablate("mlp_out.1", "resample", reference=["The dog was happy"], positions="last")
>>> _ = hm.run("The keys to the cabinet", interventions=[zero, mean, resample])
>>> mean.value.shape   # computed on first use, then saved with the intervention
torch.Size([64])

- ``"zero"``: the slots become 0.
- ``"mean"``: the mean over every real token of the ``reference`` inputs (or a given ``value``).
- ``"resample"``: each base example takes the activation of a reference example drawn at random
  (``seed``), read at ``source_positions`` (default: the same selector) of that example.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions import positions as P
from interp.interventions.base import check_finite, check_width, site_shape
from interp.interventions.interchange import Interchange
from interp.interventions.source import Source

KINDS = ("zero", "mean", "resample")


class Ablate(Interchange):
    fields = (*Interchange.fields, "kind", "seed")
    tensor_fields = ("value",)

    def __init__(self, site: str, kind: str = "zero", *, reference: Any = None, value: Tensor | None = None,
                 positions: P.PositionSpec | None = None, source_positions: P.PositionSpec | None = None,
                 heads: list[int] | None = None, seed: int = 0, source_site: str | None = None):
        if kind not in KINDS:
            raise InputError(f"unknown ablation {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "resample" and reference is None:
            raise InputError("resample ablation needs reference=... inputs (or a cache) to draw from")
        if kind == "mean" and reference is None and value is None:
            raise InputError("mean ablation needs reference=... inputs (or a cache), or value=...")
        super().__init__(site, reference, positions, source_positions=source_positions, heads=heads,
                         source_site=source_site)
        self.kind, self.seed = kind, int(seed)
        self.value = None if value is None else torch.as_tensor(value).detach()

    @property
    def reference(self) -> Source | None:
        return self.source

    def prepare(self, hm, batch: Batch, idx: Tensor | None) -> dict:
        if self.kind == "zero":
            return {}
        if self.kind == "mean":
            if self.value is None:
                source = self.source.materialise(hm, self.source_site or self.site)
                self.value = _masked_mean(source)
            check_width("the mean value", self.value, site_shape(hm, self.site), self.site)
            check_finite(self.label, "the mean value", self.value)
            heads = self.check_heads(hm)
            return {"values": self.value if heads is None else self.value[heads.to(self.value.device)]}
        source = self.source.materialise(hm, self.source_site or self.site)
        generator = torch.Generator().manual_seed(self.seed)
        rows = torch.randint(source.acts.shape[0], (batch.size,), generator=generator)
        mask = None if source.mask is None else source.mask[rows]
        drawn = Interchange(self.site, Source(source.acts[rows.to(source.acts.device)], mask), self.positions,
                            source_positions=self.source_positions, heads=self.heads)
        return {"values": drawn.source_values(hm, batch, idx)}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        if self.kind == "zero":
            return torch.zeros_like(selected)
        return prepared["values"].to(selected.device, selected.dtype).expand_as(selected)

    def config(self) -> dict:
        config = super().config()
        config["reference"] = config.pop("source")
        return config

    @classmethod
    def from_saved(cls, config: dict, tensors: dict[str, Tensor]) -> Ablate:
        config = {**config, "source": config.get("reference")}
        return super().from_saved(config, tensors)

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> Ablate:
        kind = kwargs.pop("kind")
        placeholder = None if kind == "zero" else ["placeholder"]
        return cls(kwargs.pop("site"), kind, reference=placeholder, **kwargs)


def _masked_mean(source: Source) -> Tensor:
    acts = source.acts
    if source.mask is None:
        return acts.flatten(0, 1).mean(0)
    keep = source.mask.bool().to(acts.device)
    return acts[keep].mean(0)
