"""What the CLI prints at the end of a run: the CausalGym method table (over all tasks, then per
task) and the per-run summaries of an experiment (``interp causalgym``, ``interp run``, ``interp report``).

>>> import pandas as pd
>>> rows = [("all", "das", 2.0), ("agr", "das", 3.0), ("npi", "das", 1.0)]
>>> summary = pd.DataFrame([{"task": t, "method": m, "metric": "odds_ratio", "value": v, "ci_low": v - 0.5,
...                          "ci_high": v + 0.5} for t, m, v in rows])
>>> print_summary(summary)
method  odds_ratio
das       2.000 [ 1.500,  2.500]
<BLANKLINE>
per task:
task  method  odds_ratio
agr   das       3.000 [ 2.500,  3.500]
npi   das       1.000 [ 0.500,  1.500]
"""

from __future__ import annotations

import sys

import pandas as pd

#: The metrics the tables show, in this order (those the summary has).
PRINTED_METRICS = ("odds_ratio", "iia", "selectivity", "behaviour")


def _print_table(rows: pd.DataFrame, keys: list[str], file) -> None:
    """One line per distinct ``keys``, one ``value [ci_low, ci_high]`` column per metric; lines sorted by the
    first key, then the next (each in its order of appearance: the summary's task and method order)."""
    metrics = [m for m in PRINTED_METRICS if m in set(rows.metric)]
    cells_of = {}
    for r in rows.itertuples(index=False):
        key = tuple(getattr(r, k) for k in keys)
        cells = cells_of.setdefault(key, dict(zip(keys, map(str, key))))
        if r.metric in metrics and r.metric not in cells:
            cells[r.metric] = f"{r.value:7.3f} [{r.ci_low:6.3f}, {r.ci_high:6.3f}]"
    ranks = [{value: i for i, value in enumerate(dict.fromkeys(key[k] for key in cells_of))} for k in range(len(keys))]
    lines = [cells_of[key] for key in sorted(cells_of, key=lambda key: [rank[v] for rank, v in zip(ranks, key)])]
    header = [*keys, *metrics]
    widths = {h: max([len(h), *(len(str(c.get(h, ""))) for c in lines)]) for h in header}
    print("  ".join(h.ljust(widths[h]) for h in header).rstrip(), file=file)
    for cells in lines:
        print("  ".join(str(cells.get(h, "")).ljust(widths[h]) for h in header).rstrip(), file=file)


def print_summary(summary, file=None, *, per_task: bool = True) -> None:
    """Method × metric table of the overall (``task == "all"``) rows: value [95 % CI]; then, when the
    summary holds two or more tasks and ``per_task``, the same per task (rows task × method)."""
    file = file or sys.stdout  # looked up at call time (pytest and notebooks replace sys.stdout)
    _print_table(summary[summary.task == "all"], ["method"], file)
    tasks = summary[summary.task != "all"]
    if per_task and tasks.task.nunique() > 1:
        print("\nper task:", file=file)
        _print_table(tasks, ["task", "method"], file)


def print_experiment_summary(summary, file=None) -> None:
    """One block per run: the CausalGym method table, or SyntaxGym accuracy per suite."""
    file = file or sys.stdout
    if summary.empty:
        print("(no finished runs yet)", file=file)
        return
    keys = ["evaluation", "model", "revision", "seed"]
    for values, rows in summary.groupby(keys, sort=False, dropna=False):
        label = ", ".join(f"{k} {v}" for k, v in zip(keys, values) if not pd.isna(v))
        print(f"\n{label}", file=file)
        if (rows.evaluator == "causalgym").all():
            print_summary(rows, file=file)
        else:
            overall = rows[rows.prediction.astype(str) == "all"][["suite", "value", "n"]]
            print(overall.rename(columns={"value": "accuracy"}).to_string(index=False,
                                                                          float_format=lambda v: f"{v:.3f}"),
                  file=file)
