"""Figures of SAE runs (plotly): training curves, per-layer FVU of layer-group SAEs beside per-layer
SAEs, and the evaluation per site. ``interp sae train|groups|eval`` write them to ``figures/``.

>>> import pandas as pd
>>> history = pd.DataFrame({"step": [10, 20, 10, 20], "sae": [0, 0, 1, 1], "loss": [2.0, 1.0, 3.0, 2.0],
...                         "fvu": [0.5, 0.3, 0.6, 0.4], "l0": [8.0, 8.0, 8.0, 8.0], "dead": [0.0, 0.1, 0.0, 0.0]})
>>> fig = training_curves(history, names={0: "resid_post.0", 1: "resid_post.1"})
>>> len(fig.data)                                  # 4 panels x 2 SAEs
8
>>> table = pd.DataFrame({"site": ["resid_post.0", "resid_post.1"], "group": [0, 0],
...                       "fvu_per_layer": [0.2, 0.3], "fvu_groups": [0.25, 0.31]})
>>> [trace.name for trace in group_fvu(table).data]
['one SAE per layer', 'one SAE per group']
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAINING_METRICS = (("loss", "loss"), ("fvu", "FVU"), ("l0", "L0 (features per token)"), ("dead", "dead fraction"))


def training_curves(history: pd.DataFrame, *, names: Mapping[int, str] | None = None,
                    title: str = "SAE training") -> go.Figure:
    """Loss, FVU, L0 and dead fraction against the step, one line per SAE (``history``: what
    :func:`interp.sae.train.train_saes` logs, columns step, sae, loss, fvu, l0, dead)."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=[label for _, label in TRAINING_METRICS])
    for i, (metric, _) in enumerate(TRAINING_METRICS):
        for sae, rows in history.groupby("sae", sort=True):
            name = (names or {}).get(int(sae), f"sae {sae}")
            fig.add_trace(go.Scatter(x=rows["step"], y=rows[metric], mode="lines", name=name, legendgroup=name,
                                     showlegend=i == 0), row=i // 2 + 1, col=i % 2 + 1)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title=title, height=600)
    return fig


def group_fvu(table: pd.DataFrame, *, title: str = "layer groups: FVU per layer") -> go.Figure:
    """Held-out FVU at each layer: its own SAE against its group's SAE (``table``: one row per site with
    ``fvu_per_layer`` and ``fvu_groups``, as :func:`interp.sae.group_report.compare_groups` gives)."""
    fig = go.Figure()
    text = [f"group {g}" for g in table["group"]] if "group" in table else None
    fig.add_trace(go.Scatter(x=table["site"], y=table["fvu_per_layer"], mode="lines+markers", name="one SAE per layer"))
    fig.add_trace(go.Scatter(x=table["site"], y=table["fvu_groups"], mode="lines+markers", name="one SAE per group",
                             text=text))
    fig.update_layout(title=title, xaxis_title="site", yaxis_title="FVU (held out)")
    return fig


def distance_heatmap(distances, sites: list[str], groups: list[list[str]] | None = None) -> go.Figure:
    """Angular distances between layers (units of pi), with the chosen groups in the title."""
    fig = go.Figure(go.Heatmap(z=distances.tolist(), x=sites, y=sites, colorscale="Viridis", zmin=0))
    shown = "" if groups is None else " · groups: " + " | ".join(f"{g[0]}..{g[-1]}" if len(g) > 1 else g[0]
                                                                  for g in groups)
    fig.update_layout(title=f"angular distance between layers{shown}", yaxis_autorange="reversed")
    return fig


def evaluation_bars(table: pd.DataFrame, *, title: str = "SAE evaluation") -> go.Figure:
    """FVU, L0 and (when present) loss recovered per SAE and site (``table``: :func:`interp.sae.evaluate.evaluate`)."""
    metrics = [m for m in ("fvu", "l0", "loss_recovered") if m in table]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    labels = [f"{row.sae}: {row.site}" for row in table.itertuples()]
    for i, metric in enumerate(metrics):
        fig.add_trace(go.Bar(x=labels, y=table[metric], name=metric, showlegend=False), row=1, col=i + 1)
    fig.update_layout(title=title, height=420)
    return fig


__all__ = ["distance_heatmap", "evaluation_bars", "group_fvu", "training_curves"]
