"""Figures of attention heads: a layer × head attribution grid and head-scaling curves.

>>> import pandas as pd
>>> from interp.viz.heads import head_grid, scaling_curves
>>> grid = pd.DataFrame([[0.1, -0.4], [1.2, 0.0]], index=pd.Index([0, 1], name="layer"),
...                     columns=pd.Index([0, 1], name="head"))
>>> head_grid(grid).data[0].z.tolist()         # rows are layers, columns heads
[[0.1, -0.4], [1.2, 0.0]]
>>> summary = pd.DataFrame({"heads": "L1.H0", "factor": [-1.0, -1.0, 1.0, 1.0],
...                         "metric": ["in_context", "memorised"] * 2, "value": [0.6, 0.3, 0.1, 0.8]})
>>> [trace.name for trace in scaling_curves(summary).data]
['L1.H0 in-context', 'L1.H0 memorised']

``head_grid`` also takes a :class:`interp.eval.head_attribution.HeadAttribution` (its mean grid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.viz._table import require
from interp.viz.write import write_html

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def head_grid(attribution, title: str = "Direct logit attribution per head",
              colorbar: str = "logit(memorised) − logit(in-context)") -> go.Figure:
    """Diverging heat-map of the mean contribution of each head (y: layer, x: head)."""
    grid = attribution.grid() if hasattr(attribution, "grid") else attribution
    z = grid.to_numpy(dtype=float)
    finite = z[np.isfinite(z)]
    bound = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(h) for h in grid.columns], y=[str(layer) for layer in grid.index], zmin=-bound, zmax=bound,
        colorscale="RdBu_r", colorbar={"title": {"text": colorbar}},
        hovertemplate="layer %{y}, head %{x}<br>%{z:.3f}<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis={"title": "head", "type": "category"},
                      yaxis={"title": "layer", "type": "category"}, template="plotly_white",
                      height=max(400, 18 * len(grid.index) + 150))
    return fig


def component_bars(table: pd.DataFrame, title: str = "Direct contribution per component") -> go.Figure:
    """Bars of the non-head components (embed, each MLP, biases) and each layer's heads summed."""
    require(table, ["component", "layer", "value"], "component_bars")
    labelled = table.assign(label=[c if pd.isna(layer) else f"{c} {int(layer)}"
                                   for c, layer in zip(table.component, table.layer)])
    heads = labelled.component == "head"
    summed = labelled[heads].groupby("layer", sort=True).value.sum()
    bars = pd.concat([labelled[~heads].set_index("label").value,
                      pd.Series(summed.to_numpy(), index=[f"heads {int(layer)}" for layer in summed.index])])
    fig = go.Figure(go.Bar(x=list(bars.index), y=bars.to_numpy(), marker_color="#4292c6"))
    fig.update_layout(title=title, yaxis={"title": "contribution (logits)"}, template="plotly_white")
    return fig


def scaling_curves(summary: pd.DataFrame, title: str = "Answers under head scaling (held-out facts)") -> go.Figure:
    """Rate of in-context (solid) and memorised (dashed) answers against the scaling factor, per head."""
    require(summary, ["heads", "factor", "metric", "value"], "scaling_curves")
    fig = go.Figure()
    for index, (heads, rows) in enumerate(summary.groupby("heads", sort=False)):
        colour = _PALETTE[index % len(_PALETTE)]
        for metric, dash, label in (("in_context", "solid", "in-context"), ("memorised", "dash", "memorised")):
            curve = rows[rows.metric == metric].sort_values("factor")
            if curve.empty:
                continue
            error = None
            if {"ci_low", "ci_high"} <= set(curve.columns):
                error = {"type": "data", "symmetric": False, "array": (curve.ci_high - curve.value).to_numpy(),
                         "arrayminus": (curve.value - curve.ci_low).to_numpy(), "thickness": 1}
            fig.add_trace(go.Scatter(x=curve.factor, y=curve.value, mode="lines+markers", name=f"{heads} {label}",
                                     line={"color": colour, "dash": dash}, error_y=error))
    fig.update_layout(title=title, xaxis={"title": "scaling factor of the head's value vectors"},
                      yaxis={"title": "share of prompts", "range": [0, 1]}, template="plotly_white")
    return fig


def recall_figures(attribution, summary: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """``figures/head_attribution.html`` (grid and components) and ``figures/head_scaling.html``."""

    return write_html({"head_attribution": [head_grid(attribution), component_bars(attribution.table())],
                       "head_scaling": [scaling_curves(summary)]}, out_dir)
