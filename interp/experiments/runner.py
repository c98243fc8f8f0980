"""Run an :class:`~interp.experiments.Experiment` into its output folder, resumably.

>>> from interp.experiments import Experiment, run_experiment
>>> spec = Experiment.from_toml("experiments/agreement.toml")            # doctest: +SKIP
>>> result = run_experiment(spec)                                         # doctest: +SKIP
>>> result.summary.query("task == 'all' and metric == 'odds_ratio'")      # doctest: +SKIP

The output folder::

    OUT/experiment.toml        the spec, byte for byte (for `interp run OUT/experiment.toml`)
    OUT/results.csv            every run's results.csv, with evaluation, evaluator, model, revision, seed first
    OUT/summary.csv            every run's summary.csv, the same way
    OUT/meta.json              versions, git commit, command line, the spec with defaults, the runs (written last)
    OUT/figures/*.html         heat-maps, layer curves, method bars; trajectory.html over revisions;
                               syntaxgym_accuracy.html
    OUT/runs/EVAL__MODEL__REVISION__seedN/   one folder per run, as `interp causalgym` / `interp syntaxgym`
                               write it (units/, directions/, results.csv, summary.csv, meta.json),
                               plus experiment_run.json once the run is finished

Models are loaded once per revision, and only when one of their runs is not finished. A finished
run (its ``experiment_run.json`` records the same settings, suite bytes included) is skipped; an
unfinished CausalGym run resumes unit by unit (:mod:`interp.eval.units`). A run whose settings
changed is run again into its folder: the CausalGym evaluator then reuses the units that are still
valid (e.g. after adding a method or a layer) and says so when the folder holds units of other
settings. ``revision`` is the checkpoint asked for, else the revision the loader reports.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from interp.errors import InputError
from interp.eval.causal_efficacy import causal_efficacy, parse_layers
from interp.eval.syntaxgym import syntaxgym
from interp.experiments.options import causalgym_config, make_executor
from interp.experiments.spec import Experiment, Run
from interp.io import atomic_write_text, run_metadata, write_run
from interp.models import load
from interp.suites.syntaxgym import load_all
from interp.viz import syntaxgym_accuracy, write_figures, write_html
from interp.viz.trajectory import revision_trajectories

RUN_RECORD = "experiment_run.json"
KEY_COLUMNS = ["evaluation", "evaluator", "model", "revision", "seed"]


@dataclass
class ExperimentResult:
    """Combined ``results`` and ``summary`` tables; ``ran``/``skipped``: run folders."""

    results: pd.DataFrame
    summary: pd.DataFrame
    out: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------ run records
def run_folder(out: str | Path, run: Run) -> Path:
    return Path(out) / "runs" / run.folder


def _normal(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def read_run_record(out: str | Path, run: Run) -> dict[str, Any] | None:
    path = run_folder(out, run) / RUN_RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_finished(out: str | Path, run: Run) -> bool:
    """The run's record is there, with the current settings, and its tables are complete."""
    record = read_run_record(out, run)
    folder = run_folder(out, run)
    return (record is not None and record.get("config") == _normal(run.config())
            and all((folder / name).is_file() for name in ("results.csv", "summary.csv", "meta.json")))


def revision_column(run: Run, record: dict[str, Any] | None) -> str | None:
    if run.revision is not None:
        return run.revision
    return (record or {}).get("model_revision")


# ------------------------------------------------------------------------------ running
def _load(model, revision: str | None):
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    return load(model.name, dtype=dtypes[model.dtype], device=model.device, revision=revision)


def _check_layers(hm, runs: list[Run]) -> None:
    for run in runs:
        if run.evaluation.evaluator == "causalgym":
            try:
                parse_layers(run.evaluation.options["layers"], hm.n_layers)
            except InputError as error:
                raise InputError(f"evaluation {run.evaluation.name!r} on {run.model.label}: layers: {error}") from None


def _run_causalgym(hm, spec: Experiment, run: Run, folder: Path, progress: bool, command: list[str],
                   executors: dict[str, Any]) -> None:
    options = run.evaluation.options
    kwargs: dict[str, Any] = {}
    setting = options["executor"] if options["executor"] is not None else spec.executor
    if setting is not None:
        key = json.dumps(setting, sort_keys=True)
        if key not in executors:  # one executor (e.g. one set of Ray actors) per setting, for every run
            executors[key] = make_executor(setting)
        kwargs["executor"] = executors[key]
    causal_efficacy(hm, run.evaluation.suite, causalgym_config(options, run.seed), out=folder, progress=progress,
                    command=command, **kwargs)


def _run_syntaxgym(hm, run: Run, folder: Path, command: list[str]) -> None:
    options = run.evaluation.options
    paths = run.evaluation.suite if isinstance(run.evaluation.suite, list) else [run.evaluation.suite]
    suites = [suite for path in paths for suite in load_all(path)]
    bos = None if options["bos"].lower() == "none" else options["bos"]
    result = syntaxgym(hm, suites, bos=bos, batch_size=options["batch_size"])
    meta = run_metadata(hm, command=command, evaluator="syntaxgym", suites=[s.source for s in suites],
                        bos=options["bos"])
    result.write(folder, meta)


def run_experiment(spec: Experiment, *, progress: bool = False, command: list[str] | None = None,
                   load: Callable[[Any, str | None], Any] | None = None,
                   log: Callable[[str], None] | None = None) -> ExperimentResult:
    """Run every unfinished run of ``spec``, then write the combined tables, metadata and figures.

    ``load(model_spec, revision) -> HookedModel`` replaces :func:`interp.load` (tests, custom models).
    ``log`` gets one line per run (default: stderr).
    """
    say = log or (lambda line: print(line, file=sys.stderr))
    command = list(command) if command is not None else list(sys.argv)
    out = spec.out
    out.mkdir(parents=True, exist_ok=True)
    if spec.source:
        atomic_write_text(out / "experiment.toml", spec.source)
    plan = spec.runs()
    groups: dict[tuple[str, str | None], list[Run]] = {}
    for run in plan:
        groups.setdefault((run.model.label, run.revision), []).append(run)
    ran, skipped = [], []
    executors: dict[str, Any] = {}
    try:
        for (label, revision), runs in groups.items():
            todo = [run for run in runs if not is_finished(out, run)]
            skipped += [run.folder for run in runs if run not in todo]
            if not todo:
                say(f"{label}{'@' + revision if revision else ''}: {len(runs)} run(s) already finished")
                continue
            hm = (load or _load)(todo[0].model, revision)
            _check_layers(hm, todo)
            for run in todo:
                say(f"running {run.folder}")
                folder = run_folder(out, run)
                if run.evaluation.evaluator == "causalgym":
                    _run_causalgym(hm, spec, run, folder, progress, command, executors)
                else:
                    _run_syntaxgym(hm, run, folder, command)
                record = {"columns": run.columns(), "config": run.config(), "model_revision": hm.revision,
                          "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
                atomic_write_text(folder / RUN_RECORD, json.dumps(_normal(record), indent=2) + "\n")
                ran.append(run.folder)
            del hm
    finally:
        for executor in executors.values():  # e.g. Ray actors: released once every run is done
            executor.close()
    results, summary = combine_runs(out, plan)
    meta = run_metadata(command=command, evaluator="experiment", title=spec.title, spec=spec.to_dict(),
                        runs=[{"folder": run.folder, **run.columns(),
                               "revision": revision_column(run, read_run_record(out, run))} for run in plan])
    paths = write_run(out, results, summary, meta)
    if spec.figures:
        paths += experiment_figures(results, summary, out)
    return ExperimentResult(results, summary, out, ran, skipped, paths)


# ------------------------------------------------------------------------------ combining
def read_table(path: Path) -> pd.DataFrame:
    """A CSV as written, floats read back exactly (so rewriting it changes no digit)."""
    return pd.read_csv(path, float_precision="round_trip", keep_default_na=True)


def with_keys(table: pd.DataFrame, run: Run, revision: str | None) -> pd.DataFrame:
    """``table`` with the run's key columns first (``model`` becomes the spec's label)."""
    table = table.drop(columns=[c for c in KEY_COLUMNS if c in table.columns])
    keys = pd.DataFrame({**run.columns(), "revision": revision}, index=table.index)
    keys["seed"] = pd.array([run.seed] * len(table), dtype="Int64")
    return pd.concat([keys, table], axis=1)


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    tables = [t for t in tables if len(t.columns)]
    if not tables:
        return pd.DataFrame(columns=KEY_COLUMNS)
    combined = pd.concat(tables, ignore_index=True, sort=False)
    combined["seed"] = combined["seed"].astype("Int64")
    return combined


def combine_runs(out: str | Path, plan: list[Run],
                 tables: Callable[[Run], tuple[pd.DataFrame, pd.DataFrame] | None] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The experiment's results and summary: each finished run's tables with its key columns.

    ``tables(run)`` gives a run's ``(results, summary)`` (default: its CSV files; None: not there).
    """
    def from_files(run: Run) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        folder = run_folder(out, run)
        if not is_finished(out, run):
            return None
        return read_table(folder / "results.csv"), read_table(folder / "summary.csv")

    results, summaries = [], []
    for run in plan:
        pair = (tables or from_files)(run)
        if pair is None:
            continue
        revision = revision_column(run, read_run_record(out, run))
        results.append(with_keys(pair[0], run, revision))
        summaries.append(with_keys(pair[1], run, revision))
    return combine(results), combine(summaries)


# ------------------------------------------------------------------------------ figures
def _display(table: pd.DataFrame) -> pd.DataFrame:
    """``model`` extended by whatever else tells runs apart in a figure (evaluation, revision)."""
    table = table.copy()
    parts = [table.model.astype(str)]
    if table.revision.nunique(dropna=False) > 1:
        parts.append("@" + table.revision.astype(str))
    if table.evaluation.nunique() > 1:
        parts.insert(0, table.evaluation.astype(str) + ": ")
    label = parts[0]
    for part in parts[1:]:
        label = label + part
    table["model"] = label
    return table


def experiment_figures(results: pd.DataFrame, summary: pd.DataFrame, out: str | Path) -> list[Path]:
    """``OUT/figures``: the causal-efficacy figures, the trajectory over revisions, SyntaxGym accuracy."""
    paths: list[Path] = []
    if results.empty:
        return paths
    causal = results[results.evaluator == "causalgym"]
    causal_summary = summary[summary.evaluator == "causalgym"]
    if not causal.empty:
        one_seed = causal.seed.nunique(dropna=False) == 1
        paths += write_figures(_display(causal), out, summary=_display(causal_summary) if one_seed else None)
        if causal.revision.nunique(dropna=False) > 1:
            paths += write_html({"trajectory": revision_trajectories(causal_summary)}, out)
    grammar = summary[summary.evaluator == "syntaxgym"]
    if not grammar.empty:
        figures = [syntaxgym_accuracy(_display(grammar).dropna(axis=1, how="all"))]
        if grammar.revision.nunique(dropna=False) > 1:
            figures += revision_trajectories(grammar, metrics=("accuracy",))
        paths += write_html({"syntaxgym_accuracy": figures}, out)
    return paths


__all__ = ["ExperimentResult", "KEY_COLUMNS", "RUN_RECORD", "combine_runs", "experiment_figures", "is_finished",
           "read_table", "run_experiment", "run_folder"]
