"""Canonical sites on TransformerLens models: ``TransformerBridge`` (TL 3/4) and ``HookedTransformer``.

A TransformerLens forward runs TransformerLens's own components, not the Hugging Face modules it
was loaded from (the bridge re-implements attention, so hooks on ``GPT2Attention`` would never
fire). Every canonical site is therefore bound to the TransformerLens ``HookPoint`` that carries
the same tensor; both generations of TransformerLens use the same hook names (the bridge resolves
them as aliases), so one table serves both:

=============  ===================================  ==========================================
site           TransformerLens hook                 note
=============  ===================================  ==========================================
embed          ``blocks.0.hook_resid_pre``          residual stream entering layer 0
resid_pre.L    ``blocks.L.hook_resid_pre``
q/k/v.L        ``blocks.L.attn.hook_q/k/v``         ``batch × pos × head × d_head``, pre-rotary
pattern.L      ``blocks.L.attn.hook_pattern``       read-only
z.L            ``blocks.L.attn.hook_z``             input of the output projection
attn_out.L     ``blocks.L.hook_attn_out``
resid_mid.L    ``blocks.L.hook_resid_mid``          absent with parallel attention + MLP
mlp_post.L     ``blocks.L.mlp.hook_post``           the neurons
mlp_out.L      ``blocks.L.hook_mlp_out``
resid_post.L   ``blocks.L.hook_resid_post``
logits         ``unembed.hook_out`` (or ``unembed``)
=============  ===================================  ==========================================

On a bridge in its default mode the values equal the Hugging Face model's (up to the float
rounding of its eager attention); after ``enable_compatibility_mode()`` they are
HookedTransformer's processed-weight values (folded layer norms, centred residual stream).

>>> import copy, interp                                  # doctest: +SKIP
>>> bridge = bridge_from_hf(copy.deepcopy(interp.models.tiny("gpt2").model))   # doctest: +SKIP
>>> hm = interp.wrap(bridge, tokenizer)                  # doctest: +SKIP
>>> hm.run("The keys", cache=["z.0"]).cache["z.0"].shape # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from torch import nn

from interp.errors import InputError
from interp.graph.adapters import LAYOUTS, Dims, base_prefix
from interp.graph.adapters.head_out import head_out_accessors
from interp.graph.bindings import Binding, Reader, Writer
from interp.graph.hooked_model import HookedModel
from interp.graph.inputs import Batch

# (canonical kind, TransformerLens hook name), in the order the hooks fire inside one block.
LAYER_HOOKS: tuple[tuple[str, str], ...] = (
    ("resid_pre", "blocks.{}.hook_resid_pre"),
    ("q", "blocks.{}.attn.hook_q"),
    ("k", "blocks.{}.attn.hook_k"),
    ("v", "blocks.{}.attn.hook_v"),
    ("pattern", "blocks.{}.attn.hook_pattern"),
    ("z", "blocks.{}.attn.hook_z"),
    ("attn_out", "blocks.{}.hook_attn_out"),
    ("resid_mid", "blocks.{}.hook_resid_mid"),
    ("mlp_post", "blocks.{}.mlp.hook_post"),
    ("mlp_out", "blocks.{}.hook_mlp_out"),
    ("resid_post", "blocks.{}.hook_resid_post"),
)


def is_transformer_lens(model: Any) -> bool:
    """True for any TransformerLens model class (or a subclass of one)."""
    return any(cls.__module__.split(".")[0] == "transformer_lens" for cls in type(model).__mro__)


def is_bridge(model: Any) -> bool:
    return any(cls.__name__ == "TransformerBridge" for cls in type(model).__mro__)


def bridged_hf_model(model: nn.Module) -> bool:
    """True when a TransformerBridge has replaced submodules of this Hugging Face model in place."""
    return any(type(m).__module__.startswith("transformer_lens.model_bridge") for m in model.modules())


def bridge_from_hf(model: nn.Module, tokenizer: Any = None):
    """A ``TransformerBridge`` over an already-loaded Hugging Face model, with no download.

    The bridge *replaces the model's submodules in place*; pass a copy
    (``copy.deepcopy(model)``) if you still want to use the model on its own.
    ``tokenizer`` is handed to the bridge (it needs a hub-loadable one); interp does not need it.
    """
    from transformer_lens.model_bridge.sources._bridge_builder import build_bridge_from_module
    from transformer_lens.model_bridge.sources._hf_format import determine_architecture_from_hf_config

    config = copy.deepcopy(model.config)
    architecture = determine_architecture_from_hf_config(config)
    return build_bridge_from_module(
        model, architecture, hf_config=config, tokenizer=tokenizer,
        model_name=getattr(config, "name_or_path", None) or "external",
    )


def _hook(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _conversion(hook_point: nn.Module) -> tuple[Reader, Writer]:
    """The HookPoint's own tensor conversion, if any (bridge ``hook_q`` is flat until converted)."""
    conversion = getattr(hook_point, "hook_conversion", None)
    if conversion is None:
        return (lambda raw, state: raw), (lambda raw, new, state: new)
    return (lambda raw, state: conversion.convert(raw)), (lambda raw, new, state: conversion.revert(new))


def tl_dims(cfg: Any) -> Dims:
    """Layer and head dimensions from a TransformerLens config."""
    n_kv = getattr(cfg, "n_key_value_heads", None) or cfg.n_heads
    return Dims(cfg.n_layers, cfg.n_heads, n_kv, cfg.d_model, cfg.d_head)


def _head_out(model: nn.Module, attn_out_hook: nn.Module, layer: int) -> Binding:
    """``head_out.layer`` on ``hook_attn_out`` (which adds the heads' outputs and ``b_O``), from ``hook_z``
    and the block's ``W_O`` ``[head, d_head, d_model]`` (read at each forward: the live weights)."""
    attention = model.blocks[layer].attn
    read, write = head_out_accessors(lambda: attention.W_O, layer, None, None)
    return Binding(f"head_out.{layer}", attn_out_hook, "output", read, write, layer=layer, needs=(f"z.{layer}",))


def tl_bindings(model: nn.Module, n_layers: int, parallel: bool = False) -> dict[str, Binding]:
    """Every canonical site of a TransformerLens model, bound to its HookPoints, in firing order."""
    table: list[Binding] = []
    first = _hook(model, "blocks.0.hook_resid_pre")
    if first is not None:
        table.append(Binding("embed", first, "output"))
    for layer in range(n_layers):
        for kind, template in LAYER_HOOKS:
            if kind == "resid_mid" and parallel:
                continue  # the hook point exists on HookedTransformer but never fires
            module = _hook(model, template.format(layer))
            if module is not None:
                if kind == "attn_out" and f"z.{layer}" in {binding.name for binding in table}:
                    table.append(_head_out(model, module, layer))
                read, write = _conversion(module)
                write = None if kind == "pattern" else write
                table.append(Binding(f"{kind}.{layer}", module, "output", read, write, layer=layer))
    unembed = _hook(model, "unembed.hook_out") or _hook(model, "unembed")
    if unembed is not None:
        table.append(Binding("logits", unembed, "output"))
    for order, binding in enumerate(table):
        binding.order = order
    return {binding.name: binding for binding in table}


def _call_bridge(model: nn.Module, inputs: Batch | Any) -> Any:
    if not isinstance(inputs, Batch):
        return model(inputs)
    device = next(model.parameters()).device
    kwargs = inputs.model_kwargs(device)  # input_ids, attention_mask, position_ids when left-padded
    return model(kwargs.pop("input_ids"), **kwargs)


def _call_hooked_transformer(model: nn.Module, inputs: Batch | Any) -> Any:
    if not isinstance(inputs, Batch):
        return model(inputs)
    device = next(model.parameters()).device
    # HookedTransformer derives left-padding positions from the mask itself.
    return model(inputs.input_ids.to(device), attention_mask=inputs.attention_mask.to(device))


def wrap_transformer_lens(model: nn.Module, tokenizer: Any = None, *, name: str | None = None) -> HookedModel:
    """A :class:`HookedModel` whose sites are the HookPoints of a TransformerLens model.

    ``hm.model`` is the TransformerLens model itself; runs call its forward with token ids and the
    attention mask (plus position ids for left padding on a bridge).
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "cfg"):
        raise InputError(
            f"interp.wrap supports TransformerLens models that run in this process (TransformerBridge, "
            f"HookedTransformer); got {type(model).__name__}"
        )
    cfg = model.cfg
    tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    tl_name = getattr(cfg, "model_name", None)
    if tl_name in (None, "", "external") and is_bridge(model):
        tl_name = getattr(model.original_model.config, "name_or_path", None)
    name = name or tl_name or type(model).__name__
    parallel = bool(getattr(cfg, "parallel_attn_mlp", False))
    bindings = tl_bindings(model, cfg.n_layers, parallel)
    if is_bridge(model):
        # The bridge runs the Hugging Face module tree (with its components swapped in), so the HF
        # layout's layer list still drives ``start_at``; its config gives the dimensions.
        hf_config = model.original_model.config
        layout = LAYOUTS.get(getattr(hf_config, "model_type", None))
        if layout is not None:
            layout = layout.under(base_prefix(model.original_model)).under("original_model")
            layout = dataclasses.replace(layout, family=f"{layout.family} (TransformerBridge)")
        hm = HookedModel(model, tokenizer, layout=layout, bindings=bindings, call=_call_bridge, name=name)
        if layout is None:
            hm.dims = tl_dims(cfg)
        return hm
    hm = HookedModel(model, tokenizer, bindings=bindings, call=_call_hooked_transformer, name=name)
    hm.dims = tl_dims(cfg)
    hm.config = _AlwaysEager(cfg)
    return hm


class _AlwaysEager:
    """A TransformerLens config seen through interp: attention patterns are always computed."""

    _attn_implementation = "eager"

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cfg, name)
