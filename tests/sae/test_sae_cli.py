"""``interp sae train|groups|eval|features`` end to end on a saved tiny Llama (a few thousand tokens of
the default corpus, tens of steps): the files each writes, SAELens copies that load back to the same
SAE, an interrupted training that resumes to the same tables, group SAEs kept on a rerun."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from interp.cli import main
from interp.sae import SAE
from interp.sae.saelens import load_saelens
from interp.sae.stack import SAEStack

SMALL = ["--tokens", "1200", "--test-tokens", "256", "--context", "32", "--d-sae", "128", "--k", "4",
         "--batch-size", "128", "--checkpoint-every", "10", "--no-figures"]


def train_argv(model, out, *extra: str) -> list[str]:
    return ["sae", "train", "--model", str(model), "--sites", "resid_post.0,resid_post.1", *SMALL,
            "--steps", "24", "--eval-blocks", "2", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def trained(tiny_llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sae") / "train"
    assert main(train_argv(tiny_llama_dir, out, "--saelens")) == 0
    return out


def test_train_writes_saes_tidy_results_summary_and_meta(trained):
    summary = pd.read_csv(trained / "summary.csv")
    assert list(summary["site"]) == ["resid_post.0", "resid_post.1"] and (summary["l0"] == 4).all()
    assert {"fvu", "dead", "dense", "loss_clean", "loss_spliced", "loss_zero", "loss_recovered"} <= set(summary)
    results = pd.read_csv(trained / "results.csv")
    assert list(results.columns[-2:]) == ["metric", "value"] and len(results) == 2 * results["metric"].nunique()
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["model"].endswith("tiny-llama") and meta["evaluator"] == "sae_train" and meta["seed"] == 0
    assert len(pd.read_csv(trained / "saes" / "training.csv")) > 0
    owner = json.loads((trained / ".interp-owner.json").read_text())
    assert owner["command"] == "sae train" and owner["settings"]["steps"] == 24


def test_saelens_copies_load_back_to_the_same_saes(trained):
    for i, hook in enumerate(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]):
        ours, theirs = SAE.load(trained / "saes" / f"sae_{i}"), load_saelens(trained / "saelens" / f"{hook}.d128")
        x = torch.randn(5, ours.d_in)
        assert theirs.site == ours.site and torch.equal(theirs(x), ours(x))


def test_an_interrupted_training_resumes_to_the_same_tables(trained, tiny_llama_dir, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    calls = []
    after_step = SAEStack.after_step

    def interrupt(self):
        calls.append(1)
        if len(calls) == 15:           # checkpoint at step 10, then stopped in step 15
            raise KeyboardInterrupt
        after_step(self)

    monkeypatch.setattr(SAEStack, "after_step", interrupt)
    assert main(train_argv(tiny_llama_dir, out, "--saelens")) == 130
    assert (out / "saes" / "checkpoint.safetensors").is_file() and not (out / "results.csv").exists()
    monkeypatch.setattr(SAEStack, "after_step", after_step)
    assert main(train_argv(tiny_llama_dir, out, "--saelens")) == 0
    for name in ("results.csv", "summary.csv", "saes/training.csv"):
        assert (out / name).read_text() == (trained / name).read_text(), name
    assert torch.equal(SAE.load(out / "saes" / "sae_1").W_dec, SAE.load(trained / "saes" / "sae_1").W_dec)


def test_other_settings_in_the_same_folder_are_refused(trained, tiny_llama_dir, capsys):
    assert main(train_argv(tiny_llama_dir, trained, "--saelens", "--seed", "1")) == 2
    assert "seed: 0 there, 1 now" in capsys.readouterr().err


def test_eval_and_features_read_the_training_folder(trained, tiny_llama_dir, tmp_path):
    model = ["--model", str(tiny_llama_dir), "--context", "32", "--skip-tokens", "2000", "--no-figures"]
    assert main(["sae", "eval", "--sae", str(trained), *model, "--tokens", "200", "--eval-blocks", "2",
                 "--out", str(tmp_path / "eval")]) == 0
    summary = pd.read_csv(tmp_path / "eval" / "summary.csv")
    assert list(summary["site"]) == ["resid_post.0", "resid_post.1"]   # each SAE once, not its SAELens copy
    assert main(["sae", "features", "--sae", str(trained), "--site", "resid_post.1", *model[:-1], "--texts", "6",
                 "--n-features", "3", "--out", str(tmp_path / "features")]) == 0
    features = pd.read_csv(tmp_path / "features" / "summary.csv")
    assert len(features) == 3 and (features["max_activation"] > 0).all()
    assert "feature" in (tmp_path / "features" / "figures" / "features.html").read_text()
    assert len(pd.read_csv(tmp_path / "features" / "contexts.csv")) > 0


def test_groups_writes_both_kinds_of_sae_and_keeps_them_on_a_rerun(tiny_llama_dir, tmp_path):
    argv = ["sae", "groups", "--model", str(tiny_llama_dir), "--n-groups", "1", *SMALL, "--steps", "12",
            "--out", str(tmp_path / "groups")]
    assert main(argv) == 0
    out = tmp_path / "groups"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["groups"] == [["resid_post.0", "resid_post.1"]]
    curve = pd.read_csv(out / "fvu_curve.csv")
    assert set(curve.approach) == {"per_layer", "groups"} and meta["target_fvu"] > 0
    assert list(pd.read_csv(out / "cost.csv")["n_saes"]) == [2, 1]
    assert SAE.load(out / "saes" / "groups" / "sae_0").sites == ("resid_post.0", "resid_post.1")
    results = pd.read_csv(out / "results.csv")
    assert set(results["approach"]) == {"per_layer", "groups"} and set(results["metric"]) >= {"fvu", "l0"}
    before = (out / "summary.csv").read_text()
    weights = (out / "saes" / "groups" / "sae_0" / "sae.safetensors").read_bytes()
    assert main(argv) == 0                                   # resumes at the last step: nothing to train again
    assert (out / "summary.csv").read_text() == before
    assert (out / "saes" / "groups" / "sae_0" / "sae.safetensors").read_bytes() == weights
