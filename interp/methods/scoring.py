"""Score interventions on test pairs: log odds-ratio, interchange-intervention accuracy (IIA),
behavioural accuracy, as the CausalGym protocol defines them (docs/formats.md).

With ``y_b``/``y_s`` the base/source label ids, ``p`` the plain base run, ``p*`` the intervened
one, log-probabilities over the full vocabulary at the last prompt token:

- log odds-ratio = [log p(y_b) − log p(y_s)] + [log p*(y_s) − log p*(y_b)]
- IIA = share with log p*(y_s) > log p*(y_b); behavioural accuracy = share with log p(y_b) > log p(y_s)

>>> import interp, torch
>>> from interp.methods import PairData, score
>>> hm = interp.models.tiny("llama")
>>> data = PairData.from_texts(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                            base_positions=[[1, 4]], source_positions=[[1, 4]],
...                            base_labels=[" is"], source_labels=[" are"])
>>> s = score(hm, data, "resid_pre.1", [None, torch.ones(64) / 8])   # vanilla at 1, a direction at 4
>>> s.odds_ratio.shape, s.iia.shape, s.behaviour.shape                 # [P, n], [P, n], [n]
(torch.Size([2, 1]), torch.Size([2, 1]), torch.Size([1]))

Every position and direction is scored in one batched forward over the test split (``max_rows``
rows at a time), resumed at the site's layer from the base run's cached prefix; on models that
take a KV cache the rows are packed into one sequence of only the tokens each edit can change
(:mod:`interp.graph.packing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.graph.packing import BaseState, Packing, base_state, packed_last_logits, token_chunks
from interp.graph.resume import resume_support, warn_slow_path
from interp.graph.sites import parse_site
from interp.interventions.base import site_shape
from interp.interventions.positions import Slots
from interp.methods.pairs import PairData
from interp.methods.rows import interchanges, last_logprobs, prefix_site

Direction = Tensor | object | None  # [d] or [d, k] tensor, a DAS/Subspace (its .basis), or None = vanilla


@dataclass
class Scores:
    """Per position ``p`` and example ``i``: ``odds_ratio[p, i]``, ``iia[p, i]``; ``behaviour[i]``."""

    odds_ratio: Tensor  # [P, n] float
    iia: Tensor  # [P, n] bool
    behaviour: Tensor  # [n] bool
    names: list
    path: str = "packed"  # how the intervened rows ran: "packed", "resumed-rows" or "full-rows"

    def summary(self) -> list[dict]:
        """One dict per position: mean log odds-ratio, IIA, behavioural accuracy, n."""
        return [{"position": name, "odds_ratio": float(self.odds_ratio[p].mean()), "iia": float(
            self.iia[p].float().mean()), "behaviour": float(self.behaviour.float().mean()), "n": self.iia.shape[1]}
            for p, name in enumerate(self.names)]


def as_basis(direction: Direction) -> Tensor | None:
    """``[d, k]`` orthonormal basis (None for full patching)."""
    if direction is None or isinstance(direction, str) and direction == "vanilla":
        return None
    if hasattr(direction, "basis"):
        direction = direction.basis
    if not isinstance(direction, Tensor):
        raise InputError(f"a direction must be a tensor, a DAS/Subspace or None (vanilla); got {direction!r}")
    basis = direction.detach().float()
    return basis[:, None] if basis.ndim == 1 else basis


Labels = tuple[Tensor, Tensor]  # ([n] base label ids, [n] source label ids)


def clean_logprobs(hm, data: PairData, label_sets: Sequence[Labels]) -> list[Tensor]:
    """``[n, 2]`` log p(y_b), log p(y_s) of the plain base runs, per label set (one forward for all)."""
    logprobs = last_logprobs(hm, data.base, [])
    rows = torch.arange(data.n)
    return [torch.stack([logprobs[rows, b], logprobs[rows, s]], 1).cpu() for b, s in label_sets]


def base_logprobs(hm, data: PairData) -> Tensor:
    """``[n, 2]`` log p(y_b), log p(y_s) of the plain base runs."""
    return clean_logprobs(hm, data, [(data.base_labels, data.source_labels)])[0]


def packed_star(hm, data: PairData, site: str, basis: Tensor, full: Tensor, label_sets: Sequence[Labels],
                state: BaseState, sources: Tensor, max_rows: int) -> Tensor:
    """``[S, M, P, n, 2]`` intervened logits of y_b, y_s (their log-probabilities up to the row's log-normaliser,
    which their difference cancels) of rows ``(set m, position p, example i)`` for each label set ``s``, in
    packed forwards resumed at the site's layer (``state``), the unembedding computing only those columns.

    ``basis`` ``[M, P, d, k]`` and ``full`` ``[M, P]`` (vanilla: the whole vector) per set and position;
    ``sources`` ``[n, P, d]``: the sources' values at ``site``."""
    n_sets, n_pos, n = basis.shape[0], data.n_positions, data.n
    base_index = data.absolute("base")
    # rows (m, p, i), an example's rows side by side: a pack caches each example's prefix once for all its rows
    rows = torch.cartesian_prod(torch.arange(n), torch.arange(n_sets), torch.arange(n_pos))[:, [1, 2, 0]]
    answers = torch.stack([ids for pair in label_sets for ids in pair], 1)  # [n, 2S]: (y_b, y_s) per label set
    star = torch.empty(len(label_sets), n_sets, n_pos, n, 2)
    for chunk in range(0, len(rows), max_rows):
        m, p, i = rows[chunk:chunk + max_rows].unbind(1)
        out = []
        for part in token_chunks(data.base.last_index[i] - base_index[i, p] + 1):
            packing = Packing(data.base, i[part], base_index[i[part], p[part]])
            slots = Slots(torch.zeros_like(packing.first), packing.first)  # each row's start token
            edits = interchanges(hm, site, slots, sources[i[part], p[part]], basis[m[part], p[part]],
                                 full[m[part], p[part]])
            out.append(packed_last_logits(hm, state, packing, edits, columns=answers[i[part]]).float())
        logits = torch.cat(out).cpu()  # [rows, 2S]
        for s in range(len(label_sets)):
            star[s, m, p, i] = logits[:, 2 * s:2 * s + 2]
    return star


def score(hm, data: PairData, site: str, directions: Direction | Sequence[Direction], *, max_rows: int = 256,
          clean: Tensor | None = None) -> Scores:
    """Score ``directions`` (one per position column of ``data``, or one for all) at ``site``.

    ``clean``: the plain runs' ``[n, 2]`` log-probs if already known (:func:`base_logprobs`).
    """
    n, n_pos = data.n, data.n_positions
    if isinstance(directions, (list, tuple)):
        if len(directions) != n_pos:
            raise InputError(f"{len(directions)} directions for {n_pos} positions")
    else:
        directions = [directions] * n_pos
    bases = [as_basis(d) for d in directions]
    ranks = {b.shape[1] for b in bases if b is not None}
    if len(ranks) > 1:
        raise InputError(f"directions of different ranks {sorted(ranks)} cannot share one forward; score them "
                         "separately")
    hm.binding(site)
    width = (site_shape(hm, site) or (None,))[-1]
    wrong = sorted({b.shape[0] for b in bases if b is not None and width is not None and b.shape[0] != width})
    if wrong:  # before any forward
        raise InputError(f"directions have width {wrong[0]}, but {site} has width {width}")
    start_site = prefix_site(hm, site)
    source_acts = hm.run(data.source, cache=[site], logits=False).cache[site]
    dim = source_acts.shape[-1]
    rank = ranks.pop() if ranks else 1
    basis = torch.stack([torch.zeros(dim, rank) if b is None else b for b in bases])  # [P, d, k]
    if basis.shape[1] != dim:
        raise InputError(f"directions have width {basis.shape[1]}, but {site} has width {dim}")
    full = torch.tensor([b is None for b in bases])
    source_values = source_acts[torch.arange(n, device=source_acts.device)[:, None],
                                data.absolute("source").to(source_acts.device)]  # [n, P, d]
    del source_acts
    base_index = data.absolute("base")
    support = resume_support(hm, data.base.width)
    path = "packed" if start_site is not None and support.ok else "full-rows" if start_site is None else "resumed-rows"
    if path != "packed":
        why_not = support.reason if start_site is not None else f"{site!r} is not a site inside a layer"
        warn_slow_path(hm, "score", why_not, f"{path} forwards")
    if path == "packed":  # rows packed: only the tokens an edit can change
        state = base_state(hm, data.base, parse_site(start_site).layer, prefix=int(base_index.max()))
        labels = [(data.base_labels, data.source_labels)]
        star = packed_star(hm, data, site, basis[None], full[None], labels, state, source_values, max_rows)[0, 0]
        clean = base_logprobs(hm, data) if clean is None else clean
        odds = (clean[:, 0] - clean[:, 1])[None] + (star[..., 1] - star[..., 0])
        return Scores(odds, star[..., 1] > star[..., 0], clean[:, 0] > clean[:, 1], list(data.names), path)
    # full rows, resumed at resid_pre.L when the model allows it
    prefix = hm.run(data.base, cache=[start_site], logits=False).cache[start_site] if start_site else None

    def last_logprobs_of(i: Tensor, p: Tensor) -> Tensor:
        batch = Batch(data.base.input_ids[i], data.base.attention_mask[i])
        slots = Slots(torch.arange(len(i)), base_index[i, p])
        edits = interchanges(hm, site, slots, source_values[i, p], basis[p], full[p])
        return last_logprobs(hm, batch, edits, start=None if prefix is None else (start_site, prefix[i]))

    rows = [(p, i) for p in range(n_pos) for i in range(n)]
    star = torch.empty(n_pos, n, 2)
    for chunk in range(0, len(rows), max_rows):
        part = torch.tensor(rows[chunk:chunk + max_rows])
        p, i = part[:, 0], part[:, 1]
        logprobs = last_logprobs_of(i, p)
        ids = torch.stack([data.base_labels[i], data.source_labels[i]], 1).to(logprobs.device)
        star[p, i] = logprobs.gather(1, ids).cpu()
    clean = base_logprobs(hm, data) if clean is None else clean
    odds = (clean[:, 0] - clean[:, 1])[None] + (star[..., 1] - star[..., 0])
    return Scores(odds, star[..., 1] > star[..., 0], clean[:, 0] > clean[:, 1], list(data.names), path)
