"""Interventions at chosen generation steps: :class:`AtSteps` (nnsight's ``iter[...]`` / ``all()``).

Generation runs one forward per new token. **Step** ``s`` is the forward that chooses new token
``s`` (counted from 0): step 0 reads the prompt, step ``s >= 1`` reads new token ``s - 1``. An
intervention at step ``s`` therefore changes new tokens ``s, s + 1, ...`` and never the ones before.

>>> import torch, interp
>>> from interp.interventions import Steer
>>> hm = interp.models.tiny("llama")
>>> steer = Steer("resid_post.0", torch.ones(64), alpha=8.0)
>>> third = AtSteps(steer, 2)                            # only the forward that picks the 3rd new token
>>> from_fifth = AtSteps(steer, slice(4, None))          # from new token 5 on
>>> plain = hm.generate("The keys to the", max_new_tokens=5).new_tokens
>>> steered = hm.generate("The keys to the", interventions=[third], max_new_tokens=5).new_tokens
>>> torch.equal(steered[:, :2], plain[:, :2])             # tokens before step 2 are untouched
True
>>> third
AtSteps(Steer('resid_post.0', ...), steps=[2])
>>> from_fifth.steps
StepSet(4:)

At step 0 the intervention is bound to the prompt at its own ``positions`` (counted in each prompt's
real tokens, as in ``hm.run``); at later steps to the one new token (``positions=None``), as
``where="new"`` does. ``steps``: an int, a list or ``range`` of ints, a ``slice`` (``slice(4, None)``:
from step 4 on; ``slice(0, None, 2)``: every other step) or ``"all"``. An :class:`AtSteps`
intervention ignores ``generate``'s ``where`` (its steps say it all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from interp.errors import InputError


@dataclass(frozen=True)
class StepSet:
    """Generation steps: the finite ``chosen`` ones, or ``start, start + stride, ...`` (``stop`` exclusive).

    >>> StepSet.of([3, 1]), StepSet.of(slice(2, None)), StepSet.of("all")
    (StepSet(1, 3), StepSet(2:), StepSet(0:))
    >>> 5 in StepSet.of(slice(1, 9, 2)), 4 in StepSet.of(slice(1, 9, 2))
    (True, False)
    """

    chosen: tuple[int, ...] | None = None
    start: int = 0
    stop: int | None = None
    stride: int = 1

    @classmethod
    def of(cls, spec: Any) -> StepSet:
        if isinstance(spec, StepSet):
            return spec
        if isinstance(spec, str) and spec == "all":
            return cls(start=0)
        if isinstance(spec, slice):
            start, stop, stride = spec.start or 0, spec.stop, 1 if spec.step is None else spec.step
            if not all(isinstance(v, int) and v >= 0 for v in (start, stride)) or stride < 1 or (
                    stop is not None and (not isinstance(stop, int) or stop < 0)):
                raise InputError(f"steps={spec!r}: a slice of steps has non-negative integer bounds and a positive "
                                 "step, e.g. slice(4, None) for 'from step 4 on'")
            return cls(start=start, stop=stop, stride=stride)
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = [spec]
        if isinstance(spec, Iterable) and not isinstance(spec, str):
            steps = list(spec)
            if steps and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps):
                return cls(chosen=tuple(sorted(set(steps))))
        raise InputError(f"steps={spec!r}: give an int (step 2 = the forward choosing the 3rd new token), a list "
                         "or range of them, a slice (slice(4, None) = from step 4 on) or 'all'")

    def __contains__(self, step: int) -> bool:
        if self.chosen is not None:
            return step in self.chosen
        return step >= self.start and (self.stop is None or step < self.stop) and (step - self.start) % self.stride == 0

    def first(self) -> int | None:
        """The first step in the set (None when empty)."""
        if self.chosen is not None:
            return self.chosen[0] if self.chosen else None
        return self.start if self.stop is None or self.start < self.stop else None

    def __repr__(self) -> str:
        if self.chosen is not None:
            return f"StepSet({', '.join(map(str, self.chosen))})"
        stop = "" if self.stop is None else str(self.stop)
        return f"StepSet({self.start}:{stop}{'' if self.stride == 1 else f':{self.stride}'})"


class AtSteps:
    """``intervention`` applied at the generation ``steps`` only (see the module docstring)."""

    def __init__(self, intervention: Any, steps: Any):
        if not hasattr(intervention, "site"):
            raise InputError(f"AtSteps wraps an intervention (an object with .site), not {type(intervention).__name__}")
        self.intervention = intervention
        self.steps = StepSet.of(steps)
        self.site = intervention.site

    def check(self, max_new_tokens: int) -> None:
        """An error when no step of the set happens in a generation of ``max_new_tokens`` tokens."""
        first = self.steps.first()
        if first is None or first >= max_new_tokens:
            raise InputError(f"{self!r} never applies: a generation of {max_new_tokens} new tokens runs steps 0 to "
                             f"{max_new_tokens - 1}")

    def __repr__(self) -> str:
        inner = f"{type(self.intervention).__name__}({self.site!r}, ...)"
        steps = list(self.steps.chosen) if self.steps.chosen is not None else self.steps
        return f"AtSteps({inner}, steps={steps})"
