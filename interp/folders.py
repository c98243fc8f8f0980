"""Who wrote an output folder: one command with one set of settings, never a mix.

Every evaluating command (``interp causalgym``, ``syntaxgym``, ``steer``, ``recall``, ``run``) checks
its ``--out`` folder before it loads a model or writes anything, and claims it just before the
work starts by writing ``.interp-owner.json`` (the command and the settings that define the run):

>>> import tempfile
>>> out = tempfile.mkdtemp() + "/run"
>>> claim = check_out(out, "syntaxgym", {"suites": ["builtin:npz_obj"], "batch_size": 32})
>>> claim.take()                       # the folder now belongs to `interp syntaxgym` with these settings
>>> _ = atomic_write_text(out + "/results.csv", "value")      # ... and holds its results
>>> check_out(out, "syntaxgym", {"suites": ["builtin:npz_obj"], "batch_size": 32}).folder.name  # resume
'run'
>>> check_out(out, "causalgym", {})                                    # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.InputError: ...run holds the results of `interp syntaxgym`; ...

* The same command with the same settings resumes (CausalGym unit by unit) or rewrites its own tables.
* Another command, or the same one with other settings, is refused, naming the folder, the command
  and what differs, unless ``overwrite=True`` (``--overwrite``): then :meth:`FolderClaim.take`
  first removes every file and folder that interp writes into an output folder
  (:data:`OUTPUT_NAMES`), so nothing of the old run is left beside the new one; other files stay.
* A folder written before owner records existed is recognised from its ``meta.json``
  (``evaluator``), ``units/`` or ``experiment.toml``: the same command adopts it (its settings are
  checked by the evaluator, e.g. ``units/config.json``), another is refused.
* ``--out`` naming a file, or a place that cannot be created or written, is an error too.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from interp.errors import InputError
from interp.io import atomic_write_text

OWNER_FILE = ".interp-owner.json"
OUTPUT_NAMES = ("results.csv", "summary.csv", "meta.json", "predictions.csv", "generations.csv", "attribution.csv",
                "known.csv", "experiment.toml", "units", "directions", "figures", "runs", "vectors", "saes",
                "saelens", "activations", "cost.csv", "fvu_curve.csv", "distances.csv", "contexts.csv", "rows",
                "edges.csv", "circuit.csv", "faithfulness.csv", OWNER_FILE)
# meta.json's "evaluator" -> the command that writes it
_EVALUATOR_COMMANDS = {"causalgym": "causalgym", "syntaxgym": "syntaxgym", "steering": "steer", "recall": "recall",
                       "experiment": "run"}


def _normal(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def _check_writable(folder: Path) -> None:
    """``folder`` is, or can be created as, a writable folder (nothing is created here)."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder}: a file is there, not a folder; name a folder")
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--out {folder}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "write into it" if existing == folder else f"create it, {existing} is not writable"
        raise InputError(f"--out {folder}: cannot {what}" + (" (not writable)" if existing == folder else ""))
    try:  # os.access says yes to root, and knows nothing of /proc or read-only mounts: try (and remove at once)
        os.rmdir(tempfile.mkdtemp(prefix=".interp-probe-", dir=existing))
    except OSError as error:
        what = "write into it" if existing == folder else f"create it in {existing}"
        raise InputError(f"--out {folder}: cannot {what} ({error.strerror or error})") from None


def read_owner(folder: str | Path) -> dict[str, Any] | None:
    """``{"command": ..., "settings": ... or None}`` of an output folder; None when interp wrote nothing there."""
    folder = Path(folder)
    path = folder / OWNER_FILE
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: corrupt owner record ({error}); delete it, or use --overwrite") from None
        if not isinstance(record, dict) or not isinstance(record.get("command"), str):
            raise InputError(f"{path}: corrupt owner record (no command); delete it, or use --overwrite")
        return record
    if not folder.is_dir() or not any((folder / name).exists() for name in OUTPUT_NAMES):
        return None
    return {"command": _legacy_command(folder), "settings": None}


def _legacy_command(folder: Path) -> str:
    """The command that wrote a folder without an owner record, from the files it holds."""
    if (folder / "experiment.toml").is_file():
        return "run"
    try:
        evaluator = json.loads((folder / "meta.json").read_text(encoding="utf-8")).get("evaluator")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        evaluator = None
    if evaluator in _EVALUATOR_COMMANDS:
        return _EVALUATOR_COMMANDS[evaluator]
    for name, command in (("units", "causalgym"), ("predictions.csv", "syntaxgym"), ("generations.csv", "steer"),
                          ("known.csv", "recall")):
        if (folder / name).exists():
            return command
    return "an unknown command"


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> str:
    keys = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    return "; ".join(f"{key.replace('_', '-')}: {stored.get(key)!r} there, {wanted.get(key)!r} now" for key in keys)


@dataclass
class FolderClaim:
    """A checked output folder; :meth:`take` claims it just before the work starts."""

    folder: Path
    command: str
    settings: dict[str, Any]
    overwrite: bool = False
    owned: bool = False  # the folder already has this command's owner record

    def take(self) -> None:
        """With ``overwrite``, remove the previous outputs; then write the owner record (unless already there)."""
        if self.overwrite:
            for name in OUTPUT_NAMES:
                path = self.folder / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
            self.owned = False
        if self.owned:
            return
        record = {"command": self.command, "settings": self.settings, "argv": list(sys.argv),
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(self.folder / OWNER_FILE, json.dumps(record, indent=2, default=str) + "\n")
        self.owned = True


def check_out(out: str | Path, command: str, settings: dict[str, Any], *, overwrite: bool = False) -> FolderClaim:
    """Check that ``interp COMMAND`` with ``settings`` may write into ``out`` (creates nothing).

    Raises :class:`InputError` when ``out`` is a file or not writable, or (without ``overwrite``)
    when another command, or this one with other settings, wrote the folder.
    """
    folder = Path(out).expanduser()
    _check_writable(folder)
    settings = _normal(settings)
    owner = read_owner(folder)
    claim = FolderClaim(folder, command, settings, overwrite)
    if owner is None or overwrite or not any((folder / name).exists() for name in OUTPUT_NAMES[:-1]):
        return claim  # nothing there, told to replace it, or only a claim that failed before writing results
    advice = "use another --out folder, or --overwrite to replace them"
    if owner["command"] != command:
        writer = owner["command"] if owner["command"].startswith("an ") else f"`interp {owner['command']}`"
        raise InputError(f"{folder} holds the results of {writer}; `interp {command}` would mix its files with "
                         f"them: {advice}")
    stored = owner.get("settings")
    if stored is not None and stored != settings:
        raise InputError(f"{folder} holds the results of `interp {command}` with other settings "
                         f"({_differences(stored, settings)}): rerun with the same settings to resume, or {advice}")
    claim.owned = stored is not None
    return claim


__all__ = ["OUTPUT_NAMES", "OWNER_FILE", "FolderClaim", "check_out", "read_owner"]
