"""The causal-efficacy evaluator on the embedded SmolLM2-135M-Instruct: one agreement task, two early layers."""

from __future__ import annotations

import numpy as np
import pytest

from interp.eval import causal_efficacy


@pytest.mark.slow
def test_das_and_vanilla_move_agreement_and_random_does_not(embedded):
    result = causal_efficacy(embedded, "builtin:agreement", tasks=["agr_sv_num_pp"],
                             methods=["das", "probe", "random", "vanilla"], layers=[2, 4], positions=[1, 4],
                             control=False, n_train=64, n_test=40, das_steps=40, das_lr=2e-2, n_boot=200)
    overall = result.summary[result.summary.task == "all"].set_index(["method", "metric"])
    odds = overall.value.xs("odds_ratio", level="metric")
    assert overall.value[("vanilla", "behaviour")] > 0.8, overall  # the model gets agreement right
    assert odds["vanilla"] > 2.0 and odds["das"] > 1.0 and odds["probe"] > 1.0, odds
    assert odds["das"] > odds["random"] + 1.0, odds
    assert overall.ci_low[("das", "odds_ratio")] > overall.ci_high[("random", "odds_ratio")], overall
    # random ≈ 0, within 3 standard errors of its per-example effects (pairs come with swapped copies)
    random = np.concatenate([np.asarray(r["odds_ratio"]).ravel() for r in result.records if r["method"] == "random"])
    assert abs(random.mean()) <= 3 * random.std() / np.sqrt(random.size / 2) + 0.05, random.mean()
    # vanilla patching at the subject (span 1) carries the number; at the object (span 4) far less
    table = result.results[(result.results.metric == "odds_ratio") & (result.results.method == "vanilla")]
    by_span = table.groupby("position").value.mean()
    assert by_span[1] > 2.0 and by_span[1] > by_span[4] + 1.0, by_span
