"""interp.viz: figure data equals the table's numbers; offline HTML written atomically; clear errors."""

from __future__ import annotations

import doctest
import importlib
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from interp.errors import InputError
from interp.viz import (
    layer_curves,
    layer_position_heatmap,
    method_summary,
    syntaxgym_accuracy,
    wilson_interval,
    write_figures,
    write_html,
)

METHODS = ["das", "probe", "random"]
SPANS = {"agr": ["{subject}", "{verb}", "last"], "gender": ["{name}", " walked", "{place}", "last"]}
LAYERS = [0, 2, 4]


def tidy_table(seed: int = 0, copies: int = 1) -> pd.DataFrame:
    """Rows shaped like interp.eval.causal_efficacy's results (extra ``site`` column, ``control`` flag);
    ``copies`` > 1 repeats every unit with other values (as several seeds or suites would)."""
    rng = np.random.default_rng(seed)
    rows = []
    for copy in range(copies):
        for task, spans in SPANS.items():
            for method in METHODS:
                for layer in LAYERS:
                    for position in spans:
                        for control in (False, True):
                            common = {"model": "tiny", "suite": f"s{copy}", "task": task, "method": method,
                                      "layer": layer, "site": f"resid_post.{layer}", "position": position,
                                      "control": control, "n": 20}
                            odds, iia = rng.normal(), rng.uniform()
                            rows += [{**common, "metric": "odds_ratio", "value": odds},
                                     {**common, "metric": "iia", "value": iia},
                                     {**common, "metric": "behaviour", "value": 0.9}]
                            if not control:
                                rows.append({**common, "metric": "selectivity", "value": rng.normal()})
    return pd.DataFrame(rows)


def task_rows(table, metric="odds_ratio", control=False):
    return table[(table.metric == metric) & (table.control == control)]


@pytest.mark.parametrize("copies", [1, 2])
def test_heatmap_z_equals_pivoted_means(copies):
    table = tidy_table(copies=copies)
    fig = layer_position_heatmap(table, "probe", "gender")
    assert isinstance(fig, go.Figure)
    rows = task_rows(table)
    expected = rows[(rows.method == "probe") & (rows.task == "gender")].pivot_table(
        index="layer", columns="position", values="value", aggfunc="mean")
    heat = fig.data[0]
    assert list(heat.x) == SPANS["gender"]                 # span order, not alphabetical
    assert list(heat.y) == [str(layer) for layer in LAYERS]
    np.testing.assert_allclose(np.asarray(heat.z, float), expected.loc[LAYERS, SPANS["gender"]].to_numpy())
    assert heat.zmin == -heat.zmax                           # odds-ratios: diverging around 0


def test_heatmap_control_metric_uses_control_rows():
    table = tidy_table()
    fig = layer_position_heatmap(table, "das", "agr", metric="control_odds_ratio")
    rows = task_rows(table, control=True)
    expected = rows[(rows.method == "das") & (rows.task == "agr")].pivot_table(
        index="layer", columns="position", values="value")
    np.testing.assert_allclose(np.asarray(fig.data[0].z, float), expected.loc[LAYERS, SPANS["agr"]].to_numpy())


def test_heatmap_numeric_positions_sorted_and_no_extra_columns_needed():
    table = pd.DataFrame({"method": "mean", "layer": [1, 1, 0, 0], "position": [10, 2, 10, 2],
                          "metric": "iia", "value": [0.4, 0.3, 0.2, 0.1]})
    heat = layer_position_heatmap(table, "mean", metric="iia").data[0]
    assert list(heat.x) == ["2", "10"] and list(heat.y) == ["0", "1"]
    assert np.asarray(heat.z).tolist() == [[0.1, 0.2], [0.3, 0.4]]


@pytest.mark.parametrize("task", [None, "agr"])
def test_layer_curves_are_max_over_positions_of_means(task):
    table = tidy_table(copies=2)
    fig = layer_curves(table, task=task)
    rows = task_rows(table)
    if task is not None:
        rows = rows[rows.task == task]
    expected = (rows.groupby(["method", "task", "layer", "position"]).value.mean()
                .groupby(["method", "task", "layer"]).max()
                .groupby(["method", "layer"]).mean())
    assert [trace.name for trace in fig.data] == METHODS
    for trace in fig.data:
        assert list(trace.x) == LAYERS
        np.testing.assert_allclose(trace.y, expected.loc[trace.name].loc[LAYERS].to_numpy())


def test_layer_curves_separate_models():
    table = pd.concat([tidy_table(0).assign(model="a"), tidy_table(1).assign(model="b")])
    fig = layer_curves(table, metric="iia")
    assert len(fig.data) == 2 * len(METHODS)
    assert {trace.name for trace in fig.data} == {f"{m} ({model})" for m in METHODS for model in "ab"}
    one = layer_curves(table, metric="iia", model="b")
    np.testing.assert_allclose(one.data[0].y, layer_curves(tidy_table(1), metric="iia").data[0].y)


def test_method_summary_from_tidy_table_is_the_published_aggregation():
    table = tidy_table()
    fig = method_summary(table, metric="selectivity")
    rows = table[table.metric == "selectivity"]
    expected = (rows.groupby(["method", "task", "layer", "position"]).value.mean()
                .groupby(["method", "task", "layer"]).max()
                .groupby(["method", "task"]).mean()
                .groupby("method").mean())
    assert [trace.name for trace in fig.data] == METHODS
    for trace in fig.data:
        assert list(trace.x) == [trace.name]
        assert trace.y[0] == pytest.approx(expected[trace.name])
        assert trace.error_y.array is None                   # no intervals without the examples


def summary_table() -> pd.DataFrame:
    """Shaped like interp.eval.aggregate.summarize: per task and ``task == "all"``, with intervals."""
    rows = []
    for i, method in enumerate(["random", "das", "vanilla"]):
        for task in ["all", "agr", "gender"]:
            for metric in ["odds_ratio", "selectivity"]:
                value = float(i + len(task) / 10)
                rows.append({"model": "tiny", "suite": "s", "task": task, "method": method, "metric": metric,
                             "value": value, "ci_low": value - 0.25, "ci_high": value + 0.5, "n_tasks": 2,
                             "n_layers": 3, "n": 40})
    return pd.DataFrame(rows)


def test_method_summary_error_bars_from_ci_columns():
    fig = method_summary(summary_table())
    assert [trace.name for trace in fig.data] == ["das", "random", "vanilla"]   # canonical method order
    for trace in fig.data:
        assert trace.y[0] == pytest.approx({"random": 0.3, "das": 1.3, "vanilla": 2.3}[trace.name])  # the "all" row
        assert trace.error_y.array[0] == pytest.approx(0.5)
        assert trace.error_y.arrayminus[0] == pytest.approx(0.25)


def test_method_summary_groups_per_task_when_no_aggregate_row():
    summary = summary_table()
    fig = method_summary(summary[summary.task != "all"], metric="selectivity")
    assert all(list(trace.x) == ["agr", "gender"] for trace in fig.data)
    assert fig.layout.barmode == "group"


def test_write_figures_offline_html_atomic(tmp_path):
    table = tidy_table()
    csv = tmp_path / "results.csv"
    table.to_csv(csv, index=False)                           # as `interp report DIR` would read it back
    paths = write_figures(pd.read_csv(csv), tmp_path, summary=summary_table())
    umask = os.umask(0)
    os.umask(umask)
    assert [p.name for p in paths] == ["heatmaps.html", "layer_curves.html", "method_summary.html"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted([p.name for p in paths]
                                                                            + ["plotly.min.js"])  # no temp files
    assert "plotly.js v" in (tmp_path / "figures" / "plotly.min.js").read_text(encoding="utf-8")  # shared, local
    for path in paths:
        assert path.parent == tmp_path / "figures"
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask   # not the temporary file's 0600
        text = path.read_text(encoding="utf-8")
        assert 'src="plotly.min.js"' in text and 'class="plotly-graph-div"' in text   # the folder's library
        assert 'src="https://cdn.plot.ly' not in text and "plotly.js v" not in text
    heatmaps = paths[0].read_text(encoding="utf-8")
    assert heatmaps.count('class="plotly-graph-div"') == len(SPANS) * len(METHODS)
    curves = paths[1].read_text(encoding="utf-8")
    assert curves.count('class="plotly-graph-div"') == 3 * (1 + len(SPANS))  # odds_ratio, iia, selectivity


def test_write_html_any_figures(tmp_path):
    paths = write_html({"one": go.Figure(), "two": [go.Figure(), go.Figure()]}, tmp_path)
    assert [p.name for p in paths] == ["one.html", "two.html"]
    assert paths[1].read_text(encoding="utf-8").count('class="plotly-graph-div"') == 2
    again = write_html({"one": [go.Figure(), go.Figure()]}, tmp_path)   # overwrite in place, nothing left over
    assert again == paths[:1] and again[0].read_text(encoding="utf-8").count('class="plotly-graph-div"') == 2
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["one.html", "plotly.min.js", "two.html"]


def test_errors_name_the_problem():
    table = tidy_table()
    with pytest.raises(InputError, match="no column 'position'.*columns are"):
        layer_position_heatmap(table.drop(columns="position"), "das", "agr")
    with pytest.raises(InputError, match=r"unknown method 'dass' \(did you mean 'das'\?\).*das, probe, random"):
        layer_position_heatmap(table, "dass", "agr")
    with pytest.raises(InputError, match="unknown task 'agree'"):
        layer_curves(table, task="agree")
    with pytest.raises(InputError, match="several tasks .*pass task="):
        layer_position_heatmap(table, "das")
    with pytest.raises(InputError, match="no rows with metric 'odds'.*odds_ratio"):
        layer_curves(table, metric="odds")
    with pytest.raises(InputError, match="no column 'value'"):
        method_summary(pd.DataFrame({"method": ["das"]}))
    with pytest.raises(InputError, match="several rows for method"):
        method_summary(pd.DataFrame({"method": ["das", "das"], "value": [1.0, 2.0]}))
    with pytest.raises(InputError, match="DataFrame"):
        layer_curves([1, 2, 3])


def test_syntaxgym_accuracy_bars_and_wilson_intervals():
    summary = pd.DataFrame({"model": "tiny", "suite": ["a", "a", "a", "b", "b"],
                            "prediction": ["1", "2", "all", "1", "all"], "formula": "f", "metric": "accuracy",
                            "value": [0.9, 0.6, 0.5, 1.0, 1.0], "n": [20, 20, 20, 10, 10]})
    fig = syntaxgym_accuracy(summary)
    assert [trace.name for trace in fig.data] == ["prediction 1", "prediction 2", "all predictions"]
    everything = fig.data[-1]
    assert list(everything.x) == ["a", "b"] and list(everything.y) == [0.5, 1.0]
    low, high = wilson_interval(np.array([0.5, 1.0]), np.array([20, 10]))
    assert np.all(low <= [0.5, 1.0]) and np.all(high >= [0.5, 1.0]) and high[1] == pytest.approx(1.0)
    np.testing.assert_allclose(everything.error_y.arrayminus, [0.5, 1.0] - low)
    assert len(syntaxgym_accuracy(summary, predictions=False).data) == 1


@pytest.mark.parametrize("module", ["heatmap", "curves", "summary", "syntaxgym", "write"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"interp.viz.{module}"))
    assert result.failed == 0 and result.attempted > 0
