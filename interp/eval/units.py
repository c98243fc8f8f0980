"""The resumable unit log of a sweep: one JSON file per finished unit, written atomically.

A *unit* is the smallest piece of a sweep that is worth keeping on its own (for the causal-efficacy
evaluator: task × layer × method × control). Each finished unit becomes
``DIR/units/<key>.json`` through a temporary file, an ``fsync`` and a rename, so a unit file is
either whole or absent — a run killed at any moment loses at most the unit in progress, and a
rerun into the same folder skips every unit whose file exists. Keys are unique by construction,
so a unit can never be recorded twice.

``DIR/units/config.json`` holds the settings that make units comparable (model, suite, seed,
training steps, ...); a rerun with different settings into the same folder is an error rather
than a silent mix.

>>> import tempfile
>>> log = UnitLog(tempfile.mkdtemp(), config={"seed": 0})
>>> log.done("agr/L0/das")
False
>>> _ = log.write("agr/L0/das", {"value": 1.5})
>>> log.done("agr/L0/das"), log.read("agr/L0/das")["value"]
(True, 1.5)
>>> [record["key"] for record in log.records()]
['agr/L0/das']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from interp.errors import InputError
from interp.io import atomic_write_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def file_name(key: str) -> str:
    """A portable file name for ``key`` (``/`` and other unsafe characters become ``__``)."""
    return _UNSAFE.sub("__", key) + ".json"


def _read(path: Path) -> dict[str, Any]:
    """A unit file, whole, or an :class:`InputError` naming it (never a half-read record)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: corrupt file ({error}); delete it (a deleted unit is recomputed by the next "
                         "run)") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}: corrupt file (a JSON {type(record).__name__}, not an object); delete it (a "
                         "deleted unit is recomputed by the next run)")
    return record


class UnitLog:
    """Finished units of one sweep under ``folder/units``."""

    def __init__(self, folder: str | Path, config: dict[str, Any] | None = None):
        self.folder = Path(folder) / "units"
        self.folder.mkdir(parents=True, exist_ok=True)
        if config is not None:
            self._check_config(config)

    def _check_config(self, config: dict[str, Any]) -> None:
        path = self.folder / "config.json"
        wanted = json.loads(json.dumps(config, default=str))
        if path.is_file():
            stored = _read(path)
            if stored != wanted:
                diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
                raise InputError(
                    f"{self.folder.parent} holds units of a run with other settings ({', '.join(diff)}: "
                    f"{ {k: stored.get(k) for k in diff} } there, { {k: wanted.get(k) for k in diff} } now); "
                    "use a new --out folder, or the same settings to resume")
        else:
            atomic_write_text(path, json.dumps(wanted, indent=2, sort_keys=True) + "\n")

    def path(self, key: str) -> Path:
        return self.folder / file_name(key)

    def done(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> dict[str, Any]:
        return _read(self.path(key))

    def write(self, key: str, record: dict[str, Any]) -> Path:
        """Record a finished unit (whole or not at all)."""
        return atomic_write_text(self.path(key), json.dumps({"key": key, **record}) + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every finished unit, in file-name order."""
        return [_read(p) for p in sorted(self.folder.glob("*.json"))
                if p.name != "config.json" and not p.name.startswith(".")]
