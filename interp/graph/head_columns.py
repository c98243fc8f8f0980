"""Some logits of each row instead of the whole vocabulary: a forward whose unembedding computes only the
token ids asked for.

A log-odds or a logit difference reads two logits of each row, while the unembedding of a small model
is most of a short forward's arithmetic (SmolLM2: 49,152 × 576 multiply-adds a row). :func:`only_columns`
makes the model's own output embedding compute ``columns[r]`` for row ``r`` and nothing else; whatever
the model does to its logits afterwards (Gemma 2's soft-cap, Cohere's and Granite's logit scales: all
element by element) applies to those columns as to the full logits, so they equal the full logits'
columns up to float rounding.

>>> import interp, torch
>>> hm = interp.models.tiny("llama")
>>> ids = hm.tokenize(["The key to the cabinets"]).input_ids
>>> full = hm.model(input_ids=ids, logits_to_keep=torch.tensor([3, 6])).logits  # [1, 2, vocab]
>>> columns = torch.tensor([[5, 9], [11, 5]])                   # row 0 (token 3): ids 5 and 9; row 1: 11, 5
>>> with only_columns(hm, columns):
...     some = hm.model(input_ids=ids, logits_to_keep=torch.tensor([3, 6])).logits
>>> some.shape, torch.allclose(some[0], full[0].gather(1, columns), atol=1e-6)
(torch.Size([1, 2, 2]), True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def column_head(hm) -> nn.Linear | None:
    """The model's output embedding when it is a plain ``nn.Linear`` (the only kind :func:`only_columns`
    narrows), else None."""
    head = getattr(hm.model, "get_output_embeddings", lambda: None)()
    return head if isinstance(head, nn.Linear) else None


@contextmanager
def only_columns(hm, columns: Tensor) -> Iterator[None]:
    """While open, the model's output embedding maps hidden states ``[b, R, d]`` to ``[b, R, J]``: row ``r``'s
    logits of token ids ``columns[r]`` (``columns`` ``[R, J]``). The caller holds the model's lock (one
    forward at a time), and gives no hook on the ``logits`` site (it would see the narrowed logits).
    Models whose output embedding is not a plain linear layer are an error (:func:`column_head` says)."""
    head = column_head(hm)
    if head is None:
        raise TypeError(f"{type(hm.model).__name__}'s output embedding is not a plain linear layer")
    hidden: list[Tensor] = []

    def keep_input(module: nn.Linear, args: tuple) -> tuple:
        hidden.append(args[0])
        return (args[0][..., :0, :], *args[1:])  # the full product runs on no rows

    def some_logits(module: nn.Linear, args: tuple, output: Tensor) -> Tensor:
        states = hidden.pop()
        if states.shape[-2] != len(columns):
            raise ValueError(f"{len(columns)} rows of columns for {states.shape[-2]} hidden states")
        index = columns.to(module.weight.device)
        logits = torch.einsum("...rd,rjd->...rj", states, module.weight[index].to(states.dtype))
        return logits if module.bias is None else logits + module.bias[index].to(logits.dtype)

    handles = [head.register_forward_pre_hook(keep_input), head.register_forward_hook(some_logits)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


__all__ = ["column_head", "only_columns"]
