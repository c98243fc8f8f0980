"""Imports run one way: each package of ``interp`` imports only the packages below it in LAYERS.

An AST walk over every file under ``interp/`` (imports inside functions included) fails with one
line per problem:

- a back-reference: ``file:line: graph imports interventions (interventions is above graph)``;
- a private name (or private module) imported from another package;
- an import inside a function, unless it is an optional dependency (ALLOWED_LAZY): imports sit at
  the top of the module, so the layering is what a reader sees first.

The README's Layout section shows the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "interp"

# Lowest first. A package may import itself and anything listed before it, nothing after it.
# ``interp`` is the root package (interp/__init__.py): the facade users import, on top of everything.
LAYERS = (
    "errors",          # the exception types
    "display",         # HTML tables for _repr_html_ (imports nothing from interp)
    "progress",        # progress bars on a terminal only (imports nothing from interp)
    "io",              # atomic writes, run metadata
    "folders",         # who may write an output folder
    "stats",           # bootstrap, Wilson intervals
    "settings",        # rules for numeric settings shared by the config objects
    "suites_common",   # label tokens shared by suites and methods
    "graph",           # sites, adapters, HookedModel, runs, resumed forwards, generation
    "models",          # loading (returns a HookedModel), tiny and embedded models
    "interventions",   # the primitives, sweeps, saving
    "methods",         # ways to find a direction (DAS, probe, mean, ...)
    "sae",             # sparse autoencoders: activations, training, layer groups, evaluation
    "suites",          # readers of the suite formats, the built-in suites
    "circuits",        # the graph of heads and MLPs, EAP, edge patching, faithfulness
    "viz",             # figures of result tables
    "exec",            # executors: local worker processes, Ray
    "eval",            # evaluators
    "experiments",     # experiment files, their runner and reports
    "commands",        # one module per CLI subcommand
    "cli",             # the `interp` command
    "interp",          # the root package
)

# Imported where they are used, not at the top:
ALLOWED_LAZY = frozenset({
    # optional dependencies: the core imports without them
    "ray", "nnsight", "transformer_lens", "sae_lens", "pyvene", "plotly", "IPython",
    # needed only by some paths and slow to import (seconds): `import interp` and `interp --help` stay fast
    "transformers", "tokenizers", "accelerate", "sklearn", "pandas",
    # only for .gguf files (tests/models/test_models_loading.py removes it to check the message)
    "gguf",
})

# TEMPORARY: violations in files that the per-row interventions part of issue 15 is rewriting right
# now (interp/methods). Each entry is "file: what" (a violation's text without
# its line number and explanation). The integrator empties this set; never add to it.
PENDING: frozenset[str] = frozenset({
    "interp/methods/das.py: lazy interp.interventions.base",
    "interp/methods/pairs.py: lazy interp.suites_common",
})


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "interp"


def _module_name(path: Path) -> str:
    parts = ("interp", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _guards_import_error(node: ast.AST) -> bool:
    """A ``try`` whose ``except`` catches ImportError: what it imports is optional where it stands."""
    caught = [name.id for handler in getattr(node, "handlers", ()) if handler.type is not None
              for name in ast.walk(handler.type) if isinstance(name, ast.Name)]
    return isinstance(node, ast.Try) and bool({"ImportError", "ModuleNotFoundError"} & set(caught))


def _imports(tree: ast.Module):
    """(import statement, lazy) for every import: lazy if inside a function and not guarded by
    ``try: ... except ImportError``."""
    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, inside
            elif _guards_import_error(child):
                for statement in child.body:
                    if isinstance(statement, (ast.Import, ast.ImportFrom)):
                        yield statement, False
                    else:
                        yield from walk(statement, inside)
                for part in (*child.handlers, *child.orelse, *child.finalbody):
                    yield from walk(part, inside)
                continue
            yield from walk(child, inside)
    yield from walk(tree, False)


def _is_module(dotted: str) -> bool:
    path = ROOT.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations() -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        me = _package(module)
        where = path.relative_to(ROOT.parent).as_posix()
        if me not in rank:
            found.append(f"{where}:1: package {me!r} is not in LAYERS (tests/test_layering.py)")
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, in_function in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [(alias.name, []) for alias in node.names]
            else:
                base = _target(node, module, path.name == "__init__.py")
                # `from interp import models` imports the package interp.models, not the root
                modules = [a.name for a in node.names if _is_module(f"{base}.{a.name}")]
                names = [a.name for a in node.names if a.name not in modules]
                targets = [(f"{base}.{name}", []) for name in modules] + ([(base, names)] if names else [])
            for target, names in targets:
                top = target.split(".")[0]
                if top != "interp":
                    if in_function and top not in ALLOWED_LAZY:
                        found.append(f"{where}:{node.lineno}: lazy {target} (imports go at the top; "
                                     "only ALLOWED_LAZY may be imported inside a function)")
                    continue
                other = _package(target) if target != "interp" else "interp"
                if in_function:
                    found.append(f"{where}:{node.lineno}: lazy {target} (imports go at the top)")
                if other == me:
                    continue
                if other not in rank:
                    found.append(f"{where}:{node.lineno}: imports {target}, whose package {other!r} is not in LAYERS")
                elif rank[other] > rank[me]:
                    found.append(f"{where}:{node.lineno}: back-reference {target} ({me} imports {other}, "
                                 f"which is above it in LAYERS)")
                hidden = [part for part in target.split(".") if _private(part)] + [n for n in names if _private(n)]
                if hidden:
                    found.append(f"{where}:{node.lineno}: private {', '.join(hidden)} from {target} "
                                 f"(another package: {other}; make it public or move it)")
    return found


def _key(violation: str) -> str:
    """``"interp/x.py:12: lazy interp.io (...)"`` -> ``"interp/x.py: lazy interp.io"``, as PENDING lists it."""
    place, _, message = violation.partition(": ")
    return f"{place.rsplit(':', 1)[0]}: {message.split(' (')[0]}"


def test_imports_run_one_way():
    left = [v for v in violations() if _key(v) not in PENDING]
    assert not left, f"{len(left)} import(s) break the layering:\n" + "\n".join(left)


def test_pending_lists_only_what_still_happens():
    now = {_key(v) for v in violations()}
    stale = sorted(PENDING - now)
    assert not stale, "fixed, so remove from PENDING in tests/test_layering.py:\n" + "\n".join(stale)


def test_every_package_has_a_layer():
    packages = {_package(_module_name(path)) for path in ROOT.rglob("*.py")}
    assert packages <= set(LAYERS), sorted(packages - set(LAYERS))
