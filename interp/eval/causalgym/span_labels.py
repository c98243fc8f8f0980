"""Names for a CausalGym task's spans, for figures: a span's words, not its index (as the paper's heat-maps).

A span is labelled by its text in the task's pairs: the one word it always has (``"near"``, ``"The"``),
or its two sides (``"dog/dogs"``), or its most common fillers then ``…``; a label used twice gets its
index (``"the (3)"``).

>>> from types import SimpleNamespace as Pair
>>> pairs = [Pair(base=("The", " dog", " near", " the", " car"), src=("The", " dogs", " near", " the", " car")),
...          Pair(base=("The", " cat", " near", " the", " tree"), src=("The", " cats", " near", " the", " tree")),
...          Pair(base=("The", " cow", " near", " the", " car"), src=("The", " cows", " near", " the", " car"))]
>>> span_labels(pairs, [1, 2, 3, 4])
{1: 'dog/dogs/cat/…', 2: 'near', 3: 'the', 4: 'car/tree'}
>>> span_labels(pairs, [0, 3]), span_labels([Pair(base=('a', ' x'), src=('a', ' x'))], [0, 1])
({0: 'The', 3: 'the'}, {0: 'a', 1: 'x'})
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

MAX_WORDS = 3


def span_labels(pairs: Sequence, spans: Sequence[int]) -> dict[int, str]:
    """``{span: label}`` for ``spans`` of ``pairs`` (objects with ``base`` and ``src`` span texts)."""
    labels = {}
    for span in spans:
        words = Counter(text.strip() for pair in pairs for text in (pair.base[span], pair.src[span]) if text.strip())
        common = [word for word, _ in words.most_common()]
        if not common:
            labels[span] = str(span)
        elif len(common) <= 2:
            labels[span] = "/".join(sorted(common, key=list(words).index))
        else:
            labels[span] = "/".join(sorted(common[:MAX_WORDS], key=list(words).index)) + "/…"
    seen = Counter(labels.values())
    return {span: f"{label} ({span})" if seen[label] > 1 else label for span, label in labels.items()}


def recorded_span_labels(folder) -> dict[str, dict[str, str]]:
    """``meta.json``'s ``span_labels`` of a CausalGym output folder (``{}`` when it has none)."""
    path = Path(folder) / "meta.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8")).get("span_labels") if path.is_file() else None
    except (OSError, ValueError, AttributeError):
        labels = None
    return labels if isinstance(labels, dict) else {}
