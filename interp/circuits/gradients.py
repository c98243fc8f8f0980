"""The gradient of a metric at every downstream input's own copy of the residual stream, from one plain
forward and backward (what EAP contracts with the upstream nodes' differences).

In the split model of :mod:`interp.circuits.split` each input (the ``q``, ``k`` or ``v`` of one head, one
MLP, the logits) reads its own copy of the stream; when no copy is edited, every copy holds the plain
model's value, so the gradient at a copy is a vector–Jacobian product of the plain run:

- ``q``/``k``/``v`` of head ``h`` at layer ``L``: the metric's gradient at ``q.L`` with every head but ``h``
  zeroed, pulled back to ``resid_pre.L`` through the layer's input norm and projection (the only path
  from ``resid_pre.L`` to ``q.L``); all heads of a kind in one batched backward;
- the MLP of layer ``L``: the gradient at ``mlp_out.L`` pulled back to the MLP's input, ``resid_mid.L``
  (``resid_pre.L`` with parallel blocks);
- the logits: the gradient at ``resid_post`` of the last layer.

So EAP costs one forward and backward of the plain model plus, per layer, the backward of its input
projections once per head (no forward ``K`` copies wide).

>>> import interp, torch
>>> from interp.circuits import Graph, Task
>>> from interp.circuits.gradients import input_gradients
>>> hm = interp.models.tiny("llama")
>>> graph = Graph.of(hm)
>>> batch = hm.tokenize(["The dog near the"])
>>> metric = lambda logits, pairs: logits[:, 5] - logits[:, 7]
>>> grads = input_gradients(hm, graph, batch, metric)
>>> len(grads), grads[0].shape == (graph.per_layer_down, 1, batch.width, hm.d_model)
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from interp.circuits.graph import KINDS, Graph
from interp.errors import InputError
from interp.graph.inputs import Batch


def gradient_sites(graph: Graph) -> list[str]:
    mlp_input = "resid_pre" if graph.parallel else "resid_mid"
    sites = [f"resid_post.{graph.n_layers - 1}"]
    for layer in range(graph.n_layers):
        sites += [f"resid_pre.{layer}", f"{mlp_input}.{layer}", f"mlp_out.{layer}", *(f"{k}.{layer}" for k in KINDS)]
    return list(dict.fromkeys(sites))


def per_head_pullback(act: Tensor, start: Tensor, grad: Tensor) -> Tensor:
    """``[heads, B, P, d]``: ``grad`` ``[B, P, heads, d_head]`` at ``act`` with one head kept at a time, pulled
    back to ``start`` ``[B, P, d]``."""
    heads = act.shape[2]
    eye = torch.eye(heads, dtype=grad.dtype, device=grad.device)
    cotangents = grad[None] * eye[:, None, None, :, None]  # [heads, B, P, heads, d_head]
    (pulled,) = torch.autograd.grad(act, start, cotangents, retain_graph=True, is_grads_batched=True)
    return pulled


def input_gradients(hm, graph: Graph, batch: Batch, metric: Callable[[Tensor, Tensor], Tensor],
                    edits: Sequence = (), steps: int = 1) -> list[Tensor]:
    """Per layer ``[per_layer_down, B, P, d]`` (its inputs in :class:`Graph` order), then the logits'
    ``[1, B, P, d]``: the gradient of ``metric(last_logits, pair).sum()`` at each input's copy of the stream.
    ``batch`` holds ``steps`` blocks of ``B`` rows (pair ``row % B``), run with ``edits``; gradients are the mean
    over the blocks."""
    rows = batch.size
    out = hm.run(batch, interventions=list(edits), cache=gradient_sites(graph), cache_grad=True, grad=True)
    cache = out.cache
    n = graph.n_layers
    reads = [cache[f"{k}.{layer}"] for layer in range(n) for k in (*KINDS, "mlp_out")]
    final = cache[f"resid_post.{n - 1}"]
    value = metric(out.last_logits, torch.arange(rows) % (rows // steps)).sum()
    grads = torch.autograd.grad(value, [*reads, final], retain_graph=True, allow_unused=True)
    if any(g is None for g in grads):
        raise InputError("the metric does not depend on the model's inputs (no gradient reached them)")
    mean = lambda g: g.reshape(g.shape[0], steps, rows // steps, *g.shape[2:]).mean(1)  # noqa: E731
    mlp_input = "resid_pre" if graph.parallel else "resid_mid"
    layers = []
    for layer in range(n):
        start = cache[f"resid_pre.{layer}"]
        parts = [per_head_pullback(reads[4 * layer + i], start, grads[4 * layer + i]) for i in range(3)]
        (mlp,) = torch.autograd.grad(reads[4 * layer + 3], cache[f"{mlp_input}.{layer}"], grads[4 * layer + 3],
                                     retain_graph=True)
        layers.append(mean(torch.cat([*parts, mlp[None]]).detach()))
    layers.append(mean(grads[-1][None].detach()))
    return layers
