"""Score many direction sets at one site in the same packed forwards, for several label sets.

:func:`~interp.methods.score` scores one set of directions (one per position) at a site. A
protocol scores many at the same site: every method's directions, a task's DAS and its control's.
Their test rows differ only in the basis they carry, so :func:`score_sets` stacks them all as rows
``(set m, position p, example i)`` of the same packed forwards resumed at the site's layer
(:mod:`interp.graph.packing`), and gathers each row's log-probabilities for every label set (a
control task has the same sentences, other labels: its scores come from the same forward).

>>> import interp, torch
>>> from interp.methods import PairData, score
>>> hm = interp.models.tiny("llama")
>>> data = PairData.from_texts(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                            base_positions=[[1, 4]], source_positions=[[1, 4]],
...                            base_labels=[" is"], source_labels=[" are"])
>>> direction = torch.ones(64) / 8
>>> sets = [[None, None], [direction, direction]]            # vanilla; one direction at both positions
>>> (scores,) = score_sets(hm, data, "resid_pre.1", sets, [(data.base_labels, data.source_labels)])
>>> len(scores), scores[1].odds_ratio.shape                  # one Scores per set (and label set)
(2, torch.Size([2, 1]))
>>> alone = score(hm, data, "resid_pre.1", [direction, direction])
>>> torch.allclose(scores[1].odds_ratio, alone.odds_ratio, atol=1e-4)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.packing import BaseState, base_state
from interp.graph.resume import resume_support
from interp.graph.sites import parse_site
from interp.interventions.base import site_shape
from interp.methods.pairs import PairData
from interp.methods.rows import prefix_site
from interp.methods.scoring import Direction, Labels, Scores, as_basis, clean_logprobs, packed_star, score


def source_values(hm, data: PairData, sites: Sequence[str]) -> dict[str, Tensor]:
    """``{site: [n, P, d]}`` the sources' values at their positions, every site from one forward."""
    cache = hm.run(data.source, cache=list(sites), logits=False).cache
    rows = torch.arange(data.n)[:, None]
    return {site: cache[site][rows.to(cache[site].device), data.absolute("source").to(cache[site].device)]
            for site in sites}


def can_pack(hm, data: PairData, site: str) -> bool:
    """Whether rows at ``site`` can run packed (a site inside a layer, a model that resumes with a KV cache)."""
    return prefix_site(hm, site) is not None and resume_support(hm, data.base.width).ok


def score_sets(hm, data: PairData, site: str, sets: Sequence[Sequence[Direction]], label_sets: Sequence[Labels], *,
               max_rows: int = 256, clean: Sequence[Tensor] | None = None, state: BaseState | None = None,
               sources: Tensor | None = None) -> list[list[Scores]]:
    """``[label set][set]`` :class:`Scores` of each direction set (one direction per position of
    ``data``, None = vanilla) at ``site``, scored against each label set.

    ``clean``: :func:`clean_logprobs` if known; ``state``: the base run's packing state at the site's
    layer and ``sources``: the sources' ``[n, P, d]`` values at ``site`` (:func:`source_values`), if
    already computed for several sites. Where rows cannot be packed, each set is scored by
    :func:`~interp.methods.score` (the same numbers, one set at a time).
    """
    n, n_pos = data.n, data.n_positions
    if any(len(directions) != n_pos for directions in sets):
        raise InputError(f"each direction set needs {n_pos} directions (one per position); got "
                         f"{[len(d) for d in sets]}")
    clean = clean_logprobs(hm, data, label_sets) if clean is None else list(clean)
    if not can_pack(hm, data, site):
        return [[score(hm, _relabelled(data, labels), site, list(directions), max_rows=max_rows, clean=c)
                 for directions in sets] for labels, c in zip(label_sets, clean)]
    bases = [[as_basis(d) for d in directions] for directions in sets]
    width = (site_shape(hm, site) or (None,))[-1]
    wrong = sorted({b.shape[0] for row in bases for b in row if b is not None and b.shape[0] != width})
    if wrong:
        raise InputError(f"directions have width {wrong[0]}, but {site} has width {width}")
    ranks = [{b.shape[1] for b in row if b is not None} for row in bases]
    if any(len(r) > 1 for r in ranks):
        raise InputError("the directions of one set have different ranks; score them separately")
    if sources is None:
        sources = source_values(hm, data, [site])[site]
    if state is None:
        state = base_state(hm, data.base, parse_site(prefix_site(hm, site)).layer,
                           prefix=int(data.absolute("base").max()))
    rank_of = [min(r) if r else 0 for r in ranks]  # 0: vanilla only (rides with any rank)
    groups = sorted(set(rank_of) - {0}) or [1]
    star = torch.empty(len(label_sets), len(sets), n_pos, n, 2)
    for rank in groups:  # one series of packed forwards per rank (rank-1 directions: all of them)
        members = [m for m, r in enumerate(rank_of) if r == rank or (r == 0 and rank == groups[0])]
        basis = torch.zeros(len(members), n_pos, width, rank)  # [M, P, d, k]
        full = torch.zeros(len(members), n_pos, dtype=torch.bool)
        for j, m in enumerate(members):
            for p, b in enumerate(bases[m]):
                if b is None:
                    full[j, p] = True
                else:
                    basis[j, p] = b
        star[:, members] = packed_star(hm, data, site, basis, full, label_sets, state, sources, max_rows)
    result = []
    for s, c in enumerate(clean):
        odds = (c[:, 0] - c[:, 1])[None, None] + (star[s, ..., 1] - star[s, ..., 0])  # [M, P, n]
        result.append([Scores(odds[m], star[s, m, ..., 1] > star[s, m, ..., 0], c[:, 0] > c[:, 1], list(data.names),
                              "packed") for m in range(len(sets))])
    return result


def _relabelled(data: PairData, labels: Labels) -> PairData:
    return replace(data, base_labels=labels[0], source_labels=labels[1])


__all__ = ["can_pack", "clean_logprobs", "score_sets", "source_values"]
