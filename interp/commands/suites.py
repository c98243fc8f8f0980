"""``interp suites``: list the built-in suites, with one example each.

    interp suites                 every built-in template task and SyntaxGym suite
    interp suites --kind syntaxgym
"""

from __future__ import annotations

import argparse

import pandas as pd

from interp.suites import causalgym, syntaxgym
from interp.suites.builtins import builtin_names


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("suites", help="list the built-in suites with one example each")
    parser.add_argument("--kind", choices=["templates", "syntaxgym", "all"], default="all")
    parser.set_defaults(func=run)


def builtin_table(kind: str = "all") -> pd.DataFrame:
    """One row per built-in task or suite: kind, file, name, types or conditions, example."""
    rows = []
    if kind in ("templates", "all"):
        for file in builtin_names("templates"):
            for name, task in causalgym.read_templates(f"builtin:{file}").items():
                pair = task.example()
                rows.append({"kind": "templates", "use": f"builtin:{file}", "name": name,
                             "contrast": " / ".join(task.types),
                             "example": f"{pair.base_text!r} -> {pair.base_label!r} | "
                                        f"{pair.src_text!r} -> {pair.src_label!r}"})
    if kind in ("syntaxgym", "all"):
        for suite in syntaxgym.load_all("builtin:"):
            condition = suite.conditions[0]
            rows.append({"kind": "syntaxgym", "use": f"builtin:{suite.name}", "name": suite.name,
                         "contrast": " / ".join(suite.conditions),
                         "example": f"[{condition}] {suite.items[0].conditions[condition].text()!r}"})
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    table = builtin_table(args.kind)
    for kind, group in table.groupby("kind", sort=False):
        title = ("CausalGym-style task templates (interp.suites.causalgym.load_templates)" if kind == "templates"
                 else "SyntaxGym suites (interp syntaxgym builtin:NAME)")
        print(f"{title}: {len(group)}")
        for row in group.itertuples():
            print(f"  {row.name:<24} {row.use:<26} {row.contrast}")
            print(f"  {'':<24} {row.example}")
        print()
    return 0
