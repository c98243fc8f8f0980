"""The recall settings' defaults are written once (:class:`RecallConfig`): ``recall()``, ``recall_scaling()``,
``known_facts()`` and ``interp recall`` all start from it, and it names a bad setting in its user's terms."""

from __future__ import annotations

import inspect
import re
import sys

import pandas as pd
import pytest

import interp
from interp.cli import build_parser
from interp.commands.recall import option, recall_config
from interp.errors import InputError
from interp.eval import RecallConfig
from interp.eval.recall import known_facts, recall, recall_scaling
from interp.eval.recall_config import DEFAULT_SUITE, DEFAULTS
from interp.suites import recall as recall_suites


def test_the_command_line_defaults_are_the_config_defaults(tmp_path):
    args = build_parser().parse_args(["recall", "--out", str(tmp_path)])
    assert recall_config(args) == RecallConfig().validate()
    assert args.suite == DEFAULT_SUITE


def test_the_python_api_defaults_are_the_config_defaults():
    signature = inspect.signature(recall).parameters
    assert signature["suite"].default == DEFAULT_SUITE
    assert signature["config"].default is None  # None: RecallConfig()
    assert signature["heads"].default is None and signature["factors"].default is None  # None: the config's
    assert RecallConfig.build() == RecallConfig() == DEFAULTS
    scaling = inspect.signature(recall_scaling).parameters
    assert (scaling["heads"].default, scaling["factors"].default, scaling["max_new_tokens"].default,
            scaling["batch_size"].default) == (DEFAULTS.heads, DEFAULTS.factors, DEFAULTS.max_new_tokens,
                                               DEFAULTS.batch_size)
    assert scaling["together"].default is False  # the sweep alone scales each head on its own
    known = inspect.signature(known_facts).parameters
    assert (known["max_new_tokens"].default, known["batch_size"].default) == (DEFAULTS.max_new_tokens,
                                                                               DEFAULTS.batch_size)


def test_keyword_settings_build_the_same_config():
    built = RecallConfig.build(RecallConfig(heads="top:2"), factors=[0, 1], n_facts=8, only_known=False)
    assert built == RecallConfig(heads="top:2", factors=[0, 1], n_facts=8, only_known=False)
    assert built.validate().factors == [0.0, 1.0]
    assert RecallConfig(heads=[[1, 0], (0, 2)]).validate().heads == [(1, 0), (0, 2)]
    with pytest.raises(TypeError, match="unexpected setting n_fact; the settings are heads, factors"):
        RecallConfig.build(n_fact=3)
    with pytest.raises(InputError, match="config must be a RecallConfig, not dict"):
        RecallConfig.build({"heads": "top:2"})


@pytest.mark.parametrize("settings, message, cli_message", [
    ({"n_facts": 1}, "n_facts: must be at least 2 (one train and one held-out fact), not 1",
     "--n-facts: must be at least 2"),
    ({"held_out": 1.0}, "held_out: 1.0 is out of range (must be between 0 and 1, both excluded",
     "--held-out: 1.0 is out of range"),
    ({"max_new_tokens": 0}, "max_new_tokens: must be at least 1, not 0", "--max-new-tokens: must be at least 1"),
    ({"batch_size": 2.5}, "batch_size: must be a whole number, not 2.5", "--batch-size: must be a whole number"),
    ({"factors": [1.0, float("inf")]}, "factors must be finite numbers, not inf", "--factors must be finite"),
    ({"factors": []}, "no factors to scale by", "no factors to scale by"),
    ({"heads": "top:0"}, "heads must be 'top:K', 'memory:K', 'context:K'", "--heads must be 'top:K'"),
    ({"heads": [(1, 0.5)]}, "a head's index must be an integer, not 0.5", "a head's index must be an integer"),
    ({"heads": [(1, 2, 3)]}, "a head is a pair (layer, head) of integers", "a head is a pair"),
    ({"heads": []}, "no heads to scale", "no heads to scale"),
    ({"together": "yes"}, "together must be true or false, not 'yes'", "--separately must be true or false"),
    ({"only_known": 1}, "only_known must be true or false, not 1", "--all-facts must be true or false"),
])
def test_bad_settings_are_named_the_way_their_user_wrote_them(settings, message, cli_message):
    with pytest.raises(InputError, match="^" + re.escape(message)):
        RecallConfig(**settings).validate()
    with pytest.raises(InputError, match="^" + re.escape(cli_message)):
        RecallConfig(**settings).validate(spell=option)


def test_bad_settings_fail_before_any_generation(monkeypatch):
    hm = interp.models.tiny("gpt2")
    never = lambda *args, **kwargs: pytest.fail("generated before checking the settings")  # noqa: E731
    monkeypatch.setattr(sys.modules["interp.eval.recall"], "generate", never)
    with pytest.raises(InputError, match="held_out: 0 is out of range"):
        recall(hm, held_out=0)
    with pytest.raises(InputError, match="n_facts: must be at least 2"):
        recall(hm, config=RecallConfig(n_facts=1))
    with pytest.raises(InputError, match=r"head \(layer 5, head 0\) is out of range"):
        recall(hm, config=RecallConfig(heads=[(5, 0)]))
    with pytest.raises(TypeError, match="unexpected setting"):
        recall(hm, seeds=3)


def test_a_config_gives_what_the_same_keywords_give():
    hm = interp.models.tiny("llama")
    suite = recall_suites.load("builtin:capitals")
    settings = {"n_facts": 6, "only_known": False, "max_new_tokens": 2, "seed": 1}
    by_keywords = recall(hm, suite, "top:2", [-1.5, 1.0], **settings)
    by_config = recall(hm, suite, config=RecallConfig(heads="top:2", factors=[-1.5, 1.0], **settings))
    on_top = recall(hm, suite, "top:2", config=RecallConfig(factors=[9.0], n_facts=3), factors=[-1.5, 1.0],
                    **settings)  # positional and keyword settings replace the config's
    for result in (by_config, on_top):
        pd.testing.assert_frame_equal(result.scaling.results, by_keywords.scaling.results)
        pd.testing.assert_frame_equal(result.scaling.summary, by_keywords.scaling.summary)
        pd.testing.assert_frame_equal(result.known, by_keywords.known)
        assert (result.train, result.held_out) == (by_keywords.train, by_keywords.held_out)
        assert result.scaling.heads == by_keywords.scaling.heads
    assert len(by_keywords.held_out) == 3 and set(by_keywords.scaling.results.factor) == {-1.5, 1.0}
