"""Attention weights for ``pattern.L`` sites without changing the rest of the run: :func:`pattern_attention`.

SDPA and flash attention never materialise the attention probabilities; only eager attention
returns them. Transformers picks the implementation per forward from ``config._attn_implementation``.
A run that reads a pattern enters :func:`pattern_attention`, which does one of three things:

- **The model runs SDPA** (the default): for the run's duration the config names
  ``"interp_pattern_sdpa"``, an entry registered once in transformers' own registries
  (``AttentionInterface`` and ``AttentionMaskInterface``). It builds the same mask as SDPA and
  returns SDPA's output *unchanged*, plus the probabilities computed beside it by the family's own
  eager function (``eager_attention_forward`` of the attention module's modeling file: its scaling,
  soft-capping, sinks, key/value head repetition and softmax dtype), fed SDPA's mask as an additive
  float mask. So logits and every other site are **bit-identical** to a run without the pattern, and
  the pattern is what eager attention gives for the same queries and keys (``z == pattern @ v`` to
  float rounding). Cost: the layers whose pattern is read compute their attention twice (the
  others return SDPA's output and no weights, as in a plain run). In a run that builds an autograd
  graph, those layers' backward goes through the eager computation (so ``pattern`` has a gradient,
  as under eager attention): forward values stay bit-identical, gradients below those layers are
  eager attention's, which differ from SDPA's backward by float rounding.
- **The model already runs eager attention** (e.g. gemma2, gpt_oss, whose soft-capping or sinks SDPA
  lacks): nothing changes; the pattern is the model's own.
- **Anything else** (flash attention, flex attention, a custom implementation, or an attention module
  whose modeling file has no ``eager_attention_forward``): the run switches to eager attention
  (:func:`eager_attention`). What changes then: the attention kernel of every layer, so logits and
  other sites move by float rounding (~1e-7 in float32, more in half precision); nothing else.

Either way only ``hm.config._attn_implementation`` (and its sub-configs') changes, for the run's
duration, restored after, also on an exception; the model's lock is held meanwhile
(:func:`interp.graph.locking.model_lock`), so runs from other threads never see the switch.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> attention = hm.model.model.layers[0].self_attn
>>> with pattern_attention(hm, [attention]):
...     inside = hm.config._attn_implementation
>>> inside, hm.config._attn_implementation
('interp_pattern_sdpa', 'sdpa')
>>> out, plain = hm.run("The keys", cache=["pattern.0", "z.0"]), hm.run("The keys", cache=["z.0"])
>>> torch.equal(out.logits, plain.logits), torch.equal(out.cache["z.0"], plain.cache["z.0"])
(True, True)
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from interp.errors import SiteError
from interp.graph.locking import model_lock

BESIDE_SDPA = "interp_pattern_sdpa"  # the registry name interp's pattern runs switch an SDPA model to
# The attention modules whose weights a run in progress reads; the others return SDPA's (output, None) as usual.
_WANTED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def _additive_mask(module: nn.Module, query: Tensor, key: Tensor, mask: Tensor | None, kwargs: dict) -> Tensor | None:
    """SDPA's mask as eager attention takes it: ``[batch, 1, query, key]`` float, 0 where allowed.

    Mirrors ``sdpa_attention_forward``: a boolean mask keeps True; a float mask is already additive;
    no mask means causal (top-left aligned) for more than one query, all keys for a single query.
    """
    if mask is not None:
        if mask.dtype != torch.bool:
            return mask
        return torch.where(mask, torch.zeros((), dtype=query.dtype, device=mask.device), torch.finfo(query.dtype).min)
    is_causal = kwargs.get("is_causal")
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    q_length, kv_length = query.shape[2], key.shape[2]
    if q_length == 1 or not is_causal:
        return None
    allowed = torch.ones(q_length, kv_length, dtype=torch.bool, device=query.device).tril()  # [query, key]
    return torch.where(allowed, torch.zeros((), dtype=query.dtype, device=query.device),
                       torch.finfo(query.dtype).min)[None, None]


def family_eager(module: nn.Module) -> Callable | None:
    """The eager attention function of ``module``'s family (its modeling file's ``eager_attention_forward``),
    or None where it has none. GPT-2 with ``reorder_and_upcast_attn`` uses its own upcast path, as its eager
    mode does."""
    if getattr(module, "reorder_and_upcast_attn", False) and hasattr(module, "_upcast_and_reordered_attn"):
        return lambda module, query, key, value, mask, **kwargs: module._upcast_and_reordered_attn(
            query, key, value, mask)
    eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    return eager if callable(eager) else None


def sdpa_with_pattern(module: nn.Module, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None,
                      **kwargs: Any) -> tuple[Tensor, Tensor | None]:
    """SDPA's output, unchanged, and the eager attention probabilities ``[batch, head, query, key]``
    (None for a module whose pattern no run in progress reads: only the wanted layers pay for them).

    ``query`` ``[batch, head, query, d_head]``, ``key``/``value`` ``[batch, kv_head, key, d_head]``, as
    transformers' attention interface passes them.
    """
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    output, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](module, query, key, value, attention_mask, **kwargs)
    eager = family_eager(module)
    if eager is None or module not in _WANTED:
        return output, None
    mixed, weights = eager(module, query, key, value, _additive_mask(module, query, key, attention_mask, kwargs),
                           **kwargs)
    if torch.is_grad_enabled() and mixed.requires_grad:
        # the value stays SDPA's (x - x.detach() is exactly 0); the backward goes through the eager
        # computation, once, so the pattern has a gradient as under eager attention
        output = output.detach() + (mixed - mixed.detach())
    return output, weights


@functools.cache
def _registered() -> str:
    """Register :func:`sdpa_with_pattern` (with SDPA's own mask builder) under :data:`BESIDE_SDPA`, once."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(BESIDE_SDPA, sdpa_with_pattern)
    AttentionMaskInterface.register(BESIDE_SDPA, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    return BESIDE_SDPA


def _config_of(hm: Any) -> Any:
    config = hm.config
    if config is None or not hasattr(config, "_attn_implementation"):
        raise SiteError(
            "pattern sites need the attention weights, which interp asks for per run through the model's "
            f"config; {hm.family} has no attention-implementation setting"
        )
    return config


@contextmanager
def _switched(hm: Any, implementation: str) -> Iterator[None]:
    """``hm.config._attn_implementation = implementation`` inside the block (under the model's lock)."""
    config = _config_of(hm)
    with model_lock(hm.model):
        previous = config._attn_implementation
        if previous == implementation:
            yield
            return
        config._attn_implementation = implementation
        try:
            yield
        finally:
            config._attn_implementation = previous


@contextmanager
def pattern_attention(hm: Any, attention_modules: Iterable[nn.Module]) -> Iterator[None]:
    """Inside the block, ``attention_modules`` (those whose ``pattern`` a run reads) return their weights.

    An SDPA model keeps its SDPA output (everything but the pattern bit-identical) when every one of
    ``attention_modules`` has a family eager function; an eager model is left alone; anything else runs
    eager attention for the block (see the module docstring). Re-entrant; holds the model's lock.
    """
    config = _config_of(hm)
    attention_modules = list(attention_modules)
    with model_lock(hm.model):
        current = config._attn_implementation
        if current == "eager":
            yield
        elif current in ("sdpa", BESIDE_SDPA) and all(family_eager(m) is not None for m in attention_modules):
            added = [module for module in attention_modules if module not in _WANTED]
            _WANTED.update(added)
            try:
                with _switched(hm, _registered()):
                    yield
            finally:
                for module in added:
                    _WANTED.discard(module)
        else:
            with eager_attention(hm):
                yield


@contextmanager
def eager_attention(hm: Any) -> Iterator[None]:
    """Run ``hm.model`` with eager attention inside the block; the previous setting comes back after.

    The fallback of :func:`pattern_attention` for implementations it cannot compute the weights beside.
    What changes: ``hm.config._attn_implementation`` only (no module, weight or other setting), so every
    layer's attention kernel, and the numbers by float rounding; restored when the block ends, also on an
    exception. Re-entrant: inside a block that already runs eager attention (or on a model configured
    eager) nothing changes and nothing is restored early. Threads: the block holds the model's lock
    (:func:`interp.graph.locking.model_lock`), so runs from other threads wait and never see the switched
    setting; concurrent runs on one model are serialised.

    >>> import interp
    >>> hm = interp.models.tiny("llama")
    >>> with eager_attention(hm):
    ...     inside = hm.config._attn_implementation
    >>> inside, hm.config._attn_implementation
    ('eager', 'sdpa')
    """
    with _switched(hm, "eager"):
        yield


__all__ = ["BESIDE_SDPA", "eager_attention", "family_eager", "pattern_attention", "sdpa_with_pattern"]
