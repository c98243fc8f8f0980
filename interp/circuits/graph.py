"""The computational graph of a model as nodes and edges (the graph EAP scores and circuits cut).

Upstream nodes (what writes into the residual stream): ``input`` (the embedding, ``embed``), every
attention head ``a{L}.h{H}`` (its ``z`` through its slice of the output projection) and every MLP
``m{L}``. Downstream inputs (what reads the residual stream): the ``q``, ``k`` and ``v`` input of
every head (``k``/``v`` per key/value head under grouped-query attention: ``a{L}.h{G}<k>``), the
input of every MLP and the ``logits``. An edge joins an upstream node to every downstream input
after it: layers below, and the heads of the same layer into its MLP (not with parallel blocks,
where the MLP reads ``resid_pre`` beside the attention).

>>> import interp
>>> from interp.circuits import Graph
>>> graph = Graph.of(interp.models.tiny("llama"))
>>> graph.n_upstream, graph.n_downstream, graph.n_edges
(11, 19, 82)
>>> graph.edge_name(graph.edges[0])
'input->a0.h0<q>'
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp.errors import SiteError

KINDS = ("q", "k", "v")


@dataclass(frozen=True)
class Graph:
    """Nodes and edges of one model's graph; scores and circuits are ``[n_upstream, n_downstream]`` tensors."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    parallel: bool

    @classmethod
    def of(cls, hm) -> Graph:
        """The graph of ``hm`` (a model with canonical ``z``, ``q``/``k``/``v`` and ``mlp_out`` sites)."""
        if hm.layout is None or not hm.sites("z"):
            raise SiteError(f"{hm.family} has no attention-head sites (z.L), so it has no circuit graph of heads "
                            "and MLPs; circuits need a family with canonical sites (docs/families.md)")
        parallel = bool(hm.layout.parallel_residual(hm.config))
        return cls(hm.n_layers, hm.n_heads, hm.n_kv_heads, parallel)

    # ------------------------------------------------------------------ upstream nodes
    @property
    def per_layer_up(self) -> int:
        return self.n_heads + 1

    @property
    def n_upstream(self) -> int:
        return 1 + self.n_layers * self.per_layer_up

    def head_up(self, layer: int, head: int) -> int:
        return 1 + layer * self.per_layer_up + head

    def mlp_up(self, layer: int) -> int:
        return 1 + layer * self.per_layer_up + self.n_heads

    def up_layer(self, index: int) -> int:
        """The layer of an upstream node (-1 for the input)."""
        return -1 if index == 0 else (index - 1) // self.per_layer_up

    def up_name(self, index: int) -> str:
        if index == 0:
            return "input"
        layer, slot = divmod(index - 1, self.per_layer_up)
        return f"m{layer}" if slot == self.n_heads else f"a{layer}.h{slot}"

    # ------------------------------------------------------------------ downstream inputs
    @property
    def per_layer_down(self) -> int:
        """q of each head, k and v of each key/value head, the MLP."""
        return self.n_heads + 2 * self.n_kv_heads + 1

    @property
    def n_downstream(self) -> int:
        return self.n_layers * self.per_layer_down + 1

    @property
    def logits_down(self) -> int:
        return self.n_downstream - 1

    def down_index(self, layer: int, kind: str, head: int = 0) -> int:
        """``kind``: ``"q"``, ``"k"``, ``"v"`` (with ``head``), ``"mlp"`` or ``"logits"``."""
        if kind == "logits":
            return self.logits_down
        start = layer * self.per_layer_down
        offsets = {"q": 0, "k": self.n_heads, "v": self.n_heads + self.n_kv_heads,
                   "mlp": self.n_heads + 2 * self.n_kv_heads}
        return start + offsets[kind] + head

    def down_layer(self, index: int) -> int:
        return self.n_layers if index == self.logits_down else index // self.per_layer_down

    def down_slot(self, index: int) -> tuple[str, int]:
        """``(kind, head)`` of a downstream input."""
        if index == self.logits_down:
            return "logits", 0
        slot = index % self.per_layer_down
        h, g = self.n_heads, self.n_kv_heads
        if slot < h:
            return "q", slot
        if slot < h + g:
            return "k", slot - h
        if slot < h + 2 * g:
            return "v", slot - h - g
        return "mlp", 0

    def down_name(self, index: int) -> str:
        kind, head = self.down_slot(index)
        layer = self.down_layer(index)
        return {"logits": "logits", "mlp": f"m{layer}"}.get(kind, f"a{layer}.h{head}<{kind}>")

    # ------------------------------------------------------------------ edges
    def feeds(self, up: int, down: int) -> bool:
        """Whether upstream node ``up`` is before downstream input ``down``."""
        up_layer, down_layer = self.up_layer(up), self.down_layer(down)
        if up_layer < down_layer:
            return True
        same_layer_mlp = up_layer == down_layer and self.down_slot(down)[0] == "mlp"
        return same_layer_mlp and not self.parallel and up != self.mlp_up(up_layer)

    @property
    def mask(self) -> Tensor:
        """``[n_upstream, n_downstream]`` bool: which pairs are edges."""
        up_layer = torch.tensor([self.up_layer(u) for u in range(self.n_upstream)])
        down_layer = torch.tensor([self.down_layer(d) for d in range(self.n_downstream)])
        mask = up_layer[:, None] < down_layer[None, :]
        if not self.parallel:
            for layer in range(self.n_layers):
                heads = [self.head_up(layer, h) for h in range(self.n_heads)]
                mask[heads, self.down_index(layer, "mlp")] = True
        return mask

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Every edge ``(up, down)``, ordered by downstream input, then upstream node."""
        return [(int(u), int(d)) for d, u in self.mask.T.nonzero().tolist()]

    @property
    def n_edges(self) -> int:
        return int(self.mask.sum())

    def edge_name(self, edge: tuple[int, int]) -> str:
        return f"{self.up_name(edge[0])}->{self.down_name(edge[1])}"

    def upstream_of_layer(self, layer: int) -> int:
        """How many upstream nodes come before layer ``layer``'s attention (the input and all earlier layers)."""
        return 1 + layer * self.per_layer_up
