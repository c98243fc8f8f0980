"""Exact edge patching resumed at the edge's downstream layer: nothing below it is recomputed.

Patching an edge ``u → v`` changes nothing before ``v``'s layer ``L``, and there every other input reads
the clean stream. So a batch of edges into layer ``L`` (each a row per pair) runs in two short forwards:

1. **the edited input** (``v``'s own copy of the stream, layer ``L`` only): start at ``resid_pre.L`` from
   the clean run's stream plus ``u``'s difference (source − clean, from the cached node outputs) and stop
   right after ``q/k/v.L`` (for an MLP input: after ``mlp_out.L``, the attention output held at its clean
   value, plus the head's difference for a head of the same layer);
2. **the trunk** from ``resid_pre.L`` (the clean run's) to ``resid_post`` of the last layer, ``v``'s head slot
   of ``q/k/v.L`` (or ``mlp_out.L``) taken from step 1.

The trunk recomputes only the tokens from the first one at which any upstream node's source output differs
from its clean one (:func:`unchanged_prefix`; the tokens before it are the clean run's in every patched run,
causal attention reads them from the clean run's keys and values) and unembeds nothing. An edge into the
logits starts there: the clean final residual plus ``u``'s difference. The last tokens' final residuals of
every row, whatever layer it started at, then go through the final norm and the unembedding together
(:func:`unembed`: one forward of a one-token batch from that site): the unembedding matrix is the largest
weight of a small model, and read once for many rows.

The values equal the channel forward of :mod:`interp.circuits.split` (``Prepared.run`` with
:func:`~interp.circuits.patching.edge_plan`): tested to 1e-10 in float64.

>>> import interp, torch
>>> from interp.circuits import Graph, Task
>>> from interp.circuits.patching import Prepared, edge_plan
>>> from interp.circuits.resumed import final_residuals, unembed
>>> hm = interp.models.tiny("llama")
>>> task = Task("toy", ("The dog near the",), ("The key near the",), (" is",), (" are",))
>>> prepared, graph = Prepared.of(hm, task), Graph.of(hm)
>>> prepared.prefix                                  # the start token and "The": the same in both, not rerun
2
>>> edges = [(0, graph.down_index(1, "q", 2)), (graph.head_up(1, 3), graph.down_index(1, "mlp"))]
>>> final = final_residuals(hm, prepared, edges, layer=1)            # [edges * pairs, d_model]
>>> fast = prepared.metric(unembed(hm, final), torch.zeros(2, dtype=torch.long))
>>> torch.allclose(fast, prepared.run(hm, edge_plan(graph, edges, 1)), atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from interp.graph.inputs import Batch
from interp.graph.resume import resume, resume_support, resumed_logits
from interp.interventions import Apply


def unchanged_prefix(clean, source, last_index: Tensor) -> int:
    """How many leading tokens every upstream node outputs identically on the source and the clean run (at
    most the shortest example's last token): no patched run changes them."""
    changed = torch.zeros(clean.embed.shape[1], dtype=torch.bool)
    for ours, theirs in zip([clean.embed, *clean.z, *clean.mlp], [source.embed, *source.z, *source.mlp]):
        changed |= (ours != theirs).flatten(2).any(-1).any(0).cpu()
    first = int(changed.nonzero()[0]) if changed.any() else changed.numel()
    return min(first, int(last_index.min()))


def stream_sites(n_layers: int, parallel: bool) -> list[str]:
    """The clean run's sites a resumed edge patch starts from."""
    sites = [f"resid_pre.{layer}" for layer in range(n_layers)] + [f"resid_post.{n_layers - 1}"]
    return sites if parallel else sites + [f"attn_out.{layer}" for layer in range(n_layers)]


def upstream_difference(prepared, up: int) -> Tensor:
    """``[pairs, P, d]``: upstream node ``up``'s source (corrupted or mean) output minus its clean one."""
    graph, source, clean = prepared.graph, prepared.source, prepared.clean
    if up == 0:
        return source.embed - clean.embed
    layer, slot = divmod(up - 1, graph.per_layer_up)
    if slot == graph.n_heads:
        return source.mlp[layer] - clean.mlp[layer]
    dz = (source.z[layer] - clean.z[layer])[:, :, slot]  # [pairs, P, d_head]
    return dz @ prepared.blocks[layer][slot].to(dz.dtype)


def unembed(hm, final: Tensor, columns: Tensor | None = None) -> Tensor:
    """``[rows, vocab]`` logits of final residuals ``[rows, d]`` (``resid_post`` of the last layer at the last
    token): the model's own final norm and unembedding, run on a one-token batch from that site. ``columns``
    (token ids, from :func:`answer_columns`): only those logits are computed, the others are 0."""
    if columns is not None:
        head = hm.model.get_output_embeddings()
        with torch.no_grad():
            normed = hm.final_norm(final)
            bias = None if head.bias is None else head.bias[columns]
            logits = normed.new_zeros(len(final), head.weight.shape[0])
            logits[:, columns] = torch.nn.functional.linear(normed, head.weight[columns], bias)
        return logits
    batch = Batch(torch.zeros(len(final), 1, dtype=torch.long), torch.ones(len(final), 1, dtype=torch.long))
    start = (f"resid_post.{hm.n_layers - 1}", final[:, None])
    with torch.no_grad():
        if hm.can_resume and resume_support(hm, 1).ok:
            return resume(hm, batch, start_at=start)[:, -1]
        return hm.run(batch, start_at=start).last_logits


def answer_columns(hm, metric, clean_final: Tensor, clean_logits: Tensor) -> Tensor | None:
    """The token ids a metric reads (``metric.columns``, e.g. the answers of a logit difference) when the model's
    logits are its unembedding of its final norm and nothing after it (checked on the clean run's last tokens:
    ``clean_final [pairs, d]``, ``clean_logits [pairs, vocab]``), else None (every logit is computed)."""
    answers = getattr(metric, "columns", None)
    head = hm.model.get_output_embeddings()
    if answers is None or not isinstance(head, torch.nn.Linear) or hm.layout is None:
        return None
    columns = answers.flatten().unique()
    ours = unembed(hm, clean_final, columns)[:, columns]
    theirs = clean_logits[:, columns].to(ours.device, ours.dtype)
    scale = float(theirs.abs().max()) + 1e-6
    return columns if torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale) else None


def _replace_slots(rows: Tensor, slots: Tensor | None, values: Tensor) -> Callable[[Tensor, object], Tensor]:
    """A handler writing ``values[rows, :, slots]`` (heads ``slots[i]`` of row ``rows[i]``) into the activation
    (``slots`` None: the whole rows)."""

    def edit(act: Tensor, ctx) -> Tensor:
        act = act.clone()
        index = rows.to(act.device)
        if slots is None:
            act[index] = values[index].to(act.dtype)
        else:
            heads = slots.to(act.device)
            act[index, :, heads] = values[index, :, heads].to(act.dtype)
        return act

    return edit


def final_residuals(hm, prepared, edges: Sequence[tuple[int, int]], layer: int) -> Tensor:
    """``[len(edges) * pairs, d]`` (row ``e * pairs + p``): the last token's ``resid_post`` of the last layer with
    each edge patched alone; every edge enters layer ``layer`` (``graph.n_layers``: the logits)."""
    graph, clean = prepared.graph, prepared.clean
    pairs = prepared.clean_batch.size
    rows = len(edges) * pairs
    pair = torch.arange(rows) % pairs
    batch = Batch(prepared.clean_batch.input_ids.repeat(len(edges), 1),
                  prepared.clean_batch.attention_mask.repeat(len(edges), 1))
    last = (torch.arange(rows), batch.last_index)
    diff = torch.cat([upstream_difference(prepared, u) for u, _ in edges])  # [rows, P, d]
    final_site = f"resid_post.{graph.n_layers - 1}"
    if layer == graph.n_layers:
        return (clean.stream[final_site][pair] + diff)[last]
    pre = clean.stream[f"resid_pre.{layer}"][pair]
    same_layer = torch.tensor([graph.up_layer(u) == layer for u, _ in edges]).repeat_interleave(pairs)
    own = pre + diff * (~same_layer).to(diff.dtype)[:, None, None]
    slots = [graph.down_slot(d) for _, d in edges]
    kinds = sorted({kind for kind, _ in slots})
    sites = {kind: f"{'mlp_out' if kind == 'mlp' else kind}.{layer}" for kind in kinds}
    held = []
    if "mlp" in kinds and not graph.parallel:  # the MLP's copy reads the clean attention output (+ same-layer head)
        attn = clean.stream[f"attn_out.{layer}"][pair] + diff * same_layer.to(diff.dtype)[:, None, None]
        held.append(Apply(f"attn_out.{layer}", lambda act, ctx: attn.to(act.device, act.dtype)))
    with torch.no_grad():
        copy = hm.run(batch, start_at=(f"resid_pre.{layer}", own), interventions=held, cache=list(sites.values()),
                      logits=False).cache
    start = prepared.prefix if clean.key_values is not None else 0
    hooks: dict[str, list] = {}
    for kind, site in sites.items():
        owned = [e for e, (k, _) in enumerate(slots) if k == kind]
        index = torch.tensor([e * pairs + p for e in owned for p in range(pairs)])
        heads = None if kind == "mlp" else torch.tensor([slots[e][1] for e in owned for _ in range(pairs)])
        hooks[site] = [_replace_slots(index, heads, copy[site][:, start:])]
    if clean.key_values is not None:  # the trunk from the first changed token, the clean run's keys before it
        kept: list[Tensor] = []
        hooks.setdefault(final_site, []).append(lambda act, ctx: kept.append(act[last[0], last[1] - start]))
        past = [(k[pair, :, :start], v[pair, :, :start]) for k, v in clean.key_values] if start else None
        positions = (torch.arange(batch.width)[None, :] - batch.offsets[:, None]).clamp(min=0)[:, start:]
        resumed_logits(hm, (f"resid_pre.{layer}", pre[:, start:]), input_ids=batch.input_ids[:, start:],
                       attention_mask=batch.attention_mask, position_ids=positions,
                       logits_to_keep=torch.zeros(rows, 0, dtype=torch.long), key_values=past, hooks=hooks, batch=batch)
        return kept[0]
    edits = [Apply(site, handlers[0]) for site, handlers in hooks.items()]
    with torch.no_grad():
        trunk = hm.run(batch, start_at=(f"resid_pre.{layer}", pre), interventions=edits, cache=[final_site],
                       logits=False).cache[final_site]
    return trunk[last]
