"""Per-architecture adapters: which module holds which canonical site."""

from interp.graph.adapters.families import LAYOUTS
from interp.graph.adapters.layout import Dims, Layout, build_bindings

__all__ = ["LAYOUTS", "Dims", "Layout", "build_bindings", "layout_for"]


def layout_for(model) -> Layout | None:
    """The layout of a Hugging Face model, or None when interp has no table for its family."""
    config = getattr(model, "config", None)
    return LAYOUTS.get(getattr(config, "model_type", None))
