"""SyntaxGym accuracy per suite and prediction, with 95 % Wilson intervals over items.

>>> import pandas as pd
>>> from interp.viz import syntaxgym_accuracy
>>> summary = pd.DataFrame({"model": "gpt2", "suite": "number_pp", "prediction": ["1", "all"],
...                         "formula": ["(...)", "all predictions"], "metric": "accuracy",
...                         "value": [0.9, 0.8], "n": [20, 20]})
>>> fig = syntaxgym_accuracy(summary)      # e.g. syntaxgym_accuracy(interp.eval.syntaxgym(hm, s).summary)
>>> [trace.name for trace in fig.data]
['prediction 1', 'all predictions']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.stats import wilson_interval
from interp.viz._table import require

_COLORS = ("#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")


def syntaxgym_accuracy(summary: pd.DataFrame, *, predictions: bool = True) -> go.Figure:
    """Bars per suite: accuracy of each prediction and of all together (``prediction == "all"``).

    ``summary`` is :attr:`interp.eval.SyntaxGymResult.summary` (or its ``summary.csv``).
    ``predictions=False`` shows only the all-predictions accuracy. Error bars are 95 % Wilson
    intervals when the table has ``n``; the dotted line marks chance (0.5) for one prediction.
    Several models get one bar each per suite.
    """
    require(summary, ["suite", "prediction", "value"], "syntaxgym_accuracy")
    rows = summary.copy()
    if "metric" in rows.columns:
        rows = rows[rows.metric == "accuracy"]
    rows["prediction"] = rows.prediction.astype(str)
    if not predictions:
        rows = rows[rows.prediction == "all"]
    models = list(pd.unique(rows.model)) if "model" in rows.columns else [None]
    indices = sorted((p for p in pd.unique(rows.prediction) if p != "all"),
                     key=lambda p: (0, int(p)) if p.isdigit() else (1, p))
    fig = go.Figure()
    for model in models:
        of_model = rows if model is None else rows[rows.model == model]
        for k, prediction in enumerate([*indices, "all"]):
            bar = of_model[of_model.prediction == prediction]
            if bar.empty:
                continue
            label = "all predictions" if prediction == "all" else f"prediction {prediction}"
            if len(models) > 1:
                label = f"{model}: {label}"
            error = None
            if "n" in bar.columns:
                low, high = wilson_interval(bar.value.to_numpy(float), bar.n.to_numpy(float))
                value = bar.value.to_numpy(float)
                error = {"type": "data", "symmetric": False, "array": (high - value).tolist(),
                         "arrayminus": (value - low).tolist()}
            formula = bar.formula.astype(str).tolist() if "formula" in bar.columns else [""] * len(bar)
            fig.add_trace(go.Bar(
                x=bar.suite.astype(str).tolist(), y=bar.value.tolist(), name=label, error_y=error,
                marker_color="#e6550d" if prediction == "all" else _COLORS[k % len(_COLORS)],
                customdata=np.column_stack([formula, bar.n if "n" in bar.columns else [""] * len(bar)]),
                hovertemplate="%{x}<br>" + label + ": %{y:.3f} over %{customdata[1]} items"
                              "<br>%{customdata[0]}<extra></extra>",
            ))
    fig.add_hline(y=0.5, line={"color": "#999", "width": 1, "dash": "dot"})
    fig.update_layout(title="SyntaxGym accuracy per suite", barmode="group",
                      yaxis={"title": "accuracy", "range": [0, 1.05]}, xaxis={"title": "suite"},
                      template="plotly_white")
    return fig
