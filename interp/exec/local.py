"""In-process execution, the default: units run one after another in this Python process.

>>> from interp.exec import LocalExecutor
>>> def square(worker, unit):
...     return unit * unit + worker.shared
>>> list(LocalExecutor().map(square, [1, 2, 3], shared=10))
[(1, 11), (2, 14), (3, 19)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from interp.exec.base import Executor
from interp.exec.spec import ModelSpec
from interp.exec.worker import Worker


class LocalExecutor(Executor):
    """Runs ``fn`` on the caller's model, in order (never imports Ray)."""

    name = "local"

    def map(self, fn: Callable[[Worker, Any], Any], units: Sequence[Any], *, model: Any = None,
            shared: Any = None) -> Iterator[tuple[Any, Any]]:
        if isinstance(model, (ModelSpec, str, tuple, dict)):
            model = ModelSpec.parse(model).load()
        worker = Worker(model, shared)
        for unit in units:
            yield unit, fn(worker, unit)

    def __repr__(self) -> str:
        return "LocalExecutor()"
