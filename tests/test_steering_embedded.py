"""Steering the embedded SmolLM2-135M along the built-in sentiment set (slow: loads the model).

One sweep (layer 9, the default; coefficients -1, -0.25, 0, 0.25, 1; the 32 built-in prompts; 16 new
tokens) serves every test. Measured when written: positive-word rate 0.97 at +0.25 vs 0.16 at -0.25,
negative-word rate 0.00 vs 0.34; perplexity 3.4 at 0, ~5 at ±0.25, over 40 at ±1.
"""

from __future__ import annotations

import pytest

from interp.eval.steering import continuation_mask, steering_sweep
from interp.suites.steering import load_contrast

pytestmark = pytest.mark.slow

COEFFICIENTS = [-1.0, -0.25, 0.0, 0.25, 1.0]
TOKENS = 16


@pytest.fixture(scope="module")
def sweep(embedded):
    return steering_sweep(embedded, "builtin:sentiment", layers=[9], coefficients=COEFFICIENTS,
                          max_new_tokens=TOKENS)


def summary_value(result, coefficient, metric):
    rows = result.summary[(result.summary.coefficient == coefficient) & (result.summary.metric == metric)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_coefficient_zero_is_unsteered_generation_token_for_token(embedded, sweep):
    prompts = load_contrast("builtin:sentiment").prompts
    gen = embedded.generate(prompts, max_new_tokens=TOKENS)
    mask = continuation_mask(gen.new_tokens, embedded.tokenizer.eos_token_id)
    plain = [" ".join(map(str, row[m.bool()].tolist())) for row, m in zip(gen.new_tokens, mask)]
    zero = sweep.generations[sweep.generations.coefficient == 0.0].sort_values("prompt")
    assert zero.tokens.tolist() == plain
    assert zero.text.tolist() == gen.texts
    steered = sweep.generations[sweep.generations.coefficient == 0.25].sort_values("prompt")
    assert sum(a != b for a, b in zip(steered.tokens, plain)) >= len(plain) // 2


def test_positive_steering_brings_positive_words_and_negative_steering_negative_ones(sweep):
    """The 95 % Wilson intervals of the two rates (32 continuations each) do not overlap."""
    up, down = summary_value(sweep, 0.25, "target"), summary_value(sweep, -0.25, "target")
    assert up.n == down.n == 32
    assert up.ci_low > down.ci_high, (up.value, down.value)
    up, down = summary_value(sweep, 0.25, "opposite"), summary_value(sweep, -0.25, "opposite")
    assert down.ci_low > up.ci_high, (down.value, up.value)


def test_large_coefficients_cost_fluency(sweep):
    """Perplexity (under the unsteered model) grows with |coefficient|, beyond its 95 % interval."""
    for sign in (-1, 1):
        zero, small, large = (summary_value(sweep, sign * c, "perplexity") for c in (0.0, 0.25, 1.0))
        assert small.ci_low > zero.ci_high, (sign, zero.value, small.value)
        assert large.ci_low > small.ci_high, (sign, small.value, large.value)
