"""Tokens and text: ``hm.to_tokens``, ``hm.to_str_tokens``, ``hm.to_string``, ``hm.to_single_token``.

The BOS policy is the evaluators' (:func:`context_ids`): a text is encoded without special tokens
and the model's beginning-of-sequence context goes in front — what the tokenizer adds itself
(Llama's ``<s>``), else the document separator ``<|endoftext|>`` (GPT-2, Pythia, SmolLM), else the
``bos_token``/``eos_token``. ``bos=None`` adds nothing; a token string or id picks another.

>>> import interp
>>> hm = interp.models.tiny("gpt2")
>>> hm.to_str_tokens("The keys")
['<|endoftext|>', 'The', ' key', 's']
>>> hm.to_tokens("The keys").tolist()
[[0, 265, 375, 84]]
>>> hm.to_str_tokens(["The keys", "A dog"], bos=None)       # a batch: padding shown
[['The', ' key', 's'], ['A', ' dog', '<pad>']]
>>> hm.to_string(hm.to_tokens("The keys", bos=None)[0])
'The keys'
>>> hm.to_single_token(" key")
375

Note that ``hm.run("text")`` tokenises as the tokenizer does on its own (no ``<|endoftext|>`` in
front on GPT-2 style tokenizers); to run with the evaluators' context, run the tokens:
``hm.run(hm.to_tokens(texts, as_batch=True))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError
from interp.graph.inputs import Batch, check_fits

DOCUMENT_SEPARATOR = "<|endoftext|>"
Bos = str | int | list[int] | None  # "auto", a token string, a token id (or ids), None for no context
PADDING_SHOWN = "<pad>"  # how to_str_tokens shows a padding position of a batch


def context_ids(tokenizer, bos: Bos = "auto") -> list[int]:
    """Token ids put before every sentence so that its first word is scored in context.

    ``"auto"``: what the tokenizer itself adds in front (e.g. Llama's ``<s>``); if it adds
    nothing, the document separator ``<|endoftext|>`` when the vocabulary has it (GPT-2, Pythia,
    SmolLM, Qwen: their pretraining puts it between documents, while a chat model's declared
    ``bos_token`` such as ``<|im_start|>`` announces a chat turn), else the ``bos_token``, else
    the ``eos_token``, else none. A string is looked up as one token; ids are used as they are;
    ``None`` adds nothing.
    """
    if bos is None:
        return []
    if isinstance(bos, int):
        return [bos]
    if isinstance(bos, (list, tuple)):
        return [int(i) for i in bos]
    if bos != "auto":
        token_id = tokenizer.convert_tokens_to_ids(bos)
        if token_id is None or (token_id == tokenizer.unk_token_id and bos != tokenizer.unk_token):
            raise InputError(f"BOS token {bos!r} is not in the tokenizer's vocabulary")
        return [token_id]
    added = tokenizer_prefix(tokenizer)
    if added:
        return added
    separator = tokenizer.convert_tokens_to_ids(DOCUMENT_SEPARATOR)
    if separator is not None and tokenizer.convert_ids_to_tokens(separator) != DOCUMENT_SEPARATOR:
        separator = None
    for candidate in (separator, tokenizer.bos_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return [candidate]
    return []


def tokenizer_prefix(tokenizer) -> list[int]:
    """The special tokens the tokenizer adds in front of any text (``[]`` for GPT-2 style)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start])
    return []


def _tokenizer(hm) -> Any:
    if hm.tokenizer is None:
        raise InputError(f"{hm.name} was wrapped without a tokenizer: pass one to interp.wrap(model, tokenizer)")
    return hm.tokenizer


def _texts(text: str | Sequence[str]) -> list[str]:
    texts = [text] if isinstance(text, str) else list(text)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InputError(f"expected a string or a non-empty list of strings, got {type(text).__name__} {text!r:.60}")
    return texts


def token_batch(hm, text: str | Sequence[str], *, bos: Bos = "auto", padding_side: str = "right") -> Batch:
    """``text`` (one or several) as a :class:`Batch`: the BOS context, then each text's tokens, padded."""
    tokenizer = _tokenizer(hm)
    prefix = context_ids(tokenizer, bos)
    rows = [prefix + list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in _texts(text)]
    if any(not row for row in rows):
        raise InputError("an empty text with bos=None has no tokens")
    if padding_side not in ("left", "right"):
        raise InputError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)  # [batch, pos]
    mask = torch.zeros_like(ids)
    for index, row in enumerate(rows):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        ids[index, span], mask[index, span] = torch.tensor(row), 1
    return check_fits(Batch(ids, mask, texts=_texts(text)), hm.config)


def to_tokens(hm, text: str | Sequence[str], *, bos: Bos = "auto", padding_side: str = "right",
              as_batch: bool = False) -> Tensor | Batch:
    """Token ids ``[batch, pos]`` of one text or several (padded with the pad token on ``padding_side``);
    ``as_batch=True``: the :class:`Batch` (ids and attention mask), which ``hm.run`` takes as it is."""
    batch = token_batch(hm, text, bos=bos, padding_side=padding_side)
    return batch if as_batch else batch.input_ids


def _ids(tokens: Any) -> Tensor:
    if isinstance(tokens, Batch):
        return tokens.input_ids
    if isinstance(tokens, int):
        return torch.tensor([tokens])
    ids = torch.as_tensor(tokens)
    if ids.is_floating_point() or ids.ndim > 2:
        raise InputError(f"token ids must be integers shaped [pos] or [batch, pos], got {ids.dtype} {tuple(ids.shape)}")
    return ids


def to_str_tokens(hm, tokens: str | Sequence[str] | Tensor | Batch | Sequence[int], *, bos: Bos = "auto",
                  padding_side: str = "right") -> list[str] | list[list[str]]:
    """Each token as the text it decodes to: a list for one text (or ``[pos]`` ids), a list of lists for
    a batch, whose padding positions show as ``'<pad>'``."""
    tokenizer = _tokenizer(hm)
    if isinstance(tokens, str):
        return _row_strings(tokenizer, token_batch(hm, tokens, bos=bos).input_ids[0], None)
    if isinstance(tokens, (list, tuple)) and tokens and isinstance(tokens[0], str):
        tokens = token_batch(hm, tokens, bos=bos, padding_side=padding_side)
    mask = tokens.attention_mask if isinstance(tokens, Batch) else None
    ids = _ids(tokens)
    if ids.ndim == 1:
        return _row_strings(tokenizer, ids, None)
    return [_row_strings(tokenizer, row, None if mask is None else mask[i]) for i, row in enumerate(ids)]


def _row_strings(tokenizer, ids: Tensor, mask: Tensor | None) -> list[str]:
    return [tokenizer.decode([int(i)]) if mask is None or mask[p] else PADDING_SHOWN for p, i in enumerate(ids)]


def to_string(hm, tokens: Tensor | Sequence[int] | Batch) -> str | list[str]:
    """The text of ``[pos]`` token ids (a list of texts for ``[batch, pos]``; a :class:`Batch` without
    its padding)."""
    tokenizer = _tokenizer(hm)
    ids = _ids(tokens)
    if ids.ndim == 1:
        return tokenizer.decode(ids.tolist())
    mask = tokens.attention_mask.bool() if isinstance(tokens, Batch) else torch.ones_like(ids, dtype=torch.bool)
    return [tokenizer.decode(row[keep].tolist()) for row, keep in zip(ids, mask)]


def to_single_token(hm, text: str) -> int:
    """The id of the one token ``text`` is (no BOS); an :class:`InputError` naming the pieces otherwise.

    >>> import interp
    >>> interp.models.tiny("gpt2").to_single_token(" cabinet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    interp.errors.InputError: ' cabinet' is 2 tokens, not one: ' cabine' + 't'; pick a word that is ...
    """
    tokenizer = _tokenizer(hm)
    if not isinstance(text, str):
        raise InputError(f"to_single_token takes a string, not {type(text).__name__}")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) == 1:
        return int(ids[0])
    if not ids:
        raise InputError(f"{text!r} tokenises to no tokens")
    pieces = [tokenizer.decode([i]) for i in ids]
    raise InputError(f"{text!r} is {len(ids)} tokens, not one: {' + '.join(map(repr, pieces))}; pick a word that is "
                     f"one token (e.g. {pieces[0]!r}) or compare the first tokens of each")


class TokenMethods:
    """The token helpers as :class:`~interp.graph.hooked_model.HookedModel` methods (see the module doc)."""

    def to_tokens(self, text: str | Sequence[str], *, bos: Bos = "auto", padding_side: str = "right",
                  as_batch: bool = False) -> Tensor | Batch:
        """Token ids ``[batch, pos]`` with the evaluators' BOS (:func:`interp.graph.tokens.to_tokens`)."""
        return to_tokens(self, text, bos=bos, padding_side=padding_side, as_batch=as_batch)

    def to_str_tokens(self, tokens: Any, *, bos: Bos = "auto", padding_side: str = "right") -> list:
        """Tokens as strings; a batch: one list per example, padding shown (:func:`to_str_tokens`)."""
        return to_str_tokens(self, tokens, bos=bos, padding_side=padding_side)

    def to_string(self, tokens: Any) -> str | list[str]:
        """Token ids back to text (:func:`interp.graph.tokens.to_string`)."""
        return to_string(self, tokens)

    def to_single_token(self, text: str) -> int:
        """The id of a text that is one token; an error naming its pieces otherwise."""
        return to_single_token(self, text)


__all__ = ["DOCUMENT_SEPARATOR", "PADDING_SHOWN", "Bos", "TokenMethods", "context_ids", "to_single_token",
           "to_str_tokens", "to_string", "to_tokens", "token_batch", "tokenizer_prefix"]
