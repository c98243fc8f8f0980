"""Resuming a forward pass part-way: which models allow it, and how to hand them cached keys/values.

A resumed forward (:meth:`HookedModel.resume`, the batched patch sweep, packed DAS training and
scoring) calls a Hugging Face causal LM with earlier keys/values, explicit position ids and
``logits_to_keep``. Releases of transformers name the KV-cache argument differently
(``past_key_values`` up to 5.23, ``cache`` from 5.24, the old name deprecated), so the name is read
from the model's own ``forward`` signature, never assumed, and so is the output field that returns
the cache.

>>> import interp
>>> support = resume_support(interp.models.tiny("llama"))
>>> support.ok, support.cache_argument in CACHE_ARGUMENTS
(True, True)
>>> resume_support(interp.models.tiny("llama"), width=10**6).ok   # no sliding window: any width
True

When a fast path cannot be used, the caller says so with :func:`warn_slow_path` (a
:class:`SlowPathWarning` naming the model and the reason) and records which path ran.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

# The forward's KV-cache argument, newest name first.
CACHE_ARGUMENTS = ("cache", "past_key_values")
# What a resumed forward passes besides the cache.
RESUME_ARGUMENTS = ("position_ids", "logits_to_keep")


class SlowPathWarning(UserWarning):
    """A fast path (KV reuse, packing) could not be used for this model; a slower exact path ran."""


@dataclass(frozen=True)
class ResumeSupport:
    """Whether a model can be resumed, and through which forward argument it takes a KV cache.

    ``cache_argument``: ``"cache"`` or ``"past_key_values"`` (None when it takes neither);
    ``reason``: why it cannot be resumed (None when it can).
    """

    cache_argument: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def cache_argument(model: nn.Module) -> str | None:
    """The name under which ``model.forward`` takes a KV cache, or None."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # a builtin or an odd callable: no signature to read
        return None
    return next((name for name in CACHE_ARGUMENTS if name in params), None)


def resume_support(hm: Any, width: int | None = None) -> ResumeSupport:
    """Can ``hm`` (a :class:`~interp.graph.HookedModel`) be resumed with cached keys/values?

    Needs a Hugging Face causal LM with an adapter whose forward takes a KV cache, position ids and
    ``logits_to_keep``. ``width``: the longest sequence the caller will hand it; sliding-window
    attention is left to the model's own masks unless the sequences fit in the window.
    """
    model = hm.model
    name = type(model).__name__
    if not getattr(hm, "is_hf_causal_lm", False):
        return ResumeSupport(None, f"{name} is not a Hugging Face causal LM called through its forward")
    if getattr(hm, "layout", None) is None:
        return ResumeSupport(None, f"{name} has no interp adapter (no layer table to resume from)")
    argument = cache_argument(model)
    if argument is None:
        return ResumeSupport(None, f"{name}.forward takes no KV cache (neither of {', '.join(CACHE_ARGUMENTS)})")
    params = inspect.signature(model.forward).parameters
    missing = [arg for arg in RESUME_ARGUMENTS if arg not in params]
    if missing:
        return ResumeSupport(argument, f"{name}.forward takes no {' or '.join(missing)}")
    config = getattr(hm, "config", None)
    window = getattr(config, "sliding_window", None)
    if window and getattr(config, "use_sliding_window", True) is not False and (width is None or width > window):
        return ResumeSupport(argument, f"{name} uses sliding-window attention ({window} tokens)"
                             + ("" if width is None else f" and the sequences are {width} tokens long"))
    return ResumeSupport(argument)


def make_cache(key_values: Sequence[tuple[Tensor, Tensor]]) -> Any:
    """A transformers ``DynamicCache`` holding per-layer ``(keys, values)`` ``[batch, kv_heads, pos, d_head]``."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(keys, values) for keys, values in key_values])


def cache_kwargs(support: ResumeSupport, key_values: Sequence[tuple[Tensor, Tensor]] | None) -> dict[str, Any]:
    """Forward keyword arguments handing ``key_values`` (or no cache) to a model of this support."""
    if support.cache_argument is None:
        raise ValueError(f"this model cannot take a KV cache: {support.reason}")
    cache = None if key_values is None else make_cache(key_values)
    return {support.cache_argument: cache, "use_cache": cache is not None}


def key_values_of(output: Any) -> list[tuple[Tensor, Tensor]]:
    """Per-layer ``(keys, values)`` of a forward that ran with ``use_cache=True``, whichever field
    (``cache`` or ``past_key_values``) the release returns them in."""
    cache = next((getattr(output, field) for field in CACHE_ARGUMENTS if getattr(output, field, None) is not None),
                 None)
    if cache is None:
        raise TypeError(f"the model's output ({type(output).__name__}) holds no KV cache")
    return [(layer.keys, layer.values) for layer in cache.layers]


def warn_slow_path(hm: Any, what: str, reason: str, instead: str, stacklevel: int = 3) -> None:
    """Say, once per call, that ``what`` runs on the slower exact path ``instead``, and why."""
    warnings.warn(f"{what} on {getattr(hm, 'name', type(hm).__name__)}: the fast path is unavailable ({reason}); "
                  f"running {instead} instead (same results, slower)", SlowPathWarning, stacklevel=stacklevel)


__all__ = ["CACHE_ARGUMENTS", "ResumeSupport", "SlowPathWarning", "cache_argument", "cache_kwargs",
           "key_values_of", "make_cache", "resume_support", "warn_slow_path"]
