"""``interp causalgym`` and ``interp report`` on a suite of two tasks: summary.csv holds each task and
their mean (``task == "all"``), the printout adds the per-task table (rows task × method, value
[95 % CI]) and figures/tasks.html draws it."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEMENT_SMALL

from interp.cli import main
from interp.commands.summaries import print_summary

TASK = {"agr": AGREEMENT_SMALL["agr"],
        "agr_behind": {**AGREEMENT_SMALL["agr"], "templates": ["The {subject} behind the {object}"]}}
METHODS = ["mean", "random"]


@pytest.fixture(scope="module")
def run(tiny_llama_dir, suite, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("per-task") / "out"
    argv = ["causalgym", "--model", str(tiny_llama_dir), "--suite", str(suite), "--methods", ",".join(METHODS),
            "--layers", "0:2", "--no-control", "--n-train", "4", "--n-test", "3", "--n-boot", "20", "--out", str(out)]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", printed)
        assert main(argv) == 0
    return out, printed.getvalue()


def cell(row) -> str:
    return f"{row.value:7.3f} [{row.ci_low:6.3f}, {row.ci_high:6.3f}]"


def per_task_lines(printed: str) -> list[str]:
    lines = printed.split("\nper task:\n", 1)[1].splitlines()
    return lines[:1 + len(TASK) * len(METHODS)]


def test_summary_csv_has_every_task_and_their_mean(run):
    out, _ = run
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary.task)) == ["all", *TASK]
    for _, rows in summary.groupby(["method", "metric"]):
        per_task = rows[rows.task != "all"]
        overall = rows[rows.task == "all"].iloc[0]
        assert len(per_task) == len(TASK) and (per_task.n_tasks == 1).all() and overall.n_tasks == len(TASK)
        assert overall.value == pytest.approx(per_task.value.mean())


def test_printout_has_the_per_task_table_of_summary_csv(run):
    out, printed = run
    summary = pd.read_csv(out / "summary.csv")
    lines = per_task_lines(printed)
    assert lines[0].split() == ["task", "method", "odds_ratio", "iia", "behaviour"]
    expected = []
    for task in TASK:
        for method in METHODS:
            rows = summary[(summary.task == task) & (summary.method == method)].set_index("metric")
            expected.append([task, method, *(cell(rows.loc[m]) for m in ("odds_ratio", "iia", "behaviour"))])
    for line, (task, method, *cells) in zip(lines[1:], expected):
        assert line.split()[:2] == [task, method]
        for text in cells:
            assert text in line
    overall = printed.split("\nper task:\n")[0]      # the table over all tasks comes first, as before
    assert overall.splitlines()[1].split()[0] == "method"


def test_tasks_figure_is_written_and_report_redraws_it(run, capsys):
    out, printed = run
    figure = out / "figures" / "tasks.html"
    assert figure.is_file() and str(figure) in printed
    figure.unlink()
    assert main(["report", str(out)]) == 0
    again = capsys.readouterr().out
    assert figure.is_file() and str(figure) in again
    assert per_task_lines(again) == per_task_lines(printed)   # the same per-task table, rebuilt from units/


def test_one_task_prints_no_per_task_block():
    rows = [{"task": t, "method": "das", "metric": "iia", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6}
            for t in ("all", "agr")]
    printed = io.StringIO()
    print_summary(pd.DataFrame(rows), file=printed)
    assert "per task" not in printed.getvalue() and len(printed.getvalue().splitlines()) == 2
    printed = io.StringIO()
    print_summary(pd.DataFrame(rows * 2).assign(task=["all", "agr", "all", "npi"]), file=printed, per_task=False)
    assert "per task" not in printed.getvalue()
