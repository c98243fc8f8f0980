"""The nnsight-trace path (the route to NDIF-served models) gives the native path's numbers."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.errors import InputError
from interp.graph.adapters.nnsight_trace import run_traced
from interp.graph.runner import count_hooks
from interp.interventions import DAS, Ablate, Apply, Patch, ScaleHeads, Steer, Subspace

nnsight = pytest.importorskip("nnsight")

BASE = ["The key to the cabinets", "The dogs near the car"]
SOURCE = ["A red fish swims far away", "Every cat sat on my old mat"]


def _interventions(hm) -> dict[str, list]:
    """Named sets of interventions, several kinds at several sites; each binds to BASE."""
    source = hm.run(SOURCE, cache=["resid_post.0", "z.1", "resid_pre.1"])
    d = hm.d_model
    basis = torch.linalg.qr(torch.randn(d, 3, generator=torch.Generator().manual_seed(0))).Q
    return {
        "patch": [Patch("resid_post.0", source=source.cache, positions=1)],
        "patch_heads": [Patch("z.1", source=source.cache, positions="last", heads=[0])],
        "ablate": [Ablate("mlp_out.0", "zero", positions=[[0, 2], [0, 2]]), Ablate("z.0", "mean", reference=SOURCE)],
        "subspace": [Subspace("resid_pre.1", basis, source=source.cache, positions="last")],
        "das": [DAS("resid_post.0", d, rank=2, source=source.cache, positions=1, seed=0)],
        "scale_heads": [ScaleHeads("z.1", {0: -1.5, 1: 0.0}), ScaleHeads("v.0", {0: 2.0})],
        "steer_and_apply": [Steer("resid_post.1", torch.ones(d), alpha=0.5, positions="last"),
                            Apply("attn_out.0", lambda act, ctx: act * 0.5)],
        "resid_mid": [Steer("resid_mid.0", torch.ones(d), alpha=1.0)],
    }


def _resid_mid_ok(hm, kind: str) -> bool:
    return kind != "resid_mid" or "resid_mid.0" in hm.sites()


@pytest.mark.parametrize("family", ["gpt2", "neox", "llama"])
@pytest.mark.parametrize("kind", ["patch", "patch_heads", "ablate", "subspace", "das", "scale_heads",
                                  "steer_and_apply", "resid_mid"])
def test_traced_equals_native(family, kind):
    hm = interp.models.tiny(family, seed=1)
    if not _resid_mid_ok(hm, kind):
        pytest.skip("parallel-residual NeoX has no resid_mid")
    lm = nnsight.NNsight(hm.model)
    interventions = _interventions(hm)[kind]
    cached = ["resid_post.1", "z.0"]
    native = hm.run(BASE, interventions=interventions, cache=cached)
    traced = run_traced(lm, BASE, interventions=interventions, cache=cached, hm=hm)
    plain = hm.run(BASE)
    assert not torch.equal(native.logits, plain.logits)  # the interventions do something
    assert torch.equal(traced.logits, native.logits)
    for site in cached:
        assert torch.equal(traced.cache[site], native.cache[site])
    assert count_hooks(hm.model) == 0


def test_traced_without_interventions_is_the_plain_forward():
    hm = interp.models.tiny("llama")
    traced = run_traced(nnsight.NNsight(hm.model), BASE, hm=hm)
    assert torch.equal(traced.logits, hm.run(BASE).logits)


def test_left_padding_counts_real_tokens():
    hm = interp.models.tiny("gpt2")
    steer = Steer("resid_post.0", torch.ones(hm.d_model), alpha=1.0, positions=0)
    left = run_traced(nnsight.NNsight(hm.model), BASE, interventions=[steer], hm=hm, padding_side="left")
    native = hm.run(BASE, interventions=[steer], padding_side="left")
    assert torch.equal(left.logits, native.logits)


def test_bad_input_fails_before_the_trace():
    hm = interp.models.tiny("llama")
    lm = nnsight.NNsight(hm.model)
    with pytest.raises(InputError, match="nnsight model"):
        run_traced(hm.model, BASE)
    with pytest.raises(InputError, match="head index"):
        run_traced(lm, BASE, interventions=[ScaleHeads("z.0", {99: 0.0})], hm=hm)
    other = interp.models.tiny("llama", seed=3)
    with pytest.raises(InputError, match="same module"):
        run_traced(lm, BASE, hm=other)
    assert count_hooks(hm.model) == 0


@pytest.mark.slow
def test_embedded_language_model_flip_is_the_same_through_nnsight():
    hm = interp.load()
    lm = nnsight.LanguageModel(hm.model, tokenizer=hm.tokenizer)
    source = hm.run(["The keys to the cabinet"], cache=["resid_pre.2"])
    patch = Patch("resid_pre.2", source=source.cache, positions=[1])
    base = ["The key to the cabinets"]
    traced = run_traced(lm, base, interventions=[patch])
    native = hm.run(base, interventions=[patch])
    assert torch.equal(traced.logits, native.logits)
    are, is_ = (hm.tokenizer.encode(w)[0] for w in (" are", " is"))
    assert traced.last_logits[0, are] > traced.last_logits[0, is_]
