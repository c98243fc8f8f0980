"""``interp report`` knows steering and recall folders: it rebuilds their summary and figures from the
files alone (no model load), also a steering sweep that stopped half-way (from its finished batches)."""

from __future__ import annotations

import pandas as pd
import pytest

import interp
import interp.models.loading
from interp.cli import main
from interp.eval.steering import steering_sweep
from interp.experiments.report import folder_kind, rebuild

CONTRAST = {"positive": ["I love it", "so good"], "negative": ["I hate it", "so bad"],
            "prompts": ["The movie was", "I went"], "words": {"positive": ["love"], "negative": ["hate"]}}


@pytest.fixture(scope="module")
def steering_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("steer")
    result = steering_sweep(interp.models.tiny("llama", seed=0), CONTRAST, layers=[0], coefficients=[0.0, 1.0],
                            max_new_tokens=3, batch_size=2, out=out)
    result.write(out, {"evaluator": "steering"})
    return out, result


def test_report_rebuilds_a_steering_folder(steering_folder, monkeypatch, capsys):
    out, result = steering_folder
    monkeypatch.setattr(interp.models.loading, "load_model_and_tokenizer",
                        lambda *a, **k: pytest.fail("report must not load a model"))
    (out / "figures" / "steering_curves.html").unlink()
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rebuilt (steering)" in printed and "behaviour" in printed
    assert (out / "figures" / "steering_curves.html").is_file()
    rebuilt = rebuild(out, figures=False).summary
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), result.summary.reset_index(drop=True),
                                  check_dtype=False)


def test_an_unfinished_steering_folder_is_steering_not_causalgym(steering_folder, tmp_path):
    out, _ = steering_folder
    half = tmp_path / "half"
    (half / "units").mkdir(parents=True)
    for path in (out / "units").glob("*.json"):
        if path.name in ("config.json", "layer0__rows0.json"):
            (half / "units" / path.name).write_text(path.read_text())
    assert folder_kind(half) == "steering"
    report = rebuild(half, figures=False)
    assert report.notes and "has not finished" in report.notes[0]
    assert set(report.summary.coefficient) == {0.0}            # the first batch: two prompts at coefficient 0


def test_report_rebuilds_a_recall_folder(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "recall"
    assert main(["recall", "--model", str(tiny_llama_dir), "--heads", "1.0", "--factors=0,1", "--n-facts", "4",
                 "--all-facts", "--max-new-tokens", "2", "--out", str(out)]) == 0
    before = pd.read_csv(out / "summary.csv")
    for page in (out / "figures").glob("*.html"):
        page.unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "rebuilt (recall)" in capsys.readouterr().out
    assert {p.name for p in (out / "figures").glob("*.html")} == {"head_attribution.html", "head_scaling.html"}
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), before)
