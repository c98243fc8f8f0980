"""Files interp writes: atomically (whole or not at all), with the run's metadata.

:func:`atomic_write_bytes` / :func:`atomic_write_text` write any file through a temporary file, an
``fsync`` and a rename (saved interventions, unit logs, figures and tables all use them).

Every evaluating command writes ``results.csv`` (the tidy per-unit table), ``summary.csv``
(the aggregated table it prints) and ``meta.json`` (model id and revision, seed, package
versions, git commit, command line), plus any extra tables it names.
Which command (and which settings) may write into a folder is the business of
:mod:`interp.folders`: the CLI checks it before any work.

>>> import tempfile, pandas as pd
>>> out = tempfile.mkdtemp()
>>> meta = run_metadata(model="tiny-llama", revision="seed=0", seed=0)
>>> paths = write_run(out, pd.DataFrame({"value": [1.0]}), pd.DataFrame({"value": [1.0]}), meta)
>>> sorted(p.name for p in paths)
['meta.json', 'results.csv', 'summary.csv']
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGES = ("interp", "torch", "transformers", "tokenizers", "numpy", "pandas")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository holding interp's code."""
    where = Path(directory) if directory else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return {"commit": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def run_metadata(hm: Any = None, *, model: str | None = None, revision: str | None = None,
                 seed: int | None = None, command: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """The facts needed to regenerate a result: model, revision, seed, versions, commit, command."""
    return {
        "model": model if model is not None else getattr(hm, "name", None),
        "revision": revision if revision is not None else getattr(hm, "revision", None),
        "seed": seed,
        "packages": package_versions(),
        "git": git_commit(),
        "command": list(command) if command is not None else list(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and a rename.

    The file ends with the permissions a plain ``open(path, "w")`` would give (the umask), not
    the temporary file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_table(path: str | Path, table: pd.DataFrame) -> Path:
    return atomic_write_text(path, table.to_csv(index=False))


def write_run(out: str | Path, results: pd.DataFrame, summary: pd.DataFrame, meta: dict[str, Any],
              extra: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write ``results.csv``, ``summary.csv``, any ``extra`` tables (``name.csv``) and ``meta.json``.

    Each file appears whole or not at all; ``meta.json`` is written last, so its presence
    means the tables beside it are complete.
    """
    out = Path(out)
    paths = [write_table(out / "results.csv", results), write_table(out / "summary.csv", summary)]
    paths += [write_table(out / f"{name}.csv", table) for name, table in (extra or {}).items()]
    paths.append(atomic_write_text(out / "meta.json", json.dumps(meta, indent=2, default=str) + "\n"))
    return paths
