"""Read CausalGym data: task templates (format B) and published dataset rows (format C).

>>> from interp.suites import causalgym
>>> tasks = causalgym.load_templates("builtin:agreement", seed=0, sizes=(40, 10, 10))
>>> task = tasks["agr_sv_num_pp"]
>>> len(task.train), len(task.dev), len(task.test)
(40, 10, 10)
>>> control = task.control()                    # same sentences, labels " dog" / " give"
>>> sorted({p.base_label for p in control.test})
[' dog', ' give']

Sampling is deterministic in ``seed`` (and independent of the other tasks in the file). Pairs
come in units of a pair and its swapped copy; no sentence (base or source) of dev or test
appears in train, and dev and test share none either, where the fillers allow; where they do
not, colliding pairs are kept after a bounded redraw, with a warning (``strict=True``: an error;
see :mod:`interp.suites.sampling`).

``load_rows(path)`` reads published rows (a JSON list, JSON lines, CSV or Parquet) and strips the
original model's BOS marker (e.g. ``<|endoftext|>``) from the first span; encoding a pair then
puts the BOS of the tokenizer at hand in front (see :func:`interp.suites.alignment.context_ids`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import SuiteError
from interp.suites.builtins import resolve_suite_path
from interp.suites.pairs import CONTROL_LABELS, EncodedPair, Pair, pairs_frame
from interp.suites.rows import BOS_MARKER, read_records, row_pair, strip_bos_marker
from interp.suites.sampling import SPLITS, SplitOverlapWarning, draw_splits, train_overlap
from interp.suites.templates import TaskTemplate

DEFAULT_SIZES = (400, 100, 100)


@dataclass
class TaskSplits:
    """The pairs of one task, split three ways. ``types`` are the two feature values."""

    task: str
    types: tuple[str, str]
    train: list[Pair] = field(default_factory=list)
    dev: list[Pair] = field(default_factory=list)
    test: list[Pair] = field(default_factory=list)
    control_task: bool = False

    def split(self, name: str) -> list[Pair]:
        if name == "validation":
            name = "dev"
        if name not in SPLITS:
            raise SuiteError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def control(self, labels: tuple[str, str] = CONTROL_LABELS) -> TaskSplits:
        """The control task: the same pairs, the first type labelled `` dog``, the second `` give``."""
        relabel = [[p.relabelled(self.types, labels) for p in getattr(self, s)] for s in SPLITS]
        return TaskSplits(self.task, self.types, *relabel, control_task=True)

    def encode(self, tokenizer, split: str = "test", **kwargs) -> list[EncodedPair]:
        return [pair.encode(tokenizer, **kwargs) for pair in self.split(split)]

    def train_overlap(self) -> float | None:
        """Share of the dev/test rows whose sentence is also a training sentence (None: no dev/test rows)."""
        return train_overlap({s: getattr(self, s) for s in SPLITS})

    def to_frame(self) -> pd.DataFrame:
        frames = [pairs_frame(getattr(self, s)).assign(split=s) for s in SPLITS if getattr(self, s)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def __repr__(self) -> str:
        kind = ", control" if self.control_task else ""
        return (f"TaskSplits({self.task!r}, types={self.types}, train={len(self.train)}, dev={len(self.dev)}, "
                f"test={len(self.test)}{kind})")


# ------------------------------------------------------------------------------ templates
def read_templates(path: str | Path) -> dict[str, TaskTemplate]:
    """The validated task templates of a file, a folder of files, or ``builtin:NAME``."""
    resolved = resolve_suite_path(path, "templates")
    files = sorted(resolved.glob("*.json")) if resolved.is_dir() else [resolved]
    tasks: dict[str, TaskTemplate] = {}
    for file in files:
        data = _read_json(file)
        if not isinstance(data, dict) or not data:
            raise SuiteError(f"{file}: a template file must be an object mapping task names to tasks")
        for name, raw in data.items():
            if name in tasks:
                raise SuiteError(f"{file}: task {name!r} is also defined in {tasks[name].source}")
            tasks[name] = TaskTemplate.from_dict(name, raw, str(file))
    return tasks


def load_templates(path: str | Path, *, seed: int = 0, sizes: tuple[int, int, int] = DEFAULT_SIZES,
                   tasks: list[str] | None = None, control: bool = False,
                   strict: bool = False) -> dict[str, TaskSplits]:
    """Sample every task (or the named ``tasks``) of a template file into train/dev/test pairs.

    Splits are kept apart where the fillers allow; where they do not, colliding pairs are kept after
    a bounded redraw with a :class:`~interp.suites.sampling.SplitOverlapWarning`, or, with
    ``strict=True``, it is a :class:`~interp.errors.SuiteError` (see :mod:`interp.suites.sampling`).
    """
    templates = read_templates(path)
    if tasks is not None:
        unknown = [t for t in tasks if t not in templates]
        if unknown:
            raise SuiteError(f"{path}: no task {unknown}; the tasks are: {', '.join(templates)}")
        templates = {t: templates[t] for t in tasks}
    out = {name: sample_task(template, seed=seed, sizes=sizes, strict=strict) for name, template in templates.items()}
    return {name: splits.control() for name, splits in out.items()} if control else out


def sample_task(template: TaskTemplate, *, seed: int = 0, sizes: tuple[int, int, int] = DEFAULT_SIZES,
                max_tries: int = 50, strict: bool = False) -> TaskSplits:
    """Draw ``sizes`` rows per split as units of (pair, swapped pair) by :func:`~interp.suites.sampling.draw_splits`."""
    splits = draw_splits(template, seed=seed, sizes=sizes, strict=strict, max_tries=max_tries)
    return TaskSplits(template.name, template.types, splits["train"], splits["dev"], splits["test"])


# ------------------------------------------------------------------------------ dataset rows
def load_rows(path: str | Path) -> dict[str, list[Pair]]:
    """Published CausalGym rows (JSON, JSON lines, CSV or Parquet) grouped by task (in file order),
    BOS markers removed. A whole suite of rows (a folder of splits, a dataset id):
    :func:`interp.suites.causalgym_source.open_suite`."""
    path = Path(path)
    grouped: dict[str, list[Pair]] = {}
    for index, row in enumerate(read_records(path)):
        pair = row_pair(row, index, path)
        grouped.setdefault(pair.task, []).append(pair)
    return grouped


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteError(f"{path}: cannot read: {error.strerror or error}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None


__all__ = ["BOS_MARKER", "DEFAULT_SIZES", "SPLITS", "SplitOverlapWarning", "TaskSplits", "load_rows",
           "load_templates", "read_templates", "sample_task", "strip_bos_marker"]
