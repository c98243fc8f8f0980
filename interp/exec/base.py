"""The executor interface: run independent units, stream ``(unit, result)`` back as they finish.

    for unit, result in executor.map(fn, units, model=hm, shared=data):
        ...                          # the caller (the driver) records each result, e.g. in a UnitLog

``fn(worker, unit)`` is a module-level function (see :class:`~interp.exec.worker.Worker`);
``model`` is a loaded :class:`~interp.graph.HookedModel` (used as is by the local executor) and/or
a :class:`~interp.exec.spec.ModelSpec` (what a remote worker loads, once); ``shared`` is data
every unit reads (sent to each worker once per ``map``). Results may arrive in any order; each
unit's result arrives exactly once, or ``map`` raises. An exception raised by ``fn`` is raised
again by ``map`` (same type); a worker that dies (killed, out of memory) costs only its current
unit, which is run again elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from interp.errors import InterpError


class ExecutorError(InterpError, RuntimeError):
    """Units could not be run: the workers kept dying, or the cluster could not be reached."""


class Executor:
    """Base class: ``map`` streams results; ``close`` releases workers (also as a context manager)."""

    name = "executor"

    def map(self, fn: Callable[[Any, Any], Any], units: Sequence[Any], *, model: Any = None,
            shared: Any = None) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (nothing to do for in-process execution)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
