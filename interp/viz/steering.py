"""Steering curves: behaviour and fluency per steering coefficient, one line per layer.

>>> import pandas as pd
>>> from interp.viz.steering import steering_curves
>>> summary = pd.DataFrame({"layer": 6, "coefficient": [-1.0, 0.0, 1.0] * 2,
...                         "metric": ["target"] * 3 + ["perplexity"] * 3,
...                         "value": [0.1, 0.3, 0.8, 4.0, 3.0, 6.0], "ci_low": 0.0, "ci_high": 1.0, "n": 32})
>>> fig = steering_curves(summary)      # e.g. steering_curves(interp.eval.steering_sweep(hm).summary)
>>> [trace.name for trace in fig.data]
['target words, layer 6', 'perplexity, layer 6']

The left panel shows the behaviour rates (``target``, ``opposite``; or ``behaviour`` when a callable
scored the texts), the right panel the fluency cost (perplexity of the continuation under the
unsteered model, log scale). Error bars are the summary's 95 % intervals.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.viz._table import require

LABELS = {"target": "target words", "opposite": "opposite words", "behaviour": "behaviour",
          "perplexity": "perplexity", "distinct_2": "distinct bigrams"}
_DASH = {"target": "solid", "opposite": "dash", "behaviour": "solid", "perplexity": "solid", "distinct_2": "dot"}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")


def steering_curves(summary: pd.DataFrame, *, title: str = "Steering: behaviour and fluency per coefficient"
                    ) -> go.Figure:
    """Two panels over the coefficient: behaviour rates (left) and perplexity (right), a colour per layer."""
    require(summary, ["layer", "coefficient", "metric", "value"], "steering_curves")
    metrics = set(summary.metric)
    behaviour = [m for m in ("target", "opposite") if m in metrics] or [m for m in ("behaviour",) if m in metrics]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("behaviour", "fluency cost (unsteered model)"))
    for index, layer in enumerate(sorted(pd.unique(summary.layer))):
        color = _PALETTE[index % len(_PALETTE)]
        for metric, column in [*[(m, 1) for m in behaviour], ("perplexity", 2)]:
            rows = summary[(summary.layer == layer) & (summary.metric == metric)].sort_values("coefficient")
            if rows.empty:
                continue
            error = None
            if {"ci_low", "ci_high"} <= set(rows.columns):
                error = {"type": "data", "symmetric": False, "array": (rows.ci_high - rows.value).tolist(),
                         "arrayminus": (rows.value - rows.ci_low).tolist(), "thickness": 1}
            name = f"{LABELS.get(metric, metric)}, layer {layer}"
            fig.add_trace(go.Scatter(
                x=rows.coefficient.tolist(), y=rows.value.tolist(), error_y=error, name=name, mode="lines+markers",
                line={"color": color, "dash": _DASH.get(metric, "solid")}, legendgroup=str(layer),
                hovertemplate=f"{name}<br>coefficient %{{x}}<br>%{{y:.3f}}<extra></extra>",
            ), row=1, col=column)
    fig.update_xaxes(title_text="coefficient (units of the mean residual norm)")
    fig.update_yaxes(title_text="share of continuations", row=1, col=1)
    fig.update_yaxes(title_text="perplexity", type="log", row=1, col=2)
    fig.update_layout(title=title, template="plotly_white", height=450)
    return fig
