"""One forward in which every downstream input reads its own copy of the residual stream.

A head's ``q``, ``k`` and ``v`` and an MLP all read the same residual stream in the model. To give
each of them its own input (its own edited value when a circuit's complement is ablated), the batch
is repeated into ``K`` *channels*: channel 0 (the trunk) runs the model; at each layer the other
channels start from the trunk's residual stream plus their own change, and each downstream input takes
its ``q``/``k``/``v`` head or MLP output from the channel that :class:`Plan` assigns it (the trunk by
default). So one forward of ``K × rows`` examples computes a model whose downstream inputs are
edited independently, every other value as in the plain model.

The change of a channel at layer ``L`` is ``Σ_u w[c, r, u] (source_u − current_u)`` over the upstream
nodes ``u`` before it (:mod:`interp.circuits.nodes`): with ``w`` one for the edges a plan ablates,
the input reads each ablated upstream node's source (corrupted or mean) value instead of its current one.
Ablating everything outside a circuit (:func:`interp.circuits.patching.ablate_outside`) runs here; EAP's
gradients (:mod:`interp.circuits.gradients`) and single-edge patching (:mod:`interp.circuits.resumed`)
compute the same model's values without the ``K``-wide forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from interp.circuits.graph import Graph
from interp.circuits.nodes import NodeOutputs
from interp.graph.inputs import Batch
from interp.interventions import Apply


@dataclass
class Plan:
    """``channels``: K; ``channel_of [rows, n_downstream]`` long: the channel supplying each input in each
    row (0 = trunk); ``weights``: per layer (and one more for the logits) ``[K, rows, n_upstream]`` float
    or None: which upstream nodes the input a channel supplies there reads from the source."""

    channels: int
    channel_of: Tensor
    weights: list[Tensor | None] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.channel_of.shape[0]


def all_channels(graph: Graph, rows: int) -> Plan:
    """Every downstream input of a layer in its own channel (1 + its slot), the logits in the last."""
    slots = torch.tensor([1 + (d % graph.per_layer_down) for d in range(graph.n_downstream)])
    slots[graph.logits_down] = graph.per_layer_down + 1
    return Plan(graph.per_layer_down + 2, slots.expand(rows, -1).clone(), [None] * (graph.n_layers + 1))


def ablation_weights(graph: Graph, plan: Plan, ablated: Tensor) -> list[Tensor | None]:
    """``ablated [rows, n_upstream, n_downstream]`` bool (edges to ablate per row) -> ``plan.weights``."""
    rows = torch.arange(plan.rows)
    weights: list[Tensor | None] = []
    for layer in range(graph.n_layers + 1):
        downs = ([graph.logits_down] if layer == graph.n_layers else
                 range(layer * graph.per_layer_down, (layer + 1) * graph.per_layer_down))
        w = torch.zeros(plan.channels, plan.rows, graph.n_upstream)
        for d in downs:
            channel = plan.channel_of[:, d]
            w[channel, rows] += ablated[:, :, d].float()
        weights.append(w if w.any() else None)
    return weights


@dataclass
class SplitRun:
    """The state of one split forward: the source node outputs and the differences computed so far."""

    hm: object
    graph: Graph
    plan: Plan
    blocks: list[Tensor]
    source: NodeOutputs | None = None
    diffs: list = field(default_factory=list)  # [rows, P, d] per upstream node computed so far (when ablating)

    def interventions(self) -> list[Apply]:
        n = self.graph.n_layers
        out = []
        for layer in range(n):
            out.append(Apply(f"resid_pre.{layer}", lambda act, ctx, layer=layer: self._inputs(act, layer)))
            for kind in ("q", "k", "v"):
                out.append(Apply(f"{kind}.{layer}", lambda act, ctx, layer=layer, kind=kind: self._heads(act, layer,
                                                                                                          kind)))
            out.append(Apply(f"z.{layer}", lambda act, ctx, layer=layer: self._z(act, layer)))
            if not self.graph.parallel:
                out.append(Apply(f"attn_out.{layer}", lambda act, ctx, layer=layer: self._same_layer(act, layer)))
            out.append(Apply(f"mlp_out.{layer}", lambda act, ctx, layer=layer: self._mlp(act, layer)))
        out.append(Apply(f"resid_post.{n - 1}", lambda act, ctx: self._inputs(act, n)))
        return out

    # ------------------------------------------------------------------ helpers
    def _split(self, act: Tensor) -> Tensor:
        return act.reshape(self.plan.channels, self.plan.rows, *act.shape[1:])

    def _merge(self, act: Tensor) -> Tensor:
        return act.reshape(self.plan.channels * self.plan.rows, *act.shape[2:])

    def _broadcast(self, value: Tensor) -> Tensor:
        return value.unsqueeze(0).expand(self.plan.channels, *value.shape).reshape(-1, *value.shape[1:])

    def _pick(self, act: Tensor, downs: list[int]) -> Tensor:
        """``act [K*rows, P, n, ...]``: slot ``i`` of each row taken from the channel supplying ``downs[i]``."""
        split = self._split(act).movedim(3, 2)  # [K, rows, n, P, ...]
        index = self.plan.channel_of[:, downs].to(act.device)  # [rows, n]
        index = index.reshape(1, *index.shape, *([1] * (split.ndim - 3))).expand(1, *split.shape[1:])
        return split.gather(0, index)[0].movedim(1, 2)

    # ------------------------------------------------------------------ hooks
    def _inputs(self, act: Tensor, layer: int) -> Tensor:
        trunk = self._split(act)[0]
        if layer == 0 and self.source is not None:
            self.diffs = [self.source.embed - trunk]
        inputs = trunk.unsqueeze(0).repeat(self.plan.channels, *([1] * trunk.ndim))
        weights = self.plan.weights[layer] if self.source is not None else None
        if weights is not None:
            upstream = self.graph.upstream_of_layer(layer)
            w = weights[:, :, :upstream].to(act.device, act.dtype)
            inputs = inputs + torch.einsum("cru,urpd->crpd", w, torch.stack(self.diffs[:upstream]))
        return self._merge(inputs)

    def _heads(self, act: Tensor, layer: int, kind: str) -> Tensor:
        n = act.shape[2]
        downs = [self.graph.down_index(layer, kind, h) for h in range(n)]
        return self._broadcast(self._pick(act, downs))

    def _z(self, act: Tensor, layer: int) -> Tensor | None:
        if self.source is not None:
            trunk = self._split(act)[0]
            block = self.blocks[layer].to(act.dtype)
            delta = torch.einsum("rphk,hkd->hrpd", self.source.z[layer] - trunk, block)
            self.diffs.extend(delta.unbind(0))
        return act

    def _same_layer(self, act: Tensor, layer: int) -> Tensor | None:
        weights = self.plan.weights[layer] if self.source is not None else None
        if weights is None:
            return None
        heads = [self.graph.head_up(layer, h) for h in range(self.graph.n_heads)]
        w = weights[:, :, heads].to(act.device, act.dtype)
        if not w.any():
            return None
        delta = torch.einsum("crh,hrpd->crpd", w, torch.stack(self.diffs[heads[0]:heads[-1] + 1]))
        return self._merge(self._split(act) + delta)

    def _mlp(self, act: Tensor, layer: int) -> Tensor:
        value = self._pick(act.unsqueeze(2), [self.graph.down_index(layer, "mlp")])[:, :, 0]
        if self.source is not None:
            self.diffs.append(self.source.mlp[layer] - value)
        return self._broadcast(value)


def repeat_batch(batch: Batch, times: int) -> Batch:
    """``batch`` repeated ``times`` (channel-major: row ``c * size + r``)."""
    return Batch(batch.input_ids.repeat(times, 1), batch.attention_mask.repeat(times, 1))


def split_forward(hm, split: SplitRun, batch: Batch) -> Tensor:
    """Run ``batch`` (``plan.rows`` examples) split into channels; returns the logits input channel's
    last-token logits ``[rows, vocab]``."""
    out = hm.run(repeat_batch(batch, split.plan.channels), interventions=split.interventions())
    rows = torch.arange(split.plan.rows)
    channel = split.plan.channel_of[:, split.graph.logits_down]
    index = (channel * split.plan.rows + rows).to(out.logits.device)
    last = batch.last_index.to(out.logits.device)
    return out.logits[index, last]
