"""The suites that ship with interp: CausalGym-style templates and SyntaxGym suites.

>>> from interp.suites.builtins import builtin_names
>>> "number_pp" in builtin_names("syntaxgym") and "agreement" in builtin_names("templates")
True

Use them as ``builtin:NAME`` wherever a suite path is accepted (``builtin:`` alone means all of
that kind), e.g. ``syntaxgym.load("builtin:number_pp")`` or
``causalgym.load_templates("builtin:agreement")``. ``interp suites`` lists them with examples.
"""

from __future__ import annotations

from pathlib import Path

from interp.errors import SuiteError

BUILTIN_DIR = Path(__file__).with_name("builtin")
KINDS = ("templates", "syntaxgym")


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in files of ``kind`` (``"templates"`` or ``"syntaxgym"``)."""
    if kind not in KINDS:
        raise SuiteError(f"unknown kind of built-in suite {kind!r}; choose one of {', '.join(KINDS)}")
    return sorted(path.stem for path in (BUILTIN_DIR / kind).glob("*.json"))


def builtin_path(kind: str, name: str) -> Path:
    """The file of built-in ``name``; an empty name gives the folder of all of them."""
    if name in ("", "*", "all"):
        return BUILTIN_DIR / kind
    names = builtin_names(kind)
    if name not in names:
        raise SuiteError(f"no built-in {kind} suite {name!r}; the built-ins are: {', '.join(names)}")
    return BUILTIN_DIR / kind / f"{name}.json"


def builtin_syntaxgym_path(name: str) -> Path:
    return builtin_path("syntaxgym", name)


def builtin_templates_path(name: str) -> Path:
    return builtin_path("templates", name)


def resolve_suite_path(path: str | Path, kind: str) -> Path:
    """A user's suite argument as a path: ``builtin:NAME`` (a built-in of ``kind``) or a file/folder.

    >>> resolve_suite_path("builtin:number_pp", "syntaxgym").name
    'number_pp.json'
    """
    text = str(path)
    if text.startswith("builtin:"):
        return builtin_path(kind, text[len("builtin:"):])
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise SuiteError(f"{text}: no such file or folder")
    return resolved

