"""What every intervention shares: a site, positions, heads, binding to a run, saving.

An intervention is an ``nn.Module`` with a small JSON-able config. ``hm.run`` calls
``bind(hm, batch)`` once before the forward pass: that resolves positions, gathers source
activations and checks every shape, so bad input fails before any layer runs. The handler it
returns selects the slots ``[batch, k, (heads,) ...]``, hands them to ``edit`` and writes the
result into a copy of the activation.

Subclasses implement ``prepare(hm, batch, idx) -> dict`` (optional) and
``edit(selected, prepared) -> Tensor``, and list their config fields in ``fields``.

>>> import interp
>>> from interp.interventions import Steer, load
>>> steer = Steer("resid_post.0", torch.ones(64), alpha=2.0, positions="last")
>>> steer
Steer(site='resid_post.0', positions='last', alpha=2.0, vector=[64])
>>> import tempfile; path = tempfile.mkdtemp()
>>> _ = steer.save(path); load(path).alpha
2.0

``save(folder, model=hm)`` also records which model the intervention is for (without ``model=``:
the model it last ran on, if any); a loaded intervention then refuses a model of another family
or shape (:mod:`interp.interventions.identity`). Non-finite values (a NaN or inf vector,
coefficient, factor, basis or source activation) are an :class:`InputError` before the forward.

**Per row.** Parameters whose first dim is ``R`` go one to each row: a source value per row
(``Patch``/``Subspace``/``DAS`` ``source [R, ...]``), a basis per row (``Subspace`` ``[R, d, k]``),
a coefficient per row (``Steer`` ``alpha [R]``), a factor per row (``ScaleHeads`` ``factor [R]``).
Rows are the batch's examples, or explicit slots: ``positions=Slots(batch=[R], token=[R],
head=[R] or None)`` (:class:`~interp.interventions.positions.Slots`, absolute token indices), which
``bind`` takes instead of resolving positions, with ``batch`` optional. A packed forward that puts
``R`` rows end to end in one sequence writes ``Slots(batch=zeros(R), token=first)``. ``edit`` then
sees ``[R, 1, (heads,) ...]``; each row equals its own single-row run:

>>> hm = interp.models.tiny("gpt2")
>>> base = ["The key to the cabinets", "The dog near the houses"]
>>> rows = Steer("resid_post.0", torch.ones(64), alpha=torch.tensor([0.0, 3.0]), positions="last")
>>> both = hm.run(base, interventions=[rows]).last_logits
>>> alone = hm.run(base[1:], interventions=[rows.using(alpha=3.0)]).last_logits
>>> torch.allclose(both[1], alone[0], atol=1e-5), torch.allclose(both[0], hm.run(base[0]).last_logits[0], atol=1e-5)
(True, True)
>>> from interp.interventions import Slots, Subspace
>>> slots = Slots(batch=torch.tensor([0, 1]), token=torch.tensor([1, 3]))      # row r: example b_r, token t_r
>>> basis = torch.linalg.qr(torch.randn(2, 64, 4)).Q                           # [R, d, k]: a subspace per row
>>> Subspace("resid_pre.1", basis, source=torch.randn(2, 64), positions=slots)  # source: [R, d], one per row
Subspace(site='resid_pre.1', positions=Slots[2], basis=[2, 64, 4], source=rows[2, 64])
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import safetensors.torch
import torch
from torch import Tensor, nn

from interp.errors import InputError, SiteError
from interp.graph.inputs import Batch
from interp.graph.positions import integer_index
from interp.graph.sites import HEAD_KINDS, Site, parse_site
from interp.interventions import identity as I
from interp.interventions import positions as P
from interp.interventions.display import intervention_html
from interp.io import atomic_write_bytes, atomic_write_text

FORMAT_VERSION = 2  # 2: a flat position list means the same positions in every example


def site_shape(hm, site: str | Site) -> tuple[int, ...] | None:
    """Trailing dims of a canonical site's activation (after batch and pos), or None if unknown:
    ``Site.parse(site).shape(hm)`` (:meth:`interp.graph.sites.Site.shape`)."""
    return Site.parse(site).shape(hm)


class Intervention(nn.Module):
    """Base class. ``site``: where it acts; ``positions``: which tokens; ``heads``: which heads."""

    fields: ClassVar[tuple[str, ...]] = ("site", "positions", "heads")
    tensor_fields: ClassVar[tuple[str, ...]] = ()  # plain tensor attributes saved alongside the state dict

    def __init__(self, site: str, positions: P.PositionSpec | None = None, heads: list[int] | None = None):
        super().__init__()
        parse_site(site)  # a malformed name fails here, not in the middle of a run
        self.site = site
        self.positions = positions
        self.heads = _heads_list(heads, f"{type(self).__name__} at {site}")
        self.model_identity: dict | None = None  # the model it was saved for (checked on every run)
        self._ran_on: dict = {}  # the model it last ran on, shared with its using() copies (recorded by save)

    # ---------------------------------------------------------------- subclass API
    def prepare(self, hm, batch: Batch, idx: Tensor | None) -> dict:
        """Everything ``edit`` needs, computed and validated before the forward pass."""
        return {}

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        """New values for the selected slots ``[batch, k, (heads,) ...]``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- binding
    def bind(self, hm, batch: Batch | None = None, *, positions: Any = "default"):
        """Resolve positions, gather sources and validate; return the handler ``hm.run`` calls.

        ``positions`` overrides the base positions (generation binds new tokens with ``None``).
        With :class:`Slots` positions ``batch`` may be None (e.g. a packed forward, whose rows lie end
        to end in one sequence). The handler carries ``.site``: it can go to ``hm.hooks`` directly.
        """
        spec = self.positions if isinstance(positions, str) and positions == "default" else positions
        slots = isinstance(spec, P.Slots)
        if batch is None and not slots:
            raise InputError(f"{type(self).__name__} needs tokenised inputs to resolve positions")
        I.check(self.model_identity, hm, self.label)
        self.check_finite()
        idx = P.resolve(spec, batch)
        if slots and batch is not None:
            spec.check(batch.size, batch.width, self.label)
        heads = self.check_heads(hm, idx)
        prepared = self.prepare(hm, batch, idx)
        size = None if batch is None else batch.size
        self._ran_on.clear()
        self._ran_on.update(I.identity_of(hm))

        def handler(act: Tensor, ctx) -> Tensor:
            if size is not None and act.shape[0] != size:
                raise InputError(
                    f"{self.site}: the activation has batch {act.shape[0]}, but this intervention was "
                    f"bound to a batch of {size}"
                )
            return self.apply(act, ctx, idx, heads, prepared)

        handler.site = self.site
        return handler

    def apply(self, act: Tensor, ctx, idx: Tensor | P.Slots | None, heads: Tensor | None, prepared: dict) -> Tensor:
        """The activation after this intervention: ``edit`` of the selected slots, written into a copy.
        An intervention that reads the whole activation (an SAE splice encodes every position) overrides it."""
        return P.place(act, idx, heads, self.edit(P.select(act, idx, heads), prepared))

    def rows(self, batch: Batch | None, idx: Tensor | P.Slots | None) -> int:
        """How many rows per-row parameters must have: the slots, or else the batch's examples."""
        return len(idx) if isinstance(idx, P.Slots) else batch.size

    def check_rows(self, name: str, value: Tensor, rows: int) -> None:
        """A per-row parameter (first dim ``R``) has one entry per row."""
        if value.shape[0] != rows:
            raise InputError(f"{self.label}: {name} has {value.shape[0]} rows (first dim), but the intervention "
                             f"acts on {rows} rows (its Slots, or else the batch's examples)")

    @property
    def label(self) -> str:
        """``"Steer at resid_post.0"``: how errors name this intervention."""
        return f"{type(self).__name__} at {self.site}"

    def check_finite(self) -> None:
        """Every number the intervention holds (parameters, tensors, float fields) is finite."""
        for name, param in self.named_parameters():
            check_finite(self.label, f"the trained {name.replace('.parametrizations.weight.original', '')} "
                         "(did training diverge? try a smaller learning rate)", param)
        for name in self.tensor_fields:
            check_finite(self.label, name, getattr(self, name))
        for name in self.fields:
            value = getattr(self, name)
            if isinstance(value, float) or isinstance(value, list) and any(isinstance(v, float) for v in value):
                check_finite(self.label, name, value)

    def check_heads(self, hm, idx: Tensor | P.Slots | None = None) -> Tensor | None:
        """The chosen heads as a tensor (None: all); also checks a head per row given in :class:`Slots`."""
        slot_heads = idx.head if isinstance(idx, P.Slots) else None
        if self.heads is None and slot_heads is None:
            return None
        kind = parse_site(self.site).kind
        if kind not in HEAD_KINDS:
            raise SiteError(f"heads=... needs a per-head site (q, k, v or z), not {self.site!r}")
        if slot_heads is not None and self.heads is not None:
            raise InputError(f"{self.label}: give heads in heads=... or one per row in Slots(head=...), not both")
        chosen = self.heads if slot_heads is None else sorted(set(slot_heads.tolist()))
        shape = site_shape(hm, self.site)
        n = shape[0] if shape else None
        if n is not None:
            bad = [h for h in chosen if not 0 <= h < n]
            if bad:
                what = "key/value heads" if kind in ("k", "v") and n != hm.n_heads else "heads"
                raise InputError(f"head index {bad} out of range: {self.site} has {n} {what} (0..{n - 1})")
        return None if slot_heads is not None else torch.tensor(self.heads, dtype=torch.long)

    def slot_shape(self, hm, idx: Tensor | P.Slots | None = None) -> tuple[int, ...] | None:
        """Trailing dims of one selected slot (one head's width if heads, or heads per row, are chosen)."""
        shape = site_shape(hm, self.site)
        if shape is None:
            return None
        per_head = self.heads is not None or isinstance(idx, P.Slots) and idx.head is not None
        return shape[1:] if per_head else shape

    def using(self, **changes) -> Intervention:
        """A shallow copy with some fields changed; parameters stay shared (handy in training loops)."""
        clone = copy.copy(self)
        for name, value in changes.items():
            if name not in self.fields and name not in self.tensor_fields:
                raise InputError(f"{type(self).__name__} has no field {name!r}; fields: {self.fields}")
            setattr(clone, name, value)
        return clone

    # ---------------------------------------------------------------- saving
    def config(self) -> dict:
        out = {"type": type(self).__name__, "format": FORMAT_VERSION}
        for name in self.fields:
            value = getattr(self, name)
            out[name] = P.encode(value) if name.endswith("positions") else value.tolist() \
                if isinstance(value, Tensor) else value
        if self.model_identity is not None:
            out["model"] = self.model_identity
        return out

    def tensors(self) -> dict[str, Tensor]:
        state = {k: v.detach() for k, v in self.state_dict().items()}
        for name in self.tensor_fields:
            value = getattr(self, name)
            if value is not None:
                state[f"@{name}"] = value.detach()
        return state

    def save(self, path: str | Path, *, model=None) -> Path:
        """Write ``tensors.safetensors`` and ``config.json`` into the folder ``path``, each atomically.

        ``model``: the HookedModel this intervention is for; its name, family, ``d_model``, ``n_layers``
        and ``n_heads`` are saved, and the loaded intervention refuses a model of another family or
        shape (warns on another name). Default: the model it was saved for or last ran on, if any.
        """
        if model is not None:
            self.model_identity = I.identity_of(model)
        elif self.model_identity is None and self._ran_on:
            self.model_identity = dict(self._ran_on)
        self.check_finite()
        folder = Path(path)
        tensors = {k: v.contiguous().cpu() for k, v in self.tensors().items()}
        atomic_write_bytes(folder / "tensors.safetensors", safetensors.torch.save(tensors))
        atomic_write_text(folder / "config.json", json.dumps(self.config(), indent=2))
        return folder

    @classmethod
    def from_saved(cls, config: dict, tensors: dict[str, Tensor]) -> Intervention:
        kwargs = {}
        for name in cls.fields:
            value = config.get(name)
            kwargs[name] = P.decode(value, config.get("format", FORMAT_VERSION)) if name.endswith("positions") \
                else value
        for name in cls.tensor_fields:
            kwargs[name] = tensors.pop(f"@{name}", None)
        obj = cls._construct(kwargs, tensors)
        if tensors:
            obj.load_state_dict(tensors, strict=True)
        obj.model_identity = I.validate(config.get("model"), "config.json")
        return obj

    @classmethod
    def _construct(cls, kwargs: dict, state: dict[str, Tensor]) -> Intervention:
        return cls(**kwargs)

    # ---------------------------------------------------------------- display
    def __repr__(self) -> str:
        parts = []
        for name in self.fields:
            value = getattr(self, name)
            if name != "site" and (value is None or name == "heads" and value == []):
                continue
            shown = P.describe(value) if name.endswith("positions") else f"tensor{list(value.shape)}" \
                if isinstance(value, Tensor) else repr(value)
            parts.append(f"{name}={shown}")
        tensors = {**self._parameters, **self._buffers}
        tensors.update({name: getattr(module, "weight", None) for name, module in self._modules.items()})
        parts += [f"{name}={list(t.shape)}" for name, t in tensors.items() if isinstance(t, Tensor)]
        for name in self.tensor_fields:
            value = getattr(self, name)
            if isinstance(value, Tensor):
                parts.append(f"{name}={list(value.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        return intervention_html(self)


def _heads_list(heads: Any, owner: str = "heads") -> list[int] | None:
    if heads is None:
        return None
    if isinstance(heads, Tensor):
        heads = heads.tolist()
    if not isinstance(heads, (list, tuple, range)) and type(heads).__module__ != "numpy":
        return [integer_index(heads, f"{owner}: a head index")]
    out = [integer_index(h, f"{owner}: a head index") for h in heads]
    if not out:
        raise InputError("heads=[] selects nothing; pass None for all heads")
    return out


def per_row(value: Tensor, selected: Tensor) -> Tensor:
    """A per-row parameter ``[R, *rest]`` shaped to broadcast over ``selected`` ``[R, k, (heads,) ..., *rest]``
    (row ``r`` of the value meets row ``r`` of the selection), on its device and dtype."""
    value = value.to(selected.device, selected.dtype)
    return value.reshape(value.shape[0], *[1] * (selected.ndim - value.ndim), *value.shape[1:])


def check_width(name: str, tensor: Tensor, expected: tuple[int, ...] | None, site: str) -> None:
    """A vector/matrix whose trailing dims must match one slot of the site."""
    if expected is None:
        return
    if tuple(tensor.shape[-len(expected):]) != expected or tensor.ndim < len(expected):
        raise InputError(
            f"{name} has shape {list(tensor.shape)}, but {site} needs trailing dims {list(expected)}"
        )


def check_real(name: str, tensor: Tensor) -> Tensor:
    """A vector or basis must hold real numbers with data: floating-point or integer values are cast
    to the activation's dtype and device when applied; complex, boolean or ``meta`` tensors are an error."""
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputError(f"{name} has dtype {tensor.dtype}; it must hold real numbers (a floating-point or "
                         "integer tensor, cast to the activation's dtype when applied)")
    if tensor.device.type == "meta":
        raise InputError(f"{name} is on the meta device and has no values")
    return tensor


def check_finite(owner: str, field: str, value: Any) -> Any:
    """``value`` (a tensor, float or list of floats) unchanged if every entry is finite, else an
    :class:`InputError` naming the intervention and field (NaN or inf would reach the logits unseen)."""
    if isinstance(value, Tensor):
        if (value.is_floating_point() or value.is_complex()) and value.device.type != "meta":
            if not bool(torch.isfinite(value.detach()).all()):
                bad = ~torch.isfinite(value.detach())
                n_nan = int(torch.isnan(value.detach()).sum())
                raise InputError(f"{owner}: {field} holds {n_nan} NaN and {int(bad.sum()) - n_nan} inf values "
                                 f"(of {value.numel()}); every value must be finite")
    elif isinstance(value, (list, tuple)):
        bad = [v for v in value if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise InputError(f"{owner}: {field} {list(value)} holds {bad[0]}; every value must be finite")
    elif isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{owner}: {field}={value} is not finite; it must be a finite number")
    return value
