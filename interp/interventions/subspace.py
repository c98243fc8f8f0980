"""Subspace: interchange along k orthonormal directions only.

``h <- h - B Bᵀ h + B Bᵀ h_src`` (= ``h + B Bᵀ (h_src - h)``; written this way a full identity
basis gives ``h_src`` and an empty one gives ``h``, bit for bit). With ``k = 1`` and a unit
vector this is the CausalGym one-dimensional interchange. :func:`interchange` is this maths for
every caller (``Patch``, ``Subspace``, ``DAS``, DAS training and scoring, the sweeps).

>>> import torch, interp
>>> from interp.interventions import Subspace
>>> hm = interp.models.tiny("llama")
>>> direction = torch.nn.functional.normalize(torch.randn(64), dim=0)
>>> sub = Subspace("resid_post.0", direction, source="The keys to the cabinet", positions="last")
>>> sub.k
1

A basis per row ``[R, d, k]`` gives each row (each :class:`~interp.interventions.positions.Slots`
row, or else each batch example) its own subspace. A basis that requires grad (e.g. stacked
``DAS.basis`` tensors) stays in the autograd graph, so a per-row Subspace trains them.
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


def interchange(base: Tensor, source: Tensor, basis: Tensor | None) -> Tensor:
    """``base - B Bᵀ base + B Bᵀ source`` along the last dim; the whole ``source`` where ``basis`` is None.

    ``basis``: ``[d, k]`` for every row, or ``[R, d, k]``, row ``r`` of ``base``/``source``
    (``[R, ..., d]``) with its own.
    """
    if basis is None:
        return source.to(base.device)
    basis = basis.to(base.dtype).to(base.device)
    if basis.ndim == 2:
        return base - (base @ basis) @ basis.T + (source @ basis) @ basis.T
    down = lambda x: torch.einsum("r...d,rdk->r...k", x, basis)  # noqa: E731
    up = lambda c: torch.einsum("r...k,rdk->r...d", c, basis)  # noqa: E731
    return base - up(down(base)) + up(down(source))


class Subspace(Interchange):
    """Interchange inside the span of ``basis`` (``[d]``, ``[d, k]`` or one per row ``[R, d, k]``, orthonormal
    columns)."""

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
        basis = torch.as_tensor(basis)
        basis = check_real("the basis", basis if basis.requires_grad else basis.detach()).contiguous()
        if basis.ndim == 1:
            basis = basis[:, None]
        if basis.ndim not in (2, 3):
            raise InputError(f"basis must be [d], [d, k] or one per row [R, d, k]; got shape {list(basis.shape)}")
        if basis.shape[-1]:
            plain = basis.detach().double()
            gram = plain.transpose(-1, -2) @ plain
            if not torch.allclose(gram, torch.eye(basis.shape[-1], dtype=torch.float64), atol=1e-4):
                check_finite(self.label, "the basis", basis)  # a finite basis passes only if orthonormal
                raise InputError(
                    f"the {basis.shape[-1]} basis vectors must be orthonormal (BᵀB = I); "
                    "orthonormalise them first, e.g. torch.linalg.qr(B).Q"
                )
        self.basis = basis

    @property
    def k(self) -> int:
        return self.basis.shape[-1]

    def prepare(self, hm, batch: Batch | None, idx: Tensor | P.Slots | None) -> dict:
        values = self.source_values(hm, batch, idx)
        if values.shape[-1] != self.basis.shape[-2]:
            raise InputError(
                f"basis has width {self.basis.shape[-2]}, but {self.site} activations have width "
                f"{values.shape[-1]}"
            )
        if self.basis.ndim == 3:
            self.check_rows("the basis (one per row)", self.basis, self.rows(batch, idx))
        return {"values": values}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        return interchange(selected, prepared["values"].to(selected.device), self.basis)

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> Subspace:
        return cls(kwargs.pop("site"), kwargs.pop("basis"), **kwargs)
