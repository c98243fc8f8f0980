"""One unit of a CausalGym sweep: a task at one layer's site, one method, on the task or the control.

:func:`run_unit` is a pure function of the model, the sweep's encoded pairs and settings
(:class:`Sweep`, sent once to each worker) and the :class:`Unit`, so units run anywhere (this
process, or a Ray worker: :mod:`interp.exec`) and in any order, with the same record.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from interp.errors import InputError
from interp.eval.causalgym.plan import EncodedTask
from interp.eval.finite import check_finite
from interp.interventions.base import site_shape
from interp.methods import DASConfig, activations, base_logprobs, find_direction, random_direction, score, train_das
from interp.sae.direction import sae_direction, sae_for_site


@dataclass(frozen=True)
class Unit:
    """One unit of the sweep: a task at a site, one method, on the task or the control labels."""

    task: str
    layer: int
    site: str
    method: str
    control: bool

    @property
    def key(self) -> str:
        return f"{self.task}/{self.site}/{self.method}/{'control' if self.control else 'task'}"


@dataclass
class Sweep:
    """What every unit reads (sent once to each worker): the encoded tasks and the settings."""

    tasks: dict[str, EncodedTask]
    seed: int
    das: dict  # DASConfig.to_dict(): what unit records keep
    max_rows: int
    model: tuple[str, str | None]  # (name, revision) of the driver's model: workers must load the same
    sae: str | None = None  # the folder of saved SAEs the sae method reads
    sites: tuple[str, ...] = ()  # every layer's site: a job's plain runs cache them all, for the task's next jobs


def _directions(hm, method: str, task: EncodedTask, data, site: str, layer: int, seed: int, das: dict,
                activations_of: Callable[[], tuple[Tensor, Tensor]], paths: dict | None = None,
                sae: str | None = None) -> Tensor | None:
    """``[P, d, k]`` bases of ``method`` for every span (None: vanilla). DAS training records the path
    its steps ran on in ``paths["das_training"]``."""
    if method == "vanilla":
        return None
    if method == "das":
        result = train_das(hm, data, site, DASConfig(**das), seed=seed)
        if paths is not None:
            paths["das_training"] = result.path
        return result.bases.detach().float()
    if method == "random":
        width = site_shape(hm, site)[-1]
        return torch.stack([random_direction(width, zlib.crc32(f"{seed}:{task.name}:{layer}:{span}".encode()))
                            for span in task.spans])[..., None]
    base, source = activations_of()
    if method == "sae":  # the decoder row of the feature that best separates the types (interp.sae.direction)
        model = sae_for_site(sae, site, hm)
        return torch.stack([sae_direction(model, base[:, p], source[:, p], data.base_types, data.source_types)
                            .direction for p in range(len(task.spans))])[..., None]
    return torch.stack([find_direction(method, base[:, p], source[:, p], data.base_types, data.source_types,
                                       seed=seed) for p in range(len(task.spans))])[..., None]


def run_unit(worker, unit: Unit) -> tuple[dict, Tensor | None]:
    """The unit's record (per-example scores) and its directions ``[P, d, k]`` (None: vanilla).

    A pure function of the model, the sweep's data and the unit (so it runs on any worker, in any
    order, with the same result). The direction methods other than DAS never see the labels, so
    the control unit reuses the task unit's directions; ``worker.memo`` computes the training
    activations of a task at a site, those directions and the clean log-probs once per worker.
    """
    hm, sweep = worker.model, worker.shared
    check_model(hm, sweep)
    task, site, method = sweep.tasks[unit.task], unit.site, unit.method
    started = time.perf_counter()

    def activations_of():
        return worker.memo(("activations", task.name, site), lambda: activations(hm, task.train, site))

    paths: dict[str, str] = {}
    if method == "das":
        train = task.control_train if unit.control else task.train
        bases = _directions(hm, method, task, train, site, unit.layer, sweep.seed, sweep.das, activations_of, paths)
    else:
        bases = worker.memo(("directions", task.name, site, method), lambda: _directions(
            hm, method, task, task.train, site, unit.layer, sweep.seed, sweep.das, activations_of, sae=sweep.sae))
    test = task.control_test if unit.control else task.test
    clean = worker.memo(("clean", task.name, unit.control), lambda: base_logprobs(hm, test))
    scores = score(hm, test, site, [None] * len(task.spans) if bases is None else list(bases),
                   max_rows=sweep.max_rows, clean=clean)
    paths["scoring"] = scores.path
    _check_finite(unit, task.spans, scores.odds_ratio)
    record = {"task": task.name, "method": method, "layer": unit.layer, "site": site, "control": unit.control,
              "positions": list(task.spans), "odds_ratio": scores.odds_ratio.double().tolist(),
              "iia": scores.iia.int().tolist(), "behaviour": scores.behaviour.int().tolist(),
              "task_digest": task.digest, "das": sweep.das if method == "das" else None, "directions": None,
              "computation": paths, "seconds": round(time.perf_counter() - started, 3)}
    return record, bases


def check_model(hm, sweep: Sweep) -> None:
    """The worker's model must be the sweep's (a worker loads it from the model spec)."""
    if (hm.name, hm.revision) != sweep.model:
        raise InputError(f"the worker loaded {hm.name} (revision {hm.revision}) but the sweep's model is "
                         f"{sweep.model[0]} (revision {sweep.model[1]}): the model spec must load the same model")


def _check_finite(unit: Unit, spans: Sequence[int], odds_ratio: Tensor) -> None:
    """A unit's odds-ratios must all be finite: a NaN/inf would become a NaN (or inf) in the tables."""
    side = "control" if unit.control else "task"
    check_finite(odds_ratio, f"unit task {unit.task!r}, site {unit.site}, method {unit.method!r}, layer {unit.layer} "
                             f"({side})", lambda i: f"the log odds-ratio of test pair {i[1]} at span {spans[i[0]]}")


__all__ = ["Sweep", "Unit", "check_model", "run_unit"]
