"""Splice an SAE into a run: the site becomes its reconstruction **plus the error term**, so the model's
outputs stay the same until features are edited; the features can be cached, ablated, set or patched.

``Splice(sae)`` at the SAE's site replaces ``x`` by ``decode(f') + (x - decode(encode(x)))``, where
``f = encode(x)`` is computed from the value arriving at the site in the same forward and ``f'`` is
``f`` with the edits made. Written as ``x + (f' - f) @ W_dec``, an unedited feature changes nothing,
bit for bit, and an edited one moves ``x`` along its decoder row only.

>>> import torch, interp
>>> from interp.sae import SAE, Splice
>>> hm = interp.models.tiny("llama")
>>> sae = SAE(hm.d_model, 256, kind="topk", k=8, site="resid_post.0", seed=0)
>>> clean = hm.run("The keys to the cabinet")
>>> out = hm.run("The keys to the cabinet", interventions=[Splice(sae)], cache=["sae:resid_post.0"])
>>> torch.equal(out.logits, clean.logits)                  # the error term keeps the logits
True
>>> out.cache["sae:resid_post.0"].shape                     # [batch, pos, d_sae]: the features the model used
torch.Size([1, 8, 256])
>>> off = hm.run("The keys to the cabinet", interventions=[Splice(sae, ablate=[3, 5], positions="last")])

Edits, at ``positions`` (every position by default; any selector of :mod:`interp.interventions`,
``Slots`` too), in this order:

- ``source=`` with ``patch=[features]`` (or ``"all"``): those features take the source run's values
  (``source`` is what :class:`~interp.interventions.Patch` takes: a cache or ``RunOutput`` holding the
  site, site activations ``[batch, pos, d_in]``, or inputs to run; read at ``source_positions``) —
  feature patching between inputs;
- ``ablate=[features]`` (or ``"all"``): set to 0; ``set_to={feature: value}``: set to a value.

``error=False`` drops the error term: the site becomes the reconstruction of the (edited) features,
what "loss with the SAE spliced in" measures. ``cache=[splice.name]`` (default ``"sae:" + site``)
keeps the features after the edits, ``[batch, pos, d_sae]`` (through ``publishes``, which
:func:`interp.graph.handlers.handler_table` reads). Feature steering is a plain
:class:`~interp.interventions.Steer` along a decoder row: :func:`interp.sae.features.feature_steer`.
A splice composes with every other intervention in one forward, in graph order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.graph.positions import integer_index
from interp.interventions import positions as P
from interp.interventions.base import site_shape
from interp.interventions.interchange import Interchange
from interp.sae.model import SAE


class Splice(Interchange):
    """``x <- x + (f' - f) @ W_dec`` with ``f = sae.encode(x)`` and ``f'`` the edited features (see the module)."""

    fields = ("site", "positions", "source_positions", "patch", "ablate", "set_to", "error", "name")

    def __init__(self, sae: SAE, site: str | None = None, *, positions: P.PositionSpec | P.Slots | None = None,
                 ablate: Iterable[int] | str | None = None, set_to: Mapping[int, float] | None = None,
                 source: Any = None, patch: Iterable[int] | str | None = None,
                 source_positions: P.PositionSpec | P.Slots | None = None, error: bool = True,
                 name: str | None = None):
        if not isinstance(sae, SAE):
            raise InputError(f"Splice needs an interp.sae.SAE, not {type(sae).__name__}")
        site = site if site is not None else sae.site
        if not isinstance(site, str):
            raise InputError(f"this SAE reads {list(sae.sites) or 'no recorded site'}: pass site=... (one site)")
        super().__init__(site, source, positions, source_positions=source_positions)
        self.sae = sae
        self.ablate = _features(ablate, sae.d_sae, "ablate")
        self.set_to = {integer_index(f, "set_to: a feature index"): float(v) for f, v in (set_to or {}).items()}
        _features(list(self.set_to), sae.d_sae, "set_to")
        self.patch = _features(patch, sae.d_sae, "patch")
        if (self.patch is None) != (self.source is None):
            raise InputError(f"{self.label}: feature patching needs both source=... and patch=[features] (or 'all')")
        if not isinstance(error, bool):
            raise InputError(f"{self.label}: error must be True or False, not {error!r}")
        self.error = error
        self.name = name or f"sae:{site}"

    @property
    def publishes(self) -> tuple[str, ...]:
        """The names this splice leaves in a run for ``cache=[...]``: its features."""
        return (self.name,)

    @property
    def edits(self) -> bool:
        return bool(self.ablate or self.set_to or self.patch)

    # ---------------------------------------------------------------- binding
    def prepare(self, hm, batch: Batch | None, idx: Tensor | P.Slots | None) -> dict:
        width = site_shape(hm, self.site)
        if width is not None and width != (self.sae.d_in,):
            raise InputError(f"{self.label}: the SAE reads vectors of width {self.sae.d_in}, but {self.site} has "
                             f"shape {list(width)} per token")
        if self.sae.sites and hm.binding(self.site).name not in {hm.binding(s).name for s in self.sae.sites}:
            raise InputError(f"{self.label}: this SAE was trained on {list(self.sae.sites)}, not {self.site}; "
                             "pass site=... naming one of them")
        if self.sae.W_enc.device != hm.device:
            self.sae.to(hm.device)
        prepared = {}
        if self.source is not None:
            prepared["source"] = self.sae.encode(self.source_values(hm, batch, idx))   # [batch | R, k, d_sae]
        return prepared

    def apply(self, act: Tensor, ctx, idx: Tensor | P.Slots | None, heads: Tensor | None, prepared: dict) -> Tensor:
        features = self.sae.encode(act)                                                 # [batch, pos, d_sae]
        edited = P.place(features, idx, None, self.edit(P.select(features, idx, None), prepared)) \
            if self.edits else features
        state = getattr(ctx, "state", None)
        if state is not None:
            state[self.name] = edited
        if not self.error:
            return self.sae.decode(edited).to(act.dtype)
        if edited is features:
            return act
        return act + ((edited - features) @ self.sae.W_dec).to(act.dtype)

    def edit(self, selected: Tensor, prepared: dict) -> Tensor:
        """The edited features of the selected slots ``[batch, k, d_sae]``."""
        out = selected.clone()
        if self.patch is not None:
            source = prepared["source"].to(out.device, out.dtype).expand_as(out)
            chosen = slice(None) if self.patch == "all" else list(self.patch)
            out[..., chosen] = source[..., chosen]
        if self.ablate is not None:
            out[..., slice(None) if self.ablate == "all" else list(self.ablate)] = 0
        for feature, value in self.set_to.items():
            out[..., feature] = value
        return out

    def save(self, path, *, model=None):
        raise InputError("a Splice holds an SAE: save the SAE (sae.save(folder)) and the edits you made, and "
                         "build the Splice again")

    def __repr__(self) -> str:
        parts = [f"site={self.site!r}", f"sae={self.sae.kind}[{self.sae.d_in}->{self.sae.d_sae}]"]
        if self.positions is not None:
            parts.append(f"positions={P.describe(self.positions)}")
        for field in ("patch", "ablate"):
            if getattr(self, field) is not None:
                parts.append(f"{field}={getattr(self, field)!r}")
        if self.set_to:
            parts.append(f"set_to={self.set_to!r}")
        if not self.error:
            parts.append("error=False")
        return f"Splice({', '.join(parts)})"


def _features(features: Iterable[int] | str | None, d_sae: int, what: str) -> list[int] | str | None:
    """Feature indices, checked against ``d_sae`` (or ``"all"``, or None)."""
    if features is None or features == "all":
        return features
    if isinstance(features, str):
        raise InputError(f"{what} takes feature indices or 'all', not {features!r}")
    if isinstance(features, Tensor):
        features = features.tolist()
    if not isinstance(features, Iterable):
        features = [features]
    out = [integer_index(f, f"{what}: a feature index") for f in features]
    bad = [f for f in out if not 0 <= f < d_sae]
    if bad:
        raise InputError(f"{what}: feature {bad[0]} is out of range: the SAE has {d_sae} features (0..{d_sae - 1})")
    return out


__all__ = ["Splice"]
