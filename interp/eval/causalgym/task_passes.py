"""The plain forwards a CausalGym task needs at every layer of a sweep, run once per task.

Every job of a task (one per layer) reads the same plain runs: the training pairs' activations at
the aligned positions (the direction methods fit to them; DAS interchanges the sources' values),
the training bases' ``resid_pre.L`` and keys/values (DAS resumes its steps there), and the test
pairs' clean log-probabilities, sources' values and base states (scoring resumes there). They do not
depend on the layer being computed, so :func:`task_passes` runs them for **all** the sweep's sites
at once, and a worker keeps the latest task's (:meth:`interp.exec.Worker.memo_latest`): the next
layer's job of the same task starts from them. Caching more sites in a forward does not change the
values cached, so a job computes the same numbers whichever job of its task ran first, on whichever
worker.

>>> import interp
>>> from interp.methods import PairData
>>> hm = interp.models.tiny("llama")
>>> data = PairData.from_texts(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                            base_positions=[[1, 4]], source_positions=[[1, 4]],
...                            base_labels=[" is"], source_labels=[" are"])
>>> passes = train_passes(hm, data, ["resid_pre.0", "resid_pre.1"], fitted=True, das=True)
>>> passes.activations["resid_pre.1"][1].shape         # the sources' values: [pairs, positions, d]
torch.Size([1, 2, 64])
>>> sorted(passes.states)                              # DAS resumes its steps from these layers
[0, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from interp.graph.packing import BaseState, base_states
from interp.graph.sites import parse_site
from interp.methods.pairs import PairData
from interp.methods.rows import prefix_site
from interp.methods.score_sets import can_pack, clean_logprobs, source_values


@dataclass
class TrainPasses:
    """The training pairs' plain runs: ``activations[site] = (base [n, P, d], source [n, P, d])`` at the
    aligned positions (the model's dtype and device), ``states[layer]``: the bases' packing state
    (DAS training; empty when the rows cannot be packed)."""

    activations: dict[str, tuple[Tensor, Tensor]]
    states: dict[int, BaseState]


@dataclass
class ScoringPasses:
    """The test pairs' plain runs: ``clean[s]`` ``[n, 2]`` log-probabilities per label set, ``sources[site]``
    ``[n, P, d]``, ``states[layer]`` (empty when the rows cannot be packed)."""

    clean: list[Tensor]
    sources: dict[str, Tensor]
    states: dict[int, BaseState]


def aligned(hm, data: PairData, side: str, sites: Sequence[str]) -> dict[str, Tensor]:
    """``{site: [n, P, d]}`` one side's (``"base"`` or ``"source"``) values at its aligned positions, every
    site from one forward."""
    if side == "source":
        return source_values(hm, data, sites)
    cache = hm.run(data.base, cache=list(sites), logits=False).cache
    rows = torch.arange(data.n)[:, None]
    return {site: cache[site][rows.to(cache[site].device), data.absolute("base").to(cache[site].device)]
            for site in sites}


def _layers(hm, sites: Sequence[str]) -> list[int]:
    return sorted({parse_site(prefix_site(hm, site)).layer for site in sites})


def train_passes(hm, data: PairData, sites: Sequence[str], *, fitted: bool, das: bool) -> TrainPasses:
    """The runs over the training pairs that the direction methods (``fitted``) and DAS (``das``) read."""
    sources = source_values(hm, data, sites) if fitted or das else {}
    bases = aligned(hm, data, "base", sites) if fitted else {}
    activations = {site: (bases.get(site), sources[site]) for site in sources}
    states = {}
    if das and all(can_pack(hm, data, site) for site in sites):
        states = base_states(hm, data.base, _layers(hm, sites), prefix=int(data.absolute("base").max()))
    return TrainPasses(activations, states)


def scoring_passes(hm, data: PairData, sites: Sequence[str],
                   label_sets: Sequence[tuple[Tensor, Tensor]]) -> ScoringPasses:
    """The runs over the test pairs that scoring reads (clean log-probabilities for every label set)."""
    clean = clean_logprobs(hm, data, label_sets)
    sources = source_values(hm, data, sites)
    states = {}
    if can_pack(hm, data, sites[0]):
        states = base_states(hm, data.base, _layers(hm, sites), prefix=int(data.absolute("base").max()))
    return ScoringPasses(clean, sources, states)


__all__ = ["ScoringPasses", "TrainPasses", "aligned", "scoring_passes", "train_passes"]
