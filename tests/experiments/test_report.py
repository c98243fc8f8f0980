"""``interp report DIR`` rebuilds summary tables and figures from an output folder without a model:
byte for byte what the run wrote, for ``interp causalgym``, ``interp syntaxgym`` and ``interp run`` folders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEMENT_SMALL

import interp
from interp.cli import main
from interp.errors import InputError
from interp.eval import causal_efficacy
from interp.experiments.report import folder_kind, rebuild

# the small task with "cabinet" for "door" among the objects
_OBJECTS = ["house", "table", "forest", "cabinet"]
TASK = {"agr": {**AGREEMENT_SMALL["agr"],
                "variables": {**AGREEMENT_SMALL["agr"]["variables"], "object": _OBJECTS}}}


@pytest.fixture(scope="module")
def causal_folder(suite, tmp_path_factory) -> Path:
    """A finished causal-efficacy folder; methods in a non-canonical order, with the control task."""
    out = tmp_path_factory.mktemp("causal")
    causal_efficacy(interp.models.tiny("llama"), suite, methods=["vanilla", "mean", "das", "random"], layers=[0, 1],
                    n_train=6, n_test=6, das_steps=2, n_boot=40, seed=3, control_labels=(" dog", " house"), out=out)
    return out


def snapshot(folder: Path, names=("results.csv", "summary.csv")) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


def test_report_of_a_causalgym_folder_reproduces_its_tables_byte_for_byte(causal_folder, monkeypatch, capsys):
    before = snapshot(causal_folder)
    for name in before:
        (causal_folder / name).write_text("stale")
    monkeypatch.setattr(interp.models.loading, "load_model_and_tokenizer",  # every load goes through it
                        lambda *a, **k: pytest.fail("report must not load a model"))
    assert main(["report", str(causal_folder)]) == 0
    assert snapshot(causal_folder) == before
    printed = capsys.readouterr().out
    assert "selectivity" in printed and "vanilla" in printed and "rebuilt (causalgym)" in printed
    figures = {p.name for p in (causal_folder / "figures").iterdir()}
    assert figures == {"heatmaps.html", "layer_curves.html", "method_summary.html", "plotly.min.js"}


def test_report_of_an_interrupted_causalgym_run_summarises_the_units_done(causal_folder, tmp_path):
    folder = tmp_path / "partial"
    (folder / "units").mkdir(parents=True)
    finished = pd.read_csv(causal_folder / "summary.csv")
    for unit in (causal_folder / "units").glob("*.json"):  # every unit but those of layer 1
        if ".1__" not in unit.name:
            (folder / "units" / unit.name).write_bytes(unit.read_bytes())
    report = rebuild(folder, figures=False, n_boot=40)
    assert report.notes and "has not finished" in report.notes[0]
    assert set(report.results.layer) == {0}
    full = rebuild(causal_folder, figures=False)
    assert set(full.results.layer) == {0, 1}
    # with every unit present, the rebuilt summary (canonical method order) holds the finished run's numbers
    for unit in (causal_folder / "units").glob("*.json"):
        (folder / "units" / unit.name).write_bytes(unit.read_bytes())
    again = rebuild(folder, figures=False, n_boot=40).summary
    key = ["task", "method", "metric"]
    pd.testing.assert_frame_equal(again.sort_values(key).reset_index(drop=True),
                                  finished.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_report_of_a_syntaxgym_folder(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "sg"
    assert main(["syntaxgym", "builtin:npz_obj", "builtin:number_pp", "--model", str(tiny_llama_dir), "--out",
                 str(out)]) == 0
    before = snapshot(out)
    (out / "summary.csv").unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert snapshot(out) == before
    assert "npz_obj" in capsys.readouterr().out
    assert (out / "figures" / "syntaxgym_accuracy.html").is_file()


def test_report_of_an_experiment_folder(tiny_llama_dir, suite, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
out = "{tmp_path / 'out'}"
models = ["{tiny_llama_dir}"]
[[evaluations]]
evaluator = "causalgym"
suite = "{suite}"
methods = ["mean", "vanilla"]
layers = [1]
control = false
n_train = 6
n_test = 6
n_boot = 40
[[evaluations]]
evaluator = "syntaxgym"
suite = "builtin:npz_obj"
""")
    assert main(["run", str(spec), "--no-figures"]) == 0
    out = tmp_path / "out"
    before = snapshot(out)
    runs = {run.name: snapshot(run) for run in (out / "runs").iterdir()}
    for name in before:
        (out / name).unlink()
    assert not (out / "figures").exists()
    capsys.readouterr()
    assert folder_kind(out) == "experiment"
    assert main(["report", str(out)]) == 0
    assert snapshot(out) == before
    assert {run.name: snapshot(run) for run in (out / "runs").iterdir()} == runs
    printed = capsys.readouterr().out
    assert "evaluation causalgym-agr, model tiny-llama" in printed and "npz_obj" in printed
    assert {"heatmaps.html", "syntaxgym_accuracy.html"} <= {p.name for p in (out / "figures").iterdir()}


def test_report_of_a_folder_that_is_no_output_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not an output folder of interp causalgym, syntaxgym or run" in capsys.readouterr().err
    with pytest.raises(InputError, match="no such folder"):
        rebuild(tmp_path / "missing")
