"""How a site is read from, and written back into, the value a module hook sees.

A :class:`Binding` ties a site name to one module and one side of it (its input or its output)
plus a pair of functions that turn the raw hook value into the canonical tensor and back. Several
bindings can share a module (``q``, ``k`` and ``v`` all live in GPT-2's fused ``c_attn``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

Reader = Callable[[Tensor, dict], Tensor]
Writer = Callable[[Tensor, Tensor, dict], Tensor]


def _identity_read(raw: Tensor, state: dict) -> Tensor:
    return raw


def _identity_write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
    return new


@dataclass(eq=False)
class Binding:
    """One site: ``read(raw, state)`` gives the canonical tensor, ``write(raw, new, state)`` the new raw.

    ``state`` is a per-forward scratch dict shared by all bindings (``resid_mid`` reads the
    ``resid_pre`` of its layer from it). ``order`` is the execution rank used for early stopping.
    """

    name: str
    module: nn.Module
    io: str  # "input" | "output"
    read: Reader = _identity_read
    write: Writer | None = _identity_write
    element: int = 0  # which tuple element of the output, or which positional argument of the input
    order: int | None = None
    layer: int | None = None
    needs: tuple[str, ...] = ()  # sites whose values ``read``/``write`` take from ``state``

    @property
    def writable(self) -> bool:
        return self.write is not None


def heads(n_heads: int, d_head: int) -> tuple[Reader, Writer]:
    """``[..., n_heads * d_head]`` <-> ``[..., n_heads, d_head]``."""

    def read(raw: Tensor, state: dict) -> Tensor:
        return raw.unflatten(-1, (n_heads, d_head))

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        return new.flatten(-2)

    return read, write


def chunk_of_heads(start: int, stop: int, n_heads: int, d_head: int, per_head: bool) -> tuple[Reader, Writer]:
    """A slice of a fused projection, as heads.

    ``per_head=False``: the slice is ``raw[..., start:stop]`` of ``[q | k | v]`` (GPT-2).
    ``per_head=True``: the raw tensor is ``[..., n_heads, 3 * d_head]`` interleaved per head, and
    the slice is taken inside each head (GPT-NeoX).
    """

    def read(raw: Tensor, state: dict) -> Tensor:
        if per_head:
            return raw.unflatten(-1, (n_heads, -1))[..., start:stop]
        return raw[..., start:stop].unflatten(-1, (n_heads, d_head))

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        if per_head:
            grouped = raw.unflatten(-1, (n_heads, -1))
            parts = [grouped[..., :start], new.to(raw.dtype), grouped[..., stop:]]
            return torch.cat(parts, dim=-1).flatten(-2)
        return torch.cat([raw[..., :start], new.flatten(-2).to(raw.dtype), raw[..., stop:]], dim=-1)

    return read, write


def residual_sum(resid_key: str) -> tuple[Reader, Writer]:
    """A residual-stream value that no module outputs: ``state[resid_key] + raw``.

    Writing ``new`` changes the raw branch output to ``new - state[resid_key]`` so that the model's
    own addition produces ``new`` (up to float rounding).
    """

    def read(raw: Tensor, state: dict) -> Tensor:
        return state[resid_key] + raw

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        return new - state[resid_key]

    return read, write
