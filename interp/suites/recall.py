"""Factual-recall suites: facts with a counterfactual stated in context (Yu, Merullo & Pavlick 2023).

A prompt states a *counterfactual* capital, then asks again; the model answers either with the
in-context capital or with the memorised one::

    The capital of France is Paris.          <- fixed demonstrations ("shots")
    The capital of Japan is Tokyo.
    The capital of Poland is Ankara.         <- the counterfactual, in context
    The capital of Poland is                 <- the query: " Warsaw" (memorised) or " Ankara" (in context)

>>> from interp.suites import recall
>>> suite = recall.load("builtin:capitals")
>>> len(suite.facts) >= 60
True
>>> item = suite.items()[0]
>>> item.country, item.memorised, item.in_context
('Germany', 'Berlin', 'Quito')
>>> print(item.prompt)
The capital of France is Paris.
The capital of Japan is Tokyo.
The capital of Germany is Quito.
The capital of Germany is
>>> print(item.plain.splitlines()[-1])          # the same query without the counterfactual
The capital of Germany is
>>> suite.answer_segment(" Berlin.\\nThe capital of Spain is")   # scored up to the next question
' Berlin.'
>>> suite.score(" Quito, not Berlin", item)                         # the earliest answer wins
'in_context'

The counterfactual of fact ``i`` is the capital of fact ``i + len(facts) // 2`` (cyclically), moving
on to the next fact while the two capitals share their first token under ``tokenizer`` (when one is
given), so that attribution can compare first tokens; it depends on the file only, not on a seed.
:func:`split` divides items into a train part (to choose heads) and a held-out part by seed.
The file format (``interp/suites/builtin/capitals.json``): ``statement`` and ``query`` templates
with ``{country}``/``{capital}``, a ``separator`` between lines, ``stop`` markers that end an
answer, ``shots`` and ``facts`` (lists of ``{"country": ..., "capital": ...}``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import SuiteError
from interp.suites.builtins import BUILTIN_DIR

ANSWERS = ("in_context", "memorised", "other")


@dataclass(frozen=True)
class Fact:
    country: str
    capital: str


@dataclass(frozen=True)
class RecallItem:
    """One fact as prompts: ``prompt`` states ``in_context`` before the query, ``plain`` does not."""

    country: str
    memorised: str
    in_context: str
    prompt: str
    plain: str


@dataclass(frozen=True)
class RecallSuite:
    name: str
    facts: tuple[Fact, ...]
    shots: tuple[Fact, ...]
    statement: str
    query: str
    separator: str
    stop: tuple[str, ...]
    source: str = ""

    def items(self, tokenizer: Any = None) -> list[RecallItem]:
        """Every fact with its counterfactual prompt and its plain (no-context) prompt."""
        n = len(self.facts)
        first = _first_token(tokenizer)
        shots = [self.statement.format(country=s.country, capital=s.capital) for s in self.shots]
        items = []
        for i, fact in enumerate(self.facts):
            counterfactual = None
            for step in range(n // 2, n // 2 + n):
                other = self.facts[(i + step) % n].capital
                if other != fact.capital and (first is None or first(other) != first(fact.capital)):
                    counterfactual = other
                    break
            if counterfactual is None:
                raise SuiteError(f"{self.source}: no capital differs from {fact.capital!r} in its first token")
            query = self.query.format(country=fact.country)
            context = self.statement.format(country=fact.country, capital=counterfactual)
            items.append(RecallItem(fact.country, fact.capital, counterfactual,
                                    self.separator.join([*shots, context, query]),
                                    self.separator.join([*shots, query])))
        return items

    def answer_segment(self, continuation: str) -> str:
        """The continuation up to the first stop marker (the end of the answer line)."""
        end = min((i for i in (continuation.find(s) for s in self.stop) if i >= 0), default=len(continuation))
        return continuation[:end]

    def score(self, continuation: str, item: RecallItem) -> str:
        """``"in_context"``, ``"memorised"`` or ``"other"``: which capital the answer names first."""
        segment = self.answer_segment(continuation)
        found = {kind: segment.find(getattr(item, kind)) for kind in ANSWERS[:2]}
        named = {kind: at for kind, at in found.items() if at >= 0}
        return min(named, key=named.get) if named else "other"


def _first_token(tokenizer):
    if tokenizer is None:
        return None
    return lambda capital: tokenizer(" " + capital, add_special_tokens=False)["input_ids"][0]


def load(path: str | Path = "builtin:capitals") -> RecallSuite:
    """Read a recall suite file; ``builtin:NAME`` names one shipped with interp (``builtin:capitals``)."""
    text = str(path)
    file = BUILTIN_DIR / f"{text[len('builtin:'):]}.json" if text.startswith("builtin:") else Path(path)
    if not file.is_file():
        raise SuiteError(f"{text}: no such recall suite (the built-in one is builtin:capitals)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SuiteError(f"{file}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{file}: expected a JSON object with 'facts', 'statement' and 'query'")
    for field in ("statement", "query"):
        if not isinstance(data.get(field), str) or "{country}" not in data[field]:
            raise SuiteError(f"{file}: field {field!r} must be a template string containing {{country}}")
    if "{capital}" not in data["statement"]:
        raise SuiteError(f"{file}: field 'statement' must contain {{capital}}")
    facts = _facts(data.get("facts"), file, "facts")
    if len(facts) < 2:
        raise SuiteError(f"{file}: field 'facts' needs at least two facts (one's capital is another's counterfactual)")
    capitals = [f.capital for f in facts]
    if len(set(capitals)) != len(capitals):
        raise SuiteError(f"{file}: field 'facts' repeats a capital")
    stop = data.get("stop", ["\n"])
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise SuiteError(f"{file}: field 'stop' must be a list of non-empty strings")
    shots = _facts(data.get("shots", []), file, "shots")
    return RecallSuite(str(data.get("name", file.stem)), tuple(facts), tuple(shots), data["statement"], data["query"],
                       str(data.get("separator", "\n")), tuple(stop), str(file))


def _facts(entries: Any, file: Path, field: str) -> list[Fact]:
    if not isinstance(entries, list):
        raise SuiteError(f"{file}: field {field!r} must be a list of {{'country': ..., 'capital': ...}}")
    facts = []
    for index, entry in enumerate(entries):
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) and entry[k].strip()
                                                for k in ("country", "capital"))):
            raise SuiteError(f"{file}: {field}[{index}] needs non-empty strings 'country' and 'capital'")
        facts.append(Fact(entry["country"], entry["capital"]))
    return facts


def split(items: list[RecallItem], seed: int = 0, held_out: float = 0.5) -> tuple[list[RecallItem], list[RecallItem]]:
    """Shuffle by ``seed`` and cut into (train, held-out); ``held_out`` is the held-out share.

    >>> train, test = split(list(range(10)), seed=0)
    >>> len(train), len(test), sorted(train + test) == list(range(10))
    (5, 5, True)
    """
    if not 0 < held_out < 1:
        raise SuiteError(f"held_out must be a share between 0 and 1, not {held_out}")
    order = list(items)
    random.Random(seed).shuffle(order)
    cut = len(order) - round(len(order) * held_out)
    return order[:cut], order[cut:]
