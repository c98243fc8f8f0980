"""Write plain data as TOML (the subset experiment specs use), so a command line becomes a spec file.

>>> import tomllib
>>> data = {"out": "runs/x", "seeds": [0], "models": [{"name": "org/m", "revisions": ["step1", "step2"]}],
...         "evaluations": [{"evaluator": "causalgym", "layers": "0:4", "das": {"steps": 40, "lr": 0.005}}]}
>>> text = dumps(data)
>>> print(text)
out = "runs/x"
seeds = [0]
<BLANKLINE>
[[models]]
name = "org/m"
revisions = ["step1", "step2"]
<BLANKLINE>
[[evaluations]]
evaluator = "causalgym"
layers = "0:4"
<BLANKLINE>
[evaluations.das]
steps = 40
lr = 0.005
<BLANKLINE>
>>> tomllib.loads(text) == data
True

Values: strings, integers, finite floats, booleans, lists of those, tables and lists of tables.
``None`` values are left out (TOML has no null).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from interp.errors import InputError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"cannot write {value!r} into a spec")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    raise InputError(f"cannot write a {type(value).__name__} ({value!r}) into a spec")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)


def _body(data: dict[str, Any], prefix: str) -> list[str]:
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items()
             if v is not None and not isinstance(v, dict) and not _is_table_list(v)]
    for key, value in data.items():
        name = prefix + _key(key)
        if isinstance(value, dict):
            lines += ["", f"[{name}]", *_body(value, name + ".")]
        elif _is_table_list(value):
            for item in value:
                lines += ["", f"[[{name}]]", *_body(item, name + ".")]
    return lines


def dumps(data: dict[str, Any]) -> str:
    """``data`` as TOML text (tables after the plain keys, as TOML requires)."""
    return "\n".join(_body(data, "")).lstrip("\n") + "\n"


__all__ = ["dumps"]
