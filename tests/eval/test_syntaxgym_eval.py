"""The SyntaxGym evaluator against hand-computed surprisals on tiny models, and its tables."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FIXTURES

import interp
from interp.eval import syntaxgym
from interp.eval.syntaxgym import combine
from interp.suites import syntaxgym as sg

FIXTURE = FIXTURES / "syntaxgym_agreement.json"

# "The key to the cabinets is on the table ." in the tiny vocabulary, and the region of each token
PIECES = ["The", "Ġkey", "Ġto", "Ġthe", "Ġcabine", "ts", "Ġis", "Ġon", "Ġthe", "Ġtable", "Ġ", "."]
REGION_OF = [1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 5, 5]


def hand_surprisals(hm, ids: list[int]) -> list[float]:
    """-log2 p(token | tokens before it) for tokens 1.., straight from the HF model."""
    with torch.no_grad():
        logits = hm.model(torch.tensor([ids])).logits[0].double()
    log_probs = torch.log_softmax(logits, -1)
    return [float(-log_probs[i - 1, ids[i]] / math.log(2)) for i in range(1, len(ids))]


@pytest.mark.parametrize("family, bos_piece", [("gpt2", "<|endoftext|>"), ("llama", "<s>")])
def test_region_surprisals_match_a_hand_computation(family, bos_piece):
    hm = interp.models.tiny(family)
    tok = hm.tokenizer
    sentence_ids = tok("The key to the cabinets is on the table .", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(sentence_ids) == PIECES
    ids = [tok.convert_tokens_to_ids(bos_piece), *sentence_ids]      # gpt2: the separator; llama: its own <s>
    bits = hand_surprisals(hm, ids)
    expected = {r: sum(b for b, region in zip(bits, REGION_OF) if region == r) for r in range(1, 6)}

    result = syntaxgym(hm, sg.load(FIXTURE))
    rows = result.regions[(result.regions.item == 1) & (result.regions.condition == "match_sing")]
    got = dict(zip(rows.region_number, rows.value))
    for region in range(1, 6):
        assert got[region] == pytest.approx(expected[region], abs=1e-5)
    assert list(rows.n) == [1, 1, 4, 1, 5]
    assert rows.tokens.iloc[2] == "Ġto|Ġthe|Ġcabine|ts"


def test_other_metrics_combine_the_same_token_surprisals():
    hm = interp.models.tiny("gpt2")
    tok = hm.tokenizer
    ids = [tok.convert_tokens_to_ids("<|endoftext|>"), *tok("The key to the cabinets is on the table .",
                                                            add_special_tokens=False)["input_ids"]]
    bits = hand_surprisals(hm, ids)
    region3 = [b for b, r in zip(bits, REGION_OF) if r == 3]
    raw = sg.load(FIXTURE)
    for metric, reference in [("mean", sum(region3) / 4), ("max", max(region3)), ("min", min(region3)),
                              ("range", max(region3) - min(region3)),
                              ("median", sorted(region3)[1] / 2 + sorted(region3)[2] / 2)]:
        raw.metric = metric
        rows = syntaxgym(hm, raw).regions
        value = rows[(rows.item == 1) & (rows.condition == "match_sing") & (rows.region_number == 3)].value
        assert float(value.iloc[0]) == pytest.approx(reference, abs=1e-5), metric


def test_combine_of_an_empty_region():
    assert combine([], "sum") == 0.0 and math.isnan(combine([], "mean"))


def test_without_bos_the_first_region_has_no_surprisal():
    hm = interp.models.tiny("gpt2")
    result = syntaxgym(hm, FIXTURE, bos=None)
    first = result.regions[result.regions.region_number == 1]
    assert first.value.isna().all()
    assert result.regions[result.regions.region_number == 4].value.notna().all()


def test_predictions_follow_the_region_values():
    hm = interp.models.tiny("neox")
    result = syntaxgym(hm, FIXTURE)
    regions = result.regions.set_index(["item", "condition", "region_number"]).value
    for item in (1, 2):
        first = regions[item, "mismatch_sing", 4] > regions[item, "match_sing", 4]
        second = first and regions[item, "match_plural", 4] < regions[item, "mismatch_plural", 4]
        outcomes = result.predictions[result.predictions.item == item].set_index("prediction").passed
        assert (outcomes[0], outcomes[1]) == (first, second)
    summary = result.summary.set_index("prediction")
    passed = result.predictions.groupby("item").passed.all()
    assert summary.loc["all", "value"] == pytest.approx(passed.mean())
    assert summary.loc["0", "n"] == 2
    assert result.accuracy("fixture_agreement") == pytest.approx(passed.mean())
    assert set(result.regions.columns) >= {"model", "suite", "item", "condition", "region", "metric", "value", "n"}


def test_star_means_the_sum_over_regions():
    hm = interp.models.tiny("gpt2")
    raw = sg.load(FIXTURE)
    raw.predictions = [sg.Prediction(0, sg.parse_formula("(*;%match_sing%) = (1;%match_sing%) + (2;%match_sing%)"
                                                          " + (3;%match_sing%) + (4;%match_sing%) + (5;%match_sing%)"))]
    assert syntaxgym(hm, raw).predictions.passed.all()
