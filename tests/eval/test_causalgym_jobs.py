"""The CausalGym units of a task computed together (interp/eval/causalgym/job.py) give the tables of
the unit-by-unit path: every method, two layers, two tasks, with the control task; and they resume."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
import torch
from conftest import AGREEMENT_LARGE

import interp
from interp.eval import causal_efficacy
from interp.eval.causalgym.job import plan_jobs
from interp.eval.causalgym.unit import Unit
from interp.exec import Executor, ModelSpec
from interp.exec.worker import Worker
from interp.methods import METHODS, PairData, score, train_das, train_das_sides
from interp.methods.score_sets import score_sets

CONTROL = (" dog", " house")  # the tiny tokenizer has no single-token " give"
TASK = {**AGREEMENT_LARGE, "agr_behind": {**AGREEMENT_LARGE["agr"], "templates": ["The {subject} behind the {object}"]}}
SMALL = dict(n_train=8, n_test=12, das_steps=3, n_boot=50, control_labels=CONTROL, layers=[0, 1])
KEYS = ["task", "method", "layer", "site", "position", "control", "metric"]


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def both(hm, suite, tmp_path_factory):
    """The same run by task jobs (the default) and unit by unit, each into its own folder."""
    jobs, units = tmp_path_factory.mktemp("jobs"), tmp_path_factory.mktemp("units")
    return (causal_efficacy(hm, suite, out=jobs, **SMALL), causal_efficacy(hm, suite, out=units, per_unit=True,
                                                                           **SMALL))


def _values(path) -> pd.Series:
    table = pd.read_csv(path)
    return table.set_index(KEYS).value.sort_index()


def test_task_jobs_write_the_tables_of_the_unit_by_unit_path(both):
    jobs, units = both
    assert set(jobs.results.method) == set(METHODS) and set(jobs.results.control) == {False, True}
    assert set(jobs.results.task) == {"agr", "agr_behind"} and set(jobs.results.layer) == {0, 1}
    ours, theirs = _values(jobs.out / "results.csv"), _values(units.out / "results.csv")
    assert ours.index.equals(theirs.index)
    pd.testing.assert_series_equal(ours, theirs, check_exact=False, atol=1e-4, rtol=1e-4)
    summary = [pd.read_csv(r.out / "summary.csv") for r in both]
    pd.testing.assert_frame_equal(*summary, check_exact=False, atol=1e-4, rtol=1e-4)
    # the per-example scores too, unit by unit; the directions of every method
    theirs_by_key = {r["key"]: r for r in units.records}
    for record in jobs.records:
        other = theirs_by_key[record["key"]]
        assert record["iia"] == other["iia"] and record["behaviour"] == other["behaviour"], record["key"]
        torch.testing.assert_close(torch.tensor(record["odds_ratio"]), torch.tensor(other["odds_ratio"]),
                                   atol=1e-4, rtol=1e-4)
        assert record["computation"]["jobs"] == "per-task" and "jobs" not in other["computation"]
        if record["method"] != "vanilla":
            ours_sub = jobs.subspaces(record["task"], record["method"], record["layer"], record["control"])
            theirs_sub = units.subspaces(record["task"], record["method"], record["layer"], record["control"])
            for a, b in zip(ours_sub, theirs_sub):
                torch.testing.assert_close(a.basis, b.basis, atol=1e-5, rtol=1e-4)


def test_task_jobs_resume_from_the_unit_files(hm, suite, both):
    jobs, _ = both
    removed = sorted((jobs.out / "units").glob("agr_behind*resid_post.1*.json"))[:5]
    assert removed
    for path in removed:
        path.unlink()
    again = causal_efficacy(hm, suite, out=jobs.out, **SMALL)
    pd.testing.assert_series_equal(_values(again.out / "results.csv"), _values(jobs.out / "results.csv"))
    assert len(again.records) == len(jobs.records)


def test_jobs_group_units_by_task_and_layer_range():
    units = [Unit(task, layer, f"resid_post.{layer}", method, side) for task in ("a", "b") for layer in range(5)
             for method in ("das", "mean") for side in (False, True)]
    assert [(j.task, len(j.units)) for j in plan_jobs(units)] == [("a", 20), ("b", 20)]
    ranges = plan_jobs(units, layers_per_job=2)
    assert [(j.task, sorted({u.layer for u in j.units})) for j in ranges] == [
        ("a", [0, 1]), ("a", [2, 3]), ("a", [4]), ("b", [0, 1]), ("b", [2, 3]), ("b", [4])]
    assert sorted(u.key for j in ranges for u in j.units) == sorted(u.key for u in units)


@pytest.fixture(scope="module")
def pairs(hm):
    base = ["The key to the cabinets", "The keys to the cabinet"] * 2
    source = ["The keys to the cabinet", "The key to the cabinets"] * 2
    return PairData.from_texts(hm, base, source, base_positions=[[1, 4]] * 4, source_positions=[[1, 4]] * 4,
                               base_labels=[" is", " are"] * 2, source_labels=[" are", " is"] * 2)


@pytest.fixture
def float64():
    """Float64 throughout: Adam's first steps move each coordinate by about ``lr · sign(gradient)``, so in
    float32 a near-zero gradient's rounding moves a basis by ~1e-3; in float64 the two agree exactly."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_das_task_and_control_trained_together_equal_alone(float64):
    hm = interp.models.tiny("llama")
    hm.model.double()
    base = ["The key to the cabinets", "The keys to the cabinet"] * 2
    source = ["The keys to the cabinet", "The key to the cabinets"] * 2
    pairs = PairData.from_texts(hm, base, source, base_positions=[[1, 4]] * 4, source_positions=[[1, 4]] * 4,
                                base_labels=[" is", " are"] * 2, source_labels=[" are", " is"] * 2)
    control = pairs.base_labels.flip(0)
    together = train_das_sides(hm, pairs, "resid_pre.1", [pairs.source_labels, control], seed=3,
                               config=interp.methods.DASConfig(steps=4, batch_size=2))
    for labels, result in zip([pairs.source_labels, control], together):
        alone = train_das(hm, replace(pairs, source_labels=labels), "resid_pre.1", steps=4, batch_size=2, seed=3)
        torch.testing.assert_close(result.bases, alone.bases, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(result.losses, alone.losses, atol=1e-10, rtol=1e-10)


def test_score_sets_equal_score_for_every_set_and_label_set(hm, pairs):
    g = torch.Generator().manual_seed(0)
    rank2 = torch.linalg.qr(torch.randn(64, 2, generator=g)).Q
    unit = torch.nn.functional.normalize(torch.randn(64, generator=g), dim=0)
    sets = [[None, None], [unit, unit], [rank2, rank2]]  # vanilla, rank 1 and rank 2 in the same forwards
    labels = [(pairs.base_labels, pairs.source_labels), (pairs.source_labels, pairs.base_labels)]
    scored = score_sets(hm, pairs, "resid_post.0", sets, labels, max_rows=5)
    for (b, s), per_set in zip(labels, scored):
        relabelled = replace(pairs, base_labels=b, source_labels=s)
        for directions, ours in zip(sets, per_set):
            theirs = score(hm, relabelled, "resid_post.0", directions)
            torch.testing.assert_close(ours.odds_ratio, theirs.odds_ratio, atol=1e-4, rtol=1e-4)
            assert torch.equal(ours.iia, theirs.iia) and torch.equal(ours.behaviour, theirs.behaviour)


class ReversedFreshJobs(Executor):
    """Every job on a new worker (nothing memoised), last job first."""

    def __init__(self):
        self.ran = []

    def map(self, fn, units, *, model=None, shared=None):
        for job in reversed(list(units)):
            self.ran.append(job)
            yield job, fn(Worker(ModelSpec.parse(model).load(), shared), job)


def test_task_jobs_give_the_same_tables_on_fresh_workers_in_reverse_order(hm, suite, both, tmp_path):
    jobs, _ = both
    executor = ReversedFreshJobs()
    other = causal_efficacy(hm, suite, out=tmp_path, executor=executor, **SMALL)
    assert [job.task for job in executor.ran] == ["agr_behind", "agr_behind", "agr", "agr"]  # a job per task x layer
    pd.testing.assert_frame_equal(other.results, jobs.results)  # bit for bit, rows in the plan's order
    assert [r["key"] for r in other.records] == [r["key"] for r in jobs.records]


def test_a_task_runs_its_plain_passes_once_for_every_layer(hm, suite, monkeypatch, tmp_path):
    import interp.eval.causalgym.job as job

    calls = []
    for name in ("train_passes", "scoring_passes"):
        real = getattr(job, name)
        monkeypatch.setattr(job, name,
                            lambda *a, real=real, name=name, **k: calls.append((name, a[2])) or real(*a, **k))
    causal_efficacy(hm, suite, out=tmp_path, **SMALL)
    sites = ("resid_post.0", "resid_post.1")  # every layer's site at once: two tasks x two kinds of pass
    assert calls == [("train_passes", sites), ("scoring_passes", sites)] * 2


def test_das_from_precomputed_sources_and_state_equals_das_from_its_own_runs(float64):
    from interp.eval.causalgym.task_passes import train_passes

    hm = interp.models.tiny("llama")
    hm.model.double()
    pairs = PairData.from_texts(hm, ["The key to the cabinets", "The keys to the cabinet"] * 2,
                                ["The keys to the cabinet", "The key to the cabinets"] * 2,
                                base_positions=[[1, 4]] * 4, source_positions=[[1, 4]] * 4,
                                base_labels=[" is", " are"] * 2, source_labels=[" are", " is"] * 2)
    config = interp.methods.DASConfig(steps=4, batch_size=2)
    passes = train_passes(hm, pairs, ["resid_pre.0", "resid_pre.1"], fitted=False, das=True)
    (own,) = train_das_sides(hm, pairs, "resid_pre.1", [pairs.source_labels], config, seed=3)
    (given,) = train_das_sides(hm, pairs, "resid_pre.1", [pairs.source_labels], config, seed=3,
                               sources=passes.activations["resid_pre.1"][1], state=passes.states[1])
    torch.testing.assert_close(given.bases, own.bases, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(given.losses, own.losses, atol=1e-10, rtol=1e-10)
    with pytest.raises(interp.InputError, match="base state given is for layer 0"):
        train_das_sides(hm, pairs, "resid_pre.1", [pairs.source_labels], config, state=passes.states[0])
    with pytest.raises(interp.InputError, match="sources must hold"):
        train_das_sides(hm, pairs, "resid_pre.1", [pairs.source_labels], config, sources=torch.zeros(3, 2, 64))
