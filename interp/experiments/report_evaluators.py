"""``interp report`` on steering and recall folders: their tables and figures rebuilt from the files alone.

- **steering** (``interp steer``): ``summary.csv`` from ``results.csv`` (or, for a run that stopped, from
  the finished batches in ``units/``), ``figures/steering_curves.html``;
- **recall** (``interp recall``): ``summary.csv`` from ``results.csv`` (head scaling per item),
  ``figures/head_attribution.html`` from ``attribution.csv`` and ``figures/head_scaling.html``.

>>> is_steering_units({"coefficients": [0.0, 1.0], "contrast": "sentiment"})
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import InputError
from interp.eval.recall import summarise as summarise_recall
from interp.eval.steering import summarise as summarise_steering
from interp.eval.units import UnitLog
from interp.experiments.runner import read_table
from interp.viz.heads import component_bars, head_grid, scaling_curves
from interp.viz.steering import steering_curves
from interp.viz.write import write_html


def is_steering_units(config: dict[str, Any]) -> bool:
    """Whether ``units/config.json`` holds a steering sweep's settings (not a CausalGym run's)."""
    return "coefficients" in config and "contrast" in config


def steering_tables(folder: Path, config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """``(results, summary, finished)``: from ``results.csv``, else from the finished batches in ``units/``."""
    if (folder / "results.csv").is_file():
        results = read_table(folder / "results.csv")
        finished = True
    else:
        records = [row for unit in UnitLog(folder).records() for row in unit.get("records", [])]
        if not records:
            raise InputError(f"{folder}: no results.csv and no finished batch in units/, so nothing to rebuild")
        head = {"model": config.get("model"), "contrast": config.get("contrast"), "site": config.get("site")}
        results = pd.DataFrame([{**head, **r} for r in records])
        finished = False
    return results, summarise_steering(results), finished


def recall_tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not (folder / "results.csv").is_file():
        raise InputError(f"{folder}: no results.csv, so no head-scaling results to rebuild from")
    results = read_table(folder / "results.csv").astype({"layer": "Int64", "head": "Int64"})
    return results, summarise_recall(results)


def evaluator_figures(kind: str, summary: pd.DataFrame, folder: Path) -> list[Path]:
    """The figures of a steering or recall folder."""
    if kind == "steering":
        return write_html({"steering_curves": steering_curves(summary)}, folder)
    figures = {"head_scaling": [scaling_curves(summary)]}
    if (folder / "attribution.csv").is_file():
        table = read_table(folder / "attribution.csv")
        heads = table[table.component == "head"].astype({"layer": int, "head": int})
        figures = {"head_attribution": [head_grid(heads.pivot(index="layer", columns="head", values="value")),
                                        component_bars(table)], **figures}
    return write_html(figures, folder)
