"""The batched sweep equals the serial one-forward-per-patch loop, value for value; attribution
patching is exact for a linear edit of the last layer's output and correlates with the sweep."""

from __future__ import annotations

import pytest
import torch
from conftest import SWEEP_BASE, SWEEP_SOURCE, logit_diff

import interp
from interp.interventions import Patch, attribution_patch, patch_sweep, serial_patch_sweep, spearman
from interp.models import FAMILIES

BASE, SOURCE = SWEEP_BASE, SWEEP_SOURCE


@pytest.fixture(scope="module", params=FAMILIES)
def hm(request):
    return interp.models.tiny(request.param)


@pytest.mark.parametrize("kind", ["resid_pre", "mlp_out"])
def test_batched_sweep_equals_serial_loop(hm, kind):
    metric = logit_diff(hm)
    fast = patch_sweep(hm, BASE, SOURCE, kind=kind, metric=metric, max_rows=6)
    slow = serial_patch_sweep(hm, BASE, SOURCE, kind=kind, metric=metric)
    assert fast.values.shape == (hm.n_layers, int(hm.tokenize(BASE).lengths.min()), 2)
    torch.testing.assert_close(fast.values, slow.values, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast.clean, slow.clean, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast.patched, slow.patched, atol=1e-6, rtol=0)
    assert fast.values.abs().max() > 1e-3  # the patches did something
    torch.testing.assert_close(fast.values, fast.patched - fast.clean, atol=0, rtol=0)  # values: the effect


def test_sweep_with_different_source_positions_matches_single_patches(hm):
    metric = logit_diff(hm)
    result = patch_sweep(hm, BASE, SOURCE, layers=[1], positions=[-1, 1], source_positions=[-2, 1],
                         metric=metric)
    for j, (p, q) in enumerate([(-1, -2), (1, 1)]):
        patch = Patch("resid_pre.1", SOURCE, positions=p, source_positions=q)
        expected = metric(hm.run(BASE, interventions=[patch]).last_logits)
        torch.testing.assert_close(result.patched[0, j], expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(result.values[0, j], expected - metric(hm.run(BASE).last_logits), atol=1e-6, rtol=0)
    table = result.table()
    assert list(table.columns) == ["site", "layer", "position", "example", "effect", "patched", "clean"]
    assert len(table) == 4 and (table.effect - (table.patched - table.clean)).abs().max() < 1e-6


def test_attribution_patching_estimates_the_sweep(hm):
    metric = logit_diff(hm)
    exact = patch_sweep(hm, BASE, SOURCE, kind="resid_post", metric=metric)
    estimate = attribution_patch(hm, BASE, SOURCE, kind="resid_post", metric=metric)
    assert estimate.values.shape == exact.values.shape
    delta = exact.values  # metric(patched) - metric(clean), what the estimate estimates
    assert not exact.estimated and estimate.estimated
    same = (delta == 0)  # slots where base and source activations agree: nothing to patch
    assert same.any() and torch.equal(estimate.values[same], torch.zeros_like(estimate.values[same]))
    # the estimate is the derivative of the metric along (h_src - h_base): check it by finite differences
    layer, j, ex = [int(i) for i in (estimate.values.abs() == estimate.values.abs().max()).nonzero()[0]]
    site, eps = f"resid_post.{layer}", 1e-3
    src, clean = hm.run(SOURCE, cache=[site]), hm.run(BASE, cache=[site])
    p, q = clean.batch.offsets[ex] + j, src.batch.offsets[ex] + j
    step = eps * (src.cache[site][ex, q] - clean.cache[site][ex, p])

    def nudge(act, ctx):
        act = act.clone()
        act[ex, p] += step
        return act

    nudged = metric(hm.run(BASE, interventions=[interp.interventions.Apply(site, nudge)]).last_logits)[ex]
    torch.testing.assert_close((nudged - exact.clean[ex]) / eps, estimate.values[layer, j, ex], rtol=0.05, atol=1e-3)
    assert spearman(estimate.values[~same], delta[~same]) > 0  # a pre-filter, not an oracle, on random weights
    torch.testing.assert_close(estimate.clean, exact.clean, atol=1e-5, rtol=0)


def test_sweep_pairs_must_match(hm):
    with pytest.raises(interp.InputError, match="pair them"):
        patch_sweep(hm, BASE, SOURCE[:1])


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("split", ["planned", "every cell"])
def test_kv_reuse_sweep_equals_serial_loop(hm, padding_side, split, monkeypatch):
    """Forwards that start at the patched layer and run only tokens from the patched position on,
    the base's keys and values standing in for the tokens before it, give the serial loop's values."""
    from interp.interventions import sweep

    assert hm.can_resume
    if split == "every cell":  # no overhead in the cost model: one forward per (layer, position)
        monkeypatch.setattr(sweep, "_FORWARD", 0.0)
        monkeypatch.setattr(sweep, "_LAYER", 0.0)
    starts = []
    suffix = sweep._suffix_forward
    monkeypatch.setattr(sweep, "_suffix_forward", lambda *a: starts.append((a[3], a[4])) or suffix(*a))
    base = hm.tokenize(BASE, padding_side=padding_side)
    metric = logit_diff(hm)
    positions = [0, 1, 2, -2, -1]
    fast = patch_sweep(hm, base, SOURCE, positions=positions, metric=metric, max_rows=8)
    slow = serial_patch_sweep(hm, base, SOURCE, positions=positions, metric=metric)
    torch.testing.assert_close(fast.values, slow.values, atol=1e-6, rtol=0)  # float summation order only
    torch.testing.assert_close(fast.clean, slow.clean, atol=1e-6, rtol=0)
    assert fast.values.abs().max() > 1e-3
    if split == "every cell":
        assert any(start > 0 and first > 0 for start, first in starts)  # both savings at once


def test_attribution_and_the_sweep_report_the_same_quantity_for_a_small_patch():
    """Make " dog" a copy of " key" nudged by 1e-3 in the embedding: every patch of "dog" into "key" is
    then small, so the first-order estimate must match the exact effect closely, in sign and scale."""
    hm = interp.models.tiny("llama")
    key, dog = (hm.tokenizer(w)["input_ids"][-1] for w in (" key", " dog"))
    embed = hm.model.get_input_embeddings().weight
    with torch.no_grad():
        embed[dog] = embed[key] + 1e-3 * torch.randn(embed.shape[1], generator=torch.Generator().manual_seed(0))
    base, source = ["The key to the cabinet"], ["The dog to the cabinet"]
    metric = logit_diff(hm)
    exact = patch_sweep(hm, base, source, kind="resid_pre", metric=metric)
    estimate = attribution_patch(hm, base, source, kind="resid_pre", metric=metric)
    scale = float(exact.values.abs().max())
    moved = exact.values.abs() > 0.1 * scale
    assert scale > 1e-4 and moved.sum() >= 2  # the changed token at each layer, and the last token
    torch.testing.assert_close(estimate.values, exact.values, rtol=0.1, atol=0.05 * scale)
    assert torch.equal(estimate.values[moved].sign(), exact.values[moved].sign())
    # patched is the metric itself in both (the same clean run plus each one's effect)
    torch.testing.assert_close(estimate.patched - exact.patched, estimate.values - exact.values, rtol=0, atol=1e-5)
    assert list(estimate.table().columns)[-3:] == ["effect_estimate", "patched_estimate", "clean"]
