"""Subspace: interchange along k orthonormal directions only.

``h <- h - B Bᵀ h + B Bᵀ h_src`` (= ``h + B Bᵀ (h_src - h)``; written this way a full identity
basis gives ``h_src`` and an empty one gives ``h``, bit for bit). With ``k = 1`` and a unit
vector this is the CausalGym one-dimensional interchange.

>>> import torch, interp
>>> from interp.interventions import Subspace
>>> hm = interp.models.tiny("llama")
>>> direction = torch.nn.functional.normalize(torch.randn(64), dim=0)
>>> sub = Subspace("resid_post.0", direction, source="The keys to the cabinet", positions="last")
>>> sub.k
1
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions import positions as P
from interp.interventions.base import check_finite, check_real
from interp.interventions.interchange import Interchange


def interchange(base: Tensor, source: Tensor, basis: Tensor) -> Tensor:
    """``base - B Bᵀ base + B Bᵀ source`` along the last dim; ``basis`` is ``[d, k]``."""
    basis = basis.to(base.dtype).to(base.device)
    return base - (base @ basis) @ basis.T + (source @ basis) @ basis.T


class Subspace(Interchange):
    """Interchange inside the span of ``basis`` (``[d]`` or ``[d, k]``, orthonormal columns)."""

    tensor_fields = ("basis",)

    def __init__(
        self,
        site: str,
        basis: Tensor,
        source: Any = None,
        positions: P.PositionSpec | None = None,
        *,
        source_positions: P.PositionSpec | None = None,
        heads: list[int] | None = None,
        source_site: str | None = None,
    ):
        super().__init__(site, source, positions, source_positions=source_positions, heads=heads,
                         source_site=source_site)
        basis = check_real("the basis", torch.as_tensor(basis).detach()).contiguous()
        check_finite(self.label, "the basis", basis)
        if basis.ndim == 1:
            basis = basis[:, None]
        if basis.ndim != 2:
            raise InputError(f"basis must be [d] or [d, k]; got shape {list(basis.shape)}")
        if basis.shape[1]:
            gram = basis.T.double() @ basis.double()
            if not torch.allclose(gram, torch.eye(basis.shape[1], dtype=torch.float64), atol=1e-4):
                raise InputError(
                    f"the {basis.shape[1]} basis vectors must be orthonormal (BᵀB = I); "
                    "orthonormalise them first, e.g. torch.linalg.qr(B).Q"
                )
        self.basis = basis

    @property
    def k(self) -> int:
        return self.basis.shape[1]

    def prepare(self, hm, batch: Batch, idx: Tensor | None) -> dict:
        values = self.source_values(hm, batch, idx)
        if values.shape[-1] != self.basis.shape[0]:
            raise InputError(
                f"basis has width {self.basis.shape[0]}, but {self.site} activations have width "
                f"{values.shape[-1]}"
            )
        return {"values": values}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        return interchange(selected, prepared["values"].to(selected.device), self.basis)

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> Subspace:
        return cls(kwargs.pop("site"), kwargs.pop("basis"), **kwargs)
