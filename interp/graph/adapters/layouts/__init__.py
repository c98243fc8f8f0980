"""Every family's layout, collected from the modules of this package.

Each module ``<family>.py`` defines ``LAYOUTS: dict[str, Layout]`` keyed by ``config.model_type``;
this package merges them (a model type defined twice is an error at import). Adding a family is
adding a module here (see :mod:`interp.graph.adapters.layout`) and its tiny config.

>>> from interp.graph.adapters.layouts import LAYOUTS
>>> LAYOUTS["mistral"].family, "gpt2" in LAYOUTS
('Llama', True)
"""

from __future__ import annotations

import importlib
import pkgutil

from interp.graph.adapters.layout import Layout


def collect() -> dict[str, Layout]:
    """``{model_type: Layout}`` from every module of this package, in module-name order."""
    layouts: dict[str, Layout] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for model_type, layout in getattr(module, "LAYOUTS", {}).items():
            if model_type in layouts:
                raise ImportError(f"model type {model_type!r} has two layouts ({info.name} and an earlier module)")
            layouts[model_type] = layout
    return layouts


LAYOUTS: dict[str, Layout] = collect()

__all__ = ["LAYOUTS", "collect"]
