"""The Ray executor on a real local Ray cluster (127.0.0.1, 2 CPUs): the same tables as the local
executor, and a worker killed mid-sweep costs only its unit (run again, nothing lost or repeated)."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_SMALL

import interp
from interp.eval import causal_efficacy
from interp.exec import RayExecutor

ray = pytest.importorskip("ray", reason="the Ray executor tests need the `ray` extra (pip install 'interp[ray]')")
pytestmark = pytest.mark.ray

CONTROL = (" dog", " house")  # the tiny tokenizer has no single-token " give"
TASK = AGREEMENT_SMALL
SWEEP = dict(methods=["das", "mean", "vanilla"], layers=[0, 1], n_train=6, n_test=8, das_steps=4, n_boot=50,
             control_labels=CONTROL,
             per_unit=True)  # the executors see units one by one (task jobs: tests/eval/test_causalgym_jobs.py)
N_UNITS = 3 * 2 * 2
KEY_COLUMNS = ["task", "method", "layer", "position", "control", "metric"]


@pytest.fixture(scope="module")
def cluster():
    """A head node on loopback with 2 CPUs, stopped (with its workers) after the module."""
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def executor(cluster):
    """Two workers, each loading the tiny model once, kept across the module's sweeps (1 torch thread each)."""
    with RayExecutor(num_workers=2, max_retries=2, threads=1) as executor:
        yield executor


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def local(hm, suite, tmp_path_factory):
    """The reference, on one torch thread like each worker (sums over other thread counts may round
    differently in the last bit)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return causal_efficacy(hm, suite, out=tmp_path_factory.mktemp("local"), **SWEEP)
    finally:
        torch.set_num_threads(threads)


def test_a_ray_sweep_writes_the_same_tables_as_the_local_one(hm, suite, local, executor, tmp_path):
    finished = []
    result = causal_efficacy(hm, suite, out=tmp_path, executor=executor, on_unit=finished.append, **SWEEP)
    assert sorted(r["key"] for r in finished) == sorted(r["key"] for r in local.records)
    assert len(set(executor.worker_pids)) == 2 and os.getpid() not in executor.worker_pids
    pd.testing.assert_frame_equal(result.results, local.results)  # bit for bit
    pd.testing.assert_frame_equal(result.summary, local.summary)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), pd.read_csv(local.out / "results.csv"))
    assert len(list((tmp_path / "units").glob("*.json"))) == N_UNITS + 1
    assert json.loads((tmp_path / "meta.json").read_text())["evaluator"] == "causalgym"


def test_a_worker_killed_mid_sweep_costs_only_its_unit(hm, suite, local, executor, tmp_path):
    started, retried = executor.started, executor.retried
    finished, killed = [], []

    def kill_a_busy_worker(record):
        finished.append(record["key"])
        if not killed:  # the worker that sent this result already holds its next unit
            killed.append(executor.worker_pids[0])
            os.kill(killed[0], signal.SIGKILL)

    result = causal_efficacy(hm, suite, out=tmp_path, executor=executor, on_unit=kill_a_busy_worker, **SWEEP)
    assert killed and killed[0] not in executor.worker_pids
    assert executor.retried == retried + 1 and executor.started == started + 1  # one unit rerun, one new worker
    assert sorted(finished) == sorted(r["key"] for r in local.records)  # each unit once, none lost
    pd.testing.assert_frame_equal(result.results, local.results)
    table = pd.read_csv(tmp_path / "results.csv")
    assert not table.duplicated(KEY_COLUMNS).any()
    pd.testing.assert_frame_equal(table, pd.read_csv(local.out / "results.csv"))
    assert len(list((tmp_path / "units").glob("*.json"))) == N_UNITS + 1


def test_interp_causalgym_runs_on_the_cluster_from_the_command_line(hm, suite, executor, tmp_path, capsys):
    from interp.cli import main

    executor.close()  # its two workers hold both CPUs of the test cluster
    model = tmp_path / "tiny-llama"
    hm.model.save_pretrained(model)
    hm.tokenizer.save_pretrained(model)
    out = tmp_path / "run"
    argv = ["causalgym", "--model", str(model), "--suite", str(suite), "--methods", "mean,vanilla", "--layers", "0",
            "--n-train", "6", "--n-test", "8", "--no-control", "--n-boot", "20", "--no-figures", "--out", str(out),
            "--executor", "ray", "--ray-workers", "1"]
    assert main(argv) == 0
    assert "2 units" in capsys.readouterr().out
    table = pd.read_csv(out / "results.csv")
    assert set(table.method) == {"mean", "vanilla"} and len(list((out / "units").glob("*.json"))) == 2 + 1
    assert main(argv[:-5] + [str(tmp_path / "other"), "--executor", "ray", "--ray-workers", "3"]) == 2
    assert "3 workers of 1 CPU(s) each do not fit the Ray cluster" in capsys.readouterr().err
    assert ray.is_initialized()  # the command used the running cluster and left it running
