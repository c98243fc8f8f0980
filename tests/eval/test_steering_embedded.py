"""Steering the embedded SmolLM2-135M-Instruct along the built-in sentiment set (slow: loads the model).

One sweep (layer 9, the default; coefficients -0.5, 0, 0.5; the 32 built-in prompts; 12 new tokens)
serves every test. Measured when written (95 % intervals): positive-word rate 0.75 [0.58, 0.87] at +0.5
vs 0.00 [0.00, 0.11] at -0.5; negative-word rate 0.44 [0.28, 0.61] at -0.5 vs 0.00 [0.00, 0.11] at +0.5;
perplexity 3.8 [3.5, 4.1] at 0, 17.7 [14.6, 21.4] at -0.5, 15.2 [12.6, 18.3] at +0.5.
"""

from __future__ import annotations

import pytest

from interp.eval.steering import continuation_mask, steering_sweep
from interp.suites.steering import load_contrast

pytestmark = pytest.mark.slow

COEFFICIENTS = [-0.5, 0.0, 0.5]
TOKENS = 12


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
    steered = sweep.generations[sweep.generations.coefficient == 0.5].sort_values("prompt")
    assert sum(a != b for a, b in zip(steered.tokens, plain)) >= len(plain) // 2


def test_positive_steering_brings_positive_words_and_negative_steering_negative_ones(sweep):
    """The 95 % Wilson intervals of the two rates (32 continuations each) do not overlap."""
    up, down = summary_value(sweep, 0.5, "target"), summary_value(sweep, -0.5, "target")
    assert up.n == down.n == 32
    assert up.ci_low > down.ci_high, (up.value, down.value)
    up, down = summary_value(sweep, 0.5, "opposite"), summary_value(sweep, -0.5, "opposite")
    assert down.ci_low > up.ci_high, (down.value, up.value)


def test_steering_costs_fluency(sweep):
    """Perplexity under the unsteered model grows with |coefficient|, beyond the 95 % intervals."""
    zero = summary_value(sweep, 0.0, "perplexity")
    for coefficient in (-0.5, 0.5):
        steered = summary_value(sweep, coefficient, "perplexity")
        assert steered.ci_low > zero.ci_high, (coefficient, zero.value, steered.value)
