"""A saved intervention remembers the model it was made for, and refuses another family or shape."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import interp
from interp.errors import InputError
from interp.interventions import DAS, Steer, load
from interp.interventions.identity import ModelMismatchWarning


@pytest.fixture(scope="module")
def llama():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def gpt2():
    return interp.models.tiny("gpt2")


def test_the_model_is_saved_with_the_intervention(llama, tmp_path):
    folder = Steer("resid_post.0", torch.ones(64), alpha=2.0).save(tmp_path / "s", model=llama)
    saved = json.loads((folder / "config.json").read_text())["model"]
    assert saved == {"name": "tiny-llama", "family": "Llama", "d_model": 64, "n_layers": 2, "n_heads": 4}
    loaded = load(folder)
    out = llama.run("The keys", interventions=[loaded])  # the same model: runs, no warning
    assert torch.isfinite(out.logits).all()


def test_another_family_is_refused_naming_both(llama, gpt2, tmp_path):
    folder = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "s", model=llama)
    with pytest.raises(InputError, match=r"Steer at resid_post.0 was saved for tiny-llama \(Llama, d_model=64.*"
                                         r"not for tiny-gpt2 \(GPT-2, d_model=64.*its family differs"):
        gpt2.run("The keys", interventions=[load(folder)])


def test_another_width_is_refused(llama, tmp_path):
    wide = interp.models.tiny("llama", hidden_size=128)
    folder = Steer("resid_post.0", torch.ones(128)).save(tmp_path / "s", model=wide)
    with pytest.raises(InputError, match=r"d_model=128.*not for tiny-llama \(Llama, d_model=64.*width \(d_model\) "
                                         r"differs"):
        llama.run("The keys", interventions=[load(folder)])


def test_without_model_the_model_it_last_ran_on_is_recorded(llama, gpt2, tmp_path):
    das = DAS("resid_post.0", 64, 2, seed=0)
    llama.run("The key", interventions=[das.using(source="The keys", positions="last")])
    folder = das.save(tmp_path / "das")
    with pytest.raises(InputError, match="DAS at resid_post.0 was saved for tiny-llama"):
        gpt2.run("The key", interventions=[load(folder).using(source="The keys", positions="last")])
    never_ran = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "plain")
    assert "model" not in json.loads((never_ran / "config.json").read_text())
    gpt2.run("The keys", interventions=[load(never_ran)])  # nothing recorded, nothing to check


def test_the_same_shape_under_another_name_warns_and_runs(llama, tmp_path):
    folder = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "s", model=llama)
    renamed = interp.models.tiny("llama", seed=1)
    renamed.name = "tiny-llama-finetuned"
    with pytest.warns(ModelMismatchWarning, match="saved for tiny-llama and runs on tiny-llama-finetuned"):
        renamed.run("The keys", interventions=[load(folder)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        llama.run("The keys", interventions=[load(folder)])


def test_a_malformed_saved_model_entry_is_an_error(llama, tmp_path):
    folder = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "s", model=llama)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model": {"name": "x", "d_model": "wide"}}))
    with pytest.raises(InputError, match="'model' must be"):
        load(folder)
