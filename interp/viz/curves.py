"""Per-layer curves per method: the best position's score at each layer.

>>> import pandas as pd
>>> from interp.viz import layer_curves
>>> table = pd.DataFrame({"method": "das", "task": "agr", "layer": [0, 0, 1, 1],
...                       "position": [0, 1, 0, 1], "metric": "odds_ratio", "value": [0.1, 2.0, 0.3, 1.5]})
>>> fig = layer_curves(table)
>>> list(fig.data[0].x), list(fig.data[0].y)     # max over positions at each layer
([0, 1], [2.0, 1.5])

Following the published aggregation: mean over examples (the table's values), then the maximum
over positions at each layer, then (``task=None``) the mean over tasks. With several models in
the table, each model gets its own curves (dashes differ); ``model=`` picks one.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from interp.viz._table import (
    layer_scores,
    method_color,
    method_order,
    metric_label,
    only_one,
    pick,
    require,
    select_metric,
    signed_metric,
)

_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def layer_curve_table(table: pd.DataFrame, task: str | None = None, metric: str = "odds_ratio",
                      model: str | None = None, methods: list[str] | None = None) -> pd.DataFrame:
    """The numbers the curves show: columns ``[model,] method, layer, value`` (layers ascending)."""
    what = "layer_curves"
    require(table, ["method", "layer", "position", "metric", "value"], what)
    rows = select_metric(table, metric, what)
    if task is not None:
        rows = only_one(rows, "task", task, what)
    if model is not None:
        rows = only_one(rows, "model", model, what)
    if methods is not None:
        rows = pd.concat([pick(rows, "method", m, what) for m in methods])
    models = ["model"] if "model" in rows.columns else []
    tasks = ["task"] if "task" in rows.columns else []
    per_task = layer_scores(rows, [*models, "method", *tasks])
    curves = per_task.groupby([*models, "method", "layer"], sort=False, dropna=False)["value"].mean().reset_index()
    return curves.sort_values([*models, "layer"], kind="stable").reset_index(drop=True)


def layer_curves(table: pd.DataFrame, task: str | None = None, metric: str = "odds_ratio", *,
                 model: str | None = None, methods: list[str] | None = None) -> go.Figure:
    """One line per method: ``metric`` at each layer (max over positions; mean over tasks if ``task`` is None).

    ``methods`` restricts and orders the methods shown (an unknown one is an error).
    """
    curves = layer_curve_table(table, task, metric, model, methods)
    models = list(pd.unique(curves.model)) if "model" in curves.columns else [None]
    order = methods if methods is not None else method_order(curves.method)
    fig = go.Figure()
    for index, name in enumerate(models):
        of_model = curves if name is None else curves[curves.model == name]
        for method in order:
            line = of_model[of_model.method.astype(str) == str(method)]
            if line.empty:
                continue
            label = str(method) if len(models) == 1 else f"{method} ({name})"
            fig.add_trace(go.Scatter(
                x=line.layer.tolist(), y=line.value.tolist(), name=label, mode="lines+markers",
                legendgroup=str(method),
                line={"color": method_color(method), "dash": _DASHES[index % len(_DASHES)]},
                hovertemplate=f"{label}<br>layer %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>",
            ))
    scope = f"task {task}" if task is not None else "mean over tasks"
    fig.update_layout(title=f"{metric_label(metric)} per layer (best position; {scope})",
                      xaxis={"title": "layer"}, yaxis={"title": metric_label(metric)},
                      template="plotly_white", legend={"title": {"text": "method"}})
    if signed_metric(metric):
        fig.add_hline(y=0, line={"color": "#999", "width": 1})
    return fig
