"""Helpers shared by suites and evaluators: label tokens."""

from __future__ import annotations

from interp.errors import InputError


def single_token_id(tokenizer, text: str, *, first_token_ok: bool = False) -> int:
    """The id of ``text`` as one token, or an error that shows how it splits.

    >>> from interp.models import tiny_tokenizer
    >>> tok = tiny_tokenizer()
    >>> single_token_id(tok, " the") == tok(" the", add_special_tokens=False)["input_ids"][0]
    True
    """
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) == 1 or (first_token_ok and ids):
        return ids[0]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    raise InputError(f"label {text!r} is {len(ids)} tokens {pieces}, not one; choose a single-token label")
