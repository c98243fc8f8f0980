"""Check a layout on the model it is bound to, with one tiny forward: :func:`verify_layout`.

A table that names the wrong module (the Llama table on a sandwich-norm Gemma-2, a parallel block
declared sequential, a forgotten residual multiplier) still binds, and gives numbers that are off
by the size of the activations. So before trusting a table, interp runs the model once on a few
tokens, without gradients, and checks what the sites mean:

- on the first and the last layer (:func:`first_and_last_layers`: the run skips the others):
  ``resid_pre + attn_out + mlp_out == resid_post`` (``mixer_out`` on state-space
  models), i.e. ``resid_mid + mlp_out == resid_post`` where ``resid_mid = resid_pre + attn_out``;
- ``logits`` (when bound to the unembedding) ``== unembed(final_norm(resid_post of the last
  layer))`` with the family's declared logit adjustments, compared with the model's output logits.

Each to a tolerance relative to the activations' scale (``16 * eps`` of the dtype times the
largest magnitude involved). A mismatch is a :class:`~interp.errors.ModelLoadError` naming the
family, the identity and the size of the mismatch. Models in training mode (dropout), with
weights on the ``meta`` device, or with fewer than one layer are not checked.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> verify_layout(hm.model, hm.layout, hm._bindings, hm.config)   # passes silently
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from interp.errors import ModelLoadError
from interp.graph.adapters.bind import optional_module
from interp.graph.adapters.layout import Layout, adjust_logits
from interp.graph.bindings import Binding
from interp.graph.forward import input_device
from interp.graph.locking import model_lock
from interp.graph.runner import attached

CHECKED_KINDS = ("resid_pre", "attn_out", "mixer_out", "mlp_out", "resid_post")
TOKENS = 4
VOCAB_CHECKED = 256  # logits recomputed from the last layer for these token ids only


def _checkable(model: nn.Module) -> bool:
    if model.training:
        return False
    return not any(parameter.device.type == "meta" for parameter in model.parameters())


def _mismatch(got: Tensor, want: Tensor) -> tuple[float, float]:
    """``(largest |got - want|, allowed)`` for float tensors of the same shape."""
    eps = torch.finfo(want.dtype if want.is_floating_point() else torch.float32).eps
    got, want = got.double(), want.double()
    scale = max(float(want.abs().max()), float(got.abs().max()), 1e-30)
    return float((got - want).abs().max()), 16 * eps * scale


def _fail(layout: Layout, model: nn.Module, identity: str, error: float, allowed: float, scale_hint: str) -> None:
    raise ModelLoadError(
        f"the {layout.family} layout does not fit {type(model).__name__}: {identity} is off by {error:.3g} "
        f"(allowed {allowed:.3g}, {scale_hint}). The table names a wrong module or misses a quirk of this "
        "model (sandwich norms, parallel attention + MLP, a residual multiplier); see "
        "interp/graph/adapters/layout.py for how a family is described"
    )


def _check(layout: Layout, model: nn.Module, identity: str, got: Tensor, want: Tensor) -> None:
    if got.shape != want.shape:
        raise ModelLoadError(f"the {layout.family} layout does not fit {type(model).__name__}: {identity} compares "
                             f"shapes {tuple(got.shape)} and {tuple(want.shape)}")
    error, allowed = _mismatch(got.to(want.dtype), want)
    if not error <= allowed:  # also catches NaN
        _fail(layout, model, identity, error, allowed, f"activations up to {float(want.abs().max()):.3g}")


@contextmanager
def first_and_last_layers(model: nn.Module, layout: Layout) -> Iterator[None]:
    """Forwards inside the block run only the first and the last decoder layer (when there are more).

    Why: a layout is the same table for every layer, and the first and last layers are where
    families differ (dense layers before sparse ones, the final norm after the last), so checking
    them costs two layers' forward instead of the whole model's. How: the decoder's layer list is
    swapped for a list of those two modules (the same objects, their own layer indices) and put
    back when the block ends, also on an exception, under the model's lock, as
    :func:`interp.graph.resume.started_at` does.
    """
    parent_path, _, attribute = layout.layers.rpartition(".")
    parent = model.get_submodule(parent_path)
    layers = getattr(parent, attribute)
    if len(layers) <= 2:
        yield
        return
    with model_lock(model):
        setattr(parent, attribute, nn.ModuleList([layers[0], layers[-1]]))
        try:
            yield
        finally:
            setattr(parent, attribute, layers)


def verify_layout(model: nn.Module, layout: Layout, bindings: dict[str, Binding], config: Any) -> None:
    """Raise :class:`ModelLoadError` unless the sites bound by ``layout`` add up on ``model``."""
    if not _checkable(model) or not bindings:
        return
    vocab = getattr(config, "vocab_size", None) or TOKENS + 1
    ids = (torch.arange(TOKENS) % vocab)[None].to(input_device(model))
    checked = [b for name, b in bindings.items() if name.split(".")[0] in CHECKED_KINDS or name == "logits"]
    seen: dict[str, Tensor] = {}
    handlers = {b: [lambda act, ctx: seen.__setitem__(ctx.site, act.detach().clone())] for b in checked}
    with torch.no_grad(), first_and_last_layers(model, layout), attached(handlers):
        output = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)
    layers = sorted({b.layer for b in checked if b.layer is not None and f"resid_post.{b.layer}" in seen})
    for index in layers:
        kinds = [kind for kind in ("attn_out", "mixer_out", "mlp_out") if f"{kind}.{index}" in seen]
        branches = [seen[f"{kind}.{index}"] for kind in kinds]
        total = seen[f"resid_pre.{index}"].to(branches[0].dtype)
        for branch in branches:
            total = total + branch
        names = " + ".join(k for k in ("resid_pre", "attn_out", "mixer_out", "mlp_out") if f"{k}.{index}" in seen)
        _check(layout, model, f"{names} == resid_post at layer {index}", total, seen[f"resid_post.{index}"])
    if "logits" in seen:
        _check_logits(model, layout, config, bindings["logits"], seen, output, layers[-1])


def _check_logits(model: nn.Module, layout: Layout, config: Any, binding: Binding, seen: dict[str, Tensor],
                  output: Any, last: int) -> None:
    logits = seen["logits"]
    model_logits = getattr(output, "logits", None)
    if model_logits is not None and model_logits.shape == logits.shape:
        _check(layout, model, "the logits site == the model's output logits", logits, model_logits)
    head = getattr(model, "get_output_embeddings", lambda: None)()
    norm = optional_module(model, layout.final_norm)
    if head is None or norm is None or binding.module not in (head, model):
        return
    with torch.no_grad():
        hidden = norm(seen[f"resid_post.{last}"])
        weight, bias = getattr(head, "weight", None), getattr(head, "bias", None)
        if isinstance(head, nn.Linear) and weight.shape[0] > VOCAB_CHECKED:  # a slice of the vocabulary is enough
            logits = logits[..., :VOCAB_CHECKED]
            unembedded = torch.nn.functional.linear(hidden, weight[:VOCAB_CHECKED],
                                                    None if bias is None else bias[:VOCAB_CHECKED])
        else:
            unembedded = head(hidden)
        recomputed = adjust_logits(layout, config, unembedded)
    _check(layout, model, f"unembed(final_norm(resid_post.{last})) == logits", recomputed.to(logits.dtype), logits)


__all__ = ["CHECKED_KINDS", "verify_layout"]
