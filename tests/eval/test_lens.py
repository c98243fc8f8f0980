"""The logit lens and the tuned lens on tiny models; the CLI on the embedded model (slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import interp
from interp.eval.lens import TunedLens, logit_lens, train_tuned_lens


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "gemma2", "granite"])  # plain, soft-cap, multiplier
def test_the_last_layer_of_the_lens_is_the_model_output(model_type):
    hm = interp.models.tiny(model_type)
    lens = logit_lens(hm, "The keys to the", target=" dog", k=3)
    expected = hm.run(lens.batch).logits[0].float().softmax(-1)
    torch.testing.assert_close(lens.probabilities[-1], expected, atol=1e-5, rtol=1e-4)
    table = lens.table()
    assert len(table) == hm.n_layers * lens.batch.width and table.target_rank.min() >= 1
    last = table[table.layer == hm.n_layers - 1].iloc[-1]
    assert last.top_token == hm.to_string([int(expected[-1].argmax())])
    assert lens.figure().data[0].z.shape == (hm.n_layers, lens.batch.width)


def test_tuned_lens_trains_saves_and_loads(tmp_path):
    hm = interp.models.tiny("gpt2")
    untrained = TunedLens(hm.n_layers, hm.d_model)
    plain = logit_lens(hm, "The keys to the")
    torch.testing.assert_close(logit_lens(hm, "The keys to the", lens=untrained).probabilities, plain.probabilities)
    lens = train_tuned_lens(hm, ["The keys to the cabinet", "A dog near the house"], steps=3, lr=1e-2)
    path = lens.save(tmp_path / "lens.safetensors")
    loaded = TunedLens.load(path)
    tuned = logit_lens(hm, "The keys to the", lens=loaded).probabilities
    torch.testing.assert_close(tuned, logit_lens(hm, "The keys to the", lens=lens).probabilities)
    assert not torch.allclose(tuned[0], plain.probabilities[0]) and torch.equal(tuned[-1], plain.probabilities[-1])


@pytest.mark.slow
def test_the_lens_command_on_the_embedded_model(tmp_path, embedded):
    out = tmp_path / "lens"
    done = subprocess.run([sys.executable, "-m", "interp.cli", "lens", "The capital of France is", "--target",
                           " Paris", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for name in ("results.csv", "summary.csv", "meta.json", "figures/lens.html"):
        assert (out / name).is_file(), name
    assert json.loads((out / "meta.json").read_text())["evaluator"] == "lens"
    header = (out / "results.csv").read_text().splitlines()[0]
    assert "target_probability" in header and "target_rank" in header
