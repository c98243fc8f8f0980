"""Steer: add ``alpha · vector`` at a site (contrastive activation addition when the vector is a
difference of means).

>>> import torch, interp
>>> from interp.interventions import Steer
>>> hm = interp.models.tiny("gpt2")
>>> steer = Steer.from_contrast(hm, "resid_post.0", ["I love it"], ["I hate it"], alpha=4.0)
>>> out = hm.run("The movie was", interventions=[steer])
>>> steer.vector.shape
torch.Size([64])

``positions``: ``None`` = every position (also every new token when generating), ``"last"``,
an int, a slice, a list of positions for every example (``[1, 4]``), or one list per example
(``[[1], [4]]``), or :class:`~interp.interventions.positions.Slots`. ``alpha`` is a number, or one
per row (a tensor ``[R]``: per slot, or else per batch example, e.g. one coefficient per prompt
while generating). A NaN or inf vector or ``alpha`` is an :class:`InputError`. During
:func:`interp.interventions.generate`, ``where`` says whether the prompt, the new tokens, or both are steered.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions import positions as P
from interp.interventions.base import Intervention, check_finite, check_real, check_width, per_row, site_shape


class Steer(Intervention):
    """``h[:, positions] += alpha * vector``; ``vector`` has the width of one slot of the site; ``alpha``
    a number or one per row ``[R]``."""

    fields = ("site", "positions", "heads", "alpha")
    tensor_fields = ("vector",)

    def __init__(self, site: str, vector: Tensor, alpha: float | Sequence[float] | Tensor = 1.0,
                 positions: P.PositionSpec | P.Slots | None = None, *, heads: list[int] | None = None):
        super().__init__(site, positions, heads)
        self.vector = check_finite(self.label, "the steering vector",
                                   check_real("the steering vector", torch.as_tensor(vector).detach()))
        self.alpha = _alpha(alpha, self.label)

    @classmethod
    def from_contrast(
        cls, hm, site: str, positive: Sequence[str], negative: Sequence[str], *, alpha: float = 1.0,
        positions: P.PositionSpec | None = None, read: str = "last",
    ) -> Steer:
        """``mean(h | positive) - mean(h | negative)`` read at each prompt's last token (``read="last"``)
        or averaged over its real tokens (``read="mean"``)."""
        vector = mean_activation(hm, site, positive, read) - mean_activation(hm, site, negative, read)
        return cls(site, vector, alpha=alpha, positions=positions)

    def prepare(self, hm, batch: Batch | None, idx: Tensor | P.Slots | None) -> dict:
        check_width("the steering vector", self.vector, self.slot_shape(hm, idx), self.site)
        shape = site_shape(hm, self.site)
        if shape is not None:
            selected = shape if self.heads is None else (len(self.heads), *shape[1:])
            if isinstance(idx, P.Slots) and idx.head is not None:
                selected = (1, *shape[1:])
            if self.vector.ndim > len(selected) or _broadcast(self.vector.shape, selected) != selected:
                raise InputError(f"the steering vector has shape {list(self.vector.shape)}, but one slot of "
                                 f"{self.site} has shape {list(selected)}; give one vector per slot")
        if isinstance(self.alpha, Tensor):
            self.check_rows("alpha (one per row)", self.alpha, self.rows(batch, idx))
        return {}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        alpha = per_row(self.alpha, selected) if isinstance(self.alpha, Tensor) else self.alpha
        return selected + alpha * self.vector.to(selected.device, selected.dtype)

    @classmethod
    def _construct(cls, kwargs: dict, state: dict) -> Steer:
        return cls(kwargs.pop("site"), kwargs.pop("vector"), **kwargs)


def mean_activation(hm, site: str, prompts: Sequence[str], read: str = "last") -> Tensor:
    """Mean activation of ``site`` over prompts, at the last real token or over all real tokens."""
    out = hm.run(list(prompts), cache=[site], logits=False)
    acts, batch = out.cache[site], out.batch
    if read == "last":
        return acts[torch.arange(batch.size), batch.last_index].mean(0)
    if read == "mean":
        mask = batch.attention_mask.to(acts.device, acts.dtype).reshape(*batch.attention_mask.shape,
                                                                       *[1] * (acts.ndim - 2))
        return (acts * mask).sum((0, 1)) / mask.sum()
    raise ValueError(f"read must be 'last' or 'mean', not {read!r}")


def _alpha(alpha, label: str) -> float | Tensor:
    """A finite number, or a finite 1-D tensor of numbers (one per row)."""
    if isinstance(alpha, (list, tuple)) or isinstance(alpha, Tensor) and alpha.ndim == 1 or \
            type(alpha).__module__ == "numpy" and getattr(alpha, "ndim", 0) == 1:
        rows = torch.as_tensor(alpha)
        if rows.ndim != 1 or rows.dtype == torch.bool or rows.is_complex() or not len(rows):
            raise InputError(f"{label}: alpha per row must be a 1-D tensor of numbers, not {alpha!r}")
        return check_finite(label, "alpha", rows.detach().float() if not rows.is_floating_point() else rows.detach())
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) and not (
            isinstance(alpha, Tensor) and alpha.numel() == 1):
        raise InputError(f"{label}: alpha must be a number (or one per row), not {alpha!r} ({type(alpha).__name__})")
    return check_finite(label, "alpha", float(alpha))


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(torch.broadcast_shapes(a, b))
    except RuntimeError:
        return None
