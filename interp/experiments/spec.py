"""An experiment written down as a TOML file: models × revisions × seeds × evaluations → one output folder.

A paper's tables and figures regenerate from one committed spec (``interp run SPEC.toml``;
:func:`interp.experiments.run_experiment` in Python)::

    title = "Agreement across Pythia checkpoints"   # optional, free text
    out = "runs/agreement"                           # required (``interp run --out`` overrides it)
    seeds = [0, 1]                                   # default [0]; CausalGym only (SyntaxGym is deterministic)
    figures = true                                   # default true: combined figures in OUT/figures/
    executor = "local"                               # where CausalGym units run: "local", "ray", or a table
                                                     # {name = "ray", address = "auto", num_workers = 8};
                                                     # an evaluation may set its own

    models = ["default"]                             # a list of names, or tables:
    [[models]]
    name = "EleutherAI/pythia-70m"                   # what interp.load gets: hub id, local dir, .gguf, "default"
    label = "pythia-70m"                             # the `model` column (default: the name; a path's last part)
    revisions = ["step1000", "step2000", "main"]     # training checkpoints (hub ids only; default: one load)
    dtype = "float32"                                # float32 | bfloat16 | float16
    device = "cpu"

    [[evaluations]]
    name = "agreement"                               # folder and `evaluation` column (default: EVALUATOR-SUITE)
    evaluator = "causalgym"
    suite = "builtin:agreement"                      # template file or folder, builtin:NAME, or published rows:
                                                     # a folder of train/test files, a dataset id
    strict_splits = false                            # true: too few fillers to keep test out of train is an error
    tasks = ["agr_sv_num_pp"]                        # default: every task of the suite
    methods = ["das", "probe", "mean", "random", "vanilla"]   # default: all eight
    layers = "2:6:2"                                 # "START:STOP[:STEP]", 4, [2, 4], or "all" (default)
    positions = "all"                                # or span indices [1, 2]
    site = "resid_post"                              # resid_pre | resid_mid | resid_post | attn_out | mlp_out
    control = true                                   # the control task, for selectivity
    control_labels = [" dog", " give"]
    n_train = 64                                     # default 400
    n_test = 40                                      # default 100
    n_boot = 1000                                    # bootstrap resamples of the summary's intervals
    [evaluations.das]                                # DAS training, applies to the evaluation above it
    steps = 40                                       # default 100; batch_size 4, lr 5e-3, warmup 0.1, rank 1

    [[evaluations]]
    evaluator = "syntaxgym"
    suite = ["builtin:number_pp", "my_suites/"]      # one path or several
    bos = "auto"                                     # auto | none | a token such as "<|endoftext|>"
    batch_size = 32

Every key is checked, and every bad key or value is named with its place in the file
(``evaluations[1].methods``), before any model loads: unknown keys (with the close matches),
unknown evaluators or methods, unreadable suites or tasks, malformed layers. Layer *ranges* are
checked against each model as soon as it is loaded, before any of its runs starts. Relative paths
(``out``, suites, model directories) are relative to the current directory, as on the command line.

>>> spec = Experiment.from_toml_text('''
... out = "runs/x"
... seeds = [0, 1]
... models = ["default"]
... [[evaluations]]
... evaluator = "causalgym"
... suite = "builtin:agreement"
... tasks = ["agr_sv_num_pp"]
... methods = "mean,vanilla"
... layers = "2:6:2"
... ''')
>>> [run.folder for run in spec.runs()]
['causalgym-agreement__default__default__seed0', 'causalgym-agreement__default__default__seed1']
>>> spec.evaluations[0].options["methods"], spec.evaluations[0].options["n_train"]
(['mean', 'vanilla'], 400)
>>> Experiment.from_toml_text('out = "x"\\nmodels = ["default"]\\n[[evaluations]]\\nevaluator = "causalgim"')
... # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.InputError: <text>: evaluations[0].evaluator: unknown evaluator 'causalgim' (did you mean ...

**The plan** (:meth:`Experiment.runs`): for every model, revision, seed and evaluation one
:class:`Run`, each writing into its own folder ``OUT/runs/EVALUATION__MODEL__REVISION__seedN``
(SyntaxGym runs once per model and revision, without ``__seedN``). See
:mod:`interp.experiments.runner` for what is written and how reruns resume.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import InputError, InterpError
from interp.experiments.checks import close_matches, default_label, is_kind, known_keys, slug, typed
from interp.experiments.options import (
    CAUSALGYM_DEFAULTS,
    EVALUATORS,
    SYNTAXGYM_DEFAULTS,
    causalgym_options,
    check_executor,
    syntaxgym_options,
)
from interp.models.loading import DEFAULT_NAMES
from interp.suites.builtins import resolve_suite_path
from interp.suites.causalgym_source import suite_files, suite_kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DTYPES = ("float32", "bfloat16", "float16")
TOP_KEYS = ("title", "description", "out", "seeds", "models", "evaluations", "figures", "executor")
MODEL_KEYS = ("name", "label", "revisions", "dtype", "device")
_COMMON_KEYS = ("name", "evaluator", "suite")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class ExperimentModel:
    """One model: ``name`` is what :func:`interp.load` gets, ``label`` its ``model`` column."""

    name: str
    label: str
    revisions: tuple[str | None, ...] = (None,)
    dtype: str = "float32"
    device: str = "cpu"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: ``options`` are the evaluator's validated settings (defaults filled in)."""

    name: str
    evaluator: str
    suite: str | list[str]
    options: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Run:
    """One cell of the plan: an evaluation of one model revision with one seed (None: SyntaxGym)."""

    evaluation: Evaluation
    model: ExperimentModel
    revision: str | None
    seed: int | None

    @property
    def folder(self) -> str:
        """``EVALUATION__MODEL__REVISION[__seedN]``, relative to ``OUT/runs``."""
        parts = [self.evaluation.name, slug(self.model.label), slug(self.revision or "default")]
        return "__".join(parts + ([f"seed{self.seed}"] if self.seed is not None else []))

    def columns(self) -> dict[str, Any]:
        """The identifying columns this run's rows get in the combined tables."""
        return {"evaluation": self.evaluation.name, "evaluator": self.evaluation.evaluator,
                "model": self.model.label, "revision": self.revision, "seed": self.seed}

    def config(self) -> dict[str, Any]:
        """Everything that determines the run's results (a finished run with the same config is skipped)."""
        return {"evaluation": self.evaluation.name, "evaluator": self.evaluation.evaluator,
                "suite": self.evaluation.suite, "suite_hash": suite_hash(self.evaluation),
                "options": self.evaluation.options, "model": self.model.name, "revision": self.revision,
                "dtype": self.model.dtype, "device": self.model.device, "seed": self.seed}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment spec (see the module docstring for the TOML form)."""

    out: Path
    models: tuple[ExperimentModel, ...]
    evaluations: tuple[Evaluation, ...]
    seeds: tuple[int, ...] = (0,)
    figures: bool = True
    title: str = ""
    description: str = ""
    executor: Any = None
    source: str = field(default="", compare=False)  # the TOML text (copied into OUT/experiment.toml)
    where: str = field(default="<spec>", compare=False)

    # -------------------------------------------------------------------- readers
    @classmethod
    def from_toml(cls, path: str | Path, *, out: str | Path | None = None, check_files: bool = True) -> Experiment:
        """Read and validate a spec file (``out`` overrides the file's ``out``)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"{path}: cannot read the experiment spec: {error.strerror or error}") from None
        return cls.from_toml_text(text, where=str(path), out=out, check_files=check_files)

    @classmethod
    def from_toml_text(cls, text: str, *, where: str = "<text>", out: str | Path | None = None,
                       check_files: bool = True) -> Experiment:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{where}: not valid TOML: {error}") from None
        return cls.from_dict(data, where=where, out=out, check_files=check_files, source=text)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "<spec>", out: str | Path | None = None,
                  check_files: bool = True, source: str = "") -> Experiment:
        """Validate a parsed spec. ``check_files=False`` skips reading suites (enough to plan folders)."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: an experiment spec is a table of keys, not {type(data).__name__}")
        known_keys(data, TOP_KEYS, where, "")
        out_value = out if out is not None else typed(data, "out", str, where, "", required=True)
        if not str(out_value).strip():
            raise InputError(f"{where}: out: give an output folder")
        seeds = _seeds(data.get("seeds", [0]), where)
        models = _models(data.get("models"), where)
        evaluations = _evaluations(data.get("evaluations"), where, check_files)
        executor = data.get("executor")
        check_executor(executor, where, "executor")
        return cls(out=Path(out_value), models=models, evaluations=evaluations, seeds=seeds,
                   figures=typed(data, "figures", bool, where, "", default=True),
                   title=typed(data, "title", str, where, "", default=""),
                   description=typed(data, "description", str, where, "", default=""),
                   executor=executor, source=source, where=where)

    # -------------------------------------------------------------------- the plan
    def runs(self) -> list[Run]:
        """Every run, in order: model → revision → seed → evaluation (SyntaxGym once per revision)."""
        plan = []
        for model in self.models:
            for revision in model.revisions:
                for index, seed in enumerate(self.seeds):
                    for evaluation in self.evaluations:
                        if evaluation.evaluator == "syntaxgym":
                            if index == 0:
                                plan.append(Run(evaluation, model, revision, None))
                        else:
                            plan.append(Run(evaluation, model, revision, seed))
        return plan

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data with every default filled in (what ``meta.json`` records)."""
        return {"title": self.title, "description": self.description, "out": str(self.out),
                "seeds": list(self.seeds), "figures": self.figures, "executor": self.executor,
                "models": [{"name": m.name, "label": m.label, "dtype": m.dtype,
                            "revisions": None if m.revisions == (None,) else list(m.revisions),
                            "device": m.device} for m in self.models],
                "evaluations": [{"name": e.name, "evaluator": e.evaluator, "suite": e.suite, **e.options}
                                for e in self.evaluations]}



def suite_hash(evaluation: Evaluation) -> str | None:
    """Hash of the suite files' bytes (a suite edited in place makes finished runs stale)."""
    kind = "templates" if evaluation.evaluator == "causalgym" else "syntaxgym"
    digest = hashlib.sha256()
    suites = evaluation.suite if isinstance(evaluation.suite, list) else [evaluation.suite]
    try:
        for suite in suites:
            if kind == "templates" and suite_kind(suite) != "templates":  # rows; a dataset id has no files here
                files = suite_files(suite)
                if not files:
                    return None
            else:
                path = resolve_suite_path(suite, kind)
                files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
            for file in files:
                digest.update(file.name.encode() + b"\0" + file.read_bytes())
    except (InterpError, OSError):
        return None
    return digest.hexdigest()[:16]


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    seeds = [value] if is_kind(value, int) else value
    if not isinstance(seeds, list) or not seeds or not all(is_kind(s, int) for s in seeds):
        raise InputError(f"{where}: seeds: must be an integer or a non-empty list of integers, not {value!r}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"{where}: seeds: {seeds} repeats a seed")
    return tuple(seeds)


def _models(value: Any, where: str) -> tuple[ExperimentModel, ...]:
    if value is None:
        raise InputError(f"{where}: models: missing; e.g. models = [\"default\"] or a [[models]] table with a name")
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: models: must be a non-empty list of names or [[models]] tables, not {value!r}")
    models = []
    for index, entry in enumerate(value):
        place = f"models[{index}]"
        entry = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict):
            raise InputError(f"{where}: {place}: must be a model name or a table with a name, not {entry!r}")
        known_keys(entry, MODEL_KEYS, where, place)
        name = typed(entry, "name", str, where, place, required=True).strip()
        if not name:
            raise InputError(f"{where}: {place}.name: empty")
        is_dir = Path(name).expanduser().is_dir()
        label = typed(entry, "label", str, where, place, default=default_label(name))
        revisions = entry.get("revisions")
        if revisions is None:
            revisions = [None]
        elif (not isinstance(revisions, list) or not revisions or not all(isinstance(r, str) and r.strip()
                                                                           for r in revisions)):
            raise InputError(f"{where}: {place}.revisions: must be a non-empty list of revision names "
                             f"(e.g. [\"step1000\", \"step2000\"]), not {revisions!r}")
        elif len(set(revisions)) != len(revisions):
            raise InputError(f"{where}: {place}.revisions: {revisions} repeats a revision")
        elif is_dir or name.endswith(".gguf") or name in DEFAULT_NAMES:
            raise InputError(f"{where}: {place}.revisions: {name!r} is not a hub id, so it has no revisions; "
                             "give each checkpoint as its own model (name = its folder)")
        dtype = typed(entry, "dtype", str, where, place, default="float32")
        if dtype not in DTYPES:
            raise InputError(f"{where}: {place}.dtype: unknown dtype {dtype!r}; choose {', '.join(DTYPES)}")
        models.append(ExperimentModel(name, label, tuple(revisions), dtype,
                                typed(entry, "device", str, where, place, default="cpu")))
    labels = [m.label for m in models]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise InputError(f"{where}: models: label {twice[0]!r} is used twice; give each model its own label")
    return tuple(models)


def _evaluations(value: Any, where: str, check_files: bool) -> tuple[Evaluation, ...]:
    if value is None:
        raise InputError(f"{where}: evaluations: missing; add an [[evaluations]] table with evaluator and suite")
    if not isinstance(value, list) or not value or not all(isinstance(e, dict) for e in value):
        raise InputError(f"{where}: evaluations: must be one or more [[evaluations]] tables")
    evaluations = []
    for index, entry in enumerate(value):
        place = f"evaluations[{index}]"
        evaluator = typed(entry, "evaluator", str, where, place, required=True)
        if evaluator not in EVALUATORS:
            raise InputError(f"{where}: {place}.evaluator: unknown evaluator {evaluator!r}"
                             f"{close_matches(evaluator, EVALUATORS)}; choose {' or '.join(EVALUATORS)}")
        check = causalgym_options if evaluator == "causalgym" else syntaxgym_options
        defaults = CAUSALGYM_DEFAULTS if evaluator == "causalgym" else SYNTAXGYM_DEFAULTS
        known_keys(entry, [*_COMMON_KEYS, *defaults], where, place)
        suite = entry.get("suite")
        if evaluator == "causalgym" and not isinstance(suite, str) or evaluator == "syntaxgym" and not (
                isinstance(suite, str) or isinstance(suite, list) and suite and all(isinstance(s, str) for s in suite)):
            many = " or a list of them" if evaluator == "syntaxgym" else ""
            rows = ", a rows file or folder, or a dataset id" if evaluator == "causalgym" else ""
            raise InputError(f"{where}: {place}.suite: {'missing' if suite is None else repr(suite)}; give a "
                             f"suite file, folder or builtin:NAME{rows}{many}")
        options = check(entry, where, place, suite, check_files)
        default_name = f"{evaluator}-{_suite_stem(suite)}"
        name = typed(entry, "name", str, where, place, default=None)
        if name is not None and not _SAFE_NAME.match(name):
            raise InputError(f"{where}: {place}.name: {name!r} must be letters, digits, '_', '.' or '-' (it names "
                             "a folder)")
        evaluations.append((name, default_name, evaluator, suite, options))
    taken = {name for name, *_ in evaluations if name is not None}
    named = []
    for index, (name, default_name, evaluator, suite, options) in enumerate(evaluations):
        if name is None:
            name, k = slug(default_name), 2
            while name in taken:
                name, k = f"{slug(default_name)}-{k}", k + 1
            taken.add(name)
        elif any(n == name for n, *_ in named):
            raise InputError(f"{where}: evaluations[{index}].name: {name!r} is used twice")
        named.append((name, evaluator, suite, options))
    return tuple(Evaluation(name, evaluator, suite, options) for name, evaluator, suite, options in named)


def _suite_stem(suite: str | list[str]) -> str:
    first = suite[0] if isinstance(suite, list) else suite
    text = str(first).rstrip("/")
    return text[len("builtin:"):] or "all" if text.startswith("builtin:") else Path(text).stem


__all__ = ["DTYPES", "Evaluation", "Experiment", "ExperimentModel", "Run", "suite_hash"]
