"""DAS: distributed alignment search, a trainable rank-k orthonormal basis for interchange.

The basis ``[dim, rank]`` is kept orthonormal by ``torch.nn.utils.parametrizations.orthogonal``;
the model stays frozen and ``das.parameters()`` are the only trainable tensors.

>>> import torch, interp
>>> from interp.interventions import DAS
>>> hm = interp.models.tiny("llama")
>>> das = DAS("resid_post.0", dim=hm.d_model, rank=2, positions="last", seed=0)
>>> base, source = ["The key to the cabinets"], ["The keys to the cabinet"]
>>> opt = torch.optim.Adam(das.parameters(), lr=1e-2)
>>> out = hm.run(base, interventions=[das.using(source=source)], grad=True)
>>> out.last_logits[0, 5].backward(); opt.step()
>>> torch.allclose(das.basis.T @ das.basis, torch.eye(2), atol=1e-5)
True

:class:`BoundlessDAS` learns a full rotation and a soft boundary (a sigmoid mask over the
rotated coordinates) instead of a fixed rank.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions import positions as P
from interp.interventions.base import check_finite
from interp.interventions.interchange import Interchange
from interp.interventions.subspace import interchange


class _Learned(Interchange):
    """A trainable interchange over a ``dim``-wide site."""

    fields = (*Interchange.fields, "dim")

    def __init__(self, site: str, dim: int, source: Any, positions: P.PositionSpec | None, *,
                 source_positions, heads, source_site):
        super().__init__(site, source, positions, source_positions=source_positions, heads=heads,
                         source_site=source_site)
        if not isinstance(dim, int) or dim < 1:
            raise InputError(f"dim must be a positive int (the site's width), not {dim!r}")
        self.dim = dim

    def prepare(self, hm, batch: Batch, idx: Tensor | None) -> dict:
        width = (self.slot_shape(hm, idx) or (self.dim,))[-1]
        if width != self.dim:
            raise InputError(f"{type(self).__name__} has dim={self.dim}, but {self.site} has width {width}")
        return {"values": self.source_values(hm, batch, idx)}


class DAS(_Learned):
    """Interchange along a learned rank-``rank`` orthonormal basis ``[dim, rank]``."""

    fields = (*_Learned.fields, "rank")

    def __init__(self, site: str, dim: int, rank: int = 1, source: Any = None,
                 positions: P.PositionSpec | None = None, *, source_positions=None, heads=None,
                 source_site=None, seed: int | None = None):
        super().__init__(site, dim, source, positions, source_positions=source_positions, heads=heads,
                         source_site=source_site)
        if not isinstance(rank, int) or not 1 <= rank <= dim:
            raise InputError(f"rank must be between 1 and dim={dim}, not {rank!r}")
        self.rank = rank
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.rotation = orthogonal(nn.Linear(rank, dim, bias=False))  # weight: [dim, rank]

    @property
    def basis(self) -> Tensor:
        """``[dim, rank]``, orthonormal columns."""
        return self.rotation.weight

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        return interchange(selected, prepared["values"].to(selected.device), self.basis)

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> DAS:
        return cls(kwargs.pop("site"), kwargs.pop("dim"), kwargs.pop("rank"), **kwargs)


class BoundlessDAS(_Learned):
    """A learned full rotation ``R`` and a soft boundary: coordinates below it are interchanged.

    ``mask_i = sigmoid((boundary · dim - i) / temperature)``; ``h <- R ((1 - m) Rᵀh + m Rᵀh_src)``.
    """

    fields = (*_Learned.fields, "temperature")

    def __init__(self, site: str, dim: int, source: Any = None, positions: P.PositionSpec | None = None,
                 *, source_positions=None, heads=None, source_site=None, temperature: float = 0.1,
                 seed: int | None = None):
        super().__init__(site, dim, source, positions, source_positions=source_positions, heads=heads,
                         source_site=source_site)
        self.temperature = check_finite(self.label, "temperature", float(temperature))
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.rotation = orthogonal(nn.Linear(dim, dim, bias=False))
        self.boundary = nn.Parameter(torch.tensor(0.5))

    def mask(self) -> Tensor:
        """``[dim]`` soft mask over the rotated coordinates."""
        index = torch.arange(self.dim, dtype=self.boundary.dtype, device=self.boundary.device)
        return torch.sigmoid((self.boundary * self.dim - index) / self.temperature)

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        rotation = self.rotation.weight.to(selected.dtype)
        base = selected @ rotation
        source = prepared["values"].to(selected.device) @ rotation
        mask = self.mask().to(selected.dtype)
        return (base + mask * (source - base)) @ rotation.T

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> BoundlessDAS:
        return cls(kwargs.pop("site"), kwargs.pop("dim"), **kwargs)
