"""The evaluators' options in an experiment spec: their defaults, their checks, where units run.

Each ``[[evaluations]]`` table is checked by its evaluator's reader (:func:`causalgym_options`,
:func:`syntaxgym_options`), which fills in the defaults; ``executor`` (top level or per
evaluation) names where CausalGym units run (:func:`make_executor`).
"""

from __future__ import annotations

from typing import Any

from interp.errors import InputError, InterpError
from interp.eval.settings import check_control_labels, check_settings, parse_tasks
from interp.experiments.checks import close_matches, guard, is_kind, known_keys, typed

EVALUATORS = ("causalgym", "syntaxgym")
DAS_DEFAULTS = {"steps": 100, "batch_size": 4, "lr": 5e-3, "warmup": 0.1, "rank": 1}
CAUSALGYM_DEFAULTS: dict[str, Any] = {
    "tasks": None, "methods": None, "layers": "all", "positions": None, "site": "resid_post", "control": True,
    "control_labels": [" dog", " give"], "n_train": 400, "n_test": 100, "n_boot": 1000, "max_rows": 256,
    "das": DAS_DEFAULTS, "executor": None,
}
SYNTAXGYM_DEFAULTS: dict[str, Any] = {"bos": "auto", "batch_size": 32}
#: Layer text is checked for form before loading with this many layers; the real bound comes with the model.
LAYER_SYNTAX_BOUND = 4096


def causalgym_options(entry: dict, where: str, place: str, suite: str, check_files: bool) -> dict[str, Any]:
    from interp.eval.causal_efficacy import SITE_KINDS, parse_layers, parse_methods

    options = {key: value for key, value in CAUSALGYM_DEFAULTS.items()}
    tasks = entry.get("tasks")
    if tasks is not None and not isinstance(tasks, (str, list)):
        raise InputError(f"{where}: {place}.tasks: must be a list of task names or \"all\", not {tasks!r}")
    options["tasks"] = guard(where, place, "tasks", lambda: parse_tasks(tasks))
    if check_files:
        from interp.suites.causalgym import read_templates

        templates = guard(where, place, "suite", lambda: read_templates(suite))
        if not templates:
            raise InputError(f"{where}: {place}.suite: {suite} has no tasks")
        for task in options["tasks"] or []:
            if task not in templates:
                raise InputError(f"{where}: {place}.tasks: no task {task!r} in {suite}"
                                 f"{close_matches(task, templates)}; the tasks are: {', '.join(templates)}")
    if "methods" in entry:
        methods = entry["methods"]
        if not isinstance(methods, (str, list)):
            raise InputError(f"{where}: {place}.methods: must be a list of method names, not {methods!r}")
    else:
        methods = None
    options["methods"] = guard(where, place, "methods", lambda: parse_methods(methods))
    layers = entry.get("layers", "all")
    if not (isinstance(layers, str) or is_kind(layers, int) or isinstance(layers, list) and all(is_kind(x, int)
                                                                                              for x in layers)):
        raise InputError(f"{where}: {place}.layers: must be \"START:STOP[:STEP]\", a layer number or a list of "
                         f"them, not {layers!r}")
    guard(where, place, "layers", lambda: parse_layers(layers, LAYER_SYNTAX_BOUND))
    options["layers"] = layers
    positions = entry.get("positions")
    if positions is not None and positions != "all":
        if not isinstance(positions, list) or not positions or not all(is_kind(p, int) and p >= 0 for p in positions):
            raise InputError(f"{where}: {place}.positions: must be \"all\" or a list of span indices, not "
                             f"{positions!r}")
        options["positions"] = positions
    site = typed(entry, "site", str, where, place, default="resid_post")
    if site not in SITE_KINDS:
        raise InputError(f"{where}: {place}.site: unknown site kind {site!r}{close_matches(site, SITE_KINDS)}; choose "
                         f"{', '.join(SITE_KINDS)}")
    options["site"] = site
    options["control"] = typed(entry, "control", bool, where, place, default=True)
    labels = entry.get("control_labels", CAUSALGYM_DEFAULTS["control_labels"])
    if not isinstance(labels, list):
        raise InputError(f"{where}: {place}.control_labels: must be two labels, one per type, not {labels!r}")
    options["control_labels"] = list(check_control_labels(labels, spell=f"{where}: {place}.control_labels"))
    numbers = {}
    for key in ("n_train", "n_test", "n_boot", "max_rows"):
        numbers[key] = options[key] = typed(entry, key, int, where, place, default=CAUSALGYM_DEFAULTS[key])
    das = typed(entry, "das", dict, where, place, default={})
    known_keys(das, tuple(DAS_DEFAULTS), where, f"{place}.das")
    options["das"] = dict(DAS_DEFAULTS)
    for key, default in DAS_DEFAULTS.items():
        kind = float if isinstance(default, float) else int
        numbers[f"das_{key}"] = options["das"][key] = typed(das, key, kind, where, f"{place}.das", default=default)
    # the same checks as causal_efficacy's, named as the spec writes them
    check_settings(numbers, spell=lambda key: f"{where}: {place}." + (f"das.{key[4:]}" if key.startswith("das_")
                                                                       else key))
    options["executor"] = entry.get("executor")
    check_executor(options["executor"], where, f"{place}.executor")
    return options


def syntaxgym_options(entry: dict, where: str, place: str, suite: str | list[str],
                       check_files: bool) -> dict[str, Any]:
    if check_files:
        from interp.suites.syntaxgym import check_distinct, load_all

        suites = [s for path in (suite if isinstance(suite, list) else [suite])
                  for s in guard(where, place, "suite", lambda path=path: load_all(path))]
        guard(where, place, "suite", lambda: check_distinct(suites))
    batch_size = typed(entry, "batch_size", int, where, place, default=32)
    check_settings({"batch_size": batch_size}, spell=lambda key: f"{where}: {place}.{key}")
    return {"bos": typed(entry, "bos", str, where, place, default="auto"), "batch_size": batch_size}


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


def check_executor(value: Any, where: str, place: str) -> None:
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


__all__ = ["CAUSALGYM_DEFAULTS", "DAS_DEFAULTS", "EVALUATORS", "SYNTAXGYM_DEFAULTS", "causalgym_options",
           "check_executor", "executor_supported", "make_executor", "syntaxgym_options"]
