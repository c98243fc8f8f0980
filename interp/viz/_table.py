"""Shared table handling for the figures: column checks, metric selection, the published aggregation.

The tidy table of the causal-efficacy evaluator has one row per unit and metric, with at least
``method, layer, position, metric, value`` (and usually ``model, suite, task, n``). Extra
columns are tolerated. Rows that differ only in columns a figure does not show (suites,
seeds, revisions) are averaged, unweighted, as ``pandas.pivot_table`` would.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pandas as pd

from interp.errors import InputError

#: The order methods appear in, in every figure (others follow in order of appearance).
METHOD_ORDER = ("das", "probe", "mean", "pca", "kmeans", "lda", "random", "vanilla")
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f", "#17becf",
            "#bcbd22", "#e377c2")
METRIC_LABELS = {"odds_ratio": "log odds-ratio", "iia": "interchange-intervention accuracy",
                 "behaviour": "behavioural accuracy", "selectivity": "selectivity (task − control)",
                 "selectivity_iia": "IIA selectivity (task − control)",
                 "control_odds_ratio": "control log odds-ratio", "control_iia": "control IIA"}


def require(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`InputError` naming the missing columns and the ones the table has."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} needs a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{what}: the table has no column {', '.join(map(repr, missing))}; "
                         f"its columns are {', '.join(map(str, table.columns))}")


def _close(value: object, choices: list) -> str:
    near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3)
    return f" (did you mean {', '.join(map(repr, near))}?)" if near else ""


def pick(table: pd.DataFrame, column: str, value: object, what: str) -> pd.DataFrame:
    """Rows where ``column == value``; an unknown value lists the known ones and close matches."""
    known = list(pd.unique(table[column]))
    rows = table[table[column].astype(str) == str(value)]
    if rows.empty:
        raise InputError(f"{what}: unknown {column} {value!r}{_close(value, known)}; "
                         f"the table has {', '.join(map(str, known))}")
    return rows


def select_metric(table: pd.DataFrame, metric: str, what: str) -> pd.DataFrame:
    """The rows of ``metric``.

    With a boolean ``control`` column, ``metric`` means the task rows (``control`` false) and
    ``control_<metric>`` the control rows, unless the table names ``control_<metric>`` itself.
    """
    require(table, ["metric", "value"], what)
    rows = table[table.metric == metric]
    if "control" in table.columns:
        control = table.control.astype(str).str.lower().isin(["true", "1", "1.0"])
        if metric.startswith("control_") and rows.empty:
            rows = table[(table.metric == metric[len("control_"):]) & control]
        elif not metric.startswith("control_"):
            rows = table[(table.metric == metric) & ~control]
    if rows.empty:
        known = sorted(map(str, pd.unique(table.metric)))
        raise InputError(f"{what}: no rows with metric {metric!r}{_close(metric, known)}; "
                         f"the table's metrics are {', '.join(known)}")
    rows = rows.copy()
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    return rows


def method_order(methods: Iterable) -> list:
    methods = list(dict.fromkeys(methods))
    known = [m for m in METHOD_ORDER if m in methods]
    return known + [m for m in methods if m not in known]


def method_color(method: object) -> str:
    name = str(method)
    index = METHOD_ORDER.index(name) if name in METHOD_ORDER else len(METHOD_ORDER) + sum(map(ord, name))
    return _PALETTE[index % len(_PALETTE)]


def position_order(positions: Iterable) -> list:
    """Numbers ascending; labels in order of first appearance."""
    positions = list(dict.fromkeys(positions))
    numeric = pd.to_numeric(pd.Series(positions, dtype=object), errors="coerce")
    if len(positions) and numeric.notna().all():
        return [p for _, p in sorted(zip(numeric, positions), key=lambda t: t[0])]
    return positions


def unit_means(rows: pd.DataFrame, by: list[str]) -> pd.Series:
    """Mean ``value`` per group of ``by`` (averaging what the figure does not show)."""
    return rows.groupby(by, sort=False, dropna=False)["value"].mean()


def layer_scores(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Published aggregation up to layers: per ``keys + [layer]``, the max over positions of the
    unit means. Returns columns ``keys + ["layer", "value"]``."""
    means = unit_means(rows, [*keys, "layer", "position"]).reset_index()
    return means.groupby([*keys, "layer"], sort=False, dropna=False)["value"].max().reset_index()


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def only_one(rows: pd.DataFrame, column: str, value: object, what: str) -> pd.DataFrame:
    """Rows of ``column == value``; with ``value`` None the column must hold a single value."""
    if value is not None:
        require(rows, [column], what)
        return pick(rows, column, value, what)
    if column in rows.columns and rows[column].nunique(dropna=False) > 1:
        values = ", ".join(map(str, pd.unique(rows[column])))
        raise InputError(f"{what}: the table holds several {column}s ({values}); pass {column}=... to choose one")
    return rows


def signed_metric(metric: str) -> bool:
    """Metrics centred on 0 (diverging colours, a zero line): log odds-ratios and selectivities."""
    return metric.endswith("odds_ratio") or metric.startswith("selectivity")
