"""Shared fixtures: tiny models of every family (fast, exact) and the embedded model (slow).

``--device cuda`` builds the tiny models on that device (through ``$INTERP_TINY_DEVICE``, read by
:func:`interp.models.tiny`); tests marked ``gpu`` run only where CUDA is available.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import interp
from interp.models import FAMILIES

# the data files the tests read (``from conftest import FIXTURES``: pytest puts tests/ on sys.path)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


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
