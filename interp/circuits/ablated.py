"""Every edge outside a circuit ablated, one layer at a time: the model of :mod:`interp.circuits.split` without
its ``K``-wide forward.

In the split model each downstream input (the ``q``, ``k`` or ``v`` of one head, one MLP, the logits) reads the
residual stream plus ``Σ_u w_u (source_u − current_u)`` over the upstream nodes ``u`` whose edge into it is
ablated. The channel forward computes that by running the whole model once per input slot of a layer (18
copies for the embedded model) and unembedding every position of every copy. Here each layer ``L`` runs as two
short forwards from the ablated run's ``resid_pre.L`` (rows: circuits × pairs):

1. **the edited inputs**: one row per distinct edited ``q``/``k``/``v`` input (rows whose weights agree, e.g.
   every input with all its edges ablated, share one), from the stream plus its change, stopped right after
   ``q/k/v.L`` (the input norm and projections only);
2. **the trunk**, to ``resid_post.L``: each head slot of ``q/k/v.L`` taken from step 1, the MLP's input from an
   extra row per circuit whose MLP input is edited (its attention output held at the trunk's plus the ablated
   same-layer heads' differences), the heads' and the MLP's ``source − current`` recorded on the way.

Layers below the first one any ablated edge enters are the clean run's (not run), identical circuits are
run once, a circuit with nothing ablated is the clean run, and only the last token's final residual is
unembedded (only the answers' logits when the metric reads only those: :func:`~interp.circuits.resumed.unembed`).
Equal to the channel forward (:func:`interp.circuits.patching.ablate_outside` with ``path="channels"``):
tested to 1e-10 in float64.

>>> import interp, torch
>>> from interp.circuits import Graph, Task
>>> from interp.circuits.patching import Prepared, ablate_outside
>>> from interp.circuits.ablated import ablated_metric
>>> hm = interp.models.tiny("llama")
>>> task = Task("toy", ("The dog near the",), ("The key near the",), (" is",), (" are",))
>>> prepared, graph = Prepared.of(hm, task), Graph.of(hm)
>>> circuits = torch.stack([graph.mask, torch.zeros_like(graph.mask), graph.mask & (torch.rand(graph.mask.shape) < .5)])
>>> layers = ablated_metric(hm, prepared, circuits)                  # [3]: mean over pairs
>>> torch.allclose(layers, ablate_outside(hm, task, circuits, prepared=prepared, path="channels"), atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from interp.circuits.resumed import unembed, upstream_difference
from interp.graph.inputs import Batch
from interp.interventions import Apply

DIFFS_BYTES = 2**29  # at most this much of upstream differences ([rows, U, P, d]) held per batch of circuits


def ablated_metric(hm, prepared, circuits: Tensor, circuits_per_batch: int = 8) -> Tensor:
    """``[S]``: the metric (mean over pairs) with every edge outside each circuit (``[S, n_upstream,
    n_downstream]`` bool) ablated to ``prepared``'s source; at most ``circuits_per_batch`` circuits per batch
    (fewer when their upstream differences would pass ``DIFFS_BYTES``)."""
    graph = prepared.graph
    embed = prepared.clean.embed
    per_circuit = embed.numel() * graph.n_upstream * embed.element_size()  # [pairs, U, P, d] per circuit
    circuits_per_batch = max(1, min(circuits_per_batch, DIFFS_BYTES // per_circuit))
    ablated = graph.mask & ~circuits.bool()
    values = prepared.clean_metric.double().mean().cpu().repeat(len(circuits))
    todo = ablated.flatten(1).any(1).nonzero().flatten()
    if len(todo):
        unique, inverse = torch.unique(ablated[todo].flatten(1), dim=0, return_inverse=True)
        unique = unique.reshape(-1, *graph.mask.shape)
        metrics = torch.cat([_run(hm, prepared, unique[start:start + circuits_per_batch])
                             for start in range(0, len(unique), circuits_per_batch)])
        values[todo] = metrics[inverse]
    return values


def _run(hm, prepared, ablated: Tensor) -> Tensor:
    """``[s]``: the metric of each ablated-edge set ``[s, U, D]`` (mean over pairs)."""
    graph, clean = prepared.graph, prepared.clean
    pairs = prepared.clean_batch.size
    rows = len(ablated) * pairs
    pair = torch.arange(rows) % pairs
    ablated = ablated.repeat_interleave(pairs, 0)  # [rows, U, D], row s * pairs + p
    batch = Batch(prepared.clean_batch.input_ids[pair], prepared.clean_batch.attention_mask[pair])
    down_layer = torch.tensor([graph.down_layer(d) for d in range(graph.n_downstream)])
    first = int(down_layer[ablated.any(1).any(0)].min())
    final_site = f"resid_post.{graph.n_layers - 1}"
    stream = clean.stream[final_site if first == graph.n_layers else f"resid_pre.{first}"][pair]
    diffs = stream.new_zeros(rows, graph.n_upstream, *stream.shape[1:])  # [rows, U, P, d]: source − current
    for up in range(graph.upstream_of_layer(first) if first < graph.n_layers else graph.n_upstream):
        diffs[:, up] = upstream_difference(prepared, up)[pair]  # below the first ablated layer: the clean run
    for layer in range(first, graph.n_layers):
        stream = _layer(hm, prepared, batch, pair, ablated, diffs, stream, layer)
    rows_index, last = torch.arange(rows), batch.last_index
    weights = ablated[:, :, graph.logits_down].to(stream.dtype)  # [rows, U]
    final = stream[rows_index, last] + torch.einsum("ru,rud->rd", weights, diffs[rows_index, :, last])
    metric = prepared.metric(unembed(hm, final, prepared.columns), pair)
    return metric.reshape(len(ablated) // pairs, pairs).double().mean(1).cpu()


def _layer(hm, prepared, batch: Batch, pair: Tensor, ablated: Tensor, diffs: Tensor, stream: Tensor,
           layer: int) -> Tensor:
    """Run layer ``layer`` of the ablated model from its ``resid_pre`` ``stream`` ``[rows, P, d]``: fills
    ``diffs`` for the layer's heads and MLP, returns its ``resid_post``."""
    graph = prepared.graph
    rows, width = len(stream), graph.per_layer_down
    base, upstream = layer * width, graph.upstream_of_layer(layer)
    weights = ablated[:, :upstream, base:base + width].to(stream.dtype)  # [rows, U_L, inputs of the layer]
    change = torch.bmm(weights.transpose(1, 2), diffs[:, :upstream].flatten(2)).reshape(rows, width, *stream.shape[1:])
    edited = weights.any(1)  # [rows, inputs]
    hooks = _edited_inputs(hm, graph, batch, stream, change, weights, edited, layer)
    heads = [graph.head_up(layer, h) for h in range(graph.n_heads)]
    mlp_rows = (edited[:, -1] | ablated[:, heads, base + width - 1].any(1)).nonzero().flatten()
    same_layer = ablated[mlp_rows][:, heads, base + width - 1].to(stream.dtype)  # [M, heads]
    block = prepared.blocks[layer].to(stream.dtype)
    source_z = prepared.source.z[layer]

    def record_heads(act: Tensor, ctx) -> None:
        delta = source_z[pair] - act[:rows]  # [rows, P, heads, d_head]
        diffs[:, heads[0]:heads[-1] + 1] = torch.einsum("rphk,hkd->rhpd", delta, block)

    def hold_attention(act: Tensor, ctx) -> Tensor:  # the MLP rows read the trunk's attention output
        held = act[mlp_rows] + torch.einsum("mh,mhpd->mpd", same_layer, diffs[mlp_rows, heads[0]:heads[-1] + 1])
        return torch.cat([act[:rows], held])

    def take_mlp(act: Tensor, ctx) -> Tensor:
        act = act.clone()
        act[mlp_rows] = act[rows:].clone()
        diffs[:, graph.mlp_up(layer)] = prepared.source.mlp[layer][pair] - act[:rows]
        return act

    edits = [Apply(site, handler) for site, handler in hooks.items()]
    edits += [Apply(f"z.{layer}", record_heads), Apply(f"mlp_out.{layer}", take_mlp)]
    if not graph.parallel:
        edits.append(Apply(f"attn_out.{layer}", hold_attention))
    trunk = Batch(torch.cat([batch.input_ids, batch.input_ids[mlp_rows]]),
                  torch.cat([batch.attention_mask, batch.attention_mask[mlp_rows]]))
    start = torch.cat([stream, stream[mlp_rows] + change[mlp_rows, -1]])
    with torch.no_grad():
        out = hm.run(trunk, start_at=(f"resid_pre.{layer}", start), interventions=edits,
                     cache=[f"resid_post.{layer}"], logits=False)
    return out.cache[f"resid_post.{layer}"][:rows]


def _edited_inputs(hm, graph, batch: Batch, stream: Tensor, change: Tensor, weights: Tensor, edited: Tensor,
                   layer: int) -> dict[str, Callable]:
    """Run each distinct edited ``q``/``k``/``v`` input of the layer (one row each, to ``q/k/v.L``); returns the
    handlers writing them into the trunk's head slots, ``{site: handler}``."""
    rows, inputs = edited[:, :-1].nonzero(as_tuple=True)
    if not len(rows):
        return {}
    keys = torch.cat([rows[:, None].to(weights.dtype), weights[rows, :, inputs]], 1)
    _, which = torch.unique(keys, dim=0, return_inverse=True)  # rows with equal weights read equal inputs
    first = torch.zeros(int(which.max()) + 1, dtype=torch.long).scatter_reduce(
        0, which, torch.arange(len(rows)), "amin", include_self=False)
    copies = Batch(batch.input_ids[rows[first]], batch.attention_mask[rows[first]])
    own = stream[rows[first]] + change[rows[first], inputs[first]]  # [copies, P, d]
    sites = [f"{kind}.{layer}" for kind in ("q", "k", "v")]
    with torch.no_grad():
        cache = hm.run(copies, start_at=(f"resid_pre.{layer}", own), cache=sites, logits=False).cache
    slots = [graph.down_slot(layer * graph.per_layer_down + int(i)) for i in inputs]
    handlers = {}
    for kind, site in zip(("q", "k", "v"), sites):
        mine = torch.tensor([s[0] == kind for s in slots])
        if mine.any():
            heads = torch.tensor([s[1] for s in slots])[mine]
            handlers[site] = _write_heads(rows[mine], heads, cache[site][which[mine], :, heads])
    return handlers


def _write_heads(rows: Tensor, heads: Tensor, values: Tensor) -> Callable[[Tensor, object], Tensor]:
    """A handler writing ``values [n, P, d_head]`` into head ``heads[i]`` of row ``rows[i]``."""

    def edit(act: Tensor, ctx) -> Tensor:
        act = act.clone()
        act[rows.to(act.device), :, heads.to(act.device)] = values.to(act.device, act.dtype)
        return act

    return edit
