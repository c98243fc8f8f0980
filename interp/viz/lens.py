"""The logit lens as a heat-map: layers × positions, each cell the top next token.

>>> import pandas as pd
>>> table = pd.DataFrame({"layer": [0, 0, 1, 1], "position": [0, 1, 0, 1], "token": ["The", " key"] * 2,
...                       "top_token": ["a", "b", "c", "d"], "top_probability": [0.1, 0.2, 0.3, 0.4]})
>>> lens_heatmap(table).data[0].z.tolist()
[[0.1, 0.2], [0.3, 0.4]]
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def lens_heatmap(table: pd.DataFrame, title: str = "logit lens") -> go.Figure:
    """Colour: the target's probability when the table has one, else the top token's; text: the top token."""
    value = "target_probability" if "target_probability" in table else "top_probability"
    z = table.pivot(index="layer", columns="position", values=value).sort_index()
    text = table.pivot(index="layer", columns="position", values="top_token").loc[z.index, z.columns]
    tokens = table.drop_duplicates("position").set_index("position")["token"].reindex(z.columns)
    labels = [f"{position}: {token!r}" for position, token in tokens.items()]
    figure = go.Figure(go.Heatmap(z=z.to_numpy(), x=labels, y=[str(layer) for layer in z.index],
                                  text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                                  colorbar={"title": value.replace("_", " ")}))
    figure.update_layout(title=title, xaxis_title="position (token read)", yaxis_title="layer (resid_post)")
    return figure


__all__ = ["lens_heatmap"]
