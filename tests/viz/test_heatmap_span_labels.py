"""Heat-maps label positions with the span's words (``near``, ``dog/dogs/…``), as the CausalGym paper's do,
not with span indices: ``meta.json`` records ``span_labels`` per task, ``interp causalgym`` and
``interp report`` draw them."""

from __future__ import annotations

import io
import json
import re

import pytest
from conftest import AGREEMENT_SMALL

from interp.cli import main

TASK = AGREEMENT_SMALL


@pytest.fixture(scope="module")
def out(tiny_llama_dir, suite, tmp_path_factory):
    out = tmp_path_factory.mktemp("labels") / "out"
    argv = ["causalgym", "--model", str(tiny_llama_dir), "--suite", str(suite), "--methods", "mean",
            "--layers", "0", "--no-control", "--n-train", "4", "--n-test", "3", "--n-boot", "10", "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", io.StringIO())
        assert main(argv) == 0
    return out


def heatmap_x(out) -> list[str]:
    text = (out / "figures" / "heatmaps.html").read_text(encoding="utf-8")
    return json.loads(re.search(r'"x":(\[[^\]]*\])', text).group(1))


def test_meta_records_each_spans_words(out):
    labels = json.loads((out / "meta.json").read_text())["span_labels"]["agr"]
    spans = json.loads((out / "meta.json").read_text())["spans"]["agr"]
    assert sorted(map(int, labels)) == spans
    assert labels["2"] == "near the"                                 # a literal span: its words
    assert re.fullmatch(r"\w+/\w+/\w+/…", labels["1"])               # the subject: its commonest fillers
    assert set(labels["3"].split("/")) <= {"house", "table", "forest", "door"}


def test_heatmaps_show_words_not_indices(out):
    labels = json.loads((out / "meta.json").read_text())["span_labels"]["agr"]
    assert heatmap_x(out) == list(labels.values())
    (out / "figures" / "heatmaps.html").unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", io.StringIO())
        assert main(["report", str(out)]) == 0
    assert heatmap_x(out) == list(labels.values())                 # the report draws the same labels
