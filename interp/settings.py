"""Checks of numeric settings, shared by every config object (:class:`~interp.methods.DASConfig`,
:class:`~interp.eval.CausalGymConfig`, ...): each config lists its fields' rules once, and every
caller (Python, the command line, an experiment file) names a bad value its own way through ``spell``.

>>> RULES = {"steps": Whole(1, " (zero steps would report an untrained DAS as DAS)"), "lr": POSITIVE}
>>> check_rules({"steps": 100, "lr": 5e-3}, RULES)
>>> check_rules({"steps": 0, "lr": 5e-3}, RULES, spell=lambda key: "das_" + key)
Traceback (most recent call last):
interp.errors.InputError: das_steps: must be at least 1 (zero steps would report an untrained DAS as DAS), not 0
>>> check_rules({"steps": 1, "lr": float("nan")}, RULES, spell=lambda key: "--das-" + key)
Traceback (most recent call last):
interp.errors.InputError: --das-lr: nan is out of range (must be a finite number greater than 0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interp.errors import InputError


@dataclass(frozen=True)
class Whole:
    """A whole number of at least ``least``; ``why`` (e.g. ``" (a task needs 2 pairs)"``) ends the message."""

    least: int
    why: str = ""

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"{name}: must be a whole number, not {value!r}")
        if value < self.least:
            raise InputError(f"{name}: must be at least {self.least}{self.why}, not {value}")


@dataclass(frozen=True)
class Real:
    """A finite real number in ``(low, high)``, each end included when its flag says so."""

    low: float
    low_included: bool
    high: float
    high_included: bool
    words: str  # the range in words, e.g. "between 0 and 1"

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputError(f"{name}: must be a number, not {value!r}")
        number = float(value)
        above = number >= self.low if self.low_included else number > self.low
        below = number <= self.high if self.high_included else number < self.high
        if not math.isfinite(number) or not (above and below):
            raise InputError(f"{name}: {value!r} is out of range ({self.words})")


#: A finite number greater than 0 (learning rates, temperatures).
POSITIVE = Real(0.0, False, math.inf, False, "must be a finite number greater than 0")


def check_rules(values: Mapping[str, Any], rules: Mapping[str, Whole | Real], *,
                spell: Callable[[str], str] = str) -> None:
    """Raise :class:`InputError` for the first of ``values`` (in ``rules``' order) that breaks its rule."""
    for key, rule in rules.items():
        rule.check(spell(key), values[key])


__all__ = ["POSITIVE", "Real", "Whole", "check_rules"]
