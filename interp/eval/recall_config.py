"""The recall protocol's settings, with their defaults written once: :class:`RecallConfig`.

:func:`interp.eval.recall` and ``interp recall`` both build one and call :meth:`RecallConfig.validate`,
each naming a bad setting the way its user wrote it (``n_facts``, ``--n-facts``) through ``spell``;
:func:`~interp.eval.recall.recall_scaling` and :func:`~interp.eval.recall.known_facts` take their
defaults from it too. The suite is not a setting (as CausalGym's suite and steering's contrast set
are not): it is :func:`~interp.eval.recall`'s second argument, default :data:`DEFAULT_SUITE`.

>>> config = RecallConfig(heads=[[14, 3], (20, 1)], factors=[-1.5, 1]).validate()
>>> config.heads, config.factors           # the same settings, in their one normal form
([(14, 3), (20, 1)], [-1.5, 1.0])
>>> RecallConfig.build(config, n_facts=40, seed=1).n_facts      # recall()'s keywords
40
>>> RecallConfig(n_facts=1).validate(spell=lambda key: "--" + key.replace("_", "-"))
Traceback (most recent call last):
interp.errors.InputError: --n-facts: must be at least 2 (one train and one held-out fact), not 1
>>> RecallConfig(heads="best:2").validate()
Traceback (most recent call last):
interp.errors.InputError: heads must be 'top:K', 'memory:K', 'context:K' or [(layer, head), ...], not 'best:2'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from interp.errors import InputError
from interp.graph.positions import integer_index
from interp.settings import Real, Whole, check_rules

DEFAULT_SUITE = "builtin:capitals"
DEFAULT_FACTORS = (-2.0, -1.5, -1.0, 0.0, 1.0, 2.0)
#: The kinds of ``"KIND:K"`` head choices: memory heads (``top``, ``memory``) or in-context heads.
HEAD_CHOICES = ("top", "memory", "context")
Head = tuple[int, int]
#: Numeric settings and their rules (``n_facts`` only when it is not ``None``), checked in this order.
RULES = {
    "n_facts": Whole(2, " (one train and one held-out fact)"),
    "held_out": Real(0.0, False, 1.0, False, "must be between 0 and 1, both excluded: the share of the facts "
                                             "held out for head scaling"),
    "max_new_tokens": Whole(1),
    "batch_size": Whole(1),
}


@dataclass(frozen=True)
class RecallConfig:
    """What a recall run computes.

    ``heads``: ``"top:K"`` / ``"memory:K"`` (the K heads pushing hardest toward the memorised answer),
    ``"context:K"`` (toward the in-context one), or explicit ``[(layer, head), ...]``; ``factors``:
    what the chosen heads' value vectors are scaled by; ``together``: also scale all chosen heads at
    once. ``only_known``: keep only the facts the model knows without the counterfactual;
    ``n_facts``: use at most that many of them (``None``: all); ``seed`` and ``held_out`` split them
    into train (attribution) and held-out (scaling) parts. ``max_new_tokens``: greedy tokens per
    answer; ``batch_size``: generated rows (prompt × factor) per forward.
    """

    heads: str | Sequence[Head] = "top:3"
    factors: Sequence[float] = DEFAULT_FACTORS
    n_facts: int | None = None
    seed: int = 0
    held_out: float = 0.5
    together: bool = True
    max_new_tokens: int = 6
    batch_size: int = 96
    only_known: bool = True

    @classmethod
    def build(cls, config: RecallConfig | None = None, **overrides: Any) -> RecallConfig:
        """``config`` (default: every default) with ``overrides`` by field name, as
        :func:`~interp.eval.recall` takes them as keywords."""
        config = config if config is not None else cls()
        if not isinstance(config, RecallConfig):
            raise InputError(f"config must be a RecallConfig, not {type(config).__name__} ({config!r}); give "
                             "heads, factors, ... as keywords")
        names = [f.name for f in fields(cls)]
        unknown = [key for key in overrides if key not in names]
        if unknown:
            raise TypeError(f"unexpected setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; the settings "
                            f"are {', '.join(names)}")
        return replace(config, **overrides)

    def validate(self, *, spell: Callable[[str], str] = str) -> RecallConfig:
        """The same settings in their normal form (heads as a list of ``(layer, head)`` tuples or the
        ``"KIND:K"`` text, factors as a list of floats), or an :class:`~interp.errors.InputError` for
        the first bad one, named ``spell(field)``. Explicit heads are checked against a model by
        :func:`~interp.eval.recall.resolve_heads`."""
        heads = check_heads(self.heads, spell=spell("heads"))
        factors = check_factors(self.factors, spell=spell("factors"))
        values = asdict(self)
        check_rules(values, {key: rule for key, rule in RULES.items() if values[key] is not None}, spell=spell)
        for key in ("together", "only_known"):
            if not isinstance(values[key], bool):
                raise InputError(f"{spell(key)} must be true or false, not {values[key]!r}")
        return replace(self, heads=heads, factors=factors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_heads(heads: Any, *, spell: str = "heads") -> str | list[Head]:
    """``"top:K"``/``"memory:K"``/``"context:K"`` as is, or explicit heads as ``[(layer, head), ...]``
    (pairs of integers, at least one); the model's range is checked by :func:`~interp.eval.recall.resolve_heads`."""
    if isinstance(heads, str):
        kind, _, count = heads.partition(":")
        if kind not in HEAD_CHOICES or not count.isdigit() or int(count) < 1:
            raise InputError(f"{spell} must be 'top:K', 'memory:K', 'context:K' or [(layer, head), ...], "
                             f"not {heads!r}")
        return heads
    if not isinstance(heads, Sequence):
        raise InputError(f"{spell} must be 'top:K', 'memory:K', 'context:K' or [(layer, head), ...], not {heads!r}")
    chosen = []
    for entry in heads:
        if isinstance(entry, str) or not (isinstance(entry, Sequence) and len(entry) == 2):
            raise InputError(f"a head is a pair (layer, head) of integers, not {entry!r}")
        chosen.append((integer_index(entry[0], "a head's layer"), integer_index(entry[1], "a head's index")))
    if not chosen:
        raise InputError("no heads to scale")
    return chosen


def check_factors(factors: Sequence[float], *, spell: str = "factors") -> list[float]:
    """Finite numbers, at least one, as floats."""
    if isinstance(factors, str) or not isinstance(factors, Iterable):
        raise InputError(f"{spell} must be a list of finite numbers, not {factors!r}")
    checked = []
    for factor in factors:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
            raise InputError(f"{spell} must be finite numbers, not {factor!r}")
        checked.append(float(factor))
    if not checked:
        raise InputError("no factors to scale by")
    return checked


#: Every default, for the functions that take a few of the settings as keywords.
DEFAULTS = RecallConfig()

__all__ = ["DEFAULTS", "DEFAULT_FACTORS", "DEFAULT_SUITE", "HEAD_CHOICES", "RULES", "Head", "RecallConfig",
           "check_factors", "check_heads"]
