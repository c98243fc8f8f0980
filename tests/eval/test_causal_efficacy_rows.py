"""``causal_efficacy`` on published rows, without hand-built ``TaskSplits``: a run's own ``rows/``
(with the control task, whose labels follow the saved type order) reruns to the same tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import AGREEMENT_LARGE

import interp
from interp.eval import causal_efficacy
from interp.suites.causalgym_source import open_suite

TASK = AGREEMENT_LARGE
SMALL = dict(methods=["das", "probe", "mean"], layers=[0], n_train=8, n_test=8, das_steps=2, n_boot=50,
             control_labels=(" dog", " house"))


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


def test_rows_of_a_run_rerun_to_the_same_tables_with_the_control_task(hm, suite, tmp_path):
    first = causal_efficacy(hm, suite, out=tmp_path / "first", **SMALL)
    rows = tmp_path / "first" / "rows"
    saved = open_suite(rows)["agr"]
    assert saved.types == ("sg", "pl") and len(saved.train) == 8 and len(saved.test) == 8
    again = causal_efficacy(hm, rows, out=tmp_path / "again", **SMALL)
    pd.testing.assert_frame_equal(first.results.drop(columns="suite"), again.results.drop(columns="suite"))
    pd.testing.assert_frame_equal(first.summary.drop(columns="suite", errors="ignore"),
                                  again.summary.drop(columns="suite", errors="ignore"))
    assert first.results.control.any()
    meta = json.loads((tmp_path / "again" / "meta.json").read_text())
    assert meta["split_overlap"] == {"agr": 0.0} and meta["suite"] == "rows"


def test_rows_are_capped_by_n_train_and_n_test(hm, suite, tmp_path):
    causal_efficacy(hm, suite, out=tmp_path / "big", **{**SMALL, "n_train": 12, "methods": ["mean"]})
    small = causal_efficacy(hm, tmp_path / "big" / "rows", **{**SMALL, "n_train": 4, "n_test": 4,
                                                              "methods": ["mean"]})
    assert set(small.results.n) == {4}
