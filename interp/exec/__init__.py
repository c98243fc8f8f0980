"""Where sweep units run: in this process (``local``, the default) or on a Ray cluster (``ray``).

>>> from interp.exec import get_executor
>>> get_executor("local")
LocalExecutor()
>>> get_executor("ray", address="auto", num_workers=4)      # connects when it first runs units
RayExecutor(address='auto', num_workers=4)

Importing this package never imports Ray; see :mod:`interp.exec.base` for the interface.
"""

from __future__ import annotations

from typing import Any

from interp.errors import InputError
from interp.exec.base import Executor, ExecutorError
from interp.exec.local import LocalExecutor
from interp.exec.ray_cluster import RayExecutor
from interp.exec.spec import ModelSpec
from interp.exec.worker import Worker

EXECUTORS = ("local", "ray")


def get_executor(executor: str | Executor | None = "local", *, address: str | None = None,
                 num_workers: int | None = None, **options: Any) -> Executor:
    """An executor by name (``"local"`` / ``"ray"``), or ``executor`` itself if it is one already."""
    if isinstance(executor, Executor):
        return executor
    if executor is None or executor == "local":
        if address is not None or num_workers is not None:
            raise InputError("address and num_workers apply to the Ray executor only (executor='ray')")
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor(address=address, num_workers=num_workers, **options)
    raise InputError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "ModelSpec", "RayExecutor", "Worker",
           "get_executor"]
