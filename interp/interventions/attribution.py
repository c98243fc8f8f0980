"""Attribution patching: a first-order estimate of every patch in a sweep from one forward and
one backward on the base (Nanda 2023; AtP, Kramár et al. 2024).

``estimate[layer, position, example] = (h_src - h_base) · ∂metric/∂h_base`` at ``kind.layer``, a
first-order estimate of the effect ``metric(patched) - metric(clean)``: the same quantity as
:func:`patch_sweep`'s ``values`` (the result says ``estimated=True``; ``patched`` is
``clean + values``, ``table()`` names its columns ``effect_estimate`` and ``patched_estimate``);
with ``per_head=True`` (kinds ``q``, ``k``, ``v``, ``z``) the dot product runs over each head's
``d_head`` only, giving ``estimate[layer, position, head, example]``: the estimate of patching that
head alone (summed over heads it is the whole-site estimate). Use it to pre-filter a sweep, then
check its top-k with the exact batched sweep: :func:`interp.interventions.verify_top_k`.

>>> import interp
>>> from interp.interventions import attribution_patch
>>> hm = interp.models.tiny("llama")
>>> are, is_ = hm.tokenizer(" are")["input_ids"][-1], hm.tokenizer(" is")["input_ids"][-1]
>>> metric = lambda lg: lg[..., are] - lg[..., is_]
>>> est = attribution_patch(hm, ["The key to the cabinets"], ["The keys to the cabinet"], metric=metric)
>>> est.values.shape              # [layers, positions, examples]
torch.Size([2, 7, 1])
>>> attribution_patch(hm, ["The key to the cabinets"], ["The keys to the cabinet"], kind="k",
...                   per_head=True, metric=metric).values.shape   # 2 key/value heads (GQA)
torch.Size([2, 7, 2, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.interventions.function import Apply
from interp.interventions.sweep import Metric, SweepResult, _plan


def attribution_patch(
    hm, base, source, *, kind: str = "resid_pre", layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None, source_positions: Sequence[int] | None = None,
    per_head: bool | Sequence[int] = False, metric: Metric,
) -> SweepResult:
    """First-order estimates of ``metric(patched) - metric(clean)`` for every (layer, position (, head)).

    ``metric`` maps last logits ``[examples, vocab]`` to one number per example ``[examples]``.
    """
    plan = _plan(hm, base, source, kind, layers, positions, source_positions, per_head)
    sites = plan.sites()
    src = hm.run(plan.source, cache=sites, logits=False).cache
    leaf = Apply("embed", lambda act, ctx: act.detach().requires_grad_(True))
    seen: dict[str, Tensor] = {}

    def keep(site: str) -> Apply:
        # a copy that the model goes on with: its gradient exists for every site kind, also for
        # views (heads, q/k/v slices) and residual sums that no module outputs as such
        def copy(act: Tensor, ctx) -> Tensor:
            seen[site] = act.clone()
            return seen[site]
        return Apply(site, copy)

    out = hm.run(plan.base, interventions=[leaf, *(keep(site) for site in sites)], grad=True)
    clean = metric(out.last_logits)
    if clean.shape != (plan.base.size,):
        raise InputError(f"attribution needs a metric with one number per example, shape [{plan.base.size}]; "
                         f"it returned shape {list(clean.shape)}")
    grads = torch.autograd.grad(clean.sum(), [seen[site] for site in sites])
    values = []
    for site, grad in zip(sites, grads):
        rows = torch.arange(plan.base.size, device=grad.device)[:, None]
        base_idx, source_idx = plan.base_idx.to(grad.device), plan.source_idx.to(grad.device)
        delta = src[site][rows, source_idx] - seen[site].detach()[rows, base_idx]  # [N, P, ...]
        product = delta * grad[rows, base_idx]
        if plan.heads is None:
            values.append(product.flatten(2).sum(-1).T)  # [P, N]
        else:
            values.append(product[:, :, plan.heads].flatten(3).sum(-1).permute(1, 2, 0))  # [P, H, N]
    return SweepResult(torch.stack(values), kind, plan.layers, plan.positions, clean.detach(), plan.heads,
                       plan.source_positions, path="full-sequence", estimated=True)


def spearman(a: Tensor, b: Tensor) -> float:
    """Rank correlation of two equally shaped tensors (ties broken by order)."""
    ranks = [x.flatten().argsort().argsort().double() for x in (a, b)]
    ra, rb = (r - r.mean() for r in ranks)
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))
