"""Causal efficacy: the CausalGym protocol end to end, as a resumable sweep.

For every task of a suite, every layer and every aligned position (span), each method finds a
direction from the training pairs' activations at ``site_kind.L`` (DAS is trained on the
counterfactual label; ``vanilla`` patches the whole vector), and the direction is scored on the
test pairs by the one-dimensional interchange: log odds-ratio, interchange-intervention accuracy
(IIA) and the model's behavioural accuracy. With ``control=True`` the same is done on the
control relabelling (`` dog`` / `` give``) and selectivity = score − control score.

>>> import interp, json, tempfile
>>> from interp.eval import causal_efficacy
>>> hm = interp.models.tiny("llama")
>>> suite = tempfile.mktemp(suffix=".json")
>>> _ = open(suite, "w").write(json.dumps({"agr": {"templates": ["The {subject} near the {object}"],
...     "label": "subject", "result_prepend_space": True, "labels": {"sg": ["is"], "pl": ["are"]},
...     "variables": {"subject": {"sg": ["dog", "key"], "pl": ["dogs", "keys"]}, "object": ["car", "house"]}}}))
>>> result = causal_efficacy(hm, suite, methods=["mean", "vanilla"], layers=[1], n_train=4, n_test=2,
...                          control_labels=(" dog", " house"), n_boot=50)   # the tiny vocabulary has no " give"
>>> sorted(result.results.metric.unique())
['behaviour', 'iia', 'odds_ratio', 'selectivity', 'selectivity_iia']
>>> list(result.results.columns)
['model', 'suite', 'task', 'method', 'layer', 'site', 'position', 'control', 'metric', 'value', 'n']
>>> result.subspaces("agr", "mean", 1)[0]            # reusable interventions, one per span
Subspace(site='resid_post.1', basis=[64, 1])

**Units.** A unit is task × layer × method × (task | control). With ``out=DIR`` each finished
unit is written at once to ``DIR/units/`` (one file per unit, atomically; see
:mod:`interp.eval.units`) with its per-example scores, and its directions to
``DIR/directions/TASK/METHOD[-control]/SITE.safetensors`` (:func:`load_directions` gives them
back as :class:`~interp.interventions.Subspace` objects); a rerun into the same folder skips the
units already there, so an interrupted run resumes without losing or repeating finished units.
Each unit is a pure function of the model, the encoded pairs and the unit (:func:`run_unit`), so
units run anywhere: ``executor="local"`` (in this process, the default) or on a Ray cluster
(``executor=RayExecutor(address="auto")``, see :mod:`interp.exec`), with the same tables.
At the end ``results.csv``, ``summary.csv`` and ``meta.json`` are written (``meta.json`` last).

**Tables.** ``results``: one row per unit, position and metric (``odds_ratio``, ``iia``,
``behaviour`` on both the task and the control (``control`` column); ``selectivity`` and
``selectivity_iia`` = task − control, on the task rows), each the mean over the ``n`` test
pairs. ``summary`` (:func:`interp.eval.aggregate.summarize`): the published aggregation — mean
over examples, max over positions, mean over layers, mean over tasks — per method, with 95 %
bootstrap intervals over examples, for every task and for ``task == "all"``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from interp.errors import InputError, SiteError, SuiteError
from interp.eval.aggregate import summarize
from interp.eval.finite import check_finite
from interp.eval.settings import check_control_labels, check_settings, parse_tasks
from interp.eval.units import UnitLog
from interp.graph.sites import LAYER_RESIDUAL_KINDS
from interp.suites.pairs import CONTROL_LABELS

RESULT_COLUMNS = ["model", "suite", "task", "method", "layer", "site", "position", "control", "metric", "value",
                  "n"]
SITE_KINDS = LAYER_RESIDUAL_KINDS  # the per-layer kinds a d_model-wide direction sits at


# ------------------------------------------------------------------------------ arguments
def parse_methods(methods: str | Sequence[str] | None) -> list[str]:
    """``"das,probe"`` / a list / ``None`` or ``"all"`` (every method) -> validated method names."""
    from interp.methods import METHODS

    if methods is None or methods == "all":
        return list(METHODS)
    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else [str(m) for m in methods]
    names = [m for m in names if m]
    if not names:
        raise InputError(f"no methods given; choose from {', '.join(METHODS)}")
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise InputError(f"unknown method{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(METHODS)}")
    return list(dict.fromkeys(names))


def parse_layers(layers: Any, n_layers: int) -> list[int]:
    """``None``/``"all"``, an int, a list, a ``range``, or text ``"0:30:2"`` / ``"4"`` / ``"0,2,4"``."""
    valid = f"the model has {n_layers} layers (0..{n_layers - 1})"
    if layers is None or layers == "all":
        return list(range(n_layers))
    if isinstance(layers, str):
        text = layers.strip()
        try:
            parts = [int(p) if p.strip() else None for p in text.split(":" if ":" in text else ",")]
        except ValueError:
            parts = []
        if not parts or len(parts) > 3 and ":" in text or (":" not in text and None in parts):
            raise InputError(f"cannot read layers {text!r}: write START:STOP[:STEP] (e.g. 0:30:2), a number, "
                             "or numbers separated by commas")
        if ":" in text:
            start, stop, step = (parts + [None, None])[:3]
            start = 0 if start is None else start
            stop = n_layers if stop is None else stop
            if stop > n_layers or start < 0 or stop < 0:
                raise InputError(f"layer range {text!r} goes outside the model: {valid}")
            layers = list(range(start, stop, step or 1))
        else:
            layers = parts
    elif isinstance(layers, int):
        layers = [layers]
    layers = [int(layer) for layer in layers]
    if not layers:
        raise InputError(f"no layers selected; {valid}")
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise InputError(f"layer{'s' if len(bad) > 1 else ''} {bad} outside the model: {valid}")
    return list(dict.fromkeys(layers))


# ------------------------------------------------------------------------------ the plan
@dataclass
class _Task:
    """One task's encoded pairs: train/test for the task labels and for the control labels."""

    name: str
    spans: list[int]
    train: Any  # PairData
    test: Any
    control_train: Any
    control_test: Any
    digest: str


def _load_tasks(suite: Any, tasks: Sequence[str] | None, seed: int, n_train: int, n_test: int) -> dict:
    from interp.suites import causalgym

    if isinstance(suite, dict):
        chosen = dict(suite) if tasks is None else {t: suite[t] for t in tasks if t in suite}
        missing = [] if tasks is None else [t for t in tasks if t not in suite]
        if missing:
            raise SuiteError(f"no task {missing}; the tasks are: {', '.join(suite)}")
        return chosen
    if isinstance(suite, (str, Path)):
        return causalgym.load_templates(suite, seed=seed, sizes=(n_train, 0, n_test),
                                        tasks=list(tasks) if tasks is not None else None)
    raise InputError(f"suite must be a template file, folder, builtin:NAME or a dict of TaskSplits; got "
                     f"{type(suite).__name__}")


def _encode(hm, splits, positions: Sequence[int] | None, control_labels: tuple[str, str] | None) -> _Task:
    from interp.methods import PairData

    name = splits.task
    if not splits.train or not splits.test:
        raise SuiteError(f"task {name!r} has {len(splits.train)} training and {len(splits.test)} test pairs; it "
                         "needs both")
    control = splits.control(control_labels) if control_labels else None
    jobs = [("train", splits, "train"), ("test", splits, "test")]
    if control is not None:
        jobs += [("control_train", control, "train"), ("control_test", control, "test")]
    encoded = {}
    for key, source, split in jobs:
        try:
            encoded[key] = source.encode(hm.tokenizer, split)
        except InputError as error:
            kind = "control " if source is control else ""
            raise InputError(f"{error} (in the {kind}{split} split)") from None
    for key, pairs in encoded.items():
        _check_labels_differ(name, pairs, hm.tokenizer, "control " if key.startswith("control") else "")
    common = set(encoded["train"][0].sites)
    for pairs in encoded.values():
        for pair in pairs:
            common &= set(pair.sites)
    spans = sorted(common)
    if positions is not None:
        wanted = [int(p) for p in positions]
        missing = [p for p in wanted if p not in common]
        if missing:
            raise InputError(f"task {name!r}: span{'s' if len(missing) > 1 else ''} {missing} not usable in every "
                             f"pair; usable spans: {spans}")
        spans = wanted
    if not spans:
        raise SuiteError(f"task {name!r}: its pairs share no usable span (position) to intervene on")
    pad = getattr(hm.tokenizer, "pad_token_id", None) or 0
    data = {key: PairData.from_encoded(pairs, spans, pad_id=pad) for key, pairs in encoded.items()}
    frames = splits.to_frame().to_csv(index=False)
    digest = hashlib.sha256(f"{spans}\n{frames}".encode()).hexdigest()[:16]
    return _Task(name, spans, data["train"], data["test"], data.get("control_train"), data.get("control_test"),
                 digest)


def _check_labels_differ(task: str, pairs: list, tokenizer, kind: str = "") -> None:
    """The two types' label tokens must differ: a token that is a label of both makes every odds-ratio 0."""
    by_type: dict[str, dict[int, str]] = {}
    for encoded in pairs:
        pair = encoded.pair
        by_type.setdefault(pair.base_type, {})[encoded.base_label_id] = pair.base_label
        by_type.setdefault(pair.src_type, {})[encoded.src_label_id] = pair.src_label
    types = list(by_type)
    for i, first in enumerate(types):
        for second in types[i + 1:]:
            shared = sorted(set(by_type[first]) & set(by_type[second]))
            if shared:
                token = shared[0]
                a, b = by_type[first][token], by_type[second][token]
                same = repr(a) if a == b else f"{a!r} and {b!r} (one token)"
                raise SuiteError(f"task {task!r}: the {kind}label {same} belongs to both types {first!r} and "
                                 f"{second!r}; the two types need different labels (a shared label scores 0 "
                                 "everywhere)")


def _check_site(hm, site: str, methods: list[str]) -> None:
    try:
        hm.binding(site)
    except SiteError as error:
        raise InputError(f"site {site!r}: {error}") from None
    if "das" in methods:
        from interp.methods.das import _width

        _width(hm, site)


def _suite_name(suite: Any) -> str:
    if isinstance(suite, (str, Path)):
        text = str(suite)
        return text if text.startswith("builtin:") else Path(text).stem
    return "custom"


# ------------------------------------------------------------------------------ directions on disk
def save_directions(path: str | Path, bases: Tensor, site: str, spans: Sequence[int], **meta: Any) -> Path:
    """Write ``bases [P, d, k]`` (one orthonormal basis per span) atomically as safetensors."""
    from safetensors.torch import save

    from interp.io import atomic_write_bytes

    metadata = {"site": site, **{k: json.dumps(v) for k, v in meta.items()}}
    tensors = {"bases": bases.detach().float().contiguous().cpu(), "spans": torch.tensor(list(spans))}
    return atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_directions(path: str | Path) -> dict[int, Any]:
    """``{span: Subspace}`` from a file written by :func:`save_directions` (no unpickling)."""
    from safetensors import safe_open

    from interp.interventions import Subspace

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such directions file")
    try:
        with safe_open(str(path), framework="pt") as file:
            site = (file.metadata() or {})["site"]
            bases, spans = file.get_tensor("bases"), file.get_tensor("spans").tolist()
        if bases.ndim != 3 or len(spans) != bases.shape[0]:
            raise ValueError(f"bases of shape {list(bases.shape)} for {len(spans)} spans")
    except Exception as error:  # safetensors raises its own error types for damaged headers and data
        raise InputError(f"{path}: not a directions file written by interp, or damaged ({error}); delete it and "
                         "rerun to recompute the unit") from None
    return {span: Subspace(site, bases[p]) for p, span in enumerate(spans)}


# ------------------------------------------------------------------------------ the result
@dataclass
class CausalEfficacyResult:
    """``results``: the tidy per-unit table; ``summary``: the published aggregation with CIs;
    ``records``: per-unit per-example scores; ``out``: the output folder (or None)."""

    results: pd.DataFrame
    summary: pd.DataFrame
    records: list[dict]
    out: Path | None = None
    paths: list[Path] = field(default_factory=list)
    _bases: dict = field(default_factory=dict, repr=False)

    def subspaces(self, task: str, method: str, layer: int, control: bool = False) -> list[Any]:
        """The unit's directions as :class:`~interp.interventions.Subspace` objects, one per span."""
        from interp.interventions import Subspace

        for record in self.records:
            if (record["task"], record["method"], record["layer"], record["control"]) == (task, method, layer,
                                                                                          control):
                if method == "vanilla":
                    raise InputError("vanilla patching has no direction (it replaces the whole vector)")
                if record["key"] in self._bases:
                    return [Subspace(record["site"], b) for b in self._bases[record["key"]]]
                if self.out is not None and record.get("directions"):
                    return list(load_directions(self.out / record["directions"]).values())
        raise InputError(f"no unit {task}/{method}/layer {layer}{'/control' if control else ''} in this result")

    def table(self, metric: str = "odds_ratio", control: bool = False) -> pd.DataFrame:
        """``layer × position`` means of ``metric`` per task and method (a quick look)."""
        rows = self.results[(self.results.metric == metric) & (self.results.control == control)]
        return rows.pivot_table(index=["task", "method", "layer"], columns="position", values="value")

    def _repr_html_(self) -> str:
        from interp.display import causal_efficacy_html

        return causal_efficacy_html(self)


def _unit_rows(record: dict, control_record: dict | None, model: str, suite: str) -> list[dict]:
    odds = torch.tensor(record["odds_ratio"], dtype=torch.float64)
    iia = torch.tensor(record["iia"], dtype=torch.float64)
    behaviour = float(torch.tensor(record["behaviour"], dtype=torch.float64).mean())
    n = odds.shape[1]
    rows = []
    for p, span in enumerate(record["positions"]):
        common = {"model": model, "suite": suite, "task": record["task"], "method": record["method"],
                  "layer": record["layer"], "site": record["site"], "position": span, "control": record["control"],
                  "n": n}
        values = {"odds_ratio": float(odds[p].mean()), "iia": float(iia[p].mean()), "behaviour": behaviour}
        if control_record is not None:
            values["selectivity"] = values["odds_ratio"] - float(torch.tensor(control_record["odds_ratio"][p]).double()
                                                                  .mean())
            values["selectivity_iia"] = values["iia"] - float(torch.tensor(control_record["iia"][p]).double().mean())
        rows.extend({**common, "metric": metric, "value": value} for metric, value in values.items())
    return rows


def results_table(records: list[dict], model: str, suite: str) -> pd.DataFrame:
    """The tidy table of unit records (selectivity where the matching control unit is present)."""
    by_key = {(r["task"], r["method"], r["layer"], r["control"]): r for r in records}
    rows = []
    for record in records:
        partner = None if record["control"] else by_key.get((record["task"], record["method"], record["layer"], True))
        rows.extend(_unit_rows(record, partner, model, suite))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


# ------------------------------------------------------------------------------ one unit
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

    tasks: dict[str, _Task]
    seed: int
    das: dict
    max_rows: int
    model: tuple[str, str | None]  # (name, revision) of the driver's model: workers must load the same


def _directions(hm, method: str, task: _Task, data, site: str, layer: int, seed: int, das: dict,
                activations_of: Callable[[], tuple[Tensor, Tensor]], paths: dict | None = None) -> Tensor | None:
    """``[P, d, k]`` bases of ``method`` for every span (None: vanilla). DAS training records the path
    its steps ran on in ``paths["das_training"]``."""
    from interp.methods import find_direction, random_direction, train_das

    if method == "vanilla":
        return None
    if method == "das":
        result = train_das(hm, data, site, rank=das["rank"], steps=das["steps"], batch_size=das["batch_size"],
                           lr=das["lr"], warmup=das["warmup"], seed=seed)
        if paths is not None:
            paths["das_training"] = result.path
        return result.bases.detach().float()
    if method == "random":
        from interp.interventions.base import site_shape

        width = site_shape(hm, site)[-1]
        return torch.stack([random_direction(width, zlib.crc32(f"{seed}:{task.name}:{layer}:{span}".encode()))
                            for span in task.spans])[..., None]
    base, source = activations_of()
    return torch.stack([find_direction(method, base[:, p], source[:, p], data.base_types, data.source_types,
                                       seed=seed) for p in range(len(task.spans))])[..., None]


def run_unit(worker, unit: Unit) -> tuple[dict, Tensor | None]:
    """The unit's record (per-example scores) and its directions ``[P, d, k]`` (None: vanilla).

    A pure function of the model, the sweep's data and the unit (so it runs on any worker, in any
    order, with the same result). The direction methods other than DAS never see the labels, so
    the control unit reuses the task unit's directions; ``worker.memo`` computes the training
    activations of a task at a site, those directions and the clean log-probs once per worker.
    """
    from interp.methods import activations, base_logprobs, score

    hm, sweep = worker.model, worker.shared
    if (hm.name, hm.revision) != sweep.model:
        raise InputError(f"the worker loaded {hm.name} (revision {hm.revision}) but the sweep's model is "
                         f"{sweep.model[0]} (revision {sweep.model[1]}): the model spec must load the same model")
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
            hm, method, task, task.train, site, unit.layer, sweep.seed, sweep.das, activations_of))
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


def _check_finite(unit: Unit, spans: Sequence[int], odds_ratio: Tensor) -> None:
    """A unit's odds-ratios must all be finite: a NaN/inf would become a NaN (or inf) in the tables."""
    side = "control" if unit.control else "task"
    check_finite(odds_ratio, f"unit task {unit.task!r}, site {unit.site}, method {unit.method!r}, layer {unit.layer} "
                             f"({side})", lambda i: f"the log odds-ratio of test pair {i[1]} at span {spans[i[0]]}")


# ------------------------------------------------------------------------------ the sweep
def _finished(log: UnitLog | None, units: list[Unit], plan: dict[str, _Task], das: dict, out) -> dict[str, dict]:
    """Units already in the log (checked against the current pairs and DAS settings)."""
    done = {}
    for unit in units:
        if log is None or not log.done(unit.key):
            continue
        record = log.read(unit.key)
        if record.get("task_digest") != plan[unit.task].digest or (unit.method == "das" and record.get("das") != das):
            raise InputError(f"{out}: unit {unit.key} was computed from other pairs or DAS settings; use a new "
                             "--out folder")
        done[unit.key] = record
    return done


def causal_efficacy(hm, suite: Any, methods: str | Sequence[str] | None = None, layers: Any = None,
                    positions: Sequence[int] | str | None = None, *, tasks: Sequence[str] | None = None,
                    control: bool = True, control_labels: Sequence[str] = CONTROL_LABELS,
                    site_kind: str = "resid_post", seed: int = 0,
                    out: str | Path | None = None, n_train: int = 400, n_test: int = 100, das_steps: int = 100,
                    das_batch_size: int = 4, das_lr: float = 5e-3, das_warmup: float = 0.1, das_rank: int = 1,
                    n_boot: int = 1000, max_rows: int = 256, progress: bool = False,
                    on_unit: Callable[[dict], None] | None = None, command: list[str] | None = None,
                    suite_name: str | None = None, executor: Any = "local",
                    model_spec: Any = None) -> CausalEfficacyResult:
    """Run the CausalGym protocol on ``hm``: every task × layer × method (× control), all spans.

    ``suite``: a CausalGym template file or folder, ``builtin:NAME``, or a dict of
    :class:`~interp.suites.causalgym.TaskSplits` (then ``n_train``/``n_test`` are ignored).
    ``methods``: names from :data:`interp.methods.METHODS` (default: all eight). ``layers``: see
    :func:`parse_layers` (default: all). ``positions``: span indices (default ``None``/``"all"``:
    every span usable in all pairs). Sites are ``f"{site_kind}.{layer}"``. ``seed`` fixes the
    sampling of pairs, DAS initialisation and order, and the random directions. ``control_labels``:
    the control task's labels for the two types (CausalGym's `` dog`` / `` give``).

    ``executor``: where the units run — ``"local"`` (this process, the default), ``"ray"`` (a local
    or the current Ray cluster) or an :class:`interp.exec.Executor` such as
    ``RayExecutor(address="auto", num_workers=8)``; units run elsewhere load the model from
    ``model_spec`` (default ``hm.spec``, recorded by :func:`interp.load` and
    :func:`interp.models.tiny`). Whatever runs them, this process alone writes the output folder,
    and the tables are the same.

    ``tasks``: task names (a list or ``"a,b"``); ``None`` or ``"all"``: every task (an empty
    selection is an error, never "every task").

    Everything is validated (methods, layers, sites, tasks, single-token labels that differ between
    the two types, also the control labels, and the numbers: see :func:`interp.eval.settings.check_settings`)
    before the first forward pass. A unit whose scores are not finite (NaN/inf logits) is an error
    naming the unit. ``on_unit(record)`` is called after each newly finished unit.
    """
    from interp.exec import ExecutorError, LocalExecutor, ModelSpec, get_executor

    check_settings({"n_train": n_train, "n_test": n_test, "n_boot": n_boot, "max_rows": max_rows,
                    "das_steps": das_steps, "das_batch_size": das_batch_size, "das_lr": das_lr,
                    "das_warmup": das_warmup, "das_rank": das_rank})
    tasks = parse_tasks(tasks)
    methods = parse_methods(methods)
    layer_list = parse_layers(layers, hm.n_layers)
    if site_kind not in SITE_KINDS:
        raise InputError(f"site_kind must be one of {', '.join(SITE_KINDS)}, not {site_kind!r}")
    if positions == "all":
        positions = None
    control_labels = check_control_labels(control_labels) if control else None
    for layer in layer_list:
        _check_site(hm, f"{site_kind}.{layer}", methods)
    runner = get_executor(executor)
    remote = not isinstance(runner, LocalExecutor)
    spec = ModelSpec.required(hm if model_spec is None else model_spec) if remote else None
    splits = _load_tasks(suite, tasks, seed, n_train, n_test)
    if not splits:
        raise SuiteError(f"{_suite_name(suite)}: the suite has no tasks")
    plan = {task.name: task for task in (_encode(hm, s, positions, control_labels) for s in splits.values())}
    model = str(getattr(hm, "name", type(hm).__name__))
    suite_name = suite_name or _suite_name(suite)
    das = {"steps": das_steps, "batch_size": das_batch_size, "lr": das_lr, "warmup": das_warmup, "rank": das_rank}
    settings = {"model": model, "revision": getattr(hm, "revision", None), "suite": suite_name, "seed": seed,
                "site_kind": site_kind, "n_train": n_train, "n_test": n_test,
                "control_labels": list(control_labels) if control_labels else None,
                "das": das if "das" in methods else None}
    out = Path(out) if out is not None else None
    log = UnitLog(out, {k: v for k, v in settings.items() if k != "das"}) if out is not None else None

    sides = [False, True] if control else [False]
    units = [Unit(name, layer, f"{site_kind}.{layer}", method, is_control) for name in plan for layer in layer_list
             for method in methods for is_control in sides]
    finished = _finished(log, units, plan, das, out)
    todo = [unit for unit in units if unit.key not in finished]
    sweep = Sweep(plan, seed, das, max_rows, (model, getattr(hm, "revision", None)))
    from tqdm.auto import tqdm

    bar = tqdm(total=len(units), initial=len(finished), disable=not progress, desc="causal efficacy", unit="unit",
               file=sys.stderr)
    bases_in_memory = {}
    stream = runner.map(run_unit, todo, model=spec if remote else hm, shared=sweep)
    try:
        for unit, (record, bases) in stream:
            key = unit.key
            bar.set_postfix_str(key, refresh=False)
            if key in finished:
                raise ExecutorError(f"unit {key} came back twice")  # executors yield each unit once
            if bases is not None:
                bases_in_memory[key] = bases
                if out is not None:
                    side = "-control" if unit.control else ""
                    relative = Path("directions") / unit.task / f"{unit.method}{side}" / f"{unit.site}.safetensors"
                    save_directions(out / relative, bases, unit.site, plan[unit.task].spans, task=unit.task,
                                    method=unit.method, layer=unit.layer, control=unit.control)
                    record["directions"] = relative.as_posix()
            if log is not None:
                log.write(key, record)
            finished[key] = record = {"key": key, **record}
            bar.update()
            if on_unit is not None:
                on_unit(record)
    finally:
        stream.close()
        bar.close()
        if runner is not executor:  # made here from a name: release its workers
            runner.close()

    records = [finished[unit.key] for unit in units]
    results = results_table(records, model, suite_name)
    summary = summarize(records, model=model, suite=suite_name, n_boot=n_boot, seed=seed)
    result = CausalEfficacyResult(results, summary, records, out, [], bases_in_memory)
    if out is not None:
        from interp.io import run_metadata

        tasks_run = list(plan.values())
        meta = run_metadata(hm, seed=seed, command=command, evaluator="causalgym", suite=suite_name,
                            suite_hash=hashlib.sha256("".join(t.digest for t in tasks_run).encode()).hexdigest()[:16],
                            tasks=[t.name for t in tasks_run], spans={t.name: t.spans for t in tasks_run},
                            methods=methods, layers=layer_list, site_kind=site_kind, control=control,
                            n_train=n_train, n_test=n_test, das=das if "das" in methods else None, n_boot=n_boot,
                            computation=computation_paths(records))
        result.paths = write_run(out, results, summary, meta)
    return result


def computation_paths(records: list[dict]) -> dict[str, list[str]]:
    """Which computation paths the units ran on, e.g. ``{"scoring": ["packed"], "das_training": ["packed"]}``
    (see :mod:`interp.graph.resume`); units read back from an older log may not say."""
    found: dict[str, set[str]] = {}
    for record in records:
        for stage, path in (record.get("computation") or {}).items():
            found.setdefault(stage, set()).add(path)
    return {stage: sorted(paths) for stage, paths in sorted(found.items())}


def write_run(out: Path, results: pd.DataFrame, summary: pd.DataFrame, meta: dict) -> list[Path]:
    from interp.io import write_run as write

    return write(out, results, summary, meta)


__all__ = ["CausalEfficacyResult", "Sweep", "Unit", "causal_efficacy", "load_directions", "parse_layers",
           "parse_methods", "results_table", "run_unit", "save_directions"]
