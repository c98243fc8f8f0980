"""CausalGym task templates (docs/formats.md, format B): validate one task and draw pairs from it.

>>> import random
>>> task = TaskTemplate.from_dict("agr", {
...     "templates": ["The {subject} {prep} the {object}"], "label": "subject",
...     "result_prepend_space": True,
...     "labels": {"singular": ["is"], "plural": ["are"]},
...     "variables": {"subject": {"singular": ["dog"], "plural": ["dogs"]},
...                   "prep": ["near"], "object": ["car"]}})
>>> pair = task.draw(random.Random(0))
>>> sorted([pair.base_text, pair.src_text]), pair.label_spans
(['The dog near the car', 'The dogs near the car'], (1,))
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from interp.errors import SuiteError
from interp.suites.pairs import Pair

_VARIABLE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Piece:
    """A span of a template: literal ``text``, or a ``variable`` with an optional leading space."""

    text: str = ""
    variable: str | None = None
    space: bool = False


def split_template(template: str) -> list[Piece]:
    """Spans of a template: each ``{variable}`` with the space before it, and the literal text between.

    >>> [p.variable or p.text for p in split_template("The {subject} {prep} the {object}")]
    ['The', 'subject', 'prep', ' the', 'object']
    """
    pieces: list[Piece] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        literal = template[position:match.start()]
        space = literal.endswith(" ")
        if space:
            literal = literal[:-1]
        if literal:
            pieces.append(Piece(text=literal))
        pieces.append(Piece(variable=match.group(1), space=space))
        position = match.end()
    if template[position:]:
        pieces.append(Piece(text=template[position:]))
    return pieces


def group_of(variable: str) -> str:
    """Variables sharing a dotted prefix (``vp.verb``, ``vp.cont``) draw the same index."""
    return variable.split(".", 1)[0] if "." in variable else variable


@dataclass
class TaskTemplate:
    name: str
    templates: list[list[Piece]]
    label_variables: list[str]
    types: tuple[str, str]
    labels: dict[str, list[str]]
    variables: dict[str, list[str] | dict[str, list[str]]]
    prepend_space: bool
    source: str = "<memory>"

    @classmethod
    def from_dict(cls, name: str, raw: Any, source: str = "<memory>") -> TaskTemplate:
        def fail(field: str, message: str) -> SuiteError:
            return SuiteError(f"{source}: task {name!r}, field {field!r}: {message}")

        if not isinstance(raw, dict):
            raise SuiteError(f"{source}: task {name!r} must be an object, not {type(raw).__name__}")
        for key in ("templates", "label", "labels", "variables"):
            if key not in raw:
                raise fail(key, "is missing")
        templates = raw["templates"]
        if isinstance(templates, str):
            templates = [templates]
        if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
            raise fail("templates", "must be a non-empty list of strings")
        label_vars = raw["label"] if isinstance(raw["label"], list) else [raw["label"]]
        if not label_vars or not all(isinstance(v, str) for v in label_vars):
            raise fail("label", "must name a variable (or a list of them)")
        labels = raw["labels"]
        if not isinstance(labels, dict) or len(labels) != 2:
            raise fail("labels", f"must have exactly two keys, the types; got {_keys(labels)}")
        types = tuple(labels)
        for kind, words in labels.items():
            if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
                raise fail(f"labels.{kind}", "must be a non-empty list of non-empty strings")
        shared = [w for w in labels[types[0]] if w in labels[types[1]]]
        if shared:
            raise fail("labels", f"{shared[0]!r} is a label of both types {types[0]!r} and {types[1]!r}; the types "
                                 "need different labels (a shared label scores 0 everywhere)")
        variables = raw["variables"]
        if not isinstance(variables, dict):
            raise fail("variables", "must be an object mapping names to fillers")
        for var, fillers in variables.items():
            field = f"variables.{var}"
            if var in label_vars:
                if not isinstance(fillers, dict) or set(fillers) != set(types):
                    raise fail(field, f"is label-bearing, so it must be keyed by the types {list(types)}; "
                                      f"got {_keys(fillers)}")
                for kind, words in fillers.items():
                    _check_fillers(words, lambda m, f=f"{field}.{kind}": fail(f, m))
            else:
                if isinstance(fillers, dict):
                    raise fail(field, "is keyed by type but is not named in 'label'")
                _check_fillers(fillers, lambda m, f=field: fail(f, m))
        for var in label_vars:
            if var not in variables:
                raise fail("label", f"names {var!r}, which is not in 'variables'")
        _check_groups(variables, label_vars, types, fail)
        parsed = []
        for index, template in enumerate(templates):
            pieces = split_template(template)
            used = [p.variable for p in pieces if p.variable is not None]
            for var in used:
                if var not in variables:
                    raise fail(f"templates[{index}]", f"uses {{{var}}}, which is not in 'variables' "
                                                      f"({', '.join(variables)})")
            if not any(var in used for var in label_vars):
                raise fail(f"templates[{index}]", f"uses no label-bearing variable ({', '.join(label_vars)})")
            parsed.append(pieces)
        prepend = raw.get("result_prepend_space", True)
        if not isinstance(prepend, bool):
            raise fail("result_prepend_space", "must be true or false")
        return cls(name, parsed, label_vars, types, labels, variables, prepend, source)

    # -------------------------------------------------------------------------------- sampling
    def draw(self, rng: random.Random, base_type: str | None = None) -> Pair:
        """One pair: base of ``base_type`` (random if None), source of the other type."""
        base_type = base_type or rng.choice(self.types)
        src_type = self.types[1] if base_type == self.types[0] else self.types[0]
        pieces = self.templates[rng.randrange(len(self.templates))]
        indices: dict[tuple[str, str], int] = {}

        def filler(var: str, kind: str) -> str:
            fillers = self.variables[var]
            words = fillers[kind] if isinstance(fillers, dict) else fillers
            key = (group_of(var), kind if isinstance(fillers, dict) else "")
            if key not in indices:
                indices[key] = rng.randrange(len(words))
            return words[indices[key]]

        base, src, label_spans = [], [], []
        for piece in pieces:
            if piece.variable is None:
                base.append(piece.text)
                src.append(piece.text)
                continue
            if piece.variable in self.label_variables:
                label_spans.append(len(base))
            for side, kind in ((base, base_type), (src, src_type)):
                word = filler(piece.variable, kind)
                side.append((" " if piece.space else "") + word if word else "")
        space = " " if self.prepend_space else ""
        base_label = space + rng.choice(self.labels[base_type])
        src_label = space + rng.choice(self.labels[src_type])
        return Pair(tuple(base), tuple(src), base_type, src_type, base_label, src_label, self.name,
                    tuple(label_spans))

    def example(self, seed: int = 0) -> Pair:
        return self.draw(random.Random(f"{seed}:{self.name}:example"), self.types[0])


def _keys(value: Any) -> str:
    return str(list(value)) if isinstance(value, dict) else type(value).__name__


def _check_fillers(words: Any, fail) -> None:
    if not isinstance(words, list) or not words:
        raise fail("must be a non-empty list of strings")
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise fail(f"holds non-strings: {bad[:3]!r}")


def _check_groups(variables: dict, label_vars: list[str], types: tuple[str, str], fail) -> None:
    groups: dict[str, list[str]] = {}
    for var in variables:
        groups.setdefault(group_of(var), []).append(var)
    for group, members in groups.items():
        if len(members) < 2:
            continue
        keyed = [v in label_vars for v in members]
        if any(keyed) and not all(keyed):
            raise fail(f"variables.{members[0]}", f"group {group!r} mixes label-bearing and plain variables")
        kinds = types if all(keyed) else ("",)
        for kind in kinds:
            lengths = {v: len(variables[v][kind] if kind else variables[v]) for v in members}
            if len(set(lengths.values())) > 1:
                where = f".{kind}" if kind else ""
                raise fail(f"variables.{members[0]}{where}",
                           f"variables of group {group!r} draw the same index, so they need equally many "
                           f"fillers; got {lengths}")
