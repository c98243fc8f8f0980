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
from dataclasses import replace

from interp.commands.common import add_out_arguments
from interp.commands.summaries import print_experiment_summary
from interp.experiments import Experiment, run_experiment
from interp.experiments.runner import is_finished
from interp.folders import check_out


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
    file = file or sys.stdout
    runs = spec.runs()
    done = [is_finished(spec.out, run) for run in runs]
    print(f"{spec.out}: {len(runs)} run(s), {sum(done)} finished", file=file)
    for run, finished in zip(runs, done):
        print(f"  [{'x' if finished else ' '}] runs/{run.folder}", file=file)


def run(args: argparse.Namespace) -> int:
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
