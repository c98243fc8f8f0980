"""How a CausalGym task template is sampled into train/dev/test rows, and what happens when its
fillers cannot keep the splits apart.

Rows come in *units*: a pair and its swapped copy. A unit is **clean** when it repeats no unit of
its own split and shares no sentence with an earlier split (dev and test against train, test
against dev). The policy:

1. **Kept apart, if the fillers allow.** Draw units until each split is full of clean units (at
   most ``max_tries`` draws per row). Every built-in suite samples this way.
2. **Otherwise, the published protocol's bounded redraw.** If step 1 runs out of draws, the task
   is sampled again, and a unit that is not clean is redrawn up to :data:`REDRAWS` (20) times and
   then kept, as the original CausalGym code does. A :class:`SplitOverlapWarning` names the task and
   the share of its dev/test rows whose sentence is also a training sentence
   (:func:`train_overlap`; ``interp causalgym`` records it in ``meta.json`` as ``split_overlap``).
3. **Strict.** ``strict=True`` (``strict_splits`` in a config or an experiment file,
   ``--strict-splits`` on the command line) makes step 2 an error instead.

>>> from interp.suites.templates import TaskTemplate
>>> tiny = TaskTemplate.from_dict("tiny", {"templates": ["The {n} near the {o}"], "label": "n",
...     "labels": {"a": ["is"], "b": ["are"]},
...     "variables": {"n": {"a": ["dog"], "b": ["dogs"]}, "o": ["car", "house", "tree"]}})
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     splits = draw_splits(tiny, seed=0, sizes=(4, 2, 2))
>>> [len(rows) for rows in splits.values()], caught[0].category.__name__
([4, 2, 2], 'SplitOverlapWarning')
>>> draw_splits(tiny, seed=0, sizes=(4, 2, 2), strict=True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.SuiteError: <memory>: task 'tiny' yields only 0 of 2 distinct test rows after 100 draws; add fillers ...
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence

from interp.errors import SuiteError
from interp.suites.pairs import Pair
from interp.suites.templates import TaskTemplate

SPLITS = ("train", "dev", "test")
#: Draws of a unit that is not clean before it is kept anyway (the published protocol's bound).
REDRAWS = 20


class SplitOverlapWarning(UserWarning):
    """A task's fillers could not keep its splits apart: some dev/test sentences are training sentences too."""


class _TooFewFillers(Exception):
    pass


def draw_splits(template: TaskTemplate, *, seed: int = 0, sizes: Sequence[int] = (400, 100, 100),
                strict: bool = False, max_tries: int = 50) -> dict[str, list[Pair]]:
    """``{"train": rows, "dev": rows, "test": rows}`` of ``sizes`` rows, by the policy above."""
    try:
        return _kept_apart(template, seed, sizes, max_tries)
    except _TooFewFillers as error:
        if strict:
            raise SuiteError(f"{error}; add fillers (or ask for fewer pairs), or leave strict splits off to keep "
                             "colliding pairs as the published protocol does") from None
    splits = _redrawn(template, seed, sizes)
    share = train_overlap(splits)
    repeated = sum(len(rows) - len({(p.base_text, p.src_text) for p in rows}) for rows in splits.values())
    detail = f"{share:.1%} of its dev/test rows" if share is not None else "none of its dev/test rows"
    warnings.warn(f"{template.source}: task {template.name!r} has too few fillers to keep its splits apart: "
                  f"after {REDRAWS} redraws a colliding pair is kept (as the published protocol does), so {detail} "
                  f"have a sentence that is also in training ({repeated} rows repeat a pair of their split); "
                  "strict_splits=True (--strict-splits) makes this an error", SplitOverlapWarning, stacklevel=4)
    return splits


def train_overlap(splits: dict[str, Sequence[Pair]]) -> float | None:
    """Share of the dev and test rows whose base sentence is also a training sentence (None: no such rows).

    Rows come with their swapped copies, so this is also the share of dev/test sentences seen in training.
    """
    seen = {text for pair in splits.get("train", ()) for text in (pair.base_text, pair.src_text)}
    held_out = [pair for split in ("dev", "test") for pair in splits.get(split, ())]
    if not held_out:
        return None
    return sum(pair.base_text in seen for pair in held_out) / len(held_out)


def _unit(pair: Pair) -> tuple[str, str]:
    return tuple(sorted((pair.base_text, pair.src_text)))  # type: ignore[return-value]


def _kept_apart(template: TaskTemplate, seed: int, sizes: Sequence[int], max_tries: int) -> dict[str, list[Pair]]:
    """Clean units only; :class:`_TooFewFillers` when ``max_tries`` draws per row do not fill a split."""
    rng = random.Random(f"{seed}:{template.name}")
    splits: dict[str, list[Pair]] = {}
    taken: set[str] = set()  # sentences of earlier splits
    for split, size in zip(SPLITS, sizes):
        rows: list[Pair] = []
        units: set[tuple[str, str]] = set()
        tries = 0
        while len(rows) < size:
            tries += 1
            if tries > max_tries * max(size, 1):
                raise _TooFewFillers(f"{template.source}: task {template.name!r} yields only {len(rows)} of {size} "
                                     f"distinct {split} rows after {tries - 1} draws")
            pair = template.draw(rng)
            key = _unit(pair)
            if key in units or pair.base_text in taken or pair.src_text in taken:
                continue
            units.add(key)
            rows.extend([pair, pair.swapped()][: size - len(rows)])
        taken.update(text for key in units for text in key)
        splits[split] = rows
    return splits


def _redrawn(template: TaskTemplate, seed: int, sizes: Sequence[int]) -> dict[str, list[Pair]]:
    """Each unit redrawn up to :data:`REDRAWS` times while it is not clean, then kept."""
    rng = random.Random(f"{seed}:{template.name}")
    splits: dict[str, list[Pair]] = {}
    taken: set[str] = set()
    for split, size in zip(SPLITS, sizes):
        rows: list[Pair] = []
        units: set[tuple[str, str]] = set()
        while len(rows) < size:
            for _ in range(REDRAWS + 1):
                pair = template.draw(rng)
                key = _unit(pair)
                if key not in units and pair.base_text not in taken and pair.src_text not in taken:
                    break
            units.add(key)
            rows.extend([pair, pair.swapped()][: size - len(rows)])
        taken.update(text for key in units for text in key)
        splits[split] = rows
    return splits


__all__ = ["REDRAWS", "SPLITS", "SplitOverlapWarning", "draw_splits", "train_overlap"]
