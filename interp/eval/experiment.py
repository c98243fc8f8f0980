"""An experiment written down as a TOML file: models × revisions × seeds × evaluations → one output folder.

A paper's tables and figures regenerate from one committed spec (``interp run SPEC.toml``;
:func:`interp.eval.experiment_run.run_experiment` in Python)::

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
    suite = "builtin:agreement"                      # template file or folder, or builtin:NAME
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
:mod:`interp.eval.experiment_run` for what is written and how reruns resume.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import InputError, InterpError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

EVALUATORS = ("causalgym", "syntaxgym")
DTYPES = ("float32", "bfloat16", "float16")
TOP_KEYS = ("title", "description", "out", "seeds", "models", "evaluations", "figures", "executor")
MODEL_KEYS = ("name", "label", "revisions", "dtype", "device")
DAS_DEFAULTS = {"steps": 100, "batch_size": 4, "lr": 5e-3, "warmup": 0.1, "rank": 1}
CAUSALGYM_DEFAULTS: dict[str, Any] = {
    "tasks": None, "methods": None, "layers": "all", "positions": None, "site": "resid_post", "control": True,
    "control_labels": [" dog", " give"], "n_train": 400, "n_test": 100, "n_boot": 1000, "max_rows": 256,
    "das": DAS_DEFAULTS, "executor": None,
}
SYNTAXGYM_DEFAULTS: dict[str, Any] = {"bos": "auto", "batch_size": 32}
_COMMON_KEYS = ("name", "evaluator", "suite")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Layer text is checked for form before loading with this many layers; the real bound comes with the model.
_LAYER_SYNTAX_BOUND = 4096


# ------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class ModelSpec:
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
    model: ModelSpec
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
    models: tuple[ModelSpec, ...]
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
        _known_keys(data, TOP_KEYS, where, "")
        out_value = out if out is not None else _typed(data, "out", str, where, "", required=True)
        if not str(out_value).strip():
            raise InputError(f"{where}: out: give an output folder")
        seeds = _seeds(data.get("seeds", [0]), where)
        models = _models(data.get("models"), where)
        evaluations = _evaluations(data.get("evaluations"), where, check_files)
        executor = data.get("executor")
        _check_executor(executor, where, "executor")
        return cls(out=Path(out_value), models=models, evaluations=evaluations, seeds=seeds,
                   figures=_typed(data, "figures", bool, where, "", default=True),
                   title=_typed(data, "title", str, where, "", default=""),
                   description=_typed(data, "description", str, where, "", default=""),
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


# ------------------------------------------------------------------------------ helpers
def slug(text: str) -> str:
    """A folder-safe form of a label: ``EleutherAI/pythia-70m`` -> ``EleutherAI-pythia-70m``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", str(text)).strip("-.") or "x"


def default_label(name: str) -> str:
    """A model's label when the spec gives none: a path's last part, else the name (hub ids keep ``org/``).

    Decided from the text alone, so that the run folders do not depend on what exists on disk.

    >>> default_label("/data/ckpt/tiny-llama"), default_label("EleutherAI/pythia-70m"), default_label("./m.gguf")
    ('tiny-llama', 'EleutherAI/pythia-70m', 'm.gguf')
    """
    path_like = name.startswith(("/", ".", "~")) or name.count("/") > 1 or name.endswith(".gguf")
    return Path(name).name if path_like else name


def suite_hash(evaluation: Evaluation) -> str | None:
    """Hash of the suite files' bytes (a suite edited in place makes finished runs stale)."""
    from interp.suites.builtins import resolve_suite_path

    kind = "templates" if evaluation.evaluator == "causalgym" else "syntaxgym"
    digest = hashlib.sha256()
    suites = evaluation.suite if isinstance(evaluation.suite, list) else [evaluation.suite]
    try:
        for suite in suites:
            path = resolve_suite_path(suite, kind)
            for file in sorted(path.rglob("*.json")) if path.is_dir() else [path]:
                digest.update(file.name.encode() + b"\0" + file.read_bytes())
    except (InterpError, OSError):
        return None
    return digest.hexdigest()[:16]


def _close(value: Any, choices: Any) -> str:
    near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3)
    return f" (did you mean {', '.join(map(repr, near))}?)" if near else ""


def _known_keys(table: dict, allowed: tuple[str, ...] | list[str], where: str, place: str) -> None:
    for key in table:
        if key not in allowed:
            at = f"{place}." if place else ""
            raise InputError(f"{where}: {at}{key}: unknown key{_close(key, allowed)}; the keys here are "
                             f"{', '.join(allowed)}")


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "a table"}


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _typed(table: dict, key: str, kind: type, where: str, place: str, *, default: Any = None,
           required: bool = False) -> Any:
    at = f"{place}.{key}" if place else key
    if key not in table:
        if required:
            raise InputError(f"{where}: {at}: missing (it is required)")
        return default
    value = table[key]
    if not _is(value, kind):
        raise InputError(f"{where}: {at}: must be {_KIND_NAMES[kind]}, not {value!r}")
    return float(value) if kind is float else value


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    seeds = [value] if _is(value, int) else value
    if not isinstance(seeds, list) or not seeds or not all(_is(s, int) for s in seeds):
        raise InputError(f"{where}: seeds: must be an integer or a non-empty list of integers, not {value!r}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"{where}: seeds: {seeds} repeats a seed")
    return tuple(seeds)


def _models(value: Any, where: str) -> tuple[ModelSpec, ...]:
    from interp.models.loading import DEFAULT_NAMES

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
        _known_keys(entry, MODEL_KEYS, where, place)
        name = _typed(entry, "name", str, where, place, required=True).strip()
        if not name:
            raise InputError(f"{where}: {place}.name: empty")
        is_dir = Path(name).expanduser().is_dir()
        label = _typed(entry, "label", str, where, place, default=default_label(name))
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
        dtype = _typed(entry, "dtype", str, where, place, default="float32")
        if dtype not in DTYPES:
            raise InputError(f"{where}: {place}.dtype: unknown dtype {dtype!r}; choose {', '.join(DTYPES)}")
        models.append(ModelSpec(name, label, tuple(revisions), dtype,
                                _typed(entry, "device", str, where, place, default="cpu")))
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
        evaluator = _typed(entry, "evaluator", str, where, place, required=True)
        if evaluator not in EVALUATORS:
            raise InputError(f"{where}: {place}.evaluator: unknown evaluator {evaluator!r}"
                             f"{_close(evaluator, EVALUATORS)}; choose {' or '.join(EVALUATORS)}")
        check = _causalgym_options if evaluator == "causalgym" else _syntaxgym_options
        defaults = CAUSALGYM_DEFAULTS if evaluator == "causalgym" else SYNTAXGYM_DEFAULTS
        _known_keys(entry, [*_COMMON_KEYS, *defaults], where, place)
        suite = entry.get("suite")
        if evaluator == "causalgym" and not isinstance(suite, str) or evaluator == "syntaxgym" and not (
                isinstance(suite, str) or isinstance(suite, list) and suite and all(isinstance(s, str) for s in suite)):
            many = " or a list of them" if evaluator == "syntaxgym" else ""
            raise InputError(f"{where}: {place}.suite: {'missing' if suite is None else repr(suite)}; give a "
                             f"suite file, folder or builtin:NAME{many}")
        options = check(entry, where, place, suite, check_files)
        default_name = f"{evaluator}-{_suite_stem(suite)}"
        name = _typed(entry, "name", str, where, place, default=None)
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


def _guard(where: str, place: str, key: str, check: Callable[[], Any]) -> Any:
    """Run a reader's own check and put the spec location in front of its message."""
    try:
        return check()
    except InterpError as error:
        raise InputError(f"{where}: {place}.{key}: {error}") from None


def _causalgym_options(entry: dict, where: str, place: str, suite: str, check_files: bool) -> dict[str, Any]:
    from interp.eval.causal_efficacy import SITE_KINDS, parse_layers, parse_methods
    from interp.eval.settings import check_control_labels, check_settings, parse_tasks

    options = {key: value for key, value in CAUSALGYM_DEFAULTS.items()}
    tasks = entry.get("tasks")
    if tasks is not None and not isinstance(tasks, (str, list)):
        raise InputError(f"{where}: {place}.tasks: must be a list of task names or \"all\", not {tasks!r}")
    options["tasks"] = _guard(where, place, "tasks", lambda: parse_tasks(tasks))
    if check_files:
        from interp.suites.causalgym import read_templates

        templates = _guard(where, place, "suite", lambda: read_templates(suite))
        if not templates:
            raise InputError(f"{where}: {place}.suite: {suite} has no tasks")
        for task in options["tasks"] or []:
            if task not in templates:
                raise InputError(f"{where}: {place}.tasks: no task {task!r} in {suite}{_close(task, templates)}; "
                                 f"the tasks are: {', '.join(templates)}")
    if "methods" in entry:
        methods = entry["methods"]
        if not isinstance(methods, (str, list)):
            raise InputError(f"{where}: {place}.methods: must be a list of method names, not {methods!r}")
    else:
        methods = None
    options["methods"] = _guard(where, place, "methods", lambda: parse_methods(methods))
    layers = entry.get("layers", "all")
    if not (isinstance(layers, str) or _is(layers, int) or isinstance(layers, list) and all(_is(x, int)
                                                                                              for x in layers)):
        raise InputError(f"{where}: {place}.layers: must be \"START:STOP[:STEP]\", a layer number or a list of "
                         f"them, not {layers!r}")
    _guard(where, place, "layers", lambda: parse_layers(layers, _LAYER_SYNTAX_BOUND))
    options["layers"] = layers
    positions = entry.get("positions")
    if positions is not None and positions != "all":
        if not isinstance(positions, list) or not positions or not all(_is(p, int) and p >= 0 for p in positions):
            raise InputError(f"{where}: {place}.positions: must be \"all\" or a list of span indices, not "
                             f"{positions!r}")
        options["positions"] = positions
    site = _typed(entry, "site", str, where, place, default="resid_post")
    if site not in SITE_KINDS:
        raise InputError(f"{where}: {place}.site: unknown site kind {site!r}{_close(site, SITE_KINDS)}; choose "
                         f"{', '.join(SITE_KINDS)}")
    options["site"] = site
    options["control"] = _typed(entry, "control", bool, where, place, default=True)
    labels = entry.get("control_labels", CAUSALGYM_DEFAULTS["control_labels"])
    if not isinstance(labels, list):
        raise InputError(f"{where}: {place}.control_labels: must be two labels, one per type, not {labels!r}")
    options["control_labels"] = list(check_control_labels(labels, spell=f"{where}: {place}.control_labels"))
    numbers = {}
    for key in ("n_train", "n_test", "n_boot", "max_rows"):
        numbers[key] = options[key] = _typed(entry, key, int, where, place, default=CAUSALGYM_DEFAULTS[key])
    das = _typed(entry, "das", dict, where, place, default={})
    _known_keys(das, tuple(DAS_DEFAULTS), where, f"{place}.das")
    options["das"] = dict(DAS_DEFAULTS)
    for key, default in DAS_DEFAULTS.items():
        kind = float if isinstance(default, float) else int
        numbers[f"das_{key}"] = options["das"][key] = _typed(das, key, kind, where, f"{place}.das", default=default)
    # the same checks as causal_efficacy's, named as the spec writes them
    check_settings(numbers, spell=lambda key: f"{where}: {place}." + (f"das.{key[4:]}" if key.startswith("das_")
                                                                       else key))
    options["executor"] = entry.get("executor")
    _check_executor(options["executor"], where, f"{place}.executor")
    return options


def _syntaxgym_options(entry: dict, where: str, place: str, suite: str | list[str],
                       check_files: bool) -> dict[str, Any]:
    from interp.eval.settings import check_settings

    if check_files:
        from interp.suites.syntaxgym import check_distinct, load_all

        suites = [s for path in (suite if isinstance(suite, list) else [suite])
                  for s in _guard(where, place, "suite", lambda path=path: load_all(path))]
        _guard(where, place, "suite", lambda: check_distinct(suites))
    batch_size = _typed(entry, "batch_size", int, where, place, default=32)
    check_settings({"batch_size": batch_size}, spell=lambda key: f"{where}: {place}.{key}")
    return {"bos": _typed(entry, "bos", str, where, place, default="auto"), "batch_size": batch_size}


def executor_supported() -> bool:
    """Whether :func:`interp.eval.causal_efficacy` takes an ``executor=`` (where units run)."""
    import inspect

    from interp.eval.causal_efficacy import causal_efficacy

    return "executor" in inspect.signature(causal_efficacy).parameters


def make_executor(value: str | dict[str, Any] | None) -> Any:
    """``"local"`` / ``"ray"`` / ``{name = "ray", address = "auto", num_workers = 8}`` -> an executor."""
    from interp.exec import get_executor

    if isinstance(value, dict):
        return get_executor(value["name"], **{k: v for k, v in value.items() if k != "name"})
    return get_executor(value or "local")


def _check_executor(value: Any, where: str, place: str) -> None:
    """An executor name, or a table with ``name`` and the executor's options (``address``, ``num_workers``)."""
    if value is None:
        return
    names = ("local", "ray")
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or name not in names:
        raise InputError(f"{where}: {place}: must be \"local\", \"ray\" or a table such as "
                         f"{{name = \"ray\", address = \"auto\", num_workers = 8}}, not {value!r}")
    if name != "local" and not executor_supported():
        raise InputError(f"{where}: {place}: this version of interp runs causal-efficacy units in-process only; "
                         "remove the executor setting (or set it to \"local\")")
    if isinstance(value, dict):
        try:  # unknown options fail here, before loading (connecting to Ray waits for the first unit)
            make_executor(value)
        except (InterpError, TypeError) as error:
            raise InputError(f"{where}: {place}: {error}") from None


__all__ = ["CAUSALGYM_DEFAULTS", "DAS_DEFAULTS", "EVALUATORS", "Evaluation", "Experiment", "ModelSpec", "Run",
           "SYNTAXGYM_DEFAULTS", "executor_supported", "make_executor", "slug", "suite_hash"]
