"""``interp run SPEC.toml``: run a whole experiment written down as a file (see :mod:`interp.experiments.spec`).

    interp run experiments/agreement.toml                 # models × revisions × seeds × evaluations
    interp run experiments/agreement.toml --dry-run       # the plan: which runs are done, which are to do
    interp run experiments/agreement.toml --out runs/try  # the same spec into another folder

Writes ``OUT/experiment.toml`` (the spec), ``results.csv`` and ``summary.csv`` (every run's tables
with ``evaluation, evaluator, model, revision, seed`` columns first), ``meta.json``, ``figures/``
and one folder per run under ``runs/``. Rerunning skips the finished runs and resumes the others.
"""

from __future__ import annotations

import argparse
import sys

from interp.commands.common import add_out_arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run an experiment spec (TOML): models x revisions x seeds x "
                                               "evaluations")
    parser.add_argument("spec", metavar="EXPERIMENT.toml", help="the experiment spec")
    add_out_arguments(parser, required=False, help="output folder (default: the spec's out)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop (loads no model)")
    parser.add_argument("--no-figures", dest="figures", action="store_false")
    parser.set_defaults(func=run, interrupted=lambda args: "finished runs are kept in the output folder's runs/; "
                                                           "rerun the same command to resume")


def print_plan(spec, file=None) -> None:
    from interp.experiments.runner import is_finished

    file = file or sys.stdout
    runs = spec.runs()
    done = [is_finished(spec.out, run) for run in runs]
    print(f"{spec.out}: {len(runs)} run(s), {sum(done)} finished", file=file)
    for run, finished in zip(runs, done):
        print(f"  [{'x' if finished else ' '}] runs/{run.folder}", file=file)


def print_experiment_summary(summary, file=None) -> None:
    """One block per run: the CausalGym method table, or SyntaxGym accuracy per suite."""
    import pandas as pd

    from interp.commands.causalgym import print_summary

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


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from interp.experiments import Experiment, run_experiment
    from interp.folders import check_out

    spec = Experiment.from_toml(args.spec, out=args.out)  # every bad key or value fails here, before any load
    if not args.figures:
        spec = replace(spec, figures=False)
    if args.dry_run:
        print_plan(spec)
        return 0
    # an experiment folder: any spec may continue it (each run checks its own settings), no other command
    check_out(spec.out, "run", {}, overwrite=args.overwrite).take()
    result = run_experiment(spec, progress=True, command=list(sys.argv))
    print(f"{spec.out}: ran {len(result.ran)} run(s), {len(result.skipped)} already finished")
    print_experiment_summary(result.summary)
    print(f"\nwrote {spec.out}/results.csv, summary.csv, meta.json, experiment.toml, runs/")
    figures = [p for p in result.paths if p.suffix == ".html"]
    if figures:
        print("figures: " + ", ".join(str(p) for p in figures))
    return 0
