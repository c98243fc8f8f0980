"""Minimal-pair tasks for circuit discovery: clean and corrupted prompts of equal token length, the
answer on each (``target`` on clean, ``baseline`` on corrupted).

Built in (written for this project, offline): ``ioi`` (indirect object: "When Mary and John went to
the store, John gave a drink to" → " Mary", corrupted by a third name) and ``greater-than`` ("The war
lasted from the year 1732 to the year 17" → a year above 32; corrupted start year ending in 01; metric
over a single answer token pair). Any CausalGym suite (:func:`from_causalgym`) and pairs you pass
(:class:`Task` directly) work the same way.

>>> from interp.circuits.tasks import builtin_task
>>> task = builtin_task("ioi", n=4)
>>> len(task), task.clean[0]
(4, 'When Mary and John went to the store, John gave a drink to')
>>> task.target[0], task.baseline[0]
(' Mary', ' John')
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch
from interp.suites.causalgym import load_rows, load_templates
from interp.suites_common import single_token_id

NAMES = ["Mary", "John", "Tom", "Anna", "James", "Sarah", "David", "Laura", "Paul", "Emma"]
PLACES = ["store", "park", "school", "garden", "office"]
OBJECTS = ["drink", "book", "ball", "letter"]
EVENTS = ["war", "trip", "drought", "strike"]


@dataclass(frozen=True)
class Task:
    """``clean[i]`` and ``corrupted[i]`` tokenise to the same length; ``target[i]`` is the answer on
    clean, ``baseline[i]`` the answer on corrupted (one token each, text or id)."""

    name: str
    clean: tuple[str, ...]
    corrupted: tuple[str, ...]
    target: tuple[str | int, ...]
    baseline: tuple[str | int, ...]

    def __post_init__(self) -> None:
        sizes = {len(self.clean), len(self.corrupted), len(self.target), len(self.baseline)}
        if len(sizes) != 1:
            raise InputError(f"task {self.name!r}: clean, corrupted, target and baseline must have one entry per "
                             f"pair; got {len(self.clean)}, {len(self.corrupted)}, {len(self.target)}, "
                             f"{len(self.baseline)}")
        if not self.clean:
            raise InputError(f"task {self.name!r} has no pairs")

    def __len__(self) -> int:
        return len(self.clean)

    def subset(self, rows: Sequence[int]) -> Task:
        pick = lambda xs: tuple(xs[i] for i in rows)  # noqa: E731
        return Task(self.name, pick(self.clean), pick(self.corrupted), pick(self.target), pick(self.baseline))

    def encode(self, hm) -> tuple[Batch, Batch, Tensor]:
        """Clean and corrupted batches (right-padded) and the ``[pairs, 2]`` answer ids (target, baseline)."""
        clean, corrupted = hm.tokenize(list(self.clean)), hm.tokenize(list(self.corrupted))
        differ = (clean.lengths != corrupted.lengths).nonzero().flatten().tolist()
        if differ:
            i = differ[0]
            raise InputError(f"task {self.name!r}: pair {i} tokenises to {int(clean.lengths[i])} tokens clean "
                             f"({self.clean[i]!r}) and {int(corrupted.lengths[i])} corrupted ({self.corrupted[i]!r}); "
                             "edge attribution needs pairs of equal length (positions are aligned)")
        if clean.width != corrupted.width:
            raise InputError(f"task {self.name!r}: batches of different widths")
        ids = [[_token(hm, t), _token(hm, b)] for t, b in zip(self.target, self.baseline)]
        return clean, corrupted, torch.tensor(ids)


def _token(hm, token: str | int) -> int:
    return int(token) if isinstance(token, int) else single_token_id(hm.tokenizer, token)


def ioi(n: int = 32, seed: int = 0) -> Task:
    """Indirect object identification: the answer is the name that appears once."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b, c = rng.sample(NAMES, 3)
        place, thing = rng.choice(PLACES), rng.choice(OBJECTS)
        text = "When {} and {} went to the {}, {} gave a {} to"
        rows.append((text.format(a, b, place, b, thing), text.format(a, b, place, c, thing), f" {a}", f" {b}"))
    if seed == 0 and rows:  # a readable first example
        rows[0] = ("When Mary and John went to the store, John gave a drink to",
                   "When Mary and John went to the store, Tom gave a drink to", " Mary", " John")
    return _task("ioi", rows)


def greater_than(n: int = 32, seed: int = 0) -> Task:
    """Greater-than: "... from the year 1732 to the year 17" expects a year above 32; the corrupted start year
    ends in 01. The answers are the tens digit above (``target``) and below (``baseline``) the start year's."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        event, century, year = rng.choice(EVENTS), rng.choice(["16", "17", "18"]), rng.randint(20, 79)
        text = "The {} lasted from the year {}{:02d} to the year {}"
        rows.append((text.format(event, century, year, century), text.format(event, century, 1, century),
                     str(year // 10 + 1), str(year // 10 - 1)))
    return _task("greater-than", rows)


def _task(name: str, rows: list[tuple[str, str, str, str]]) -> Task:
    return Task(name, *(tuple(column) for column in zip(*rows)))


BUILTIN = {"ioi": ioi, "greater-than": greater_than}


def builtin_task(name: str, n: int = 32, seed: int = 0) -> Task:
    if name not in BUILTIN:
        raise InputError(f"unknown built-in circuit task {name!r}; the built-ins are {sorted(BUILTIN)}")
    return BUILTIN[name](n, seed)


def from_causalgym(suite: str, task: str | None = None, *, n: int = 32, seed: int = 0, split: str = "train") -> Task:
    """A CausalGym task (templates: a file, a folder or ``builtin:NAME``; or published rows) as minimal pairs:
    clean = base, corrupted = source, target = base label, baseline = source label."""
    try:
        tasks = {name: getattr(splits, split) for name, splits in load_templates(suite, seed=seed).items()}
    except InputError:
        tasks = load_rows(suite)
    if task is None:
        task = sorted(tasks)[0]
    if task not in tasks:
        raise InputError(f"suite {suite!r} has no task {task!r}; it has: {', '.join(sorted(tasks))}")
    pairs = list(tasks[task])[:n]
    return Task(task, tuple(p.base_text for p in pairs), tuple(p.src_text for p in pairs),
                tuple(p.base_label for p in pairs), tuple(p.src_label for p in pairs))


class UnequalLengthWarning(UserWarning):
    """Pairs whose clean and corrupted sides tokenise to different lengths were left out of a task."""


def same_length(hm, task: Task, *, warn: bool = True) -> Task:
    """The pairs of ``task`` whose clean and corrupted sides tokenise to the same length (edge attribution
    aligns positions). With ``warn``, an :class:`UnequalLengthWarning` gives how many were left out and the
    first of them."""
    lengths = [(len(hm.tokenizer(c)["input_ids"]), len(hm.tokenizer(k)["input_ids"]))
               for c, k in zip(task.clean, task.corrupted)]
    keep = [i for i, (a, b) in enumerate(lengths) if a == b]
    left_out = [i for i, (a, b) in enumerate(lengths) if a != b]
    example = ""
    if left_out:
        i = left_out[0]
        example = (f"e.g. pair {i}: {task.clean[i]!r} is {lengths[i][0]} tokens, {task.corrupted[i]!r} "
                   f"{lengths[i][1]}")
    if not keep:
        raise InputError(f"task {task.name!r}: no pair has clean and corrupted sides of equal token length ({example})")
    if left_out and warn:
        warnings.warn(f"task {task.name!r}: left out {len(left_out)} of {len(task)} pairs whose clean and corrupted "
                      f"sides tokenise to different lengths (positions must align), {example}",
                      UnequalLengthWarning, stacklevel=2)
    return task.subset(keep)


def from_file(path: str) -> Task:
    """Your pairs: a CSV or JSON (a list of objects, or JSON lines) with ``clean``, ``corrupted``, ``target``,
    ``baseline`` fields."""
    import pandas as pd

    try:
        table = pd.read_csv(path) if str(path).endswith(".csv") else pd.read_json(
            path, lines=str(path).endswith(".jsonl"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read pairs from {path}: {error}") from None
    missing = [c for c in ("clean", "corrupted", "target", "baseline") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)}; pairs need clean, corrupted, target, baseline")
    return Task(str(path), *(tuple(str(v) for v in table[c]) for c in ("clean", "corrupted", "target", "baseline")))
