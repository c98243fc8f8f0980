"""A per-family table of where each canonical site lives in a Hugging Face decoder model.

Adding a family means writing one :class:`Layout` (a dozen module paths) and registering it in
:mod:`interp.graph.adapters`; :func:`build_bindings` turns any layout into the site table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from interp.graph.bindings import Binding, chunk_of_heads, heads, residual_sum


@dataclass(frozen=True)
class Dims:
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int

    @classmethod
    def from_config(cls, config) -> Dims:
        n_heads = config.num_attention_heads
        d_model = config.hidden_size
        head_dim = getattr(config, "head_dim", None) or d_model // n_heads
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        return cls(config.num_hidden_layers, n_heads, n_kv, d_model, head_dim)


@dataclass(frozen=True)
class Layout:
    """Module paths of one family. Paths under ``layers`` are relative to one decoder layer.

    ``qkv`` is either three separate projections (``("self_attn.q_proj", ...)``) or one fused
    projection with ``qkv_fused`` saying how it is packed: ``"concat"`` (``[q | k | v]``, GPT-2)
    or ``"per_head"`` (``[h0: q k v | h1: q k v | ...]``, GPT-NeoX).
    """

    family: str
    embed: str  # module whose output is the residual stream entering layer 0
    layers: str  # the ModuleList of decoder layers
    attn: str  # returns (attn_out, pattern)
    attn_out_proj: str  # input: z (per-head attention output)
    mlp: str  # output: mlp_out
    mlp_down: str  # input: mlp_post (neurons)
    final_norm: str
    unembed: str
    qkv: tuple[str, ...]
    qkv_fused: str | None = None
    parallel_residual: Callable[[object], bool] = lambda config: False

    def module_paths(self) -> dict[str, str]:
        return {"embed": self.embed, "layers": self.layers, "final_norm": self.final_norm, "unembed": self.unembed}


def _qkv_bindings(layout: Layout, layer: nn.Module, index: int, dims: Dims) -> list[Binding]:
    if layout.qkv_fused is None:
        widths = (dims.n_heads, dims.n_kv_heads, dims.n_kv_heads)
        return [
            Binding(f"{kind}.{index}", layer.get_submodule(path), "output", *heads(n, dims.d_head), layer=index)
            for kind, path, n in zip("qkv", layout.qkv, widths)
        ]
    fused = layer.get_submodule(layout.qkv[0])
    per_head = layout.qkv_fused == "per_head"
    step = dims.d_head if per_head else dims.n_heads * dims.d_head
    return [
        Binding(
            f"{kind}.{index}", fused, "output",
            *chunk_of_heads(i * step, (i + 1) * step, dims.n_heads, dims.d_head, per_head), layer=index,
        )
        for i, kind in enumerate("qkv")
    ]


def build_bindings(model: nn.Module, layout: Layout, config) -> dict[str, Binding]:
    """Every canonical site of ``model``, in execution order."""
    dims = Dims.from_config(config)
    parallel = layout.parallel_residual(config)
    table: list[Binding] = [Binding("embed", model.get_submodule(layout.embed), "output")]
    for index, layer in enumerate(model.get_submodule(layout.layers)):
        attn = layer.get_submodule(layout.attn)
        table += [Binding(f"resid_pre.{index}", layer, "input", layer=index)]
        table += _qkv_bindings(layout, layer, index, dims)
        table += [
            Binding(f"z.{index}", layer.get_submodule(layout.attn_out_proj), "input",
                    *heads(dims.n_heads, dims.d_head), layer=index),
            Binding(f"attn_out.{index}", attn, "output", layer=index),
            Binding(f"pattern.{index}", attn, "output", element=1, write=None, layer=index),
        ]
        if not parallel:
            table += [Binding(f"resid_mid.{index}", attn, "output", *residual_sum(f"resid_pre.{index}"),
                              layer=index, needs=(f"resid_pre.{index}",))]
        table += [
            Binding(f"mlp_post.{index}", layer.get_submodule(layout.mlp_down), "input", layer=index),
            Binding(f"mlp_out.{index}", layer.get_submodule(layout.mlp), "output", layer=index),
            Binding(f"resid_post.{index}", layer, "output", layer=index),
        ]
    unembed = getattr(model, "get_output_embeddings", lambda: None)() or model.get_submodule(layout.unembed)
    table.append(Binding("logits", unembed, "output"))
    for order, binding in enumerate(table):
        binding.order = order
    return {binding.name: binding for binding in table}
