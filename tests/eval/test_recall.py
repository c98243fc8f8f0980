"""The recall suite, head scaling during generation, and ``interp recall`` on tiny models."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
import torch

import interp
from interp.cli import main
from interp.errors import InputError, SuiteError
from interp.eval.recall import head_label, recall, recall_attribution, recall_scaling
from interp.interventions import ScaleHeads, generate
from interp.suites import recall as recall_suites

PROMPTS = ["The capital of Poland is Warsaw. The capital of Poland is", "The keys to the"]


@pytest.fixture(scope="module")
def suite():
    return recall_suites.load("builtin:capitals")


def test_builtin_suite_pairs_every_fact_with_a_counterfactual_of_another_first_token(suite):
    hm = interp.models.tiny("gpt2")
    items = suite.items(hm.tokenizer)
    assert len(items) == len(suite.facts) >= 60
    assert len({item.country for item in items}) == len(items)
    first = lambda text: hm.tokenizer(" " + text)["input_ids"][0]  # noqa: E731
    for item in items:
        assert item.in_context != item.memorised and first(item.in_context) != first(item.memorised)
        assert item.prompt.endswith(item.plain.splitlines()[-1]) and item.in_context in item.prompt
        assert item.memorised not in item.prompt and item.in_context not in item.plain
    assert suite.items(hm.tokenizer) == items  # deterministic, no seed involved


def test_split_is_seeded_and_disjoint(suite):
    items = suite.items()
    train, test = recall_suites.split(items, seed=3)
    assert recall_suites.split(items, seed=3) == (train, test)
    assert recall_suites.split(items, seed=4) != (train, test)
    assert not {i.country for i in train} & {i.country for i in test}
    assert len(train) + len(test) == len(items) and abs(len(train) - len(test)) <= 1


def test_scoring_stops_at_the_next_question(suite):
    item = suite.items()[0]
    assert suite.score(f" {item.memorised}.\nThe capital of X is {item.in_context}", item) == "memorised"
    assert suite.score(f" {item.in_context}. The capital of X is {item.memorised}", item) == "in_context"
    assert suite.score(f" the city of {item.in_context}", item) == "in_context"
    assert suite.score("\n" + item.memorised, item) == "other"


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('{"statement": "x", "query": "The capital of {country} is", "facts": []}', "'statement' must be a template"),
    ('{"statement": "{country} {capital}", "query": "{country}", "facts": [{"country": "A"}]}', r"facts\[0\]"),
    ('{"statement": "{country} {capital}", "query": "{country}", "facts": [{"country": "A", "capital": "B"}]}',
     "at least two facts"),
    ('{"statement": "{country} {capital}", "query": "{country}", '
     '"facts": [{"country": "A", "capital": "B"}, {"country": "C", "capital": "B"}]}', "repeats a capital"),
])
def test_bad_suite_files_name_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SuiteError, match=message) as error:
        recall_suites.load(path)
    assert "bad.json" in str(error.value)
    with pytest.raises(SuiteError, match="builtin:capitals"):
        recall_suites.load("builtin:nope")


def test_scaling_by_one_changes_nothing_token_for_token(family):
    hm = interp.models.tiny(family)
    plain = generate(hm, PROMPTS, max_new_tokens=5)
    layer = hm.n_layers - 1
    scaled = generate(hm, PROMPTS, interventions=[ScaleHeads(f"z.{layer}", {0: 1.0, 1: 1.0})], max_new_tokens=5,
                      where="all")
    assert torch.equal(plain.sequences, scaled.sequences)
    muted = [ScaleHeads(f"z.{layer}", dict.fromkeys(range(hm.n_heads), -3.0)) for layer in range(hm.n_layers)]
    assert not torch.equal(plain.sequences, generate(hm, PROMPTS, interventions=muted, max_new_tokens=5,
                                                      where="all").sequences)


def test_scaling_a_query_heads_z_is_scaling_its_value_vectors():
    """Without GQA, z-scaling equals v-scaling; with GQA, scaling a KV head's v equals z-scaling its query group."""
    gpt2 = interp.models.tiny("gpt2")
    by_z = gpt2.run(PROMPTS, interventions=[ScaleHeads("z.1", {2: -1.5})]).logits
    by_v = gpt2.run(PROMPTS, interventions=[ScaleHeads("v.1", {2: -1.5})]).logits
    assert torch.allclose(by_z, by_v, atol=1e-5) and not torch.allclose(by_z, gpt2.run(PROMPTS).logits, atol=1e-3)
    llama = interp.models.tiny("llama")  # 4 query heads over 2 KV heads: KV head 1 serves query heads 2 and 3
    group = llama.run(PROMPTS, interventions=[ScaleHeads("z.0", {2: -1.5, 3: -1.5})]).logits
    shared = llama.run(PROMPTS, interventions=[ScaleHeads("v.0", {1: -1.5})]).logits
    assert torch.allclose(group, shared, atol=1e-5)


def test_recall_scaling_rows_and_rates(suite):
    hm = interp.models.tiny("neox")
    items = suite.items(hm.tokenizer)[:5]
    scaling = recall_scaling(hm, suite, items, [(0, 1), (1, 2)], [-1.0, 1.0], together=True, max_new_tokens=3,
                             batch_size=10)
    assert scaling.heads == [(0, 1), (1, 2)]
    assert list(pd.unique(scaling.results.heads)) == ["L0.H1", "L1.H2", "L0.H1+L1.H2"]
    assert len(scaling.results) == 3 * 2 * 5
    for (heads, factor), rows in scaling.summary.groupby(["heads", "factor"]):
        rates = rows[rows.metric.isin(["in_context", "memorised", "other"])]
        assert rates.value.sum() == pytest.approx(1.0) and set(rows.n) == {5}
        assert (rows.ci_low <= rows.value).all() and (rows.value <= rows.ci_high).all()
        answers = scaling.results[(scaling.results.heads == heads) & (scaling.results.factor == factor)].answer
        assert scaling.rate(heads, factor, "other") == pytest.approx((answers == "other").mean())
    # factors stacked along the batch give, row for row, what one ScaleHeads generation per factor gives
    prompts = [item.prompt for item in items]
    expected = {("L0.H1", -1.0): [ScaleHeads("z.0", {1: -1.0})], ("L1.H2", -1.0): [ScaleHeads("z.1", {2: -1.0})],
                ("L0.H1+L1.H2", -1.0): [ScaleHeads("z.0", {1: -1.0}), ScaleHeads("z.1", {2: -1.0})]}
    for heads in ("L0.H1", "L1.H2", "L0.H1+L1.H2"):
        expected[(heads, 1.0)] = []
    for (heads, factor), interventions in expected.items():
        direct = generate(hm, prompts, interventions=interventions, max_new_tokens=3, where="all").texts
        rows = scaling.results[(scaling.results.heads == heads) & (scaling.results.factor == factor)]
        assert rows.continuation.tolist() == direct, (heads, factor)
    assert scaling.results.continuation.nunique() > 1
    # logit_diff is the attribution's total without scaling, and a plain scaled run's difference with it
    unscaled = scaling.results[(scaling.results.heads == "L1.H2") & (scaling.results.factor == 1.0)]
    assert unscaled.logit_diff.tolist() == pytest.approx(recall_attribution(hm, items).total.tolist(), abs=1e-4)
    logits = hm.run(prompts, interventions=[ScaleHeads("z.1", {2: -1.0})]).last_logits
    ids = lambda words: [hm.tokenizer(" " + w, add_special_tokens=False)["input_ids"][0] for w in words]  # noqa: E731
    expected = logits[range(5), ids(rows.memorised)] - logits[range(5), ids(rows.in_context)]
    scaled = scaling.results[(scaling.results.heads == "L1.H2") & (scaling.results.factor == -1.0)]
    assert scaled.logit_diff.tolist() == pytest.approx(expected.tolist(), abs=1e-4)
    prefers = scaling.summary.query("heads == 'L1.H2' and factor == -1.0 and metric == 'prefers_in_context'").value
    assert float(prefers.iloc[0]) == pytest.approx(float((expected < 0).float().mean()))


def test_top_heads_come_from_the_attribution(suite):
    hm = interp.models.tiny("llama")
    items = suite.items(hm.tokenizer)[:4]
    attribution = recall_attribution(hm, items)
    scaling = recall_scaling(hm, suite, items, "top:2", [0.0], attribution=attribution, max_new_tokens=2)
    assert scaling.heads == attribution.top(2, "positive")
    context = recall_scaling(hm, suite, items, "context:1", [0.0], attribution=attribution, max_new_tokens=2)
    assert context.heads == attribution.top(1, "negative")
    assert head_label([(3, 1), (10, 0)]) == "L3.H1+L10.H0"


def test_bad_inputs_fail_before_any_generation(suite, monkeypatch):
    hm = interp.models.tiny("gpt2")
    items = suite.items(hm.tokenizer)[:3]
    never = lambda *args, **kwargs: pytest.fail("generated before checking the inputs")  # noqa: E731
    monkeypatch.setattr(sys.modules["interp.eval.recall"], "generate", never)
    with pytest.raises(InputError, match=r"head \(layer 2, head 0\) is out of range: the model has 2 layers of 4"):
        recall_scaling(hm, suite, items, [(2, 0)], [0.0])
    with pytest.raises(InputError, match="out of range"):
        recall_scaling(hm, suite, items, [(0, 4)], [0.0])
    with pytest.raises(InputError, match="list of recall items is empty"):
        recall_scaling(hm, suite, [], [(0, 0)], [0.0])
    with pytest.raises(InputError, match="'top:K'"):
        recall_scaling(hm, suite, items, "best:2", [0.0])
    with pytest.raises(InputError, match="finite numbers"):
        recall_scaling(hm, suite, items, [(0, 0)], [float("nan")])
    with pytest.raises(InputError, match="out of range"):
        recall(hm, suite, [(5, 0)])


def test_recall_command_writes_the_output_folder(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["recall", "--model", str(tiny_llama_dir), "--out", str(out), "--all-facts", "--n-facts", "6",
                 "--heads", "top:2", "--factors=-1.5,1", "--max-new-tokens", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "known facts" in printed and "in_context" in printed
    assert {"results.csv", "summary.csv", "attribution.csv", "known.csv", "meta.json", "figures",
            ".interp-owner.json"} == {p.name for p in out.iterdir()}
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["head_attribution.html", "head_scaling.html",
                                                                  "plotly.min.js"]
    summary, results = pd.read_csv(out / "summary.csv"), pd.read_csv(out / "results.csv")
    assert len(results) == 3 * 2 * 3  # two heads and both together, two factors, three held-out facts
    assert set(summary.metric) == {"in_context", "memorised", "other", "prefers_in_context", "logit_diff"}
    attribution = pd.read_csv(out / "attribution.csv")
    assert (attribution.component == "head").sum() == 2 * 4
    meta = json.loads((out / "meta.json").read_text())
    assert meta["evaluator"] == "recall" and meta["n_held_out"] == 3 and meta["factors"] == [-1.5, 1.0]
    assert len(meta["heads"]) == 2


def test_recall_command_reports_bad_arguments_before_loading(tmp_path, capsys):
    missing = str(tmp_path / "no-model")
    assert main(["recall", "--model", missing, "--out", str(tmp_path), "--factors", "a,b"]) == 2
    assert "--factors must be comma-separated numbers" in capsys.readouterr().err
    assert main(["recall", "--model", missing, "--out", str(tmp_path), "--heads", "3-1"]) == 2
    assert "layer.head pairs" in capsys.readouterr().err
