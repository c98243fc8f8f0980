"""Batched activation-patching sweep over layers × positions (the shape TransformerLens's
``generic_activation_patch`` loops over, one forward per patch).

>>> import interp
>>> from interp.interventions import patch_sweep
>>> hm = interp.models.tiny("gpt2")
>>> are, is_ = hm.tokenizer(" are")["input_ids"][0], hm.tokenizer(" is")["input_ids"][0]
>>> result = patch_sweep(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                      kind="resid_pre", metric=lambda lg: lg[..., are] - lg[..., is_])
>>> result.values.shape        # [layers, positions, examples]
torch.Size([2, 6, 1])

How it avoids the one-forward-per-patch anti-pattern:

- the base and source runs happen once; every patch value comes from the source cache;
- patches are stacked along the batch dimension, ``max_rows`` rows per forward, each row
  patched at its own layer and position;
- a forward starts at ``resid_pre`` of the lowest layer it patches, from the base run's cached
  residual stream, so the frozen layers below are never recomputed.

Positions are counted in each example's real tokens (``-1`` = last); ``source_positions``
(default: the same) in the source's, so minimal pairs that tokenise differently stay aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.graph.positions import resolve_positions
from interp.interventions.patch import Patch

Metric = Callable[[Tensor], Tensor]  # last logits [..., vocab] -> [...] (or [..., m])


@dataclass
class SweepResult:
    """``values[layer_index, position_index, example, ...]``: the metric (or last logits) per patch."""

    values: Tensor
    kind: str
    layers: list[int]
    positions: list[int]
    clean: Tensor = field(repr=False)  # the metric without any patch, [examples, ...]

    def table(self):
        """A tidy pandas table: one row per (layer, position, example)."""
        import pandas as pd

        values = self.values
        if values.ndim != 3:
            raise InputError("table() needs a scalar metric per example; values have shape "
                             f"{list(values.shape)}")
        rows = [
            {"site": f"{self.kind}.{layer}", "layer": layer, "position": pos, "example": ex,
             "value": float(values[i, j, ex])}
            for i, layer in enumerate(self.layers) for j, pos in enumerate(self.positions)
            for ex in range(values.shape[2])
        ]
        return pd.DataFrame(rows)


def _plan(hm, base, source, kind, layers, positions, source_positions):
    base_batch, source_batch = hm.tokenize(base), hm.tokenize(source)
    if base_batch.size != source_batch.size:
        raise InputError(f"{base_batch.size} base examples but {source_batch.size} sources; pair them one to one")
    layers = list(range(hm.n_layers)) if layers is None else [int(layer) % hm.n_layers for layer in layers]
    if positions is None:
        positions = list(range(int(base_batch.lengths.min())))
    positions = list(positions)
    source_positions = positions if source_positions is None else list(source_positions)
    if len(source_positions) != len(positions):
        raise InputError(f"{len(positions)} base positions but {len(source_positions)} source positions")
    base_idx = torch.cat([resolve_positions(p, base_batch) for p in positions], 1)  # [N, P]
    source_idx = torch.cat([resolve_positions(p, source_batch) for p in source_positions], 1)
    for layer in layers:
        hm.binding(f"{kind}.{layer}")
    return base_batch, source_batch, layers, positions, base_idx, source_idx


def patch_sweep(
    hm, base: Sequence[str] | Batch, source: Sequence[str] | Batch, *, kind: str = "resid_pre",
    layers: Sequence[int] | None = None, positions: Sequence[int] | None = None,
    source_positions: Sequence[int] | None = None, metric: Metric | None = None, max_rows: int = 64,
) -> SweepResult:
    """Patch ``kind.L`` at each (layer, position) from source into base, batched; see the module doc."""
    base_batch, source_batch, layers, positions, base_idx, source_idx = _plan(
        hm, base, source, kind, layers, positions, source_positions)
    n, n_pos = base_batch.size, len(positions)
    sites = [f"{kind}.{layer}" for layer in layers]
    src = hm.run(source_batch, cache=sites, logits=False)
    resume = [f"resid_pre.{layer}" for layer in sorted(set(layers))]
    clean = hm.run(base_batch, cache=resume)
    metric = metric or (lambda logits: logits)
    units = [(layer, j) for layer in layers for j in range(n_pos)]  # row block per unit: n examples
    per_forward = max(1, max_rows // n)
    examples = torch.arange(n)
    outputs = []
    for start in range(0, len(units), per_forward):
        chunk = units[start:start + per_forward]
        first = min(layer for layer, _ in chunk)
        rows = len(chunk) * n
        batch = Batch(base_batch.input_ids.repeat(len(chunk), 1), base_batch.attention_mask.repeat(len(chunk), 1))
        begin = clean.cache[f"resid_pre.{first}"].repeat(len(chunk), 1, 1)
        writers: dict[int, list[tuple[int, int]]] = {}
        for u, (layer, j) in enumerate(chunk):
            writers.setdefault(layer, []).append((u, j))
        interventions = []
        for layer, block in writers.items():
            row = torch.cat([u * n + examples for u, _ in block])
            js = torch.tensor([j for _, j in block]).repeat_interleave(n)
            ex = examples.repeat(len(block))
            values = src.cache[f"{kind}.{layer}"][ex, source_idx[ex, js]]  # [rows_L, ...]
            interventions.append(_RowPatch(f"{kind}.{layer}", row, base_idx[ex, js], values))
        out = hm.run(batch, interventions=interventions, start_at=(f"resid_pre.{first}", begin))
        outputs.append(metric(out.last_logits.reshape(len(chunk), n, -1)))
        assert outputs[-1].shape[0] == len(chunk) and rows == len(chunk) * n
    values = torch.cat(outputs).reshape(len(layers), n_pos, *outputs[0].shape[1:])
    return SweepResult(values, kind, layers, positions, metric(clean.last_logits))


class _RowPatch:
    """Write ``values[i]`` at ``(rows[i], positions[i])`` of one site: each row its own patch."""

    def __init__(self, site: str, rows: Tensor, positions: Tensor, values: Tensor):
        self.site, self.rows, self.positions, self.values = site, rows, positions, values

    def __call__(self, act: Tensor, ctx) -> Tensor:
        out = act.clone()
        out[self.rows.to(act.device), self.positions.to(act.device)] = self.values.to(act.device, act.dtype)
        return out


def serial_patch_sweep(
    hm, base, source, *, kind: str = "resid_pre", layers=None, positions=None, source_positions=None,
    metric: Metric | None = None,
) -> SweepResult:
    """The reference loop: one full forward per (layer, position), as TransformerLens does it."""
    base_batch, source_batch, layers, positions, base_idx, source_idx = _plan(
        hm, base, source, kind, layers, positions, source_positions)
    metric = metric or (lambda logits: logits)
    src = hm.run(source_batch, cache=[f"{kind}.{layer}" for layer in layers], logits=False)
    values = []
    for layer in layers:
        for j in range(len(positions)):
            patch = Patch(f"{kind}.{layer}", src.cache, base_idx[:, j].tolist(),
                          source_positions=source_idx[:, j].tolist())
            # source_positions above are absolute; the source batch is right-padded, so they equal relative ones
            values.append(metric(hm.run(base_batch, interventions=[patch]).last_logits))
    values = torch.stack(values).reshape(len(layers), len(positions), *values[0].shape)
    return SweepResult(values, kind, layers, positions, metric(hm.run(base_batch).last_logits))
