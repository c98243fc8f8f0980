"""Minimal pairs (CausalGym): a base and a source sentence as aligned spans, each with a label.

A pair knows, for the tokenizer at hand, where each span ends **on each side** (the two sides
may tokenise differently) and the ids of its labels.

>>> from interp.models import tiny_tokenizer
>>> pair = Pair(("The", " dog", " near the", " house"), ("The", " dogs", " near the", " house"),
...             "singular", "plural", " is", " are", task="agr")
>>> enc = pair.encode(tiny_tokenizer())
>>> enc.sites                                   # spans usable as intervention positions
[1, 2, 3]
>>> enc.positions(1)                            # (base index, source index) of span 1's last token
(2, 3)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import pandas as pd

from interp.errors import InputError
from interp.suites.alignment import Bos, SpanEncoding, encode_spans
from interp.suites_common import single_token_id

CONTROL_LABELS = (" dog", " give")


@dataclass(frozen=True)
class Pair:
    """``base``/``src``: span texts aligned by index (a span may be ``""``)."""

    base: tuple[str, ...]
    src: tuple[str, ...]
    base_type: str
    src_type: str
    base_label: str
    src_label: str
    task: str = ""
    label_spans: tuple[int, ...] = ()  # spans holding label-bearing variables; default: spans that differ
    control: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", tuple(self.base))
        object.__setattr__(self, "src", tuple(self.src))
        if len(self.base) != len(self.src):
            raise InputError(f"pair of task {self.task!r}: base has {len(self.base)} spans, source "
                             f"{len(self.src)}; spans must align by index")
        if not self.label_spans:
            differing = tuple(k for k, (b, s) in enumerate(zip(self.base, self.src)) if b != s)
            object.__setattr__(self, "label_spans", differing)

    @property
    def base_text(self) -> str:
        return "".join(self.base)

    @property
    def src_text(self) -> str:
        return "".join(self.src)

    def swapped(self) -> Pair:
        """The same pair with base and source exchanged."""
        return replace(self, base=self.src, src=self.base, base_type=self.src_type, src_type=self.base_type,
                       base_label=self.src_label, src_label=self.base_label)

    def relabelled(self, types: tuple[str, str], labels: tuple[str, str] = CONTROL_LABELS) -> Pair:
        """The control version: type ``types[i]`` gets label ``labels[i]`` (`` dog``/`` give``)."""
        mapping = dict(zip(types, labels))
        return replace(self, base_label=mapping[self.base_type], src_label=mapping[self.src_type], control=True)

    def text_sites(self) -> list[int]:
        """Spans from the first label-bearing one to the end that are non-empty on both sides."""
        first = min(self.label_spans, default=0)
        return [k for k in range(first, len(self.base)) if self.base[k] and self.src[k]]

    def encode(self, tokenizer, *, bos: Bos = "auto", first_token_ok: bool = False) -> EncodedPair:
        """Tokenise both sides (after the context token) and locate spans and labels."""
        base = encode_spans(tokenizer, list(self.base), bos)
        src = encode_spans(tokenizer, list(self.src), bos)
        ids = [self._label_id(tokenizer, label, first_token_ok) for label in (self.base_label, self.src_label)]
        sites = [k for k in self.text_sites() if base.span_tokens[k] and src.span_tokens[k]]
        return EncodedPair(self, base, src, ids[0], ids[1], sites)

    def span_ends(self, tokenizer, *, bos: Bos = "auto") -> tuple[list[int | None], list[int | None]]:
        """Each span's last-token index on the base side and on the source side (None: no tokens)."""
        base = encode_spans(tokenizer, list(self.base), bos)
        src = encode_spans(tokenizer, list(self.src), bos)
        return ([base.last_index(k) for k in range(len(self.base))],
                [src.last_index(k) for k in range(len(self.src))])

    def label_ids(self, tokenizer, *, first_token_ok: bool = False) -> tuple[int, int]:
        return (self._label_id(tokenizer, self.base_label, first_token_ok),
                self._label_id(tokenizer, self.src_label, first_token_ok))

    def _label_id(self, tokenizer, label: str, first_token_ok: bool) -> int:
        try:
            return single_token_id(tokenizer, label)
        except InputError as error:
            if not first_token_ok:
                raise InputError(f"task {self.task!r}: {error} (or pass first_token_ok=True to score its "
                                 f"first token)") from None
            warnings.warn(f"task {self.task!r}: {error}; scoring its first token", stacklevel=3)
            return single_token_id(tokenizer, label, first_token_ok=True)

    def to_row(self, bos_marker: str = "") -> dict:
        """This pair as a CausalGym dataset row (format C), with ``bos_marker`` before the first span."""
        return {"base": [bos_marker + self.base[0], *self.base[1:]], "src": [bos_marker + self.src[0], *self.src[1:]],
                "base_type": self.base_type, "src_type": self.src_type, "base_label": self.base_label,
                "src_label": self.src_label, "task": self.task}


@dataclass
class EncodedPair:
    """A pair tokenised for one tokenizer. Indices count the context token(s) too."""

    pair: Pair
    base: SpanEncoding
    src: SpanEncoding
    base_label_id: int
    src_label_id: int
    sites: list[int] = field(default_factory=list)

    def positions(self, span: int) -> tuple[int, int]:
        """``(base index, source index)`` of the last token of span ``span`` on each side."""
        base, src = self.base.last_index(span), self.src.last_index(span)
        if base is None or src is None:
            side = "base" if base is None else "source"
            raise InputError(f"span {span} ({self.pair.base[span]!r} / {self.pair.src[span]!r}) has no tokens "
                             f"on the {side} side; usable spans: {self.sites}")
        return base, src


def pairs_frame(pairs: list[Pair]) -> pd.DataFrame:
    """A table of pairs: one row each, texts joined."""
    return pd.DataFrame([
        {"task": p.task, "base": p.base_text, "src": p.src_text, "base_type": p.base_type,
         "src_type": p.src_type, "base_label": p.base_label, "src_label": p.src_label, "control": p.control}
        for p in pairs
    ])
