"""Per-head patching: the batched per-head sweep equals one single-head Patch per forward, value for
value; per-head attribution is the directional derivative of the metric along one head's patch and
sums over heads to the whole-site estimate; verify_top_k's exact column is the sweep's."""

from __future__ import annotations

import pytest
import torch
from conftest import SWEEP_BASE, SWEEP_SOURCE, logit_diff, without_kv_cache

import interp
from interp.graph.resume import SlowPathWarning
from interp.interventions import (
    Patch,
    attribution_patch,
    patch_sweep,
    serial_patch_sweep,
    spearman,
    sweep,
    verify_top_k,
)
from interp.models import FAMILIES

BASE, SOURCE = SWEEP_BASE, SWEEP_SOURCE


@pytest.fixture(scope="module", params=FAMILIES)
def hm(request):
    return interp.models.tiny(request.param)


def n_heads_of(hm, kind):
    return hm.n_kv_heads if kind in ("k", "v") else hm.n_heads


@pytest.mark.parametrize("kind", ["z", "v"])
def test_per_head_sweep_equals_single_head_patches(hm, kind, monkeypatch):
    calls = []
    suffix = sweep._suffix_forward
    monkeypatch.setattr(sweep, "_suffix_forward", lambda *a: calls.append(len(a[2])) or suffix(*a))
    metric = logit_diff(hm)
    fast = patch_sweep(hm, BASE, SOURCE, kind=kind, per_head=True, metric=metric, max_rows=16)
    slow = serial_patch_sweep(hm, BASE, SOURCE, kind=kind, per_head=True, metric=metric)
    n_pos, heads = int(hm.tokenize(BASE).lengths.min()), n_heads_of(hm, kind)
    assert fast.values.shape == (hm.n_layers, n_pos, heads, 2) and fast.heads == list(range(heads))
    torch.testing.assert_close(fast.values, slow.values, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast.clean, slow.clean, atol=1e-6, rtol=0)
    assert fast.values.abs().max() > 1e-4  # the patches did something (values: the effect)
    assert len(calls) < sum(calls) < fast.values.numel()  # rows batched; no-op rows (shared first token) skipped
    # a head of the serial loop is Patch(site, heads=[h]) itself
    layer, j, h = hm.n_layers - 1, n_pos - 1, heads - 1
    patch = Patch(f"{kind}.{layer}", SOURCE, positions=j, heads=[h])
    torch.testing.assert_close(fast.patched[layer, j, h], metric(hm.run(BASE, interventions=[patch]).last_logits),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", ["llama", "neox"])
def test_per_head_subset_left_padded_and_without_kv_resume(family):
    hm = interp.models.tiny(family)
    base = hm.tokenize(BASE, padding_side="left")
    metric = logit_diff(hm)
    kwargs = dict(kind="k", positions=[1, -2, -1], per_head=[1], metric=metric)
    slow = serial_patch_sweep(hm, base, SOURCE, **kwargs)
    fast = patch_sweep(hm, base, SOURCE, max_rows=4, **kwargs)
    assert fast.values.shape == (hm.n_layers, 3, 1, 2) and fast.heads == [1]
    torch.testing.assert_close(fast.values, slow.values, atol=1e-6, rtol=0)
    with pytest.warns(SlowPathWarning):  # the same weights behind a forward without a KV cache: full sequences
        full = patch_sweep(without_kv_cache(hm), base, SOURCE, max_rows=4, **kwargs)
    assert full.path == "full-sequence"
    torch.testing.assert_close(full.values, slow.values, atol=1e-6, rtol=0)


def test_per_head_attribution_sums_to_the_site_estimate(hm):
    metric = logit_diff(hm)
    per_head = attribution_patch(hm, BASE, SOURCE, kind="z", per_head=True, metric=metric)
    whole = attribution_patch(hm, BASE, SOURCE, kind="z", metric=metric)
    assert per_head.values.shape == (*whole.values.shape[:2], hm.n_heads, 2)
    torch.testing.assert_close(per_head.values.sum(2), whole.values, atol=1e-6, rtol=0)
    assert per_head.values.abs().max() > 1e-4
    some = attribution_patch(hm, BASE, SOURCE, kind="z", per_head=[2, 0], metric=metric)
    assert torch.equal(some.values, per_head.values[:, :, [2, 0]]) and some.heads == [2, 0]


@pytest.mark.parametrize("family,kind", [("gpt2", "z"), ("neox", "q"), ("llama", "z"), ("llama", "k")])
def test_per_head_attribution_is_the_derivative_along_the_head_patch(family, kind):
    """In float64, a central difference along one head's (source - base) equals the estimate to 0.1%."""
    hm = interp.models.tiny(family)
    hm.model.double()
    metric = logit_diff(hm)
    est = attribution_patch(hm, BASE, SOURCE, kind=kind, per_head=True, metric=metric)
    assert est.values.shape[2] == n_heads_of(hm, kind)
    layer, j, h, ex = [int(i) for i in (est.values.abs() == est.values.abs().max()).nonzero()[0]]
    site = f"{kind}.{layer}"
    src, clean = hm.run(SOURCE, cache=[site]), hm.run(BASE, cache=[site])
    p, q = clean.batch.offsets[ex] + j, src.batch.offsets[ex] + j
    direction = src.cache[site][ex, q, h] - clean.cache[site][ex, p, h]

    def metric_at(eps):
        def nudge(act, ctx):
            act = act.clone()
            act[ex, p, h] += eps * direction
            return act
        return metric(hm.run(BASE, interventions=[interp.interventions.Apply(site, nudge)]).last_logits)[ex]

    # eps: large enough for Llama's RMSNorm, which computes in float32 even in a float64 model
    eps = 1e-2
    derivative = (metric_at(eps) - metric_at(-eps)) / (2 * eps)
    torch.testing.assert_close(derivative, est.values[layer, j, h, ex], rtol=1e-3, atol=1e-9)


def test_verify_top_k_matches_the_full_sweep(hm):
    metric = logit_diff(hm)
    est = attribution_patch(hm, BASE, SOURCE, kind="z", per_head=True, metric=metric)
    exact = patch_sweep(hm, BASE, SOURCE, kind="z", per_head=True, metric=metric)
    effect = exact.values  # metric(patched) - metric(clean), like the estimates
    top = verify_top_k(hm, BASE, SOURCE, est, metric=metric, k=5)
    assert list(top.columns) == ["site", "layer", "position", "head", "example", "rank", "estimate", "exact"]
    assert len(top) == 10 and top["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    for row in top.itertuples():
        cell = (row.layer, est.positions.index(row.position), row.head, row.example)
        assert row.estimate == pytest.approx(float(est.values[cell]), abs=1e-7)
        assert row.exact == pytest.approx(float(effect[cell]), abs=1e-6)
        assert row.site == f"z.{row.layer}"
    for ex in (0, 1):  # the k largest |estimate| of each example, in order
        mine = top[top.example == ex]
        assert mine.estimate.abs().tolist() == sorted(est.values[..., ex].abs().flatten().tolist())[::-1][:5]
    positive = verify_top_k(hm, BASE, SOURCE, est, metric=metric, k=3, by="max")
    assert positive.estimate.tolist()[:3] == sorted(est.values[..., 0].flatten().tolist())[::-1][:3]
    assert spearman(est.values, effect) > 0  # a pre-filter, not an oracle, on random weights


def test_whole_site_verify_and_tables_without_heads(hm):
    metric = logit_diff(hm)
    est = attribution_patch(hm, BASE, SOURCE, kind="resid_pre", layers=[1], metric=metric)
    top = verify_top_k(hm, BASE, SOURCE, est, metric=metric, k=2)
    assert "head" not in top.columns and len(top) == 4
    row = top.iloc[0]
    patch = Patch("resid_pre.1", SOURCE, positions=int(row.position))
    patched = metric(hm.run(BASE, interventions=[patch]).last_logits)[int(row.example)]
    assert row.exact == pytest.approx(float(patched - est.clean[int(row.example)]), abs=1e-5)
    table = patch_sweep(hm, BASE, SOURCE, kind="z", layers=[0], positions=[1], per_head=True, metric=metric).table()
    assert list(table.columns) == ["site", "layer", "position", "head", "example", "effect", "patched", "clean"]
    assert len(table) == hm.n_heads * 2 and sorted(set(table["head"])) == list(range(hm.n_heads))


def count_forwards(hm):
    calls = []
    handle = hm.model.register_forward_pre_hook(lambda *a: calls.append(1))
    return calls, handle


@pytest.mark.parametrize("call", [patch_sweep, serial_patch_sweep, attribution_patch])
def test_head_errors_come_before_any_forward(call):
    hm = interp.models.tiny("llama")  # 4 query heads, 2 key/value heads
    metric = logit_diff(hm)
    calls, handle = count_forwards(hm)
    try:
        with pytest.raises(interp.SiteError, match="per-head site kind"):
            call(hm, BASE, SOURCE, kind="resid_pre", per_head=True, metric=metric)
        with pytest.raises(interp.InputError, match=r"head index \[2\] out of range: k has 2 key/value heads"):
            call(hm, BASE, SOURCE, kind="k", per_head=[0, 2], metric=metric)
        with pytest.raises(interp.InputError, match=r"head index \[4\] out of range: z has 4 heads"):
            call(hm, BASE, SOURCE, kind="z", per_head=[4], metric=metric)
        with pytest.raises(interp.InputError, match="none given"):
            call(hm, BASE, SOURCE, kind="z", per_head=[], metric=metric)
    finally:
        handle.remove()
    assert calls == []
    call(hm, BASE, SOURCE, kind="k", layers=[0], positions=[0], per_head=[1], metric=metric)  # a valid one runs


def test_verify_top_k_errors():
    hm = interp.models.tiny("llama")
    metric = logit_diff(hm)
    est = attribution_patch(hm, BASE, SOURCE, kind="z", layers=[1], per_head=True, metric=metric)
    with pytest.raises(interp.InputError, match="rank the estimates by one of"):
        verify_top_k(hm, BASE, SOURCE, est, metric=metric, by="largest")
    with pytest.raises(interp.InputError, match="positive number"):
        verify_top_k(hm, BASE, SOURCE, est, metric=metric, k=0)
    with pytest.raises(interp.InputError, match="pass the pairs they were computed on"):
        verify_top_k(hm, BASE[:1], SOURCE[:1], est, metric=metric)
    with pytest.raises(interp.InputError, match="one number per example"):
        attribution_patch(hm, BASE, SOURCE, kind="z", layers=[1], metric=lambda logits: logits[..., :2])


@pytest.mark.slow
def test_top_attributed_heads_at_the_subject_are_large_exact_effects(embedded):
    """SmolLM2-135M-Instruct, number agreement: z heads at the subject token of every third layer (90 heads).
    Attribution's top-5 heads have exact effects above the median exact effect of all of them, its
    ranking follows the exact one, and verify_top_k's exact values are the full per-head sweep's."""
    hm = embedded
    metric = logit_diff(hm)
    base, source = ["The key to the cabinets"], ["The keys to the cabinet"]
    grid = dict(kind="z", layers=range(0, hm.n_layers, 3), positions=[1], per_head=True, metric=metric)  # " key(s)"
    est = attribution_patch(hm, base, source, **grid)
    exact = patch_sweep(hm, base, source, **grid)
    effect = exact.values[..., 0]  # [layers, 1, heads]: metric(patched) - metric(clean)
    assert est.values.shape == exact.values.shape == (10, 1, hm.n_heads, 1)
    top = verify_top_k(hm, base, source, est, metric=metric, k=5)
    for row in top.itertuples():
        assert row.exact == pytest.approx(float(effect[row.layer // 3, 0, row.head]), abs=1e-4)
    assert top.exact.abs().min() > float(effect.abs().median())
    assert spearman(est.values[..., 0], effect) > 0.8
