"""``interp --help`` and ``interp COMMAND --help``: every option that takes a value shows its default,
``interp --version`` prints the package version, the top-level help names each command and the first one
to run. No model is loaded."""

from __future__ import annotations

import argparse
import re

import pytest

import interp
from interp.cli import HelpFormatter, build_parser, main


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_with_a_value_shows_its_default():
    formatter = HelpFormatter("interp")
    missing = []
    for name, parser in subparsers(build_parser()).items():
        for action in parser._actions:
            takes_value = action.option_strings and action.nargs != 0 and not action.required
            if takes_value and action.default is not argparse.SUPPRESS:
                if "default" not in formatter._get_help_string(action):
                    missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_command_help_pages_show_defaults_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["steer", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert re.search(r"--seed SEED\s+\(default: 0\)", text)
    assert re.search(r"--max-new-tokens MAX_NEW_TOKENS\s+\(default: 20\)", text)
    assert "interp steer --out runs/steer" in text          # the module's usage examples, lines kept
    assert "(default: %(default)s)" not in text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"interp {interp.__version__}"


def test_top_level_help_names_every_command_and_the_first_one(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "Start with ``interp demo``" in text and "--version" in text
    for name in subparsers(build_parser()):
        assert re.search(rf"^\s+{name}\b", text, re.MULTILINE), name
