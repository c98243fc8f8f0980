"""The published CausalGym summary, with 95 % bootstrap confidence intervals over test examples.

Aggregation (docs/formats.md): mean over test examples → maximum over positions → mean over layers →
mean over tasks, per method. The interval resamples each task's test examples with replacement
(``n_boot`` times, the same resample for every method, layer, position and for the control
task, so that differences such as selectivity are paired) and pushes every resample through the
same aggregation; tasks are resampled independently.

Input: unit records, one per task × layer × method × control, each with per-example values
``odds_ratio [P][n]``, ``iia [P][n]`` and ``behaviour [n]`` (what :mod:`interp.eval.causal_efficacy`
stores in its unit log).

>>> def unit(layer, control, shift):
...     return {"task": "t", "method": "mean", "layer": layer, "control": control, "behaviour": [1, 1],
...             "odds_ratio": [[1.0 + shift, 2.0 + shift], [0.0, 0.0]], "iia": [[1, 1], [0, 0]]}
>>> table = summarize([unit(0, False, 0.0), unit(1, False, 1.0), unit(0, True, -1.0), unit(1, True, -1.0)])
>>> overall = table[table.task == "all"].set_index("metric")
>>> overall.loc[["odds_ratio", "control_odds_ratio", "selectivity"], "value"].tolist()
[2.0, 0.5, 1.5]
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd

from interp.stats import bootstrap_weights

SUMMARY_COLUMNS = ["model", "suite", "task", "method", "metric", "value", "ci_low", "ci_high", "n_tasks",
                   "n_layers", "n"]
METRIC_ORDER = ["odds_ratio", "iia", "control_odds_ratio", "control_iia", "selectivity", "selectivity_iia",
                "behaviour"]


def protocol(values: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """``values [L, P, n]`` -> (point estimate, ``[B]`` bootstrap replicates): mean over examples,
    max over positions, mean over layers."""
    point = float(values.mean(-1).max(-1).mean())
    layers, positions, n = values.shape
    reps = (values.reshape(-1, n) @ weights.T).reshape(layers, positions, -1)  # [L, P, B]
    return point, reps.max(1).mean(0)


def _task_seed(seed: int, task: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32(task.encode())) % 2**32


def summarize(records: Iterable[dict], *, model: str | None = None, suite: str | None = None,
              n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """The summary table: one row per (task or ``"all"``) × method × metric, with ``ci_low``/``ci_high``.

    Metrics: ``odds_ratio``, ``iia`` (task labels), ``control_odds_ratio``, ``control_iia`` (the
    control relabelling), ``selectivity`` / ``selectivity_iia`` (task − control, each aggregated
    over the layers present in both), ``behaviour`` (the model's accuracy, the same for every method).
    """
    grouped: dict[tuple, dict[int, dict]] = defaultdict(dict)  # (task, method, control) -> layer -> record
    for record in records:
        grouped[(record["task"], record["method"], bool(record["control"]))][int(record["layer"])] = record
    tasks = sorted({key[0] for key in grouped})
    methods = list(dict.fromkeys(key[1] for key in grouped))
    low_q, high_q = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2

    per_task: dict[tuple[str, str, str], tuple[float, np.ndarray, int, int]] = {}
    for task in tasks:
        any_record = next(r for (t, _, _), layers in grouped.items() if t == task for r in layers.values())
        n = len(any_record["behaviour"])
        weights = bootstrap_weights(n, n_boot, _task_seed(seed, task))
        for method in methods:
            plain, control = grouped.get((task, method, False), {}), grouped.get((task, method, True), {})

            def stack(units: dict, layers: list[int], field: str) -> np.ndarray:
                return np.asarray([units[layer][field] for layer in layers], dtype=np.float64)  # [L, P, n]

            for field in ("odds_ratio", "iia"):
                for prefix, units in (("", plain), ("control_", control)):
                    if units:
                        layers = sorted(units)
                        point, reps = protocol(stack(units, layers, field), weights)
                        per_task[(task, method, prefix + field)] = (point, reps, len(layers), n)
                common = sorted(set(plain) & set(control))
                if common:
                    p_point, p_reps = protocol(stack(plain, common, field), weights)
                    c_point, c_reps = protocol(stack(control, common, field), weights)
                    name = "selectivity" if field == "odds_ratio" else "selectivity_iia"
                    per_task[(task, method, name)] = (p_point - c_point, p_reps - c_reps, len(common), n)
            if plain:
                behaviour = np.asarray(next(iter(plain.values()))["behaviour"], dtype=np.float64)
                per_task[(task, method, "behaviour")] = (float(behaviour.mean()), weights @ behaviour, 1, n)

    rows = []

    def row(task: str, method: str, metric: str, point: float, reps: np.ndarray, n_tasks: int, n_layers: int,
            n: int) -> dict:
        return {"model": model, "suite": suite, "task": task, "method": method, "metric": metric,
                "value": point, "ci_low": float(np.percentile(reps, low_q)),
                "ci_high": float(np.percentile(reps, high_q)), "n_tasks": n_tasks, "n_layers": n_layers, "n": n}

    for method in methods:
        for metric in METRIC_ORDER:
            found = [(task, per_task[(task, method, metric)]) for task in tasks if (task, method, metric) in per_task]
            if not found:
                continue
            points = np.asarray([v[0] for _, v in found])
            reps = np.mean([v[1] for _, v in found], axis=0)
            rows.append(row("all", method, metric, float(points.mean()), reps, len(found),
                            max(v[2] for _, v in found), sum(v[3] for _, v in found)))
            rows.extend(row(task, method, metric, v[0], v[1], 1, v[2], v[3]) for task, v in found)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
