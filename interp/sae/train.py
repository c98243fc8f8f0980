"""Train several SAEs in one pass over an activation store: per-layer, layer-group and several sizes.

>>> import torch
>>> from interp.sae.activations import Activations
>>> from interp.sae.train_config import SAESpec, TrainConfig
>>> store = Activations({"resid_post.0": torch.randn(2048, 16), "resid_post.1": torch.randn(2048, 16)})
>>> specs = [SAESpec("resid_post.0", 64, "topk", k=4), SAESpec(["resid_post.0", "resid_post.1"], 64, "topk", k=4),
...          SAESpec("resid_post.1", 32, "relu")]
>>> result = train_saes(store, specs, TrainConfig(steps=20, batch_size=256, lr_warmup_steps=2))
>>> [sae.site for sae in result.saes]
['resid_post.0', ('resid_post.0', 'resid_post.1'), 'resid_post.1']
>>> sorted(result.history.columns)[:4]
['dead', 'fvu', 'l0', 'loss']

Every step draws one batch of tokens (the same tokens for every SAE); a layer-group SAE takes each
row from one of its layers at random, so it costs what a per-layer SAE costs. SAEs whose specs differ
only in site form one :class:`~interp.sae.stack.SAEStack`. With ``out``, the state (weights, Adam
moments, dead-feature counters, the step) is saved every ``checkpoint_every`` steps to
``out/checkpoint.safetensors`` and a rerun with the same settings resumes there; the batch order and
group layer draws are functions of (seed, step), so a resumed run equals an uninterrupted one. The
trained SAEs are written to ``out/sae_0``, ``out/sae_1``, ... and the log to ``out/training.csv``.
With ``test`` (held-out activations), every logged step also records each SAE's ``test_fvu``: the
mean over its sites of its FVU on that site's held-out tokens (a layer-group SAE on each of its layers).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import safetensors.torch
import torch
from torch import Tensor
from tqdm.auto import tqdm

from interp.errors import InputError
from interp.io import atomic_write_bytes, atomic_write_text, write_table
from interp.sae.activations import Activations
from interp.sae.evaluate import reconstruction
from interp.sae.model import SAE
from interp.sae.stack import SAEStack
from interp.sae.train_config import SAESpec, TrainConfig

CHECKPOINT = "checkpoint.safetensors"


@dataclass
class Trained:
    """The SAEs in the order of the specs, the training log (one row per SAE per logged step) and speed."""

    saes: list[SAE]
    history: pd.DataFrame
    seconds: float
    tokens_per_second: float     # activation tokens per second, per SAE: steps * batch_size * n_saes / seconds


def _stacks(specs: list[SAESpec]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.stack_key, []).append(i)
    return list(groups.values())


@lru_cache(maxsize=2)
def _permutation(n: int, seed: int, epoch: int) -> Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def _batch_rows(store: Activations, config: TrainConfig, step: int) -> Tensor:
    """Row indices of ``step``'s batch: epochs of seeded permutations, a function of (seed, step)."""
    per_epoch = store.n_tokens // config.batch_size
    epoch, index = divmod(step, per_epoch)
    order = _permutation(store.n_tokens, config.seed, epoch)
    return order[index * config.batch_size:(index + 1) * config.batch_size]


def _inputs(store: Activations, specs: list[SAESpec], rows: Tensor, step: int, seed: int) -> Tensor:
    """``[n, batch, d_in]``: each SAE's batch; a group SAE's row ``r`` from a layer drawn per (seed, step)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    xs = []
    for spec in specs:
        if len(spec.sites) == 1:
            xs.append(store[spec.sites[0]][rows])
        else:
            layer = torch.randint(len(spec.sites), (len(rows),), generator=generator)
            stacked = torch.stack([store[site][rows] for site in spec.sites])      # [layers, batch, d]
            xs.append(stacked[layer, torch.arange(len(rows))])
    return torch.stack(xs).float()


def _scales(store: Activations, specs: list[SAESpec], config: TrainConfig) -> Tensor:
    """Per SAE, ``c`` with ``E ||c x||^2 = d_in`` over (at most) 8192 tokens of its sites."""
    if not config.normalize:
        return torch.ones(len(specs))
    sample = slice(0, min(store.n_tokens, 8192))
    mean_sq = [torch.stack([store[s][sample].float().pow(2).sum(-1).mean() for s in spec.sites]).mean()
               for spec in specs]
    d_in = store[specs[0].sites[0]].shape[-1]
    return (d_in / torch.stack(mean_sq).clamp_min(1e-12)).sqrt()


def _check(store: Activations, specs: list[SAESpec], config: TrainConfig) -> int:
    if not specs:
        raise InputError("train_saes needs at least one SAESpec")
    widths = {}
    for spec in specs:
        for site in spec.sites:
            widths[site] = store[site].shape[-1]
    if len(set(widths.values())) != 1:
        raise InputError(f"the SAEs' sites have different widths {widths}; train them in separate calls")
    if store.n_tokens < config.batch_size:
        raise InputError(f"the store has {store.n_tokens} tokens, fewer than one batch of {config.batch_size}")
    return next(iter(widths.values()))


def _test_fvu(stack: SAEStack, specs: list[SAESpec], scales: Tensor, test: Activations | None) -> list[dict]:
    """Per SAE of ``stack``, ``{"test_fvu": mean over its sites of its FVU on test[site]}`` (``{}`` without test)."""
    if test is None:
        return [{} for _ in specs]
    saes = stack.to_saes(scales)
    return [{"test_fvu": sum(reconstruction(sae, test[site])["fvu"] for site in spec.sites) / len(spec.sites)}
            for sae, spec in zip(saes, specs)]


def _state(stacks, optimizers, since_fired, step) -> dict[str, Tensor]:
    state = {"step": torch.tensor(step)}
    for s, (stack, optimizer) in enumerate(zip(stacks, optimizers)):
        state.update({f"{s}.{name}": value.detach() for name, value in stack.named_parameters()})
        state[f"{s}.since_fired"] = since_fired[s]
        for name, parameter in stack.named_parameters():
            moments = optimizer.state.get(parameter, {})
            for key in ("exp_avg", "exp_avg_sq", "step"):
                if key in moments:
                    state[f"{s}.adam.{name}.{key}"] = moments[key]
    return {key: value.contiguous() for key, value in state.items()}


def _restore(state, stacks, optimizers, since_fired) -> int:
    with torch.no_grad():
        for s, (stack, optimizer) in enumerate(zip(stacks, optimizers)):
            for name, parameter in stack.named_parameters():
                parameter.copy_(state[f"{s}.{name}"])
                if f"{s}.adam.{name}.step" in state:
                    optimizer.state[parameter] = {key: state[f"{s}.adam.{name}.{key}"].clone()
                                                  for key in ("exp_avg", "exp_avg_sq", "step")}
            since_fired[s].copy_(state[f"{s}.since_fired"])
    return int(state["step"])


def train_saes(store: Activations, specs: Sequence[SAESpec], config: TrainConfig | None = None, *,
               out: str | Path | None = None, model: str | None = None, progress: bool | None = None,
               stop_after: int | None = None, test: Activations | None = None) -> Trained:
    """Train one SAE per spec on ``store`` (see the module docstring). ``stop_after``: end after this
    many steps (a checkpoint is written first), as an interruption would; rerun to finish. ``test``:
    held-out activations of the same sites, for the ``test_fvu`` column of the log."""
    specs, config = list(specs), config or TrainConfig()
    d_in = _check(store, specs, config)
    generator = torch.Generator().manual_seed(config.seed)
    indices = _stacks(specs)
    stacks = [SAEStack([specs[i] for i in group], d_in, generator) for group in indices]
    scales = _scales(store, specs, config)
    init_rows = slice(0, min(store.n_tokens, 8192))
    with torch.no_grad():   # b_dec starts at each SAE's (scaled) mean input
        for stack, group in zip(stacks, indices):
            for j, i in enumerate(group):
                mean = torch.stack([store[s][init_rows].float().mean(0) for s in specs[i].sites]).mean(0)
                stack.b_dec[j] = mean * scales[i]
    optimizers = [torch.optim.Adam(stack.parameters(), lr=stack.spec.lr, betas=(0.9, 0.999), fused=True)
                  for stack in stacks]
    since_fired = [torch.zeros(len(group), stack.spec.d_sae, dtype=torch.long) for stack, group in zip(stacks, indices)]
    settings = {"specs": [s.to_dict() for s in specs], "config": config.to_dict(), "n_tokens": store.n_tokens}
    folder = Path(out) if out is not None else None
    start, rows_log = 0, []
    if folder is not None and (folder / CHECKPOINT).is_file():
        saved = json.loads((folder / "training.json").read_text()) if (folder / "training.json").is_file() else None
        if saved != settings:
            raise InputError(f"{folder} holds a checkpoint of other settings; use another --out or delete it")
        state = safetensors.torch.load_file(folder / CHECKPOINT)
        missing = sorted(set(_state(stacks, optimizers, since_fired, 0)) - set(state))
        if missing:
            raise InputError(f"{folder / CHECKPOINT} lacks {missing[:3]} (written by another interp version); "
                             f"delete it to train from the start")
        start = _restore(state, stacks, optimizers, since_fired)
        if (folder / "training.csv").is_file():
            rows_log = pd.read_csv(folder / "training.csv").to_dict("records")
    if folder is not None:
        atomic_write_text(folder / "training.json", json.dumps(settings, indent=2) + "\n")
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    bar = tqdm(total=config.steps, initial=start, unit="step", desc="sae",
               disable=not (sys.stderr.isatty() if progress is None else progress))
    started = time.perf_counter()
    for step in range(start, end):
        rows = _batch_rows(store, config, step)
        x_all = _inputs(store, specs, rows, step, config.seed) * scales[:, None, None]    # [n_sae, batch, d_in]
        metrics = []
        for s, (stack, group, optimizer) in enumerate(zip(stacks, indices, optimizers)):
            for group_param in optimizer.param_groups:
                group_param["lr"] = stack.spec.lr * config.lr_factor(step)
            dead = since_fired[s] >= config.dead_steps
            result = stack.losses(x_all[group], sparsity_factor=config.sparsity_factor(step), dead=dead)
            optimizer.zero_grad(set_to_none=True)
            result["loss"].sum().backward()
            stack.before_step()
            optimizer.step()
            stack.after_step()
            since_fired[s] = torch.where(result["fired"], 0, since_fired[s] + 1)
            metrics.append((group, result, dead))
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            for stack, (group, result, dead) in zip(stacks, metrics):
                held_out = _test_fvu(stack, [specs[i] for i in group], scales[group], test)
                for j, i in enumerate(group):
                    rows_log.append({"step": step + 1, "sae": i, "loss": float(result["loss"][j].detach()),
                                     "fvu": float(result["fvu"][j]), "l0": float(result["l0"][j]),
                                     "dead": float(dead[j].float().mean()), **held_out[j]})
            recent = rows_log[-len(specs):]
            bar.set_postfix(loss=f"{sum(r['loss'] for r in recent) / len(recent):.3g}",
                            fvu=f"{sum(r['fvu'] for r in recent) / len(recent):.3f}",
                            l0=f"{sum(r['l0'] for r in recent) / len(recent):.1f}",
                            dead=f"{sum(r['dead'] for r in recent) / len(recent):.3f}")
        bar.update(1)
        if folder is not None and ((step + 1) % config.checkpoint_every == 0 or step + 1 == end):
            atomic_write_bytes(folder / CHECKPOINT, safetensors.torch.save(_state(stacks, optimizers, since_fired,
                                                                                   step + 1)))
            write_table(folder / "training.csv", pd.DataFrame(rows_log))
    bar.close()
    seconds = time.perf_counter() - started
    saes: list[SAE | None] = [None] * len(specs)
    for stack, group in zip(stacks, indices):
        for j, sae in zip(group, stack.to_saes(scales[group], model)):
            saes[j] = sae
    if folder is not None and end == config.steps:
        for i, sae in enumerate(saes):
            sae.save(folder / f"sae_{i}")
    steps_run = max(0, end - start)
    return Trained(saes, pd.DataFrame(rows_log), seconds,
                   steps_run * config.batch_size * len(specs) / seconds if seconds > 0 else 0.0)
