"""Layer-group SAEs beside per-layer SAEs: the same activations, the same SAE settings, the same
steps per SAE; per-layer reconstruction of each and what each costs, in all and to reach a target.

The target is a mean per-layer held-out FVU (by default 1.1 times what the per-layer SAEs reach at the
end); each approach's cost to reach it is its steps until its mean per-layer FVU (logged every
``log_every`` steps) is at most the target, times its number of SAEs.

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
>>> per_layer_end = report.curve.query("approach == 'per_layer'").fvu.iloc[-1]
>>> list(report.curve.columns), bool(report.target_fvu == 1.1 * per_layer_end)
(['step', 'approach', 'fvu'], True)
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
    approach: SAEs, steps, training FLOPs, seconds, and the steps, FLOPs and seconds until the mean
    per-layer held-out FVU reached ``target_fvu``, empty when it never did), ``curve`` (the mean per-layer
    held-out FVU of each approach at each logged step)."""

    groups: list[list[str]]
    distances: torch.Tensor
    amad: float
    table: pd.DataFrame
    cost: pd.DataFrame
    curve: pd.DataFrame
    target_fvu: float


def training_flops(spec: SAESpec, d_in: int, config: TrainConfig) -> float:
    """Encoder and decoder products, forward and backward: ``12 * steps * batch * d_in * d_sae``."""
    return 12.0 * config.steps * config.batch_size * d_in * spec.d_sae


def compare_groups(train: Activations, test: Activations, sites: Sequence[str], spec: SAESpec,
                   config: TrainConfig, *, n_groups: int | None = None, threshold: float | None = None,
                   progress: bool | None = None, out: str | Path | None = None,
                   target_fvu: float | None = None, group_config: TrainConfig | None = None) -> GroupComparison:
    """Group ``sites`` (see :mod:`interp.sae.groups`), train one SAE per group and one per layer (``spec``
    with its site replaced), and compare them on ``test``. ``out``: train with checkpoints in
    ``out/per_layer`` and ``out/groups`` (SAEs saved there; a rerun resumes, finished trainings are kept).
    ``target_fvu``: the mean per-layer FVU whose cost is compared (default: 1.1 x the per-layer SAEs').
    ``group_config``: the group SAEs' training pass when it differs (say, more steps, since each group
    SAE learns several layers; the cost to the target counts the steps it took either way)."""
    sites = list(sites)
    distances = angular_distances(train, sites)
    index_groups = layer_groups(distances, n_groups=n_groups, threshold=threshold)
    groups = [[sites[i] for i in group] for group in index_groups]
    d_in = train[sites[0]].shape[-1]
    folders = (None, None) if out is None else (Path(out) / "per_layer", Path(out) / "groups")
    per_layer = train_saes(train, [spec.with_site(s) for s in sites], config, progress=progress, out=folders[0],
                           test=test)
    group_config = group_config or config
    grouped = train_saes(train, [spec.with_site(g[0] if len(g) == 1 else tuple(g)) for g in groups], group_config,
                         progress=progress, out=folders[1], test=test)
    rows = []
    for g, group in enumerate(groups):
        for site in group:
            own = reconstruction(per_layer.saes[sites.index(site)], test[site])
            shared = reconstruction(grouped.saes[g], test[site])
            rows.append({"site": site, "group": g, "fvu_per_layer": own["fvu"], "fvu_groups": shared["fvu"],
                         "l0_per_layer": own["l0"], "l0_groups": shared["l0"],
                         "dead_per_layer": own["dead"], "dead_groups": shared["dead"]})
    curve = pd.concat([_mean_per_layer_fvu(per_layer.history, [1] * len(sites), "per_layer"),
                       _mean_per_layer_fvu(grouped.history, [len(g) for g in groups], "groups")], ignore_index=True)
    if target_fvu is None:
        target_fvu = 1.1 * curve.query("approach == 'per_layer'").fvu.iloc[-1]
    cost = []
    for approach, trained, n_saes, pass_ in (("per_layer", per_layer, len(sites), config),
                                             ("groups", grouped, len(groups), group_config)):
        flops = training_flops(spec, d_in, pass_) / pass_.steps            # per SAE per step
        reached = curve[(curve.approach == approach) & (curve.fvu <= target_fvu)].step
        steps = int(reached.iloc[0]) if len(reached) else None
        cost.append({"approach": approach, "n_saes": n_saes, "steps": pass_.steps,
                     "training_flops": flops * pass_.steps * n_saes, "seconds": trained.seconds,
                     "steps_to_target": steps, "flops_to_target": None if steps is None else flops * steps * n_saes,
                     "seconds_to_target": None if steps is None else trained.seconds * steps / pass_.steps})
    return GroupComparison(groups, distances, amad(distances, index_groups), pd.DataFrame(rows), pd.DataFrame(cost),
                           curve, float(target_fvu))


def _mean_per_layer_fvu(history: pd.DataFrame, layers_per_sae: list[int], approach: str) -> pd.DataFrame:
    """``step, approach, fvu``: at each logged step, the held-out FVU averaged over layers (an SAE of
    ``n`` layers counts ``n`` times, its ``test_fvu`` being the mean over them)."""
    weights = pd.Series(layers_per_sae, name="layers")
    logged = history.join(weights, on="sae")
    logged["weighted"] = logged.test_fvu * logged.layers
    by_step = logged.groupby("step")[["weighted", "layers"]].sum()
    return pd.DataFrame({"step": by_step.index, "approach": approach,
                         "fvu": (by_step.weighted / by_step.layers).to_numpy()})
