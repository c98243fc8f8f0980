"""Shared fixtures: tiny models of every family (fast, exact), the embedded model (slow), the CausalGym
agreement task (``AGREEMENT_SMALL``, ``AGREEMENT_LARGE``, written to a file by ``suite``) and a saved tiny
model folder (``tiny_llama_dir``).

``--device cuda`` builds the tiny models on that device (through ``$INTERP_TINY_DEVICE``, read by
:func:`interp.models.tiny`); tests marked ``gpu`` run only where CUDA is available.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import interp
from interp.models import FAMILIES

# the data files the tests read (``from conftest import FIXTURES``: pytest puts tests/ on sys.path)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# The CausalGym number-agreement task the tests run (a template file's content). Shared by many
# modules: derive a variant (``{"agr": {**AGREEMENT_SMALL["agr"], ...}}``), never mutate these.
AGREEMENT_SMALL = {"agr": {
    "templates": ["The {subject} near the {object}"], "label": "subject", "result_prepend_space": True,
    "labels": {"sg": ["is", "was"], "pl": ["are", "were"]},
    "variables": {"subject": {"sg": ["dog", "key", "author"], "pl": ["dogs", "keys", "authors"]},
                  "object": ["house", "table", "forest", "door"]}}}
AGREEMENT_LARGE = {"agr": {
    "templates": ["The {subject} near the {object}", "The {subject} behind the {object}"],
    "label": "subject", "result_prepend_space": True,
    "labels": {"sg": ["is", "was"], "pl": ["are", "were"]},
    "variables": {"subject": {"sg": ["dog", "key", "author", "teacher"], "pl": ["dogs", "keys", "authors", "teachers"]},
                  "object": ["house", "table", "forest", "cabinet", "door"]}}}


def pytest_addoption(parser):
    parser.addoption("--device", default=None, help="build the tiny test models on this device (e.g. cuda)")


def pytest_configure(config):
    device = config.getoption("--device")
    if device:
        os.environ["INTERP_TINY_DEVICE"] = device


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture
def tiny_hm(family):
    """A tiny random model of each family, in turn."""
    return interp.models.tiny(family)


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M-Instruct (converted once into the user cache, then ~1 s a load)."""
    return interp.load()


@pytest.fixture(scope="module")
def suite(request, tmp_path_factory) -> Path:
    """The test module's ``TASK`` (e.g. ``AGREEMENT_SMALL``) written to a CausalGym template file, agr.json."""
    path = tmp_path_factory.mktemp("suite") / "agr.json"
    path.write_text(json.dumps(request.module.TASK))
    return path


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """``interp.models.tiny("llama")`` saved to a folder named tiny-llama (what ``--model`` reads); read only."""
    hm = interp.models.tiny("llama")
    path = tmp_path_factory.mktemp("models") / "tiny-llama"
    hm.model.save_pretrained(path)
    hm.tokenizer.save_pretrained(path)
    return path




def without_kv_cache(hm):
    """The same weights behind a forward that takes no KV cache (as a custom or older model class
    would): resumed and packed fast paths are unavailable for it, the slower exact paths run."""
    model = hm.model
    base = type(model)

    class NoCacheForward(base):
        def forward(self, input_ids=None, attention_mask=None, position_ids=None, logits_to_keep=0, **kwargs):
            kwargs = {k: v for k, v in kwargs.items() if k not in ("cache", "past_key_values", "use_cache")}
            return base.forward(self, input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                logits_to_keep=logits_to_keep, use_cache=False, **kwargs)

    clone = NoCacheForward(model.config)
    clone.load_state_dict(model.state_dict())
    clone.eval().to(hm.device)
    return interp.wrap(clone, hm.tokenizer, name=f"{hm.name}-no-kv-cache")


# A minimal pair for patching sweeps (the second base ends one token later than its source).
SWEEP_BASE = ["The key to the cabinets", "The dog near the houses was"]
SWEEP_SOURCE = ["The keys to the cabinet", "The dogs near the house"]


def logit_diff(hm):
    """The metric logit(" are") - logit(" is") of ``hm``'s tokenizer, for sweeps and attribution."""
    are, is_ = hm.tokenizer(" are")["input_ids"][-1], hm.tokenizer(" is")["input_ids"][-1]
    return lambda logits: logits[..., are] - logits[..., is_]

