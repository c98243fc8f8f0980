"""Plotly figures of evaluation tables; each function returns a ``plotly.graph_objects.Figure``
(shown inline in Jupyter) and :func:`write_figures` writes them as offline HTML.

>>> from interp.viz import layer_position_heatmap, layer_curves, method_summary, write_figures
>>> # fig = layer_position_heatmap(results, "das", "agr_sv_num_subj-relc")   # layer × position
>>> # fig = layer_curves(results)                       # per-layer curves per method
>>> # fig = method_summary(summary)                     # bars with 95 % CIs
>>> # fig = task_method_heatmap(summary)                # task × method, value [95 % CI] per cell
>>> # paths = write_figures(results, "out", summary=summary)   # out/figures/*.html
>>> # fig = syntaxgym_accuracy(interp.eval.syntaxgym(hm, "builtin:number_pp").summary)
"""

from interp.stats import wilson_interval
from interp.viz.curves import layer_curve_table, layer_curves
from interp.viz.heads import component_bars, head_grid, scaling_curves
from interp.viz.heatmap import heatmap_matrix, layer_position_heatmap
from interp.viz.steering import steering_curves
from interp.viz.summary import method_summary, summarise, summary_bars
from interp.viz.syntaxgym import syntaxgym_accuracy
from interp.viz.tasks import task_figures, task_method_heatmap, task_table, write_task_figures
from interp.viz.write import html_page, write_figures, write_html

__all__ = [
    "component_bars",
    "head_grid",
    "heatmap_matrix",
    "html_page",
    "layer_curve_table",
    "layer_curves",
    "layer_position_heatmap",
    "method_summary",
    "scaling_curves",
    "steering_curves",
    "summarise",
    "summary_bars",
    "syntaxgym_accuracy",
    "task_figures",
    "task_method_heatmap",
    "task_table",
    "wilson_interval",
    "write_figures",
    "write_html",
    "write_task_figures",
]
