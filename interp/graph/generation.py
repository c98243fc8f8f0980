"""Generation with interventions, KV cache on (``hm.generate``; also ``interp.interventions.generate``).

It takes any objects with ``.site`` and ``bind`` (the interventions), so it lives with the graph.

>>> import torch, interp
>>> from interp.interventions import Steer, generate
>>> hm = interp.models.tiny("llama")
>>> steer = Steer("resid_post.0", torch.ones(64), alpha=3.0)
>>> gen = generate(hm, ["The keys to the"], interventions=[steer], max_new_tokens=4, where="all")
>>> gen.sequences.shape[1] - gen.prompt.width
4

``where`` says which tokens an intervention touches:

- ``"prompt"``: the prompt tokens, at the intervention's ``positions`` (counted in each prompt's
  real tokens, as in ``hm.run``). New tokens are not intervened on, but they attend to the
  intervened prompt through the KV cache, exactly as a cache-free forward of the whole
  sequence with the intervention on the prompt positions would give.
- ``"new"``: every newly generated token (one per step); the prompt is left alone.
- ``"all"``: both.

For each new token an intervention is bound with ``positions=None`` over that one token;
sources (``Patch``, ``Subspace``, ``DAS``) are still read at their ``source_positions`` (which
must then select one token). Prompts are left-padded, as batched generation needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.checks import intervention_list, whole_number
from interp.graph.inputs import Batch, check_fits

WHERE = ("prompt", "new", "all")


@dataclass
class Generation:
    """``sequences``: ``[batch, prompt width + new]`` (left-padded prompts, then new tokens)."""

    sequences: Tensor
    prompt: Batch
    texts: list[str]

    @property
    def new_tokens(self) -> Tensor:
        return self.sequences[:, self.prompt.width:]


def generate(
    hm, prompts: str | Sequence[str] | Batch, *, interventions: Sequence[Any] = (), max_new_tokens: int = 20,
    where: str = "prompt", **generate_kwargs,
) -> Generation:
    """Greedy generation (by default) through ``hm.model.generate`` with interventions attached."""
    if where not in WHERE:
        raise InputError(f"where must be one of {', '.join(map(repr, WHERE))}, not {where!r}")
    max_new_tokens = whole_number(max_new_tokens, "max_new_tokens", minimum=1)
    interventions = intervention_list(interventions)
    batch = check_fits(hm.tokenize(prompts, padding_side="left"), hm.config, new_tokens=max_new_tokens)
    step = Batch(torch.ones(batch.size, 1, dtype=torch.long), torch.ones(batch.size, 1, dtype=torch.long))
    handlers: dict[str, list] = {}
    for intervention in interventions:
        site = intervention.site
        hm.binding(site)
        bindable = hasattr(intervention, "bind")
        on_prompt = on_new = None
        if where in ("prompt", "all"):
            on_prompt = intervention.bind(hm, batch) if bindable else intervention
        if where in ("new", "all"):
            on_new = intervention.bind(hm, step, positions=None) if bindable else intervention
        handlers.setdefault(site, []).append(_phased(on_prompt, on_new))
    kwargs = {"do_sample": False, "pad_token_id": _pad_id(hm), **generate_kwargs}
    device = hm.device
    with torch.no_grad(), hm.hooks(handlers):
        sequences = hm.model.generate(
            input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device),
            max_new_tokens=max_new_tokens, **kwargs,
        )
    texts = hm.tokenizer.batch_decode(sequences[:, batch.width:], skip_special_tokens=True)
    return Generation(sequences.cpu(), batch, texts)


def _phased(on_prompt, on_new):
    """The first call (the prompt, prefill) goes to ``on_prompt``, later calls (one token each) to ``on_new``."""
    calls = [0]

    def handler(act: Tensor, ctx):
        first = calls[0] == 0
        calls[0] += 1
        chosen = on_prompt if first else on_new
        return None if chosen is None else chosen(act, ctx)

    return handler


def _pad_id(hm) -> int | None:
    tokenizer = hm.tokenizer
    if tokenizer is None:
        return None
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
