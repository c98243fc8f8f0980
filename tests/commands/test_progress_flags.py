"""``syntaxgym``, ``patch_sweep``, ``recall_scaling`` and ``steering_sweep`` take ``progress=True``: a bar on
a terminal, nothing (no ``\\r`` line) in a log or a pipe; the commands ask for it."""

from __future__ import annotations

import io
import sys

import pytest

import interp
import interp.commands.recall
import interp.commands.steer
import interp.commands.syntaxgym
from interp.cli import main
from interp.errors import InputError
from interp.eval.recall import recall_scaling
from interp.eval.syntaxgym import syntaxgym
from interp.interventions import patch_sweep
from interp.suites import recall as recall_suites


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


def runs(hm):
    suite = recall_suites.load("builtin:capitals")
    return {
        "syntaxgym": lambda progress: syntaxgym(hm, "builtin:number_pp", progress=progress),
        "patch sweep": lambda progress: patch_sweep(hm, ["The keys to the"], ["The key to the"], layers=[0, 1],
                                                    positions=[1], max_rows=1, progress=progress),
        "head scaling": lambda progress: recall_scaling(hm, suite, suite.items(hm.tokenizer)[:2], heads=[(1, 0)],
                                                        factors=[0.0, 1.0], max_new_tokens=2, progress=progress),
    }


@pytest.mark.parametrize("name", ["syntaxgym", "patch sweep", "head scaling"])
def test_a_bar_on_a_terminal_only(hm, monkeypatch, name):
    run = runs(hm)[name]
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run(True)
    assert name in terminal.getvalue() and "\r" in terminal.getvalue()      # the bar, redrawn in place
    log = io.StringIO()                                                      # a log file: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    run(True)
    assert log.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    run(False)
    assert terminal.getvalue() == ""


@pytest.mark.parametrize("command, module, function, argv", [
    ("syntaxgym", interp.commands.syntaxgym, "syntaxgym", ["builtin:number_pp"]),
    ("recall", interp.commands.recall, "recall", []),
    ("steer", interp.commands.steer, "steering_sweep", ["--layer", "0"]),
])
def test_the_commands_ask_for_progress(hm, tmp_path, monkeypatch, command, module, function, argv):
    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise InputError("stop here")

    monkeypatch.setattr(module, "load_model", lambda args: hm)
    monkeypatch.setattr(module, function, record)
    assert main([command, *argv, "--out", str(tmp_path / "out")]) == 2
    assert seen.get("progress") is True
