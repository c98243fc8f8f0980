"""Exact edge patching resumed at the edge's downstream layer: nothing below it is recomputed.

Patching an edge ``u → v`` changes nothing before ``v``'s layer ``L``, and there every other input reads
the clean stream. So an edge's row needs, at layer ``L``:

1. **the edited input** (``v``'s own copy of the stream, layer ``L`` only): start at ``resid_pre.L`` from
   the clean run's stream plus ``u``'s difference (source − clean, from the cached node outputs) and stop
   right after ``q/k/v.L`` (for an MLP input: after ``mlp_out.L``, the attention output held at its clean
   value, plus the head's difference for a head of the same layer);
2. **the trunk** from ``resid_pre.L`` (the clean run's) to ``resid_post`` of the last layer, ``v``'s head slot
   of ``q/k/v.L`` (or ``mlp_out.L``) taken from step 1.

Many edges run together (:func:`final_residuals`) as one forward per layer from the first layer any of them
enters: a row joins the batch at its edge's layer, so every layer runs once for all the rows that need it
(a small model on CPU is bound by reading the weights when a forward has few rows). The trunk recomputes
only the tokens from the first one at which any upstream node's source output differs from its clean one
(:func:`unchanged_prefix`; the tokens before it are the clean run's in every patched run, causal attention
reads them from the clean run's keys and values) and unembeds nothing. An edge into the logits starts there:
the clean final residual plus ``u``'s difference. The last tokens' final residuals of every row then go
through the final norm and the unembedding together (:func:`unembed`; only the answers' logits when the
metric reads only those: :func:`answer_columns`).

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
>>> final = final_residuals(hm, prepared, edges)                     # [edges * pairs, d_model]
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
from interp.graph.runner import StopForward
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


def write_rows(rows: Tensor, heads: Tensor | None, values: Tensor) -> Callable[[Tensor, object], Tensor]:
    """A handler writing ``values [n, P, ...]`` into row ``rows[i]`` of the activation (head ``heads[i]`` of it
    when ``heads`` is given: ``values [n, P, d_head]``)."""

    def edit(act: Tensor, ctx) -> Tensor:
        act = act.clone()
        index = rows.to(act.device)
        if heads is None:
            act[index] = values.to(act.device, act.dtype)
        else:
            act[index, :, heads.to(act.device)] = values.to(act.device, act.dtype)
        return act

    return edit


def final_residuals(hm, prepared, edges: Sequence[tuple[int, int]]) -> Tensor:
    """``[len(edges) * pairs, d]`` (row ``e * pairs + p``): the last token's ``resid_post`` of the last layer with
    each edge patched alone. One forward per layer from the first one an edge enters: a row joins the batch at
    the layer its edge enters (from the clean stream, its input edited), so each layer's weights are read once
    for every row that runs it."""
    graph, clean = prepared.graph, prepared.clean
    pairs = prepared.clean_batch.size
    rows = len(edges) * pairs
    pair = torch.arange(rows) % pairs
    batch = Batch(prepared.clean_batch.input_ids[pair], prepared.clean_batch.attention_mask[pair])
    last = batch.last_index
    diff = torch.cat([upstream_difference(prepared, u) for u, _ in edges])  # [rows, P, d]
    entry = torch.tensor([graph.down_layer(d) for _, d in edges]).repeat_interleave(pairs)  # [rows]
    final_site = f"resid_post.{graph.n_layers - 1}"
    final = (clean.stream[final_site][pair] + diff)[torch.arange(rows), last]  # the edges into the logits
    start = prepared.prefix if clean.key_values is not None else 0
    active, stream = torch.zeros(0, dtype=torch.long), None
    for layer in range(int(entry.min()), graph.n_layers):
        joining = (entry == layer).nonzero().flatten()
        hooks = _edited_inputs(hm, prepared, edges, batch, diff, joining, len(active), layer, start)
        pre = clean.stream[f"resid_pre.{layer}"][pair[joining], start:]
        active = torch.cat([active, joining])
        stream = pre if stream is None else torch.cat([stream, pre])
        stream = _run_layer(hm, prepared, layer, Batch(batch.input_ids[active], batch.attention_mask[active]),
                            pair[active], stream, hooks, start)
    if stream is not None:
        final[active] = stream[torch.arange(len(active)), last[active] - start]
    return final


def _edited_inputs(hm, prepared, edges, batch: Batch, diff: Tensor, joining: Tensor, offset: int, layer: int,
                   start: int) -> dict[str, list]:
    """Run the edited inputs of the rows ``joining`` at ``layer`` (``v``'s copy of the stream plus ``u``'s
    difference, to ``q/k/v.L`` or ``mlp_out.L``); returns ``{site: [handler]}`` writing them into those rows'
    slots of the trunk, where they are rows ``offset`` on."""
    if not len(joining):
        return {}
    graph, clean = prepared.graph, prepared.clean
    pairs = prepared.clean_batch.size
    pair = joining % pairs
    ups = [edges[int(r) // pairs][0] for r in joining]
    slots = [graph.down_slot(edges[int(r) // pairs][1]) for r in joining]
    same_layer = torch.tensor([graph.up_layer(u) == layer for u in ups])
    pre = clean.stream[f"resid_pre.{layer}"][pair]
    own = pre + diff[joining] * (~same_layer).to(diff.dtype)[:, None, None]
    kinds = sorted({kind for kind, _ in slots})
    sites = {kind: f"{'mlp_out' if kind == 'mlp' else kind}.{layer}" for kind in kinds}
    held = []
    if "mlp" in kinds and not graph.parallel:  # the MLP's copy reads the clean attention output (+ same-layer head)
        attn = clean.stream[f"attn_out.{layer}"][pair] + diff[joining] * same_layer.to(diff.dtype)[:, None, None]
        held.append(Apply(f"attn_out.{layer}", lambda act, ctx: attn.to(act.device, act.dtype)))
    copies = Batch(batch.input_ids[joining], batch.attention_mask[joining])
    with torch.no_grad():
        copy = hm.run(copies, start_at=(f"resid_pre.{layer}", own), interventions=held, cache=list(sites.values()),
                      logits=False).cache
    hooks = {}
    for kind, site in sites.items():
        mine = torch.tensor([k == kind for k, _ in slots])
        index = mine.nonzero().flatten()
        if kind == "mlp":
            hooks[site] = [write_rows(offset + index, None, copy[site][index, start:])]
        else:
            heads = torch.tensor([h for _, h in slots])[mine]
            hooks[site] = [write_rows(offset + index, heads, copy[site][index, start:, heads])]
    return hooks


def _run_layer(hm, prepared, layer: int, batch: Batch, pair: Tensor, stream: Tensor, hooks: dict[str, list],
               start: int) -> Tensor:
    """``resid_post.L`` ``[rows, P - start, d]`` of layer ``layer`` run from ``resid_pre.L`` ``stream`` with
    ``hooks``: tokens from ``start`` on, the clean run's keys and values (of pair ``pair [rows]``) before it."""
    site = f"resid_post.{layer}"
    clean = prepared.clean
    if clean.key_values is None:
        edits = [Apply(name, handlers[0]) for name, handlers in hooks.items()]
        with torch.no_grad():
            return hm.run(batch, start_at=(f"resid_pre.{layer}", stream), interventions=edits, cache=[site],
                          logits=False).cache[site]
    kept: list[Tensor] = []

    def keep_and_stop(act: Tensor, ctx) -> None:
        kept.append(act)
        raise StopForward(site)  # the layers above run in the next forward, with the rows joining there

    hooks = {**hooks, site: [*hooks.get(site, []), keep_and_stop]}
    past = [(k[pair, :, :start], v[pair, :, :start]) for k, v in clean.key_values] if start else None
    positions = (torch.arange(batch.width)[None, :] - batch.offsets[:, None]).clamp(min=0)[:, start:]
    try:
        resumed_logits(hm, (f"resid_pre.{layer}", stream), input_ids=batch.input_ids[:, start:],
                       attention_mask=batch.attention_mask, position_ids=positions,
                       logits_to_keep=torch.zeros(batch.size, 0, dtype=torch.long), key_values=past, hooks=hooks,
                       batch=batch)
    except StopForward:
        pass
    return kept[0]
