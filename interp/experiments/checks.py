"""Checks of the values in an experiment spec, each error naming its place (``evaluations[1].methods``).

>>> typed({"seed": 1}, "seed", int, "spec.toml", "evaluations[0]")
1
>>> typed({"seed": "1"}, "seed", int, "spec.toml", "evaluations[0]")
Traceback (most recent call last):
interp.errors.InputError: spec.toml: evaluations[0].seed: must be an integer, not '1'
>>> known_keys({"methds": []}, ("methods", "layers"), "spec.toml", "evaluations[0]")  # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.InputError: spec.toml: evaluations[0].methds: unknown key (did you mean 'methods'?); ...
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interp.errors import InputError, InterpError


def slug(text: str) -> str:
    """A folder-safe form of a label: ``EleutherAI/pythia-70m`` -> ``EleutherAI-pythia-70m``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", str(text)).strip("-.") or "x"


def default_label(name: str) -> str:
    """A model's label when the spec gives none: a path's last part, else the name (hub ids keep ``org/``).

    Decided from the text alone, so that the run folders do not depend on what exists on disk.

    >>> default_label("/data/ckpt/tiny-llama"), default_label("EleutherAI/pythia-70m"), default_label("./m.gguf")
    ('tiny-llama', 'EleutherAI/pythia-70m', 'm.gguf')
    """
    path_like = name.startswith(("/", ".", "~")) or name.count("/") > 1 or name.endswith(".gguf")
    return Path(name).name if path_like else name


def close_matches(value: Any, choices: Any) -> str:
    near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3)
    return f" (did you mean {', '.join(map(repr, near))}?)" if near else ""


def known_keys(table: dict, allowed: tuple[str, ...] | list[str], where: str, place: str) -> None:
    for key in table:
        if key not in allowed:
            at = f"{place}." if place else ""
            raise InputError(f"{where}: {at}{key}: unknown key{close_matches(key, allowed)}; the keys here are "
                             f"{', '.join(allowed)}")


KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "a table"}


def is_kind(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def typed(table: dict, key: str, kind: type, where: str, place: str, *, default: Any = None,
           required: bool = False) -> Any:
    at = f"{place}.{key}" if place else key
    if key not in table:
        if required:
            raise InputError(f"{where}: {at}: missing (it is required)")
        return default
    value = table[key]
    if not is_kind(value, kind):
        raise InputError(f"{where}: {at}: must be {KIND_NAMES[kind]}, not {value!r}")
    return float(value) if kind is float else value


def guard(where: str, place: str, key: str, check: Callable[[], Any]) -> Any:
    """Run a reader's own check and put the spec location in front of its message."""
    try:
        return check()
    except InterpError as error:
        raise InputError(f"{where}: {place}.{key}: {error}") from None


__all__ = ["KIND_NAMES", "close_matches", "default_label", "guard", "is_kind", "known_keys", "slug", "typed"]
