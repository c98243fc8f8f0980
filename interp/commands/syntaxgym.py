"""``interp syntaxgym``: score SyntaxGym suites and write results into ``--out DIR``.

    interp syntaxgym builtin:number_pp --out runs/number_pp
    interp syntaxgym my_suites/ --model EleutherAI/pythia-70m --out runs/pythia

Writes ``results.csv`` (one row per item × condition × region: surprisal in bits),
``predictions.csv`` (one row per item × prediction), ``summary.csv`` (accuracy per
prediction and overall, also printed) and ``meta.json`` (model, revision, versions, commit,
command line).
"""

from __future__ import annotations

import argparse
import sys

from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.eval.syntaxgym import syntaxgym
from interp.io import run_metadata
from interp.suites.syntaxgym import check_distinct, load_all


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("syntaxgym", help="score SyntaxGym suites (surprisal predictions)")
    parser.add_argument("suites", nargs="+", metavar="SUITE",
                        help="a suite .json file, a folder of them, builtin:NAME, or builtin: for all built-ins")
    add_out_arguments(parser)
    parser.add_argument("--batch-size", type=types.positive_int, default=32)
    parser.add_argument("--bos", default="auto",
                        help="context token before each sentence: auto, none, or a token such as '<|endoftext|>'")
    add_model_arguments(parser)
    parser.set_defaults(func=run, interrupted=lambda args: f"nothing new was written to {args.out}")


def run(args: argparse.Namespace) -> int:
    # bad files, and a suite given twice, fail before the model loads
    suites = check_distinct([suite for path in args.suites for suite in load_all(path)])
    claim = check_out(args)
    hm = load_model(args)
    claim.take()
    bos = None if args.bos.lower() == "none" else args.bos
    result = syntaxgym(hm, suites, bos=bos, batch_size=args.batch_size, progress=True)
    meta = run_metadata(hm, command=list(sys.argv), evaluator="syntaxgym", suites=[s.source for s in suites],
                        bos=args.bos, dtype=args.dtype, device=args.device)
    result.write(args.out, meta)
    summary = result.summary[["suite", "prediction", "value", "n", "formula"]].rename(columns={"value": "accuracy"})
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwrote {args.out}/results.csv, predictions.csv, summary.csv, meta.json")
    return 0
