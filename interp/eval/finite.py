"""Evaluators refuse non-finite scores: a NaN or inf on a unit is an error naming the unit, never a
NaN (or a silently skewed mean) in the tables.

>>> import torch
>>> check_finite(torch.tensor([[0.5, 1.0]]), "task 'agr', layer 2", lambda i: f"pair {i[1]} at span {i[0]}")
>>> check_finite(torch.tensor([[0.5, float("nan")]]), "task 'agr', layer 2", lambda i: f"pair {i[1]} at span {i[0]}")
... # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.NumericalError: task 'agr', layer 2: pair 1 at span 0 is nan (1 of 2 values are not finite: ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from interp.errors import NumericalError


def check_finite(values: Any, unit: str, what: Callable[[tuple[int, ...]], str] | str = "a value") -> None:
    """Raise :class:`~interp.errors.NumericalError` if any of ``values`` (a tensor, array or nested
    list) is NaN or infinite. ``unit`` names the unit (task/site/method/layer, suite/item/condition);
    ``what(index)`` names the first bad value by its index."""
    array = torch.as_tensor(values, dtype=torch.float64) if not isinstance(values, torch.Tensor) else values
    bad = (~torch.isfinite(array)).nonzero()
    if len(bad):
        index = tuple(bad[0].tolist())
        name = what(index) if callable(what) else what
        raise NumericalError(f"{unit}: {name} is {float(array[index])} ({len(bad)} of {array.numel()} values are not "
                             "finite: the model's logits or activations, or the intervention, are NaN/inf); no "
                             "scores are reported from them")


__all__: Sequence[str] = ["check_finite"]
