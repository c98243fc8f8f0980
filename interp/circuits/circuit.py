"""Circuits from edge scores (top-n or greedy), pruned to nodes connected to both the input and the
logits, and their faithfulness: the metric with every edge outside the circuit ablated, normalised so
that the full model is 1 and the empty circuit 0.

>>> import interp
>>> from interp.circuits import Task, edge_scores
>>> from interp.circuits.circuit import top_n, faithfulness_curve
>>> hm = interp.models.tiny("gpt2")
>>> task = Task("toy", ("The dog near the",), ("The key near the",), (" is",), (" are",))
>>> scores = edge_scores(hm, task)
>>> curve = faithfulness_curve(hm, task, scores, sizes=[0, scores.graph.n_edges])
>>> [round(f, 6) for f in curve.faithfulness.tolist()]
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from interp.circuits.attribution import EdgeScores
from interp.circuits.graph import Graph
from interp.circuits.patching import Prepared, ablate_outside
from interp.circuits.tasks import Task
from interp.errors import InputError
from interp.graph.positions import integer_index


def _readers(graph: Graph) -> Tensor:
    """``[n_downstream, n_upstream]`` bool: which upstream nodes read each downstream input."""
    readers = torch.zeros(graph.n_downstream, graph.n_upstream, dtype=torch.bool)
    group = graph.n_heads // graph.n_kv_heads
    for d in range(graph.logits_down):
        kind, head = graph.down_slot(d)
        layer = graph.down_layer(d)
        heads = [head] if kind == "q" else range(head * group, (head + 1) * group)
        nodes = [graph.mlp_up(layer)] if kind == "mlp" else [graph.head_up(layer, h) for h in heads]
        readers[d, nodes] = True
    return readers


def prune(graph: Graph, circuit: Tensor) -> Tensor:
    """Keep the edges whose upstream node is reached from the input and whose downstream node reaches the
    logits through edges of ``circuit`` (``[n_upstream, n_downstream]`` bool)."""
    circuit = circuit.bool() & graph.mask
    readers = _readers(graph)
    while True:
        from_input = torch.zeros(graph.n_upstream, dtype=torch.bool)
        from_input[0] = True
        for u in range(1, graph.n_upstream):  # upstream nodes are in execution order
            inputs = readers[:, u]
            from_input[u] = bool((circuit[:, inputs] & from_input[:, None]).any())
        to_logits = torch.zeros(graph.n_upstream, dtype=torch.bool)
        for u in reversed(range(graph.n_upstream)):
            outs = circuit[u]
            to_logits[u] = bool(outs[graph.logits_down]) or bool((readers[outs[:-1].nonzero().flatten()] &
                                                                   to_logits).any())
        down_alive = (readers.float() @ to_logits.float() > 0)
        down_alive[graph.logits_down] = True
        kept = circuit & from_input[:, None] & down_alive[None, :]
        if torch.equal(kept, circuit):
            return kept
        circuit = kept


def edge_count(n) -> int:
    """A circuit size: a whole number of edges (Python or numpy integer), at least 0."""
    n = integer_index(n, "a circuit size (a number of edges)")
    if n < 0:
        raise InputError(f"a circuit size is a number of edges, at least 0; got {n}")
    return n


def top_n(scores: EdgeScores, n: int, *, absolute: bool = True, pruned: bool = True) -> Tensor:
    """The ``n`` highest-scoring edges (by ``|score|`` unless ``absolute=False``), then pruned."""
    n = edge_count(n)
    graph = scores.graph
    values = (scores.values.abs() if absolute else scores.values).masked_fill(~graph.mask, float("-inf"))
    circuit = torch.zeros_like(graph.mask)
    if n > 0:
        circuit.view(-1)[values.flatten().topk(min(n, graph.n_edges)).indices] = True
    return prune(graph, circuit) if pruned else circuit


def greedy(scores: EdgeScores, n: int, *, absolute: bool = True) -> Tensor:
    """Grow from the logits: each step adds the best edge into a node already in the circuit (Hanna et al.)."""
    n = edge_count(n)
    graph = scores.graph
    values = (scores.values.abs() if absolute else scores.values).masked_fill(~graph.mask, float("-inf"))
    readers = _readers(graph)
    circuit = torch.zeros_like(graph.mask)
    in_circuit = torch.zeros(graph.n_upstream, dtype=torch.bool)
    for _ in range(min(n, graph.n_edges)):
        active = (readers.float() @ in_circuit.float() > 0)
        active[graph.logits_down] = True
        candidates = values.masked_fill(circuit | ~active[None, :], float("-inf"))
        best = int(candidates.flatten().argmax())
        if candidates.flatten()[best] == float("-inf"):
            break
        up, down = divmod(best, graph.n_downstream)
        circuit[up, down] = True
        in_circuit[up] = True
    return prune(graph, circuit)


@dataclass
class FaithfulnessCurve:
    """Per circuit size: ``edges`` asked for, ``kept`` (after pruning), ``metric`` and ``faithfulness``."""

    sizes: list[int]
    kept: list[int]
    metric: Tensor
    faithfulness: Tensor
    full: float
    empty: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"edges": self.sizes, "kept": self.kept, "metric": self.metric.numpy(),
                             "faithfulness": self.faithfulness.numpy()})


def faithfulness_curve(hm, task: Task, scores: EdgeScores, sizes: Sequence[int], *, select: str = "top_n",
                       mode: str = "corrupted", circuits_per_batch: int | None = None) -> FaithfulnessCurve:
    """Faithfulness of the circuit of each size (``select``: ``"top_n"`` or ``"greedy"``)."""
    if select not in ("top_n", "greedy"):
        raise InputError(f"select must be 'top_n' or 'greedy', not {select!r}")
    sizes = [edge_count(n) for n in sizes]
    if not sizes:
        raise InputError("sizes: give at least one circuit size (a number of edges)")
    pick = top_n if select == "top_n" else greedy
    graph = scores.graph
    prepared = Prepared.of(hm, task, metric=scores.metric, mode=mode)
    circuits = torch.stack([pick(scores, n) for n in sizes] + [torch.zeros_like(graph.mask)])
    values = ablate_outside(hm, task, circuits, prepared=prepared, circuits_per_batch=circuits_per_batch)
    full, empty = float(prepared.clean_metric.double().mean()), float(values[-1])
    faithfulness = (values[:-1] - empty) / (full - empty)
    return FaithfulnessCurve(sizes, [int(c.sum()) for c in circuits[:-1]], values[:-1],
                             faithfulness, full, empty)


def circuit_table(scores: EdgeScores, circuit: Tensor) -> pd.DataFrame:
    """The edges of ``circuit`` with their scores: ``edge, upstream, downstream, down_node, kind, score``
    (``down_node``: the node whose input the edge enters; under grouped-query attention a key/value input is
    shared by a group of query heads: its node is ``a{L}.kv{G}``, the group), largest ``|score|`` first."""
    graph = scores.graph
    table = scores.table()
    table = table[[bool(circuit[u, d]) for u, d in zip(table.up, table.down)]].copy()
    group = graph.n_heads // graph.n_kv_heads

    def node(down: int) -> str:
        kind, head = graph.down_slot(down)
        layer = graph.down_layer(down)
        if kind in ("k", "v") and group > 1:
            return f"a{layer}.kv{head}"
        return {"logits": "logits", "mlp": f"m{layer}"}.get(kind, f"a{layer}.h{head}")

    table["down_node"] = [node(int(d)) for d in table.down]
    table["kind"] = [graph.down_slot(int(d))[0] for d in table.down]
    columns = ["edge", "upstream", "downstream", "down_node", "kind", "score"]
    return table.sort_values("abs_score", ascending=False, kind="stable")[columns].reset_index(drop=True)


def scores_from_table(graph: Graph, table: pd.DataFrame, method: str, metric: str) -> EdgeScores:
    """:class:`EdgeScores` back from an ``edges.csv`` (columns ``up``, ``down``, ``score``)."""
    values = torch.zeros(graph.n_upstream, graph.n_downstream, dtype=torch.float64)
    values[torch.tensor(table.up.to_numpy()), torch.tensor(table.down.to_numpy())] = torch.tensor(
        table.score.to_numpy(), dtype=torch.float64)
    return EdgeScores(graph, values, method, metric)
