"""The cache decompositions on every tiny family with sites: accumulated_resid, decompose_resid,
stack_head_results and logit_attrs, each identity exact up to float rounding."""

from __future__ import annotations

import pytest
import torch
from test_families import WORKING, tiny

from interp.errors import SiteError
from interp.graph.adapters.layout import adjust_logits
from interp.graph.decomposition import heads_add_to_stream
from interp.graph.readout import FrozenReadout

TEXTS = ["The keys to the cabinet", "A dog near"]


def close(actual, expected, rel=1e-5):
    scale = expected.abs().max().clamp_min(1e-30)
    assert (actual - expected).abs().max() <= rel * scale, f"off by {(actual - expected).abs().max():.3g}"


def frozen(hm) -> FrozenReadout | None:
    """The frozen final norm, or None for a norm that is not γ ⊙ x̂ + β (Gemma's 1 + γ, Cohere's, ...)."""
    try:
        readout = FrozenReadout(hm)
        readout.scale(hm.run("The keys", cache=["resid_post.-1"]).cache["resid_post.-1"])
        return readout
    except SiteError as error:
        assert "final norm" in str(error)
        return None


@pytest.mark.parametrize("model_type", sorted(WORKING))
def test_decompositions_are_exact(model_type):
    hm = tiny(model_type)
    out = hm.run(TEXTS, cache="all", padding_side="left")
    cache, n = out.cache, hm.n_layers
    final = cache[f"resid_post.{n - 1}"]
    accumulated, labels = cache.accumulated_resid(apply_ln=False, return_labels=True)
    assert labels == [*(f"resid_pre.{i}" for i in range(n)), f"resid_post.{n - 1}"]
    assert torch.equal(accumulated[-1], final) and torch.equal(cache.accumulated_resid(1, apply_ln=False)[1],
                                                                cache["resid_pre.1"])
    parts = cache.decompose_resid(apply_ln=False)
    close(parts.sum(0), final)
    close(cache.decompose_resid(1, apply_ln=False).sum(0), cache["resid_pre.1"])
    if "z.0" in hm.sites() and all(heads_add_to_stream(hm, layer) for layer in range(n)):  # not sandwich norms
        heads, labels = cache.stack_head_results(apply_ln=False, return_labels=True)
        assert heads.shape == (n * hm.n_heads, *final.shape) and labels[hm.n_heads] == "L1H0"
        factor = getattr(hm.config, hm.layout.residual_multiplier) if hm.layout.residual_multiplier else 1.0
        for layer in range(n):
            bias = 0 if hm.b_O(layer) is None else hm.b_O(layer) * factor
            close(heads[layer * hm.n_heads:(layer + 1) * hm.n_heads].sum(0) + bias, cache[f"attn_out.{layer}"])
    readout = frozen(hm)
    if readout is None:
        return
    beta = 0 if readout.beta is None else readout.beta
    close(cache.accumulated_resid()[-1] + beta, hm.final_norm(final))  # apply_ln: the frozen norm
    target, wrong = hm.to_single_token(" key"), hm.to_single_token(" dog")
    last = cache.decompose_resid(positions="last")  # [component, batch, d_model], through the frozen norm
    attrs = cache.logit_attrs(last, [target] * 2, [wrong] * 2, biases=True)
    unembedded = hm.final_norm(final) @ hm.W_U + (0 if hm.b_U is None else hm.b_U)  # before any soft-cap
    rows = torch.arange(2)
    at_last = unembedded[rows, out.batch.last_index]
    close(attrs.sum(0), at_last[:, target] - at_last[:, wrong], rel=1e-4)
    raw = cache.decompose_resid(apply_ln=False, positions="last")
    close(cache.logit_attrs(raw, [target] * 2, [wrong] * 2, normed=False), attrs[:len(raw)])
    if not hm.layout.adjusts_logits(hm.config):
        close(adjust_logits(hm.layout, hm.config, unembedded), out.logits)


def test_sandwich_norm_heads_are_not_stream_components():
    hm = tiny("gemma2")
    cache = hm.run("The keys", cache="all").cache
    with pytest.raises(SiteError, match="sandwich norm"):
        cache.stack_head_results()


def test_a_missing_site_says_how_to_cache_it():
    hm = tiny("llama")
    cache = hm.run("The keys", cache=["resid_post.1"]).cache
    with pytest.raises(SiteError, match="needs 'resid_pre.0'.*cache='all'"):
        cache.accumulated_resid()
