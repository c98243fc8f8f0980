"""What the CLI prints at the end of a run: the CausalGym method table and the per-run summaries
of an experiment (``interp causalgym``, ``interp run``, ``interp report``)."""

from __future__ import annotations

import sys

import pandas as pd


def print_summary(summary, file=None) -> None:
    """Method × metric table of the overall (``task == "all"``) rows: value [95 % CI]."""
    file = file or sys.stdout  # looked up at call time (pytest and notebooks replace sys.stdout)
    rows = summary[summary.task == "all"]
    metrics = [m for m in ("odds_ratio", "iia", "selectivity", "behaviour") if m in set(rows.metric)]
    lines = []
    for method in dict.fromkeys(rows.method):
        cells = {"method": method}
        for metric in metrics:
            hit = rows[(rows.method == method) & (rows.metric == metric)]
            if len(hit):
                r = hit.iloc[0]
                cells[metric] = f"{r.value:7.3f} [{r.ci_low:6.3f}, {r.ci_high:6.3f}]"
        lines.append(cells)
    header = ["method", *metrics]
    widths = {h: max(len(h), *(len(str(c.get(h, ""))) for c in lines)) for h in header}
    print("  ".join(h.ljust(widths[h]) for h in header), file=file)
    for cells in lines:
        print("  ".join(str(cells.get(h, "")).ljust(widths[h]) for h in header), file=file)


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
