"""``interp lens "text" --out DIR``: the logit lens of a text, as a table and a heat-map.

    interp lens "The capital of France is" --target " Paris" --out out/lens
    interp lens "The keys to the cabinet" --k 10 --tuned lens.safetensors --out out/lens

Writes ``results.csv`` (one row per layer × position: top-k tokens and probabilities, the target's
probability and rank), ``summary.csv`` (the last position per layer), ``meta.json`` and
``figures/lens.html``.
"""

from __future__ import annotations

import argparse
import sys

from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.eval.lens import TunedLens, logit_lens
from interp.io import run_metadata, write_run
from interp.viz.write import write_html


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("lens", help="logit lens of a text: top tokens per layer and position",
                                   description=__doc__)
    parser.add_argument("text", help="the text to read")
    parser.add_argument("--target", default=None, help="a one-token string whose probability and rank to show")
    parser.add_argument("--k", type=types.positive_int, default=5, help="top tokens per cell")
    parser.add_argument("--tuned", default=None, help="a tuned lens (.safetensors, interp.eval.lens.TunedLens)")
    add_model_arguments(parser)
    add_out_arguments(parser)
    parser.set_defaults(func=run, interrupted=lambda args: f"nothing new was written to {args.out}")


def run(args: argparse.Namespace) -> int:
    lens = TunedLens.load(args.tuned) if args.tuned else None  # a bad file fails before the model loads
    claim = check_out(args)
    hm = load_model(args)
    if lens is not None:
        lens.check_fits(hm)  # before the folder is claimed
    claim.take()
    result = logit_lens(hm, args.text, target=args.target, k=args.k, lens=lens)
    table = result.table()
    summary = table[table.position == table.position.max()].reset_index(drop=True)
    meta = run_metadata(hm, command=list(sys.argv), evaluator="lens", text=args.text, target=args.target, k=args.k,
                        tuned=args.tuned)
    write_run(args.out, table, summary, meta)
    write_html({"lens": result.figure()}, args.out)
    shown = ("layer", "top_tokens", "top_probability", "target_probability", "target_rank")
    columns = [column for column in shown if column in summary]
    print(summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwrote {args.out}/results.csv, summary.csv, meta.json, figures/lens.html")
    return 0
