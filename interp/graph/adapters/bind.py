"""Turn a :class:`~interp.graph.adapters.layout.Layout` into the site table of one model.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> table = build_bindings(hm.model, hm.layout, hm.config)
>>> list(table)[:3], table["embed"].module is table["resid_pre.0"].module
(['embed', 'resid_pre.0', 'q.0'], True)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from interp.graph.adapters.head_out import head_out_accessors
from interp.graph.adapters.layout import Dims, Layout, Router
from interp.graph.bindings import Binding, Reader, Writer, heads, residual_sum


def optional_module(root: nn.Module, path: str | None) -> nn.Module | None:
    """The submodule at ``path``, or None when the path is None or this module has none there."""
    if path is None:
        return None
    try:
        return root.get_submodule(path)
    except AttributeError:
        return None


def scaled(factor: float) -> tuple[Reader, Writer]:
    """A branch the model scales before adding it: ``raw * factor``; a write changes ``raw`` by the
    change divided by ``factor`` (so writing back the value read leaves ``raw`` bit for bit)."""

    def read(raw: Tensor, state: dict) -> Tensor:
        return raw * factor

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        return raw + (new - raw * factor) / factor

    return read, write


def copied() -> tuple[Reader, Writer]:
    """A module output the model later changes in place (Falcon's ``mlp_output += attention_output``):
    read as a copy (a cached value keeps what the module returned), written as a copy (a patch's
    source is left alone)."""

    def read(raw: Tensor, state: dict) -> Tensor:
        return raw.clone()

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        return new.clone()

    return read, write


def rows_to_positions(resid_key: str) -> tuple[Reader, Writer]:
    """A module run on ``[batch * pos, width]`` rows (OPT's MLP): read as ``[batch, pos, width]`` (the
    layer's ``resid_pre`` in ``state`` gives batch and pos), written back as rows."""

    def read(raw: Tensor, state: dict) -> Tensor:
        return raw.unflatten(0, state[resid_key].shape[:2])

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        return new.flatten(0, 1)

    return read, write


def router_probabilities(router: Router, resid_key: str) -> Reader:
    """``[batch, pos, n_experts]`` expert probabilities from router logits ``[batch * pos, n_experts]``
    (the layer's ``resid_pre`` in ``state`` gives batch and pos)."""

    def read(raw: Tensor, state: dict) -> Tensor:
        logits = raw.float()
        probabilities = logits.sigmoid() if router.probabilities == "sigmoid" else logits.softmax(-1)
        return probabilities.reshape(*state[resid_key].shape[:2], -1)

    return read


def _head_bindings(layout: Layout, layer: nn.Module, index: int, dims: Dims, factor: float | None = None,
                   ) -> list[Binding]:
    fused = layout.fused
    if fused is None:
        widths = (dims.n_heads, dims.n_kv_heads, dims.n_kv_heads)
        table = [
            Binding(f"{kind}.{index}", layer.get_submodule(path), "output", *heads(n, dims.d_head), layer=index)
            for kind, path, n in zip("qkv", layout.qkv, widths)
        ]
    else:
        module = layer.get_submodule(layout.qkv[0])
        table = [Binding(f"{kind}.{index}", module, "output", *fused.accessors(kind, dims), layer=index)
                 for kind in "qkv"]
    if layout.attn_out_proj is not None:
        projection = layer.get_submodule(layout.attn_out_proj)
        table.append(Binding(f"z.{index}", projection, "input", *heads(dims.n_heads, dims.d_head), layer=index))
        table.append(Binding(f"head_out.{index}", projection, "output",  # interp.graph.adapters.head_out
                             *head_out_accessors(projection, index, dims, factor), layer=index, needs=(f"z.{index}",)))
    return table


def _branch(kind: str, module: nn.Module, index: int, factor: float | None, layout: Layout | None = None,
            io: str = "output") -> Binding:
    """The site ``kind.index`` at ``module``'s output (or input), through the layout's transforms, raw
    first: a copy (``copied``), rows to positions (``flat_mlp``), the residual multiplier."""
    resid_pre = f"resid_pre.{index}"
    flat = layout is not None and layout.flat_mlp and kind in ("mlp_post", "mlp_out")
    steps = []
    if layout is not None and kind in layout.copied:
        steps.append(copied())
    if flat:
        steps.append(rows_to_positions(resid_pre))
    if factor is not None:
        steps.append(scaled(factor))
    if not steps:
        return Binding(f"{kind}.{index}", module, io, layer=index)
    read, write = steps[0]
    for outer_read, outer_write in steps[1:]:
        read, write = _composed_read(read, outer_read), _composed_write(read, write, outer_write)
    return Binding(f"{kind}.{index}", module, io, read, write, layer=index, needs=(resid_pre,) if flat else ())


def layer_bindings(layout: Layout, layer: nn.Module, index: int, dims: Dims, config: Any) -> list[Binding]:
    """The sites of decoder layer ``index``, in execution order."""
    factor = getattr(config, layout.residual_multiplier) if layout.residual_multiplier else None
    resid_pre = f"resid_pre.{index}"
    table = [Binding(resid_pre, layer, "input", layer=index)]
    if layout.mixer is not None:
        table.append(_branch("mixer_out", layer.get_submodule(layout.mixer), index, factor, layout))
        return [*table, Binding(f"resid_post.{index}", layer, "output", layer=index)]
    attn = layer.get_submodule(layout.attn)
    attn_out = _branch("attn_out", layer.get_submodule(layout.attn_out or layout.attn), index, factor, layout)
    table += _head_bindings(layout, layer, index, dims, factor)
    table += [Binding(f"pattern.{index}", attn, "output", element=1, write=None, layer=index), attn_out]
    if not layout.parallel_residual(config):
        read, write = residual_sum(resid_pre)
        if factor is not None:
            scale_read, scale_write = scaled(factor)
            read = _composed_read(scale_read, read)
            write = _composed_write(scale_read, scale_write, write)
        table.append(Binding(f"resid_mid.{index}", attn_out.module, "output", read, write, layer=index,
                             needs=(resid_pre,)))
    router = optional_module(layer, layout.router.path) if layout.router else None
    if router is not None:
        table.append(Binding(f"router.{index}", router, "output", router_probabilities(layout.router, resid_pre),
                             write=None, element=layout.router.element, layer=index, needs=(resid_pre,)))
    down = optional_module(layer, layout.mlp_down)
    if down is not None:
        table.append(_branch("mlp_post", down, index, None, layout, io="input"))
    table += [
        _branch("mlp_out", layer.get_submodule(layout.mlp_out or layout.mlp), index, factor, layout),
        Binding(f"resid_post.{index}", layer, "output", layer=index),
    ]
    return table


def _composed_read(inner: Reader, outer: Reader) -> Reader:
    return lambda raw, state: outer(inner(raw, state), state)


def _composed_write(inner_read: Reader, inner_write: Writer, outer_write: Writer) -> Writer:
    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        branch = inner_read(raw, state)
        return inner_write(raw, outer_write(branch, new, state), state)

    return write


def logits_module(model: nn.Module, layout: Layout, config: Any) -> nn.Module | None:
    """The module whose output (element 0) is the ``logits`` site, or None on a model without a head.

    A causal LM: its output embedding (``lm_head``), or the model itself when its head adjusts the
    unembedding's output (soft-capping, logit scales: then ``logits`` is the model's output logits).
    Another head (``*ForSequenceClassification``'s ``score``): that head's output, per position
    ``[batch, pos, n_labels]`` (the model's own output keeps only each row's last token).
    """
    base = optional_module(model, layout.root) if layout.root else model
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if head is None and layout.root:
        head = optional_module(model, layout.unembed)
    if head is not None:
        return model if layout.adjusts_logits(config) else head
    if base is model:
        return None
    others = [child for child in model.children() if child is not base and isinstance(child, nn.Linear)]
    return others[0] if len(others) == 1 else None


def build_bindings(model: nn.Module, layout: Layout, config) -> dict[str, Binding]:
    """Every canonical site of ``model``, in execution order (``layout`` with paths seen from ``model``)."""
    dims = layout.dims(config)
    layers = model.get_submodule(layout.layers)
    table: list[Binding] = [Binding("embed", layers[0], "input")]
    for index, layer in enumerate(layers):
        table += layer_bindings(layout, layer, index, dims, config)
    head = logits_module(model, layout, config)
    if head is not None:
        table.append(Binding("logits", head, "output"))
    for order, binding in enumerate(table):
        binding.order = order
    return {binding.name: binding for binding in table}


__all__ = ["build_bindings", "copied", "layer_bindings", "logits_module", "optional_module", "router_probabilities",
           "rows_to_positions", "scaled"]
