"""Check attribution patching's top-k with the exact batched sweep (the AtP workflow: estimate
every patch cheaply, then run only the most promising ones for real).

>>> import interp
>>> from interp.interventions import attribution_patch, verify_top_k
>>> hm = interp.models.tiny("llama")
>>> are, is_ = hm.tokenizer(" are")["input_ids"][-1], hm.tokenizer(" is")["input_ids"][-1]
>>> metric = lambda lg: lg[..., are] - lg[..., is_]
>>> base, source = ["The key to the cabinets"], ["The keys to the cabinet"]
>>> est = attribution_patch(hm, base, source, kind="z", per_head=True, metric=metric)
>>> top = verify_top_k(hm, base, source, est, metric=metric, k=3)
>>> list(top.columns)
['site', 'layer', 'position', 'head', 'example', 'rank', 'estimate', 'exact']
>>> len(top)
3

``exact`` is ``metric(patched) - metric(clean)``, the quantity ``estimate`` approximates. The
exact values come from :func:`patch_sweep`'s machinery: the k rows of all examples stacked into
as few forwards as possible, each resuming at its layer and token from the base run's cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.interventions.sweep import Metric, SweepResult, _Cells, _exact_values, _plan

RANKINGS = ("abs", "max", "min")


def verify_top_k(
    hm, base: Sequence[str] | Batch, source: Sequence[str] | Batch, estimates: SweepResult, *, metric: Metric,
    k: int = 10, by: str = "abs", max_rows: int = 64,
):
    """Exact effects of the ``k`` cells with the largest estimates, per example; a tidy table.

    - ``estimates``: from :func:`attribution_patch` on the same ``base``/``source`` pairs (its kind,
      layers, positions and heads say which patches the cells are); its ``values`` are effects
      (``metric(patched) - metric(clean)``), like ``exact``.
    - ``metric``: the one the estimates were computed with (one number per example).
    - ``by``: ``"abs"`` ranks by ``|estimate|`` (largest effect either way), ``"max"`` by the most
      positive, ``"min"`` by the most negative estimate.

    Returns a pandas DataFrame, one row per (example, rank): ``site, layer, position, (head,)
    example, rank, estimate, exact``.
    """
    import pandas as pd

    if by not in RANKINGS:
        raise InputError(f"by={by!r}: rank the estimates by one of {', '.join(map(repr, RANKINGS))}")
    if not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive number of cells, not {k!r}")
    plan = _plan(hm, base, source, estimates.kind, estimates.layers, estimates.positions,
                 estimates.source_positions, estimates.heads if estimates.heads is not None else False)
    grid = (len(plan.layers), len(plan.positions), *([len(plan.heads)] if plan.heads is not None else []))
    n = plan.base.size
    values = estimates.values.detach().cpu()
    if tuple(values.shape) != (*grid, n):
        raise InputError(f"the estimates have shape {list(values.shape)}, but these {n} pairs with the estimates' "
                         f"layers, positions and heads make {list((*grid, n))}: pass the pairs they were computed on")
    per_example = values.movedim(-1, 0).reshape(n, -1)  # [N, cells]
    score = {"abs": per_example.abs(), "max": per_example, "min": -per_example}[by]
    k = min(k, per_example.shape[1])
    top = score.topk(k, dim=1).indices  # [N, k], cells in (layer, position, head) order
    ex = torch.arange(n).repeat_interleave(k)
    cell = top.flatten()
    index = torch.unravel_index(cell, grid)
    rows = _Cells.of_cells(plan, index[0], index[1], index[2] if plan.heads is not None else None, ex)
    exact, clean, _ = _exact_values(hm, plan, rows, metric, max_rows)
    exact = torch.stack(exact).detach().cpu() - clean.detach().cpu()[ex]
    if exact.ndim != 1:
        raise InputError(f"verify_top_k needs one metric value per example; got {list(exact.shape[1:])}")
    table = pd.DataFrame({
        "site": [f"{plan.kind}.{layer}" for layer in rows.layer.tolist()],
        "layer": rows.layer.tolist(),
        "position": [plan.positions[j] for j in index[1].tolist()],
        **({"head": rows.head.tolist()} if rows.head is not None else {}),
        "example": ex.tolist(),
        "rank": list(range(1, k + 1)) * n,
        "estimate": per_example[ex, cell].tolist(),
        "exact": exact.tolist(),
    })
    return table
