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

The forwards themselves: :func:`resume` (what :meth:`HookedModel.resume` does),
:func:`resume_rows` (rows of a batch, resumed from a layer and a token, as the patch sweep runs
them), :func:`resumed_logits` (the one forward call under both, also behind the packed forwards
of :mod:`interp.graph.packing`) and :func:`started_at`, the one owner of the edit that lets a
forward skip the layers below its start.
"""

from __future__ import annotations

import functools
import inspect
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from interp.errors import InputError, SiteError
from interp.graph.checks import start_value
from interp.graph.head_columns import only_columns
from interp.graph.inputs import Batch, Inputs
from interp.graph.locking import model_lock
from interp.graph.runner import Handler, _input_set
from interp.graph.sites import RESUMABLE_KINDS

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


def forward_parameters(model: nn.Module) -> frozenset[str]:
    """The names ``model.forward`` takes (empty when it has no readable signature). Read once per
    forward function: reading a signature costs about as much as a small forward on CPU."""
    forward = model.forward
    return _parameters(getattr(forward, "__func__", forward))


@functools.lru_cache(maxsize=256)
def _parameters(forward: Any) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(forward).parameters)
    except (TypeError, ValueError):  # a builtin or an odd callable: no signature to read
        return frozenset()


def cache_argument(model: nn.Module) -> str | None:
    """The name under which ``model.forward`` takes a KV cache, or None."""
    params = forward_parameters(model)
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
    params = forward_parameters(model)
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


def resume_requirement(hm: Any) -> str:
    """What a resumed run needs, and why ``hm`` falls short (for an :class:`InputError`)."""
    return (f"a Hugging Face causal LM whose forward takes a KV cache, position_ids and logits_to_keep; "
            f"{hm.name} is not one ({resume_support(hm).reason}; hm.can_resume is False): "
            f"use hm.run(start_at=...) over full sequences")


@dataclass(eq=False)
class _Start:
    layers: nn.ModuleList  # the model's own, complete layer list
    value: Tensor  # what the first layer run is fed


# per model: the starts entered and not yet left, innermost last (see started_at)
_STARTS: weakref.WeakKeyDictionary[nn.Module, list[_Start]] = weakref.WeakKeyDictionary()


@contextmanager
def started_at(hm: Any, site: str, value: Tensor, batch: Batch | None = None) -> Iterator[None]:
    """Forwards of ``hm.model`` inside the block start at ``site`` (``embed``, ``resid_pre.L`` or
    ``resid_post.L``) from ``value`` ``[batch, pos, d_model]``; the layers below it do not run.

    Why an edit of the model: a transformers forward runs every module of its decoder's layer list,
    and no forward argument skips some of them. So the block hands the decoder the list of its layers
    from the start on (the same modules, nothing copied; KV caches still see the layers' own indices)
    and feeds ``value`` in with a forward pre-hook on the first layer run (on the final norm for
    ``resid_post`` of the last layer). When the block ends, also on an exception, the decoder gets its
    original list back and the hook is removed. It is the only place interp edits a model's modules.

    Re-entrant: a block inside another (same thread) starts from the complete list, not the outer
    block's shortened one, and only the innermost block's value is fed in; leaving it restores the
    outer block's list. Threads: the block holds the model's lock
    (:func:`interp.graph.locking.model_lock`), so concurrent runs on one model are serialised and a
    run from another thread never sees the shortened list. ``batch``: when given, ``value`` must be
    ``[batch.size, batch.width, ...]``.
    """
    binding = hm.binding(site)
    kind = binding.name.split(".")[0]
    if kind not in RESUMABLE_KINDS or hm.layout is None:
        raise SiteError(f"a run can start from {', '.join(RESUMABLE_KINDS[:2])}.L or resid_post.L, not {site!r}")
    first = 0 if kind == "embed" else binding.layer + (kind == "resid_post")
    if batch is not None and tuple(value.shape[:2]) != (batch.size, batch.width):
        raise InputError(f"start_at activations have shape {tuple(value.shape)}, but the inputs are "
                         f"[batch={batch.size}, pos={batch.width}]")
    with model_lock(hm.model):  # the layer list is read, shortened and restored under the lock
        parent_path, _, attribute = hm.layout.layers.rpartition(".")
        parent = hm.model.get_submodule(parent_path)
        current = getattr(parent, attribute)
        starts = _STARTS.setdefault(hm.model, [])
        start = _Start(starts[0].layers if starts else current, value)
        entry = start.layers[first] if first < len(start.layers) else hm.model.get_submodule(hm.layout.final_norm)

        def feed(module, args, kwargs):
            return _input_set((args, kwargs), 0, start.value) if starts and starts[-1] is start else None

        handle = entry.register_forward_pre_hook(feed, with_kwargs=True, prepend=True)
        starts.append(start)
        setattr(parent, attribute, nn.ModuleList(list(start.layers)[first:]) if first else start.layers)
        try:
            yield
        finally:
            setattr(parent, attribute, current)
            handle.remove()
            starts.pop()
            if not starts:
                del _STARTS[hm.model]


def resumed_logits(hm: Any, start_at: tuple[str, Tensor], *, input_ids: Tensor, attention_mask: Tensor,
                   position_ids: Tensor, logits_to_keep: Tensor,
                   key_values: Sequence[tuple[Tensor, Tensor]] | None = None,
                   hooks: Mapping[str, Handler | list[Handler]] | None = None, batch: Batch | None = None,
                   grad: bool = False, columns: Tensor | None = None) -> Tensor:
    """One forward of ``hm.model`` from ``start_at=(site, activations)`` through its public arguments:
    ``input_ids`` ``[b, q]`` (the tokens run), ``attention_mask`` (``[b, past + q]`` or an additive
    ``[b, 1, q, past + q]``), ``position_ids`` ``[b, q]``, ``logits_to_keep`` (the indices to
    unembed) and ``key_values`` (per layer ``(keys, values)`` of the ``past`` tokens, handed over as
    the KV-cache argument :func:`resume_support` found). ``hooks``: ``{site: handler}`` as in
    :meth:`HookedModel.hooks`; ``grad``: build an autograd graph. Returns ``[b, kept, vocab]``, or with
    ``columns`` ``[kept, J]`` (token ids per kept token) ``[b, kept, J]``: only those logits are computed
    (:func:`interp.graph.head_columns.only_columns`; no hook on ``logits`` then)."""
    device = hm.device
    site, value = start_at
    if columns is not None and "logits" in (hooks or {}):
        raise InputError("a hook on 'logits' cannot run while only some logit columns are computed")
    narrow = only_columns(hm, columns) if columns is not None else nullcontext()
    with model_lock(hm.model), torch.enable_grad() if grad else torch.no_grad(), \
            hm.hooks(hooks or {}, batch=batch), started_at(hm, site, value), narrow:
        output = hm.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                          position_ids=position_ids.to(device), logits_to_keep=logits_to_keep.to(device),
                          **cache_kwargs(resume_support(hm), key_values))
    return output.logits


def resume(hm: Any, inputs: Inputs, *, start_at: tuple[str, Tensor],
           key_values: Sequence[tuple[Tensor, Tensor]] | None = None, from_token: int = 0,
           hooks: Mapping[str, Handler | list[Handler]] | None = None) -> Tensor:
    """``[batch, 1, vocab]`` logits at each example's last real token of ``inputs`` finished from
    ``start_at``, tokens from ``from_token`` on; see :meth:`HookedModel.resume` (which wraps it)."""
    if not resume_support(hm).ok:
        raise InputError(f"resume needs {resume_requirement(hm)}")
    site, value = start_value(start_at)
    batch = hm._batch(inputs, "right")
    if not 0 <= from_token < batch.width:
        raise InputError(f"from_token={from_token} is outside the inputs' {batch.width} tokens")
    if (batch.last_index < from_token).any():
        short = (batch.last_index < from_token).nonzero().flatten().tolist()
        raise InputError(f"examples {short} end before from_token={from_token}: nothing of them is left to run")
    if value.ndim >= 2 and value.shape[1] == batch.width:
        value = value[:, from_token:]
    if value.ndim < 2 or tuple(value.shape[:2]) != (batch.size, batch.width - from_token):
        raise InputError(
            f"start_at activations have shape {tuple(value.shape)}, but the inputs are [batch={batch.size}, "
            f"pos={batch.width}] (or [batch={batch.size}, pos={batch.width - from_token}] from token {from_token})"
        )
    past = None
    if from_token:
        if key_values is None or len(key_values) != hm.n_layers:
            got = "none" if key_values is None else f"{len(key_values)} layers"
            raise InputError(f"from_token={from_token} needs key_values for all {hm.n_layers} layers; got {got}")
        past = [(k[:, :, :from_token], v[:, :, :from_token]) for k, v in key_values]
    position_ids = (torch.arange(batch.width)[None, :] - batch.offsets[:, None]).clamp(min=0)[:, from_token:]
    return resumed_logits(hm, (site, value), input_ids=batch.input_ids[:, from_token:],
                          attention_mask=batch.attention_mask, position_ids=position_ids,
                          logits_to_keep=(batch.last_index - from_token)[:, None], key_values=past,
                          hooks=hooks, batch=batch)


def resume_rows(hm: Any, base: Batch, rows: Tensor, start_at: tuple[str, Tensor],
                key_values: Sequence[tuple[Tensor, Tensor]] | None, from_token: int,
                interventions: Sequence[Any] = ()) -> Tensor:
    """``[R, vocab]`` last logits of the base examples ``rows`` ``[R]`` (repeats allowed), each
    recomputed from ``start_at=(site, resid)`` (``resid`` ``[base.size, base.width, d]``, the base
    run's) and from token ``from_token`` on, with ``interventions`` (objects with ``.site`` and
    ``__call__(act, ctx)``, called on the rows' activations of the tokens run).

    ``key_values``: the base run's per layer ``(keys, values)`` (``hm.run(base, keep_kv=True)``),
    standing in for the tokens before ``from_token``; None: the rows run as full sequences through
    :meth:`HookedModel.run` (a model that cannot resume; ``from_token`` must be 0).
    """
    site, resid = start_at
    batch = Batch(base.input_ids[rows], base.attention_mask[rows])
    begin = resid[rows.to(resid.device), from_token:]
    if key_values is None:
        return hm.run(batch, interventions=list(interventions), start_at=(site, begin)).last_logits
    hooks: dict[str, list] = {}
    for intervention in interventions:
        hooks.setdefault(intervention.site, []).append(intervention)
    prefix = None
    if from_token:
        picked = rows.to(key_values[0][0].device)
        prefix = [(k[:, :, :from_token][picked], v[:, :, :from_token][picked]) for k, v in key_values]
    logits = resume(hm, batch, start_at=(site, begin), key_values=prefix, from_token=from_token, hooks=hooks)
    return logits[:, -1]


__all__ = ["CACHE_ARGUMENTS", "ResumeSupport", "SlowPathWarning", "cache_argument",
           "cache_kwargs", "key_values_of", "make_cache", "resume", "resume_requirement", "resume_rows",
           "resume_support", "resumed_logits", "started_at", "warn_slow_path"]
