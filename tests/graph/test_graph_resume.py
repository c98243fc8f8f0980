"""Resumed forwards on every naming of the KV-cache argument, and the slow paths that say so.

transformers up to 5.23 takes the cache as ``past_key_values`` and returns it in the output's
``past_key_values``; 5.24 renamed both to ``cache``. These tests pin both conventions with model
classes whose forward spells each one, whatever release is installed.
"""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from conftest import AGREEMENT_SMALL, without_kv_cache

import interp
from interp.eval import causal_efficacy
from interp.graph.resume import (
    CACHE_ARGUMENTS,
    SlowPathWarning,
    cache_argument,
    key_values_of,
    resume_support,
)
from interp.interventions import patch_sweep, serial_patch_sweep
from interp.methods import PairData, score, train_das

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]


def with_cache_argument(hm, name: str):
    """The same weights behind a forward that takes the KV cache as ``name`` and returns it in an
    output field of that name, whatever the installed transformers calls it."""
    base = type(hm.model)
    installed = cache_argument(hm.model)

    def call(self, cache, use_cache, **kwargs):
        out = base.forward(self, **kwargs, use_cache=use_cache, **{installed: cache})
        return SimpleNamespace(logits=out.logits, **{name: getattr(out, installed, None)})

    if name == "cache":
        class Renamed(base):
            def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, use_cache=None,
                        logits_to_keep=0):
                return call(self, cache, use_cache, input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=position_ids, logits_to_keep=logits_to_keep)
    else:
        class Renamed(base):
            def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                        use_cache=None, logits_to_keep=0):
                return call(self, past_key_values, use_cache, input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=position_ids, logits_to_keep=logits_to_keep)

    clone = Renamed(hm.model.config)
    clone.load_state_dict(hm.model.state_dict())
    clone.eval().to(hm.device)
    return interp.wrap(clone, hm.tokenizer, name=f"{hm.name}-{name}")


@pytest.mark.parametrize("name", CACHE_ARGUMENTS)
def test_resume_and_keep_kv_work_whatever_the_cache_argument_is_called(name):
    hm = interp.models.tiny("llama")
    renamed = with_cache_argument(hm, name)
    assert cache_argument(renamed.model) == name and renamed.can_resume
    base = renamed.run(BASE, cache=["resid_pre.1"], keep_kv=True)
    assert len(base.key_values) == hm.n_layers
    out = renamed.resume(base.batch, start_at=("resid_pre.1", base.cache["resid_pre.1"]),
                         key_values=base.key_values, from_token=3)
    torch.testing.assert_close(out.last_logits, hm.run(BASE).last_logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", CACHE_ARGUMENTS)
def test_fast_paths_run_whatever_the_cache_argument_is_called(name):
    hm = with_cache_argument(interp.models.tiny("llama"), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowPathWarning)
        sweep = patch_sweep(hm, BASE, SOURCE, layers=[0, 1], positions=[1, 2])
        data = PairData.from_texts(hm, BASE, SOURCE, base_positions=[[1], [1]], source_positions=[[1], [1]],
                                   base_labels=[" is", " is"], source_labels=[" are", " are"],
                                   base_types=["sg", "sg"])
        trained = train_das(hm, data, "resid_post.0", steps=2, batch_size=2)
        scores = score(hm, data, "resid_post.0", [trained.interventions[0]])
    assert (sweep.path, trained.path, scores.path) == ("kv-resume", "packed", "packed")
    serial = serial_patch_sweep(hm, BASE, SOURCE, layers=[0, 1], positions=[1, 2])
    torch.testing.assert_close(sweep.values, serial.values, atol=1e-5, rtol=0)


def test_the_tiny_models_resume_on_the_installed_release(family):
    hm = interp.models.tiny(family)
    assert hm.can_resume, resume_support(hm).reason
    assert resume_support(hm).cache_argument == cache_argument(hm.model) in CACHE_ARGUMENTS


def test_key_values_are_read_from_either_output_field():
    keys, values = torch.zeros(1, 2, 3, 4), torch.ones(1, 2, 3, 4)
    layer = SimpleNamespace(keys=keys, values=values)
    for field in CACHE_ARGUMENTS:
        out = SimpleNamespace(**{field: SimpleNamespace(layers=[layer])})
        assert key_values_of(out)[0][0] is keys and key_values_of(out)[0][1] is values
    with pytest.raises(TypeError, match="holds no KV cache"):
        key_values_of(SimpleNamespace(logits=None))


def pairs(hm) -> PairData:
    return PairData.from_texts(hm, BASE, SOURCE, base_positions=[[1], [1]], source_positions=[[1], [1]],
                               base_labels=[" is", " is"], source_labels=[" are", " are"], base_types=["sg", "sg"])


def test_a_model_without_a_kv_cache_warns_and_records_the_slow_paths():
    fast_hm = interp.models.tiny("llama")
    slow_hm = without_kv_cache(fast_hm)
    assert not slow_hm.can_resume and "takes no KV cache" in resume_support(slow_hm).reason

    with pytest.warns(SlowPathWarning, match=r"patch sweep on tiny-llama-no-kv-cache: .*takes no KV cache"):
        slow = patch_sweep(slow_hm, BASE, SOURCE, layers=[0, 1], positions=[1, 2])
    fast = patch_sweep(fast_hm, BASE, SOURCE, layers=[0, 1], positions=[1, 2])
    assert (slow.path, fast.path) == ("full-sequence", "kv-resume")
    torch.testing.assert_close(slow.values, fast.values, atol=1e-5, rtol=0)

    with pytest.warns(SlowPathWarning, match=r"train_das on tiny-llama-no-kv-cache: .*resumed-rows"):
        slow_das = train_das(slow_hm, pairs(slow_hm), "resid_post.0", steps=3, batch_size=2)
    fast_das = train_das(fast_hm, pairs(fast_hm), "resid_post.0", steps=3, batch_size=2)
    assert (slow_das.path, fast_das.path) == ("resumed-rows", "packed")
    torch.testing.assert_close(slow_das.losses, fast_das.losses, atol=1e-4, rtol=0)

    with pytest.warns(SlowPathWarning, match=r"score on tiny-llama-no-kv-cache"):
        slow_scores = score(slow_hm, pairs(slow_hm), "resid_post.0", [None])
    assert slow_scores.path == "resumed-rows"
    torch.testing.assert_close(slow_scores.odds_ratio, score(fast_hm, pairs(fast_hm), "resid_post.0", [None])
                               .odds_ratio, atol=1e-4, rtol=0)

    with warnings.catch_warnings():  # asking for the plain path explicitly is not a fallback
        warnings.simplefilter("error", SlowPathWarning)
        assert train_das(fast_hm, pairs(fast_hm), "resid_post.0", steps=1, batch_size=2, packed=False).path == \
            "resumed-rows"


TASK = AGREEMENT_SMALL


@pytest.mark.parametrize("slow", [False, True])
def test_causal_efficacy_meta_records_the_computation_paths(tmp_path, slow):
    hm = interp.models.tiny("llama")
    hm = without_kv_cache(hm) if slow else hm
    suite = tmp_path / "agr.json"
    suite.write_text(json.dumps(TASK))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        causal_efficacy(hm, str(suite), methods="das,mean", layers=[0], n_train=4, n_test=2, n_boot=10,
                        das_steps=2, control=False, out=tmp_path / "out", control_labels=(" dog", " house"))
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    expected = "resumed-rows" if slow else "packed"
    assert meta["computation"] == {"das_training": [expected], "scoring": [expected], "jobs": ["per-task"]}
    assert any(issubclass(w.category, SlowPathWarning) for w in caught) == slow
