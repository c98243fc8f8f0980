"""Hooks never outlive a run, and bad site names say what exists instead."""

import pytest
import torch

import interp
from interp.errors import SiteError
from interp.graph import count_hooks


class Boom:
    def __init__(self, site, error):
        self.site, self.error = site, error

    def __call__(self, act, ctx):
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("inside a hook"), KeyboardInterrupt()])
def test_no_hook_survives_an_exception(tiny_hm, error):
    before = count_hooks(tiny_hm.model)
    weights = [p.clone() for p in tiny_hm.model.parameters()]
    layers = tiny_hm.model.get_submodule(tiny_hm.layout.layers)
    start = tiny_hm.run("The keys", cache=["resid_pre.1"]).cache["resid_pre.1"]
    with pytest.raises(type(error)):
        tiny_hm.run("The keys", interventions=[Boom("mlp_out.1", error)], cache=["pattern.1", "z.0"],
                    start_at=("resid_pre.1", start))
    assert count_hooks(tiny_hm.model) == before == 0
    assert tiny_hm.model.get_submodule(tiny_hm.layout.layers) is layers
    assert tiny_hm.config._attn_implementation == "sdpa"
    assert all(torch.equal(a, b) for a, b in zip(weights, tiny_hm.model.parameters()))
    assert not any(p.requires_grad for p in tiny_hm.model.parameters())


def test_user_hooks_are_left_alone(tiny_hm):
    handle = tiny_hm.model.get_submodule(tiny_hm.layout.layers)[0].register_forward_hook(lambda *a: None)
    tiny_hm.run("The keys", cache=["resid_post.0"], logits=False)
    assert count_hooks(tiny_hm.model) == 1
    handle.remove()


def test_hooks_context_removes_its_hooks(tiny_hm):
    with tiny_hm.hooks({"resid_post.0": lambda act, ctx: None}):
        assert count_hooks(tiny_hm.model) == 1
    assert count_hooks(tiny_hm.model) == 0


@pytest.mark.parametrize("name, message", [
    ("resid_pst.1", r"unknown site 'resid_pst.1'; did you mean 'resid_post.1'"),
    ("resid_post.7", r"layer 7 .* out of range: tiny-llama has 2 layers \(0..1"),
    ("attn.0", r"did you mean"),
    ("resid post", r"not a site name"),
    ("model.layers.0.mlpp:output", r"no module 'model.layers.0.mlpp'.*model.layers.0.mlp"),
    ("model.layers.0.mlp:outptu", r"not a site name"),
])
def test_bad_site_names_explain_themselves(name, message):
    hm = interp.models.tiny("llama")
    with pytest.raises(SiteError, match=message):
        hm.run("The keys", cache=[name])


def test_a_site_the_architecture_lacks_names_the_family():
    hm = interp.models.tiny("neox")
    with pytest.raises(SiteError, match=r"GPT-NeoX architecture has no 'resid_mid' sites.*parallel residual"):
        hm.run("The keys", cache=["resid_mid.0"])


def test_pattern_is_read_only():
    hm = interp.models.tiny("gpt2")

    class Flat:
        site = "pattern.0"

        def __call__(self, act, ctx):
            return torch.ones_like(act)

    with pytest.raises(SiteError, match="read-only"):
        hm.run("The keys", interventions=[Flat()])
    assert count_hooks(hm.model) == 0
