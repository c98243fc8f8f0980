"""A site is a value: parsed once, equal to (and hashed as) its name, with its parts and its shape."""

import copy
import json
import pickle

import numpy as np
import pytest
import torch

import interp
from interp.errors import SiteError
from interp.graph.sites import (
    ALL_KINDS,
    HEAD_KINDS,
    LAYER_KINDS,
    LAYER_RESIDUAL_KINDS,
    READ_ONLY_KINDS,
    RESIDUAL_KINDS,
    Site,
    kind_rank,
    parse_site,
)
from interp.interventions import Steer
from interp.interventions.base import site_shape

HM = interp.models.tiny("llama")  # grouped-query attention: 4 heads, 2 key/value heads


@pytest.mark.parametrize("name, parts", [
    ("resid_post.3", ("resid_post", 3, None, None)),
    ("z.-1", ("z", -1, None, None)),
    ("embed", ("embed", None, None, None)),
    ("logits", ("logits", None, None, None)),
    ("model.layers.0.mlp:output", ("module", None, "model.layers.0.mlp", "output")),
])
def test_a_site_is_its_name_with_its_parts(name, parts):
    site = Site.parse(name)
    assert (site.kind, site.layer, site.module, site.io) == parts
    assert site == name and hash(site) == hash(name) and str(site) == name and type(str(site)) is str
    assert {name: 1}[site] == 1 and {site: 1}[name] == 1
    assert parse_site(name) == site and isinstance(parse_site(name), Site)
    assert Site.parse(site) is site
    assert json.loads(json.dumps({site: site})) == {name: name}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(site, protocol))
        assert type(again) is Site and again == site and again.layer == site.layer
    assert copy.deepcopy(site) is site


def test_at_and_of_build_canonical_sites():
    assert Site("resid_post.3").at(5) == "resid_post.5"
    assert Site("z.0").at(-1).layer == -1
    assert Site.of("mlp_out", 2) == "mlp_out.2" and Site.of("embed") == "embed"
    assert Site.of("z", np.int64(1)) == "z.1" and Site.of("z", torch.tensor(1)) == "z.1"
    with pytest.raises(SiteError, match="not a per-layer site"):
        Site("logits").at(0)
    with pytest.raises(SiteError, match="not a per-layer site"):
        Site("model.layers.0.mlp:output").at(1)
    with pytest.raises(SiteError, match="must be an integer"):
        Site.of("z", 1.5)
    with pytest.raises(SiteError, match="not a per-layer site kind"):
        Site.of("embed", 0)
    with pytest.raises(SiteError, match="did you mean 'resid_post.3'"):
        Site("Resid-Post 3")


def test_shape_is_the_trailing_dims_after_batch_and_pos():
    out = HM.run("The keys to the cabinet", cache=[f"{kind}.0" for kind in LAYER_KINDS if kind != "pattern"]
                 + ["embed"])
    for name, activation in out.cache.items():
        assert Site(name).shape(HM) == tuple(activation.shape[2:]), name
        assert site_shape(HM, name) == Site(name).shape(HM)
    assert Site("k.0").shape(HM)[0] == HM.n_kv_heads != HM.n_heads == Site("q.0").shape(HM)[0]
    assert Site("pattern.0").shape(HM) is None and Site("model.norm:output").shape(HM) is None


def test_a_site_value_works_wherever_a_name_does():
    site = Site("resid_post.1")
    out = HM.run("The keys", cache=[site], interventions=[Steer(Site("resid_post.0"), torch.ones(64))])
    assert out.cache[site] is out.cache["resid_post.1"]
    assert HM.binding(site).name == "resid_post.1"
    assert HM.binding(Site("resid_post.-1")).name == f"resid_post.{HM.n_layers - 1}"


def test_kind_groups_are_one_list():
    assert ALL_KINDS[0] == "embed" and ALL_KINDS[-1] == "logits" and set(LAYER_KINDS) < set(ALL_KINDS)
    assert set(HEAD_KINDS) | set(RESIDUAL_KINDS) | READ_ONLY_KINDS | {"mlp_post", "logits"} == set(ALL_KINDS)
    assert RESIDUAL_KINDS == ("embed", *LAYER_RESIDUAL_KINDS)
    assert sorted(reversed(ALL_KINDS), key=kind_rank) == list(ALL_KINDS) and kind_rank("module") == len(ALL_KINDS)
    assert Site("q.0").per_head and not Site("resid_pre.0").per_head and Site("pattern.1").read_only


def test_the_cli_takes_site_kinds_from_the_one_list():
    from interp.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["causalgym", "--site", "z"])
    for kind in LAYER_RESIDUAL_KINDS:
        assert parser.parse_args(["causalgym", "--site", kind, "--out", "x"]).site == kind
    assert parser.parse_args(["sites", "--kind", "pattern"]).kind == "pattern"
