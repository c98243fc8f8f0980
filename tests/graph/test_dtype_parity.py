"""Numerical parity across dtypes: the embedded SmolLM2-135M-Instruct in float32 and in bfloat16 agree within
the tolerances documented in README "Reliability" (all in nats, natural-log probabilities at the last
prompt token):

- log-probabilities of the 20 most likely next tokens and of both labels: |Δ| ≤ 0.5
- preference log p(y_base) − log p(y_source) of subject–verb agreement pairs: |Δ| ≤ 0.35, and the
  same sign wherever the float32 preference is larger than that

Measured once (40 test pairs of ``agr_sv_num_pp``, full patching at ``resid_post.4``): the log
odds-ratio differs by ≤ 0.28 per pair and 0.004 on the mean, interchange accuracy is identical.

bfloat16 keeps 8 bits of mantissa (≈ 3 significant digits), so a 0.3-nat wobble in one log-prob is
expected; what must not change is which label the model prefers when it prefers one clearly.
"""

from __future__ import annotations

import pytest
import torch

import interp
from interp.methods import PairData, base_logprobs
from interp.suites import causalgym

pytestmark = pytest.mark.slow
N_PAIRS = 8


@pytest.fixture(scope="module")
def models(embedded):
    return embedded, interp.load(dtype=torch.bfloat16)


@pytest.fixture(scope="module")
def pairs(embedded) -> PairData:
    task = causalgym.load_templates("builtin:agreement", seed=0, sizes=(0, 0, N_PAIRS), tasks=["agr_sv_num_pp"])
    return PairData.from_encoded(task["agr_sv_num_pp"].encode(embedded.tokenizer, "test"), [1])


def test_bfloat16_runs_in_bfloat16(models):
    full, half = models
    assert full.dtype == torch.float32 and half.dtype == torch.bfloat16
    assert half.run("The keys").logits.dtype == torch.bfloat16


def test_next_token_log_probs_agree(models):
    full, half = models
    texts = ["The keys to the cabinet", "The author near the houses", "She said that the"]
    lp32 = full.run(texts).last_logits.float().log_softmax(-1)
    lp16 = half.run(texts).last_logits.float().log_softmax(-1)
    top = lp32.topk(20, dim=-1).indices
    assert (lp32.gather(-1, top) - lp16.gather(-1, top)).abs().max() <= 0.5
    assert torch.equal(lp32.argmax(-1), lp16.argmax(-1))


def test_agreement_preferences_agree(models, pairs):
    full, half = models
    lp32, lp16 = base_logprobs(full, pairs), base_logprobs(half, pairs)
    assert (lp32 - lp16).abs().max() <= 0.5
    pref32, pref16 = lp32[:, 0] - lp32[:, 1], lp16[:, 0] - lp16[:, 1]
    assert (pref32 - pref16).abs().max() <= 0.35
    clear = pref32.abs() > 0.35
    assert clear.sum() >= N_PAIRS // 2
    assert torch.equal(pref32[clear] > 0, pref16[clear] > 0)

