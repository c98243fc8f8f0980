"""On the embedded SmolLM2-135M-Instruct: patching the subject flips number agreement."""

from __future__ import annotations

import pytest

from interp.interventions import Patch, patch_sweep

pytestmark = pytest.mark.slow


def test_patching_the_subject_flips_is_to_are(embedded):
    hm = embedded
    are, is_ = hm.tokenizer(" are")["input_ids"][-1], hm.tokenizer(" is")["input_ids"][-1]
    base, source = "The key to the cabinets", "The keys to the cabinet"
    clean = hm.run(base).last_logits[0]
    assert clean[is_] > clean[are]
    src = hm.run(source, cache=["resid_pre.2"])
    out = hm.run(base, interventions=[Patch("resid_pre.2", source=src.cache, positions=[1])]).last_logits[0]
    assert out[are] > out[is_]


def test_sweep_on_the_embedded_model_finds_the_subject(embedded):
    hm = embedded
    are, is_ = hm.tokenizer(" are")["input_ids"][-1], hm.tokenizer(" is")["input_ids"][-1]
    result = patch_sweep(hm, ["The key to the cabinets"], ["The keys to the cabinet"], layers=[2, 20],
                         metric=lambda lg: lg[..., are] - lg[..., is_])
    values = result.patched[:, :, 0]  # the metric itself (values: its change from the clean run)
    assert values[0].argmax() == 1 and values[0, 1] > 0  # early layer: the subject token carries number
