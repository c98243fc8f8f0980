"""Layer-group SAEs beside per-layer SAEs: the same activations, the same SAE settings, the same
steps per SAE; per-layer reconstruction of each and what each costs.

>>> import torch
>>> from interp.sae.activations import Activations
>>> from interp.sae.train_config import SAESpec, TrainConfig
>>> _ = torch.manual_seed(0)
>>> early, late = torch.randn(3000, 16), torch.randn(3000, 16)       # layers 0-1 read one way, 2-3 another
>>> store = Activations({f"resid_post.{i}": (early if i < 2 else late) + 0.1 * torch.randn(3000, 16)
...                      for i in range(4)})
>>> train, test = store.split(500)
>>> report = compare_groups(train, test, store.sites, SAESpec("resid_post.0", 32, "topk", k=4),
...                         TrainConfig(steps=10, batch_size=256, lr_warmup_steps=1), n_groups=2)
>>> report.groups
[['resid_post.0', 'resid_post.1'], ['resid_post.2', 'resid_post.3']]
>>> list(report.cost["approach"]), list(report.cost["n_saes"])
(['per_layer', 'groups'], [4, 2])
>>> list(report.table.columns)
['site', 'group', 'fvu_per_layer', 'fvu_groups', 'l0_per_layer', 'l0_groups', 'dead_per_layer', 'dead_groups']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from interp.sae.activations import Activations
from interp.sae.evaluate import reconstruction
from interp.sae.groups import amad, angular_distances, layer_groups
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig


@dataclass
class GroupComparison:
    """``groups`` (site lists), ``distances [L, L]``, ``amad`` of the groups, ``table`` (one row per
    layer: its group, FVU and L0 of the group SAE and of its own SAE) and ``cost`` (one row per
    approach: SAEs, steps, training FLOPs, seconds)."""

    groups: list[list[str]]
    distances: torch.Tensor
    amad: float
    table: pd.DataFrame
    cost: pd.DataFrame


def training_flops(spec: SAESpec, d_in: int, config: TrainConfig) -> float:
    """Encoder and decoder products, forward and backward: ``12 * steps * batch * d_in * d_sae``."""
    return 12.0 * config.steps * config.batch_size * d_in * spec.d_sae


def compare_groups(train: Activations, test: Activations, sites: Sequence[str], spec: SAESpec,
                   config: TrainConfig, *, n_groups: int | None = None, threshold: float | None = None,
                   progress: bool | None = None, out: str | Path | None = None) -> GroupComparison:
    """Group ``sites`` (see :mod:`interp.sae.groups`), train one SAE per group and one per layer (``spec``
    with its site replaced), and compare them on ``test``. ``out``: train with checkpoints in
    ``out/per_layer`` and ``out/groups`` (SAEs saved there; a rerun resumes, finished trainings are kept)."""
    sites = list(sites)
    distances = angular_distances(train, sites)
    index_groups = layer_groups(distances, n_groups=n_groups, threshold=threshold)
    groups = [[sites[i] for i in group] for group in index_groups]
    d_in = train[sites[0]].shape[-1]
    folders = (None, None) if out is None else (Path(out) / "per_layer", Path(out) / "groups")
    per_layer = train_saes(train, [spec.with_site(s) for s in sites], config, progress=progress, out=folders[0])
    grouped = train_saes(train, [spec.with_site(g[0] if len(g) == 1 else tuple(g)) for g in groups], config,
                         progress=progress, out=folders[1])
    rows = []
    for g, group in enumerate(groups):
        for site in group:
            own = reconstruction(per_layer.saes[sites.index(site)], test[site])
            shared = reconstruction(grouped.saes[g], test[site])
            rows.append({"site": site, "group": g, "fvu_per_layer": own["fvu"], "fvu_groups": shared["fvu"],
                         "l0_per_layer": own["l0"], "l0_groups": shared["l0"],
                         "dead_per_layer": own["dead"], "dead_groups": shared["dead"]})
    flops = training_flops(spec, d_in, config)
    cost = pd.DataFrame([
        {"approach": "per_layer", "n_saes": len(sites), "steps": config.steps, "training_flops": flops * len(sites),
         "seconds": per_layer.seconds},
        {"approach": "groups", "n_saes": len(groups), "steps": config.steps, "training_flops": flops * len(groups),
         "seconds": grouped.seconds},
    ])
    return GroupComparison(groups, distances, amad(distances, index_groups), pd.DataFrame(rows), cost)
