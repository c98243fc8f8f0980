"""Layer × position heat-map of one metric, for one method and task.

>>> import pandas as pd
>>> from interp.viz import layer_position_heatmap
>>> table = pd.DataFrame({"method": "das", "task": "agr", "layer": [0, 0, 1, 1],
...                       "position": [0, 1, 0, 1], "metric": "odds_ratio", "value": [0.1, 2.0, 0.3, 1.5]})
>>> fig = layer_position_heatmap(table, "das", "agr")
>>> fig.data[0].z.tolist()        # rows are layers, columns positions
[[0.1, 2.0], [0.3, 1.5]]

In Jupyter the returned ``plotly.graph_objects.Figure`` displays inline; ``fig.write_html(...)``
saves it. Rows that differ only in other columns (suites, seeds) are averaged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.viz._table import (
    metric_label,
    only_one,
    pick,
    position_order,
    require,
    select_metric,
    signed_metric,
    unit_means,
)


def heatmap_matrix(table: pd.DataFrame, method: str, task: str | None = None, metric: str = "odds_ratio",
                   model: str | None = None) -> pd.DataFrame:
    """The pivoted means the heat-map shows: index layers (ascending), columns positions."""
    what = "layer_position_heatmap"
    require(table, ["method", "layer", "position", "metric", "value"], what)
    rows = select_metric(table, metric, what)
    rows = pick(rows, "method", method, what)
    rows = only_one(rows, "task", task, what)
    rows = only_one(rows, "model", model, what)
    means = unit_means(rows, ["layer", "position"]).unstack("position")
    means = means.reindex(index=sorted(means.index), columns=position_order(rows.position))
    return means


def layer_position_heatmap(table: pd.DataFrame, method: str, task: str | None = None, metric: str = "odds_ratio",
                           *, model: str | None = None, zmin: float | None = None,
                           zmax: float | None = None, labels: Mapping[Any, str] | None = None) -> go.Figure:
    """Heat-map of ``metric`` (mean over examples) per layer (y) and aligned position (x).

    ``task`` may be left out when the table holds one task; ``model`` likewise. The colour
    scale is diverging around 0 for log odds-ratios and selectivity, sequential otherwise;
    ``zmin``/``zmax`` fix it (to compare methods side by side). ``labels`` names the positions
    (``{span: "subject"}``, keys as ints or strings, e.g. from ``meta.json``'s ``span_labels``): the
    x-axis shows the span's words instead of its index.

    >>> table = pd.DataFrame({"method": "das", "layer": 0, "position": [0, 1], "metric": "iia", "value": [0.5, 1.0]})
    >>> fig = layer_position_heatmap(table, "das", metric="iia", labels={"0": "The", 1: "keys"})
    >>> list(fig.data[0].x)
    ['The', 'keys']
    """
    matrix = heatmap_matrix(table, method, task, metric, model)
    z = matrix.to_numpy(dtype=float)
    finite = z[np.isfinite(z)]
    diverging = signed_metric(metric) or (finite.size and finite.min() < 0)
    if diverging and zmin is None and zmax is None:
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        zmin, zmax = -bound or -1.0, bound or 1.0
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    x = [labels.get(str(p), str(p)) for p in matrix.columns]
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=[str(layer) for layer in matrix.index], zmin=zmin, zmax=zmax,
        colorscale="RdBu_r" if diverging else "Viridis", colorbar={"title": {"text": metric_label(metric)}},
        hovertemplate="layer %{y}<br>span %{x}<br>" + metric + " %{z:.3f}<extra></extra>",
    ))
    title = f"{method} — {task}" if task is not None else str(method)
    fig.update_layout(title=f"{title}: {metric_label(metric)} by layer and position",
                      xaxis={"title": "span" if labels else "position", "type": "category"},
                      yaxis={"title": "layer", "type": "category"},
                      template="plotly_white")
    return fig
