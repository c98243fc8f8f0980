"""``interp syntaxgym`` and ``interp suites``, and the atomic results writer they use."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import FIXTURES

import interp
from interp.cli import main
from interp.io import atomic_write_text, run_metadata, write_run

FIXTURE = FIXTURES / "syntaxgym_agreement.json"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    hm = interp.models.tiny("gpt2")
    path = tmp_path_factory.mktemp("tiny-gpt2")
    hm.model.save_pretrained(path)
    hm.tokenizer.save_pretrained(path)
    return path


def test_syntaxgym_command_writes_the_output_folder(tiny_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["syntaxgym", str(FIXTURE), "builtin:npz_obj", "--model", str(tiny_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fixture_agreement" in printed and "npz_obj" in printed and "accuracy" in printed
    assert sorted(p.name for p in out.iterdir()) == [".interp-owner.json", "meta.json", "predictions.csv",
                                                    "results.csv", "summary.csv"]
    results, summary = pd.read_csv(out / "results.csv"), pd.read_csv(out / "summary.csv")
    assert len(results) == 2 * 4 * 5 + 40 * 2 * 5
    assert set(summary.suite) == {"fixture_agreement", "npz_obj"}
    assert {"all", "0"} <= set(summary.prediction.astype(str))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["model"] == str(tiny_dir) and meta["evaluator"] == "syntaxgym"
    assert {"torch", "transformers", "interp", "python"} <= set(meta["packages"])
    assert "commit" in meta["git"] and isinstance(meta["command"], list) and "seed" in meta


def test_syntaxgym_command_reports_a_bad_suite_before_loading_a_model(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["syntaxgym", str(bad), "--model", str(tmp_path / "no-model"), "--out", str(tmp_path)]) == 2
    assert "bad.json: not valid JSON" in capsys.readouterr().err


def test_suites_command_lists_builtins_with_examples(capsys):
    assert main(["suites"]) == 0
    printed = capsys.readouterr().out
    for name in ("agr_sv_num_pp", "npi_ever_subj-relc", "garden_npz_obj", "filler_gap_hierarchy", "cleft",
                 "gss_subord", "builtin:number_pp", "reflexive_pp"):
        assert name in printed
    assert "'The " in printed and "->" in printed


def test_atomic_write_leaves_no_temporary_files_and_replaces_whole(tmp_path):
    target = tmp_path / "x.csv"
    atomic_write_text(target, "old\n")
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_write_run_writes_tables_and_metadata(tmp_path):
    meta = run_metadata(model="m", revision="r", seed=7, command=["interp", "x"], suite="s")
    paths = write_run(tmp_path / "out", pd.DataFrame({"value": [1.5]}), pd.DataFrame({"value": [2.5]}), meta,
                      extra={"predictions": pd.DataFrame({"passed": [True]})})
    assert [p.name for p in paths] == ["results.csv", "summary.csv", "predictions.csv", "meta.json"]
    loaded = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert (loaded["model"], loaded["revision"], loaded["seed"], loaded["command"], loaded["suite"]) == \
        ("m", "r", 7, ["interp", "x"], "s")
    assert pd.read_csv(tmp_path / "out" / "results.csv").value.tolist() == [1.5]
