"""``interp report DIR``: rebuild the summary and figures of an output folder, without loading a model.

    interp report runs/agreement            # a folder of interp causalgym, interp syntaxgym or interp run
    interp report runs/agreement --no-figures

Recomputes ``summary.csv`` (and ``results.csv``) from the per-unit scores the folder holds (see
:mod:`interp.experiments.report`), writes ``figures/*.html`` and prints the summary table.
"""

from __future__ import annotations

import argparse
import sys

from interp.commands.summaries import print_experiment_summary, print_summary
from interp.commands.types import positive_int
from interp.experiments.report import rebuild


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="rebuild summary tables and figures of an output folder")
    parser.add_argument("folder", metavar="DIR",
                        help="output folder of interp causalgym, syntaxgym, run, steer or recall")
    parser.add_argument("--no-figures", dest="figures", action="store_false")
    parser.add_argument("--n-boot", type=positive_int, default=None,
                        help="bootstrap resamples (default: as the run recorded)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = rebuild(args.folder, figures=args.figures, n_boot=args.n_boot)
    if report.kind == "experiment":
        print_experiment_summary(report.summary)
    elif report.kind == "causalgym":
        print_summary(report.summary)
    elif report.kind in ("steering", "recall"):
        keys = ["layer", "coefficient"] if report.kind == "steering" else ["heads", "factor"]
        wide = report.summary.pivot_table(index=keys, columns="metric", values="value", sort=False).reset_index()
        wide.columns.name = None
        print(wide.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    else:
        table = report.summary[["suite", "prediction", "value", "n", "formula"]].rename(columns={"value": "accuracy"})
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"\nrebuilt ({report.kind}): " + ", ".join(str(p) for p in report.paths))
    return 0
