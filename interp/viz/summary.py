"""Method comparison: one bar per method, with 95 % confidence intervals when the table has them.

>>> import pandas as pd
>>> from interp.viz import method_summary
>>> summary = pd.DataFrame({"method": ["das", "random"], "metric": "odds_ratio", "value": [2.5, 0.02],
...                         "ci_low": [2.1, -0.1], "ci_high": [2.9, 0.15]})
>>> fig = method_summary(summary)
>>> [trace.name for trace in fig.data], fig.data[0].error_y.array[0]
(['das', 'random'], 0.3999999999999999)

Give it the evaluator's summary table (``method, value`` and optionally ``metric``, ``task``,
``model``, ``ci_low``, ``ci_high``) or the tidy per-unit table (with ``layer`` and
``position``), which it aggregates the published way: mean over examples, max over positions,
mean over layers, mean over tasks — without confidence intervals, which need the examples.
When a summary has rows for several tasks or models, bars are grouped by them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.errors import InputError
from interp.viz._table import (
    layer_scores,
    method_color,
    method_order,
    metric_label,
    require,
    select_metric,
    signed_metric,
)

#: Task labels an evaluator may use for its across-task aggregate row.
AGGREGATE_TASKS = ("all", "mean", "*", "overall")


def summarise(table: pd.DataFrame, metric: str = "odds_ratio") -> pd.DataFrame:
    """The published summary of a tidy per-unit table: columns ``[model,] method, value``."""
    what = "method_summary"
    require(table, ["method", "layer", "position", "metric", "value"], what)
    rows = select_metric(table, metric, what)
    models = ["model"] if "model" in rows.columns else []
    tasks = ["task"] if "task" in rows.columns else []
    per_layer = layer_scores(rows, [*models, "method", *tasks])
    per_task = per_layer.groupby([*models, "method", *tasks], sort=False, dropna=False)["value"].mean()
    return per_task.groupby([*models, "method"], sort=False, dropna=False).mean().reset_index()


def summary_bars(summary_table_or_table: pd.DataFrame, metric: str = "odds_ratio") -> pd.DataFrame:
    """The numbers the chart shows: ``group, method, value`` and ``ci_low, ci_high`` when known."""
    what = "method_summary"
    table = summary_table_or_table
    require(table, ["method", "value"], what)
    if {"layer", "position"} <= set(table.columns):
        bars = summarise(table, metric)
    else:
        bars = select_metric(table, metric, what) if "metric" in table.columns else table.copy()
        if "task" in bars.columns and bars.task.nunique() > 1:
            aggregate = bars[bars.task.astype(str).str.lower().isin(AGGREGATE_TASKS) | bars.task.isna()]
            if not aggregate.empty and aggregate.method.nunique() == bars.method.nunique():
                bars = aggregate.drop(columns="task")
    keys = [c for c in ("model", "suite", "task") if c in bars.columns and bars[c].nunique(dropna=False) > 1]
    bars = bars.copy()
    bars["group"] = bars[keys].astype(str).agg(" · ".join, axis=1) if keys else ""
    duplicated = bars.duplicated(["group", "method"], keep=False)
    if duplicated.any():
        example = bars[duplicated].iloc[0]
        raise InputError(f"{what}: several rows for method {example.method!r}"
                         f"{' in ' + example.group if example.group else ''}; filter the table first "
                         f"(e.g. by {', '.join(c for c in bars.columns if c not in ('method', 'value'))})")
    columns = ["group", "method", "value"] + [c for c in ("ci_low", "ci_high", "n") if c in bars.columns]
    return bars[columns].reset_index(drop=True)


def method_summary(summary_table_or_table: pd.DataFrame, metric: str = "odds_ratio", *,
                   title: str | None = None) -> go.Figure:
    """Bar chart of ``metric`` per method, 95 % CI error bars from ``ci_low``/``ci_high`` if present."""
    bars = summary_bars(summary_table_or_table, metric)
    groups = list(pd.unique(bars.group))
    grouped = groups != [""]
    fig = go.Figure()
    for method in method_order(bars.method):
        rows = bars[bars.method == method]
        error = None
        if {"ci_low", "ci_high"} <= set(rows.columns):
            value = rows.value.to_numpy(float)
            error = {"type": "data", "symmetric": False, "visible": True,
                     "array": np.clip(rows.ci_high.to_numpy(float) - value, 0, None).tolist(),
                     "arrayminus": np.clip(value - rows.ci_low.to_numpy(float), 0, None).tolist()}
        fig.add_trace(go.Bar(
            x=rows.group.tolist() if grouped else [str(method)], y=rows.value.tolist(), name=str(method),
            marker_color=method_color(method), error_y=error, showlegend=grouped,
            hovertemplate=f"{method}<br>{metric} %{{y:.3f}}<extra></extra>",
        ))
    fig.update_layout(title=title or f"{metric_label(metric)} per method", barmode="group",
                      yaxis={"title": metric_label(metric)}, xaxis={"title": "" if grouped else "method"},
                      template="plotly_white")
    if signed_metric(metric):
        fig.add_hline(y=0, line={"color": "#999", "width": 1})
    return fig
