"""A model whose logits are not finite makes every evaluator fail, naming the unit, instead of
writing NaN (or a mean skewed by inf) into its tables. The logits are made non-finite by one row of
the unembedding: a NaN (or inf) logit of one token spoils every log-probability of that position."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import AGREEMENT_SMALL, FIXTURES

import interp
from interp.errors import NumericalError
from interp.eval import causal_efficacy, head_attribution, recall_scaling, steering_sweep, syntaxgym
from interp.eval.lens import logit_lens
from interp.suites import recall

# the small task with one label per number
TASK = {"agr": {**AGREEMENT_SMALL["agr"], "labels": {"sg": ["is"], "pl": ["are"]}}}


def broken(value: float) -> interp.HookedModel:
    """A tiny Llama whose logit of token 5 is ``value`` (NaN or inf) wherever it is computed."""
    hm = interp.models.tiny("llama")
    with torch.no_grad():
        hm.model.lm_head.weight[5] = value
    return hm


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_causal_efficacy_names_the_unit(value, tmp_path):
    suite = tmp_path / "agr.json"
    suite.write_text(json.dumps(TASK))
    with pytest.raises(NumericalError, match=r"unit task 'agr', site resid_post.1, method 'vanilla', layer 1 \(task\): "
                                             r"the log odds-ratio of test pair \d+ at span \d+ is nan"):
        causal_efficacy(broken(value), suite, methods=["vanilla"], layers=[1], n_train=4, n_test=2, n_boot=5,
                        control=False, out=tmp_path / "out")
    assert not (tmp_path / "out" / "results.csv").exists()


def test_causal_efficacy_runs_on_the_same_model_when_its_logits_are_finite(tmp_path):
    suite = tmp_path / "agr.json"
    suite.write_text(json.dumps(TASK))
    result = causal_efficacy(broken(0.0), suite, methods=["vanilla"], layers=[1], n_train=4, n_test=2, n_boot=5,
                             control=False)
    assert result.results.value.notna().all()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_syntaxgym_names_suite_item_and_condition(value):
    with pytest.raises(NumericalError, match=r"suite 'fixture_agreement' \(.*syntaxgym_agreement.json\), item 1, "
                                             r"condition 'match_sing': the surprisal of token 1 \(region 1\) is "
                                             r"(nan|inf)"):
        syntaxgym(broken(value), FIXTURES / "syntaxgym_agreement.json")


def test_syntaxgym_keeps_the_designed_nan_of_a_first_token_without_context():
    result = syntaxgym(interp.models.tiny("llama"), FIXTURES / "syntaxgym_agreement.json", bos=None)
    first = result.regions[result.regions.region_number == 1]
    assert first.value.isna().all() and result.regions[result.regions.region_number == 4].value.notna().all()


def test_recall_scaling_names_heads_factor_and_country():
    hm = broken(float("nan"))
    suite = recall.load("builtin:capitals")
    items = suite.items(hm.tokenizer)[:2]
    with pytest.raises(NumericalError, match=r"recall, heads .*: factor -1.0, country '.+': the logit of token 5"):
        recall_scaling(hm, suite, items, heads=[(1, 0)], factors=[-1.0, 1.0], max_new_tokens=2)


def test_steering_names_layer_coefficient_and_prompt():
    with pytest.raises(NumericalError, match=r"steering 'sentiment' at resid_pre.1: coefficient 0.0, prompt 0, "
                                             r"sample 0: the continuation's negative log-likelihood is nan"):
        steering_sweep(broken(float("nan")), layers=[1], coefficients=[0.0], prompts=["The film was"],
                       max_new_tokens=2)


def test_head_attribution_names_prompt_and_component():
    hm = interp.models.tiny("llama")
    with torch.no_grad():
        hm.model.model.layers[0].mlp.down_proj.weight[0, 0] = float("inf")
    with pytest.raises(NumericalError, match=r"head attribution: prompt 'The dog': the final residual stream at "
                                             r"its last token is (nan|inf)"):
        head_attribution(hm, ["The dog"], [" is"], [" are"])


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_logit_lens_names_layer_and_position(value):
    with pytest.raises(NumericalError, match=r"logit lens of 'The dog': the distribution of layer 0, position 0 is "
                                             r"nan \("):
        logit_lens(broken(value), "The dog")
