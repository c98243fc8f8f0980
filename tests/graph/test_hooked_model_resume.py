"""HookedModel.resume: finishing a run from cached activations at layer L and the base run's keys and
values for earlier tokens gives the full run's last logits; a hook there acts like one in a full run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import interp
from interp.interventions import Patch

TEXTS = ["The keys to the cabinet", "The dog near the houses"]


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_resume_equals_the_full_run(tiny_hm, padding_side):
    hm = tiny_hm
    batch = hm.tokenize(TEXTS, padding_side=padding_side)
    sites = ["embed", "resid_pre.1", "resid_post.0"]
    full = hm.run(batch, cache=sites, keep_kv=True)
    assert len(full.key_values) == hm.n_layers
    keys, values = full.key_values[0]
    assert keys.shape == values.shape == (2, hm.n_kv_heads, batch.width, hm.d_head)
    assert torch.equal(full.logits, hm.run(batch).logits)  # keep_kv changes nothing else
    start = int(batch.offsets.max()) + 2
    for site in sites:
        for from_token in (0, start):
            out = hm.resume(batch, start_at=(site, full.cache[site]), key_values=full.key_values,
                            from_token=from_token)
            assert out.logits.shape == (2, 1, hm.model.config.vocab_size)
            torch.testing.assert_close(out.last_logits, full.last_logits, atol=1e-5, rtol=0)


def test_resume_hooks_see_the_suffix_and_patch_like_a_full_run(tiny_hm):
    hm = tiny_hm
    batch = hm.tokenize(TEXTS)
    source = hm.run(["The key to the cabinets", "The dogs near the house"], cache=["resid_pre.1"])
    patched = hm.run(batch, interventions=[Patch("resid_pre.1", source.cache, positions=3)]).last_logits
    base = hm.run(batch, cache=["resid_pre.1"], keep_kv=True)
    seen = []

    def patch(act, ctx):  # index 1 of the suffix is token 3
        seen.append(act.shape[1])
        act = act.clone()
        act[:, 1] = source.cache["resid_pre.1"][:, 3]
        return act

    out = hm.resume(batch, start_at=("resid_pre.1", base.cache["resid_pre.1"]), key_values=base.key_values,
                    from_token=2, hooks={"resid_pre.1": patch})
    assert seen == [batch.width - 2]
    torch.testing.assert_close(out.last_logits, patched, atol=1e-5, rtol=0)


def test_resume_errors():
    hm = interp.models.tiny("llama")
    batch = hm.tokenize(TEXTS)
    base = hm.run(batch, cache=["resid_pre.1"], keep_kv=True)
    acts = base.cache["resid_pre.1"]
    with pytest.raises(interp.InputError, match="needs key_values for all 2 layers"):
        hm.resume(batch, start_at=("resid_pre.1", acts), from_token=2)
    with pytest.raises(interp.InputError, match="start_at activations have shape"):
        hm.resume(batch, start_at=("resid_pre.1", acts[:, 1:]), key_values=base.key_values, from_token=2)
    with pytest.raises(interp.InputError, match="outside the inputs"):
        hm.resume(batch, start_at=("resid_pre.1", acts), key_values=base.key_values, from_token=batch.width)
    short = hm.tokenize(["The keys to the cabinet", "The dog"])
    with pytest.raises(interp.InputError, match=r"examples \[1\] end before from_token=4"):
        hm.resume(short, start_at=("embed", torch.zeros(2, short.width, hm.d_model)),
                  key_values=base.key_values, from_token=4)
    with pytest.raises(interp.SiteError, match="can start from"):
        hm.resume(batch, start_at=("mlp_out.1", acts), key_values=base.key_values, from_token=2)


def test_models_that_cannot_resume_say_so():
    hm = interp.wrap(nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10)))
    assert not hm.can_resume
    with pytest.raises(interp.InputError, match="can_resume is False"):
        hm.run(torch.tensor([[1, 2]]), keep_kv=True)
    with pytest.raises(interp.InputError, match="can_resume is False"):
        hm.resume(torch.tensor([[1, 2]]), start_at=("embed", torch.zeros(1, 2, 4)))


def test_started_at_is_reentrant_and_restores_the_model():
    """A run that starts elsewhere inside a started_at block (same thread) starts from the model's
    complete layer list and is fed its own value; the outer block's start is back when it ends."""
    from interp.graph.resume import started_at

    hm = interp.models.tiny("llama")
    batch = hm.tokenize(["The keys to the cabinet", "No dog"])
    cached = hm.run(batch, cache=["resid_pre.1", "resid_post.0", "embed"]).cache
    outer_value = cached["resid_pre.1"] + 1.0
    inner_value = cached["embed"] * 2.0
    layers = hm.model.get_submodule(hm.layout.layers)
    outer_alone = hm.run(batch, start_at=("resid_pre.1", outer_value)).logits
    inner_alone = hm.run(batch, start_at=("embed", inner_value)).logits
    assert not torch.allclose(outer_alone, inner_alone, atol=1e-3)
    with torch.no_grad(), started_at(hm, "resid_pre.1", outer_value, batch):
        assert len(hm.model.get_submodule(hm.layout.layers)) == hm.n_layers - 1
        inner = hm.run(batch, start_at=("embed", inner_value)).logits
        assert len(hm.model.get_submodule(hm.layout.layers)) == hm.n_layers - 1
        outer = hm.model(**batch.model_kwargs("cpu"), use_cache=False).logits
    torch.testing.assert_close(inner, inner_alone, atol=0, rtol=0)
    torch.testing.assert_close(outer, outer_alone, atol=0, rtol=0)
    assert hm.model.get_submodule(hm.layout.layers) is layers
    assert interp.graph.count_hooks(hm.model) == 0
