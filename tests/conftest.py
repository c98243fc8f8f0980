"""Shared fixtures: tiny models of every family (fast, exact) and the embedded model (slow)."""

from __future__ import annotations

import pytest

import interp
from interp.models import FAMILIES


@pytest.fixture(params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture
def tiny_hm(family):
    """A tiny random model of each family, in turn."""
    return interp.models.tiny(family)


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M (converted once into the user cache, then ~1 s a load)."""
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
    clone.eval()
    return interp.wrap(clone, hm.tokenizer, name=f"{hm.name}-no-kv-cache")
