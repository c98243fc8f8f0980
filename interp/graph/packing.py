"""Packed suffix forwards: many copies of base examples, each resumed from its own token, in one
short sequence.

A change written at token ``s`` of layer ``L`` cannot change layers below ``L`` nor tokens
before ``s``. So a row ``(example e, start s)`` only needs tokens ``s..last`` recomputed from layer
``L`` on; the base run's ``resid_pre.L`` feeds them in and its keys/values serve the tokens before
``s``. Rows of different lengths are packed end to end into **one** sequence (no padding), each
attending only to its own example's cached prefix and to its own earlier tokens (a block-causal
mask), and only each row's last token is unembedded. The forward goes through the model's public
arguments (:func:`interp.graph.resume.resumed_logits`); DAS training and scoring
(:mod:`interp.methods`) run on it.

>>> import interp, torch
>>> from interp.graph.packing import Packing, base_state, packed_last_logits
>>> hm = interp.models.tiny("llama")
>>> batch = hm.tokenize(["The key to the cabinets", "The dogs near the house"])
>>> state = base_state(hm, batch, layer=1)
>>> packing = Packing(batch, examples=torch.tensor([0, 1, 0]), starts=torch.tensor([1, 2, 4]))
>>> batch.lengths.tolist()
[7, 7]
>>> packing.tokens, packing.past   # 6 + 5 + 3 tokens recomputed; cached once: 4 of example 0, 2 of example 1
(14, 6)
>>> logits = packed_last_logits(hm, state, packing, [])          # no intervention: the plain run's
>>> torch.allclose(logits, hm.run(batch).last_logits[[0, 1, 0]], atol=1e-5)
True
>>> early = Packing(batch, examples=torch.tensor([0, 1]), starts=torch.tensor([1, 2]))
>>> short = base_state(hm, batch, layer=1, prefix=2)      # the keys/values of tokens 0, 1 suffice here
>>> short.keys[1].shape[2], short.resid.shape[1]
(2, 7)
>>> torch.allclose(packed_last_logits(hm, short, early, []), hm.run(batch).last_logits, atol=1e-5)
True

Interventions are plain handlers (``site`` + ``__call__(act, ctx)``) on the packed activations
``[1, tokens, ...]``; row ``r``'s start token is ``act[0, packing.first[r]]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp.graph.head_columns import column_head
from interp.graph.inputs import Batch
from interp.graph.locking import model_lock
from interp.graph.resume import key_values_of, resumed_logits


@dataclass
class BaseState:
    """What the frozen base run leaves for the packed forwards of layer ``layer``."""

    batch: Batch
    layer: int
    resid: Tensor  # [n, T, d] resid_pre.layer
    keys: list[Tensor]  # per model layer [n, kv_heads, T, d_head]
    values: list[Tensor]


def base_state(hm, batch: Batch, layer: int, prefix: int | None = None) -> BaseState:
    """The plain base run's ``resid_pre.layer`` and every layer's keys/values (no unembedding).

    ``prefix``: keys/values are needed only for tokens before this absolute index (the latest row
    start; default: every token). When that saves work and the batch is right-padded, the base
    runs up to ``layer`` on every token and through all layers on the first ``prefix`` tokens only.
    """
    site = f"resid_pre.{layer}"
    width = batch.width if prefix is None else max(1, min(int(prefix), batch.width))
    if not batch.left_padded and width * hm.n_layers + batch.width * layer < batch.width * hm.n_layers:
        resid = hm.run(batch, cache=[site], logits=False).cache[site]
        keys, values = _keys_values(hm, Batch(batch.input_ids[:, :width], batch.attention_mask[:, :width]))
        return BaseState(batch, layer, resid, keys, values)
    store: dict[str, Tensor] = {}

    def keep(act: Tensor, ctx) -> None:
        store[site] = act.detach()

    with hm.hooks({site: keep}, batch=batch):
        keys, values = _keys_values(hm, batch)
    return BaseState(batch, layer, store[site], keys, values)


def base_states(hm, batch: Batch, layers: list[int], prefix: int | None = None) -> dict[int, BaseState]:
    """:func:`base_state` for several layers from one plain base run: every ``resid_pre.L`` cached in
    one forward, the keys/values (the same for every layer) computed once and shared."""
    layers = sorted(set(int(layer) for layer in layers))
    width = batch.width if prefix is None else max(1, min(int(prefix), batch.width))
    sites = [f"resid_pre.{layer}" for layer in layers]
    resid = hm.run(batch, cache=sites, logits=False).cache
    keys, values = _keys_values(hm, Batch(batch.input_ids[:, :width], batch.attention_mask[:, :width])
                                if not batch.left_padded else batch)
    return {layer: BaseState(batch, layer, resid[site], keys, values) for layer, site in zip(layers, sites)}


def _keys_values(hm, batch: Batch) -> tuple[list[Tensor], list[Tensor]]:
    """Every layer's keys and values ``[n, kv_heads, T, d_head]`` of a plain run (the decoder only, no
    unembedding), under the model's lock: no other thread's hooks or edits take part."""
    with model_lock(hm.model), torch.no_grad():
        output = hm.model.base_model(**batch.model_kwargs(hm.device), use_cache=True)
    key_values = key_values_of(output)
    return [keys for keys, _ in key_values], [values for _, values in key_values]


class Packing:
    """The layout of rows ``(examples[r], starts[r])`` of ``batch`` packed into one sequence.

    ``starts`` are absolute token indices (padding counted). Row ``r`` occupies packed tokens
    ``first[r] .. last[r]``; the cached prefix of every example used comes once (as long as its rows
    need), however many of its rows the pack holds, each row attending to its own start's prefix.
    """

    def __init__(self, batch: Batch, examples: Tensor, starts: Tensor):
        examples, starts = examples.long().cpu(), starts.long().cpu()
        ends = batch.last_index[examples]  # [R] absolute index of each row's last real token
        lengths = ends - starts + 1
        self.rows = len(examples)
        self.last = lengths.cumsum(0) - 1  # [R] packed index of each row's last token
        self.first = self.last - lengths + 1  # [R] packed index of each row's start token
        row_of = torch.repeat_interleave(torch.arange(self.rows), lengths)  # [Q]
        self.example = examples[row_of]  # [Q]
        self.index = starts[row_of] + torch.arange(len(row_of)) - self.first[row_of]  # [Q] absolute token index
        prefix = starts - batch.offsets[examples]  # [R] cached tokens each row attends to
        # the cached tokens: each example's first ones, as many as its rows need, once for all its rows
        used, group = torch.unique(examples, return_inverse=True)  # [E], [R]
        need = torch.zeros(len(used), dtype=torch.long).scatter_reduce(0, group, prefix, "amax")  # [E]
        past_group = torch.repeat_interleave(torch.arange(len(used)), need)  # [K]
        within = torch.arange(len(past_group)) - (need.cumsum(0) - need)[past_group]  # [K] 0 .. need - 1
        self.past_example = used[past_group]
        self.past_index = batch.offsets[self.past_example] + within
        self.position_ids = (self.index - batch.offsets[self.example])[None]  # [1, Q]
        own_prefix = (past_group[None] == group[row_of][:, None]) & (within[None] < prefix[row_of][:, None])
        allowed = torch.cat([own_prefix,  # [Q, K + Q]
                             (row_of[None] == row_of[:, None]) & (self.index[None] <= self.index[:, None])], 1)
        self.allowed = allowed

    @property
    def tokens(self) -> int:
        return len(self.example)

    @property
    def past(self) -> int:
        return len(self.past_example)

    def mask(self, dtype: torch.dtype, device) -> Tensor:
        """``[1, 1, Q, K + Q]`` additive attention mask (0 where allowed)."""
        blocked = torch.finfo(dtype).min
        return torch.zeros(self.allowed.shape, dtype=dtype).masked_fill(~self.allowed, blocked)[None, None].to(device)


def token_chunks(lengths: Tensor, max_tokens: int = 256) -> list[Tensor]:
    """Consecutive groups of rows whose ``lengths`` (tokens each) sum to at most ``max_tokens`` (a
    row longer than that gets a group of its own): the packed mask and attention grow with the
    square of a pack's tokens and its cached prefixes, while the layers' products are already
    efficient at a few hundred tokens (CausalGym scoring on SmolLM2, one thread, each example's prefix
    cached once a pack: 256 tokens a pack is the fastest; 128 took 24 % more time, 512 10 % more).

    >>> [g.tolist() for g in token_chunks(torch.tensor([3, 4, 2, 5, 1]), max_tokens=7)]
    [[0, 1], [2, 3], [4]]
    """
    groups, current, used = [], [], 0
    for row, length in enumerate(lengths.tolist()):
        if current and used + length > max_tokens:
            groups.append(torch.tensor(current))
            current, used = [], 0
        current.append(row)
        used += length
    if current:
        groups.append(torch.tensor(current))
    return groups


def packed_last_logits(hm, state: BaseState, packing: Packing, interventions: list, *, grad: bool = False,
                       columns: Tensor | None = None) -> Tensor:
    """``[R, vocab]`` logits at each packed row's last token, resumed at ``resid_pre.{state.layer}``.

    ``interventions``: objects with ``.site`` and ``__call__(act, ctx)``, called on the packed
    activations ``[1, tokens, ...]``; ``grad``: build an autograd graph (e.g. to train them);
    ``columns`` ``[R, J]`` token ids: ``[R, J]`` those logits of each row only (the unembedding computes no
    others when the model's output embedding is a plain linear layer; else they are read off the full logits)."""
    device = hm.device
    example, index = packing.example.to(state.resid.device), packing.index.to(state.resid.device)
    begin = state.resid[example, index][None]  # [1, Q, d]
    cache = None
    if packing.past:
        pe, pi = packing.past_example.to(device), packing.past_index.to(device)
        cache = [(k[pe, :, pi].transpose(0, 1)[None], v[pe, :, pi].transpose(0, 1)[None])
                 for k, v in zip(state.keys, state.values)]
    ids = state.batch.input_ids[packing.example, packing.index][None]  # [1, Q]
    hooks: dict[str, list] = {}
    for edit in interventions:
        hooks.setdefault(edit.site, []).append(edit)
    narrow = columns is not None and column_head(hm) is not None
    logits = resumed_logits(hm, (f"resid_pre.{state.layer}", begin), input_ids=ids,
                            attention_mask=packing.mask(state.resid.dtype, device), position_ids=packing.position_ids,
                            logits_to_keep=packing.last, key_values=cache, hooks=hooks, grad=grad,
                            columns=columns if narrow else None)[0]
    return logits if columns is None or narrow else logits.gather(1, columns.to(logits.device))


__all__ = ["BaseState", "Packing", "base_state", "base_states", "packed_last_logits", "token_chunks"]
