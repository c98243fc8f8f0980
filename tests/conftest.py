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


