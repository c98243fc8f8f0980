"""The evaluators' numeric settings and task lists, checked in one place before any work.

:func:`interp.eval.causal_efficacy`, the TOML experiment spec (:mod:`interp.experiments.spec`) and
the command line all call these, each naming a setting the way its user wrote it (``das_steps``,
``evaluations[0].das.steps``, ``--das-steps``) through ``spell``.

>>> check_settings({"das_steps": 100, "das_lr": 5e-3, "n_boot": 1000})
>>> check_settings({"das_steps": 0})
Traceback (most recent call last):
interp.errors.InputError: das_steps: must be at least 1 (zero steps would report an untrained DAS as DAS), not 0
>>> check_settings({"das_lr": float("nan")}, spell=lambda key: "--" + key.replace("_", "-"))
Traceback (most recent call last):
interp.errors.InputError: --das-lr: nan is out of range (must be a finite number greater than 0)
>>> parse_tasks("agr, npi"), parse_tasks(None), parse_tasks("all")
(['agr', 'npi'], None, None)
>>> parse_tasks([""])
Traceback (most recent call last):
interp.errors.InputError: tasks is empty: name at least one task, or pass None for all
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from interp.errors import InputError

#: Whole-number settings and their least value (with why, where the reason is not obvious).
INTEGERS: dict[str, tuple[int, str]] = {
    "n_train": (2, " (a task needs at least 2 training pairs)"),
    "n_test": (1, " (a task needs at least 1 test pair)"),
    "n_boot": (1, " (the summary's intervals need at least one bootstrap resample)"),
    "max_rows": (1, ""),
    "batch_size": (1, ""),
    "das_steps": (1, " (zero steps would report an untrained DAS as DAS)"),
    "das_batch_size": (1, ""),
    "das_rank": (1, ""),
}
#: Real-valued settings: (low, low included, high, high included, what the range is in words).
REALS: dict[str, tuple[float, bool, float, bool, str]] = {
    "das_lr": (0.0, False, math.inf, False, "must be a finite number greater than 0"),
    "das_warmup": (0.0, True, 1.0, False, "between 0 and 1: the share of DAS steps spent warming up"),
}


def check_settings(settings: Mapping[str, Any], *, spell: Callable[[str], str] = str) -> None:
    """Raise :class:`InputError` for the first setting of the wrong type or out of range.

    Keys are those of :data:`INTEGERS` and :data:`REALS` (unknown keys are an error: a typo must not
    pass unchecked); ``spell(key)`` is how the message names the setting.
    """
    for key, value in settings.items():
        name = spell(key)
        if key in INTEGERS:
            least, why = INTEGERS[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InputError(f"{name}: must be a whole number, not {value!r}")
            if value < least:
                raise InputError(f"{name}: must be at least {least}{why}, not {value}")
        elif key in REALS:
            low, low_in, high, high_in, words = REALS[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InputError(f"{name}: must be a number, not {value!r}")
            number = float(value)
            inside = (number >= low if low_in else number > low) and (number <= high if high_in else number < high)
            if not math.isfinite(number) or not inside:
                raise InputError(f"{name}: {value!r} is out of range ({words})")
        else:
            raise InputError(f"{name}: not a setting that can be checked; the settings are "
                             f"{', '.join([*INTEGERS, *REALS])}")


def parse_tasks(tasks: str | Sequence[str] | None) -> list[str] | None:
    """``None`` or ``"all"``: every task; ``"a,b"`` or a list: those tasks (in order, each once).

    An empty selection (``""``, ``[]``, ``[""]``) is an error, never "every task"; so is an entry
    that is not a non-empty string.
    """
    if tasks is None or tasks == "all":
        return None
    if isinstance(tasks, str):
        names = [t.strip() for t in tasks.split(",")]
        names = [t for t in names if t]
    else:
        if not isinstance(tasks, Sequence):
            raise InputError(f"tasks must be a list of task names, \"all\" or None, not {tasks!r}")
        bad = [t for t in tasks if not isinstance(t, str)]
        if bad:
            raise InputError(f"tasks must be task names (strings), not {bad[0]!r}")
        names = [t.strip() for t in tasks]
        if any(names) and not all(names):
            raise InputError(f"tasks: entry {names.index('')} of {list(tasks)!r} is an empty name")
        names = [t for t in names if t]
    if not names:
        raise InputError("tasks is empty: name at least one task, or pass None for all")
    return list(dict.fromkeys(names))


def check_control_labels(labels: Sequence[str], *, spell: str = "control_labels") -> tuple[str, str]:
    """Two different non-empty labels, one per type (equal labels would make every score 0)."""
    labels = tuple(labels)
    if len(labels) != 2 or not all(isinstance(label, str) and label for label in labels):
        raise InputError(f"{spell} must be two labels, one per type; got {labels!r}")
    if labels[0] == labels[1]:
        raise InputError(f"{spell}: both types get the label {labels[0]!r}; the control task needs two different "
                         "labels (with one label for both, every score is 0)")
    return labels  # type: ignore[return-value]


__all__ = ["INTEGERS", "REALS", "check_control_labels", "check_settings", "parse_tasks"]
