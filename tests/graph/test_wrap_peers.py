"""``interp.wrap`` over TransformerLens and nnsight models means the same sites as the native wrap.

Each peer wraps its own deep copy of a tiny model (a TransformerBridge rewrites the module tree
it is built on). Tolerances: nnsight runs the very same modules, so it is bit for bit; the
bridge re-implements attention eagerly, so against a native run with eager attention it agrees to
float rounding (``atol=1e-5``), and against sdpa to ``1e-4``.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import interp
from interp.graph import count_hooks
from interp.models import FAMILIES

SENTENCES = ["The keys to the cabinet are", "The dog", "No teacher has ever"]
SOME_SITES = ["embed", "resid_pre.1", "q.0", "k.1", "v.0", "z.1", "attn_out.0", "mlp_post.1", "mlp_out.0",
              "resid_post.1", "logits"]


def _real(batch, tensor, site):
    """Compare only real (non-padding) tokens: padded positions are free to differ."""
    mask = batch.attention_mask.bool()
    if site.startswith("pattern"):
        return tensor.permute(0, 2, 3, 1)[mask[:, :, None] & mask[:, None, :]]
    return tensor[mask]


@pytest.fixture
def nnsight():
    pytest.importorskip("nnsight")
    import nnsight

    warnings.filterwarnings("ignore", message=".*LanguageModel is deprecated.*")
    return nnsight


@pytest.fixture
def bridge_from_hf():
    pytest.importorskip("transformer_lens.model_bridge")
    from interp.graph.adapters.transformer_lens import bridge_from_hf

    return bridge_from_hf


# ---------------------------------------------------------------------------------------- nnsight
@pytest.mark.bench
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_nnsight_language_model_matches_native_bit_for_bit(family, nnsight, padding_side):
    native = interp.models.tiny(family)
    lm = nnsight.LanguageModel(copy.deepcopy(native.model), tokenizer=native.tokenizer)
    hm = interp.wrap(lm)
    assert hm.model is lm._module and hm.tokenizer is native.tokenizer
    assert hm.sites() == native.sites()
    sites = [s for s in hm.sites() if not s.startswith("pattern")]
    before = count_hooks(hm.model)
    out = hm.run(SENTENCES, cache=sites, padding_side=padding_side)
    ref = native.run(SENTENCES, cache=sites, padding_side=padding_side)
    assert count_hooks(hm.model) == before
    assert torch.equal(out.logits, ref.logits)
    for site in sites:
        assert torch.equal(out.cache[site], ref.cache[site]), site


@pytest.mark.bench
def test_nnsight_wrap_leaves_nnsight_tracing_working(nnsight):
    native = interp.models.tiny("llama")
    lm = nnsight.LanguageModel(copy.deepcopy(native.model), tokenizer=native.tokenizer)
    hm = interp.wrap(lm)
    out = hm.run(SENTENCES[:1], cache=["resid_post.0"])
    with lm.trace(out.batch.input_ids):
        saved = lm.model.layers[0].output.save()
    saved = saved[0] if isinstance(saved, tuple) else saved
    assert torch.equal(saved, out.cache["resid_post.0"])


@pytest.mark.bench
def test_nnsight_generic_module_gets_module_path_sites(nnsight):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    hm = interp.wrap(nnsight.NNsight(net))
    assert hm.model is net
    images = torch.randn(2, 3, 8, 8)
    out = hm.run(images, cache=["1:output", "3:input"])
    assert torch.equal(out.logits, net(images))
    assert torch.equal(out.cache["1:output"], torch.relu(net[0](images)))
    assert torch.equal(out.cache["3:input"], out.cache["1:output"].flatten(1))
    assert count_hooks(net) == 0


# ------------------------------------------------------------------------------ TransformerBridge
@pytest.mark.bench
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_bridge_matches_native_on_every_site(family, bridge_from_hf, padding_side):
    native = interp.models.tiny(family, attn_implementation="eager")
    hm = interp.wrap(bridge_from_hf(copy.deepcopy(native.model)), native.tokenizer)
    assert set(hm.sites()) == set(native.sites())
    assert hm.n_layers == native.n_layers and hm.n_kv_heads == native.n_kv_heads
    hm.run(SENTENCES)  # the bridge adds its own lasting hooks on its first forward
    before = count_hooks(hm.model)
    out = hm.run(SENTENCES, cache=hm.sites(), padding_side=padding_side)
    ref = native.run(SENTENCES, cache=native.sites(), padding_side=padding_side)
    assert count_hooks(hm.model) == before
    assert set(out.cache) == set(hm.sites())  # every HookPoint bound to a site really fired
    for site in hm.sites():
        assert out.cache[site].shape == ref.cache[site].shape, site
        torch.testing.assert_close(_real(out.batch, out.cache[site], site), _real(ref.batch, ref.cache[site], site),
                                   atol=1e-5, rtol=1e-5, msg=site)
    torch.testing.assert_close(_real(out.batch, out.logits, ""), _real(ref.batch, ref.logits, ""), atol=1e-5, rtol=1e-5)


@pytest.mark.bench
def test_bridge_sites_are_listed_in_the_order_their_hooks_fire(family, bridge_from_hf):
    native = interp.models.tiny(family)
    hm = interp.wrap(bridge_from_hf(copy.deepcopy(native.model)), native.tokenizer)
    fired = []
    with hm.hooks({site: (lambda act, ctx: fired.append(ctx.site)) for site in hm.sites()}):
        hm.model(hm.tokenize(SENTENCES).input_ids)
    assert fired == hm.sites()  # early stopping relies on this order


@pytest.mark.bench
def test_bridge_matches_native_sdpa_within_tolerance(family, bridge_from_hf):
    native = interp.models.tiny(family)  # sdpa: the bridge's eager attention differs by rounding
    hm = interp.wrap(bridge_from_hf(copy.deepcopy(native.model)), native.tokenizer)
    out, ref = hm.run(SENTENCES, cache=SOME_SITES), native.run(SENTENCES, cache=SOME_SITES)
    for site in SOME_SITES:
        torch.testing.assert_close(_real(out.batch, out.cache[site], site), _real(ref.batch, ref.cache[site], site),
                                   atol=1e-4, rtol=1e-4, msg=site)


@pytest.mark.bench
def test_bridge_interventions_stop_and_start_behave_like_native(family, bridge_from_hf):
    native = interp.models.tiny(family, attn_implementation="eager")
    hm = interp.wrap(bridge_from_hf(copy.deepcopy(native.model)), native.tokenizer)
    zero_head = _ZeroHead("z.0", head=1)
    out = hm.run(SENTENCES, interventions=[zero_head], cache=["z.0", "resid_post.1"])
    ref = native.run(SENTENCES, interventions=[zero_head], cache=["z.0", "resid_post.1"])
    assert torch.equal(out.cache["z.0"][:, :, 1], torch.zeros_like(out.cache["z.0"][:, :, 1]))
    torch.testing.assert_close(out.logits, ref.logits, atol=1e-5, rtol=1e-5)

    early = hm.run(SENTENCES, cache=["resid_pre.1"], logits=False)
    assert early.logits is None and early.stopped_at == "resid_pre.1"

    resumed = hm.run(SENTENCES, start_at=("resid_post.0", early.cache["resid_pre.1"]),
                     cache=["attn_out.0", "resid_pre.1"])
    assert "attn_out.0" not in resumed.cache  # layer 0 did not run
    assert torch.equal(resumed.cache["resid_pre.1"], early.cache["resid_pre.1"])
    torch.testing.assert_close(resumed.logits, hm.run(SENTENCES).logits, atol=1e-6, rtol=1e-6)


class _ZeroHead:
    def __init__(self, site, head):
        self.site, self.head = site, head

    def __call__(self, act, context):
        act = act.clone()
        act[:, :, self.head] = 0
        return act


@pytest.mark.bench
def test_bridge_hooks_are_removed_when_a_hook_raises(bridge_from_hf):
    native = interp.models.tiny("gpt2")
    hm = interp.wrap(bridge_from_hf(copy.deepcopy(native.model)), native.tokenizer)
    hm.run(SENTENCES)
    before = count_hooks(hm.model)

    class Boom:
        site = "attn_out.1"

        def __call__(self, act, context):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hm.run(SENTENCES, interventions=[Boom()])
    assert count_hooks(hm.model) == before


@pytest.mark.bench
def test_an_hf_model_taken_over_by_a_bridge_is_refused(bridge_from_hf):
    model = copy.deepcopy(interp.models.tiny("gpt2").model)
    bridge_from_hf(model)
    with pytest.raises(interp.InputError, match="wrap the bridge"):
        interp.wrap(model)


@pytest.mark.bench
def test_hooked_transformer_when_installed():
    pytest.importorskip("transformer_lens")
    try:
        from transformer_lens import HookedTransformer
    except ImportError:
        pytest.skip("this TransformerLens has no HookedTransformer (removed in 4.0)")
    from transformer_lens import HookedTransformerConfig

    cfg = HookedTransformerConfig(n_layers=2, d_model=32, n_ctx=16, d_head=8, n_heads=4, d_vocab=50, act_fn="gelu")
    model = HookedTransformer(cfg).eval()
    hm = interp.wrap(model)
    tokens = torch.randint(0, 50, (2, 7))
    out = hm.run(tokens, cache=hm.sites())
    _, tl_cache = model.run_with_cache(tokens)
    assert torch.equal(out.cache["z.1"], tl_cache["blocks.1.attn.hook_z"])
    assert torch.equal(out.cache["resid_mid.0"], tl_cache["blocks.0.hook_resid_mid"])
    assert torch.equal(out.logits, model(tokens))
    assert count_hooks(model) == 0


# ----------------------------------------------------------------------------- any other module
def test_generic_module_with_module_path_sites():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))
    hm = interp.wrap(net)
    x = torch.randn(3, 4)
    out = hm.run(x, cache=["0:output", "2:input", "2:output"])
    assert torch.equal(out.cache["2:input"], nn.functional.gelu(net[0](x)))
    assert torch.equal(out.cache["2:output"], out.logits)

    class Double:
        site = "1:output"

        def __call__(self, act, context):
            return act * 2

    doubled = hm.run(x, interventions=[Double()]).logits
    assert torch.equal(doubled, net[2](2 * nn.functional.gelu(net[0](x))))
    assert count_hooks(net) == 0


def test_wrap_refuses_what_it_cannot_hook():
    with pytest.raises(interp.InputError, match="nn.Module"):
        interp.wrap(object())


def test_families_cover_the_tiny_models():
    assert set(FAMILIES) == {"gpt2", "neox", "llama"}
