"""The ``interp`` command.

    interp demo [--model default]          load a model, list its sites, score minimal pairs
    interp sites [--model M] [--kind z]    list a model's canonical sites

Each subcommand lives in its own module under :mod:`interp.commands` and exposes
``add_parser(subparsers)``; the parser it adds sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "interp.commands.causalgym",
    "interp.commands.demo",
    "interp.commands.recall",
    "interp.commands.report",
    "interp.commands.run",
    "interp.commands.sites",
    "interp.commands.steer",
    "interp.commands.suites",
    "interp.commands.syntaxgym",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interp", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from interp.errors import InterpError

    try:
        return int(args.func(args) or 0)
    except InterpError as error:
        print(f"interp {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
