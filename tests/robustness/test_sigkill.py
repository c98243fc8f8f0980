"""``interp causalgym`` killed with SIGKILL at a random moment, then rerun into the same folder,
writes the same final tables as a run that was never interrupted: no lost, duplicated or
half-written rows, and the temporary files a killed writer leaves behind are never read.

The runs are real subprocesses (``python -m interp.cli``) on a tiny Llama saved to a local
directory, one thread each so that the numbers do not depend on the thread count.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEMENT_LARGE

import interp

SEED = 20240611
METHODS = "das,mean,pca,probe,random,vanilla"
# the large task and a second one with other labels
TASK = {**AGREEMENT_LARGE,
        "agr2": {**AGREEMENT_LARGE["agr"], "labels": {"sg": ["was", "likes"], "pl": ["were", "think"]}}}
N_UNITS = 2 * 6 * 2  # tasks x methods x layers (no control task: the tiny vocabulary has no " give")
KEY = ["task", "method", "layer", "position", "control", "metric"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigkill")
    hm = interp.models.tiny("llama")
    hm.model.save_pretrained(root / "model")
    hm.tokenizer.save_pretrained(root / "model")
    (root / "agr.json").write_text(json.dumps(TASK))
    return root


def start(root: Path, out: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "interp.cli", "causalgym", "--model", str(root / "model"), "--suite",
            str(root / "agr.json"), "--methods", METHODS, "--layers", "0:2", "--n-train", "8", "--n-test", "8",
            "--das-steps", "6", "--n-boot", "50", "--no-control", "--no-figures", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]


def unit_files(out: Path) -> list[Path]:
    return [p for p in (out / "units").glob("*.json") if p.name != "config.json"]


def test_a_run_killed_at_a_random_moment_resumes_to_the_same_tables(setup, tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    uninterrupted = start(setup, reference)
    victim = start(setup, killed)  # both at once: the killed one is not waiting for the other
    deadline = time.monotonic() + 240
    while not (killed / "units").is_dir() or not unit_files(killed):
        assert victim.poll() is None, victim.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no unit was ever written"
        time.sleep(0.01)
    time.sleep(random.Random(SEED).uniform(0.0, 0.4))
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    finish(uninterrupted)
    assert victim.returncode == -signal.SIGKILL, "the run finished before it was killed: give it more units"

    done = unit_files(killed)
    assert 1 <= len(done) < N_UNITS and not (killed / "results.csv").exists()
    for path in done:  # whatever is there is whole
        record = json.loads(path.read_text())
        assert record["key"] and record["odds_ratio"]
    # what a writer killed mid-file leaves behind: temporary files, which a rerun must never read
    pending = killed / "units" / ".agr__resid_post.1__vanilla__task.json.x1y2z3.tmp"
    pending.write_text('{"key": "agr/resid_post.1/vanilla/task", "odds_ratio": [[99.0')
    (killed / ".results.csv.a1b2c3.tmp").write_text("model,suite,task\ntiny")

    finish(start(setup, killed))
    for table in ("results.csv", "summary.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / table), pd.read_csv(reference / table))
    results = pd.read_csv(killed / "results.csv")
    assert not results.duplicated(KEY).any()
    assert len(results.groupby(["task", "method", "layer"])) == N_UNITS
    assert len(unit_files(killed)) == N_UNITS
    keys = [json.loads(p.read_text())["key"] for p in unit_files(killed)]
    assert len(keys) == len(set(keys)) == N_UNITS
    assert json.loads((killed / "meta.json").read_text())["evaluator"] == "causalgym"
