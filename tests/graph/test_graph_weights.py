"""Weights by canonical name on every tiny family with attention sites: W_E, W_U, W_Q/K/V, W_O, final_norm;
and the head_out site they define (z through W_O, summing to attn_out minus the bias)."""

from __future__ import annotations

import pytest
import torch
from test_families import STATE_SPACE, WORKING, tiny

from interp.errors import SiteError
from interp.graph.adapters.layout import adjust_logits
from interp.graph.decomposition import heads_add_to_stream
from interp.interventions import Apply, Patch

ATTENTION = sorted(WORKING - STATE_SPACE)
TEXTS = ["The keys to the cabinet", "A dog"]


def module_path(hm, module) -> str:
    return next(name for name, candidate in hm.model.named_modules() if candidate is module)


def multiplier(hm) -> float:
    name = hm.layout.residual_multiplier
    return getattr(hm.config, name) if name else 1.0


@pytest.mark.parametrize("model_type", ATTENTION)
def test_weights_by_name_reproduce_the_sites(model_type):
    hm = tiny(model_type)
    v_input = f"{module_path(hm, hm.binding('z.1').module)}:input"
    sites = ["z.1", "head_out.1", "attn_out.1", "resid_post.1", v_input]
    has_v = "v.1" in hm.sites()
    if has_v:
        sites += ["v.1", f"{module_path(hm, hm.binding('v.1').module)}:input"]
    out = hm.run(TEXTS, cache=sites)
    cache = out.cache
    assert hm.W_E.shape == (hm.config.vocab_size, hm.d_model)
    assert hm.W_E.data_ptr() == hm.model.get_input_embeddings().weight.data_ptr()  # a view
    assert hm.W_U.shape == (hm.d_model, hm.config.vocab_size) and not hm.W_U.requires_grad
    unembedded = hm.final_norm(cache["resid_post.1"]) @ hm.W_U + (0 if hm.b_U is None else hm.b_U)
    torch.testing.assert_close(adjust_logits(hm.layout, hm.config, unembedded), out.logits, atol=1e-5, rtol=1e-4)
    W_O = hm.W_O(1)  # [head, d_head, d_model]
    assert W_O.shape == (hm.n_heads, hm.d_head, hm.d_model)
    torch.testing.assert_close(torch.einsum("bphd,hde->bphe", cache["z.1"], W_O) * multiplier(hm), cache["head_out.1"],
                               atol=1e-6, rtol=1e-5)
    if heads_add_to_stream(hm, 1):  # head_out sums to attn_out minus the (scaled) bias
        bias = 0 if hm.b_O(1) is None else hm.b_O(1) * multiplier(hm)
        torch.testing.assert_close(cache["head_out.1"].sum(2) + bias, cache["attn_out.1"], atol=1e-6, rtol=1e-5)
    if has_v:
        W_V = hm.W_V(1)
        assert W_V.shape == (hm.n_kv_heads, hm.d_model, hm.d_head) and hm.W_V(1, expand=True).shape[0] == hm.n_heads
        x = cache[sites[-1]]
        expected = torch.einsum("bpd,hde->bphe", x, W_V) + (0 if hm.b_V(1) is None else hm.b_V(1))
        torch.testing.assert_close(expected, cache["v.1"], atol=1e-6, rtol=1e-5)
        assert hm.W_Q(1).shape == (hm.n_heads, hm.d_model, hm.d_head) and hm.W_K(1).shape[0] == hm.n_kv_heads


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "granite", "gemma2", "bloom"])
def test_head_out_is_patchable_one_head_at_a_time(model_type):
    hm = tiny(model_type)
    base = hm.run(TEXTS, cache=["attn_out.0", "head_out.0"])
    same = hm.run(TEXTS, interventions=[Apply("head_out.0", lambda act, ctx: act.clone())])
    assert torch.equal(same.logits, base.logits)  # writing back the value read: bit for bit
    zero_head = Patch("head_out.0", source=torch.zeros_like(base.cache["head_out.0"]), heads=[1])
    out = hm.run(TEXTS, interventions=[zero_head], cache=["attn_out.0", "head_out.0"])
    assert torch.equal(out.cache["head_out.0"][:, :, 1], torch.zeros_like(out.cache["head_out.0"][:, :, 1]))
    torch.testing.assert_close(out.cache["head_out.0"][:, :, [0, 2, 3]], base.cache["head_out.0"][:, :, [0, 2, 3]])
    if heads_add_to_stream(hm, 0):
        removed = base.cache["attn_out.0"] - out.cache["attn_out.0"]
        torch.testing.assert_close(removed, base.cache["head_out.0"][:, :, 1], atol=1e-6, rtol=1e-5)


def test_a_model_without_attention_has_no_w_o():
    hm = tiny("mamba")
    with pytest.raises(SiteError, match="no 'z' sites"):
        hm.W_O(0)
    assert hm.W_U.shape[0] == hm.d_model
