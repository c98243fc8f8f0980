"""Text spans (SyntaxGym regions, CausalGym spans) to token indices, for any tokenizer.

A sentence is a list of span texts joined with nothing in between (each span carries its own
leading space). A token belongs to the span that holds its first non-space character (a token
of spaces only belongs to the span of its first character), so the same rule works for
byte-level BPE ("Ġdog"), SentencePiece ("▁dog") and tokenizers that drop spaces. A span whose
characters all fall inside a token that starts earlier has no tokens of its own.

>>> from interp.models import tiny_tokenizer
>>> enc = encode_spans(tiny_tokenizer(), ["The", " dog", "", " near the", " house"])
>>> enc.span_tokens[1], enc.span_tokens[2], enc.last_index(1), enc.last_index(2)
([2], [], 2, None)
>>> enc.prefix_length       # the tokenizer's BOS (<|endoftext|>) is prepended as context
1
>>> regions_to_spans(["The", "farmer", "", "knows"])
['The', ' farmer', '', ' knows']
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from interp.errors import InputError
from interp.graph.tokens import DOCUMENT_SEPARATOR, Bos, context_ids, tokenizer_prefix  # noqa: F401 (re-exported: one BOS policy)


def regions_to_spans(contents: list[str]) -> list[str]:
    """SyntaxGym joining: single spaces between non-empty regions; the space opens the next one."""
    spans, started = [], False
    for content in contents:
        if content == "":
            spans.append("")
            continue
        spans.append((" " if started else "") + content)
        started = True
    return spans


def token_offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """``(ids, [(start, end) character offsets])`` of ``text`` without special tokens."""
    try:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(encoded["input_ids"]), [tuple(o) for o in encoded["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError):
        pass
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # slow tokenizer: walk the decoding
    offsets, previous = [], 0
    for i in range(len(ids)):
        end = len(tokenizer.decode(ids[: i + 1]))
        offsets.append((previous, end))
        previous = end
    if tokenizer.decode(ids) != text:
        raise InputError(f"cannot align tokens to text: this tokenizer gives no character offsets and "
                         f"does not decode {text!r} back to itself")
    return ids, offsets


def assign_tokens(text: str, offsets: list[tuple[int, int]], spans: list[str]) -> list[int | None]:
    """For each token, the index of the span holding its first non-space character (or None)."""
    starts, owners, position = [], [], 0
    for index, span in enumerate(spans):
        if span:
            starts.append(position)
            owners.append(index)
        position += len(span)
    if position != len(text):
        raise InputError(f"spans {spans!r} do not spell the text {text!r}")
    result: list[int | None] = []
    for start, end in offsets:
        if end <= start or not starts:
            result.append(None)
            continue
        piece = text[start:end]
        stripped = len(piece) - len(piece.lstrip())
        anchor = start + (stripped if stripped < len(piece) else 0)
        result.append(owners[bisect.bisect_right(starts, anchor) - 1] if anchor >= starts[0] else owners[0])
    return result


@dataclass
class SpanEncoding:
    """A sentence tokenised with its spans located.

    ``ids``: context token(s) then the sentence's tokens; ``span_tokens[k]``: indices (into
    ``ids``) of span ``k``'s tokens; ``prefix_length``: how many context tokens lead.
    """

    ids: list[int]
    span_tokens: list[list[int]]
    prefix_length: int
    text: str = ""
    token_span: list[int | None] = field(default_factory=list)

    def last_index(self, span: int) -> int | None:
        """Index (into ``ids``) of span ``span``'s last token, or None if it has no tokens."""
        tokens = self.span_tokens[span]
        return tokens[-1] if tokens else None


def encode_spans(tokenizer, spans: list[str], bos: Bos = "auto") -> SpanEncoding:
    """Tokenise ``"".join(spans)`` after the context token(s) and say which tokens each span owns."""
    text = "".join(spans)
    prefix = context_ids(tokenizer, bos)
    ids, offsets = token_offsets(tokenizer, text) if text else ([], [])
    owners = assign_tokens(text, offsets, spans)
    span_tokens: list[list[int]] = [[] for _ in spans]
    for position, owner in enumerate(owners):
        if owner is not None:
            span_tokens[owner].append(position + len(prefix))
    return SpanEncoding(prefix + ids, span_tokens, len(prefix), text, [None] * len(prefix) + owners)
