"""DAS training settings, with their defaults written once (:func:`~interp.methods.train_das`,
:func:`interp.eval.causal_efficacy`, ``interp causalgym --das-*`` and an experiment's
``[evaluations.das]`` all start from :class:`DASConfig`).

>>> DASConfig()
DASConfig(steps=100, batch_size=4, lr=0.005, warmup=0.1, rank=1)
>>> DASConfig(steps=0).validate()
Traceback (most recent call last):
interp.errors.InputError: steps: must be at least 1 (zero steps would report an untrained DAS as DAS), not 0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from interp.settings import POSITIVE, Real, Whole, check_rules


@dataclass(frozen=True)
class DASConfig:
    """Adam for ``steps`` steps of ``batch_size`` pairs, learning rate ``lr`` with a linear warm-up over
    the ``warmup`` share of the steps, then linear decay; a rank-``rank`` subspace per position."""

    steps: int = 100
    batch_size: int = 4
    lr: float = 5e-3
    warmup: float = 0.1
    rank: int = 1

    #: each field's rule (checked in this order)
    RULES = {"steps": Whole(1, " (zero steps would report an untrained DAS as DAS)"), "batch_size": Whole(1),
             "lr": POSITIVE, "warmup": Real(0.0, True, 1.0, False, "between 0 and 1: the share of DAS steps spent "
                                                                  "warming up"),
             "rank": Whole(1)}

    def validate(self, *, spell: Callable[[str], str] = str) -> DASConfig:
        """``self``, or an :class:`~interp.errors.InputError` naming the first bad field as ``spell(field)``."""
        check_rules(asdict(self), self.RULES, spell=spell)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["DASConfig"]
