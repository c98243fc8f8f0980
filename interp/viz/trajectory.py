"""Trajectories over training checkpoints: a metric at each revision, one line per method (or suite).

"When in training does the mechanism appear?"

>>> import pandas as pd
>>> from interp.viz.trajectory import revision_trajectory, trajectory_table
>>> summary = pd.DataFrame({"revision": ["step1000", "step1000", "step8000", "step8000"],
...                         "method": ["das", "random"] * 2, "task": "all", "metric": "odds_ratio",
...                         "value": [0.5, 0.0, 4.0, 0.1], "ci_low": [0.2, -0.1, 3.5, 0.0],
...                         "ci_high": [0.8, 0.1, 4.5, 0.2]})
>>> trajectory_table(summary)[["method", "step", "value"]].values.tolist()
[['das', 1000, 0.5], ['das', 8000, 4.0], ['random', 1000, 0.0], ['random', 8000, 0.1]]
>>> fig = revision_trajectory(summary)
>>> [trace.name for trace in fig.data], list(fig.data[0].x)
(['das', 'random'], [1000, 8000])

Input: a table with a ``revision`` column — the summary table of ``interp causalgym --revisions``
or ``interp run`` (its ``task == "all"`` rows; intervals drawn from ``ci_low``/``ci_high``), a
SyntaxGym summary (``prediction == "all"``; one line per suite), or a tidy per-unit results
table (aggregated the published way: max over positions, mean over layers, mean over tasks).
Several seeds are averaged (then no intervals). When every revision ends in a number
(``step1000``, ``step143000``) the x axis is that training step, on a log scale when the steps
span more than two decades; otherwise revisions are categories in their order of appearance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.viz._table import (
    layer_scores,
    method_color,
    method_order,
    metric_label,
    only_one,
    require,
    select_metric,
    signed_metric,
)
from interp.viz.summary import AGGREGATE_TASKS

_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_STEP = re.compile(r"(\d+)$")


def revision_steps(revisions: Sequence) -> list[int] | None:
    """The trailing number of every revision (``step1000`` -> 1000), or None if one has none."""
    steps = [_STEP.search(str(r)) for r in revisions]
    return [int(m.group(1)) for m in steps] if all(steps) else None


def _series(table: pd.DataFrame, series: str | None) -> str:
    if series is not None:
        require(table, [series], "revision_trajectory")
        return series
    for column in ("method", "suite"):
        if column in table.columns:
            return column
    raise ValueError("revision_trajectory: the table has neither a method nor a suite column; pass series=...")


def trajectory_table(table: pd.DataFrame, metric: str = "odds_ratio", *, series: str | None = None,
                     model: str | None = None) -> pd.DataFrame:
    """The numbers the figure shows: ``[model,] SERIES, revision, step, value, ci_low, ci_high, n_seeds``."""
    what = "revision_trajectory"
    require(table, ["revision", "metric", "value"], what)
    series = _series(table, series)
    table = table.copy()
    table["revision"] = table.revision.astype(str)
    order = list(pd.unique(table.revision))
    rows = select_metric(table, metric, what)
    if model is not None:
        rows = only_one(rows, "model", model, what)
    models = ["model"] if "model" in rows.columns else []
    seeds = ["seed"] if "seed" in rows.columns else []
    if {"layer", "position"} <= set(rows.columns):  # the tidy per-unit table: aggregate it
        tasks = ["task"] if "task" in rows.columns else []
        per_layer = layer_scores(rows, [*models, "revision", *seeds, series, *tasks])
        per_task = per_layer.groupby([*models, "revision", *seeds, series, *tasks], sort=False,
                                     dropna=False)["value"].mean()
        rows = per_task.groupby([*models, "revision", *seeds, series], sort=False, dropna=False).mean().reset_index()
    else:
        if "task" in rows.columns:
            rows = rows[rows.task.astype(str).str.lower().isin(AGGREGATE_TASKS)]
        if "prediction" in rows.columns:
            rows = rows[rows.prediction.astype(str) == "all"]
    if rows.empty:
        raise ValueError(f"{what}: no overall rows of {metric!r} (task 'all' / prediction 'all') in the table")
    keys = [*models, series, "revision"]
    grouped = rows.groupby(keys, sort=False, dropna=False)
    points = grouped["value"].mean().reset_index()
    points["n_seeds"] = grouped.size().to_numpy()
    for bound in ("ci_low", "ci_high"):
        if bound in rows.columns:
            single = grouped[bound].first().to_numpy(float)
            points[bound] = np.where(points.n_seeds == 1, single, np.nan)
        else:
            points[bound] = np.nan
    steps = revision_steps(order)
    position = {revision: k for k, revision in enumerate(order)}
    points["step"] = [steps[position[r]] for r in points.revision] if steps else [position[r] for r in
                                                                                   points.revision]
    points = points.sort_values([*models, series, "step"], kind="stable", key=_series_key(series))
    return points[[*keys, "step", "value", "ci_low", "ci_high", "n_seeds"]].reset_index(drop=True)


def _series_key(series: str):
    def key(column: pd.Series) -> pd.Series:
        if column.name == series and series == "method":
            ranks = {m: k for k, m in enumerate(method_order(column))}
            return column.map(ranks)
        return column
    return key


def revision_trajectory(table: pd.DataFrame, metric: str = "odds_ratio", *, series: str | None = None,
                        model: str | None = None) -> go.Figure:
    """``metric`` at each revision, one line per method (or ``series``), with 95 % intervals when known."""
    points = trajectory_table(table, metric, series=series, model=model)
    series = _series(points, series)
    revisions = list(pd.unique(points.revision))
    steps = revision_steps(list(dict.fromkeys(table.revision.astype(str))))
    models = list(pd.unique(points.model)) if "model" in points.columns else [None]
    fig = go.Figure()
    for index, name in enumerate(models):
        of_model = points if name is None else points[points.model == name]
        for value in pd.unique(of_model[series]):
            line = of_model[of_model[series] == value]
            label = str(value) if len(models) == 1 else f"{value} ({name})"
            error = None
            if line.ci_low.notna().all():
                error = {"type": "data", "symmetric": False, "visible": True,
                         "array": np.clip(line.ci_high - line.value, 0, None).tolist(),
                         "arrayminus": np.clip(line.value - line.ci_low, 0, None).tolist()}
            color = method_color(value) if series == "method" else None
            fig.add_trace(go.Scatter(
                x=line.step.tolist() if steps else line.revision.tolist(), y=line.value.tolist(), name=label,
                mode="lines+markers", error_y=error, legendgroup=str(value), customdata=line.revision.tolist(),
                line={"color": color, "dash": _DASHES[index % len(_DASHES)]},
                hovertemplate=f"{label}<br>%{{customdata}}<br>{metric} %{{y:.3f}}<extra></extra>",
            ))
    xaxis: dict = {"title": "training step" if steps else "revision"}
    if steps:
        positive = [s for s in steps if s > 0]
        if positive and len(positive) == len(steps) and max(positive) / min(positive) > 100:
            xaxis["type"] = "log"
    else:
        xaxis.update(type="category", categoryorder="array", categoryarray=revisions)
    fig.update_layout(title=f"{metric_label(metric)} over training", xaxis=xaxis,
                      yaxis={"title": metric_label(metric)}, template="plotly_white",
                      legend={"title": {"text": series}})
    if signed_metric(metric):
        fig.add_hline(y=0, line={"color": "#999", "width": 1})
    return fig


#: Metrics :func:`revision_trajectories` draws when the table has them.
TRAJECTORY_METRICS = ("odds_ratio", "iia", "selectivity", "accuracy")


def revision_trajectories(table: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[go.Figure]:
    """One :func:`revision_trajectory` per metric of ``metrics`` (default: those of
    :data:`TRAJECTORY_METRICS` the table has)."""
    present = set(table.metric) if "metric" in table.columns else set()
    chosen = [m for m in (metrics or TRAJECTORY_METRICS) if m in present]
    return [revision_trajectory(table, metric) for metric in chosen]


__all__ = ["TRAJECTORY_METRICS", "revision_steps", "revision_trajectories", "revision_trajectory",
           "trajectory_table"]
