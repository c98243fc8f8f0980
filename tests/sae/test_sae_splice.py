"""The SAE splice (interp.sae.splice): reconstruction plus error term leaves every tiny family's logits
as they were; feature ablation, setting and patching; composition with other interventions in one
forward; features in hm.run's cache; steering along a decoder row while generating; no hooks left."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import interp
from interp.errors import InputError
from interp.graph.runner import count_hooks
from interp.interventions import Apply, Patch, Slots
from interp.sae import SAE, Splice, feature_activations, feature_steer

_families = Path(__file__).resolve().parents[1] / "graph" / "test_families.py"
_spec = importlib.util.spec_from_file_location("sae_splice_families", _families)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
WORKING = sorted(_module.WORKING)

TEXTS = ["The keys to the cabinet are", "No teacher has ever"]
SOURCE = ["A dog near the houses was", "Once upon a time"]


def random_sae(d_in: int, site: str, kind: str = "topk", d_sae: int = 96, seed: int = 0) -> SAE:
    sae = SAE(d_in, d_sae, kind=kind, k=6 if kind == "topk" else None, site=site, seed=seed)
    with torch.no_grad():  # a non-trivial encoder and decoder bias, so ablation and error terms matter
        g = torch.Generator().manual_seed(seed + 1)
        sae.W_enc.copy_(torch.randn(d_in, d_sae, generator=g) / d_in ** 0.5)
        sae.b_dec.copy_(torch.randn(d_in, generator=g) * 0.1)
        sae.b_enc.copy_(torch.randn(d_sae, generator=g) * 0.1)
    return sae


@pytest.fixture(scope="module")
def llama():
    return interp.models.tiny("llama")


@pytest.mark.parametrize("model_type", WORKING)
def test_splice_keeps_logits_on_every_family(model_type):
    hm = interp.models.tiny(model_type)
    site = "resid_post.0"
    sae = random_sae(hm.d_model, site)
    clean = hm.run(TEXTS, cache=[site])
    out = hm.run(TEXTS, interventions=[Splice(sae)], cache=[f"sae:{site}"])
    torch.testing.assert_close(out.logits, clean.logits, rtol=0, atol=1e-5)
    # the features the run used are the SAE's encoding of the clean site value
    torch.testing.assert_close(out.cache[f"sae:{site}"], sae.encode(clean.cache[site]), rtol=0, atol=1e-6)
    # reconstruction + error written out by hand (as SAELens splices) agrees to float rounding
    by_hand = hm.run(TEXTS, interventions=[Apply(site, lambda x, ctx: sae(x) + (x - sae(x)))])
    torch.testing.assert_close(by_hand.logits, clean.logits, rtol=0, atol=1e-5)
    assert count_hooks(hm.model) == 0


@pytest.mark.parametrize("kind", ["relu", "topk", "jumprelu"])
def test_ablating_every_feature_leaves_b_dec_plus_error(llama, kind):
    sae = random_sae(llama.d_model, "resid_post.0", kind=kind)
    ablated = llama.run(TEXTS, interventions=[Splice(sae, ablate="all")], cache=["sae:resid_post.0"])
    by_hand = llama.run(TEXTS, interventions=[Apply("resid_post.0", lambda x, ctx: sae.b_dec + (x - sae(x)))])
    torch.testing.assert_close(ablated.logits, by_hand.logits, rtol=0, atol=1e-5)
    assert not ablated.cache["sae:resid_post.0"].any()
    assert not torch.allclose(ablated.logits, llama.run(TEXTS).logits, atol=1e-3)


def test_set_to_and_positions_touch_only_those_features_and_tokens(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    clean = llama.run(TEXTS, cache=["resid_post.0"])
    splice = Splice(sae, set_to={7: 3.0}, ablate=[1, 2], positions="last")
    out = llama.run(TEXTS, interventions=[splice], cache=["sae:resid_post.0", "resid_post.0"])
    f = sae.encode(clean.cache["resid_post.0"])
    last = out.batch.last_index
    rows = torch.arange(len(TEXTS))
    edited = f.clone()
    edited[rows, last, 7] = 3.0
    edited[rows, last, 1:3] = 0
    torch.testing.assert_close(out.cache["sae:resid_post.0"], edited)
    expected = clean.cache["resid_post.0"] + (edited - f) @ sae.W_dec
    torch.testing.assert_close(out.cache["resid_post.0"], expected, rtol=0, atol=1e-5)
    unchanged = torch.ones_like(f[..., 0], dtype=torch.bool)
    unchanged[rows, last] = False
    assert torch.equal(out.cache["resid_post.0"][unchanged], clean.cache["resid_post.0"][unchanged])


def test_error_false_is_the_reconstruction(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    out = llama.run(TEXTS, interventions=[Splice(sae, error=False)])
    by_hand = llama.run(TEXTS, interventions=[Apply("resid_post.0", lambda x, ctx: sae(x))])
    torch.testing.assert_close(out.logits, by_hand.logits, rtol=0, atol=1e-5)


def test_feature_patching_takes_the_source_features(llama):
    sae = random_sae(llama.d_model, "resid_post.1")
    source = llama.run(SOURCE, cache=["resid_post.1"])
    splice = Splice(sae, source=source, patch=[0, 5, 9], positions="last")
    out = llama.run(TEXTS, interventions=[splice], cache=["sae:resid_post.1"])
    rows = torch.arange(len(TEXTS))
    source_f = sae.encode(source.cache["resid_post.1"])[rows, source.batch.last_index]
    got = out.cache["sae:resid_post.1"][rows, out.batch.last_index]
    torch.testing.assert_close(got[:, [0, 5, 9]], source_f[:, [0, 5, 9]])
    # patching every feature at a position moves x by the difference of the reconstructions only
    every = llama.run(TEXTS, interventions=[Splice(sae, source=SOURCE, patch="all", positions="last")],
                      cache=["sae:resid_post.1"])
    torch.testing.assert_close(every.cache["sae:resid_post.1"][rows, every.batch.last_index], source_f)


def test_splice_composes_with_a_patch_at_another_layer(llama):
    sae = random_sae(llama.d_model, "resid_post.1")
    source = llama.run(SOURCE, cache=["resid_pre.1"])
    patch = Patch("resid_pre.1", source=source, positions=[1])
    splice = Splice(sae, ablate=[0, 1, 2, 3], set_to={4: 2.0})
    together = llama.run(TEXTS, interventions=[splice, patch], cache=["sae:resid_post.1"])  # listed out of order
    # in sequence: the patched run's resid_post.1, spliced by hand, written back with a Patch
    patched = llama.run(TEXTS, interventions=[patch], cache=["resid_post.1"])
    x = patched.cache["resid_post.1"]
    f = sae.encode(x)
    edited = f.clone()
    edited[..., :4] = 0
    edited[..., 4] = 2.0
    spliced = x + (edited - f) @ sae.W_dec
    sequence = llama.run(TEXTS, interventions=[patch, Patch("resid_post.1", source=spliced, positions=None)])
    torch.testing.assert_close(together.logits, sequence.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(together.cache["sae:resid_post.1"], edited)


def test_slots_edit_one_token_per_row(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    batch = llama.tokenize(TEXTS)
    slots = Slots(batch=torch.tensor([0, 1]), token=torch.tensor([2, 1]))
    out = llama.run(batch, interventions=[Splice(sae, ablate="all", positions=slots)], cache=["sae:resid_post.0"])
    f = out.cache["sae:resid_post.0"]
    assert not f[0, 2].any() and not f[1, 1].any() and f[0, 1].any()


def test_feature_activations_and_stop_early(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    features = feature_activations(llama, sae, TEXTS)
    clean = llama.run(TEXTS, cache=["resid_post.0"])
    torch.testing.assert_close(features, sae.encode(clean.cache["resid_post.0"]))
    out = llama.run(TEXTS, interventions=[Splice(sae)], cache=["sae:resid_post.0"], stop_at="resid_post.0")
    assert out.logits is None and out.cache["sae:resid_post.0"].shape == (2, clean.batch.width, sae.d_sae)
    with pytest.raises(InputError, match="stop_at"):
        llama.run(TEXTS, interventions=[Splice(sae)], cache=["sae:resid_post.0"], stop_at="resid_pre.0")


def test_feature_steering_changes_generated_tokens(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    plain = llama.generate(["The keys to the"], max_new_tokens=6)
    steered = llama.generate(["The keys to the"], interventions=[feature_steer(sae, 3, alpha=40.0)],
                             max_new_tokens=6, where="all")
    assert not torch.equal(plain.new_tokens, steered.new_tokens)
    # a splice without edits during generation changes nothing, token for token
    spliced = llama.generate(["The keys to the"], interventions=[Splice(sae)], max_new_tokens=6, where="all")
    assert torch.equal(plain.new_tokens, spliced.new_tokens)
    assert count_hooks(llama.model) == 0


def test_feature_steer_is_a_steer_along_the_decoder_row(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    steer = feature_steer(sae, 3, alpha=2.0, positions="last")
    assert torch.equal(steer.vector, sae.W_dec[3].detach())
    with pytest.raises(InputError, match="out of range"):
        feature_steer(sae, sae.d_sae)


def test_no_hooks_leak_after_an_error(llama):
    sae = random_sae(llama.d_model, "resid_post.0")

    def boom(act, ctx):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        llama.run(TEXTS, interventions=[Splice(sae, ablate=[1]), Apply("resid_post.1", boom)],
                  cache=["sae:resid_post.0"])
    assert count_hooks(llama.model) == 0
    with pytest.raises(InputError, match="width"):
        llama.run(TEXTS, interventions=[Splice(random_sae(32, "resid_post.0"))])
    assert count_hooks(llama.model) == 0


def test_bad_splices_are_errors_before_the_forward(llama):
    sae = random_sae(llama.d_model, "resid_post.0")
    with pytest.raises(InputError, match="out of range"):
        Splice(sae, ablate=[sae.d_sae])
    with pytest.raises(InputError, match="source"):
        Splice(sae, patch=[1])
    with pytest.raises(InputError, match="trained on"):
        llama.run(TEXTS, interventions=[Splice(sae, "resid_post.1")])
    with pytest.raises(InputError, match="site"):
        Splice(SAE(64, 32, site=["resid_post.0", "resid_post.1"]))
    with pytest.raises(InputError, match="save the SAE"):
        Splice(sae).save("unused")
    group = SAE(llama.d_model, 32, site=["resid_post.0", "resid_post.1"])   # a layer-group SAE, one of its sites
    out = llama.run(TEXTS, interventions=[Splice(group, "resid_post.-1")], cache=["sae:resid_post.-1"])
    assert out.cache["sae:resid_post.-1"].shape[-1] == 32
