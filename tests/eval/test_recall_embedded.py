"""Head attribution and head scaling on the embedded SmolLM2-135M-Instruct (slow: loads the real model)."""

from __future__ import annotations

import math

import pytest

from interp.eval.recall import known_facts, recall_attribution, recall_scaling
from interp.suites import recall


def _beyond_noise(gained: int, lost: int, sigmas: float = 2.0) -> bool:
    """Paired sign test: more prompts move one way than the other by over ``sigmas`` binomial
    standard deviations of the prompts that moved at all (McNemar's normal approximation)."""
    return gained - lost > sigmas * math.sqrt(gained + lost)


@pytest.mark.slow
def test_top_memory_head_scaled_negatively_moves_the_answer_toward_the_context(embedded):
    suite = recall.load("builtin:capitals")
    known, _ = known_facts(embedded, suite, suite.items(embedded.tokenizer)[:64])
    train, held_out = recall.split(known, seed=0)
    assert len(held_out) >= 12, f"the model knows too few facts ({len(known)} of 64)"

    attribution = recall_attribution(embedded, train)
    assert attribution.residual_error() < 1e-3  # exact up to float32 rounding on the real model too
    (head,) = attribution.top(1, "positive")
    heads = attribution.heads().set_index(["layer", "head"]).value
    assert heads[head] > 0  # a memory head: it pushes toward the memorised capital

    scaling = recall_scaling(embedded, suite, held_out, [head], [-1.5, 1.0])
    rows = scaling.results.set_index(["factor", "country"])
    base, scaled = rows.loc[1.0], rows.loc[-1.5].loc[rows.loc[1.0].index]

    # what the attribution predicts: without that head's push, logit(memorised) - logit(in-context) falls ...
    drop = base.logit_diff - scaled.logit_diff
    assert drop.mean() > 3 * drop.std() / math.sqrt(len(drop))
    # ... so the in-context capital now out-scores the memorised one on more prompts (paired) ...
    gained = int(((scaled.logit_diff < 0) & (base.logit_diff >= 0)).sum())
    lost = int(((scaled.logit_diff >= 0) & (base.logit_diff < 0)).sum())
    assert _beyond_noise(gained, lost), (gained, lost)
    # ... and greedy answers leave the memorised capital.
    left = int(((base.answer == "memorised") & (scaled.answer != "memorised")).sum())
    joined = int(((base.answer != "memorised") & (scaled.answer == "memorised")).sum())
    assert _beyond_noise(left, joined), (left, joined)
