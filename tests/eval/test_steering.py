"""Steering sweeps on tiny models: coefficient 0 is unsteered generation, scores and perplexity are what
they claim, bad input fails before any forward pass, and the output folder is complete."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

import interp
from interp.errors import InputError, SiteError, SuiteError
from interp.eval.steering import (
    WordBehaviour,
    continuation_mask,
    continuation_nll,
    steering_sweep,
    steering_vector,
)
from interp.suites.steering import load_contrast, steering_names

CONTRAST = {
    "name": "toy",
    "positive": ["I love this film", "a wonderful happy day", "so good and kind"],
    "negative": ["I hate this film", "an awful sad day", "so bad and cruel"],
    "prompts": ["The movie was", "I went to the store and", "My neighbour", "It"],
    "words": {"positive": ["love", "good"], "negative": ["hate", "bad"]},
}


def token_lists(generations: pd.DataFrame) -> list[list[int]]:
    return [[int(t) for t in str(s).split()] for s in generations.tokens.fillna("")]


def unsteered_tokens(hm, prompts, max_new_tokens) -> list[list[int]]:
    gen = hm.generate(prompts, max_new_tokens=max_new_tokens)
    mask = continuation_mask(gen.new_tokens, hm.tokenizer.eos_token_id)
    return [row[m.bool()].tolist() for row, m in zip(gen.new_tokens, mask)]


def test_coefficient_zero_is_unsteered_generation_token_for_token(tiny_hm):
    coefficients = [-4.0, 0.0, 4.0]
    # batch_size 5 over 3 coefficients x 4 prompts: the zero rows share batches with steered rows
    result = steering_sweep(tiny_hm, CONTRAST, layers=[0, 1], coefficients=coefficients, max_new_tokens=6,
                            batch_size=5)
    plain = unsteered_tokens(tiny_hm, CONTRAST["prompts"], 6)
    for layer in (0, 1):
        rows = result.generations[result.generations.layer == layer]
        zero = rows[rows.coefficient == 0.0].sort_values("prompt")
        assert token_lists(zero) == plain
        steered = token_lists(rows[rows.coefficient == 4.0].sort_values("prompt"))
        assert steered != plain  # the sweep does steer: the comparison above can fail


def test_batch_size_does_not_change_the_generations():
    hm = interp.models.tiny("llama", seed=1)
    one = steering_sweep(hm, CONTRAST, layers=[1], coefficients=[-2.0, 0.0, 2.0], max_new_tokens=5, batch_size=1)
    all_rows = steering_sweep(hm, CONTRAST, layers=[1], coefficients=[-2.0, 0.0, 2.0], max_new_tokens=5,
                              batch_size=64)
    assert one.generations.tokens.tolist() == all_rows.generations.tokens.tolist()
    pd.testing.assert_frame_equal(one.results, all_rows.results, atol=1e-4, rtol=0)


def test_the_sweep_adds_the_steer_of_the_vector():
    """A row of coefficient c generates what ``hm.generate`` with ``vector.steer(c)`` on every token does."""
    hm = interp.models.tiny("gpt2", seed=2)
    result = steering_sweep(hm, CONTRAST, layers=[1], coefficients=[3.0], max_new_tokens=5)
    steer = result.vectors[1].steer(3.0)
    gen = hm.generate(CONTRAST["prompts"], interventions=[steer], max_new_tokens=5, where="all")
    mask = continuation_mask(gen.new_tokens, hm.tokenizer.eos_token_id)
    assert token_lists(result.generations) == [row[m.bool()].tolist() for row, m in zip(gen.new_tokens, mask)]


def test_steering_vector_is_the_unit_difference_of_means_scaled_to_the_mean_norm():
    hm = interp.models.tiny("neox", seed=3)
    site = "resid_pre.1"
    vector = steering_vector(hm, CONTRAST, site)

    def sentence_means(sentences):
        means, norms = [], []
        for sentence in sentences:  # one at a time: no padding to think about
            act = hm.run(sentence, cache=[site]).cache[site][0]
            means.append(act[1:].mean(0))  # the first token is left out of the mean and the scale
            norms += act[1:].norm(dim=-1).tolist()
        return torch.stack(means).mean(0), norms

    pos, pos_norms = sentence_means(CONTRAST["positive"])
    neg, neg_norms = sentence_means(CONTRAST["negative"])
    diff = pos - neg
    torch.testing.assert_close(vector.direction, diff / diff.norm(), atol=1e-5, rtol=0)
    assert vector.raw_norm == pytest.approx(float(diff.norm()), rel=1e-5)
    expected_scale = (sum(pos_norms) / len(pos_norms) + sum(neg_norms) / len(neg_norms)) / 2
    assert vector.scale == pytest.approx(expected_scale, rel=1e-5)
    torch.testing.assert_close(vector.vector(2.0), 2.0 * expected_scale * diff / diff.norm(), atol=1e-4, rtol=1e-5)


def test_continuation_nll_equals_a_plain_forward_of_each_sequence():
    hm = interp.models.tiny("llama", seed=4)
    prompts = ["The movie was", "I went to the store and"]
    gen = hm.generate(prompts, max_new_tokens=4)
    mask = continuation_mask(gen.new_tokens, hm.tokenizer.eos_token_id)
    nll = continuation_nll(hm, gen.sequences, gen.prompt, mask)
    for row, prompt in enumerate(prompts):
        prompt_ids = hm.tokenizer(prompt)["input_ids"]
        new = gen.new_tokens[row][mask[row].bool()].tolist()
        ids = torch.tensor([prompt_ids + new])
        with torch.no_grad():
            logp = torch.log_softmax(hm.model(input_ids=ids).logits[0].float(), -1)
        expected = -sum(float(logp[len(prompt_ids) - 1 + i, t]) for i, t in enumerate(new)) / len(new)
        assert float(nll[row]) == pytest.approx(expected, abs=1e-4)


def test_continuation_mask_stops_after_the_first_end_of_text():
    new = torch.tensor([[7, 0, 0, 0], [0, 5, 0, 6], [4, 5, 6, 7]])
    assert continuation_mask(new, 0).tolist() == [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]
    assert continuation_mask(new, None).tolist() == [[1] * 4] * 3


def test_word_behaviour_matches_whole_words_only():
    score = WordBehaviour(["love", "good"], ["bad"])
    assert score("Gloves are goodness") == {"target": 0.0, "opposite": 0.0, "behaviour": 0.0}
    assert score("I LOVE it, not bad") == {"target": 1.0, "opposite": 1.0, "behaviour": 0.0}
    assert score("good good good") == {"target": 1.0, "opposite": 0.0, "behaviour": 1.0}
    assert score("bad.") == {"target": 0.0, "opposite": 1.0, "behaviour": -1.0}


def test_word_lists_score_every_generated_text():
    hm = interp.models.tiny("gpt2", seed=5)
    result = steering_sweep(hm, CONTRAST, layers=[0], coefficients=[0.0, 8.0], max_new_tokens=6)
    wide = result.results.pivot_table(index=["coefficient", "prompt"], columns="metric", values="value")
    texts = result.generations.set_index(["coefficient", "prompt"]).text
    score = WordBehaviour(CONTRAST["words"]["positive"], CONTRAST["words"]["negative"])
    for key, text in texts.items():
        for metric, value in score(text).items():
            assert wide.loc[key, metric] == value
    summary = result.summary.set_index(["coefficient", "metric"]).value
    for coefficient in (0.0, 8.0):
        assert summary[(coefficient, "target")] == pytest.approx(wide.loc[coefficient, "target"].mean())
        assert summary[(coefficient, "perplexity")] == pytest.approx(math.exp(wide.loc[coefficient, "nll"].mean()))


def test_a_callable_scores_the_behaviour():
    hm = interp.models.tiny("llama", seed=6)
    seen = []

    def length(text: str) -> float:
        seen.append(text)
        return float(len(text))

    result = steering_sweep(hm, CONTRAST, layers=[1], coefficients=[-1.0, 1.0], max_new_tokens=4, behaviour=length)
    behaviour = result.results[result.results.metric == "behaviour"]
    assert behaviour.value.tolist() == [float(len(t)) for t in result.generations.text]
    assert sorted(seen) == sorted(result.generations.text)
    assert not {"target", "opposite"} & set(result.results.metric)
    as_bool = steering_sweep(hm, CONTRAST, layers=[1], coefficients=[0.0], max_new_tokens=4,
                             behaviour=lambda text: len(text) > 1000)
    assert set(as_bool.results[as_bool.results.metric == "behaviour"].value) == {0.0}
    with pytest.raises(InputError, match="must return a bool or a number"):
        steering_sweep(hm, CONTRAST, layers=[1], coefficients=[0.0], max_new_tokens=2, behaviour=lambda t: "yes")


def test_behaviour_word_lists_can_be_passed():
    hm = interp.models.tiny("gpt2", seed=7)
    result = steering_sweep(hm, CONTRAST, layers=[0], coefficients=[0.0], max_new_tokens=3,
                            behaviour={"target": ["the"], "opposite": []})
    target = result.results[result.results.metric == "target"].value.tolist()
    assert target == [float(WordBehaviour(["the"])(t)["target"]) for t in result.generations.text]


@pytest.fixture
def no_forward(monkeypatch):
    """A tiny model whose forward pass fails the test: errors must come before any work."""
    hm = interp.models.tiny("llama", seed=8)

    def forward(*args, **kwargs):
        raise AssertionError("the model ran before the input was checked")

    monkeypatch.setattr(hm.model, "forward", forward)
    return hm


@pytest.mark.parametrize("change, error, message", [
    ({"positive": []}, SuiteError, "'positive' is empty"),
    ({"negative": ["fine", ""]}, SuiteError, r"negative\[1\] must be a non-empty string"),
    ({"prompts": []}, InputError, "prompts must be a non-empty list"),
    ({"words": {"positive": "love"}}, SuiteError, "'words.positive' must be a list"),
    ({"words": {"good": ["x"]}}, SuiteError, "field 'words' must be an object"),
    ({"positives": ["x"]}, SuiteError, "unknown field"),
])
def test_bad_contrast_sets_fail_before_any_forward(no_forward, change, error, message):
    with pytest.raises(error, match=message):
        steering_sweep(no_forward, {**CONTRAST, **change}, layers=[0], coefficients=[0.0])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"layers": [5]}, SiteError, "layer 5 of site 'resid_pre.5' is out of range"),
    ({"site": "resid_psot"}, SiteError, "unknown site"),
    ({"coefficients": []}, InputError, "non-empty list of finite numbers"),
    ({"coefficients": [0.0, float("nan")]}, InputError, "finite"),
    ({"max_new_tokens": 0}, InputError, "max_new_tokens"),
    ({"samples": 3}, InputError, "needs sample=True"),
    ({"read": "first"}, InputError, "read must be one of"),
    ({"behaviour": 3}, InputError, "behaviour must be None, word lists or a callable"),
    ({"behaviour": {"targets": ["x"]}}, InputError, "behaviour word lists"),
])
def test_bad_settings_fail_before_any_forward(no_forward, kwargs, error, message):
    with pytest.raises(error, match=message):
        steering_sweep(no_forward, CONTRAST, **{"layers": [0], "coefficients": [0.0], **kwargs})


def test_a_contrast_set_without_words_needs_a_behaviour(no_forward):
    with pytest.raises(InputError, match="has no 'words' lists"):
        steering_sweep(no_forward, {**CONTRAST, "words": {}}, layers=[0], coefficients=[0.0])


def test_bad_contrast_files_name_the_file_and_field(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"positive": ["a"],')
    with pytest.raises(SuiteError, match="broken.json: not valid JSON"):
        load_contrast(broken)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"positive": ["a"]}))
    with pytest.raises(SuiteError, match="missing.json: missing field 'negative'"):
        load_contrast(missing)
    with pytest.raises(SuiteError, match="no such contrast-set file"):
        load_contrast(tmp_path / "nowhere.json")
    with pytest.raises(SuiteError, match="no built-in contrast set 'sentimental'.*sentiment"):
        load_contrast("builtin:sentimental")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(SuiteError, match="is a JSON object"):
        load_contrast(listed)


def test_builtin_contrast_sets_are_well_formed():
    assert {"sentiment", "formality"} <= set(steering_names())
    for name in steering_names():
        contrast = load_contrast(f"builtin:{name}")
        assert len(contrast.positive) >= 20 and len(contrast.negative) >= 20
        assert len(contrast.prompts) >= 10 and contrast.target_words and contrast.opposite_words
        assert not set(contrast.target_words) & set(contrast.opposite_words)
        assert len(set(contrast.positive)) == len(contrast.positive)


def test_write_makes_the_output_folder(tmp_path):
    hm = interp.models.tiny("gpt2", seed=9)
    result = steering_sweep(hm, CONTRAST, layers=[0, 1], coefficients=[-1.0, 0.0, 1.0], max_new_tokens=3)
    result.write(tmp_path, {"model": "tiny"})
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"results.csv", "summary.csv", "generations.csv", "meta.json", "figures/steering_curves.html"} <= names
    reread = pd.read_csv(tmp_path / "generations.csv")
    assert len(reread) == 2 * 3 * 4 and set(reread.columns) >= {"layer", "coefficient", "prompt_text", "text"}
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert set(meta["vectors"]) == {"0", "1"} and meta["vectors"]["1"]["site"] == "resid_pre.1"
    steer = interp.interventions.load(tmp_path / "vectors" / "layer_1")
    torch.testing.assert_close(steer.vector, result.vectors[1].vector(1.0))
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 2 * 3 * 6 and (summary.ci_low <= summary.value + 1e-9).all()


def test_seeded_sampling_repeats_with_its_seed_and_gives_several_samples():
    hm = interp.models.tiny("llama", seed=10)
    kwargs = {"layers": [1], "coefficients": [0.0, 1.0], "max_new_tokens": 5, "sample": True, "samples": 2}
    first = steering_sweep(hm, CONTRAST, seed=3, **kwargs).generations
    again = steering_sweep(hm, CONTRAST, seed=3, **kwargs).generations
    other = steering_sweep(hm, CONTRAST, seed=4, **kwargs).generations
    assert len(first) == 2 * 4 * 2 and set(first["sample"]) == {0, 1}
    assert first.tokens.tolist() == again.tokens.tolist()
    assert first.tokens.tolist() != other.tokens.tolist()
