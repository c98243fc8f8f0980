"""Exact edge patching: the input of one downstream node reads one upstream node's corrupted (or mean)
output instead of its own, everything else as on the clean run; and the ablation of every edge outside a
circuit. Both run many edges (or circuits) as rows of one batch (:mod:`interp.circuits.split`).

>>> import interp
>>> from interp.circuits import Graph, Task
>>> from interp.circuits.patching import patch_edges
>>> hm = interp.models.tiny("gpt2")
>>> task = Task("toy", ("The dog near the",), ("The key near the",), (" is",), (" are",))
>>> graph = Graph.of(hm)
>>> result = patch_edges(hm, task, graph.edges[:5])
>>> result.effects.shape
torch.Size([5])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from interp.circuits.ablated import ablated_metric
from interp.circuits.graph import Graph
from interp.circuits.metrics import make_metric
from interp.circuits.nodes import NodeOutputs, head_blocks
from interp.circuits.resumed import answer_columns, final_residuals, stream_sites, unchanged_prefix, unembed
from interp.circuits.split import Plan, SplitRun, ablation_weights, all_channels, split_forward
from interp.circuits.tasks import Task
from interp.errors import InputError
from interp.graph.resume import resume_support

MODES = ("corrupted", "mean")
UNEMBED_ROWS = 512  # final residuals unembedded per forward (the logits of one are [rows, vocab])


@dataclass
class Prepared:
    """A task encoded once: the clean batch, the source node outputs, the metric, clean and corrupted metric."""

    graph: Graph
    blocks: list[Tensor]
    clean_batch: object
    source: NodeOutputs
    metric: object
    clean_metric: Tensor  # [pairs]
    corrupted_metric: Tensor  # [pairs]
    clean: NodeOutputs | None = None  # the clean run's node outputs and stream (edge patching starts from it)
    prefix: int = 0  # leading tokens no patch changes (with the clean run's keys/values: not recomputed)
    columns: Tensor | None = None  # the token ids the metric reads, when only those logits need computing

    @classmethod
    def of(cls, hm, task: Task, *, metric: str = "logit_diff", mode: str = "corrupted") -> Prepared:
        if mode not in MODES:
            raise InputError(f"unknown ablation mode {mode!r}; choose one of {', '.join(MODES)}")
        graph, blocks = Graph.of(hm), head_blocks(hm)
        clean_batch, corrupted_batch, answers = task.encode(hm)
        resumable = hm.can_resume and resume_support(hm, clean_batch.width).ok
        clean = NodeOutputs.of(hm, clean_batch, keep=stream_sites(graph.n_layers, graph.parallel), keep_kv=resumable)
        corrupted = NodeOutputs.of(hm, corrupted_batch, check=False)
        fn = make_metric(metric, answers, clean.last_logits)
        pairs = torch.arange(len(task))
        source = clean.mean() if mode == "mean" else corrupted
        final = clean.stream[f"resid_post.{graph.n_layers - 1}"][pairs, clean_batch.last_index]
        return cls(graph, blocks, clean_batch, source, fn, fn(clean.last_logits, pairs).detach(),
                   fn(corrupted.last_logits, pairs).detach(), clean,
                   unchanged_prefix(clean, source, clean_batch.last_index),
                   answer_columns(hm, fn, final, clean.last_logits))

    def run(self, hm, plan: Plan) -> Tensor:
        """The metric of each row of ``plan`` (rows ``i * pairs + p``), ``[rows]``."""
        pairs = self.clean_batch.size
        times = plan.rows // pairs
        index = torch.arange(plan.rows) % pairs
        batch = type(self.clean_batch)(self.clean_batch.input_ids.repeat(times, 1),
                                       self.clean_batch.attention_mask.repeat(times, 1))
        split = SplitRun(hm, self.graph, plan, self.blocks, source=self.source.rows(index))
        with torch.no_grad():
            return self.metric(split_forward(hm, split, batch), index)


@dataclass
class EdgePatching:
    """``patched [edges]``: the metric with each edge patched, mean over pairs; ``effects = patched − clean``."""

    edges: list[tuple[int, int]]
    patched: Tensor
    clean: float

    @property
    def effects(self) -> Tensor:
        return self.patched - self.clean


def edge_plan(graph: Graph, edges: Sequence[tuple[int, int]], pairs: int) -> Plan:
    """Two channels: row ``e * pairs + p`` patches edge ``e`` in channel 1."""
    rows = len(edges) * pairs
    channel_of = torch.zeros(rows, graph.n_downstream, dtype=torch.long)
    weights = [torch.zeros(2, rows, graph.n_upstream) for _ in range(graph.n_layers + 1)]
    for e, (up, down) in enumerate(edges):
        if not graph.feeds(up, down):
            raise InputError(f"({up}, {down}) is not an edge: {graph.up_name(up)} is not before "
                             f"{graph.down_name(down)}")
        span = slice(e * pairs, (e + 1) * pairs)
        channel_of[span, down] = 1
        weights[graph.down_layer(down)][1, span, up] = 1.0
    return Plan(2, channel_of, [w if w.any() else None for w in weights])


def patch_edges(hm, task: Task, edges: Sequence[tuple[int, int]], *, metric: str = "logit_diff",
                mode: str = "corrupted", edges_per_batch: int = 32, prepared: Prepared | None = None) -> EdgePatching:
    """Patch each edge alone: edges sorted by the layer they enter, ``edges_per_batch`` of them as rows of one
    forward per layer, each row joining at its edge's layer and token (:mod:`interp.circuits.resumed`)."""
    prepared = prepared or Prepared.of(hm, task, metric=metric, mode=mode)
    graph = prepared.graph
    edges = [(int(u), int(d)) for u, d in edges]
    for up, down in edges:
        if not graph.feeds(up, down):
            raise InputError(f"({up}, {down}) is not an edge: {graph.up_name(up)} is not before "
                             f"{graph.down_name(down)}")
    pairs = len(task)
    order = sorted(range(len(edges)), key=lambda e: graph.down_layer(edges[e][1]))  # by the layer they enter
    finals = [final_residuals(hm, prepared, [edges[e] for e in order[start:start + edges_per_batch]])
              for start in range(0, len(order), edges_per_batch)]
    patched = torch.zeros(len(edges), dtype=torch.float64)
    if edges:
        final = torch.cat(finals)  # [edges * pairs, d] in `order`, then pair
        metric = torch.cat([prepared.metric(unembed(hm, part, prepared.columns), torch.arange(len(part)) % pairs)
                            for part in final.split(UNEMBED_ROWS // pairs * pairs)])
        patched[order] = metric.reshape(len(edges), pairs).double().mean(1).cpu()
    return EdgePatching(edges, patched, float(prepared.clean_metric.double().mean()))


def ablate_outside(hm, task: Task, circuits: Tensor, *, metric: str = "logit_diff", mode: str = "corrupted",
                   circuits_per_batch: int | None = None, prepared: Prepared | None = None,
                   path: str = "layers") -> Tensor:
    """The metric (mean over pairs) with every edge outside each circuit ablated; ``circuits [S, n_upstream,
    n_downstream]`` bool (or one ``[n_upstream, n_downstream]``). Returns ``[S]``. ``path``: ``"layers"`` (one
    layer at a time, :mod:`interp.circuits.ablated`) or ``"channels"`` (the channel forward of
    :mod:`interp.circuits.split`, the reference; same values); ``circuits_per_batch``: circuits run together
    (default 8 on the layer path, 4 in the channel forward, whose rows are 18 wide)."""
    prepared = prepared or Prepared.of(hm, task, metric=metric, mode=mode)
    graph = prepared.graph
    circuits = circuits[None] if circuits.ndim == 2 else circuits
    if circuits.shape[1:] != (graph.n_upstream, graph.n_downstream):
        raise InputError(f"circuits must be [S, {graph.n_upstream}, {graph.n_downstream}] (upstream × downstream); "
                         f"got {list(circuits.shape)}")
    if path not in ("layers", "channels"):
        raise InputError(f"path must be 'layers' or 'channels', not {path!r}")
    if path == "layers":
        return ablated_metric(hm, prepared, circuits, circuits_per_batch or 8)
    pairs, values, circuits_per_batch = len(task), [], circuits_per_batch or 4
    for start in range(0, len(circuits), circuits_per_batch):
        chunk = circuits[start:start + circuits_per_batch]
        ablated = (graph.mask & ~chunk.bool()).repeat_interleave(pairs, 0)  # [S * pairs, U, D]
        plan = all_channels(graph, len(chunk) * pairs)
        plan.weights = ablation_weights(graph, plan, ablated)
        values.append(prepared.run(hm, plan).reshape(len(chunk), pairs).double().mean(1))
    return torch.cat(values).cpu()
