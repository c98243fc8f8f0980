"""Contrastive prompt sets for steering: two sets of sentences whose difference of mean activations is a
steering vector, neutral prompts to steer, and word lists that say whether a text shows the behaviour.

>>> from interp.suites.steering import load_contrast, steering_names
>>> steering_names()
['formality', 'sentiment']
>>> contrast = load_contrast("builtin:sentiment")
>>> len(contrast.positive), len(contrast.negative), contrast.prompts[1]
(40, 40, 'The movie was')
>>> "wonderful" in contrast.target_words and "awful" in contrast.opposite_words
True

A file holds one JSON object (steering toward ``positive`` is a positive coefficient)::

    {"name": "sentiment",
     "positive": ["I love this place.", ...],          # at least one sentence each
     "negative": ["I hate this place.", ...],
     "prompts": ["The movie was", ...],                # optional: texts to continue while steering
     "words": {"positive": ["love", ...], "negative": ["hate", ...]}}   # optional: the behaviour

``words.positive`` are the target words (the behaviour steering toward ``positive`` should bring),
``words.negative`` the opposite words. A malformed file is a :class:`~interp.errors.SuiteError`
naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import SuiteError

BUILTIN_DIR = Path(__file__).with_name("builtin")
PREFIX = "steering_"


@dataclass(frozen=True)
class ContrastSet:
    """Two sentence sets (``positive`` minus ``negative`` is the steering direction), prompts and word lists."""

    name: str
    positive: list[str]
    negative: list[str]
    prompts: list[str] = field(default_factory=list)
    target_words: list[str] = field(default_factory=list)
    opposite_words: list[str] = field(default_factory=list)
    description: str = ""
    source: str = "<memory>"


def steering_names() -> list[str]:
    """Names of the built-in contrast sets (``builtin:NAME``)."""
    return sorted(path.stem[len(PREFIX):] for path in BUILTIN_DIR.glob(f"{PREFIX}*.json"))


def load_contrast(spec: str | Path | Mapping[str, Any] | ContrastSet) -> ContrastSet:
    """A contrast set from ``builtin:NAME``, a JSON file, or a dict with the file's fields."""
    if isinstance(spec, ContrastSet):
        return spec
    if isinstance(spec, Mapping):
        return parse_contrast(spec, "<dict>")
    path = _resolve(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(f"{path}: cannot read the contrast set ({error})") from None
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    return parse_contrast(data, str(path))


def parse_contrast(data: Any, source: str) -> ContrastSet:
    """Validate the fields of a contrast set; every error names ``source`` and the field."""
    if not isinstance(data, Mapping):
        raise SuiteError(f"{source}: a contrast set is a JSON object with 'positive' and 'negative' lists, "
                         f"not {type(data).__name__}")
    known = {"name", "description", "positive", "negative", "prompts", "words"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SuiteError(f"{source}: unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"a contrast set has {', '.join(sorted(known))}")
    for required in ("positive", "negative"):
        if required not in data:
            raise SuiteError(f"{source}: missing field {required!r} (a non-empty list of sentences)")
    words = data.get("words", {})
    if not isinstance(words, Mapping) or set(words) - {"positive", "negative"}:
        raise SuiteError(f"{source}: field 'words' must be an object with 'positive' and/or 'negative' word lists")
    name = data.get("name", Path(source).stem.removeprefix(PREFIX))
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{source}: field 'name' must be a non-empty string")
    return ContrastSet(
        name=name,
        positive=_strings(data["positive"], source, "positive", nonempty=True),
        negative=_strings(data["negative"], source, "negative", nonempty=True),
        prompts=_strings(data.get("prompts", []), source, "prompts"),
        target_words=[w.lower() for w in _strings(words.get("positive", []), source, "words.positive")],
        opposite_words=[w.lower() for w in _strings(words.get("negative", []), source, "words.negative")],
        description=str(data.get("description", "")),
        source=source,
    )


def _strings(value: Any, source: str, name: str, *, nonempty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise SuiteError(f"{source}: field {name!r} must be a list of strings, not {type(value).__name__}")
    if nonempty and not value:
        raise SuiteError(f"{source}: field {name!r} is empty; it needs at least one sentence")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise SuiteError(f"{source}: {name}[{index}] must be a non-empty string, not {item!r}")
    return list(value)


def _resolve(spec: str | Path) -> Path:
    text = str(spec)
    if text.startswith("builtin:"):
        name = text[len("builtin:"):]
        if name not in steering_names():
            raise SuiteError(f"no built-in contrast set {name!r}; the built-ins are: {', '.join(steering_names())}")
        return BUILTIN_DIR / f"{PREFIX}{name}.json"
    path = Path(text).expanduser()
    if not path.is_file():
        raise SuiteError(f"{text}: no such contrast-set file (or use builtin:{'|'.join(steering_names())})")
    return path
