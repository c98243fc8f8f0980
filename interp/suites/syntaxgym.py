"""Read SyntaxGym test suites (JSON; see docs/formats.md, format A).

>>> from interp.suites import syntaxgym
>>> suite = syntaxgym.load("builtin:number_pp")          # or a path to a .json file
>>> suite.conditions[:2], suite.metric
(['match_sing', 'mismatch_sing'], 'sum')
>>> suite.items[0].conditions["match_sing"].text()
'The banker by the neighbors needs more time .'
>>> suites = syntaxgym.load_all("builtin:")              # every built-in SyntaxGym suite

``load`` returns one :class:`Suite` for a file and a list for a folder. Every problem is a
:class:`~interp.errors.SuiteError` naming the file, the item and the field: among them a suite
without predictions (it would score 1.0) and an item number used twice (counted twice).
:func:`check_distinct` refuses a list that holds one suite twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import InputError, SuiteError
from interp.suites.alignment import regions_to_spans
from interp.suites.builtins import resolve_suite_path
from interp.suites.formula import Formula, FormulaError, parse_formula

METRICS = ("sum", "mean", "median", "max", "min", "range")


@dataclass
class Condition:
    """One condition of an item: its regions' contents, in region order."""

    name: str
    region_numbers: list[int]
    contents: list[str]

    def spans(self) -> list[str]:
        """Region texts as they appear in the sentence (each with its leading space)."""
        return regions_to_spans(self.contents)

    def text(self) -> str:
        return "".join(self.spans())


@dataclass
class Item:
    number: int | str
    conditions: dict[str, Condition]


@dataclass
class Prediction:
    index: int
    formula: Formula

    @property
    def text(self) -> str:
        return self.formula.text


@dataclass
class Suite:
    """A SyntaxGym suite: items × conditions × regions, and the predictions to test on them."""

    name: str
    metric: str
    region_names: dict[int, str]
    predictions: list[Prediction]
    items: list[Item]
    source: str = "<memory>"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def conditions(self) -> list[str]:
        return list(self.items[0].conditions) if self.items else []

    @property
    def region_numbers(self) -> list[int]:
        return list(self.region_names)

    def to_frame(self) -> pd.DataFrame:
        """One row per (item, condition, region): the suite as a tidy table."""
        rows = [
            {"suite": self.name, "item": item.number, "condition": cond.name, "region_number": number,
             "region": self.region_names.get(number, str(number)), "content": content}
            for item in self.items for cond in item.conditions.values()
            for number, content in zip(cond.region_numbers, cond.contents)
        ]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"Suite({self.name!r}, items={len(self.items)}, conditions={self.conditions}, "
                f"regions={len(self.region_names)}, predictions={len(self.predictions)}, metric={self.metric!r})")


# ------------------------------------------------------------------------------ loading
def load(path: str | Path) -> Suite | list[Suite]:
    """A suite from a ``.json`` file or ``builtin:NAME``; a folder (or ``builtin:``) gives a list."""
    resolved = resolve_suite_path(path, "syntaxgym")
    if resolved.is_dir():
        return [load_file(file) for file in sorted(resolved.glob("*.json"))]
    return load_file(resolved)


def load_all(path: str | Path) -> list[Suite]:
    """Always a list: every suite in a folder, or the one suite in a file."""
    loaded = load(path)
    return loaded if isinstance(loaded, list) else [loaded]




def load_file(path: str | Path) -> Suite:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    except OSError as error:
        raise SuiteError(f"{path}: cannot read: {error.strerror or error}") from None
    return from_dict(data, source=str(path), default_name=path.stem)


def from_dict(data: Any, *, source: str = "<memory>", default_name: str = "suite") -> Suite:
    """Build and validate a :class:`Suite` from parsed JSON."""
    where = _Where(source)
    if not isinstance(data, dict):
        raise where.error(f"the top level must be an object with 'items' and 'predictions', not {_kind(data)}")
    meta = _get(data, "meta", dict, where, default={})
    name = str(meta.get("name", default_name))
    metric = meta.get("metric", "sum")
    if metric not in METRICS:
        raise where.error(f"field 'meta.metric' is {metric!r}; choose one of {', '.join(METRICS)}")
    region_meta = _get(data, "region_meta", dict, where, default=None)
    items = [_item(raw, index, where) for index, raw in enumerate(_get(data, "items", list, where))]
    if not items:
        raise where.error("field 'items' is empty")
    _check_item_numbers(items, where)
    region_names = _region_names(region_meta, items, where)
    _check_consistency(items, region_names, where)
    predictions = [
        _prediction(raw, index, where, items[0].conditions, region_names)
        for index, raw in enumerate(_get(data, "predictions", list, where))
    ]
    if not predictions:
        raise where.error("field 'predictions' is empty: a suite with nothing to predict has no accuracy "
                          "(it would score 1.0)")
    return Suite(name, metric, region_names, predictions, items, source, meta)


class _Where:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, *, item: Any = None, condition: str | None = None) -> SuiteError:
        parts = [self.source]
        if item is not None:
            parts.append(f"item {item}")
        if condition is not None:
            parts.append(f"condition {condition!r}")
        return SuiteError(f"{', '.join(parts)}: {message}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _get(obj: dict, key: str, kind: type, where: _Where, default: Any = ..., **context) -> Any:
    if key not in obj:
        if default is not ...:
            return default
        raise where.error(f"field {key!r} is missing", **context)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise where.error(f"field {key!r} must be {_kind(kind())}, not {_kind(value)} ({value!r:.40})", **context)
    return value


def _item(raw: Any, index: int, where: _Where) -> Item:
    if not isinstance(raw, dict):
        raise where.error(f"entry {index} of 'items' must be an object, not {_kind(raw)}")
    number = raw.get("item_number", index + 1)
    conditions: dict[str, Condition] = {}
    for raw_cond in _get(raw, "conditions", list, where, item=number):
        if not isinstance(raw_cond, dict):
            raise where.error(f"field 'conditions' holds {_kind(raw_cond)}, not an object", item=number)
        name = _get(raw_cond, "condition_name", str, where, item=number)
        if name in conditions:
            raise where.error("field 'condition_name': this condition appears twice", item=number, condition=name)
        numbers, contents = [], []
        for raw_region in _get(raw_cond, "regions", list, where, item=number, condition=name):
            if not isinstance(raw_region, dict):
                raise where.error(f"field 'regions' holds {_kind(raw_region)}, not an object",
                                  item=number, condition=name)
            numbers.append(_get(raw_region, "region_number", int, where, item=number, condition=name))
            content = _get(raw_region, "content", str, where, item=number, condition=name)
            contents.append(content.strip())
        if len(set(numbers)) != len(numbers):
            raise where.error(f"field 'regions': region numbers repeat: {numbers}", item=number, condition=name)
        order = sorted(range(len(numbers)), key=numbers.__getitem__)
        conditions[name] = Condition(name, [numbers[i] for i in order], [contents[i] for i in order])
    if not conditions:
        raise where.error("field 'conditions' is empty", item=number)
    return Item(number, conditions)


def _check_item_numbers(items: list[Item], where: _Where) -> None:
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        if item.number in seen:
            raise where.error(f"field 'item_number' repeats: entries {seen[item.number]} and {index} of 'items' "
                              "are both this item (it would be counted twice)", item=item.number)
        seen[item.number] = index


def check_distinct(suites: list[Suite]) -> list[Suite]:
    """The suites, unchanged, if no suite is given twice (the same file, or two suites of one name);
    else an :class:`~interp.errors.InputError` naming it (its items would be counted twice)."""
    sources: dict[str, Suite] = {}
    names: dict[str, Suite] = {}
    for suite in suites:
        key = str(Path(suite.source).resolve()) if suite.source != "<memory>" else f"<memory {id(suite)}>"
        if key in sources:
            raise InputError(f"suite {suite.name!r} ({suite.source}) is given twice; give each suite once")
        if suite.name in names:
            raise InputError(f"two suites are named {suite.name!r} ({names[suite.name].source} and {suite.source}); "
                             "their rows could not be told apart: give each suite once, or rename one (meta.name)")
        sources[key] = names[suite.name] = suite
    return suites


def _region_names(region_meta: dict | None, items: list[Item], where: _Where) -> dict[int, str]:
    if region_meta is None:
        first = next(iter(items[0].conditions.values()))
        return {number: str(number) for number in first.region_numbers}
    names = {}
    for key, value in region_meta.items():
        try:
            names[int(key)] = str(value)
        except ValueError:
            raise where.error(f"field 'region_meta': key {key!r} is not a region number") from None
    return dict(sorted(names.items()))


def _check_consistency(items: list[Item], region_names: dict[int, str], where: _Where) -> None:
    expected = list(items[0].conditions)
    for item in items:
        if sorted(item.conditions) != sorted(expected):
            missing = sorted(set(expected) - set(item.conditions))
            extra = sorted(set(item.conditions) - set(expected))
            raise where.error(
                f"field 'conditions' differs from item {items[0].number}'s: missing {missing}, extra {extra}",
                item=item.number,
            )
        for cond in item.conditions.values():
            if cond.region_numbers != list(region_names):
                missing = [f"{n} ({region_names[n]})" for n in region_names if n not in cond.region_numbers]
                extra = [n for n in cond.region_numbers if n not in region_names]
                detail = f"missing region {', '.join(missing)}" if missing else f"unknown region {extra}"
                raise where.error(f"field 'regions': {detail}; expected regions {list(region_names)}",
                                  item=item.number, condition=cond.name)


def _prediction(raw: Any, index: int, where: _Where, conditions: dict, region_names: dict) -> Prediction:
    label = f"prediction {index}"
    if not isinstance(raw, dict):
        raise where.error(f"{label} must be an object with 'type' and 'formula', not {_kind(raw)}")
    kind = raw.get("type", "formula")
    if kind != "formula":
        raise where.error(f"{label}, field 'type': only 'formula' predictions exist, not {kind!r}")
    text = raw.get("formula")
    if not isinstance(text, str):
        raise where.error(f"{label}, field 'formula' must be a string, not {_kind(text)}")
    try:
        formula = parse_formula(text)
    except FormulaError as error:
        raise where.error(f"{label}, field 'formula': {error}") from None
    for term in formula.terms():
        problem = None
        if term.condition not in conditions:
            problem = f"unknown condition {term.condition!r}; the suite has {list(conditions)}"
        elif term.region is not None and term.region not in region_names:
            problem = f"unknown region {term.region}; the suite has regions {list(region_names)}"
        if problem:
            error = FormulaError(problem, text, term.position)
            raise where.error(f"{label}, field 'formula': {error}")
    return Prediction(index, formula)
