"""The steering sweep's settings, with their defaults written once: :class:`SteeringConfig`.

:func:`interp.eval.steering_sweep` and ``interp steer`` both start from it.

>>> config = SteeringConfig(layers=4, coefficients=[-1, 0, 1]).validate()
>>> config.layers, config.coefficients
([4], [-1.0, 0.0, 1.0])
>>> SteeringConfig(samples=2).validate()                                   # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.InputError: samples=2: more than one sample per prompt needs sample=True ...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from interp.errors import InputError

#: Defaults chosen on the embedded SmolLM2-135M-Instruct with the built-in sentiment set (README "Steering").
DEFAULT_LAYERS = (9,)
DEFAULT_COEFFICIENTS = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
READS = ("mean", "last")
WHERE = ("prompt", "new", "all")
Behaviour = Callable[[str], "bool | float"] | Mapping[str, Sequence[str]] | Sequence[str] | None


@dataclass(frozen=True)
class SteeringConfig:
    """Steer at ``f"{site}.{layer}"`` for each of ``layers`` with each of ``coefficients`` (units: the
    site's mean activation norm), the contrast read at each sentence's ``read`` (``mean`` or ``last``
    token); ``where``: the prompt tokens, the new ones or all; ``prompts`` (default: the contrast
    set's) continued by ``max_new_tokens`` tokens, greedily or (``sample``, seeded by ``seed``)
    ``samples`` times at ``temperature``; ``behaviour`` scores a text (default: the contrast set's
    words); ``batch_size`` generated rows per forward."""

    layers: int | Sequence[int] = DEFAULT_LAYERS
    coefficients: Sequence[float] = DEFAULT_COEFFICIENTS
    prompts: Sequence[str] | None = None
    max_new_tokens: int = 20
    behaviour: Behaviour = None
    site: str = "resid_pre"
    read: str = "mean"
    where: str = "all"
    sample: bool = False
    samples: int = 1
    temperature: float = 1.0
    seed: int = 0
    batch_size: int = 64

    def validate(self) -> SteeringConfig:
        """The same settings in their normal form (lists), or an :class:`~interp.errors.InputError`
        for the first bad one. Prompts left to the contrast set are checked once it is read."""
        layers = [self.layers] if isinstance(self.layers, int) else list(self.layers)
        coefficients = check_coefficients(self.coefficients)
        if not layers or not all(isinstance(layer, int) and not isinstance(layer, bool) for layer in layers) \
                or len(set(layers)) != len(layers):
            raise InputError(f"layers must be a non-empty list of distinct integers, not {self.layers!r}")
        if self.prompts is not None:
            check_prompts(self.prompts)
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be a positive integer, not {self.max_new_tokens!r}")
        if self.read not in READS:
            raise InputError(f"read must be one of {', '.join(map(repr, READS))}, not {self.read!r}")
        if self.where not in WHERE:
            raise InputError(f"where must be one of {', '.join(map(repr, WHERE))}, not {self.where!r}")
        samples = self.samples
        if samples < 1 or (samples > 1 and not self.sample):
            raise InputError(f"samples={samples}: more than one sample per prompt needs sample=True "
                             f"(greedy generation gives the same text every time)" if samples > 1 else
                             f"samples must be at least 1, not {samples}")
        if self.sample and not self.temperature > 0:
            raise InputError(f"temperature must be positive, not {self.temperature!r}")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, not {self.batch_size}")
        return replace(self, layers=layers, coefficients=coefficients,
                       prompts=None if self.prompts is None else list(self.prompts))


def check_coefficients(coefficients: Sequence[float]) -> list[float]:
    if (isinstance(coefficients, (str, bytes)) or not hasattr(coefficients, "__iter__")
            or any(isinstance(c, (bool, str, bytes)) for c in coefficients)):
        raise InputError(f"coefficients must be a list of numbers (not strings or bools), not {coefficients!r}")
    try:
        values = [float(c) for c in coefficients]
    except (TypeError, ValueError):
        raise InputError(f"coefficients must be numbers, not {coefficients!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise InputError(f"coefficients must be a non-empty list of finite numbers, not {coefficients!r}")
    if len(set(values)) != len(values):
        raise InputError(f"coefficients repeat: {values}")
    return values


def check_prompts(prompts: Sequence[Any]) -> None:
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise InputError("prompts must be a non-empty list of non-empty strings (the contrast set has no "
                         "'prompts': pass prompts=[...])" if not prompts else f"prompts must be strings: {prompts!r}")


__all__ = ["DEFAULT_COEFFICIENTS", "DEFAULT_LAYERS", "READS", "WHERE", "Behaviour", "SteeringConfig",
           "check_coefficients", "check_prompts"]
