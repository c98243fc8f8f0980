"""The evaluators' options in an experiment spec: their defaults, their checks, where units run.

Each ``[[evaluations]]`` table is read by its evaluator's reader (:func:`causalgym_options`,
:func:`syntaxgym_options`), which checks every value's type, fills in the defaults and names a bad
value with its place. A CausalGym table becomes a :class:`~interp.eval.CausalGymConfig` — the same
defaults and the same checks as :func:`interp.eval.causal_efficacy` and ``interp causalgym`` — and
back (:func:`causalgym_config`). ``executor`` (top level or per evaluation) names where CausalGym
units run (:func:`make_executor`).

>>> CAUSALGYM_DEFAULTS["n_train"], CAUSALGYM_DEFAULTS["das"]["steps"]        # CausalGymConfig()'s
(400, 100)
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from interp.errors import InputError, InterpError
from interp.eval.causal_efficacy import SITE_KINDS, CausalGymConfig, parse_layers
from interp.exec import get_executor
from interp.experiments.checks import close_matches, guard, is_kind, known_keys, typed
from interp.methods import DASConfig
from interp.settings import Whole
from interp.suites.causalgym_source import suite_tasks
from interp.suites.syntaxgym import check_distinct, load_all

EVALUATORS = ("causalgym", "syntaxgym")
#: Layer text is checked for form before loading with this many layers; the real bound comes with the model.
LAYER_SYNTAX_BOUND = 4096


def spec_options(config: CausalGymConfig, *, layers: Any = "all", executor: Any = None) -> dict[str, Any]:
    """A CausalGym config as the spec writes it (``site`` for ``site_kind``; no seed: the spec's ``seeds``)."""
    return {"tasks": config.tasks, "methods": config.methods, "layers": layers, "positions": config.positions,
            "site": config.site_kind, "control": config.control, "control_labels": list(config.control_labels),
            "n_train": config.n_train, "n_test": config.n_test, "n_boot": config.n_boot, "max_rows": config.max_rows,
            "strict_splits": config.strict_splits, "das": config.das.to_dict(), "executor": executor}


def causalgym_config(options: dict[str, Any], seed: int) -> CausalGymConfig:
    """The :class:`~interp.eval.CausalGymConfig` of an evaluation's checked ``options``, with ``seed``."""
    return CausalGymConfig(methods=options["methods"], layers=options["layers"], positions=options["positions"],
                           tasks=options["tasks"], control=options["control"],
                           control_labels=tuple(options["control_labels"]), site_kind=options["site"], seed=seed,
                           n_train=options["n_train"], n_test=options["n_test"], das=DASConfig(**options["das"]),
                           n_boot=options["n_boot"], max_rows=options["max_rows"],
                           strict_splits=options.get("strict_splits", False))


DAS_DEFAULTS = DASConfig().to_dict()
CAUSALGYM_DEFAULTS: dict[str, Any] = spec_options(CausalGymConfig())
SYNTAXGYM_DEFAULTS: dict[str, Any] = {"bos": "auto", "batch_size": 32}


def causalgym_options(entry: dict, where: str, place: str, suite: str, check_files: bool) -> dict[str, Any]:
    """A ``causalgym`` evaluation's options, checked (as :meth:`CausalGymConfig.validate` checks them,
    each named by its place in the spec), with the defaults filled in."""
    defaults = CausalGymConfig()
    tasks = entry.get("tasks")
    if tasks is not None and not isinstance(tasks, (str, list)):
        raise InputError(f"{where}: {place}.tasks: must be a list of task names or \"all\", not {tasks!r}")
    methods = entry.get("methods")
    if methods is not None and not isinstance(methods, (str, list)):
        raise InputError(f"{where}: {place}.methods: must be a list of method names, not {methods!r}")
    layers = entry.get("layers", "all")
    if not (isinstance(layers, str) or is_kind(layers, int) or isinstance(layers, list) and all(is_kind(x, int)
                                                                                              for x in layers)):
        raise InputError(f"{where}: {place}.layers: must be \"START:STOP[:STEP]\", a layer number or a list of "
                         f"them, not {layers!r}")
    positions = entry.get("positions")
    if positions is not None and positions != "all" and (
            not isinstance(positions, list) or not positions or not all(is_kind(p, int) and p >= 0 for p in positions)):
        raise InputError(f"{where}: {place}.positions: must be \"all\" or a list of span indices, not {positions!r}")
    site = typed(entry, "site", str, where, place, default=defaults.site_kind)
    if site not in SITE_KINDS:
        raise InputError(f"{where}: {place}.site: unknown site kind {site!r}{close_matches(site, SITE_KINDS)}; "
                         f"choose {', '.join(SITE_KINDS)}")
    labels = entry.get("control_labels", list(defaults.control_labels))
    if not isinstance(labels, list):
        raise InputError(f"{where}: {place}.control_labels: must be two labels, one per type, not {labels!r}")
    numbers = {key: typed(entry, key, int, where, place, default=getattr(defaults, key))
               for key in ("n_train", "n_test", "n_boot", "max_rows")}
    das = typed(entry, "das", dict, where, place, default={})
    known_keys(das, [f.name for f in fields(DASConfig)], where, f"{place}.das")
    das_values = {f.name: typed(das, f.name, float if f.type == "float" else int, where, f"{place}.das",
                                default=getattr(defaults.das, f.name)) for f in fields(DASConfig)}
    config = CausalGymConfig(methods=methods, layers=layers, positions=positions, tasks=tasks,
                             control=typed(entry, "control", bool, where, place, default=defaults.control),
                             strict_splits=typed(entry, "strict_splits", bool, where, place,
                                                 default=defaults.strict_splits),
                             control_labels=labels, site_kind=site, das=DASConfig(**das_values), **numbers)
    config = config.validate(spell=lambda key: f"{where}: {place}." + (
        "site" if key == "site_kind" else f"das.{key[4:]}" if key.startswith("das_") else key))
    guard(where, place, "layers", lambda: parse_layers(layers, LAYER_SYNTAX_BOUND))
    if check_files:
        templates = guard(where, place, "suite", lambda: suite_tasks(suite))
        if not templates:
            raise InputError(f"{where}: {place}.suite: {suite} has no tasks")
        for task in config.tasks or []:
            if task not in templates:
                raise InputError(f"{where}: {place}.tasks: no task {task!r} in {suite}"
                                 f"{close_matches(task, templates)}; the tasks are: {', '.join(templates)}")
    executor = entry.get("executor")
    check_executor(executor, where, f"{place}.executor")
    return spec_options(config, layers=layers, executor=executor)


def syntaxgym_options(entry: dict, where: str, place: str, suite: str | list[str],
                      check_files: bool) -> dict[str, Any]:
    """A ``syntaxgym`` evaluation's options (``bos``, ``batch_size``), checked, with the defaults filled in."""
    if check_files:
        suites = [s for path in (suite if isinstance(suite, list) else [suite])
                  for s in guard(where, place, "suite", lambda path=path: load_all(path))]
        guard(where, place, "suite", lambda: check_distinct(suites))
    batch_size = typed(entry, "batch_size", int, where, place, default=SYNTAXGYM_DEFAULTS["batch_size"])
    Whole(1).check(f"{where}: {place}.batch_size", batch_size)
    return {"bos": typed(entry, "bos", str, where, place, default=SYNTAXGYM_DEFAULTS["bos"]), "batch_size": batch_size}


def make_executor(value: str | dict[str, Any] | None) -> Any:
    """``"local"`` / ``"ray"`` / ``{name = "ray", address = "auto", num_workers = 8}`` -> an executor."""
    if isinstance(value, dict):
        return get_executor(value["name"], **{k: v for k, v in value.items() if k != "name"})
    return get_executor(value or "local")


def check_executor(value: Any, where: str, place: str) -> None:
    """An executor name, or a table with ``name`` and the executor's options (``address``, ``num_workers``)."""
    if value is None:
        return
    names = ("local", "ray")
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or name not in names:
        raise InputError(f"{where}: {place}: must be \"local\", \"ray\" or a table such as "
                         f"{{name = \"ray\", address = \"auto\", num_workers = 8}}, not {value!r}")
    if isinstance(value, dict):
        try:  # unknown options fail here, before loading (connecting to Ray waits for the first unit)
            make_executor(value)
        except (InterpError, TypeError) as error:
            raise InputError(f"{where}: {place}: {error}") from None


__all__ = ["CAUSALGYM_DEFAULTS", "DAS_DEFAULTS", "EVALUATORS", "LAYER_SYNTAX_BOUND", "SYNTAXGYM_DEFAULTS",
           "causalgym_config", "causalgym_options", "check_executor", "make_executor", "spec_options",
           "syntaxgym_options"]
