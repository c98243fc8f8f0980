"""Training-checkpoint trajectories offline: a fake local Hugging Face cache with two revisions of a tiny
model, ``interp.load(..., revision=...)``, ``interp causalgym --revisions`` and the trajectory figure."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import huggingface_hub.constants
import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_SMALL

import interp
from interp.cli import main
from interp.errors import ModelLoadError
from interp.eval import causal_efficacy
from interp.experiments import Experiment
from interp.viz.trajectory import revision_steps, revision_trajectory, trajectory_table

# the small task with "cabinet" for "door" among the objects
_OBJECTS = ["house", "table", "forest", "cabinet"]
TASK = {"agr": {**AGREEMENT_SMALL["agr"],
                "variables": {**AGREEMENT_SMALL["agr"]["variables"], "object": _OBJECTS}}}
REVISIONS = {"step1": 1, "step20": 2}  # revision -> seed of the tiny model saved under it


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    """``models--org--tiny`` with one snapshot per revision and ``refs/<revision>`` naming it."""
    root = tmp_path_factory.mktemp("hf-cache")
    repo = root / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    for index, (revision, seed) in enumerate(REVISIONS.items()):
        commit = f"{index + 1:040x}"
        hm = interp.models.tiny("llama", seed=seed)
        hm.model.save_pretrained(repo / "snapshots" / commit)
        hm.tokenizer.save_pretrained(repo / "snapshots" / commit)
        (repo / "refs" / revision).write_text(commit)
    return root


@pytest.fixture(scope="module")
def offline(hub_cache):
    """Hugging Face offline, reading the fake cache (for this module's tests only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield hub_cache


def test_load_reads_each_revision_from_the_local_cache(offline):
    for revision, seed in REVISIONS.items():
        hm = interp.load("org/tiny", revision=revision)
        expected = interp.models.tiny("llama", seed=seed)
        assert hm.revision == revision and hm.spec["revision"] == revision
        for (name, mine), (_, theirs) in zip(hm.model.state_dict().items(), expected.model.state_dict().items()):
            assert torch.equal(mine, theirs), name


def test_a_missing_revision_is_named(offline):
    with pytest.raises(ModelLoadError, match="revision 'step3' of 'org/tiny' is not in the local Hugging Face cache"):
        interp.load("org/tiny", revision="step3")
    with pytest.raises(ModelLoadError, match="has one revision"):
        interp.load("default", revision="step1000")  # fails before reading the embedded model


@pytest.fixture(scope="module")
def trajectory(offline, suite, tmp_path_factory):
    """``interp causalgym --revisions step1,step20`` run once: (output folder, what it printed)."""
    out = tmp_path_factory.mktemp("trajectory") / "traj"
    argv = ["causalgym", "--model", "org/tiny", "--revisions", ",".join(REVISIONS), "--suite", str(suite),
            "--methods", "mean,random,vanilla", "--layers", "0:2", "--no-control", "--n-train", "6", "--n-test", "6",
            "--n-boot", "40", "--seed", "5", "--out", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return out, printed.getvalue()


def test_causalgym_revisions_adds_a_revision_column_and_a_trajectory(trajectory, suite):
    out, printed = trajectory
    assert "revision step1" in printed and "revision step20" in printed
    results, summary = pd.read_csv(out / "results.csv"), pd.read_csv(out / "summary.csv")
    assert list(results.revision.unique()) == ["step1", "step20"] and set(results.seed) == {5}
    assert set(summary.revision) == {"step1", "step20"} and set(results.model) == {"org/tiny"}
    # each revision's rows are exactly the protocol run on the model saved under that revision
    for revision, seed in REVISIONS.items():
        direct = causal_efficacy(interp.models.tiny("llama", seed=seed), suite, methods=["mean", "random", "vanilla"],
                                 layers="0:2", control=False, n_train=6, n_test=6, n_boot=40, seed=5).results
        mine = results[results.revision == revision].reset_index(drop=True)
        pd.testing.assert_series_equal(mine.value, direct.value, check_names=False, rtol=1e-5, atol=1e-6)
    by_revision = results[results.method == "vanilla"].pivot_table(index=["layer", "position", "metric"],
                                                                    columns="revision", values="value")
    assert not by_revision.step1.equals(by_revision.step20)
    assert (out / "figures" / "trajectory.html").is_file()
    spec = Experiment.from_toml(out / "experiment.toml")
    assert spec.models[0].revisions == ("step1", "step20") and spec.seeds == (5,)
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["causalgym__org-tiny__step1__seed5",
                                                                "causalgym__org-tiny__step20__seed5"]


def test_the_trajectory_shows_the_overall_summary_per_revision(trajectory):
    out, _ = trajectory
    summary = pd.read_csv(out / "summary.csv")
    points = trajectory_table(summary, "odds_ratio")
    overall = summary[(summary.task == "all") & (summary.metric == "odds_ratio")]
    assert len(points) == len(overall) == 2 * 3
    for row in points.itertuples():
        match = overall[(overall.method == row.method) & (overall.revision == row.revision)].iloc[0]
        assert (row.value, row.ci_low, row.ci_high) == (match.value, match.ci_low, match.ci_high)
    assert list(points[points.method == "vanilla"].step) == [1, 20]
    fig = revision_trajectory(pd.read_csv(out / "results.csv"), "iia")  # the tidy table works too
    assert [trace.name for trace in fig.data] == ["mean", "random", "vanilla"] and list(fig.data[0].x) == [1, 20]


def test_rerunning_the_written_spec_skips_every_revision(trajectory, monkeypatch, capsys):
    out, _ = trajectory
    summary = (out / "summary.csv").read_bytes()
    monkeypatch.setattr(interp.models.loading, "load_model_and_tokenizer",  # every load goes through it
                        lambda *a, **k: pytest.fail("finished revisions must not be loaded"))
    assert main(["run", str(out / "experiment.toml")]) == 0
    assert "ran 0 run(s), 2 already finished" in capsys.readouterr().out
    assert (out / "summary.csv").read_bytes() == summary


def test_revision_and_revisions_together_are_refused(suite, tmp_path, capsys):
    assert main(["causalgym", "--model", "org/tiny", "--revision", "step1", "--revisions", "step1,step20",
                 "--suite", str(suite), "--out", str(tmp_path / "o")]) == 2
    assert "either --revision" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_revision_steps_and_categorical_revisions():
    assert revision_steps(["step1000", "step143000"]) == [1000, 143000]
    assert revision_steps(["main", "step1000"]) is None
    table = pd.DataFrame({"revision": ["v-b", "v-a"], "method": "mean", "task": "all", "metric": "odds_ratio",
                          "value": [1.0, 2.0]})
    fig = revision_trajectory(table)
    assert list(fig.data[0].x) == ["v-b", "v-a"] and fig.layout.xaxis.type == "category"
