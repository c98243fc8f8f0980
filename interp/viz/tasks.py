"""Per-task method comparison (the paper's per-task figure): a task × method heat-map of one metric,
each cell the value and its 95 % interval, and the same as bars grouped by task.

>>> import pandas as pd
>>> from interp.viz import task_method_heatmap, task_table, write_task_figures
>>> summary = pd.DataFrame({"task": ["all", "agr", "npi"] * 2, "method": ["das"] * 3 + ["probe"] * 3,
...                         "metric": "odds_ratio", "value": [2.0, 3.0, 1.0, 1.5, 2.5, 0.5],
...                         "ci_low": [1.5, 2.5, 0.5, 1.0, 2.0, 0.0], "ci_high": [2.5, 3.5, 1.5, 2.0, 3.0, 1.0]})
>>> task_table(summary).value.to_dict("index")     # the tasks, then the mean over tasks ("all")
{'agr': {'das': 3.0, 'probe': 2.5}, 'npi': {'das': 1.0, 'probe': 0.5}, 'all': {'das': 2.0, 'probe': 1.5}}
>>> fig = task_method_heatmap(summary)
>>> fig.data[0].z.tolist(), fig.data[0].y[-1]
([[3.0, 2.5], [1.0, 0.5], [2.0, 1.5]], 'all (mean over tasks)')
>>> import tempfile
>>> [p.name for p in write_task_figures(summary, tempfile.mkdtemp())]     # OUT/figures/tasks.html
['tasks.html']

Give it the evaluator's summary table (``summary.csv``: ``task, method, metric, value`` and
``ci_low``, ``ci_high``), whose rows hold one value per task and method (filter several models,
revisions or seeds first); the ``task == "all"`` rows (the mean over tasks) come last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.errors import InputError
from interp.viz._table import method_order, metric_label, require, select_metric, signed_metric
from interp.viz.summary import method_summary
from interp.viz.write import write_html

#: The label of the mean-over-tasks row in the figures.
ALL_LABEL = "all (mean over tasks)"
#: Metrics drawn by :func:`task_figures` when present, in this order.
TASK_METRICS = ("odds_ratio", "iia", "selectivity")


@dataclass
class TaskTable:
    """``value``, ``ci_low``, ``ci_high``: tasks × methods (``ci_*`` NaN when the summary has none)."""

    value: pd.DataFrame
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame


def task_table(summary: pd.DataFrame, metric: str = "odds_ratio") -> TaskTable:
    """The numbers the per-task figures show: index tasks in order of appearance (``all`` last),
    columns methods in the figures' order."""
    what = "task_method_heatmap"
    require(summary, ["task", "method", "metric", "value"], what)
    rows = select_metric(summary, metric, what)
    duplicated = rows.duplicated(["task", "method"], keep=False)
    if duplicated.any():
        example = rows[duplicated].iloc[0]
        others = [c for c in ("model", "revision", "seed", "suite") if c in rows.columns and rows[c].nunique() > 1]
        raise InputError(f"{what}: several rows for task {example.task!r} and method {example.method!r}; filter the "
                         f"summary first (by {', '.join(others) or 'the columns that tell them apart'})")
    tasks = [t for t in dict.fromkeys(rows.task.astype(str)) if t != "all"]
    tasks += ["all"] if (rows.task.astype(str) == "all").any() else []
    methods = method_order(rows.method)

    def pivot(column: str) -> pd.DataFrame:
        values = rows[column] if column in rows.columns else np.nan
        table = rows.assign(task=rows.task.astype(str), cell=pd.to_numeric(values, errors="coerce"))
        return table.pivot(index="task", columns="method", values="cell").reindex(index=tasks, columns=methods)

    return TaskTable(pivot("value"), pivot("ci_low"), pivot("ci_high"))


def _cell_text(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.2f}"
    return f"{value:.2f}<br>[{low:.2f}, {high:.2f}]"


def task_method_heatmap(summary: pd.DataFrame, metric: str = "odds_ratio", *, title: str | None = None) -> go.Figure:
    """Heat-map of ``metric`` per task (rows, the mean over tasks last) and method (columns); each
    cell shows the value and its 95 % interval. Diverging colours around 0 for signed metrics."""
    table = task_table(summary, metric)
    z = table.value.to_numpy(dtype=float)  # [task, method]
    finite = z[np.isfinite(z)]
    diverging = signed_metric(metric) or bool(finite.size and finite.min() < 0)
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    zmin, zmax = ((-bound or -1.0, bound or 1.0) if diverging
                  else (float(finite.min()) if finite.size else 0.0, float(finite.max()) if finite.size else 1.0))
    low, high = table.ci_low.to_numpy(dtype=float), table.ci_high.to_numpy(dtype=float)
    text = [[_cell_text(z[i, j], low[i, j], high[i, j]) for j in range(z.shape[1])] for i in range(z.shape[0])]
    y = [ALL_LABEL if task == "all" else str(task) for task in table.value.index]
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(m) for m in table.value.columns], y=y, zmin=zmin, zmax=zmax, text=text,
        texttemplate="%{text}", colorscale="RdBu_r" if diverging else "Viridis",
        colorbar={"title": {"text": metric_label(metric)}},
        hovertemplate="%{y}<br>%{x}<br>" + metric + " %{text}<extra></extra>",
    ))
    fig.update_layout(title=title or f"{metric_label(metric)} per task and method (95 % CI)",
                      xaxis={"title": "method", "type": "category", "side": "top"},
                      yaxis={"title": "task", "type": "category", "autorange": "reversed"},
                      height=max(300, 60 + 45 * len(y)), template="plotly_white")
    return fig


def task_figures(summary: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[go.Figure]:
    """For each metric (default: those of :data:`TASK_METRICS` the summary has): the task × method
    heat-map, then bars per task with their intervals."""
    require(summary, ["task", "method", "metric", "value"], "task_figures")
    if metrics is None:
        metrics = [m for m in TASK_METRICS if m in set(summary.metric)]
    per_task = summary[summary.task.astype(str) != "all"]
    figures = []
    for metric in metrics:
        figures.append(task_method_heatmap(summary, metric))
        if not per_task.empty:
            figures.append(method_summary(per_task, metric, title=f"{metric_label(metric)} per task and method"))
    return figures


def write_task_figures(summary: pd.DataFrame, out_dir: str | Path, *,
                       metrics: Sequence[str] | None = None) -> list[Path]:
    """``out_dir/figures/tasks.html``: :func:`task_figures` of the summary; nothing when it holds fewer
    than two tasks (one task's comparison is ``method_summary.html``)."""
    require(summary, ["task"], "write_task_figures")
    if summary.task[summary.task.astype(str) != "all"].nunique() < 2:
        return []
    return write_html({"tasks": task_figures(summary, metrics)}, out_dir)


__all__ = ["ALL_LABEL", "TASK_METRICS", "TaskTable", "task_figures", "task_method_heatmap", "task_table",
           "write_task_figures"]
