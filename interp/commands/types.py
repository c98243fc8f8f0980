"""Argparse ``type=`` functions shared by the subcommands: a bad value is a usage error before any work.

    parser.add_argument("--n-boot", type=positive_int, default=1000)
    parser.add_argument("--das-lr", type=positive_float, default=5e-3)
    parser.add_argument("--n-train", type=int_at_least(2), default=400)

Each raises :class:`argparse.ArgumentTypeError`, so ``interp causalgym --n-boot 0`` prints
``interp causalgym: error: argument --n-boot: must be a positive integer, not '0'`` and exits 2.

>>> positive_int("3"), non_negative_int("0"), positive_float("5e-3")
(3, 0, 0.005)
>>> positive_float("nan")
Traceback (most recent call last):
argparse.ArgumentTypeError: must be a finite positive number, not 'nan'
>>> names("task")("agr, npi")
['agr', 'npi']
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from interp.errors import InputError
from interp.eval.causalgym.config import layer_text_parts


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """A type for integers ``>= low`` (``int_at_least(1)`` is :func:`positive_int`)."""
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer of at least {low}")

    def parse(text: str) -> int:
        value = _int(text, what)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    parse.__name__ = f"int_at_least_{low}"
    return parse


positive_int = int_at_least(1)
positive_int.__name__ = "positive_int"
non_negative_int = int_at_least(0)
non_negative_int.__name__ = "non_negative_int"


def positive_float(text: str) -> float:
    """A finite number ``> 0`` (``nan``, ``inf``, ``0`` and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, not {text!r}")
    return value


def finite_floats(text: str) -> list[float]:
    """``"-2,0,1.5"`` -> ``[-2.0, 0.0, 1.5]``: at least one number, each finite."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"must be finite numbers separated by commas (e.g. -2,0,2), not {text!r}")
    return values


def names(noun: str) -> Callable[[str], list[str]]:
    """A type for comma-separated names: ``"a, b"`` -> ``["a", "b"]``; none at all is an error."""

    def parse(text: str) -> list[str]:
        found = [part.strip() for part in text.split(",") if part.strip()]
        if not found:
            raise argparse.ArgumentTypeError(f"is empty: name at least one {noun}")
        return found

    parse.__name__ = f"{noun}_names"
    return parse


def layers(text: str) -> str:
    """A layer selection as written (``all``, ``N``, ``N,M,...`` or ``START:STOP[:STEP]``), unchanged once its
    syntax is checked; whether the layers exist is checked against the model once it is loaded.

    >>> layers("0:30:2"), layers("4"), layers("1, 3")
    ('0:30:2', '4', '1, 3')
    >>> layers("x")                                               # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be all, START:STOP[:STEP] (e.g. 0:30:2), a number, or numbers ... not 'x'
    """
    if text.strip() != "all":
        try:
            layer_text_parts(text)
        except InputError:
            raise argparse.ArgumentTypeError("must be all, START:STOP[:STEP] (e.g. 0:30:2), a number, or numbers "
                                             f"separated by commas (e.g. 0,2), not {text!r}") from None
    return text


def positions(text: str) -> list[int] | None:
    """``"all"`` (or empty) -> ``None``; ``"0,2"`` -> ``[0, 2]`` (span indices, non-negative)."""
    if text.strip() in ("all", ""):
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = [-1]
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"must be 'all' or span indices N,M,... (e.g. 0,2), not {text!r}")
    return values
