"""Attribution patching: a first-order estimate of every patch in a sweep from one forward and
one backward on the base (Nanda 2023; AtP, Kramár et al. 2024).

``estimate[layer, position, example] = (h_src - h_base) · ∂metric/∂h_base`` at ``kind.layer``.
Use it to pre-filter a sweep, then verify its top-k with the exact :func:`patch_sweep`.

>>> import interp
>>> from interp.interventions import attribution_patch
>>> hm = interp.models.tiny("gpt2")
>>> are, is_ = hm.tokenizer(" are")["input_ids"][0], hm.tokenizer(" is")["input_ids"][0]
>>> est = attribution_patch(hm, ["The key to the cabinets"], ["The keys to the cabinet"],
...                         metric=lambda lg: lg[..., are] - lg[..., is_])
>>> est.values.shape
torch.Size([2, 6, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.interventions.function import Apply
from interp.interventions.sweep import Metric, SweepResult, _plan


def attribution_patch(
    hm, base, source, *, kind: str = "resid_pre", layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None, source_positions: Sequence[int] | None = None, metric: Metric,
) -> SweepResult:
    """First-order estimates of ``metric(patched) - metric(clean)`` for every (layer, position)."""
    base_batch, source_batch, layers, positions, base_idx, source_idx = _plan(
        hm, base, source, kind, layers, positions, source_positions)
    sites = [f"{kind}.{layer}" for layer in layers]
    src = hm.run(source_batch, cache=sites, logits=False)
    leaf = Apply("embed", lambda act, ctx: act.detach().requires_grad_(True))
    out = hm.run(base_batch, interventions=[leaf], cache=sites, grad=True, cache_grad=True)
    clean = metric(out.last_logits)
    grads = torch.autograd.grad(clean.sum(), [out.cache[s] for s in sites])
    rows = torch.arange(base_batch.size)[:, None]
    values = []
    for site, grad in zip(sites, grads):
        delta = src.cache[site][rows, source_idx] - out.cache[site].detach()[rows, base_idx]  # [N, P, ...]
        values.append((delta * grad[rows, base_idx]).flatten(2).sum(-1).T)  # [P, N]
    return SweepResult(torch.stack(values), kind, layers, positions, clean.detach())


def spearman(a: Tensor, b: Tensor) -> float:
    """Rank correlation of two equally shaped tensors (ties broken by order)."""
    ranks = [x.flatten().argsort().argsort().double() for x in (a, b)]
    ra, rb = (r - r.mean() for r in ranks)
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))
