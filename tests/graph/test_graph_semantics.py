"""Each adapter's sites mean what their names say, checked by identities on tiny random models."""

import pytest
import torch

import interp
from interp.models import FAMILIES

SENTENCES = ["The keys to the cabinet", "The key to the cabinets are", "No teacher has"]

NO_PATTERN = lambda hm: [s for s in hm.sites() if not s.startswith("pattern")]  # noqa: E731


def sequential(family):
    """Tiny models whose layers compute resid_mid (NeoX only with use_parallel_residual=False)."""
    return interp.models.tiny(family, **({"use_parallel_residual": False} if family == "neox" else {}))


def test_plain_run_equals_the_model_bit_for_bit(tiny_hm):
    out = tiny_hm.run(SENTENCES, cache=NO_PATTERN(tiny_hm))
    plain = tiny_hm.model(**tiny_hm.tokenize(SENTENCES).model_kwargs("cpu")).logits
    assert torch.equal(out.logits, plain)


@pytest.mark.parametrize("family", FAMILIES)
def test_residual_identities_are_exact(family):
    hm = sequential(family)
    cache = hm.run(SENTENCES, cache=NO_PATTERN(hm)).cache
    for layer in range(hm.n_layers):
        assert torch.equal(cache[f"resid_pre.{layer}"] + cache[f"attn_out.{layer}"], cache[f"resid_mid.{layer}"])
        assert torch.equal(cache[f"resid_mid.{layer}"] + cache[f"mlp_out.{layer}"], cache[f"resid_post.{layer}"])
        if layer + 1 < hm.n_layers:
            assert torch.equal(cache[f"resid_post.{layer}"], cache[f"resid_pre.{layer + 1}"])
    assert torch.equal(cache["embed"], cache["resid_pre.0"])


def test_parallel_residual_neox_adds_both_branches():
    hm = interp.models.tiny("neox")
    cache = hm.run(SENTENCES, cache=NO_PATTERN(hm)).cache
    for layer in range(hm.n_layers):
        expected = cache[f"mlp_out.{layer}"] + cache[f"attn_out.{layer}"] + cache[f"resid_pre.{layer}"]
        assert torch.equal(expected, cache[f"resid_post.{layer}"])


def test_heads_through_the_output_projection_sum_to_attn_out(tiny_hm):
    cache = tiny_hm.run(SENTENCES, cache=NO_PATTERN(tiny_hm)).cache
    layers = tiny_hm.model.get_submodule(tiny_hm.layout.layers)
    for layer in range(tiny_hm.n_layers):
        proj = layers[layer].get_submodule(tiny_hm.layout.attn_out_proj)
        z = cache[f"z.{layer}"]  # [batch, pos, head, d_head]
        assert z.shape[2:] == (tiny_hm.n_heads, tiny_hm.d_head)
        assert torch.equal(proj(z.flatten(-2)), cache[f"attn_out.{layer}"])
        bias = proj(torch.zeros(tiny_hm.n_heads * tiny_hm.d_head))
        per_head = [proj(_only_head(z, h)) - bias for h in range(tiny_hm.n_heads)]
        torch.testing.assert_close(sum(per_head) + bias, cache[f"attn_out.{layer}"], atol=1e-5, rtol=1e-5)


def _only_head(z, head):
    kept = torch.zeros_like(z)
    kept[:, :, head] = z[:, :, head]
    return kept.flatten(-2)


def test_mlp_neurons_through_the_down_projection_give_mlp_out(tiny_hm):
    cache = tiny_hm.run(SENTENCES, cache=NO_PATTERN(tiny_hm)).cache
    layers = tiny_hm.model.get_submodule(tiny_hm.layout.layers)
    for layer in range(tiny_hm.n_layers):
        down = layers[layer].get_submodule(tiny_hm.layout.mlp_down)
        assert torch.equal(down(cache[f"mlp_post.{layer}"]), cache[f"mlp_out.{layer}"])


def test_pattern_times_values_gives_z_with_grouped_query_heads(tiny_hm):
    """z_h = pattern_h @ v_(h // group): checks the q/k/v head layout, GQA mapping and the pattern."""
    out = tiny_hm.run(SENTENCES, cache=[f"{kind}.{layer}" for kind in ("pattern", "v", "z")
                                          for layer in range(tiny_hm.n_layers)])
    group = tiny_hm.n_heads // tiny_hm.n_kv_heads
    for layer in range(tiny_hm.n_layers):
        pattern, v, z = (out.cache[f"{kind}.{layer}"] for kind in ("pattern", "v", "z"))
        assert v.shape[2] == tiny_hm.n_kv_heads
        assert pattern.shape == (len(SENTENCES), tiny_hm.n_heads, out.batch.width, out.batch.width)
        v_per_query_head = v.repeat_interleave(group, dim=2)  # [batch, pos, head, d_head]
        expected = torch.einsum("bhqk,bkhd->bqhd", pattern, v_per_query_head)
        real = out.batch.attention_mask.bool()
        torch.testing.assert_close(expected[real], z[real], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(pattern.sum(-1)[real.unsqueeze(1).expand_as(pattern[..., 0])],
                                   torch.ones(real.sum() * tiny_hm.n_heads), atol=1e-5, rtol=0)
        assert (pattern.triu(diagonal=1) == 0).all()  # causal


def test_gpt2_queries_and_keys_give_the_pattern():
    hm = interp.models.tiny("gpt2")
    out = hm.run("The keys to the cabinet", cache=["q.0", "k.0", "pattern.0"])
    q, k = out.cache["q.0"], out.cache["k.0"]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / hm.d_head**0.5
    causal = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
    expected = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    torch.testing.assert_close(expected, out.cache["pattern.0"], atol=1e-6, rtol=1e-5)


def test_sites_are_listed_in_execution_order(tiny_hm):
    fired = []
    recorder = lambda act, ctx: fired.append(ctx.site)  # noqa: E731
    with tiny_hm.hooks({site: recorder for site in NO_PATTERN(tiny_hm)}):
        tiny_hm.model(**tiny_hm.tokenize("The keys").model_kwargs("cpu"))
    assert fired == NO_PATTERN(tiny_hm)


def test_module_path_sites_match_canonical_ones():
    hm = interp.models.tiny("llama")
    out = hm.run(SENTENCES, cache=["model.layers.1.mlp:output", "mlp_out.1", "model.layers.1:input",
                                   "resid_pre.1", "model.layers.0.self_attn.o_proj:input"])
    assert torch.equal(out.cache["model.layers.1.mlp:output"], out.cache["mlp_out.1"])
    assert torch.equal(out.cache["model.layers.1:input"], out.cache["resid_pre.1"])
    assert out.cache["model.layers.0.self_attn.o_proj:input"].shape[-1] == hm.n_heads * hm.d_head


@pytest.mark.slow
def test_embedded_model_identities(embedded):
    sites = ["resid_pre.5", "attn_out.5", "resid_mid.5", "mlp_out.5", "resid_post.5", "resid_pre.6", "z.5", "k.5"]
    out = embedded.run(["The keys to the cabinet"], cache=sites)
    plain = embedded.model(**embedded.tokenize(["The keys to the cabinet"]).model_kwargs("cpu")).logits
    c = out.cache
    assert torch.equal(out.logits, plain)
    assert torch.equal(c["resid_pre.5"] + c["attn_out.5"], c["resid_mid.5"])
    assert torch.equal(c["resid_mid.5"] + c["mlp_out.5"], c["resid_post.5"])
    assert torch.equal(c["resid_post.5"], c["resid_pre.6"])
    assert c["z.5"].shape[2:] == (9, 64) and c["k.5"].shape[2:] == (3, 64)
