"""DAS training the CausalGym way, fast: a rank-``k`` rotation per position, trained on the
counterfactual label with the model frozen.

Objective: cross-entropy of the intervened base run's next-token distribution at the last prompt
token against the **source** label. Adam, ``lr`` with linear warm-up (``warmup`` share of the
steps) and linear decay to 0, ``steps`` steps of ``batch_size`` pairs (one epoch of 400 pairs
by default), pairs drawn in a seeded order shared by every position.

>>> import interp
>>> from interp.methods import PairData, train_das
>>> hm = interp.models.tiny("llama")
>>> data = PairData.from_texts(hm, ["The key to the cabinets", "The keys to the cabinet"] * 2,
...                            ["The keys to the cabinet", "The key to the cabinets"] * 2,
...                            base_positions=[[1, 4]] * 4, source_positions=[[1, 4]] * 4,
...                            base_labels=[" is", " are"] * 2, source_labels=[" are", " is"] * 2)
>>> result = train_das(hm, data, "resid_pre.1", steps=3, batch_size=2)
>>> len(result.interventions), result.losses.shape      # one DAS per position; loss per step, position
(2, torch.Size([3, 2]))
>>> result.interventions[0]
DAS(site='resid_pre.1', dim=64, rank=1, rotation=[64, 1])

Why it is fast (vs one full forward per step per position, as pyvene-based training does):

- the frozen prefix runs once: the sources' site values and the bases' ``resid_pre.L`` (with
  every layer's keys and values) are cached before training; each step resumes at layer ``L``;
- the positions of one layer train together: each step stacks ``batch_size × P`` rows, each row
  carrying its own position's DAS (their parameters are disjoint and Adam is per-parameter, so
  this equals training them one by one);
- a row recomputes only the tokens its edit can change (from its position on); the base's keys
  and values stand in for the tokens before, and the rows are packed end to end into one
  sequence, no padding (:mod:`interp.graph.packing`; models without a KV cache run full rows);
- only the last prompt token is unembedded, and the backward pass computes gradients for the
  DAS parameters only (never for the frozen weights).

:func:`train_das_reference` is the plain loop (full forward of source and base per step and
position) that the fast trainer is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.packing import BaseState, Packing, base_state, packed_last_logits
from interp.graph.resume import resume_support, warn_slow_path
from interp.graph.sites import parse_site
from interp.interventions import DAS
from interp.interventions.positions import Slots
from interp.methods.das_config import DASConfig
from interp.methods.pairs import PairData, _rows
from interp.methods.rows import interchanges, last_logprobs, prefix_site
from interp.methods.score_sets import source_values as all_source_values


@dataclass
class DASResult:
    """``interventions[p]``: the trained DAS of position ``p``; ``losses [steps, P]``."""

    interventions: list[DAS]
    losses: Tensor
    path: str = "packed"  # how the steps ran: "packed", "resumed-rows" (at resid_pre.L) or "full-rows"

    @property
    def bases(self) -> Tensor:
        """``[P, d, rank]`` the learned orthonormal bases."""
        return torch.stack([das.basis.detach() for das in self.interventions])


def schedule(step: int, steps: int, warmup: float) -> float:
    """Linear warm-up over ``int(warmup · steps)`` steps, then linear decay to 0 (as in HF's
    ``get_linear_schedule_with_warmup``)."""
    n_warm = int(warmup * steps)
    if step < n_warm:
        return step / max(1, n_warm)
    return max(0.0, (steps - step) / max(1, steps - n_warm))


def batch_order(n: int, steps: int, batch_size: int, seed: int) -> list[Tensor]:
    """The pairs of each step: seeded permutations of ``range(n)``, one after another."""
    generator = torch.Generator().manual_seed(int(seed))
    need = steps * batch_size
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-need // n))] or [torch.zeros(0)])
    return [order[s * batch_size:(s + 1) * batch_size] for s in range(steps)]


def _new_das(hm, site: str, rank: int, seed: int, count: int) -> list[DAS]:
    dim = _width(hm, site)
    return [DAS(site, dim=dim, rank=rank, seed=seed) for _ in range(count)]


def _width(hm, site: str) -> int:
    from interp.interventions.base import site_shape

    hm.binding(site)  # an unknown or misspelt site: a SiteError with the close matches
    shape = site_shape(hm, site)
    if shape is None or len(shape) != 1:
        raise InputError(f"DAS training here needs a site with one vector per token (resid_*, attn_out, "
                         f"mlp_out, mlp_post); {site!r} has shape {shape}")
    return shape[0]


def _optimiser(dases: list[DAS], lr: float, steps: int, warmup: float):
    params = [p for das in dases for p in das.parameters()]
    optimiser = torch.optim.Adam(params, lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: schedule(s, steps, warmup))
    return params, optimiser, scheduler


def train_das(hm, data: PairData, site: str, config: DASConfig | None = None, *, rank: int | None = None,
              steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
              warmup: float | None = None, seed: int = 0, positions: list[int] | None = None,
              packed: bool | None = None) -> DASResult:
    """Train one DAS per position column of ``data`` (or those in ``positions``) at ``site``, together.

    ``config``: the training settings (default :class:`~interp.methods.DASConfig`); ``rank``, ``steps``,
    ``batch_size``, ``lr`` and ``warmup`` given as keywords replace its fields.

    ``site``: a per-token vector site of one layer (e.g. ``resid_pre.L``, ``resid_post.L``,
    ``attn_out.L``). Returns plain :class:`interp.interventions.DAS` objects: use them with
    ``das.using(source=..., positions=..., source_positions=...)`` or score them with
    :func:`interp.methods.score`.

    ``packed``: run each step as one packed sequence of the tokens an edit can change
    (:mod:`interp.graph.packing`; default when the model takes a KV cache), or as full base
    rows resumed at ``resid_pre.L`` (``False``). Both give the same losses up to float rounding.
    """
    given = {"rank": rank, "steps": steps, "batch_size": batch_size, "lr": lr, "warmup": warmup}
    settings = replace(config or DASConfig(), **{k: v for k, v in given.items() if v is not None})
    if positions is not None:
        data = data.subset(range(data.n), positions)
    return _train(hm, data, site, [data.source_labels], settings, seed, packed)[0]


def train_das_sides(hm, data: PairData, site: str, labels: Sequence[Tensor], config: DASConfig | None = None, *,
                    seed: int = 0, packed: bool | None = None, sources: Tensor | None = None,
                    state: BaseState | None = None) -> list[DASResult]:
    """:func:`train_das` once per set of source labels ``labels[j]`` (``[n]`` token ids: e.g. a task's
    and its control's), trained together: each step's rows carry every side's DAS of every position
    (disjoint parameters, per-parameter Adam, the same pairs in the same order, the same initial
    basis), so each side's result equals its own :func:`train_das` run up to float rounding.

    ``sources`` ``[n, P, d]`` (the sources' values at ``site`` and their positions) and ``state`` (the
    bases' :func:`~interp.graph.packing.base_state` at the site's layer), when already computed (e.g.
    for every layer of a sweep at once), spare the plain runs that would compute them.

    >>> import interp
    >>> from interp.methods import PairData
    >>> hm = interp.models.tiny("llama")
    >>> data = PairData.from_texts(hm, ["The key to the cabinets", "The keys to the cabinet"],
    ...                            ["The keys to the cabinet", "The key to the cabinets"], base_positions=[[1, 4]] * 2,
    ...                            source_positions=[[1, 4]] * 2, base_labels=[" is", " are"],
    ...                            source_labels=[" are", " is"])
    >>> two_steps = DASConfig(steps=2, batch_size=2)
    >>> task, control = train_das_sides(hm, data, "resid_pre.1", [data.source_labels, data.base_labels], two_steps)
    >>> alone = train_das(hm, data, "resid_pre.1", two_steps)
    >>> torch.allclose(task.bases, alone.bases, atol=1e-5), control.losses.shape
    (True, torch.Size([2, 2]))
    """
    return _train(hm, data, site, [torch.as_tensor(x, dtype=torch.long).flatten() for x in labels],
                  config or DASConfig(), seed, packed, sources, state)


def _train(hm, data: PairData, site: str, labels: list[Tensor], settings: DASConfig, seed: int,
           packed: bool | None, sources: Tensor | None = None, state: BaseState | None = None) -> list[DASResult]:
    """The training loop of :func:`train_das` / :func:`train_das_sides`: ``len(labels)`` sides × ``P`` positions."""
    rank, steps, batch_size, lr, warmup = (settings.rank, settings.steps, settings.batch_size, settings.lr,
                                           settings.warmup)
    if any(len(x) != data.n for x in labels):
        raise InputError(f"each set of source labels needs {data.n} ids (one per pair); got {[len(x) for x in labels]}")
    n_pos, start_site = data.n_positions, prefix_site(hm, site)
    n_sides = len(labels)
    support = resume_support(hm, data.base.width)
    why_not = support.reason if start_site is not None else f"{site!r} is not a site inside a layer"
    can_pack = start_site is not None and support.ok
    if packed and not can_pack:
        raise InputError(f"packed training needs a Hugging Face causal LM that takes a KV cache and a site inside a "
                         f"layer; {hm.name} at {site!r} does not allow it ({why_not}): use packed=None or False")
    use_packed = can_pack and packed is not False
    path = "packed" if use_packed else "full-rows" if start_site is None else "resumed-rows"
    if packed is None and not can_pack:
        warn_slow_path(hm, "train_das", why_not, f"{path} steps")
    dases = _new_das(hm, site, rank, seed, n_sides * n_pos)  # side-major: das[j * P + p]
    params, optimiser, scheduler = _optimiser(dases, lr, steps, warmup)

    # the frozen prefix, once: the sources' site values at their positions, and the bases' resid_pre.L
    # (with every layer's keys/values when the model takes a KV cache: see interp.graph.packing)
    if sources is not None and tuple(sources.shape[:2]) != (data.n, n_pos):
        raise InputError(f"sources must hold [pairs, positions, d] = [{data.n}, {n_pos}, d] values; got "
                         f"{list(sources.shape)}")
    source_values = sources if sources is not None else all_source_values(hm, data, [site])[site]  # [n, P, d]
    base_index = data.absolute("base")  # [n, P]
    if use_packed:
        forward = _packed_forward(hm, data, site, start_site, state)
    else:
        forward = _resumed_forward(hm, data, site, start_site)

    losses = torch.zeros(steps, n_sides, n_pos)
    for step, idx in enumerate(batch_order(data.n, steps, batch_size, seed)):
        b = len(idx)
        basis = torch.stack([das.basis for das in dases]).repeat_interleave(b, 0)  # [S*P*b, d, k]; row = (j*P+p)*b+i
        rows = idx.repeat(n_sides * n_pos)
        logprobs = forward(rows, base_index[idx].T.reshape(-1).repeat(n_sides), source_values[idx].transpose(
            0, 1).reshape(n_pos * b, -1).repeat(n_sides, 1), basis)
        target = torch.cat([x[idx].repeat(n_pos) for x in labels]).to(logprobs.device)
        nll = -logprobs.gather(1, target[:, None])[:, 0].view(n_sides * n_pos, b).mean(1)  # [S*P]
        optimiser.zero_grad(set_to_none=True)
        nll.sum().backward(inputs=params)
        optimiser.step()
        scheduler.step()
        losses[step] = nll.detach().cpu().view(n_sides, n_pos)
    return [DASResult(dases[j * n_pos:(j + 1) * n_pos], losses[:, j], path) for j in range(n_sides)]


# A forward of the training loop: (example per row [R], base token per row [R], source value [R, d],
# basis [R, d, k]) -> last-token log-probabilities [R, vocab] of the intervened base rows, with a graph to the basis.
RowForward = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def _packed_forward(hm, data: PairData, site: str, start_site: str, state: BaseState | None = None) -> RowForward:
    """Rows packed into one sequence of only the tokens an edit can change (interp.graph.packing)."""
    layer = parse_site(start_site).layer
    if state is None:
        state = base_state(hm, data.base, layer, prefix=int(data.absolute("base").max()))
    elif state.layer != layer or state.batch.input_ids.shape != data.base.input_ids.shape:
        raise InputError(f"the base state given is for layer {state.layer} and inputs of shape "
                         f"{tuple(state.batch.input_ids.shape)}; training at {site!r} needs layer {layer} and "
                         f"{tuple(data.base.input_ids.shape)}")

    def forward(rows: Tensor, index: Tensor, source: Tensor, basis: Tensor) -> Tensor:
        packing = Packing(data.base, rows, index)
        slots = Slots(torch.zeros_like(packing.first), packing.first)  # each row's start token, end to end
        edits = interchanges(hm, site, slots, source, basis)
        return packed_last_logits(hm, state, packing, edits, grad=True).float().log_softmax(-1)

    return forward


def _resumed_forward(hm, data: PairData, site: str, start_site: str | None) -> RowForward:
    """Full base rows (right-padded), resumed at ``resid_pre.L`` when the model allows it."""
    base_prefix = hm.run(data.base, cache=[start_site], logits=False).cache[start_site] if start_site else None

    def forward(rows: Tensor, index: Tensor, source: Tensor, basis: Tensor) -> Tensor:
        sub = _rows(data.base, rows)
        start = None if base_prefix is None else (start_site, base_prefix[rows, :sub.width])
        edits = interchanges(hm, site, Slots(torch.arange(len(index)), index), source, basis)
        return last_logprobs(hm, sub, edits, start=start, grad=True)

    return forward


def train_das_reference(hm, data: PairData, site: str, *, rank: int = 1, steps: int = 100, batch_size: int = 4,
                        lr: float = 5e-3, warmup: float = 0.1, seed: int = 0) -> DASResult:
    """The plain loop: per position, per step, a full source forward and a full intervened base forward."""
    dases, all_losses = [], []
    for p in range(data.n_positions):
        (das,) = _new_das(hm, site, rank, seed, 1)
        params, optimiser, scheduler = _optimiser([das], lr, steps, warmup)
        losses = []
        for idx in batch_order(data.n, steps, batch_size, seed):
            sub = data.subset(idx)
            run = das.using(source=sub.source, positions=sub.base_positions[:, p:p + 1].tolist(),
                            source_positions=sub.source_positions[:, p:p + 1].tolist())
            out = hm.run(sub.base, interventions=[run], grad=True)
            logprobs = out.last_logits.float().log_softmax(-1)
            loss = -logprobs.gather(1, sub.source_labels[:, None].to(logprobs.device)).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward(inputs=params)
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        dases.append(das)
        all_losses.append(torch.tensor(losses))
    return DASResult(dases, torch.stack(all_losses, 1), "full-rows")
