"""Executors without a cluster: the unit function gives the same tables whatever runs the units and
in whatever order, the local path never imports Ray, model specs, and errors before any work."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_SMALL
from safetensors.torch import load_file

import interp
from interp.errors import InputError
from interp.eval import causal_efficacy
from interp.exec import Executor, LocalExecutor, ModelSpec, RayExecutor, Worker, get_executor

CONTROL = (" dog", " house")  # the tiny tokenizer has no single-token " give"
TASK = AGREEMENT_SMALL
SWEEP = dict(methods=["das", "mean", "random", "vanilla"], layers=[0, 1], n_train=6, n_test=8, das_steps=2,
             n_boot=50, control_labels=CONTROL,
             per_unit=True)  # the executors see units one by one (task jobs: tests/eval/test_causalgym_jobs.py)


class ReversedFreshWorkers(Executor):
    """Every unit on a new worker (nothing memoised), last unit first, the model loaded from its spec."""

    def __init__(self):
        self.ran = []

    def map(self, fn, units, *, model=None, shared=None):
        model = ModelSpec.required(model).load()
        for unit in reversed(list(units)):
            self.ran.append(unit.key)
            yield unit, fn(Worker(model, shared), unit)


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def local(hm, suite, tmp_path_factory):
    return causal_efficacy(hm, suite, out=tmp_path_factory.mktemp("local"), **SWEEP)


def test_units_give_the_same_tables_on_fresh_workers_in_reverse_order(hm, suite, local, tmp_path):
    executor = ReversedFreshWorkers()
    other = causal_efficacy(hm, suite, out=tmp_path, executor=executor, **SWEEP)
    n_units = 4 * 2 * 2
    assert len(executor.ran) == n_units and executor.ran[0] == "agr/resid_post.1/vanilla/control"
    pd.testing.assert_frame_equal(other.results, local.results)  # bit for bit, rows in the plan's order
    pd.testing.assert_frame_equal(other.summary, local.summary)
    assert [r["key"] for r in other.records] == [r["key"] for r in local.records]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), pd.read_csv(local.out / "results.csv"))
    assert len(list((tmp_path / "units").glob("*.json"))) == n_units + 1
    for record in other.records:  # the directions files hold the same bases
        if record["directions"]:
            mine, theirs = (load_file(folder / record["directions"]) for folder in (tmp_path, local.out))
            assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_named_and_given_local_executors_are_the_same_path(hm, suite, local):
    again = causal_efficacy(hm, suite, executor=LocalExecutor(), **{**SWEEP, "methods": ["mean", "vanilla"]})
    rows = local.results[local.results.method.isin(["mean", "vanilla"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(again.results, rows)


def test_workers_must_load_the_drivers_model(hm, suite, monkeypatch):
    executor = ReversedFreshWorkers()
    with pytest.raises(InputError, match=r"worker loaded tiny-llama \(revision seed=1\).*seed=0"):
        causal_efficacy(hm, suite, executor=executor, model_spec=("tiny", "llama", 1), **SWEEP)


def test_remote_executors_need_a_model_spec_before_any_work(hm, suite, tmp_path, monkeypatch):
    def no_forward(*args, **kwargs):
        raise AssertionError("the model ran before the input was checked")

    wrapped = interp.wrap(hm.model, hm.tokenizer)  # made by hand: no spec
    monkeypatch.setattr(wrapped, "run", no_forward)
    with pytest.raises(InputError, match="model_spec="):
        causal_efficacy(wrapped, suite, executor=RayExecutor(num_workers=1), out=tmp_path / "o", **SWEEP)
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match="unknown executor 'dask'; choose from local, ray"):
        causal_efficacy(hm, suite, executor="dask", **SWEEP)
    with pytest.raises(InputError, match="Ray executor only"):
        get_executor("local", address="auto")
    with pytest.raises(InputError, match="num_workers must be at least 1"):
        RayExecutor(num_workers=0)


def test_model_specs_round_trip(tmp_path, monkeypatch):
    spec = ModelSpec.of(interp.models.tiny("neox", seed=2, num_hidden_layers=3))
    assert spec == ModelSpec("tiny", {"family": "neox", "seed": 2, "attn_implementation": "sdpa",
                                      "num_hidden_layers": 3})
    assert ModelSpec.parse(json.loads(json.dumps({"loader": spec.loader, **spec.options}))) == spec
    assert spec.load().n_layers == 3
    assert ModelSpec.parse(("load", "EleutherAI/pythia-70m", "step1000")).options == {
        "name_or_path": "EleutherAI/pythia-70m", "revision": "step1000"}
    class Loaded:  # what interp.load records for a relative local directory
        spec = {"loader": "load", "name_or_path": "my-model", "dtype": "float32"}

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-model").mkdir()
    assert ModelSpec.of(Loaded()).options["name_or_path"] == str(tmp_path / "my-model")  # for workers elsewhere
    for bad in (3, ("tiny",), ("gguf", "x"), {"loader": "pickle"}):
        with pytest.raises(InputError):
            ModelSpec.parse(bad)


@pytest.mark.slow
def test_the_embedded_model_records_how_to_load_it_again():
    hm = interp.load()
    spec = ModelSpec.of(hm)
    assert spec.loader == "load" and spec.options["dtype"] == "float32" and spec.options["revision"] is None
    again = spec.load()
    assert (again.name, again.revision) == (hm.name, hm.revision)


def test_the_local_path_never_imports_ray(suite):
    script = (
        "import sys, interp\n"
        "from interp.eval import causal_efficacy\n"
        f"causal_efficacy(interp.models.tiny('llama'), {str(suite)!r}, methods=['mean'], layers=[0], n_train=4, "
        f"n_test=2, control_labels={CONTROL!r}, n_boot=10)\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_ray_options_without_the_ray_executor_fail_before_loading(suite, tmp_path, capsys):
    from interp.cli import main

    argv = ["causalgym", "--model", str(tmp_path / "no-model"), "--suite", str(suite), "--out", str(tmp_path / "o")]
    assert main(argv + ["--ray-address", "auto"]) == 2
    assert "--ray-address and --ray-workers need --executor ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's usage error
        main(argv + ["--executor", "dask"])
    assert "invalid choice: 'dask'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
