"""Checks of what a run is asked to do, made before any forward pass, with errors in the user's terms.

>>> site_list(["resid_post.0"], "cache")
['resid_post.0']
>>> site_list("resid_post.0", "cache")
Traceback (most recent call last):
interp.errors.InputError: cache takes a list of site names, e.g. cache=['resid_post.0']; got the string 'resid_post.0'
>>> whole_number(0, "max_new_tokens", minimum=1)
Traceback (most recent call last):
interp.errors.InputError: max_new_tokens must be a whole number of at least 1, not 0
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError


def site_list(sites: Any, argument: str) -> list[str]:
    """``sites`` as a list of names; a single string, a bool or any non-list is an :class:`InputError`."""
    example = f"e.g. {argument}=['resid_post.0']"
    if isinstance(sites, str):
        raise InputError(f"{argument} takes a list of site names, {example}; got the string {sites!r}")
    if isinstance(sites, Mapping) or not isinstance(sites, Iterable):
        raise InputError(f"{argument} takes a list of site names, {example}; got {_shown(sites)}")
    names = list(sites)
    for name in names:
        if not isinstance(name, str):
            raise InputError(f"{argument} takes a list of site names, {example}; it holds {_shown(name)}")
    return names


def intervention_list(interventions: Any) -> list:
    """``interventions`` as a list; one intervention on its own (not in a list) is an :class:`InputError`."""
    if hasattr(interventions, "site"):
        raise InputError(f"interventions takes a list, e.g. interventions=[{type(interventions).__name__}(...)]; "
                         f"got one {type(interventions).__name__} on its own: put it in a list")
    if isinstance(interventions, (str, bytes, Mapping)) or not isinstance(interventions, Iterable):
        raise InputError(f"interventions takes a list, e.g. interventions=[Steer(...)]; got {_shown(interventions)}")
    return list(interventions)


def start_value(start_at: Any) -> tuple[str, Tensor]:
    """``start_at`` as ``(site, activations)``; another form, or activations holding NaN/inf, is an
    :class:`InputError` (a run from them would give non-finite logits)."""
    if (not isinstance(start_at, (tuple, list)) or len(start_at) != 2 or not isinstance(start_at[0], str)
            or not isinstance(start_at[1], Tensor)):
        raise InputError("start_at takes (site, activations), e.g. start_at=('resid_pre.1', "
                         f"out.cache['resid_pre.1']); got {_shown(start_at)}")
    site, value = start_at
    if value.is_floating_point() and value.device.type != "meta":
        finite = torch.isfinite(value.detach())
        if not bool(finite.all()):
            first = [int(i) for i in (~finite).nonzero()[0]]
            count = int((~finite).sum())
            raise InputError(f"start_at activations for {site!r} hold {count} NaN or inf values (the first at "
                             f"index {first}); a run cannot start from non-finite activations")
    return site, value


def whole_number(value: Any, argument: str, *, minimum: int) -> int:
    """``value`` as an ``int`` of at least ``minimum``; a bool, a float or less is an :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{argument} must be a whole number of at least {minimum}, not {value!r}")
    return int(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


__all__ = ["intervention_list", "site_list", "start_value", "whole_number"]
