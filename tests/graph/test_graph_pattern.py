"""Caching ``pattern.L`` leaves the rest of the run bit-identical (interp.graph.attention).

An SDPA model keeps its SDPA output while the family's eager function computes the probabilities beside
it; the pattern equals an eager model's to float rounding; eager models are left alone; what no eager
function covers (Falcon's hand-written attention) falls back to switching the run to eager attention.
"""

from __future__ import annotations

import importlib

import pytest
import torch

import interp
from interp.errors import ModelLoadError
from interp.graph import attention as pattern_attention_module
from interp.graph import count_hooks
from interp.graph.attention import BESIDE_SDPA, pattern_attention

TEXTS = ["The keys to the cabinet are on the", "The dog"]
# Families with canonical sites here; those beyond gpt2/neox/llama run once interp has their layout.
SITE_FAMILIES = ["gpt2", "neox", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo2",
                 "gpt_oss", "starcoder2", "cohere", "granite", "mixtral", "gpt_bigcode", "opt", "gptj"]
NO_ATTENTION = {"mamba", "falcon_mamba", "mamba2", "rwkv"}
MODEL_TYPES = getattr(importlib.import_module("interp.models.tiny"), "MODEL_TYPES", ("gpt2", "neox", "llama"))


def _tiny(family: str, **kwargs) -> interp.graph.HookedModel:
    try:
        return interp.models.tiny(family, **kwargs)
    except ModelLoadError:
        pytest.skip(f"interp.models.tiny has no {family}")


def _with_patterns(family: str) -> interp.graph.HookedModel:
    hm = _tiny(family)
    if not hm.sites("pattern"):
        pytest.skip(f"{family} has no pattern sites (no layout)")
    return hm


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("family", SITE_FAMILIES)
def test_caching_patterns_leaves_logits_and_every_other_site_bit_identical(family, padding_side):
    hm = _with_patterns(family)
    others = [site for site in hm.sites() if not site.startswith("pattern.")]
    plain = hm.run(TEXTS, cache=others, padding_side=padding_side)
    with_pattern = hm.run(TEXTS, cache=others + hm.sites("pattern"), padding_side=padding_side)
    assert torch.equal(plain.logits, with_pattern.logits)
    for site in others:
        assert torch.equal(plain.cache[site], with_pattern.cache[site]), site
    assert hm.config._attn_implementation == interp.models.tiny(family).config._attn_implementation


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("family", SITE_FAMILIES)
def test_the_pattern_is_eager_attention_and_mixes_the_values_into_z(family, padding_side):
    hm = _with_patterns(family)
    eager = _tiny(family, attn_implementation="eager")
    patterns = hm.sites("pattern")
    out = hm.run(TEXTS, cache=patterns + hm.sites("v") + hm.sites("z"), padding_side=padding_side)
    reference = eager.run(TEXTS, cache=patterns, padding_side=padding_side)
    real = out.batch.attention_mask.bool()  # [batch, pos]: the real query tokens
    has_sinks = any(hasattr(module, "sinks") for module in _attention_modules(hm.model))
    for layer, site in enumerate(patterns):
        pattern = out.cache[site]  # [batch, head, query, key]
        assert pattern.shape == (len(TEXTS), hm.n_heads, out.batch.width, out.batch.width)
        # at padding queries the runs differ anyway: a query whose window holds only padding gets SDPA's zeros
        # in one run and eager attention's uniform average in the other, and later layers read that
        torch.testing.assert_close(pattern.transpose(1, 2)[real], reference.cache[site].transpose(1, 2)[real],
                                   atol=1e-6, rtol=0)
        rows = pattern.sum(-1).transpose(1, 2)[real]  # [real query, head]
        if has_sinks:  # gpt_oss: the softmax also covers a learned sink per head, whose share is left out
            assert (rows <= 1 + 1e-5).all() and (rows > 0).all()
        else:
            torch.testing.assert_close(rows, torch.ones_like(rows), atol=1e-5, rtol=0)
        v = out.cache[f"v.{layer}"].repeat_interleave(hm.n_heads // hm.n_kv_heads, dim=2)  # [batch, key, head, d]
        mixed = torch.einsum("bhqk,bkhd->bqhd", pattern, v)
        torch.testing.assert_close(mixed[real], out.cache[f"z.{layer}"][real], atol=1e-5, rtol=1e-5)


def _attention_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [module for module in model.modules() if type(module).__name__.endswith("Attention")]


def _forward(hm, batch, modules=()) -> tuple[torch.Tensor, list]:
    """Logits of the model's own forward and element 1 (the weights) of each attention module's output."""
    weights: list = [None] * len(modules)
    handles = [module.register_forward_hook(lambda mod, args, output, i=i: weights.__setitem__(i, output[1]))
               for i, module in enumerate(modules)]
    try:
        with torch.no_grad():
            return hm.model(**batch.model_kwargs("cpu")).logits, weights
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("family", sorted(set(MODEL_TYPES) - NO_ATTENTION))
def test_every_family_with_attention_returns_weights_beside_its_own_output(family):
    """At the model's own level (no layout needed): same logits, weights equal to eager attention's."""
    hm, eager = _tiny(family), _tiny(family, attn_implementation="eager")
    modules = _attention_modules(hm.model)
    batch = hm.tokenize(TEXTS, padding_side="left")
    plain, _ = _forward(hm, batch)
    with pattern_attention(hm, modules):
        switched_to = hm.config._attn_implementation
        logits, weights = _forward(hm, batch, modules)
    _, reference = _forward(eager, batch, _attention_modules(eager.model))
    if hm.config._attn_implementation == "sdpa" and switched_to == "eager":
        assert family == "falcon"  # hand-written attention, not transformers' interface: the documented fallback
    else:
        assert torch.equal(plain, logits)
    assert all(w is not None for w in weights)
    for got, expected in zip(weights, reference):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", ["gpt2", "neox", "llama"])
def test_a_gradient_run_keeps_its_values_and_gives_the_pattern_eager_attentions_gradient(family):
    hm, eager = interp.models.tiny(family), interp.models.tiny(family, attn_implementation="eager")

    def gradients(model, cache):
        out = model.run(TEXTS, grad=True, cache=cache, cache_grad=True, grads=cache)
        out.logits[:, -1].log_softmax(-1)[:, 3].sum().backward()
        return out

    plain = gradients(hm, ["resid_pre.1"])
    beside = gradients(hm, ["pattern.1", "resid_pre.1"])
    reference = gradients(eager, ["pattern.1", "resid_pre.1"])
    assert torch.equal(plain.logits, beside.logits)
    torch.testing.assert_close(beside.grads["pattern.1"], reference.grads["pattern.1"], atol=1e-5, rtol=1e-4)
    # counted once: the backward goes through the eager computation instead of SDPA's, not beside it
    torch.testing.assert_close(beside.grads["resid_pre.1"], plain.grads["resid_pre.1"], atol=1e-5, rtol=1e-4)


def test_sdpa_models_switch_to_the_registered_implementation_and_back():
    hm = interp.models.tiny("llama")
    with pattern_attention(hm, _attention_modules(hm.model)):
        assert hm.config._attn_implementation == BESIDE_SDPA
        with pattern_attention(hm, _attention_modules(hm.model)):  # re-entrant
            assert hm.config._attn_implementation == BESIDE_SDPA
        assert hm.config._attn_implementation == BESIDE_SDPA
    assert hm.config._attn_implementation == "sdpa"
    eager = interp.models.tiny("llama", attn_implementation="eager")
    with pattern_attention(eager, _attention_modules(eager.model)):
        assert eager.config._attn_implementation == "eager"


def test_only_the_layers_whose_pattern_is_read_compute_weights():
    hm = interp.models.tiny("llama")
    batch = hm.tokenize(TEXTS)
    modules = _attention_modules(hm.model)
    with pattern_attention(hm, modules[1:]):
        _, weights = _forward(hm, batch, modules)
    assert weights[0] is None and weights[1] is not None
    assert len(pattern_attention_module._WANTED) == 0


def test_modules_without_a_family_eager_function_fall_back_to_eager_attention():
    hm = interp.models.tiny("llama")
    with pattern_attention(hm, [torch.nn.Linear(2, 2)]):
        assert hm.config._attn_implementation == "eager"
    assert hm.config._attn_implementation == "sdpa"


class Boom:
    site = "mlp_out.1"

    def __call__(self, activation, context):
        raise RuntimeError("boom")


@pytest.mark.parametrize("fallback", [False, True])
def test_config_and_hooks_come_back_after_an_exception(monkeypatch, fallback):
    hm = interp.models.tiny("llama")
    if fallback:
        monkeypatch.setattr(pattern_attention_module, "family_eager", lambda module: None)
    with pytest.raises(RuntimeError, match="boom"):
        hm.run(TEXTS, interventions=[Boom()], cache=["pattern.0", "pattern.1"])
    assert hm.config._attn_implementation == "sdpa"
    assert count_hooks(hm.model) == 0 and len(pattern_attention_module._WANTED) == 0
    assert torch.equal(hm.run(TEXTS).logits, interp.models.tiny("llama").run(TEXTS).logits)


@pytest.mark.slow
def test_the_embedded_model_gives_bit_identical_logits_with_patterns_cached(embedded):
    plain = embedded.run(TEXTS, cache=["resid_post.3"])
    with_pattern = embedded.run(TEXTS, cache=["resid_post.3", *embedded.sites("pattern")])
    assert torch.equal(plain.logits, with_pattern.logits)
    assert torch.equal(plain.cache["resid_post.3"], with_pattern.cache["resid_post.3"])
    assert embedded.config._attn_implementation == "sdpa"
