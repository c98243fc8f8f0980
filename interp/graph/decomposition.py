"""The residual stream taken apart, from a run's cache: TransformerLens's ``ActivationCache`` helpers.

- :func:`accumulated_resid`: the stream before each layer (``resid_pre.0 … resid_pre.{L-1}``) and after
  the last (``resid_post.-1``): ``[component, batch, pos, d_model]``.
- :func:`decompose_resid`: what each block added (``embed``, ``attn_out.l``, ``mlp_out.l``; ``mixer_out.l``
  on state-space models), summing to the stream.
- :func:`stack_head_results`: every head's ``head_out`` (its ``z`` through its slice of the output
  projection), ``L{l}H{h}``, summing per layer to ``attn_out`` minus the projection's bias.
- :func:`logit_attrs`: each component's direct contribution to a logit (or a logit difference).

``apply_ln=True`` (the default) sends every component through the final norm with its scale frozen
at the actual final residual's (:class:`interp.graph.readout.FrozenReadout`, as
:func:`interp.eval.head_attribution.head_attribution` does), without its bias ``β``: the norm is then
linear, so the components' read-outs sum to the read-out of their sum. ``positions="last"`` keeps each
example's last real token (``[component, batch, d_model]``). These are methods of the cache:

>>> import interp, torch
>>> hm = interp.models.tiny("gpt2")
>>> cache = hm.run(["The keys to the", "A dog"], cache="all").cache
>>> stack, labels = cache.decompose_resid(apply_ln=False, return_labels=True)
>>> labels[:3], torch.allclose(stack.sum(0), cache["resid_post.-1"], atol=1e-5)
(['embed', 'attn_out.0', 'mlp_out.0'], True)
>>> heads = cache.stack_head_results(positions="last")                  # [layer * head, batch, d_model]
>>> attrs = cache.logit_attrs(heads, [" key", " dog"])                   # [layer * head, batch]
>>> attrs.shape
torch.Size([8, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError, SiteError
from interp.graph.adapters.head_out import per_head_output
from interp.graph.positions import integer_index
from interp.graph.readout import FrozenReadout


def _model(cache):
    hm = getattr(cache, "model", None)
    if hm is None or hm.dims is None:
        raise SiteError("this cache does not know its model's layers: take it from hm.run(...) on a model with sites")
    return hm


def _need(cache, names: list[str], what: str) -> None:
    missing = [name for name in names if name not in cache]
    if missing:
        shown = ", ".join(map(repr, missing[:3])) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise SiteError(f"{what} needs {shown} in the cache; run with cache='all' (or name those sites)")


def _at(cache, tensor: Tensor, positions: str | None) -> Tensor:
    """``[..., batch, pos, d]`` -> the chosen positions (``"last"``: ``[..., batch, d]``)."""
    if positions is None:
        return tensor
    if positions != "last":
        raise InputError(f"positions must be None (every position) or 'last', not {positions!r}")
    rows = torch.arange(tensor.shape[-3], device=tensor.device)
    last = cache.batch.last_index.to(tensor.device) if cache.batch is not None else tensor.shape[-2] - 1
    return tensor[..., rows, last, :]


def _finish(cache, stack: Tensor, labels: list[str], apply_ln: bool, positions: str | None, return_labels: bool):
    stack = _at(cache, stack, positions)
    if apply_ln:
        hm = _model(cache)
        final = _at(cache, cache[f"resid_post.{hm.n_layers - 1}"], positions)
        stack = FrozenReadout(hm).normalise(stack, final)
    return (stack, labels) if return_labels else stack


def _layer(hm, layer: int | None) -> int:
    n = hm.n_layers
    if layer is None:
        return n
    layer = integer_index(layer, "layer")
    if not -n <= layer <= n:
        raise InputError(f"layer {layer} is out of range: {hm.name} has {n} layers (0..{n}, {n} or None: all)")
    return layer % n if layer < 0 else layer


def accumulated_resid(cache, layer: int | None = None, apply_ln: bool = True, positions: str | None = None,
                      return_labels: bool = False):
    """The stream entering layers ``0..layer`` (``layer=None``: every layer, then ``resid_post`` of the
    last): ``[layer + 1, batch, pos, d_model]``; the last entry of ``layer=None`` is ``resid_post.-1``."""
    hm = _model(cache)
    layer = _layer(hm, layer)
    names = [f"resid_pre.{index}" for index in range(min(layer + 1, hm.n_layers))]
    if layer == hm.n_layers:
        names.append(f"resid_post.{hm.n_layers - 1}")
    _need(cache, names, "accumulated_resid")
    return _finish(cache, torch.stack([cache[name] for name in names]), names, apply_ln, positions, return_labels)


def decompose_resid(cache, layer: int | None = None, apply_ln: bool = True, positions: str | None = None,
                    return_labels: bool = False):
    """What the embedding and each block before ``layer`` added (``layer=None``: all): ``[component, batch,
    pos, d_model]``, summing to ``resid_pre.layer`` (``resid_post.-1`` for all)."""
    hm = _model(cache)
    layer = _layer(hm, layer)
    sites = set(hm.sites())
    names = ["embed"] + [f"{kind}.{index}" for index in range(layer) for kind in ("attn_out", "mixer_out", "mlp_out")
                         if f"{kind}.{index}" in sites]
    _need(cache, names, "decompose_resid")
    return _finish(cache, torch.stack([cache[name] for name in names]), names, apply_ln, positions, return_labels)


def heads_add_to_stream(hm, layer: int) -> bool:
    """Whether ``layer``'s heads add to the residual stream directly (False behind a sandwich post-norm)."""
    projection = hm.binding(f"z.{layer}").module
    return any(module is projection for module in hm.binding(f"attn_out.{layer}").module.modules())


def stack_head_results(cache, layer: int | None = None, apply_ln: bool = True, positions: str | None = None,
                       return_labels: bool = False):
    """Every head of the layers before ``layer`` (``None``: all): ``[layer * head, batch, pos, d_model]``,
    labelled ``L{l}H{h}``; from ``head_out.l`` when cached, else from ``z.l`` and the output projection."""
    hm = _model(cache)
    layer = _layer(hm, layer)
    blocks, labels = [], []
    for index in range(layer):
        if not heads_add_to_stream(hm, index):
            raise SiteError(f"{hm.family}'s heads are not residual-stream components: a norm after the attention "
                            f"(sandwich norm) stands between them and attn_out.{index}")
        if f"head_out.{index}" not in cache:
            _need(cache, [f"z.{index}"], "stack_head_results")
        blocks.append(cache[f"head_out.{index}"] if f"head_out.{index}" in cache else _computed(hm, cache, index))
        labels += [f"L{index}H{head}" for head in range(hm.n_heads)]
    if not blocks:
        raise InputError("stack_head_results(layer=0) has no heads to stack")
    stack = torch.cat([block.movedim(2, 0) for block in blocks])  # [layer * head, batch, pos, d_model]
    return _finish(cache, stack, labels, apply_ln, positions, return_labels)


def _computed(hm, cache, layer: int) -> Tensor:
    name = getattr(hm.layout, "residual_multiplier", None)
    factor = getattr(hm.config, name) if name else None
    return per_head_output(hm.binding(f"z.{layer}").module, cache[f"z.{layer}"], factor).detach()


def _token_ids(hm, tokens, what: str) -> Tensor:
    if isinstance(tokens, str):
        tokens = [tokens]
    if isinstance(tokens, Sequence) and tokens and isinstance(tokens[0], str):
        return torch.tensor([hm.to_single_token(token) for token in tokens])
    ids = torch.as_tensor(tokens)
    if ids.is_floating_point():
        raise InputError(f"{what} must be token ids or strings, not {ids.dtype} values")
    return ids.long()


def logit_attrs(cache, residual_stack: Tensor, tokens, incorrect_tokens=None, *, normed: bool = True,
                biases: bool = False) -> Tensor:
    """Each component's direct contribution to ``logit(tokens)`` (minus ``logit(incorrect_tokens)``):
    ``[component, batch]`` for a stack at one position per example (``positions="last"``), ``[component,
    batch, pos]`` for a full one. ``tokens``: ids ``[batch]`` (or ``[batch, pos]``) or one-token strings.

    ``normed=True``: the stack went through the frozen final norm (``apply_ln=True``, the stacks'
    default); ``normed=False`` applies it here. ``biases=True`` appends the final norm's bias and the
    unembedding bias as components (where the model has them): with a stack that sums to the final
    residual (``decompose_resid()``), the contributions then sum to the logit (difference) of the
    unembedding, i.e. before any soft-cap or logit scale of the head."""
    hm = _model(cache)
    at_last = residual_stack.ndim == 3
    final = _at(cache, cache[f"resid_post.{hm.n_layers - 1}"], "last" if at_last else None)
    if residual_stack.shape[1:] != final.shape:
        raise InputError(f"residual_stack is {tuple(residual_stack.shape)}: expected [component, "
                         f"{', '.join(map(str, final.shape))}] (a stack of this cache, positions=None or 'last')")
    readout = FrozenReadout(hm)
    stack = residual_stack if normed else readout.normalise(residual_stack, final)
    target = _token_ids(hm, tokens, "tokens").expand(final.shape[:-1])
    baseline = None if incorrect_tokens is None else _token_ids(hm, incorrect_tokens, "incorrect_tokens").expand(
        final.shape[:-1])
    unembed = readout.unembed_weight.detach().double().cpu()
    u = unembed[target] if baseline is None else unembed[target] - unembed[baseline]  # [batch, (pos,) d_model]
    attrs = (stack.double().cpu() * u).sum(-1)
    if biases:
        constants = list(readout.constants(u, target, baseline).values())
        attrs = torch.cat([attrs, *(value[None] for value in constants)])
    return attrs.to(residual_stack.dtype)


__all__ = ["accumulated_resid", "decompose_resid", "heads_add_to_stream", "logit_attrs", "stack_head_results"]
