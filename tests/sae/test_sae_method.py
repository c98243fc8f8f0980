"""The CausalGym method ``sae`` (interp.sae.direction): the feature that separates the two types, its
decoder row as the direction; SAEs found in a folder by site; end to end in causal_efficacy and the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_LARGE

import interp
from interp.cli import main
from interp.errors import InputError
from interp.eval import causal_efficacy
from interp.eval.causalgym.config import CausalGymConfig
from interp.sae import SAE
from interp.sae.direction import sae_direction, sae_for_site

TASK = AGREEMENT_LARGE
CONTROL = (" dog", " house")


def test_picks_the_separating_feature_not_the_strongest():
    g = torch.Generator().manual_seed(0)
    d, n = 16, 40
    sae = SAE(d, 8, kind="relu", seed=0)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d)[:, :8])     # feature i reads coordinate i
        sae.W_dec.copy_(torch.eye(d)[:8] * 2)
    base = torch.randn(n, d, generator=g).abs()
    base[:, 2] += 10 * torch.rand(n, generator=g)        # feature 2: strong on both sides, no separation
    source = base.clone()
    source[:, 2] = 10 * torch.rand(n, generator=g)
    source[:, 5] += 1.5                                   # feature 5: modest, fires more on the source type
    chosen = sae_direction(sae, base, source, ["sg"] * n, ["pl"] * n)
    assert chosen.feature == 5
    torch.testing.assert_close(chosen.direction, torch.eye(d)[5])              # the unit decoder row
    assert chosen.separation == chosen.separations.max() and chosen.separations[2] < 1
    with pytest.raises(InputError, match="two types"):
        sae_direction(sae, base, source, ["sg"] * n, ["sg"] * n)


def test_finds_the_sae_of_a_site_in_a_folder(tmp_path):
    SAE(64, 32, site="resid_post.0", seed=0).save(tmp_path / "run" / "sae_0")
    SAE(64, 32, site=["resid_post.1", "resid_post.2"], seed=1).save(tmp_path / "run" / "sae_1")
    assert sae_for_site(tmp_path, "resid_post.0").site == "resid_post.0"
    assert sae_for_site(tmp_path / "run", "resid_post.2").sites == ("resid_post.1", "resid_post.2")
    assert sae_for_site(tmp_path / "run" / "sae_0", "resid_post.0").d_sae == 32
    with pytest.raises(InputError, match="no SAE .* reads resid_post.3"):
        sae_for_site(tmp_path, "resid_post.3")
    with pytest.raises(InputError, match="does not exist"):
        sae_for_site(tmp_path / "nowhere", "resid_post.0")


def test_the_sae_method_needs_saes_and_is_not_a_default():
    assert "sae" not in CausalGymConfig().validate().methods
    with pytest.raises(InputError, match="needs SAEs"):
        CausalGymConfig(methods="mean,sae").validate()
    assert CausalGymConfig(methods="mean,sae", sae="somewhere").validate().methods == ["mean", "sae"]


@pytest.fixture(scope="module")
def sae_folder(tmp_path_factory):
    hm = interp.models.tiny("llama")
    folder = tmp_path_factory.mktemp("saes")
    SAE(hm.d_model, 128, kind="topk", k=8, site="resid_post.0", seed=0).save(folder / "sae_0")
    return folder


def test_causal_efficacy_compares_sae_with_the_other_methods(suite, sae_folder, tmp_path):
    hm = interp.models.tiny("llama")
    result = causal_efficacy(hm, suite, layers=[0], methods=["mean", "sae"], sae=str(sae_folder), n_train=8,
                             n_test=8, n_boot=50, control_labels=CONTROL, out=tmp_path / "run")
    assert set(result.results.method) == {"mean", "sae"}
    basis = result.subspaces("agr", "sae", 0)[0].basis
    norms = torch.as_tensor(basis).reshape(-1, hm.d_model).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


def test_cli_takes_sae(tiny_llama_dir, suite, sae_folder, tmp_path):
    argv = ["causalgym", "--model", str(tiny_llama_dir), "--suite", str(suite), "--methods", "probe,sae",
            "--layers", "0", "--n-train", "8", "--n-test", "8", "--no-control", "--n-boot", "50", "--no-figures",
            "--out", str(tmp_path / "cli")]
    assert main([*argv, "--sae", str(sae_folder)]) == 0
    assert set(pd.read_csv(tmp_path / "cli" / "summary.csv").method) >= {"probe", "sae"}
    assert main(argv[:-2] + ["--out", str(tmp_path / "none")]) == 2         # sae without --sae: a one-line error
