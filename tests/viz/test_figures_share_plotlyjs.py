"""A folder of figures shares one plotly.js: the pages load ``figures/plotly.min.js`` by a relative path
(offline, no CDN), written once; ``html_page`` alone stays a standalone page. Sizes measured: the three
causal-efficacy pages of a 2-task x 2-method table took 14.65 MB with the library in every page, 4.95 MB
now (4.6 MB of it the library)."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from interp.viz import html_page, write_figures, write_html


def table() -> pd.DataFrame:
    return pd.DataFrame([{"task": t, "method": m, "layer": layer, "position": p, "metric": "odds_ratio",
                          "value": 0.1 * layer + p} for t in ("agr", "refl") for m in ("das", "mean")
                         for layer in range(2) for p in range(3)])


def test_pages_share_one_local_plotlyjs(tmp_path):
    pages = write_figures(table(), tmp_path)
    pages += write_html({"extra": go.Figure()}, tmp_path)             # a second writer reuses the file
    folder = tmp_path / "figures"
    library = folder / "plotly.min.js"
    assert library.read_text(encoding="utf-8") == get_plotlyjs()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert re.findall(r"<script[^>]*src=\"([^\"]+)\"", text) == ["plotly.min.js"]   # relative, nothing online
        assert "https://" not in text.split("<body>")[0]
    total = sum(p.stat().st_size for p in folder.iterdir())
    inline = sum(len(html_page([go.Figure()], "x").encode()) for _ in pages)   # what inline libraries cost
    assert total < library.stat().st_size + 1_000_000 < inline               # one library, not one per page
    stamp = library.stat().st_mtime_ns
    write_html({"again": go.Figure()}, tmp_path)
    assert library.stat().st_mtime_ns == stamp                                # written once


def test_html_page_alone_is_standalone():
    text = html_page(go.Figure(), "one")
    assert "plotly.js v" in text and "<script type=\"text/javascript\" src=" not in text
