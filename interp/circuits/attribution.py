"""Edge scores: EAP and EAP-IG (over inputs or over activations), any metric.

``score(u → v) = Σ_pos (a_u(corrupted) − a_u(clean)) · ∂metric/∂(input of v)``, mean over pairs, where the
gradient is taken at ``v``'s own copy of the residual stream (the ``q``, ``k`` or ``v`` of one head,
one MLP, the logits; :mod:`interp.circuits.split`), obtained from one plain forward and backward
(:mod:`interp.circuits.gradients`). EAP takes it on the clean run; EAP-IG averages it over ``steps``
points between corrupted and clean: ``"inputs"`` interpolates the embeddings
(``corrupted + k/steps · (clean − corrupted)``, ``k = 0 … steps − 1``, all steps in one batch),
``"activations"`` interpolates the outputs of one node group (the input, one layer's heads, one MLP) at a
time and scores that group's edges with it.

>>> import interp
>>> from interp.circuits import Task, edge_scores
>>> hm = interp.models.tiny("llama")
>>> task = Task("toy", ("The dog near the", "The man near the"), ("The key near the", "The dog near the"),
...             (" is", " is"), (" are", " are"))
>>> scores = edge_scores(hm, task, method="eap")
>>> scores.values.shape == (scores.graph.n_upstream, scores.graph.n_downstream), len(scores.table())
(True, 82)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from interp.circuits.gradients import input_gradients
from interp.circuits.graph import Graph
from interp.circuits.metrics import make_metric
from interp.circuits.nodes import NodeOutputs, head_blocks
from interp.circuits.tasks import Task
from interp.errors import InputError
from interp.interventions import Apply

METHODS = ("eap", "eap-ig-inputs", "eap-ig-activations")


@dataclass
class EdgeScores:
    """``values [n_upstream, n_downstream]`` (0 where there is no edge), mean over pairs."""

    graph: Graph
    values: Tensor
    method: str
    metric: str

    def table(self) -> pd.DataFrame:
        """One row per edge: ``edge, upstream, downstream, score, abs_score, rank`` (rank 1 = largest |score|)."""
        edges = self.graph.edges
        scores = torch.tensor([float(self.values[u, d]) for u, d in edges])
        table = pd.DataFrame({"edge": [self.graph.edge_name(e) for e in edges],
                              "upstream": [self.graph.up_name(u) for u, _ in edges],
                              "downstream": [self.graph.down_name(d) for _, d in edges],
                              "up": [u for u, _ in edges], "down": [d for _, d in edges],
                              "score": scores.numpy(), "abs_score": scores.abs().numpy()})
        table["rank"] = table.abs_score.rank(ascending=False, method="first").astype(int)
        return table


def node_differences(hm, graph: Graph, clean: NodeOutputs, corrupted: NodeOutputs, blocks) -> Tensor:
    """``[n_upstream, B, P, d]``: each upstream node's corrupted minus clean output."""
    parts = [corrupted.embed - clean.embed]
    for layer in range(graph.n_layers):
        dz = corrupted.z[layer] - clean.z[layer]
        parts.extend(torch.einsum("bphk,hkd->hbpd", dz, blocks[layer].to(dz.dtype)).unbind(0))
        parts.append(corrupted.mlp[layer] - clean.mlp[layer])
    return torch.stack(parts)


def edge_scores(hm, task: Task, *, method: str = "eap", metric: str = "logit_diff", steps: int = 5,
                batch_size: int = 8) -> EdgeScores:
    """Score every edge of ``hm``'s graph on ``task`` (see the module doc)."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if steps < 1 or batch_size < 1:
        raise InputError(f"steps and batch_size must be at least 1; got {steps} and {batch_size}")
    graph, blocks = Graph.of(hm), head_blocks(hm)
    total = torch.zeros(graph.n_upstream, graph.n_downstream, dtype=torch.float64)
    for start in range(0, len(task), batch_size):
        part = task.subset(range(start, min(start + batch_size, len(task))))
        total += _score_batch(hm, graph, blocks, part, method, metric, steps, check=start == 0)
    return EdgeScores(graph, (total / len(task)) * graph.mask, method, metric)


def _score_batch(hm, graph, blocks, task: Task, method: str, metric_name: str, steps: int, check: bool) -> Tensor:
    clean_batch, corrupted_batch, answers = task.encode(hm)
    clean = NodeOutputs.of(hm, clean_batch, check=check)
    corrupted = NodeOutputs.of(hm, corrupted_batch, check=False)
    metric = make_metric(metric_name, answers, clean.last_logits)
    diffs = node_differences(hm, graph, clean, corrupted, blocks).double()  # [U, B, P, d]
    if method == "eap":
        return _contract(graph, diffs, _gradients(hm, graph, blocks, clean_batch, metric, 1, {}))
    if method == "eap-ig-inputs":
        alphas = _alphas(steps, len(task), clean.embed)
        transform = {"embed": lambda x: corrupted.embed.repeat(steps, 1, 1) + alphas * (x - corrupted.embed.repeat(
            steps, 1, 1))}
        return _contract(graph, diffs, _gradients(hm, graph, blocks, clean_batch, metric, steps, transform))
    total = torch.zeros(graph.n_upstream, graph.n_downstream, dtype=torch.float64)
    for site, ups in _groups(graph):
        source = {"embed": corrupted.embed}.get(site) if site == "embed" else (
            corrupted.z[int(site[2:])] if site.startswith("z.") else corrupted.mlp[int(site.split(".")[1])])
        repeated = source.repeat(steps, *([1] * (source.ndim - 1)))
        alphas = _alphas(steps, len(task), source)
        transform = {site: lambda x, s=repeated, a=alphas: s + a * (x - s)}
        grads = _gradients(hm, graph, blocks, clean_batch, metric, steps, transform)
        total[ups] = _contract(graph, diffs[ups], grads, ups)
    return total


def _groups(graph: Graph) -> list[tuple[str, list[int]]]:
    groups = [("embed", [0])]
    for layer in range(graph.n_layers):
        groups.append((f"z.{layer}", [graph.head_up(layer, h) for h in range(graph.n_heads)]))
        groups.append((f"mlp_out.{layer}", [graph.mlp_up(layer)]))
    return groups


def _alphas(steps: int, n: int, like: Tensor) -> Tensor:
    alphas = torch.arange(steps, dtype=like.dtype, device=like.device).repeat_interleave(n) / steps
    return alphas.reshape(-1, *([1] * (like.ndim - 1)))


def _gradients(hm, graph, blocks, batch, metric, steps: int, transform: dict) -> list[Tensor]:
    """Per layer (and the logits) the gradient at each downstream input, mean over ``steps`` (one plain
    forward and backward: :mod:`interp.circuits.gradients`); ``transform``: site -> f(value) (``"embed"``
    edits ``resid_pre.0``)."""
    repeated = type(batch)(batch.input_ids.repeat(steps, 1), batch.attention_mask.repeat(steps, 1))
    edits = [Apply("resid_pre.0" if site == "embed" else site, lambda act, ctx, f=f: f(act))
             for site, f in transform.items()]
    return input_gradients(hm, graph, repeated, metric, edits, steps)


def _contract(graph: Graph, diffs: Tensor, grads: list[Tensor], ups: list[int] | None = None) -> Tensor:
    """``Σ_batch Σ_pos diffs[u] · grads[v]`` -> ``[len(ups), n_downstream]`` (``grads``: per layer, then the
    logits, ``[inputs, B, P, d]``), only for upstream nodes not after the layer (the others are no edges)."""
    ups = list(range(len(diffs))) if ups is None else ups
    up_layer = torch.tensor([graph.up_layer(u) for u in ups])
    flat = diffs.reshape(len(ups), -1)  # [U, B * P * d]
    out = torch.zeros(len(ups), graph.n_downstream, dtype=torch.float64)
    first = 0
    for layer, grad in enumerate(grads):
        width = grad.shape[0]
        before = (up_layer <= layer).nonzero().flatten()
        dtype = torch.promote_types(grad.dtype, torch.float32)  # the model's precision, at least float32
        out[before, first:first + width] = (flat[before].to(dtype) @ grad.reshape(width, -1).to(dtype).T).double()
        first += width
    return out
