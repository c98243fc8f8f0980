"""Batched activation-patching sweep over layers × positions (× heads): the grid TransformerLens's
``generic_activation_patch`` loops over, one forward per patch.

>>> import interp
>>> from interp.interventions import patch_sweep
>>> hm = interp.models.tiny("gpt2")
>>> are, is_ = hm.tokenizer(" are")["input_ids"][0], hm.tokenizer(" is")["input_ids"][0]
>>> result = patch_sweep(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                      kind="resid_pre", metric=lambda lg: lg[..., are] - lg[..., is_])
>>> result.values.shape        # [layers, positions, examples]: metric(patched) - metric(clean)
torch.Size([2, 6, 1])
>>> bool(((result.patched - result.clean) == result.values).all())   # result.patched: the metric itself
True
>>> per_head = patch_sweep(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                        kind="z", per_head=True, metric=lambda lg: lg[..., are] - lg[..., is_])
>>> per_head.values.shape      # [layers, positions, heads, examples]: each head patched alone
torch.Size([2, 6, 4, 1])

``values`` is the **effect** of each patch, ``metric(patched) - metric(clean)``, the same quantity
:func:`attribution_patch` estimates (its ``values``, with ``estimated=True``); ``patched`` holds
the metric of each patched run itself (what TransformerLens's patching functions return) and
``clean`` the unpatched metric. Without ``metric``, the metric is the last logits themselves.

``per_head=True`` (head-resolved kinds ``q``, ``k``, ``v``, ``z``) gives one row per head: the
patch of that head alone, as ``Patch(site, heads=[h])`` does; ``k`` and ``v`` have the model's
key/value heads (fewer than its query heads under grouped-query attention). ``per_head=[0, 3]``
sweeps only those heads.

How it avoids the one-forward-per-patch anti-pattern:

- the base and source runs happen once; every patch value comes from the source cache;
- patches are stacked along the batch dimension, ``max_rows`` rows per forward, each row
  patched at its own layer, position (and head);
- a forward starts at ``resid_pre`` of the lowest layer it patches, from the base run's cached
  residual stream, so the frozen layers below are never recomputed;
- a forward runs only the tokens from the lowest position it patches on: a patch cannot change
  earlier tokens, so the base run's keys and values stand in for them (:meth:`HookedModel.resume`),
  and logits are computed at each row's last token only. Which rows share a forward (a rectangle
  of layers ≥ f × positions ≥ s) is chosen by a small cost model that weighs the fixed cost of
  running a layer against the tokens it saves (see :func:`_plan_forwards`);
- a row whose source value equals the base's own value bit for bit (tokens a minimal pair shares
  up to and including the patched one) is a no-op patch: it gets the clean value, no forward.

Values equal the serial loop's up to float summation order (keys/values of the prefix and the
per-token matmuls come from differently shaped batches): within 1e-6 on the tiny test models,
~2e-5 on SmolLM2-135M-Instruct's logit differences. Models that cannot resume with a KV cache
(``hm.can_resume`` is False) run full sequences instead.

Positions are counted in each example's real tokens (``-1`` = last); ``source_positions``
(default: the same) in the source's, so minimal pairs that tokenise differently stay aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from interp.errors import InputError, SiteError
from interp.graph.inputs import Batch
from interp.graph.positions import integer_index, resolve_positions
from interp.graph.resume import resume_rows, resume_support, warn_slow_path
from interp.interventions.base import HEAD_KINDS, site_shape
from interp.interventions.patch import Patch
from interp.interventions.positions import Slots
from interp.progress import progress_bar

Metric = Callable[[Tensor], Tensor]  # last logits [..., vocab] -> [...] (or [..., m])


@dataclass
class SweepResult:
    """One patch per cell ``[layer_index, position_index, (head_index,) example, ...]`` (the head axis is
    there when ``heads`` is not None, a ``per_head`` sweep):

    - ``values``: the effect of the patch, ``metric(patched) - metric(clean)``; exact from
      :func:`patch_sweep`, a first-order estimate from :func:`attribution_patch` (``estimated=True``);
    - ``patched``: the metric of the patched run itself (for an estimate, ``clean + values``);
    - ``clean``: the metric without any patch, ``[examples, ...]``.
    """

    values: Tensor
    kind: str
    layers: list[int]
    positions: list[int]
    clean: Tensor = field(repr=False)
    heads: list[int] | None = None
    source_positions: list[int] | None = None  # None: the same as positions
    path: str = "kv-resume"  # "kv-resume": suffix forwards on the base's keys/values; "full-sequence": not
    estimated: bool = False  # True: values are attribution patching's first-order estimates
    patched: Tensor | None = field(default=None, repr=False)  # None: computed as clean + values

    def __post_init__(self) -> None:
        if self.patched is None:
            self.patched = self.values + self.clean.to(self.values.device)

    @property
    def quantity(self) -> str:
        """What ``values`` hold, in words."""
        what = "metric(patched) - metric(clean)"
        return f"first-order estimate of {what}" if self.estimated else what

    def table(self):
        """A tidy pandas table, one row per (layer, position, (head,) example), with the quantity in the
        column names: ``effect`` (= ``patched - clean``), ``patched`` and ``clean``; an attribution
        estimate has ``effect_estimate`` and ``patched_estimate`` instead."""
        import pandas as pd

        def cells(t: Tensor) -> Tensor:
            return (t if self.heads is not None else t.unsqueeze(2)).detach().cpu()

        values, patched = cells(self.values), cells(self.patched)
        if values.ndim != 4:
            raise InputError("table() needs a scalar metric per example; values have shape "
                             f"{list(self.values.shape)}")
        clean = self.clean.detach().cpu()
        suffix = "_estimate" if self.estimated else ""
        heads = self.heads if self.heads is not None else [None]
        rows = [
            {"site": f"{self.kind}.{layer}", "layer": layer, "position": pos,
             **({} if head is None else {"head": head}), "example": ex,
             f"effect{suffix}": float(values[i, j, h, ex]), f"patched{suffix}": float(patched[i, j, h, ex]),
             "clean": float(clean[ex])}
            for i, layer in enumerate(self.layers) for j, pos in enumerate(self.positions)
            for h, head in enumerate(heads) for ex in range(values.shape[3])
        ]
        return pd.DataFrame(rows)


@dataclass
class _Plan:
    base: Batch
    source: Batch
    kind: str
    layers: list[int]
    positions: list[int]
    source_positions: list[int]
    heads: list[int] | None
    base_idx: Tensor  # [N, P] absolute token indices in the base
    source_idx: Tensor  # [N, P] in the source

    def sites(self) -> list[str]:
        return [f"{self.kind}.{layer}" for layer in self.layers]


def _plan(hm, base, source, kind, layers, positions, source_positions, per_head=False) -> _Plan:
    """Tokenise, resolve positions and check sites and heads: every error before any forward."""
    base_batch, source_batch = hm.tokenize(base), hm.tokenize(source)
    if base_batch.size != source_batch.size:
        raise InputError(f"{base_batch.size} base examples but {source_batch.size} sources; pair them one to one")
    layers = list(range(hm.n_layers)) if layers is None else [
        hm.binding(f"{kind}.{integer_index(x, 'a layer')}").layer for x in _listed(layers, "layers")]
    if positions is None:
        positions = list(range(int(base_batch.lengths.min())))
    positions = [integer_index(p, "a sweep position") for p in _listed(positions, "positions")]
    source_positions = positions if source_positions is None else [
        integer_index(p, "a sweep source position") for p in _listed(source_positions, "source_positions")]
    if len(source_positions) != len(positions):
        raise InputError(f"{len(positions)} base positions but {len(source_positions)} source positions")
    base_idx = torch.cat([resolve_positions(p, base_batch) for p in positions], 1)  # [N, P]
    source_idx = torch.cat([resolve_positions(p, source_batch) for p in source_positions], 1)
    for layer in layers:
        hm.binding(f"{kind}.{layer}")
    heads = _heads_of(hm, kind, per_head)
    return _Plan(base_batch, source_batch, kind, layers, positions, source_positions, heads, base_idx, source_idx)


def _listed(values, what: str) -> list:
    """A sequence of sweep indices as a list; a single value or a string is an error that says how to write it."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputError(f"{what}={values!r}: give a list of integers, one per row of the sweep (e.g. {what}=[0, 2])")
    return list(values)


def _heads_of(hm, kind: str, per_head: bool | Sequence[int]) -> list[int] | None:
    """``per_head`` as a list of head indices (None: whole-site patches), checked against the site."""
    if per_head is False or per_head is None:
        return None
    if kind not in HEAD_KINDS:
        raise SiteError(f"per_head needs a per-head site kind (q, k, v or z), not {kind!r}")
    n = site_shape(hm, f"{kind}.0")[0]
    what = "key/value heads" if kind in ("k", "v") and n != hm.n_heads else "heads"
    if per_head is True:
        return list(range(n))
    heads = [integer_index(h, "a head index in per_head") for h in _listed(per_head, "per_head")]
    bad = [h for h in heads if not 0 <= h < n]
    if not heads or bad:
        raise InputError(f"head index {bad or '(none given)'} out of range: {kind} has {n} {what} (0..{n - 1})")
    return heads


@dataclass
class _Cells:
    """The rows of a sweep: row ``i`` patches ``kind.layer[i]`` of base example ``ex[i]`` at its
    token ``p[i]`` with the source's token ``q[i]`` (only head ``head[i]`` when heads are swept)."""

    layer: Tensor
    ex: Tensor
    p: Tensor
    q: Tensor
    head: Tensor | None

    def __len__(self) -> int:
        return len(self.layer)

    def take(self, idx: Tensor) -> _Cells:
        return _Cells(self.layer[idx], self.ex[idx], self.p[idx], self.q[idx],
                     None if self.head is None else self.head[idx])

    def slot(self, positions: Tensor) -> tuple[Tensor, ...]:
        """Index of each row's patched slot in a ``[batch, pos, (heads,) ...]`` activation."""
        return (self.ex, positions) if self.head is None else (self.ex, positions, self.head)

    @classmethod
    def of_cells(cls, plan: _Plan, layer_i: Tensor, j: Tensor, head_i: Tensor | None, ex: Tensor) -> _Cells:
        """Rows for cells given as indices into the plan's layers, positions and heads."""
        head = None if head_i is None else torch.tensor(plan.heads)[head_i]
        return cls(torch.tensor(plan.layers)[layer_i], ex, plan.base_idx[ex, j], plan.source_idx[ex, j], head)


def patch_sweep(
    hm, base: Sequence[str] | Batch, source: Sequence[str] | Batch, *, kind: str = "resid_pre",
    layers: Sequence[int] | None = None, positions: Sequence[int] | None = None,
    source_positions: Sequence[int] | None = None, per_head: bool | Sequence[int] = False,
    metric: Metric | None = None, max_rows: int = 64, progress: bool = False,
) -> SweepResult:
    """Patch ``kind.L`` at each (layer, position (, head)) from source into base, batched; see the module doc.
    ``progress``: a bar over the batched forwards, on a terminal only."""
    plan = _plan(hm, base, source, kind, layers, positions, source_positions, per_head)
    n, n_heads = plan.base.size, len(plan.heads or [None])
    grid = torch.meshgrid(*(torch.arange(s) for s in (len(plan.layers), len(plan.positions), n_heads, n)),
                          indexing="ij")
    layer_i, j, head_i, ex = (axis.flatten() for axis in grid)
    rows = _Cells.of_cells(plan, layer_i, j, None if plan.heads is None else head_i, ex)
    out, clean, path = _exact_values(hm, plan, rows, metric or (lambda logits: logits), max_rows, progress)
    shape = (len(plan.layers), len(plan.positions), *([n_heads] if plan.heads is not None else []), n)
    patched = torch.stack(out).reshape(*shape, *out[0].shape)
    return SweepResult(patched - clean, kind, plan.layers, plan.positions, clean, plan.heads, plan.source_positions,
                       path, patched=patched)


def _exact_values(hm, plan: _Plan, rows: _Cells, metric: Metric, max_rows: int,
                  progress: bool = False) -> tuple[list[Tensor], Tensor, str]:
    """``metric`` of the last logits of every patched row, of the clean base run, and the path that ran
    (``"kv-resume"``, or ``"full-sequence"`` with a :class:`SlowPathWarning` when the model cannot resume)."""
    kind = plan.kind
    support = resume_support(hm)
    if not support.ok:
        warn_slow_path(hm, "patch sweep", support.reason, "full-sequence forwards from the lowest patched layer",
                       stacklevel=4)
    src = hm.run(plan.source, cache=plan.sites(), logits=False).cache
    resume = sorted(set(rows.layer.tolist()))
    if support.ok:
        names = sorted({f"{k}.{layer}" for layer in resume for k in ("resid_pre", kind)})
        clean_run = hm.run(plan.base, cache=names, keep_kv=True)
        kv = clean_run.key_values
        todo = _changed_rows(src, clean_run.cache, kind, rows)
        forwards = _plan_forwards(rows.layer[todo], rows.p[todo], hm.n_layers, plan.base.width, max_rows)
        forwards = [(start, todo[chosen]) for start, chosen in forwards]
    else:  # a model we cannot hand a KV cache: resume from the lowest layer over full sequences
        clean_run = hm.run(plan.base, cache=[f"resid_pre.{layer}" for layer in resume])
        kv, order = None, torch.arange(len(rows))
        forwards = [(0, order[s:s + max_rows]) for s in range(0, len(order), max_rows)]
    clean = metric(clean_run.last_logits)
    # a row whose source value equals the base's, bit for bit (a shared prefix), is a no-op patch
    out = [clean[ex] for ex in rows.ex.tolist()]
    for start, chosen in progress_bar(iterable=forwards, total=len(forwards), progress=progress, desc="patch sweep",
                                      unit="forward"):
        part = rows.take(chosen)
        first = int(part.layer.min())
        patches = []
        for lay in sorted(set(part.layer.tolist())):
            sel = (part.layer == lay).nonzero().flatten()
            mine = part.take(sel)  # row i of the forward: its example's token p, from the source's token q
            patch = Patch(f"{kind}.{lay}", src, Slots(sel, mine.p - start, mine.head),
                          source_positions=Slots(mine.ex, mine.q, mine.head))
            patches.append(patch.bind(hm))
        logits = _suffix_forward(hm, plan.base, part.ex, start, first, clean_run.cache[f"resid_pre.{first}"], kv,
                                 patches)
        scored = metric(logits)
        for i, r in enumerate(chosen.tolist()):
            out[r] = scored[i]
    return out, clean, "kv-resume" if support.ok else "full-sequence"


def _changed_rows(src_cache, base_cache, kind: str, rows: _Cells) -> Tensor:
    """Rows whose source value differs from the base's own value at the patched slot."""
    keep = torch.ones(len(rows), dtype=torch.bool)
    for lay in set(rows.layer.tolist()):
        sel = (rows.layer == lay).nonzero().flatten()
        mine = rows.take(sel)
        src = src_cache[f"{kind}.{lay}"][mine.slot(mine.q)]
        base = base_cache[f"{kind}.{lay}"][mine.slot(mine.p)]
        keep[sel] = (src != base).flatten(1).any(1).cpu()
    return keep.nonzero().flatten()


def _plan_forwards(unit_layer: Tensor, unit_p: Tensor, n_layers: int, width: int, max_rows: int):
    """Split the sweep's rows into forwards, each a rectangle of (layers ≥ f) × (positions ≥ s):
    it starts at ``resid_pre.f`` and runs tokens s.. only, the base's keys and values serving
    tokens < s. Rectangles come from a two-level dynamic programme (bands of layers, then runs
    of positions within a band) that minimises a cost model of one forward:
    ``_FORWARD + layers × (_LAYER + rows × tokens)`` in token-layers (one token through one layer),
    since small batches cost far more per token than their arithmetic on CPU and GPU alike."""
    layer_set, p_set = sorted(set(unit_layer.tolist())), sorted(set(unit_p.tolist()))
    li = {v: i for i, v in enumerate(layer_set)}
    pi = {v: i for i, v in enumerate(p_set)}
    counts = [[0] * len(p_set) for _ in layer_set]
    for lay, p in zip(unit_layer.tolist(), unit_p.tolist()):
        counts[li[lay]][pi[p]] += 1

    def band_plan(a: int, b: int):  # layers layer_set[a:b], cheapest split of the positions
        col = [sum(counts[i][k] for i in range(a, b)) for k in range(len(p_set))]
        span = n_layers - layer_set[a]
        best = [(0.0, None)] * (len(p_set) + 1)
        for s in reversed(range(len(p_set))):
            rows, options = 0, []
            for e in range(s + 1, len(p_set) + 1):
                rows += col[e - 1]
                pieces = -(-rows // max_rows)
                cost = pieces * (_FORWARD + span * _LAYER) + span * rows * (width - p_set[s])
                options.append((cost + best[e][0], e))
            best[s] = min(options)
        return best

    best_layers = [(0.0, None, None)] * (len(layer_set) + 1)
    for a in reversed(range(len(layer_set))):
        options = []
        for b in range(a + 1, len(layer_set) + 1):
            plan = band_plan(a, b)
            options.append((plan[0][0] + best_layers[b][0], b, plan))
        best_layers[a] = min(options, key=lambda o: o[0])
    forwards, a = [], 0
    while a < len(layer_set):
        _, b, plan = best_layers[a]
        band = set(layer_set[a:b])
        in_band = torch.tensor([lay in band for lay in unit_layer.tolist()])
        s = 0
        while s < len(p_set):
            e = plan[s][1]
            chosen = (in_band & (unit_p >= p_set[s]) & (unit_p <= p_set[e - 1])).nonzero().flatten()
            for k in range(0, len(chosen), max_rows):
                forwards.append((p_set[s], chosen[k:k + max_rows]))
            s = e
        a = b
    return forwards


# the cost model's constants, in token-layers; rough CPU measurements on SmolLM2-135M-Instruct (a layer pass
# costs about as much as 50 tokens through it; a forward's embedding, cache set-up and head ~100)
_FORWARD, _LAYER = 100.0, 50.0


def _suffix_forward(hm, base: Batch, ex: Tensor, start: int, first: int, resid: Tensor, kv, patches) -> Tensor:
    """Last logits ``[rows, vocab]`` of base rows ``ex`` recomputed from token ``start`` and layer ``first`` on
    (:func:`interp.graph.resume.resume_rows`; ``kv`` None: full sequences)."""
    return resume_rows(hm, base, ex, (f"resid_pre.{first}", resid), kv, start, patches)


def serial_patch_sweep(
    hm, base, source, *, kind: str = "resid_pre", layers=None, positions=None, source_positions=None,
    per_head: bool | Sequence[int] = False, metric: Metric | None = None,
) -> SweepResult:
    """The reference loop: one full forward per (layer, position (, head)), as TransformerLens does it."""
    plan = _plan(hm, base, source, kind, layers, positions, source_positions, per_head)
    metric = metric or (lambda logits: logits)
    src = hm.run(plan.source, cache=plan.sites(), logits=False)
    values = []
    for layer in plan.layers:
        for j in range(len(plan.positions)):
            for head in plan.heads or [None]:
                # Patch counts positions in each example's real tokens: turn absolute indices into those
                patch = Patch(f"{kind}.{layer}", src.cache, (plan.base_idx[:, j] - plan.base.offsets)[:, None].tolist(),
                              source_positions=(plan.source_idx[:, j] - plan.source.offsets)[:, None].tolist(),
                              heads=None if head is None else [head])
                values.append(metric(hm.run(plan.base, interventions=[patch]).last_logits))
    shape = (len(plan.layers), len(plan.positions), *([len(plan.heads)] if plan.heads is not None else []))
    patched = torch.stack(values).reshape(*shape, *values[0].shape)
    clean = metric(hm.run(plan.base).last_logits)
    return SweepResult(patched - clean, kind, plan.layers, plan.positions, clean, plan.heads, plan.source_positions,
                       "full-sequence", patched=patched)
