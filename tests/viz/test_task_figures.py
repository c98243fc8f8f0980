"""interp.viz.tasks: the per-task figure (task × method) shows the summary's per-task values and
intervals, the mean over tasks last; tasks.html is written only for two or more tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interp.errors import InputError
from interp.viz import task_figures, task_method_heatmap, task_table, write_task_figures
from interp.viz.tasks import ALL_LABEL

TASKS = ["npi", "agr", "gender"]      # not alphabetical: the figure keeps the summary's order
METHODS = ["random", "das", "vanilla"]   # not canonical: the figure puts das first


def summary_table(tasks=TASKS) -> pd.DataFrame:
    """Shaped like interp.eval.aggregate.summarize: ``all`` first, then each task, with intervals."""
    rows = []
    for i, method in enumerate(METHODS):
        for j, task in enumerate(["all", *tasks]):
            for metric in ["odds_ratio", "iia", "selectivity", "behaviour"]:
                value = float(i - j / 10)
                rows.append({"model": "tiny", "suite": "s", "task": task, "method": method, "metric": metric,
                             "value": value, "ci_low": value - 0.25, "ci_high": value + 0.5,
                             "n_tasks": len(tasks) if task == "all" else 1, "n_layers": 2, "n": 40})
    return pd.DataFrame(rows)


def test_heatmap_cells_are_the_summary_values_with_their_intervals():
    summary = summary_table()
    heat = task_method_heatmap(summary, "iia").data[0]
    assert list(heat.y) == [*TASKS, ALL_LABEL]
    assert list(heat.x) == ["das", "random", "vanilla"]
    rows = summary[summary.metric == "iia"].set_index(["task", "method"])
    for i, task in enumerate([*TASKS, "all"]):
        for j, method in enumerate(heat.x):
            row = rows.loc[(task, method)]
            assert heat.z[i][j] == pytest.approx(row.value)
            assert heat.text[i][j] == f"{row.value:.2f}<br>[{row.ci_low:.2f}, {row.ci_high:.2f}]"
    assert heat.zmin >= 0 or heat.zmin == -heat.zmax


def test_odds_ratio_is_diverging_around_zero():
    heat = task_method_heatmap(summary_table()).data[0]
    assert heat.zmin == -heat.zmax and heat.colorscale[0][1] != heat.colorscale[-1][1]


def test_table_without_intervals_or_aggregate_row():
    summary = summary_table().drop(columns=["ci_low", "ci_high"])
    table = task_table(summary[summary.task != "all"], "selectivity")
    assert list(table.value.index) == TASKS and table.ci_low.isna().all().all()
    heat = task_method_heatmap(summary[summary.task != "all"], "selectivity").data[0]
    assert heat.text[0][0] == f"{heat.z[0][0]:.2f}"


def test_figures_per_metric_heatmap_then_bars_per_task():
    figures = task_figures(summary_table())
    assert len(figures) == 2 * 3           # odds_ratio, iia, selectivity (behaviour is the same for every method)
    bars = figures[1]
    assert [trace.name for trace in bars.data] == ["das", "random", "vanilla"]
    assert all(list(trace.x) == TASKS for trace in bars.data)   # grouped by task, no "all" group
    np.testing.assert_allclose(bars.data[0].error_y.array, 0.5)


def test_write_task_figures_needs_two_tasks(tmp_path):
    paths = write_task_figures(summary_table(), tmp_path)
    assert [p.name for p in paths] == ["tasks.html"] and paths[0].parent == tmp_path / "figures"
    text = paths[0].read_text(encoding="utf-8")
    assert text.count('class="plotly-graph-div"') == 6 and "<script src=" not in text
    assert write_task_figures(summary_table(["agr"]), tmp_path / "one") == []   # one task: method_summary.html
    assert not (tmp_path / "one").exists()


def test_several_rows_per_cell_are_refused_naming_the_column():
    summary = pd.concat([summary_table(), summary_table().assign(model="other")])
    with pytest.raises(InputError, match="several rows for task 'all' and method 'random'.*model"):
        task_method_heatmap(summary)
    with pytest.raises(InputError, match="no rows with metric 'odds'"):
        task_method_heatmap(summary_table(), "odds")
