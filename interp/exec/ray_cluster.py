"""Running units on a Ray cluster: one actor per worker, each loads the model once and takes many units.

    executor = RayExecutor(address="auto", num_workers=8)     # or "HOST:PORT"; None: a local cluster
    for unit, result in executor.map(fn, units, model=ModelSpec.of(hm), shared=data):
        ...                                                   # results stream back as units finish
    executor.close()

Each actor gets one unit at a time; when it finishes, the driver hands it the next one at once and
then yields the result (so the caller, e.g. writing a unit file, never keeps a worker waiting).
``shared`` is put in Ray's object store once per ``map`` and fetched once per actor. A worker that
dies (killed, out of memory, its node lost) costs only the unit it was running: the driver starts
a replacement actor and runs that unit again, up to ``max_retries`` times per unit; a unit whose
function *raises* is not retried — ``map`` raises the same exception. Only the driver sees
results, so a unit can never be recorded twice.

Ray is imported when the executor first connects, never by ``import interp``. Workers import
``interp`` themselves: on a multi-machine cluster install it on every node (or pass
``init_options={"runtime_env": {...}}``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from interp.errors import InputError
from interp.exec.base import Executor, ExecutorError
from interp.exec.spec import ModelSpec
from interp.exec.worker import Worker

RESOURCE_WAIT_S = 10.0  # how long to wait for CPUs that killed actors are still releasing


class WorkerActor:
    """The Ray actor: loads the model once from a :class:`ModelSpec`, then runs units."""

    def __init__(self, spec: ModelSpec, threads: int):
        self.worker, self.error, self.token = None, None, None
        try:  # a load error is kept and raised by the first unit: a plain error, not a worker death
            if threads:
                torch.set_num_threads(threads)
            self.worker = Worker(spec.load())
        except Exception as error:  # noqa: BLE001 - re-raised in run()
            self.error = error

    def run(self, fn: Callable[[Worker, Any], Any], token: str, shared_box: list, unit: Any) -> tuple[int, Any]:
        if self.error is not None:
            raise self.error
        if token != self.token:
            import ray

            self.worker.share(ray.get(shared_box[0]))
            self.token = token
        return os.getpid(), fn(self.worker, unit)


class RayExecutor(Executor):
    """Units on Ray actors. ``address``: ``None`` (the running or a new local cluster), ``"auto"``
    (the cluster this machine belongs to) or ``"HOST:PORT"``; ``num_workers``: actors (default: the
    cluster's CPUs / ``cpus_per_worker``); ``max_retries``: reruns of a unit whose worker died."""

    name = "ray"

    def __init__(self, address: str | None = None, num_workers: int | None = None, *, max_retries: int = 3,
                 cpus_per_worker: float = 1, gpus_per_worker: float = 0, threads: int | None = None,
                 init_options: dict | None = None):
        if num_workers is not None and int(num_workers) < 1:
            raise InputError(f"num_workers must be at least 1, not {num_workers}")
        if max_retries < 0 or cpus_per_worker <= 0 or gpus_per_worker < 0:
            raise InputError("max_retries and gpus_per_worker must be >= 0 and cpus_per_worker > 0")
        self.address, self.num_workers, self.max_retries = address, num_workers, int(max_retries)
        self.cpus_per_worker, self.gpus_per_worker = cpus_per_worker, gpus_per_worker
        self.threads = max(1, int(cpus_per_worker)) if threads is None else int(threads)
        self.init_options = dict(init_options or {})
        self.retried = 0  # units run again because their worker died
        self.started = 0  # actors started (replacements included)
        self._actors: list = []
        self._spec: ModelSpec | None = None
        self._pids: dict = {}  # actor -> pid, learnt from its results
        self._owns_ray = False
        self._remote_class = None

    # ------------------------------------------------------------------ cluster and actors
    def _connect(self):
        try:
            import ray
        except ImportError:
            raise ExecutorError("the Ray executor needs Ray: pip install 'interp[ray]'") from None
        if not ray.is_initialized():
            options = {"include_dashboard": False, "logging_level": "ERROR", **self.init_options}
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = self.address or "a new local cluster"
                raise ExecutorError(f"cannot start or reach the Ray cluster at {where}: {error}") from None
            self._owns_ray = True
        if self._remote_class is None:
            self._remote_class = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                                            max_restarts=0, max_task_retries=0)(WorkerActor)
        return ray

    def _workers_wanted(self, ray, n_units: int) -> int:
        """Workers for this map; an error rather than actors that wait forever for CPUs held elsewhere.

        Ray frees a killed actor's CPUs a moment after ``ray.kill`` returns, so CPUs that another
        executor just released get up to ``RESOURCE_WAIT_S`` seconds to show up."""
        deadline = time.monotonic() + RESOURCE_WAIT_S
        while True:
            total = ray.cluster_resources().get("CPU", 0)
            free = ray.available_resources().get("CPU", 0) + len(self._actors) * self.cpus_per_worker
            capacity = int(min(free, total) // self.cpus_per_worker)
            wanted = self.num_workers or max(1, capacity)
            if wanted <= capacity or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if wanted > capacity:
            raise ExecutorError(f"{wanted} workers of {self.cpus_per_worker:g} CPU(s) each do not fit the Ray "
                                f"cluster: {free:g} of its {total:g} CPUs are free (other executors' workers hold "
                                f"the rest); ask for at most {capacity} or close the other executors")
        return min(wanted, n_units)

    def _start_actor(self):
        self.started += 1
        return self._remote_class.remote(self._spec, self.threads)

    def _ensure_actors(self, ray, spec: ModelSpec, count: int) -> None:
        if spec != self._spec:
            self._kill(list(self._actors))
            self._spec = spec
        while len(self._actors) < count:
            self._actors.append(self._start_actor())

    def _kill(self, actors: list) -> None:
        import ray

        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
            if actor in self._actors:
                self._actors.remove(actor)
            self._pids.pop(actor, None)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers that have returned a result (on this machine's cluster)."""
        return [pid for actor, pid in self._pids.items() if actor in self._actors]

    # ------------------------------------------------------------------ map
    def map(self, fn: Callable[[Worker, Any], Any], units: Sequence[Any], *, model: Any = None,
            shared: Any = None) -> Iterator[tuple[Any, Any]]:
        spec = ModelSpec.required(model)
        units = list(units)
        if not units:
            return
        ray = self._connect()
        from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

        self._ensure_actors(ray, spec, self._workers_wanted(ray, len(units)))
        token, box = uuid.uuid4().hex, [ray.put(shared)]
        pending, attempts = deque(range(len(units))), [0] * len(units)
        idle, running = list(self._actors), {}

        def submit() -> None:
            while pending and idle:
                actor, index = idle.pop(0), pending.popleft()
                running[actor.run.remote(fn, token, box, units[index])] = (actor, index)

        try:
            submit()
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                actor, index = running.pop(ref)
                try:
                    pid, result = ray.get(ref)
                except (RayActorError, WorkerCrashedError) as death:
                    attempts[index] += 1
                    self._kill([actor])
                    if attempts[index] > self.max_retries:
                        raise ExecutorError(f"unit {units[index]!r}: its worker died {attempts[index]} times "
                                            f"(max_retries={self.max_retries}); last: {death}") from None
                    self.retried += 1
                    pending.appendleft(index)
                    replacement = self._start_actor()
                    self._actors.append(replacement)
                    idle.append(replacement)
                    submit()
                    continue
                except RayTaskError as error:
                    cause = getattr(error, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else error) from None
                self._pids[actor] = pid
                idle.append(actor)
                submit()  # keep the worker busy while the caller handles the result
                yield units[index], result
        finally:
            for ref in running:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort; the actor finishes its unit otherwise
                    pass

    def close(self) -> None:
        """Stop the workers; shut Ray down if this executor started it."""
        if self._actors:
            self._kill(list(self._actors))
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False
        self._remote_class = None

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, num_workers={self.num_workers})"
