"""Per-architecture adapters: which module holds which canonical site.

A family's adapter is a :class:`Layout` (data, one module per family under
:mod:`interp.graph.adapters.layouts`); :func:`layout_for` finds a model's layout by its
``config.model_type``, then by the classes it derives from (a Llama subclass with its own
``model_type``), then by its structure; :func:`build_bindings` turns it into sites and
:func:`verify_layout` checks them on the model.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> layout_for(hm.model).family, layout_for(hm.model).layers
('Llama', 'model.layers')
>>> layout_for(hm.model.model).layers               # the base model without its head
'layers'
"""

from __future__ import annotations

import warnings

from torch import nn

from interp.errors import NoLayoutWarning
from interp.graph.adapters.bind import build_bindings, optional_module
from interp.graph.adapters.fused_qkv import FusedQKV
from interp.graph.adapters.layout import Dims, Layout, Router
from interp.graph.adapters.layouts import LAYOUTS
from interp.graph.adapters.verify import verify_layout

__all__ = ["LAYOUTS", "Dims", "FusedQKV", "Layout", "Router", "base_prefix", "build_bindings", "layout_for",
           "verify_layout", "warn_no_layout"]


def base_prefix(model: nn.Module) -> str:
    """The path of ``model.base_model`` inside ``model`` (``""`` when the model is its own base)."""
    base = getattr(model, "base_model", model)
    if base is model:
        return ""
    return next((name for name, module in model.named_modules() if module is base), "")


def _declared_type(model: nn.Module) -> str | None:
    """A model type with a layout among the classes ``model`` and its config derive from."""
    config = getattr(model, "config", None)
    classes = [*type(model).__mro__, *(type(config).__mro__ if config is not None else ())]
    for cls in classes:
        model_type = getattr(getattr(cls, "config_class", None), "model_type", None) or getattr(cls, "model_type", None)
        if isinstance(model_type, str) and model_type in LAYOUTS:
            return model_type
    return None


def _fits(model: nn.Module, layout: Layout) -> bool:
    """Whether every path ``layout`` names exists in ``model`` and its sites add up."""
    layers = optional_module(model, layout.layers)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return False
    layer = layers[0]
    paths = [*layout.qkv, layout.attn, layout.attn_out_proj, layout.attn_out, layout.mlp, layout.mlp_out, layout.mixer]
    if any(path is not None and optional_module(layer, path) is None for path in paths):
        return False
    try:
        verify_layout(model, layout, build_bindings(model, layout, model.config), model.config)
    except Exception:  # noqa: BLE001 - any failure means "not this layout"
        return False
    return True


def layout_for(model: nn.Module) -> Layout | None:
    """The layout of a Hugging Face model with paths seen from ``model``, or None when no table fits."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    prefix = base_prefix(model)
    model_type = getattr(config, "model_type", None)
    if model_type not in LAYOUTS:
        model_type = _declared_type(model)
    if model_type is not None:
        return None if LAYOUTS[model_type].unsupported(config) else LAYOUTS[model_type].under(prefix)
    unique = {id(layout): layout for layout in LAYOUTS.values()}.values()
    for layout in sorted(unique, key=lambda layout: -_specificity(layout)):
        if _fits(model, layout.under(prefix)):
            return layout.under(prefix)
    return None


def _specificity(layout: Layout) -> int:
    """How many paths a layout names: more specific tables are tried first when matching by structure."""
    fields = (layout.attn_out, layout.mlp_out, layout.router, layout.mixer, layout.residual_multiplier)
    return sum(field is not None for field in fields) + len(layout.logit_adjustments)


def _unsupported(model: nn.Module) -> str:
    """``": why"`` when the family has a table that does not describe this model's configuration, else ``""``."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in LAYOUTS:
        model_type = _declared_type(model)
    why = LAYOUTS[model_type].unsupported(config) if model_type is not None and config is not None else None
    return f": the {LAYOUTS[model_type].family} table does not describe this configuration ({why})" if why else ""


def warn_no_layout(model: nn.Module, stacklevel: int = 3) -> None:
    """Warn that a Hugging Face model has no layout, listing a few of its module-path sites."""
    names = [name for name, _ in model.named_modules() if name]
    layered = [name for name in names if ".0." in f"{name}." and name.count(".") <= 4]
    examples = (layered or names)[:6]
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    warnings.warn(
        f"interp has no layout for {type(model).__name__} (model_type {model_type!r}){_unsupported(model)}, so it "
        "has no canonical "
        f"sites (resid_post.L, z.L, ...); module paths work as sites, e.g. "
        f"{', '.join(repr(f'{name}:output') for name in examples)}. To add the family, see "
        "interp/graph/adapters/layout.py", NoLayoutWarning, stacklevel=stacklevel)
