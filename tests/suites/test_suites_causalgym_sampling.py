"""Sampling templates whose fillers cannot keep the splits apart: the published bounded redraw with a
warning naming the task and the overlap, or (strict) an error; tasks with enough fillers are untouched."""

from __future__ import annotations

import warnings

import pytest
from conftest import FIXTURES

from interp.errors import SuiteError
from interp.suites import causalgym
from interp.suites.sampling import REDRAWS, SplitOverlapWarning, train_overlap

CLEFT = FIXTURES / "causalgym_cleft.json"  # 5 distinct pseudo-cleft sentences, as the published 'cleft' has ~25
TEMPLATES = FIXTURES / "causalgym_templates.json"
SIZES = (40, 10, 10)


def _sentences(rows):
    return {text for pair in rows for text in (pair.base_text, pair.src_text)}


def test_too_few_fillers_keep_colliding_pairs_with_a_warning_naming_task_and_share():
    with pytest.warns(SplitOverlapWarning, match=r"causalgym_cleft\.json: task 'cleft_fixture' has too few fillers"
                                                 r".*after 20 redraws.*so (\d+\.\d)% of its dev/test rows") as caught:
        task = causalgym.load_templates(CLEFT, seed=0, sizes=SIZES)["cleft_fixture"]
    assert issubclass(SplitOverlapWarning, UserWarning) and REDRAWS == 20
    assert (len(task.train), len(task.dev), len(task.test)) == SIZES
    share = task.train_overlap()
    assert 0.5 <= share < 1                                    # every pseudo-cleft sentence is also a training one
    assert f"{share:.1%} of its dev/test rows" in str(caught[0].message)
    held_out = task.dev + task.test
    seen = _sentences(task.train)
    assert share == sum(p.base_text in seen for p in held_out) / len(held_out)
    for split in (task.train, task.dev, task.test):           # still units of a pair and its swapped copy
        assert all(swapped == pair.swapped() for pair, swapped in zip(split[::2], split[1::2]))


def test_the_redraw_is_deterministic_and_strict_is_the_old_error():
    with pytest.warns(SplitOverlapWarning):
        first = causalgym.load_templates(CLEFT, seed=1, sizes=SIZES)["cleft_fixture"]
    with pytest.warns(SplitOverlapWarning):
        again = causalgym.load_templates(CLEFT, seed=1, sizes=SIZES)["cleft_fixture"]
    assert first.to_frame().equals(again.to_frame())
    with pytest.raises(SuiteError, match=r"task 'cleft_fixture' yields only \d+ of 10 distinct dev rows after \d+ "
                                         r"draws; add fillers .*or leave strict splits off"):
        causalgym.load_templates(CLEFT, seed=1, sizes=SIZES, strict=True)


def test_tasks_with_enough_fillers_are_sampled_as_before_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", SplitOverlapWarning)
        lenient = causalgym.load_templates(TEMPLATES, seed=2, sizes=(60, 20, 20))
    strict = causalgym.load_templates(TEMPLATES, seed=2, sizes=(60, 20, 20), strict=True)
    for name, task in lenient.items():
        assert task.to_frame().equals(strict[name].to_frame())
        assert task.train_overlap() == 0.0
        assert not _sentences(task.test) & _sentences(task.train)


def test_overlap_share_of_splits_without_held_out_rows_is_none():
    task = causalgym.load_templates(TEMPLATES, seed=0, sizes=(8, 0, 0), tasks=["agr_fixture"])["agr_fixture"]
    assert task.train_overlap() is None and train_overlap({"train": task.train}) is None
