"""The CausalGym units of one task, computed together: one job per task × layer range (the sweep runs
one job per task × layer, so an interruption loses at most the layer that was running).

Most of a unit's work is shared with the other units of its task. :func:`run_job` does it once
for all of them, and gives back the same records as :func:`~interp.eval.causalgym.unit.run_unit`
would, unit by unit (equal to float rounding; ``tests/eval/test_causalgym_jobs.py`` checks it):

- **one set of plain runs per task** (:mod:`~interp.eval.causalgym.task_passes`): one forward per side
  over the training pairs caches every layer's site at the aligned positions (every direction method fits
  from it, DAS interchanges its source values), and the training and test bases' states and the test's
  clean log-probs are computed for every layer at once; the worker keeps them for the task's next layer
  jobs;
- **batched scoring**: at each layer, the test rows of every method × position (the task's DAS and
  the control's DAS too) run in the same packed forwards, resumed at that layer from the test bases'
  states; a non-DAS direction does not see the labels, so one forward scores it on the task and on
  the control (same sentences, other labels);
- **DAS task + control in one training pass** per layer (:func:`~interp.methods.train_das_sides`).

Rows of different layers do not share a forward: a row resumed from a lower layer recomputes the
layers below its own, and on CPU the forwards are bound by arithmetic, not by the number of calls
(``benchmarks/protocol.py`` measures it: a DAS step's products already run at about 2/3 of the CPU's
best rate, so larger batches across layers would gain at most about 20 %).

>>> jobs = plan_jobs([Unit("agr", 0, "resid_post.0", "mean", False), Unit("npi", 0, "resid_post.0", "mean", False),
...                   Unit("agr", 1, "resid_post.1", "das", True)])
>>> [(job.task, len(job.units)) for job in jobs]
[('agr', 2), ('npi', 1)]
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.eval.causalgym.task_passes import scoring_passes, train_passes
from interp.eval.causalgym.unit import Unit, _check_finite, _directions, check_model, run_unit
from interp.methods import DASConfig, train_das_sides
from interp.methods.score_sets import score_sets

#: non-DAS methods whose directions are fit to training activations
FITTED = ("probe", "mean", "pca", "kmeans", "lda", "sae")


@dataclass(frozen=True)
class TaskJob:
    """Units of one task, run by one :func:`run_job` call: ``units`` are computed (every unit of the
    sweep at the job's layers, so that a resumed job computes exactly what the first run did), those
    in ``todo`` (default: all) given back."""

    task: str
    units: tuple[Unit, ...]
    todo: frozenset[str] | None = None

    def __repr__(self) -> str:
        layers = sorted({u.layer for u in self.units})
        return f"TaskJob({self.task!r}, {len(self.units)} units, layers {layers[0]}..{layers[-1]})"


def plan_jobs(units: Sequence[Unit], layers_per_job: int | None = None, *,
              every: Sequence[Unit] | None = None) -> list[TaskJob]:
    """The units grouped by task (in order); ``layers_per_job``: at most that many layers per job.
    ``every``: all units of the sweep (``units`` are those left to do): a job computes every unit of
    its task at its layers and gives back those left."""
    by_task: dict[str, list[Unit]] = {}
    for unit in units:
        by_task.setdefault(unit.task, []).append(unit)
    jobs = []
    for task, members in by_task.items():
        layers = list(dict.fromkeys(u.layer for u in members))
        size = layers_per_job or len(layers)
        for start in range(0, len(layers), size):
            chosen = set(layers[start:start + size])
            todo = tuple(u for u in members if u.layer in chosen)
            if every is None:
                jobs.append(TaskJob(task, todo))
            else:
                computed = tuple(u for u in every if u.task == task and u.layer in chosen)
                jobs.append(TaskJob(task, computed, frozenset(u.key for u in todo)))
    return jobs


def run_jobs(runner, units: Sequence[Unit], *, model: Any, shared: Any, per_unit: bool = False,
             layers_per_job: int | None = None, every: Sequence[Unit] | None = None
             ) -> Iterator[tuple[Unit, tuple[dict, Any]]]:
    """``(unit, (record, bases))`` for every unit, from ``runner`` (an executor): one job per task
    (:func:`run_job`), or one call per unit (:func:`run_unit`, ``per_unit=True``: the path before).
    ``every``: all the sweep's units, when ``units`` are those left after a resume (see :func:`plan_jobs`)."""
    if per_unit:
        yield from runner.map(run_unit, units, model=model, shared=shared)
        return
    if not units:
        return
    stream = runner.map(run_job, plan_jobs(units, layers_per_job, every=every), model=model, shared=shared)
    try:
        for _job, results in stream:
            yield from results
    finally:
        stream.close()


def run_job(worker, job: TaskJob) -> list[tuple[Unit, tuple[dict, Any]]]:
    """Every unit of ``job`` as :func:`run_unit` would give it, computed together (see the module)."""
    hm, sweep = worker.model, worker.shared
    check_model(hm, sweep)
    started = time.perf_counter()
    task, units = sweep.tasks[job.task], job.units
    layers = sorted({u.layer for u in units})
    site_of = {u.layer: u.site for u in units}
    sites = [site_of[layer] for layer in layers]
    methods = {u.method for u in units}
    if task.control_test is not None and not _same_sentences(task.test, task.control_test):
        return [(unit, run_unit(worker, unit)) for unit in units  # a control with other sentences: unit by unit
                if job.todo is None or unit.key in job.todo]

    test = task.test
    label_sets = [(test.base_labels, test.source_labels)]
    if task.control_test is not None:
        label_sets.append((task.control_test.base_labels, task.control_test.source_labels))
    every_site = tuple(sweep.sites) or tuple(sites)  # the plain runs serve every layer of the sweep
    fitted, das = any(m in FITTED for m in methods), "das" in methods
    train, scoring = worker.memo_latest("causalgym-task", (task.name, task.digest, every_site, fitted, das), lambda: (
        train_passes(hm, task.train, every_site, fitted=fitted, das=das),
        scoring_passes(hm, test, every_site, label_sets)))

    sae = {"sae": sweep.sae} if getattr(sweep, "sae", None) else {}  # the sae method's folder
    done: dict[Unit, tuple[dict, Any]] = {}
    for layer, site in zip(layers, sites):
        here = [u for u in units if u.layer == layer]
        bases: dict[tuple[str, bool], Any] = {}
        for method in dict.fromkeys(u.method for u in here if u.method != "das"):
            fitted_at = lambda site=site: tuple(x.float().cpu() for x in train.activations[site])  # noqa: E731
            bases[(method, False)] = bases[(method, True)] = _directions(
                hm, method, task, task.train, site, layer, sweep.seed, sweep.das, fitted_at, **sae)
        das_paths = {}
        das_sides = sorted({u.control for u in here if u.method == "das"})
        if das_sides:
            data = [task.control_train if side else task.train for side in das_sides]
            config = DASConfig(**sweep.das)
            if all(_same_sentences(data[0], d) for d in data):  # task + control: one training pass
                prepared = {"sources": train.activations[site][1], "state": train.states.get(layer)}
                trained = train_das_sides(hm, data[0], site, [d.source_labels for d in data], config, seed=sweep.seed,
                                          **(prepared if data[0] is task.train else {}))
            else:
                trained = [train_das_sides(hm, d, site, [d.source_labels], config, seed=sweep.seed)[0] for d in data]
            for side, result in zip(das_sides, trained):
                bases[("das", side)] = result.bases.detach().float()
                das_paths[side] = result.path
        keys = list(dict.fromkeys((u.method, u.control) if u.method == "das" else (u.method, False) for u in here))
        sets = [[None] * len(task.spans) if bases[key] is None else list(bases[key]) for key in keys]
        scored = score_sets(hm, test, site, sets, label_sets, max_rows=sweep.max_rows, clean=scoring.clean,
                            state=scoring.states.get(layer), sources=scoring.sources[site])
        for unit in here:
            key = (unit.method, unit.control) if unit.method == "das" else (unit.method, False)
            scores = scored[int(unit.control)][keys.index(key)]
            _check_finite(unit, task.spans, scores.odds_ratio)
            paths = {"scoring": scores.path, "jobs": "per-task"}
            if unit.method == "das":
                paths["das_training"] = das_paths[unit.control]
            done[unit] = (_record(task, unit, sweep, scores, paths), bases[(unit.method, unit.control)])
    seconds = round((time.perf_counter() - started) / len(units), 3)
    for record, _ in done.values():
        record["seconds"] = seconds  # the job's time, shared out
    return [(unit, done[unit]) for unit in units if job.todo is None or unit.key in job.todo]


def _record(task, unit: Unit, sweep, scores, paths: dict) -> dict:
    """The unit's record, field for field as :func:`run_unit` writes it."""
    return {"task": task.name, "method": unit.method, "layer": unit.layer, "site": unit.site,
            "control": unit.control, "positions": list(task.spans), "odds_ratio": scores.odds_ratio.double().tolist(),
            "iia": scores.iia.int().tolist(), "behaviour": scores.behaviour.int().tolist(),
            "task_digest": task.digest, "das": sweep.das if unit.method == "das" else None, "directions": None,
            "computation": paths, "seconds": 0.0}


def _same_sentences(a, b) -> bool:
    """Whether two PairData hold the same base and source tokens at the same positions (labels aside)."""
    return (a.n == b.n and torch.equal(a.base.input_ids, b.base.input_ids)
            and torch.equal(a.base.attention_mask, b.base.attention_mask)
            and torch.equal(a.source.input_ids, b.source.input_ids)
            and torch.equal(a.source.attention_mask, b.source.attention_mask)
            and torch.equal(a.base_positions, b.base_positions) and torch.equal(a.source_positions, b.source_positions))


__all__ = ["FITTED", "TaskJob", "plan_jobs", "run_job", "run_jobs"]
