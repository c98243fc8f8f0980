"""The CausalGym sweep: every task × layer × method (× control) as a unit, resumable, on any executor.

:func:`causal_efficacy` validates a :class:`~interp.eval.causalgym.config.CausalGymConfig`, encodes
the tasks (:mod:`~interp.eval.causalgym.plan`), skips the units already in ``DIR/units/``
(:class:`~interp.eval.units.UnitLog`), runs the others (:func:`~interp.eval.causalgym.unit.run_unit`)
where ``executor`` says, writes each one as it finishes, then the tables and ``meta.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interp.errors import InputError, SuiteError
from interp.eval.aggregate import summarize
from interp.eval.causalgym.config import CausalGymConfig, parse_layers
from interp.eval.causalgym.job import run_jobs
from interp.eval.causalgym.plan import EncodedTask, check_site, encode_task, load_tasks, suite_name_of
from interp.eval.causalgym.result import CausalEfficacyResult, results_table, save_directions
from interp.eval.causalgym.span_labels import span_labels
from interp.eval.causalgym.unit import Sweep, Unit
from interp.eval.units import UnitLog
from interp.exec import ExecutorError, LocalExecutor, ModelSpec, get_executor
from interp.io import run_metadata, write_run
from interp.progress import progress_bar
from interp.suites.causalgym_source import save_rows


def causal_efficacy(hm, suite: Any, config: CausalGymConfig | None = None, *, out: str | Path | None = None,
                    progress: bool = False, on_unit: Callable[[dict], None] | None = None,
                    command: list[str] | None = None, suite_name: str | None = None, executor: Any = "local",
                    model_spec: Any = None, per_unit: bool = False, **settings: Any) -> CausalEfficacyResult:
    """Run the CausalGym protocol on ``hm``: every task × layer × method (× control), all spans.

    ``suite``: a CausalGym template file or folder, ``builtin:NAME``, published rows (a file, a
    folder of train/dev/test files, a Hugging Face dataset id: :mod:`interp.suites.causalgym_source`;
    used as given, ``n_train``/``n_test`` cap them), or a dict of
    :class:`~interp.suites.causalgym.TaskSplits` (then ``n_train``/``n_test`` are ignored). With
    ``out``, the pairs used are written to ``out/rows/`` ({train,test}.jsonl, published rows), so
    that ``suite=out/"rows"`` reruns the same tables; ``meta.json`` records, per task, the share of
    test sentences also seen in training (``split_overlap``).
    What is computed is ``config`` (a :class:`~interp.eval.CausalGymConfig`, default: its defaults),
    with any of its settings given as keywords instead or on top: ``methods``, ``layers``,
    ``positions``, ``tasks``, ``control``, ``control_labels``, ``site_kind``, ``seed``, ``n_train``,
    ``n_test``, ``n_boot``, ``max_rows``, ``strict_splits`` and the DAS training as ``das=DASConfig(...)`` or
    ``das_steps``, ``das_batch_size``, ``das_lr``, ``das_warmup``, ``das_rank``.

    ``executor``: where the units run — ``"local"`` (this process, the default), ``"ray"`` (a local
    or the current Ray cluster) or an :class:`interp.exec.Executor` such as
    ``RayExecutor(address="auto", num_workers=8)``; units run elsewhere load the model from
    ``model_spec`` (default ``hm.spec``, recorded by :func:`interp.load` and
    :func:`interp.models.tiny`). Whatever runs them, this process alone writes the output folder
    ``out``, and the tables are the same.

    The units of a task run together, as one job (:mod:`~interp.eval.causalgym.job`: one activation
    pass, every method's test rows in the same packed forwards, DAS task + control in one training
    pass); ``per_unit=True`` runs them one by one instead (the same tables, to float rounding; slower).

    Everything is validated (:meth:`CausalGymConfig.validate`; then layers, sites, tasks,
    single-token labels that differ between the two types, also the control labels) before the
    first forward pass. A unit whose scores are not finite (NaN/inf logits) is an error naming the
    unit. ``on_unit(record)`` is called after each newly finished unit.
    """
    config = CausalGymConfig.build(config, **settings).validate()
    methods, site_kind, seed = config.methods, config.site_kind, config.seed
    layer_list = parse_layers(config.layers, hm.n_layers)
    control_labels = config.control_labels if config.control else None
    for layer in layer_list:
        check_site(hm, f"{site_kind}.{layer}", methods)
    runner = get_executor(executor)
    remote = not isinstance(runner, LocalExecutor)
    spec = ModelSpec.required(hm if model_spec is None else model_spec) if remote else None
    splits = load_tasks(suite, config.tasks, seed, config.n_train, config.n_test, config.strict_splits)
    if not splits:
        raise SuiteError(f"{suite_name_of(suite)}: the suite has no tasks")
    plan = {task.name: task for task in (encode_task(hm, s, config.positions, control_labels)
                                         for s in splits.values())}
    model = str(getattr(hm, "name", type(hm).__name__))
    suite_name = suite_name or suite_name_of(suite)
    das = config.das.to_dict()
    log_settings = {"model": model, "revision": getattr(hm, "revision", None), "suite": suite_name, "seed": seed,
                    "site_kind": site_kind, "n_train": config.n_train, "n_test": config.n_test,
                    "control_labels": list(control_labels) if control_labels else None}
    out = Path(out) if out is not None else None
    log = UnitLog(out, log_settings) if out is not None else None

    sides = [False, True] if config.control else [False]
    units = [Unit(name, layer, f"{site_kind}.{layer}", method, is_control) for name in plan for layer in layer_list
             for method in methods for is_control in sides]
    finished = _finished(log, units, plan, das, out)
    if out is not None:  # the run's data, before any unit: `--suite OUT/rows` reruns it from the rows alone
        save_rows(out / "rows", {name: s for name, s in splits.items() if not s.control_task})
    todo = [unit for unit in units if unit.key not in finished]
    sweep = Sweep(plan, seed, das, config.max_rows, (model, getattr(hm, "revision", None)), sae=config.sae,
                  sites=tuple(f"{site_kind}.{layer}" for layer in layer_list))
    bar = progress_bar(total=len(units), initial=len(finished), progress=progress, desc="causal efficacy")
    bases_in_memory = {}
    # one job per task x layer: the work shared within a layer is done once, and an interruption loses
    # at most the layer that was running
    stream = run_jobs(runner, todo, model=spec if remote else hm, shared=sweep, per_unit=per_unit, every=units,
                      layers_per_job=1)
    try:
        for unit, (record, bases) in stream:
            key = unit.key
            bar.set_postfix_str(key, refresh=False)
            if key in finished:
                raise ExecutorError(f"unit {key} came back twice")  # executors yield each unit once
            if bases is not None:
                bases_in_memory[key] = bases
                if out is not None:
                    side = "-control" if unit.control else ""
                    relative = Path("directions") / unit.task / f"{unit.method}{side}" / f"{unit.site}.safetensors"
                    save_directions(out / relative, bases, unit.site, plan[unit.task].spans, task=unit.task,
                                    method=unit.method, layer=unit.layer, control=unit.control)
                    record["directions"] = relative.as_posix()
            if log is not None:
                log.write(key, record)
            finished[key] = record = {"key": key, **record}
            bar.update()
            if on_unit is not None:
                on_unit(record)
    finally:
        stream.close()
        bar.close()
        if runner is not executor:  # made here from a name: release its workers
            runner.close()

    records = [finished[unit.key] for unit in units]
    results = results_table(records, model, suite_name)
    summary = summarize(records, model=model, suite=suite_name, n_boot=config.n_boot, seed=seed)
    result = CausalEfficacyResult(results, summary, records, out, [], bases_in_memory)
    if out is not None:
        tasks_run = list(plan.values())
        meta = run_metadata(hm, seed=seed, command=command, evaluator="causalgym", suite=suite_name,
                            suite_hash=hashlib.sha256("".join(t.digest for t in tasks_run).encode()).hexdigest()[:16],
                            tasks=[t.name for t in tasks_run], spans={t.name: t.spans for t in tasks_run},
                            span_labels={t.name: span_labels(splits[t.name].test, t.spans) for t in tasks_run},
                            methods=methods, layers=layer_list, site_kind=site_kind, control=config.control,
                            n_train=config.n_train, n_test=config.n_test, das=das if "das" in methods else None,
                            n_boot=config.n_boot, computation=computation_paths(records),
                            rows="rows/", split_sizes={n: [len(s.train), len(s.test)] for n, s in splits.items()},
                            split_overlap={n: s.train_overlap() for n, s in splits.items()},
                            strict_splits=config.strict_splits)
        result.paths = write_run(out, results, summary, meta)
    return result


def _finished(log: UnitLog | None, units: list[Unit], plan: dict[str, EncodedTask], das: dict,
              out: Path | None) -> dict[str, dict]:
    """Units already in the log (checked against the current pairs and DAS settings)."""
    done = {}
    for unit in units:
        if log is None or not log.done(unit.key):
            continue
        record = log.read(unit.key)
        if record.get("task_digest") != plan[unit.task].digest or (unit.method == "das" and record.get("das") != das):
            raise InputError(f"{out}: unit {unit.key} was computed from other pairs or DAS settings; use a new "
                             "--out folder")
        done[unit.key] = record
    return done


def computation_paths(records: list[dict]) -> dict[str, list[str]]:
    """Which computation paths the units ran on, e.g. ``{"scoring": ["packed"], "das_training": ["packed"]}``
    (see :mod:`interp.graph.resume`); units read back from an older log may not say."""
    found: dict[str, set[str]] = {}
    for record in records:
        for stage, path in (record.get("computation") or {}).items():
            found.setdefault(stage, set()).add(path)
    return {stage: sorted(paths) for stage, paths in sorted(found.items())}


__all__ = ["causal_efficacy", "computation_paths"]
