"""Steering sweeps resume after an interruption: a sweep that raises mid-way keeps its finished batches
in ``out/units/``; the rerun skips them and gives the tables of an uninterrupted sweep. Other settings
into the same folder are an error. ``progress=True`` writes no bar when stderr is not a terminal."""

from __future__ import annotations

import pandas as pd
import pytest

import interp
import interp.eval.steering as steering
from interp.errors import InputError
from interp.eval.steering import steering_sweep

CONTRAST = {"positive": ["I love it", "so good"], "negative": ["I hate it", "so bad"],
            "prompts": ["The movie was", "I went", "She said"], "words": {"positive": ["love"], "negative": ["hate"]}}
SETTINGS = {"layers": [0, 1], "coefficients": [-1.0, 0.0, 1.0], "max_new_tokens": 3, "batch_size": 4}


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama", seed=0)


def test_an_interrupted_sweep_resumes_where_it_stopped(hm, tmp_path, monkeypatch, capfd):
    whole = steering_sweep(hm, CONTRAST, **SETTINGS)
    calls, real = [0], steering.steered_generate

    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 4:                               # 9 rows per layer in batches of 4: 3 batches a layer
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(steering, "steered_generate", failing)
    with pytest.raises(KeyboardInterrupt):
        steering_sweep(hm, CONTRAST, out=tmp_path, progress=True, **SETTINGS)
    assert len(list((tmp_path / "units").glob("layer*.json"))) == 3   # layer 0's batches, kept

    calls[0] = 0
    resumed = steering_sweep(hm, CONTRAST, out=tmp_path, progress=True, **SETTINGS)
    assert calls[0] == 3                                             # only layer 1 ran again
    pd.testing.assert_frame_equal(resumed.results, whole.results)
    pd.testing.assert_frame_equal(resumed.generations, whole.generations)
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)
    assert "\r" not in capfd.readouterr().err                        # no bar off a terminal

    with pytest.raises(InputError, match="other settings.*coefficients"):
        steering_sweep(hm, CONTRAST, out=tmp_path, **{**SETTINGS, "coefficients": [0.0, 2.0]})
