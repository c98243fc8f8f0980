"""Rebuild an output folder's tables and figures from what it holds, without loading a model.

>>> from interp.experiments.report import rebuild
>>> report = rebuild("runs/agreement")        # doctest: +SKIP
>>> report.kind, report.summary.head()        # doctest: +SKIP

Works on the folders of ``interp causalgym`` (from ``units/``: the per-example scores of every
finished unit), ``interp syntaxgym`` (from ``predictions.csv``) and ``interp run`` (every run
folder, then the combined tables). The summary is recomputed with the settings the run recorded
(``meta.json``: seed, bootstrap resamples, task/layer/method order), so for a finished folder
``summary.csv`` comes out byte for byte the same; for an interrupted CausalGym run it summarises
the units finished so far (its ``units/config.json`` has the settings; ``n_boot`` defaults to
1000). Tables are rewritten atomically; ``meta.json`` (the record of the original run) is left
alone. Figures go to ``DIR/figures/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from interp.errors import InputError
from interp.eval.aggregate import summarize
from interp.eval.causal_efficacy import results_table
from interp.eval.causalgym.span_labels import recorded_span_labels
from interp.eval.units import UnitLog
from interp.experiments.report_evaluators import evaluator_figures, is_steering_units, recall_tables, steering_tables
from interp.experiments.runner import combine_runs, experiment_figures, read_run_record, read_table, run_folder
from interp.experiments.spec import Experiment
from interp.io import write_table
from interp.methods import METHODS
from interp.viz import syntaxgym_accuracy, write_figures, write_html, write_task_figures

KINDS = ("causalgym", "syntaxgym", "steering", "recall", "experiment")


@dataclass
class Report:
    """What :func:`rebuild` found and wrote: ``kind``, the tables, ``notes`` (e.g. unfinished runs)."""

    kind: str
    folder: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: cannot read it: {error}") from None


def folder_kind(folder: str | Path) -> str:
    """``causalgym``, ``syntaxgym`` or ``experiment``, from the files in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    if (folder / "experiment.toml").is_file():
        return "experiment"
    meta = _read_json(folder / "meta.json") if (folder / "meta.json").is_file() else {}
    if meta.get("evaluator") in KINDS:
        return meta["evaluator"]
    if (folder / "units" / "config.json").is_file():
        return "steering" if is_steering_units(_read_json(folder / "units" / "config.json")) else "causalgym"
    if (folder / "predictions.csv").is_file():
        return "syntaxgym"
    raise InputError(f"{folder}: not an output folder of interp causalgym, syntaxgym or run, nor of steer or "
                     "recall (no meta.json, units/ or experiment.toml)")


# ------------------------------------------------------------------------------ CausalGym
def causalgym_tables(folder: str | Path, *, n_boot: int | None = None,
                     settings: dict[str, Any] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """``(results, summary, finished)`` recomputed from ``folder/units``.

    ``settings`` fills in what an unfinished run has not recorded yet (``n_boot``, ``methods``...).
    """
    folder = Path(folder)
    if not (folder / "units").is_dir():
        raise InputError(f"{folder}: no units/ folder, so no CausalGym scores to rebuild from")
    meta_path = folder / "meta.json"
    finished = meta_path.is_file()
    meta = _read_json(meta_path) if finished else {}
    config_path = folder / "units" / "config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    known = {**config, **(settings or {}), **meta}
    records = UnitLog(folder).records()
    if not records:
        raise InputError(f"{folder}: units/ holds no finished unit yet")
    tasks = list(known.get("tasks") or dict.fromkeys(r["task"] for r in records))
    layers = list(known.get("layers") or sorted({r["layer"] for r in records}))
    methods = list(known.get("methods") or METHODS)

    def rank(values: list, value: Any) -> int:
        return values.index(value) if value in values else len(values)

    records.sort(key=lambda r: (rank(tasks, r["task"]), rank(layers, r["layer"]), rank(methods, r["method"]),
                                bool(r["control"])))
    model, suite = str(known.get("model")), str(known.get("suite"))
    boot = n_boot if n_boot is not None else int(known.get("n_boot") or 1000)
    results = results_table(records, model, suite)
    summary = summarize(records, model=model, suite=suite, n_boot=boot, seed=int(known.get("seed") or 0))
    return results, summary, finished


# ------------------------------------------------------------------------------ SyntaxGym
def syntaxgym_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per suite and prediction, and of all predictions together (as :func:`interp.eval.syntaxgym`)."""
    rows = []
    for (model, suite), of_suite in predictions.groupby(["model", "suite"], sort=False):
        passed = of_suite.passed.astype(str).str.lower().isin(["true", "1", "1.0"])
        for prediction, of_prediction in of_suite.groupby("prediction", sort=False):
            rows.append({"model": model, "suite": suite, "prediction": str(prediction),
                         "formula": of_prediction.formula.iloc[0], "metric": "accuracy",
                         "value": float(np.mean(passed[of_prediction.index])), "n": len(of_prediction)})
        per_item = passed.groupby(of_suite["item"], sort=False).all()
        rows.append({"model": model, "suite": suite, "prediction": "all", "formula": "all predictions",
                     "metric": "accuracy", "value": float(np.mean(per_item)), "n": len(per_item)})
    return pd.DataFrame(rows, columns=["model", "suite", "prediction", "formula", "metric", "value", "n"])


def syntaxgym_tables(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    for name in ("results.csv", "predictions.csv"):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: no {name}, so no SyntaxGym scores to rebuild from")
    return read_table(folder / "results.csv"), syntaxgym_summary(read_table(folder / "predictions.csv"))


# ------------------------------------------------------------------------------ one folder
def _figures(kind: str, results: pd.DataFrame, summary: pd.DataFrame, folder: Path) -> list[Path]:
    if kind == "causalgym":
        return (write_figures(results, folder, summary=summary, position_labels=recorded_span_labels(folder))
                + write_task_figures(summary, folder))
    if kind in ("steering", "recall"):
        return evaluator_figures(kind, summary, folder)
    return write_html({"syntaxgym_accuracy": syntaxgym_accuracy(summary)}, folder)


def rebuild(folder: str | Path, *, figures: bool = True, n_boot: int | None = None) -> Report:
    """Recompute ``summary.csv`` (and ``results.csv`` of CausalGym folders) and the figures of ``folder``."""
    folder = Path(folder)
    kind = folder_kind(folder)
    if kind == "experiment":
        return _rebuild_experiment(folder, figures=figures, n_boot=n_boot)
    notes: list[str] = []
    if kind == "causalgym":
        results, summary, finished = causalgym_tables(folder, n_boot=n_boot)
        paths = [write_table(folder / "results.csv", results)]
        if not finished:
            notes.append(f"{folder}: the run has not finished (no meta.json); the tables hold the units done so far")
    elif kind == "steering":
        config_path = folder / "units" / "config.json"
        results, summary, finished = steering_tables(folder, _read_json(config_path) if config_path.is_file() else {})
        paths = []
        if not finished:
            notes.append(f"{folder}: the sweep has not finished (no results.csv); the tables hold the batches done "
                         "so far")
    elif kind == "recall":
        results, summary = recall_tables(folder)
        paths = []
    else:
        results, summary = syntaxgym_tables(folder)
        paths = []
    paths.append(write_table(folder / "summary.csv", summary))
    if figures:
        paths += _figures(kind, results, summary, folder)
    return Report(kind, folder, results, summary, paths, notes)


# ------------------------------------------------------------------------------ experiments
def _rebuild_experiment(folder: Path, *, figures: bool, n_boot: int | None) -> Report:
    spec = Experiment.from_toml(folder / "experiment.toml", out=folder, check_files=False)
    plan, notes = spec.runs(), []

    def tables(run):
        where = run_folder(folder, run)
        done = read_run_record(folder, run) is not None and (where / "meta.json").is_file()
        if run.evaluation.evaluator == "causalgym":
            if not (where / "units").is_dir():
                notes.append(f"{run.folder}: not started")
                return None
            settings = {"n_boot": run.evaluation.options["n_boot"], "methods": run.evaluation.options["methods"],
                        "tasks": run.evaluation.options["tasks"]}
            results, summary, _ = causalgym_tables(where, n_boot=n_boot, settings=settings)
            write_table(where / "results.csv", results)
        elif (where / "predictions.csv").is_file():
            results, summary = syntaxgym_tables(where)
        else:
            notes.append(f"{run.folder}: not started")
            return None
        write_table(where / "summary.csv", summary)
        if not done:
            notes.append(f"{run.folder}: not finished; its rows hold the units done so far")
        return results, summary

    results, summary = combine_runs(folder, plan, tables)
    paths = [write_table(folder / "results.csv", results), write_table(folder / "summary.csv", summary)]
    if figures:
        paths += experiment_figures(results, summary, folder)
    return Report("experiment", folder, results, summary, paths, notes)


__all__ = ["KINDS", "Report", "causalgym_tables", "folder_kind", "rebuild", "syntaxgym_summary",
           "syntaxgym_tables"]
