"""Canonical sites on nnsight models (``LanguageModel``, ``TransformersModel``, ``NNsight``).

nnsight keeps the model it wraps intact as a PyTorch module (``envoy._module``): its per-module
controllers are inert outside a ``trace``, and plain PyTorch hooks on the modules fire as usual.
So the hook graph is the one of the underlying module — the Hugging Face layout for a language
model (same sites, bit-for-bit the same values as ``interp.wrap(hf_model)``), module-path sites
for anything else — and ``hm.run`` calls that module directly, with no nnsight tracing cost.

>>> import nnsight, interp                                          # doctest: +SKIP
>>> lm = nnsight.LanguageModel(hf_model, tokenizer=tokenizer)      # doctest: +SKIP
>>> hm = interp.wrap(lm)                                           # doctest: +SKIP
>>> hm.model is lm._module                                         # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

from torch import nn

from interp.errors import InputError
from interp.graph.hooked_model import HookedModel


def is_nnsight(model: Any) -> bool:
    """True for any nnsight model or envoy (without importing nnsight)."""
    return any(cls.__module__.split(".")[0] == "nnsight" for cls in type(model).__mro__)


def underlying_module(envoy: Any) -> nn.Module:
    """The PyTorch module an nnsight envoy wraps, loading real weights first if it holds meta ones."""
    if getattr(envoy, "dispatched", True) is False and hasattr(envoy, "dispatch"):
        envoy.dispatch()  # a lazily-loaded model: nnsight loads the weights now
    module = getattr(envoy, "_module", None)
    if not isinstance(module, nn.Module):
        raise InputError(
            f"this nnsight object ({type(envoy).__name__}) has no local PyTorch module to hook "
            "(remote / NDIF or vLLM models are not supported by interp.wrap)"
        )
    return module


def wrap_nnsight(envoy: Any, tokenizer: Any = None, *, name: str | None = None) -> HookedModel:
    """A :class:`HookedModel` over the module an nnsight model wraps; ``hm.model`` is that module."""
    module = underlying_module(envoy)
    tokenizer = tokenizer if tokenizer is not None else getattr(envoy, "tokenizer", None)
    return HookedModel(module, tokenizer, name=name)
