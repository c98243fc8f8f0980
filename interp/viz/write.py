"""Write figures as HTML files that open offline: one ``plotly.min.js`` per folder, no CDN.

>>> import pandas as pd, tempfile
>>> from interp.viz import write_figures
>>> table = pd.DataFrame({"method": "das", "task": "agr", "layer": [0, 0, 1, 1],
...                       "position": [0, 1, 0, 1], "metric": "odds_ratio", "value": [0.1, 2.0, 0.3, 1.5]})
>>> with tempfile.TemporaryDirectory() as out:
...     print([p.name for p in write_figures(table, out)])     # out/figures/*.html
['heatmaps.html', 'layer_curves.html', 'method_summary.html']

The folder holds one copy of plotly.js, ``figures/plotly.min.js`` (about 4.6 MB, written once), and
each page loads it by a relative ``<script src="plotly.min.js">``: a folder of figures costs one
library, not one per file, and opens offline (copy the folder whole). :func:`html_page` alone still
makes a standalone page with the library inline. Every file appears whole or not at all (written to a
temporary file beside it, then renamed). For any other figures
(e.g. :func:`interp.viz.syntaxgym_accuracy`), :func:`write_html` does the same:

>>> from interp.viz import syntaxgym_accuracy
>>> # write_html({"syntaxgym_accuracy": syntaxgym_accuracy(result.summary)}, out_dir)
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from interp.io import atomic_write_text
from interp.viz._table import method_order, metric_label, require, select_metric, signed_metric
from interp.viz.curves import layer_curves
from interp.viz.heatmap import layer_position_heatmap
from interp.viz.summary import method_summary

#: Metrics drawn by :func:`write_figures` when present, in this order (the first also gets heat-maps).
DEFAULT_METRICS = ("odds_ratio", "iia", "selectivity", "selectivity_iia")


#: The plotly.js file the pages of a figures folder share (next to them).
PLOTLY_JS = "plotly.min.js"


def html_page(figures: go.Figure | Sequence[go.Figure], title: str = "interp", *, plotlyjs: str | None = None) -> str:
    """One HTML page with every figure below the other; plotly.js inline (standalone), or with ``plotlyjs``
    the relative path of a local copy (``"plotly.min.js"``: the file beside the page)."""
    figures = [figures] if isinstance(figures, go.Figure) else list(figures)
    divs = "\n".join(f.to_html(full_html=False, include_plotlyjs=False, default_width="100%",
                               config={"responsive": True}) for f in figures)
    library = (f"<script type=\"text/javascript\">{get_plotlyjs()}</script>" if plotlyjs is None else
               f"<script type=\"text/javascript\" src=\"{html.escape(plotlyjs)}\" charset=\"utf-8\"></script>")
    return (f"<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\" />\n<title>{html.escape(title)}</title>\n"
            f"<script type=\"text/javascript\">window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>\n"
            f"{library}\n</head>\n<body>\n{divs}\n</body>\n</html>\n")


def write_plotlyjs(folder: str | Path) -> Path:
    """``folder/plotly.min.js`` (the installed plotly's), written when missing or from another version."""
    path = Path(folder) / PLOTLY_JS
    library = get_plotlyjs()
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        current = None
    return path if current == library else atomic_write_text(path, library)


def write_html(figures: Mapping[str, go.Figure | Sequence[go.Figure]], out_dir: str | Path) -> list[Path]:
    """Write ``out_dir/figures/<name>.html`` for each entry, atomically, sharing ``figures/plotly.min.js``
    (written once); returns the pages' paths."""
    folder = Path(out_dir) / "figures"
    if figures:
        write_plotlyjs(folder)
    return [atomic_write_text(folder / f"{name}.html", html_page(figs, title=name, plotlyjs=PLOTLY_JS))
            for name, figs in figures.items()]


def _present(table: pd.DataFrame, metric: str) -> bool:
    if metric in set(table.metric):
        return True
    base = metric.removeprefix("control_")
    return base != metric and "control" in table.columns and base in set(table.metric)


def write_figures(table: pd.DataFrame, out_dir: str | Path, *, summary: pd.DataFrame | None = None,
                  metrics: Sequence[str] | None = None,
                  position_labels: Mapping[str, Mapping] | None = None) -> list[Path]:
    """All causal-efficacy figures of a tidy table, as ``out_dir/figures/*.html``; returns the paths.

    - ``heatmaps.html``: layer × position heat-map per task and method (first metric, shared colour scale),
    - ``layer_curves.html``: per-layer curves per method, over all tasks and per task, for each metric,
    - ``method_summary.html``: the method comparison for each metric, with the confidence intervals
      of ``summary`` (the evaluator's summary table) when given, else aggregated from ``table``.

    ``metrics`` defaults to those of :data:`DEFAULT_METRICS` that the table has; ``position_labels``
    (``{task: {span: words}}``, as ``meta.json``'s ``span_labels``) names the heat-maps' positions.
    """
    require(table, ["method", "layer", "position", "metric", "value"], "write_figures")
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if _present(table, m)] or [str(table.metric.iloc[0])]
    first = metrics[0]
    tasks = list(pd.unique(table.task)) if "task" in table.columns else [None]
    models = list(pd.unique(table.model)) if "model" in table.columns else [None]

    heatmaps, curves, bars = [], [], []
    values = select_metric(table, first, "write_figures").value
    bound = float(values.abs().max()) if values.notna().any() else 1.0
    signed = signed_metric(first) or bool((values < 0).any())
    zmin, zmax = (-bound, bound) if signed else (float(values.min()), float(values.max()))
    for model in models:
        for task in tasks:
            of_task = table if task is None else table[table.task == task]
            if model is not None:
                of_task = of_task[of_task.model == model]
            for method in method_order(of_task.method):
                try:
                    fig = layer_position_heatmap(of_task, method, task, first, model=model, zmin=zmin, zmax=zmax,
                                                 labels=(position_labels or {}).get(task))
                except ValueError:  # no rows of this metric for the method (e.g. behaviour-only rows)
                    continue
                if model is not None and len(models) > 1:
                    fig.update_layout(title=f"{model}: {fig.layout.title.text}")
                heatmaps.append(fig)
    for metric in metrics:
        curves.append(layer_curves(table, metric=metric))
        if len(tasks) > 1:
            curves += [layer_curves(table, task=task, metric=metric) for task in tasks]
        source = summary if summary is not None and _has_metric(summary, metric) else table
        bars.append(method_summary(source, metric, title=f"{metric_label(metric)} per method"))
    figures = {"heatmaps": heatmaps, "layer_curves": curves, "method_summary": bars}
    return write_html({name: figs for name, figs in figures.items() if figs}, out_dir)


def _has_metric(summary: pd.DataFrame, metric: str) -> bool:
    return "metric" not in summary.columns or _present(summary, metric)
