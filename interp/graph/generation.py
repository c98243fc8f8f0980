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

**Chosen steps.** :class:`~interp.graph.steps.AtSteps` applies an intervention at chosen steps only
(step ``s`` is the forward that picks new token ``s``, from 0): ``AtSteps(steer, 2)`` changes the 3rd
new token and those after it, ``AtSteps(steer, slice(4, None))`` steers from the 5th new token on.

**Several sequences per prompt.** ``num_return_sequences`` and beam search (``num_beams``) run each
prompt's rows side by side (Hugging Face repeats each prompt ``k`` times in a row). Interventions
stay bound to the prompts: per-row parameters (``Steer(alpha=[R])``, a source per prompt) and
positions follow each prompt to all of its rows and beams.

>>> gen = generate(hm, ["The keys to the", "A dog"], interventions=[Steer("resid_post.0", torch.ones(64),
...                alpha=torch.tensor([0.0, 3.0]))], max_new_tokens=3, num_beams=2, num_return_sequences=2)
>>> gen.sequences.shape[0]                                # 2 prompts x 2 sequences, prompt by prompt
4

**Per-step caching.** ``cache=["resid_post.0"]`` keeps each site's activation at every step:
``gen.cache[site][s]`` is ``[rows, pos, ...]`` (step 0: the prompt's positions; later steps: the one
new token; after the step's interventions), and ``gen.at_new_tokens(site)`` stacks the activation at
the position that picked each new token, ``[rows, new, ...]``. Under beam search the rows of a step
are its live beams (reordered between steps), not the returned sequences.

>>> gen = generate(hm, ["The keys to the"], max_new_tokens=4, cache=["resid_post.0"])
>>> len(gen.cache["resid_post.0"]), gen.cache["resid_post.0"][1].shape, gen.at_new_tokens("resid_post.0").shape
(4, torch.Size([1, 1, 64]), torch.Size([1, 4, 64]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.checks import intervention_list, whole_number
from interp.graph.inputs import Batch, check_fits
from interp.graph.steps import AtSteps, StepSet

WHERE = ("prompt", "new", "all")


@dataclass
class Generation:
    """``sequences``: ``[batch, prompt width + new]`` (left-padded prompts, then new tokens)."""

    sequences: Tensor
    prompt: Batch
    texts: list[str]
    cache: dict[str, list[Tensor]] = field(default_factory=dict)  # site -> per step [rows, pos, ...]

    @property
    def new_tokens(self) -> Tensor:
        return self.sequences[:, self.prompt.width:]

    def at_new_tokens(self, site: str) -> Tensor:
        """``[rows, steps, ...]``: at each step, ``site`` at the position that picked that step's new token."""
        if site not in self.cache:
            raise InputError(f"{site!r} was not cached during generation; cached: {sorted(self.cache) or 'none'} "
                             f"(pass cache=[{site!r}])")
        return torch.stack([act[:, -1] for act in self.cache[site]], 1)


def generate(
    hm, prompts: str | Sequence[str] | Batch, *, interventions: Sequence[Any] = (), max_new_tokens: int = 20,
    where: str = "prompt", cache: Sequence[str] = (), **generate_kwargs,
) -> Generation:
    """Greedy generation (by default) through ``hm.model.generate`` with interventions attached;
    ``cache``: sites whose activations are kept at every step (``Generation.cache``)."""
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
        steps = None
        if isinstance(intervention, AtSteps):
            intervention.check(max_new_tokens)
            steps, intervention = intervention.steps, intervention.intervention
        bindable = hasattr(intervention, "bind")
        on_prompt = on_new = None
        if (where in ("prompt", "all")) if steps is None else 0 in steps:
            on_prompt = intervention.bind(hm, batch) if bindable else intervention
        if (where in ("new", "all")) if steps is None else steps != StepSet(chosen=(0,)):
            on_new = intervention.bind(hm, step, positions=None) if bindable else intervention
        handlers.setdefault(site, []).append(_per_prompt(_phased(on_prompt, on_new, steps), batch.size))
    kept: dict[str, list[Tensor]] = {}
    for site in _cache_sites(cache):
        hm.binding(site)
        kept[site] = []
        handlers.setdefault(site, []).append(_keeper(kept[site]))
    kwargs = {"do_sample": False, "pad_token_id": _pad_id(hm), **generate_kwargs}
    device = hm.device
    with torch.no_grad(), hm.hooks(handlers):
        sequences = hm.model.generate(
            input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device),
            max_new_tokens=max_new_tokens, **kwargs,
        )
    texts = hm.tokenizer.batch_decode(sequences[:, batch.width:], skip_special_tokens=True)
    return Generation(sequences.cpu(), batch, texts, kept)


def _phased(on_prompt, on_new, steps: StepSet | None = None):
    """The first call (the prompt, prefill: step 0) goes to ``on_prompt``, later calls (one token each) to
    ``on_new``; with ``steps``, only the calls of those steps."""
    calls = [0]

    def handler(act: Tensor, ctx):
        step = calls[0]
        calls[0] += 1
        if steps is not None and step not in steps:
            return None
        chosen = on_prompt if step == 0 else on_new
        return None if chosen is None else chosen(act, ctx)

    return handler


def _per_prompt(handler, size: int):
    """``handler`` (bound to ``size`` prompts) on an activation of ``size * k`` rows, prompt ``b``'s rows being
    ``b * k ... b * k + k - 1`` (how Hugging Face expands for ``num_return_sequences`` and beams): it runs on
    each of the ``k`` interleaved ``[size, ...]`` slices, so per-row parameters follow their prompt."""

    def expanded(act: Tensor, ctx):
        rows = act.shape[0]
        if rows == size:
            return handler(act, ctx)
        if rows % size:
            raise InputError(f"generation ran {rows} rows for {size} prompts: interventions bind to whole "
                             "prompts, and each prompt must have the same number of rows")
        k = rows // size
        parts = [handler(act[j::k], ctx) for j in range(k)]  # each [size, ...]
        if all(part is None for part in parts):
            return None
        parts = [act[j::k] if part is None else part for j, part in enumerate(parts)]
        return torch.stack(parts, 1).reshape(act.shape)  # [size, k, ...] -> rows b * k + j

    return expanded


def _cache_sites(cache: Sequence[str]) -> list[str]:
    if isinstance(cache, str):
        raise InputError(f"cache takes a list of sites, e.g. cache=[{cache!r}]")
    return list(dict.fromkeys(cache))


def _keeper(steps: list[Tensor]):
    """A handler that appends each step's activation (detached, on the CPU) to ``steps``."""

    def keep(act: Tensor, ctx) -> None:
        steps.append(act.detach().cpu())

    return keep


def _pad_id(hm) -> int | None:
    tokenizer = hm.tokenizer
    if tokenizer is None:
        return None
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
