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
appears in train, and dev and test share none either.

``load_rows(path)`` reads a JSON list (or JSON lines) of published rows and strips the
original model's BOS marker (e.g. ``<|endoftext|>``) from the first span; encoding a pair then
puts the BOS of the tokenizer at hand in front (see :func:`interp.suites.alignment.context_ids`).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import SuiteError
from interp.suites.builtins import resolve_suite_path
from interp.suites.pairs import CONTROL_LABELS, EncodedPair, Pair, pairs_frame
from interp.suites.templates import TaskTemplate

SPLITS = ("train", "dev", "test")
DEFAULT_SIZES = (400, 100, 100)
BOS_MARKER = re.compile(r"^(<\|[^|<>\s]+\|>|<s>|<bos>|<BOS>|\[CLS\])")


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
                   tasks: list[str] | None = None, control: bool = False) -> dict[str, TaskSplits]:
    """Sample every task (or the named ``tasks``) of a template file into train/dev/test pairs."""
    templates = read_templates(path)
    if tasks is not None:
        unknown = [t for t in tasks if t not in templates]
        if unknown:
            raise SuiteError(f"{path}: no task {unknown}; the tasks are: {', '.join(templates)}")
        templates = {t: templates[t] for t in tasks}
    out = {name: sample_task(template, seed=seed, sizes=sizes) for name, template in templates.items()}
    return {name: splits.control() for name, splits in out.items()} if control else out


def sample_task(template: TaskTemplate, *, seed: int = 0, sizes: tuple[int, int, int] = DEFAULT_SIZES,
                max_tries: int = 50) -> TaskSplits:
    """Draw ``sizes`` rows per split as units of (pair, swapped pair), keeping splits apart."""
    rng = random.Random(f"{seed}:{template.name}")
    result = TaskSplits(template.name, template.types)
    taken: set[str] = set()  # sentences of earlier splits
    for split, size in zip(SPLITS, sizes):
        rows: list[Pair] = []
        mine: set[str] = set()
        units: set[tuple[str, str]] = set()
        tries = 0
        while len(rows) < size:
            tries += 1
            if tries > max_tries * max(size, 1):
                raise SuiteError(
                    f"{template.source}: task {template.name!r} yields only {len(rows)} of {size} distinct "
                    f"{split} rows after {tries - 1} draws; add fillers (or ask for fewer pairs)"
                )
            pair = template.draw(rng)
            key = tuple(sorted((pair.base_text, pair.src_text)))
            if key in units or pair.base_text in taken or pair.src_text in taken:
                continue
            units.add(key)
            mine.update(key)
            rows.extend([pair, pair.swapped()][: size - len(rows)])
        taken |= mine
        setattr(result, split, rows)
    return result


# ------------------------------------------------------------------------------ dataset rows
_ROW_FIELDS = {"base": list, "src": list, "base_type": str, "src_type": str, "base_label": str,
               "src_label": str, "task": str}


def load_rows(path: str | Path) -> dict[str, list[Pair]]:
    """Published CausalGym rows grouped by task (in file order), BOS markers removed."""
    path = Path(path)
    rows = _read_rows(path)
    grouped: dict[str, list[Pair]] = {}
    for index, row in enumerate(rows):
        pair = _row_pair(row, index, path)
        grouped.setdefault(pair.task, []).append(pair)
    return grouped


def strip_bos_marker(span: str) -> str:
    """``"<|endoftext|>The"`` -> ``"The"``: the original model's BOS is not text for another tokenizer."""
    return BOS_MARKER.sub("", span, count=1)


def _row_pair(row: Any, index: int, path: Path) -> Pair:
    where = f"{path}: row {index}"
    if not isinstance(row, dict):
        raise SuiteError(f"{where}: must be an object, not {type(row).__name__}")
    if isinstance(row.get("task"), str):
        where += f" (task {row['task']!r})"
    for name, kind in _ROW_FIELDS.items():
        if name not in row:
            raise SuiteError(f"{where}: field {name!r} is missing")
        if not isinstance(row[name], kind):
            raise SuiteError(f"{where}: field {name!r} must be a {kind.__name__}, not {type(row[name]).__name__}")
    for side in ("base", "src"):
        if not row[side] or not all(isinstance(s, str) for s in row[side]):
            raise SuiteError(f"{where}: field {side!r} must be a non-empty list of strings")
    if len(row["base"]) != len(row["src"]):
        raise SuiteError(f"{where}: fields 'base' and 'src' must align: {len(row['base'])} spans "
                         f"vs {len(row['src'])}")
    base = [strip_bos_marker(row["base"][0]), *row["base"][1:]]
    src = [strip_bos_marker(row["src"][0]), *row["src"][1:]]
    return Pair(tuple(base), tuple(src), row["base_type"], row["src_type"], row["base_label"],
                row["src_label"], row["task"])


def _read_rows(path: Path) -> list:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole_error:
        try:  # JSON lines
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise SuiteError(f"{path}: not valid JSON (line {whole_error.lineno}, column {whole_error.colno}: "
                             f"{whole_error.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list):
        raise SuiteError(f"{path}: CausalGym rows must be a JSON list of objects, not {type(data).__name__}")
    return data



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
