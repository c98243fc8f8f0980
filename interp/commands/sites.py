"""``interp sites``: list a model's canonical sites."""

from __future__ import annotations

import argparse

from interp.commands.common import add_model_arguments, load_model
from interp.graph.sites import ALL_KINDS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sites", help="list a model's canonical sites in execution order")
    add_model_arguments(parser)
    parser.add_argument("--kind", default=None, choices=ALL_KINDS, metavar="KIND",
                        help=f"only this kind: {', '.join(ALL_KINDS)}")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    hm = load_model(args)
    print(hm)
    for name in hm.sites(args.kind):
        print(name)
    return 0
