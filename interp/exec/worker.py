"""What a unit function sees: the model, the sweep's shared data, and a small per-worker memo.

A unit function is ``fn(worker, unit) -> result``: a module-level function (so that it pickles by
name for a Ray worker) whose result depends only on ``worker.model``, ``worker.shared`` and
``unit``. ``worker.memo`` lets units that share an intermediate value (e.g. the activations of
one task at one layer) compute it once per worker; the value must be deterministic, so that a
unit gives the same result on any worker and in any order.

>>> worker = Worker(model=None, shared={"scale": 2})
>>> worker.memo(("double", 3), lambda: 3 * worker.shared["scale"])
6
>>> worker.memo(("double", 3), lambda: 1 / 0)      # cached: not computed again
6
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Worker:
    """One worker's state: ``model`` (loaded once), ``shared`` (the current sweep's data)."""

    model: Any
    shared: Any = None
    keep: int = 32  # memo entries kept, least recently used dropped first
    _memo: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` on this worker (the last ``keep`` keys are remembered)."""
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        value = compute()
        self._memo[key] = value
        while len(self._memo) > self.keep:
            self._memo.popitem(last=False)
        return value

    def memo_latest(self, slot: str, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key``, keeping only the latest key's value in ``slot`` (for large values,
        e.g. one task's activations at every layer, that the next jobs reuse until the task changes).

        >>> worker = Worker(model=None)
        >>> worker.memo_latest("task", "a", lambda: 1), worker.memo_latest("task", "a", lambda: 2)
        (1, 1)
        >>> worker.memo_latest("task", "b", lambda: 3), worker.memo_latest("task", "a", lambda: 4)
        (3, 4)
        """
        held = self._memo.get(("latest", slot))
        if held is not None and held[0] == key:
            return held[1]
        self._memo.pop(("latest", slot), None)  # free the old value before computing the new one
        value = compute()
        self._memo[("latest", slot)] = (key, value)
        return value

    def share(self, shared: Any) -> None:
        """Start a new sweep: new shared data, empty memo."""
        self.shared = shared
        self._memo.clear()
