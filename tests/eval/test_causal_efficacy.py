"""The causal-efficacy evaluator on tiny models: table layout, baselines, reloadable directions,
resuming an interrupted run, bad input, and the ``interp causalgym`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_LARGE

import interp
from interp.cli import main
from interp.errors import InputError, SuiteError
from interp.eval import causal_efficacy, load_directions
from interp.eval.causal_efficacy import RESULT_COLUMNS, parse_layers
from interp.interventions import Subspace
from interp.methods import METHODS, PairData
from interp.suites import causalgym

CONTROL = (" dog", " house")  # the tiny tokenizer has no single-token " give"
TASK = AGREEMENT_LARGE
SMALL = dict(n_train=8, n_test=16, das_steps=2, n_boot=100, control_labels=CONTROL)


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def full(hm, suite, tmp_path_factory):
    """Every method at layer 0, with the control task, written to a folder."""
    out = tmp_path_factory.mktemp("full")
    return causal_efficacy(hm, suite, layers=[0], out=out, **SMALL)


def test_table_has_one_row_per_unit_position_and_metric(full):
    table = full.results
    assert list(table.columns) == RESULT_COLUMNS
    spans = sorted(table.position.unique())
    assert spans == [1, 2, 3]  # subject, " near/behind the", object (the label span is 1)
    per_unit = table.groupby(["task", "method", "layer", "control"]).size()
    assert len(per_unit) == len(METHODS) * 2
    # task units: odds_ratio, iia, behaviour, selectivity, selectivity_iia per span; control units: the first three
    assert (per_unit.xs(False, level="control") == 5 * len(spans)).all()
    assert (per_unit.xs(True, level="control") == 3 * len(spans)).all()
    assert not table.duplicated(["task", "method", "layer", "position", "control", "metric"]).any()
    assert (table.n == SMALL["n_test"]).all() and set(table.site) == {"resid_post.0"}
    iia = table[table.metric == "iia"].value
    assert iia.between(0, 1).all()
    # selectivity is the task score minus the control score, unit by unit
    odds = table[table.metric == "odds_ratio"].set_index(["method", "position", "control"]).value
    selectivity = table[table.metric == "selectivity"].set_index(["method", "position"]).value
    expected = odds.xs(False, level="control") - odds.xs(True, level="control")
    pd.testing.assert_series_equal(selectivity.sort_index(), expected.sort_index(), check_names=False)

    summary = full.summary
    overall = summary[summary.task == "all"]
    assert set(overall.method) == set(METHODS)
    assert {"odds_ratio", "iia", "control_odds_ratio", "selectivity", "behaviour"} <= set(overall.metric)
    assert (summary.ci_low <= summary.value + 1e-12).all() and (summary.value <= summary.ci_high + 1e-12).all()
    # the published aggregation: mean over examples (the table) -> max over positions (one layer, one task)
    das = odds.xs(False, level="control").loc["das"]
    assert overall.set_index(["method", "metric"]).value[("das", "odds_ratio")] == pytest.approx(das.max())
    behaviour = table[table.metric == "behaviour"].value
    assert behaviour.nunique() <= 2  # one value for the task labels, one for the control labels


def test_random_is_near_zero_and_vanilla_at_the_label_span_is_not(full):
    per_example = {(r["method"], r["control"]): np.asarray(r["odds_ratio"]) for r in full.records}
    random = per_example[("random", False)]  # [P, n]: one random direction per span
    # tolerance from the data: 3 standard errors of the random directions' per-example effects
    # (pairs come with their swapped copies, so there are half as many independent values)
    tolerance = 3 * random.std() / np.sqrt(random.size / 2)
    assert abs(random.mean()) <= tolerance, (random.mean(), tolerance)
    vanilla = per_example[("vanilla", False)]
    assert vanilla[0].mean() > 5 * tolerance, (vanilla[0].mean(), tolerance)  # span 1: the subject
    assert vanilla[0].mean() > np.abs(random).mean(1).max()


def test_directions_reload_as_subspaces_and_reproduce_the_scores(hm, suite, full):
    record = next(r for r in full.records if r["method"] == "mean" and not r["control"])
    loaded = load_directions(full.out / record["directions"])
    assert sorted(loaded) == record["positions"] and all(isinstance(s, Subspace) for s in loaded.values())
    for span, sub in loaded.items():
        torch.testing.assert_close(sub.basis, full.subspaces("agr", "mean", 0)[record["positions"].index(span)].basis)

    task = causalgym.load_templates(suite, seed=0, sizes=(SMALL["n_train"], 0, SMALL["n_test"]))["agr"]
    data = PairData.from_encoded(task.encode(hm.tokenizer, "test"), record["positions"])
    p = record["positions"].index(1)
    patch = loaded[1].using(source=data.source, positions=data.base_positions[:, p:p + 1].tolist(),
                            source_positions=data.source_positions[:, p:p + 1].tolist())
    plain = hm.run(data.base).last_logits.log_softmax(-1)
    star = hm.run(data.base, interventions=[patch]).last_logits.log_softmax(-1)
    rows = torch.arange(data.n)
    yb, ys = data.base_labels, data.source_labels
    odds = (plain[rows, yb] - plain[rows, ys]) + (star[rows, ys] - star[rows, yb])
    torch.testing.assert_close(odds.double(), torch.tensor(record["odds_ratio"][p], dtype=torch.float64), atol=1e-4,
                               rtol=1e-4)
    table = full.results
    value = table[(table.method == "mean") & (table.position == 1) & ~table.control & (table.metric == "odds_ratio")]
    assert value.value.item() == pytest.approx(float(odds.mean()), abs=1e-4)


def test_an_interrupted_run_resumes_to_the_same_tables_without_repeating_units(hm, suite, tmp_path):
    settings = dict(methods=["das", "mean", "vanilla"], layers=[0, 1], **SMALL)
    whole = causal_efficacy(hm, suite, out=tmp_path / "whole", **settings)
    n_units = 3 * 2 * 2

    class Interrupt(Exception):
        pass

    finished = []

    def stop_after_five(record):
        finished.append(record["key"])
        if len(finished) == 5:
            raise Interrupt

    out = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        causal_efficacy(hm, suite, out=out, on_unit=stop_after_five, **settings)
    assert len(list((out / "units").glob("*.json"))) == 5 + 1  # five units and the settings file
    assert not (out / "results.csv").exists() and not (out / "meta.json").exists()

    again = []
    resumed = causal_efficacy(hm, suite, out=out, on_unit=lambda r: again.append(r["key"]), **settings)
    assert len(again) == n_units - 5 and not set(again) & set(finished)
    pd.testing.assert_frame_equal(resumed.results, whole.results)
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)
    on_disk = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(on_disk, pd.read_csv(tmp_path / "whole" / "results.csv"))
    assert not on_disk.duplicated(["task", "method", "layer", "position", "control", "metric"]).any()
    assert len(list((out / "units").glob("*.json"))) == n_units + 1

    # a third run has nothing left to do; other settings in the same folder are refused
    none = []
    causal_efficacy(hm, suite, out=out, on_unit=none.append, **settings)
    assert none == []
    with pytest.raises(InputError, match="other settings"):
        causal_efficacy(hm, suite, out=out, **{**settings, "seed": 1})


def test_bad_input_is_reported_before_any_forward(hm, suite, tmp_path, monkeypatch):
    def no_forward(*args, **kwargs):
        raise AssertionError("the model ran before the input was checked")

    monkeypatch.setattr(hm, "run", no_forward)
    with pytest.raises(InputError, match="unknown method 'dasx'.*das, probe"):
        causal_efficacy(hm, suite, methods=["dasx"], **SMALL)
    with pytest.raises(InputError, match=r"outside the model.*2 layers \(0..1\)"):
        causal_efficacy(hm, suite, layers="0:30:2", **SMALL)
    with pytest.raises(InputError, match=r"layer \[5\]|layers? \[5\]"):
        causal_efficacy(hm, suite, layers=[5], **SMALL)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(SuiteError, match="empty.json"):
        causal_efficacy(hm, empty, **SMALL)
    with pytest.raises(SuiteError, match="no task"):
        causal_efficacy(hm, suite, tasks=["nope"], **SMALL)
    # " give" (the default control label) is several tokens for the tiny tokenizer: say which
    with pytest.raises(InputError, match=r"' give' is 4 tokens.*control"):
        causal_efficacy(hm, suite, **{**SMALL, "control_labels": (" dog", " give")})
    multi = tmp_path / "multi.json"
    multi.write_text(json.dumps({"agr": {**TASK["agr"], "labels": {"sg": ["gives"], "pl": ["are"]}}}))
    with pytest.raises(InputError, match="'agr'.*' gives' is"):
        causal_efficacy(hm, multi, **SMALL)
    assert not list(tmp_path.glob("*/units"))


def test_layer_specs():
    assert parse_layers("0:30:2", 30) == list(range(0, 30, 2))
    assert parse_layers("4", 8) == [4] and parse_layers("1,3", 8) == [1, 3] and parse_layers(None, 3) == [0, 1, 2]
    assert parse_layers(":", 3) == [0, 1, 2] and parse_layers(range(2), 3) == [0, 1]
    for bad in ("0:31", "a:b", [-1], []):
        with pytest.raises(InputError):
            parse_layers(bad, 30)


def test_causalgym_command_writes_the_output_folder(tiny_llama_dir, suite, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["causalgym", "--model", str(tiny_llama_dir), "--suite", str(suite), "--methods", "mean,random,vanilla",
            "--layers", "0:2", "--n-train", "8", "--n-test", "8", "--no-control", "--n-boot", "50", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "odds_ratio" in printed and "vanilla" in printed and "results.csv" in printed
    names = {p.name for p in out.iterdir()}
    assert {"results.csv", "summary.csv", "meta.json", "units", "directions"} <= names
    results, summary = pd.read_csv(out / "results.csv"), pd.read_csv(out / "summary.csv")
    assert set(results.method) == {"mean", "random", "vanilla"} and set(results.layer) == {0, 1}
    assert not results.control.any() and "selectivity" not in set(results.metric)
    assert {"value", "ci_low", "ci_high"} <= set(summary.columns)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["evaluator"] == "causalgym" and meta["layers"] == [0, 1] and meta["seed"] == 0
    assert meta["suite_hash"] and "git" in meta and isinstance(meta["command"], list)


def test_causalgym_command_rejects_bad_input_before_loading_the_model(suite, tmp_path, capsys):
    missing_model = str(tmp_path / "no-model")
    assert main(["causalgym", "--model", missing_model, "--suite", str(suite), "--methods", "das,foo",
                 "--out", str(tmp_path / "o")]) == 2
    assert "unknown method 'foo'" in capsys.readouterr().err
    assert main(["causalgym", "--model", missing_model, "--suite", str(tmp_path / "none.json"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
