"""The CausalGym method ``sae``: the SAE feature that best separates the two types, as a direction.

On the training pairs' activations at a site (base side one type, source side the other), every
feature's activations are compared between the two types by a standardised difference of means
``|mean_1 - mean_0| / sqrt((var_0 + var_1) / 2)``; the feature with the largest one wins, and its
decoder row (unit length) is the 1-d subspace the interchange acts along — so "do SAE features
control the behaviour as well as DAS?" is one more row of the CausalGym tables
(``interp causalgym --methods das,probe,sae --sae DIR``).

>>> import torch
>>> from interp.sae import SAE
>>> sae = SAE(8, 16, kind="relu", site="resid_post.0", seed=0)
>>> base = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
>>> source = base + 3 * sae.W_dec[11].detach()                   # the source type writes feature 11's direction
>>> chosen = sae_direction(sae, base, source, ["sg"] * 30, ["pl"] * 30)
>>> chosen.feature, chosen.direction.shape
(11, torch.Size([8]))

SAEs come from a folder (:func:`sae_for_site`): a saved SAE (interp's ``config.json`` or SAELens's
``cfg.json``), or a folder holding them, e.g. what ``interp sae train --out DIR`` writes; the SAE
whose site (or layer group) contains the unit's site is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from interp.errors import InputError
from interp.methods import stack_sides
from interp.sae.model import SAE
from interp.sae.saelens import load

METHOD = "sae"


@dataclass(frozen=True)
class SAEFeature:
    """The chosen ``feature``, its unit decoder ``direction [d_in]`` and its ``separation`` (and every feature's)."""

    feature: int
    direction: Tensor
    separation: float
    separations: Tensor      # [d_sae]


def separations(features: Tensor, labels: Tensor) -> Tensor:
    """``[d_sae]`` standardised difference of means of ``features [n, d_sae]`` between ``labels [n]`` (bool)."""
    one, zero = features[labels], features[~labels]
    gap = (one.mean(0) - zero.mean(0)).abs()
    pooled = ((one.var(0, unbiased=False) + zero.var(0, unbiased=False)) / 2).sqrt()
    floor = 1e-6 * float(features.abs().max().clamp_min(1e-12))           # a constant, perfectly separating feature
    return gap / (pooled + floor)


@torch.no_grad()
def sae_direction(sae: SAE, base_acts: Tensor, source_acts: Tensor, base_types: Sequence | Tensor,
                  source_types: Sequence | Tensor | None = None) -> SAEFeature:
    """The feature of ``sae`` whose activations best separate the two types (see the module), from
    ``base_acts [n, d_in]`` and ``source_acts [n, d_in]``; ties go to the lower index."""
    acts, types = stack_sides(base_acts, source_acts, base_types, source_types)
    kinds = sorted(set(types), key=str)
    if len(kinds) != 2:
        raise InputError(f"the sae method needs exactly two types on the training pairs; got {kinds}")
    if acts.shape[-1] != sae.d_in:
        raise InputError(f"the SAE reads width {sae.d_in}, but the activations have width {acts.shape[-1]}")
    labels = torch.tensor([t == kinds[1] for t in types])
    scores = separations(sae.encode(acts.to(sae.W_enc.device)).float().cpu(), labels)
    feature = int(scores.argmax())
    row = sae.W_dec[feature].detach().float().cpu()
    return SAEFeature(feature, row / row.norm().clamp_min(1e-12), float(scores[feature]), scores)


def sae_for_site(folder: str | Path, site: str, hm=None) -> SAE:
    """The SAE in ``folder`` (itself a saved SAE, or holding them up to two levels down) whose site, or
    one of whose layer-group sites, is ``site`` (with ``hm``: negative layers resolved)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"SAE folder {root} does not exist (the sae method reads SAEs saved there, e.g. by "
                         "interp sae train --out DIR)")
    name = (lambda s: hm.binding(s).name) if hm is not None else str
    found = []
    for candidate in [root, *sorted(root.glob("*")), *sorted(root.glob("*/*"))]:
        if candidate.is_dir() and ((candidate / "config.json").is_file() or (candidate / "cfg.json").is_file()):
            try:
                sae = load(candidate)
            except InputError:
                continue
            found.append(sae)
            if name(site) in {name(s) for s in sae.sites}:
                return sae
    sites = sorted({s for sae in found for s in sae.sites})
    raise InputError(f"no SAE in {root} reads {site}; the SAEs there read {sites or 'nothing (none found)'}")


__all__ = ["METHOD", "SAEFeature", "sae_direction", "sae_for_site", "separations"]
