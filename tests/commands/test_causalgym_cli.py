"""``interp causalgym --suite``: templates or published rows; a run keeps its rows and reruns from them
to the same tables; strict splits and bad rows fail before the model loads."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import AGREEMENT_LARGE, FIXTURES

from interp.cli import main

TASK = AGREEMENT_LARGE
CLEFT = FIXTURES / "causalgym_cleft.json"


def _argv(model, suite, out, *extra):
    return ["causalgym", "--model", str(model), "--suite", str(suite), "--methods", "das,mean,random",
            "--layers", "0:2", "--n-train", "8", "--n-test", "8", "--das-steps", "2", "--no-control",
            "--n-boot", "50", "--no-figures", "--out", str(out), *extra]


def _tables(out):
    results, summary = pd.read_csv(out / "results.csv"), pd.read_csv(out / "summary.csv")
    return results.drop(columns="suite"), summary.drop(columns="suite", errors="ignore")


def test_a_run_reruns_from_its_own_rows_to_the_same_tables(tiny_llama_dir, suite, tmp_path, capsys):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(_argv(tiny_llama_dir, suite, first)) == 0
    assert "rows/" in capsys.readouterr().out
    assert sorted(p.name for p in (first / "rows").iterdir()) == ["test.jsonl", "train.jsonl"]
    meta = json.loads((first / "meta.json").read_text())
    assert meta["split_overlap"] == {"agr": 0.0} and meta["split_sizes"] == {"agr": [8, 8]}
    assert meta["rows"] == "rows/" and meta["strict_splits"] is False

    assert main(_argv(tiny_llama_dir, first / "rows", again)) == 0      # the rows alone, no templates
    for one, other in zip(_tables(first), _tables(again)):
        pd.testing.assert_frame_equal(one, other)
    assert pd.read_csv(again / "results.csv").suite.unique().tolist() == ["rows"]
    assert (again / "rows" / "train.jsonl").read_text() == (first / "rows" / "train.jsonl").read_text()


def test_strict_splits_and_bad_rows_fail_before_the_model_loads(tmp_path, capsys):
    missing_model = tmp_path / "no-model"
    assert main(_argv(missing_model, CLEFT, tmp_path / "o", "--strict-splits", "--n-train", "40")) == 2
    assert "task 'cleft_fixture' yields only" in capsys.readouterr().err
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "train.jsonl").write_text("")
    assert main(_argv(missing_model, rows, tmp_path / "o")) == 2
    assert "rows folder without a test split" in capsys.readouterr().err
    assert main(_argv(missing_model, tmp_path / "rows.txt", tmp_path / "o")) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", ["--strict-splits"])
def test_the_strict_option_is_in_the_help(option, capsys):
    with pytest.raises(SystemExit):
        main(["causalgym", "--help"])
    printed = capsys.readouterr().out
    assert option in printed and "published rows" in printed
