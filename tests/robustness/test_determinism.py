"""Determinism: the same seed and inputs give identical tables twice in a row, bit for bit, also
from freshly built models (DAS training, probes, random directions, bootstrap intervals included)."""

from __future__ import annotations

import json

import pandas as pd
from conftest import AGREEMENT_LARGE, FIXTURES

import interp
from interp.eval import causal_efficacy, syntaxgym
from interp.interventions import patch_sweep

TASK = AGREEMENT_LARGE


def equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_causal_efficacy_gives_identical_tables_twice(tmp_path, seed=3):
    suite = tmp_path / "agr.json"
    suite.write_text(json.dumps(TASK))
    settings = dict(methods=["das", "probe", "random"], layers=[1], n_train=8, n_test=4, das_steps=3, n_boot=50,
                    control=False, seed=seed)
    first = causal_efficacy(interp.models.tiny("llama", seed=seed), suite, out=tmp_path / "a", **settings)
    second = causal_efficacy(interp.models.tiny("llama", seed=seed), suite, out=tmp_path / "b", **settings)
    equal(first.results, second.results)
    equal(first.summary, second.summary)
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()
    assert (tmp_path / "a" / "summary.csv").read_bytes() == (tmp_path / "b" / "summary.csv").read_bytes()
    for method in ("das", "probe", "random"):
        a, b = first.subspaces("agr", method, 1), second.subspaces("agr", method, 1)
        assert all(x.basis.equal(y.basis) for x, y in zip(a, b))


def test_syntaxgym_and_patch_sweep_give_identical_tables_twice():
    suite = FIXTURES / "syntaxgym_agreement.json"
    first, second = syntaxgym(interp.models.tiny("gpt2"), suite), syntaxgym(interp.models.tiny("gpt2"), suite)
    for name in ("regions", "predictions", "summary"):
        equal(getattr(first, name), getattr(second, name))
    hm = interp.models.tiny("neox")
    base = ["The key to the cabinets", "The dog near the houses"]
    source = ["The keys to the cabinet", "The dogs near the house"]
    metric = lambda logits: logits[..., 3] - logits[..., 5]  # noqa: E731
    equal(patch_sweep(hm, base, source, metric=metric).table(), patch_sweep(hm, base, source, metric=metric).table())
