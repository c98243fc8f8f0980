"""A CausalGym suite, whatever it is given as: task templates, or published rows.

What ``--suite`` (``interp causalgym``), an experiment file's ``suite`` key and
:func:`interp.eval.causal_efficacy` accept:

- ``builtin:NAME``, a template file (a JSON object of tasks) or a folder of them: sampled into
  splits (:mod:`interp.suites.sampling`);
- a rows file (format C: ``.json`` list, ``.jsonl``, ``.csv`` or ``.parquet``) whose rows carry a
  ``split`` field (``train``, ``dev``/``validation``, ``test``);
- a folder of rows files, one per split: ``train.*`` and ``test.*`` (``dev.*`` or
  ``validation.*`` optional), or a Hugging Face dataset snapshot (``data/train-*.parquet``);
- a Hugging Face dataset id (``owner/name``, or ``hf:owner/name``) that is not a local path, read
  with the ``datasets`` package from its local cache or the network.

Rows are used as given, in file order: ``sizes`` only caps each split (the first rows).

>>> tasks = open_suite("builtin:agreement", sizes=(8, 0, 4), tasks=["agr_sv_num_pp"])
>>> task = tasks["agr_sv_num_pp"]
>>> len(task.train), len(task.test), suite_kind("builtin:agreement")
(8, 4, 'templates')
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> paths = save_rows(folder, tasks)
>>> again = open_suite(folder)["agr_sv_num_pp"]
>>> again.to_frame().equals(task.to_frame()), again.types == task.types, suite_kind(folder)
(True, True, 'rows')
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from interp.errors import SuiteError
from interp.suites.builtins import resolve_suite_path
from interp.suites.causalgym import DEFAULT_SIZES, SPLITS, TaskSplits, load_templates, read_templates
from interp.suites.pairs import Pair
from interp.suites.rows import (
    SPLIT_NAMES,
    SUFFIXES,
    hub_records,
    records_of,
    row_pair,
    row_types,
    split_files,
    write_rows,
)

#: ``owner/name`` of a Hugging Face dataset (tried only when no such local path exists).
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def suite_kind(suite: str | Path) -> str:
    """``"templates"``, ``"rows"`` (a file or folder) or ``"hub"`` (a dataset id); a missing path is an error."""
    text = str(suite)
    if text.startswith("builtin:"):
        return "templates"
    if text.startswith("hf:"):
        return "hub"
    path = Path(text).expanduser()
    if path.is_dir():
        return "rows" if split_files(path) and not _template_folder(path) else "templates"
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".json":
            return "rows" if _holds_rows(path) else "templates"
        if suffix in SUFFIXES:
            return "rows"
        raise SuiteError(f"{text}: unknown file type {path.suffix or '(no suffix)'!r}; a CausalGym suite is a "
                         f"template file (.json) or rows ({', '.join(SUFFIXES)})")
    if HUB_ID.match(text):
        return "hub"
    raise SuiteError(f"{text}: no such file or folder")


def open_suite(suite: str | Path, *, seed: int = 0, sizes: Sequence[int] = DEFAULT_SIZES,
               tasks: Sequence[str] | None = None, strict: bool = False) -> dict[str, TaskSplits]:
    """Every task (or the named ``tasks``) of ``suite`` as :class:`~interp.suites.causalgym.TaskSplits`:
    templates sampled with ``seed``, ``sizes`` and ``strict``; rows as given (``sizes`` caps them)."""
    kind = suite_kind(suite)
    if kind == "templates":
        return load_templates(suite, seed=seed, sizes=tuple(sizes), tasks=list(tasks) if tasks is not None else None,
                              strict=strict)
    splits = _row_splits(suite, kind)
    found = _tasks_of(splits, str(suite))
    if tasks is not None:
        unknown = [t for t in tasks if t not in found]
        if unknown:
            raise SuiteError(f"{suite}: no task {unknown}; the tasks are: {', '.join(found)}")
        found = {t: found[t] for t in tasks}
    capped = dict(zip(SPLITS, sizes))
    for task in found.values():
        for split in SPLITS:
            setattr(task, split, getattr(task, split)[: capped[split]])
    return found


def suite_tasks(suite: str | Path) -> list[str]:
    """The task names of a suite, read without sampling (a bad file fails here, before any model loads)."""
    kind = suite_kind(suite)
    if kind == "templates":
        return list(read_templates(suite))
    return list(_tasks_of(_row_splits(suite, kind), str(suite)))


def suite_files(suite: str | Path) -> list[Path]:
    """The files a suite is read from (to hash them); ``[]`` for a dataset id."""
    kind = suite_kind(suite)
    if kind == "hub":
        return []
    path = resolve_suite_path(suite, "templates")
    if kind == "templates":
        return sorted(path.glob("*.json")) if path.is_dir() else [path]
    return [f for files in split_files(path).values() for f in files] if path.is_dir() else [path]


def save_rows(folder: str | Path, tasks: dict[str, TaskSplits]) -> list[Path]:
    """Write the tasks' pairs as ``FOLDER/{train,dev,test}.jsonl`` (published rows, non-empty splits):
    ``open_suite(FOLDER)`` gives the same pairs, types and label spans back."""
    splits = {split: [pair for task in tasks.values() for pair in getattr(task, split)] for split in SPLITS}
    return write_rows(folder, splits, types={name: task.types for name, task in tasks.items()})


# ------------------------------------------------------------------------------ rows
def _row_splits(suite: str | Path, kind: str) -> dict[str, list[tuple[dict, str, int]]]:
    """Each split's rows, with where each came from (file, index)."""
    text = str(suite)
    if kind == "hub":
        name = text[len("hf:"):] if text.startswith("hf:") else text
        return {split: [(row, f"{name} ({split})", i) for i, row in enumerate(rows)]
                for split, rows in hub_records(name).items()}
    path = Path(text).expanduser()
    if path.is_dir():
        files = split_files(path)
        missing = [s for s in ("train", "test") if s not in files]
        if missing:
            raise SuiteError(f"{path}: rows folder without a {' or '.join(missing)} split; it needs "
                             f"train.jsonl and test.jsonl (or .json, .csv, .parquet; dev is optional)")
        return {split: [(row, str(f), i) for f in paths for i, row in enumerate(records_of([f]))]
                for split, paths in files.items()}
    splits: dict[str, list[tuple[dict, str, int]]] = {}
    for index, row in enumerate(records_of([path])):
        split = row.get("split") if isinstance(row, dict) else None
        if split not in SPLIT_NAMES:
            raise SuiteError(f"{path}: row {index}: a single rows file needs a 'split' field on every row (train, "
                             f"dev or test), not {split!r}; or give a folder with train.jsonl and test.jsonl")
        splits.setdefault(SPLIT_NAMES[split], []).append((row, str(path), index))
    return splits


def _tasks_of(splits: dict[str, list[tuple[dict, str, int]]], where: str) -> dict[str, TaskSplits]:
    pairs: dict[str, dict[str, list[Pair]]] = {}
    types: dict[str, tuple[str, str]] = {}
    for split in SPLITS:
        for row, source, index in splits.get(split, []):
            pair = row_pair(row, index, source)
            pairs.setdefault(pair.task, {s: [] for s in SPLITS})[split].append(pair)
            types.setdefault(pair.task, row_types(row) or (pair.base_type, pair.src_type))
    if not pairs:
        raise SuiteError(f"{where}: the suite has no rows")
    for task, by_split in pairs.items():
        for pair in (p for rows in by_split.values() for p in rows):
            if {pair.base_type, pair.src_type} != set(types[task]):
                raise SuiteError(f"{where}: task {task!r} has types {pair.base_type!r} and {pair.src_type!r} in one "
                                 f"row and {types[task]} in another; a task has exactly two types")
    return {task: TaskSplits(task, types[task], *(by_split[s] for s in SPLITS)) for task, by_split in pairs.items()}


def _holds_rows(path: Path) -> bool:
    """A ``.json`` file is rows when it holds a list, ``{"rows": [...]}`` or JSON lines of rows;
    templates when it holds an object of tasks."""
    try:
        text = path.read_text(encoding="utf-8").lstrip()
    except (OSError, UnicodeDecodeError):
        return False  # the template reader names the problem
    if text[:1] == "[":
        return True
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:  # JSON lines: the first line is one row
            data = json.loads(text.splitlines()[0]) if text else None
        except json.JSONDecodeError:
            return False
        return isinstance(data, dict) and "base" in data
    return isinstance(data, dict) and isinstance(data.get("rows"), list)


def _template_folder(path: Path) -> bool:
    """A folder of template files has no rows files named by split (a ``test.json`` of tasks is a template)."""
    files = [f for fs in split_files(path).values() for f in fs]
    return all(f.suffix.lower() == ".json" and not _holds_rows(f) for f in files)


__all__ = ["HUB_ID", "open_suite", "save_rows", "suite_files", "suite_kind", "suite_tasks"]
