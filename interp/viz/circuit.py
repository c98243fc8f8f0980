"""Figures of a circuit: the graph (layers top to bottom, edge width = |score|) and the faithfulness curve.

Both take plain tables (``interp.circuits`` writes them as ``circuit.csv`` and ``faithfulness.csv``):

>>> import pandas as pd
>>> from interp.viz.circuit import circuit_graph, faithfulness_curve
>>> edges = pd.DataFrame({"upstream": ["input", "a0.h1"], "down_node": ["a0.h1", "logits"],
...                       "kind": ["v", "logits"], "score": [0.5, -0.2]})
>>> fig = circuit_graph(edges)
>>> len(fig.data)                      # one trace per edge, one for the nodes
3
>>> curve = pd.DataFrame({"kept": [0, 10, 40], "faithfulness": [0.0, 0.6, 1.0]})
>>> list(faithfulness_curve(curve).data[0].y)
[0.0, 0.6, 1.0]
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from interp.viz._table import require

KIND_COLOURS = {"q": "#1f77b4", "k": "#2ca02c", "v": "#9467bd", "mlp": "#ff7f0e", "logits": "#555555"}


def _position(node: str, n_layers: int, group: int = 1) -> tuple[float, float]:
    """x: head index (MLPs on the left; a key/value group ``a{L}.kv{G}`` centred over its ``group`` query
    heads, a little above them), y: minus the layer (input on top, logits at the bottom)."""
    if node == "input":
        return 0.0, 1.0
    if node == "logits":
        return 0.0, -float(n_layers)
    match = re.fullmatch(r"a(\d+)\.(h|kv)(\d+)|m(\d+)", node)
    if match is None:
        return 0.0, 0.0
    if match.group(4) is not None:
        return -1.5, -int(match.group(4)) - 0.5
    layer, index = int(match.group(1)), int(match.group(3))
    if match.group(2) == "kv":
        return index * group + (group - 1) / 2, -layer + 0.3
    return float(index), -float(layer)


def _group_links(nodes: list[str], group: int, n_layers: int) -> go.Scatter | None:
    """Thin grey lines from each key/value group node to the query heads of its group in the figure."""
    xs, ys = [], []
    present = set(nodes)
    for node in nodes:
        match = re.fullmatch(r"a(\d+)\.kv(\d+)", node)
        if match is None:
            continue
        layer, kv = int(match.group(1)), int(match.group(2))
        x0, y0 = _position(node, n_layers, group)
        for head in range(kv * group, (kv + 1) * group):
            if f"a{layer}.h{head}" in present:
                x1, y1 = _position(f"a{layer}.h{head}", n_layers, group)
                xs += [x0, x1, None]
                ys += [y0, y1, None]
    if not xs:
        return None
    return go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                      line={"width": 0.8, "color": "#bbbbbb", "dash": "dot"})


def circuit_graph(edges: pd.DataFrame, title: str = "Circuit", group: int = 1) -> go.Figure:
    """``edges``: columns ``upstream``, ``down_node`` (the node whose input the edge enters), ``kind``
    (q, k, v, mlp, logits) and ``score``; edge width is ``|score|`` relative to the largest, colour the kind.
    ``group``: query heads per key/value head (grouped-query attention): a key/value edge enters its group's
    node ``a{L}.kv{G}``, drawn over the group's heads and linked to those in the figure by grey dotted lines."""
    require(edges, ["upstream", "down_node", "kind", "score"], "circuit_graph")
    layers = [int(m) for n in pd.concat([edges.upstream, edges.down_node])
              for m in re.findall(r"^[am](\d+)", n)]
    n_layers = max(layers, default=0) + 1
    top = float(edges.score.abs().max()) or 1.0
    fig = go.Figure()
    for row in edges.itertuples():
        (x0, y0), (x1, y1) = _position(row.upstream, n_layers, group), _position(row.down_node, n_layers, group)
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", showlegend=False, hoverinfo="text",
                                 text=f"{row.upstream} → {row.down_node} <{row.kind}>: {row.score:+.4g}",
                                 line={"width": 0.5 + 6 * abs(row.score) / top,
                                       "color": KIND_COLOURS.get(row.kind, "#888888"),
                                       "dash": "solid" if row.score >= 0 else "dot"}))
    nodes = sorted(set(edges.upstream) | set(edges.down_node))
    links = _group_links(nodes, group, n_layers)
    if links is not None:
        fig.add_trace(links)
    xy = [_position(n, n_layers, group) for n in nodes]
    fig.add_trace(go.Scatter(x=[p[0] for p in xy], y=[p[1] for p in xy], mode="markers+text", text=nodes,
                             textposition="top center", marker={"size": 10, "color": "#222222"}, showlegend=False))
    fig.update_layout(title=f"{title} ({len(edges)} edges; solid: positive score, dotted: negative)",
                      xaxis={"title": "head (MLPs on the left)", "zeroline": False},
                      yaxis={"title": "layer (top to bottom)", "showticklabels": False}, template="plotly_white",
                      height=max(400, 60 * n_layers))
    return fig


def faithfulness_curve(curve: pd.DataFrame, title: str = "Faithfulness over circuit size") -> go.Figure:
    """``curve``: columns ``kept`` (edges in the pruned circuit) and ``faithfulness``."""
    require(curve, ["kept", "faithfulness"], "faithfulness_curve")
    fig = go.Figure(go.Scatter(x=curve.kept.tolist(), y=curve.faithfulness.tolist(), mode="lines+markers"))
    fig.update_layout(title=title, xaxis={"title": "edges in the circuit"},
                      yaxis={"title": "faithfulness (full model 1, empty circuit 0)"}, template="plotly_white")
    return fig
