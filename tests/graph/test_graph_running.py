"""Selective caching, early stop, starting mid-graph, padding and gradients."""

import pytest
import torch
from torch import nn

import interp
from interp.errors import InputError, SiteError

TEXTS = ["The keys to the cabinet", "No teacher", "The dog near the houses was"]


def calls_of(module: nn.Module) -> list:
    calls = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


def layers_of(hm):
    return hm.model.get_submodule(hm.layout.layers)


def test_only_requested_sites_are_cached(tiny_hm):
    out = tiny_hm.run(TEXTS, cache=["resid_post.0", "z.1"])
    assert set(out.cache) == {"resid_post.0", "z.1"}
    with pytest.raises(SiteError, match="was not cached.*resid_post.0"):
        out.cache["mlp_out.0"]


def test_logits_false_stops_after_the_last_needed_site(tiny_hm):
    last_layer_calls = calls_of(layers_of(tiny_hm)[-1])
    unembed_calls = calls_of(tiny_hm.model.get_output_embeddings())
    out = tiny_hm.run(TEXTS, cache=["resid_post.0"], logits=False)
    assert out.logits is None and out.stopped_at == "resid_post.0"
    assert last_layer_calls == [] and unembed_calls == []
    full = tiny_hm.run(TEXTS, cache=["resid_post.0"])
    assert torch.equal(out.cache["resid_post.0"], full.cache["resid_post.0"])


def test_stop_at_names_the_site(tiny_hm):
    mlp_calls = calls_of(layers_of(tiny_hm)[0].get_submodule(tiny_hm.layout.mlp))
    out = tiny_hm.run(TEXTS, cache=["z.0"], stop_at="attn_out.0")
    assert out.logits is None and "z.0" in out.cache
    if not tiny_hm.layout.parallel_residual(tiny_hm.config):
        assert mlp_calls == []


@pytest.mark.parametrize("site", ["embed", "resid_pre.1", "resid_post.0", "resid_post.1"])
def test_starting_mid_graph_gives_the_same_logits_without_the_prefix(tiny_hm, site):
    full = tiny_hm.run(TEXTS, cache=[site])
    first_layer = layers_of(tiny_hm)[0]
    first_layer_calls = calls_of(first_layer)
    resumed = tiny_hm.run(TEXTS, start_at=(site, full.cache[site]))
    assert torch.equal(resumed.logits, full.logits)
    assert len(first_layer_calls) == (1 if site in ("embed", "resid_pre.0") else 0)
    assert layers_of(tiny_hm)[0] is first_layer and len(layers_of(tiny_hm)) == tiny_hm.n_layers


def test_starting_mid_graph_uses_the_given_activations(tiny_hm):
    cache = tiny_hm.run(TEXTS, cache=["resid_pre.1"]).cache
    shifted = tiny_hm.run(TEXTS, start_at=("resid_pre.1", cache["resid_pre.1"] * 2), cache=["resid_pre.1"])
    assert torch.equal(shifted.cache["resid_pre.1"], cache["resid_pre.1"] * 2)


def test_start_at_rejects_other_sites_and_wrong_shapes(tiny_hm):
    cache = tiny_hm.run(TEXTS, cache=["resid_pre.1"]).cache
    with pytest.raises(SiteError, match="can start from"):
        tiny_hm.run(TEXTS, start_at=("mlp_out.0", cache["resid_pre.1"]))
    with pytest.raises(InputError, match=r"shape \(2,"):
        tiny_hm.run(TEXTS, start_at=("resid_pre.1", cache["resid_pre.1"][:2]))


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_padded_batches_match_single_runs_at_real_tokens(tiny_hm, padding_side):
    batched = tiny_hm.run(TEXTS, cache=["resid_post.1"], padding_side=padding_side)
    for row, text in enumerate(TEXTS):
        alone = tiny_hm.run([text], cache=["resid_post.1"])
        real = batched.batch.attention_mask[row].bool()
        torch.testing.assert_close(batched.cache["resid_post.1"][row, real], alone.cache["resid_post.1"][0],
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batched.last_logits[row], alone.last_logits[0], atol=1e-5, rtol=1e-5)


def test_cache_is_detached_unless_asked(tiny_hm):
    scale = nn.Parameter(torch.tensor(1.0))

    class Scale:
        site = "resid_pre.1"

        def __call__(self, act, ctx):
            return act * scale

    kept = tiny_hm.run(TEXTS, interventions=[Scale()], cache=["resid_post.1"], grad=True, cache_grad=True)
    assert kept.cache["resid_post.1"].requires_grad
    kept.logits.sum().backward()
    assert scale.grad is not None and not any(p.grad is not None for p in tiny_hm.model.parameters())
    detached = tiny_hm.run(TEXTS, interventions=[Scale()], cache=["resid_post.1"], grad=True)
    assert not detached.cache["resid_post.1"].requires_grad
    no_grad = tiny_hm.run(TEXTS, interventions=[Scale()])
    assert not no_grad.logits.requires_grad


def test_pattern_runs_switch_to_eager_and_back(tiny_hm):
    assert tiny_hm.config._attn_implementation == "sdpa"
    out = tiny_hm.run(TEXTS, cache=["pattern.0"])
    assert out.cache["pattern.0"] is not None
    assert tiny_hm.config._attn_implementation == "sdpa"


def test_negative_layers_count_from_the_end(tiny_hm):
    out = tiny_hm.run(TEXTS, cache=["resid_post.-1", f"resid_post.{tiny_hm.n_layers - 1}"])
    assert torch.equal(out.cache["resid_post.-1"], out.cache[f"resid_post.{tiny_hm.n_layers - 1}"])


def test_any_module_without_an_adapter():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    hm = interp.wrap(net)
    x = torch.randn(3, 4)

    class Zero:
        site = "1:output"

        def __call__(self, act, ctx):
            return torch.zeros_like(act)

    out = hm.run(x, cache=["0:output", "2:input"])
    assert torch.equal(out.logits, net(x))
    assert torch.equal(out.cache["2:input"], out.cache["0:output"].relu())
    zeroed = hm.run(x, interventions=[Zero()])
    assert torch.equal(zeroed.logits, net[2].bias.expand(3, 2))
    with pytest.raises(SiteError, match="no adapter"):
        hm.run(x, cache=["resid_post.0"])
