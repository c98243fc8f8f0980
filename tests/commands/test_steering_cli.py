"""``interp steer`` on a tiny model saved to disk: the output folder, the printed summary, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from interp.cli import main

CONTRAST = {
    "name": "toy",
    "positive": ["I love this film", "a wonderful happy day"],
    "negative": ["I hate this film", "an awful sad day"],
    "prompts": ["The movie was", "I went to the store and", "It"],
    "words": {"positive": ["love", "good"], "negative": ["hate", "bad"]},
}


@pytest.fixture
def contrast_file(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(CONTRAST))
    return path


def test_steer_command_writes_the_output_folder(tiny_llama_dir, contrast_file, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["steer", "--model", str(tiny_llama_dir), "--contrast", str(contrast_file), "--layer", "0,1",
            "--coefficients", "-2,0,2", "--max-new-tokens", "3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "coefficient" in printed and "perplexity" in printed and "'toy'" in printed
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"results.csv", "summary.csv", "generations.csv", "meta.json", "figures/steering_curves.html",
            "vectors/layer_0/config.json", "vectors/layer_1/config.json"} <= files
    generations = pd.read_csv(out / "generations.csv")
    assert len(generations) == 2 * 3 * 3
    assert set(generations.coefficient) == {-2.0, 0.0, 2.0} and set(generations.layer) == {0, 1}
    summary = pd.read_csv(out / "summary.csv")
    assert {"behaviour", "target", "opposite", "perplexity", "distinct_2"} <= set(summary.metric)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["evaluator"] == "steering" and meta["layers"] == [0, 1] and meta["coefficients"] == [-2.0, 0.0, 2.0]
    assert meta["contrast"] == str(contrast_file) and meta["model"] == str(tiny_llama_dir) and meta["seed"] == 0


def test_steer_command_reads_prompts_from_a_file(tiny_llama_dir, contrast_file, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Once upon a time\n\nThe weather\n")
    out = tmp_path / "run"
    assert main(["steer", "--model", str(tiny_llama_dir), "--contrast", str(contrast_file), "--layer", "1",
                 "--coefficients", "0", "--max-new-tokens", "2", "--prompts", str(prompts), "--out", str(out)]) == 0
    assert pd.read_csv(out / "generations.csv").prompt_text.tolist() == ["Once upon a time", "The weather"]


@pytest.mark.parametrize("extra, message", [
    (["--contrast", "builtin:nope"], "no built-in contrast set 'nope'"),
    (["--coefficients", "1,x"], "cannot read coefficients '1,x'"),
    (["--prompts", "/nonexistent/prompts.txt"], "cannot read the prompts"),
])
def test_steer_command_reports_bad_input_before_loading_a_model(tmp_path, capsys, extra, message):
    argv = ["steer", "--model", str(tmp_path / "no-model"), "--out", str(tmp_path / "out"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_steer_command_reports_a_layer_outside_the_model(tiny_llama_dir, contrast_file, tmp_path, capsys):
    argv = ["steer", "--model", str(tiny_llama_dir), "--contrast", str(contrast_file), "--layer", "7",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "layer [7] outside the model: the model has 2 layers" in capsys.readouterr().err
