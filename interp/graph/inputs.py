"""Tokenised batches that remember where each example's real tokens are.

Positions in interp always count *real* tokens of one example (0 = its first real token,
-1 = its last), whatever the padding side; :class:`Batch` turns them into absolute indices.

>>> import torch
>>> batch = Batch(input_ids=torch.tensor([[0, 5, 6], [7, 8, 9]]),
...               attention_mask=torch.tensor([[0, 1, 1], [1, 1, 1]]))
>>> batch.offsets.tolist(), batch.lengths.tolist()
([1, 0], [2, 3])
>>> batch.last_index.tolist()
[2, 2]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from interp.errors import InputError


@dataclass
class Batch:
    """Token ids ``[batch, pos]`` with their attention mask and the texts they came from."""

    input_ids: Tensor
    attention_mask: Tensor
    texts: list[str] | None = None
    offsets: Tensor = field(init=False)  # [batch] number of left-padding tokens
    lengths: Tensor = field(init=False)  # [batch] number of real tokens

    def __post_init__(self) -> None:
        if self.input_ids.ndim != 2:
            raise InputError(f"input_ids must be [batch, pos]; got shape {tuple(self.input_ids.shape)}")
        if self.attention_mask.shape != self.input_ids.shape:
            raise InputError(
                f"attention_mask shape {tuple(self.attention_mask.shape)} does not match "
                f"input_ids shape {tuple(self.input_ids.shape)}"
            )
        mask = self.attention_mask.bool()
        self.lengths = mask.sum(-1)
        if (self.lengths == 0).any():
            empty = (self.lengths == 0).nonzero().flatten().tolist()
            raise InputError(f"examples {empty} have no tokens")
        self.offsets = mask.int().argmax(-1)  # index of the first real token
        real_span = torch.arange(mask.shape[1]) - self.offsets[:, None]
        contiguous = ((real_span >= 0) & (real_span < self.lengths[:, None])) == mask.cpu()
        if not contiguous.all():
            raise InputError("attention_mask must mark one contiguous run of real tokens per example")

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    @property
    def width(self) -> int:
        return self.input_ids.shape[1]

    @property
    def last_index(self) -> Tensor:
        """[batch] absolute index of each example's last real token."""
        return self.offsets + self.lengths - 1

    @property
    def left_padded(self) -> bool:
        return bool((self.offsets > 0).any())

    def position_ids(self) -> Tensor | None:
        """[batch, pos] positions counted from each example's first real token, for left padding."""
        if not self.left_padded:
            return None
        return (torch.arange(self.width)[None, :] - self.offsets[:, None]).clamp(min=0)

    def model_kwargs(self, device: torch.device | str) -> dict[str, Tensor]:
        kwargs = {
            "input_ids": self.input_ids.to(device),
            "attention_mask": self.attention_mask.to(device),
        }
        if (position_ids := self.position_ids()) is not None:
            kwargs["position_ids"] = position_ids.to(device)
        return kwargs

    def __len__(self) -> int:
        return self.size


Inputs = str | Sequence[str] | Tensor | Mapping[str, Tensor] | Batch


def check_fits(batch: Batch, config, new_tokens: int = 0) -> Batch:
    """Raise :class:`InputError` unless ``batch`` (plus ``new_tokens`` to generate) fits the model's context
    and every token id is in its vocabulary; checked before any forward pass.

    >>> from types import SimpleNamespace
    >>> config = SimpleNamespace(max_position_embeddings=4, vocab_size=10)
    >>> check_fits(Batch(torch.tensor([[1, 2, 3, 4, 5]]), torch.ones(1, 5, dtype=torch.long)), config)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    interp.errors.InputError: the inputs are 5 tokens long (example 0), but the model's context holds 4 ...
    """
    context = getattr(config, "max_position_embeddings", None)
    if isinstance(context, int) and batch.width + new_tokens > context:
        longest = int(batch.lengths.argmax())
        grown = f" + {new_tokens} new tokens" if new_tokens else ""
        raise InputError(
            f"the inputs are {batch.width} tokens long{grown} (example {longest}), but the model's context holds "
            f"{context} (max_position_embeddings); shorten them"
        )
    vocab = getattr(config, "vocab_size", None)
    if isinstance(vocab, int) and batch.input_ids.numel():
        real = batch.input_ids[batch.attention_mask.bool()]
        bad = real[(real < 0) | (real >= vocab)]
        if bad.numel():
            raise InputError(f"token ids {sorted(set(bad.tolist()))[:5]} are outside the vocabulary "
                             f"(0..{vocab - 1})")
    return batch


def tokenize(tokenizer, inputs: Inputs, padding_side: str = "right") -> Batch:
    """Turn text(s), token ids, a tokenizer output or a :class:`Batch` into a :class:`Batch`."""
    if isinstance(inputs, Batch):
        return inputs
    if isinstance(inputs, Tensor):
        ids = inputs[None] if inputs.ndim == 1 else inputs
        return Batch(ids, torch.ones_like(ids))
    if isinstance(inputs, Mapping):
        ids = inputs["input_ids"]
        return Batch(ids, inputs.get("attention_mask", torch.ones_like(ids)))
    if not isinstance(inputs, Iterable) or isinstance(inputs, bytes):
        shown = repr(inputs)
        raise InputError("inputs must be a string, a non-empty list of strings, token ids (a tensor), a dict with "
                         f"input_ids or a Batch; got {type(inputs).__name__} {shown[:60]}")
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InputError("inputs must be a string, a non-empty list of strings, token ids or a Batch")
    if tokenizer is None:
        raise InputError("this model was wrapped without a tokenizer: pass token ids, not text")
    if padding_side not in ("left", "right"):
        raise InputError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    if any(len(e) == 0 for e in encoded):
        raise InputError(f"inputs {[t for t, e in zip(texts, encoded) if not e]!r} tokenise to no tokens")
    width = max(len(e) for e in encoded)
    ids = torch.full((len(texts), width), pad_id if pad_id is not None else 0, dtype=torch.long)
    mask = torch.zeros((len(texts), width), dtype=torch.long)
    for row, tokens in enumerate(encoded):
        span = slice(width - len(tokens), width) if padding_side == "left" else slice(0, len(tokens))
        ids[row, span] = torch.tensor(tokens)
        mask[row, span] = 1
    return Batch(ids, mask, texts=texts)
