"""The ``interp`` command: interpretability experiments on a language model from the shell.

Start with ``interp demo`` (loads the embedded SmolLM2-135M-Instruct, lists its sites and scores a few
agreement minimal pairs in seconds), then ``interp causalgym --out out/main`` (the CausalGym protocol).
``interp COMMAND --help`` shows a command's options with their defaults.

Each subcommand lives in its own module under :mod:`interp.commands` and exposes
``add_parser(subparsers)``; the parser it adds sets ``func(args) -> int`` and may set
``interrupted(args) -> str``, the line printed on Ctrl-C (what was kept, how to resume). Its help
page shows the module's docstring (usage examples) and every option's default.

Errors are one line, ``interp COMMAND: error: MESSAGE``, without a traceback unless ``--debug`` is
given (before or after the command). Exit status: 0 done, 2 bad input (usage errors and every
:class:`~interp.errors.InterpError`), 1 an unexpected failure, 130 interrupted (Ctrl-C). A closed
stdout (``interp sites | head -1``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from importlib.metadata import version

from interp.errors import InterpError

COMMAND_MODULES = [
    "interp.commands.causalgym",
    "interp.commands.circuit",
    "interp.commands.demo",
    "interp.commands.lens",
    "interp.commands.recall",
    "interp.commands.report",
    "interp.commands.run",
    "interp.commands.sae",
    "interp.commands.sites",
    "interp.commands.steer",
    "interp.commands.suites",
    "interp.commands.syntaxgym",
]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (usage examples keep their lines); every option that takes a value shows
    its default, unless its help already says it (flags are off unless given)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        takes_value = action.nargs != 0 and action.option_strings and not action.required
        if not takes_value or action.default is argparse.SUPPRESS or "(default" in text:
            return text
        return f"{text} (default: %(default)s)".strip()


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: ``interp COMMAND: error: MESSAGE``, exit 2,
    and whose help shows every default (:class:`HelpFormatter`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if action.help is None and action.nargs != 0 and action.option_strings:
            action.help = "(default: %(default)s)"  # an option without help still shows its default
        return action

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="interp", description="\n\n".join(__doc__.split("\n\n")[:2]))
    parser.add_argument("--version", action="version", version=f"interp {version('interp')}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        known = set(subparsers.choices)
        module.add_parser(subparsers)
        for name in set(subparsers.choices) - known:  # its help page starts with the module's usage examples
            if subparsers.choices[name].description is None:
                subparsers.choices[name].description = (module.__doc__ or "").strip() or None
    for subparser in subparsers.choices.values():  # `interp COMMAND ... --debug` too
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="print the traceback of an error")
    return parser


def _quiet_stdout() -> None:
    """After a broken pipe: send what is still buffered for stdout nowhere (no error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (pytest, notebooks): nothing to redirect
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    prefix = f"interp {args.command}: "
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except InterpError as error:
        if args.debug:
            traceback.print_exc()
        print(f"{prefix}error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        interrupted = getattr(args, "interrupted", None)
        try:
            kept = interrupted(args) if interrupted is not None else None
        except Exception:  # the message must not fail in its turn
            kept = None
        print(f"{prefix}interrupted" + (f": {kept}" if kept else ""), file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (rerun with --debug for the traceback)"
        print(f"{prefix}error: unexpected {type(error).__name__}: {error}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
