"""cache="all", patterns ("resid_post.*", "z.3:6"), normalised keys, and short reprs."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import interp
from interp.errors import InputError, SiteError
from interp.graph.cache import cache_sites

HM = interp.models.tiny("llama")


def test_all_caches_every_site_in_execution_order():
    out = HM.run("The keys", cache="all")
    assert list(out.cache) == HM.sites()
    assert torch.equal(out.logits, HM.run("The keys").logits)


def test_patterns_and_ranges_expand_in_order():
    assert cache_sites(HM, ["resid_post.*"]) == ["resid_post.0", "resid_post.1"]
    assert cache_sites(HM, ["z.0:1", "z.-1:", "z.:1"]) == ["z.0", "z.1"]
    assert cache_sites(HM, ["*.1"]) == [s for s in HM.sites() if s.endswith(".1")]
    assert cache_sites(HM, ["resid_post.-1", "resid_post.1", "model.layers.0.mlp:output"]) == [
        "resid_post.1", "model.layers.0.mlp:output"]


def test_negative_and_canonical_names_are_one_entry():
    cache = HM.run("The keys", cache=["resid_post.-1", "resid_post.1", "z.-2"]).cache
    assert list(cache) == ["z.0", "resid_post.1"]
    assert cache["resid_post.-1"] is cache["resid_post.1"] and "z.-2" in cache and cache.get("z.-2") is cache["z.0"]
    with pytest.raises(SiteError, match="was not cached"):
        cache["resid_pre.-1"]


def test_bad_patterns_say_what_exists():
    with pytest.raises(SiteError, match="matches no site"):
        HM.run("The keys", cache=["resid_psot.*"])
    with pytest.raises(InputError, match="selects no layers"):
        HM.run("The keys", cache=["z.5:9"])
    with pytest.raises(InputError, match="list of site names"):
        HM.run("The keys", cache="resid_post.0")


def test_repr_shows_shapes_only_and_copies_leave_the_model_behind():
    cache = HM.run("The keys", cache="all").cache
    text = repr(cache)
    assert text.startswith(f"ActivationCache({len(HM.sites())} sites: embed: [1, ") and "more)" in text
    assert "tensor(" not in text and len(text) < 300
    for copied in (pickle.loads(pickle.dumps(cache)), copy.deepcopy(cache)):
        assert copied.model is None and torch.equal(copied["embed"], cache["embed"])
