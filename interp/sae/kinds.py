"""The three SAE activation functions, on one SAE or on a stack of them (a leading SAE dimension).

``pre`` is the encoder's pre-activation ``(x - b_dec) @ W_enc + b_enc``; every function keeps its
shape (``[..., d_sae]``), so the trainer runs a stack ``[n_sae, batch, d_sae]`` through the same code
as one SAE's ``[batch, pos, d_sae]``.

- ``"relu"``: ``relu(pre)`` (trained with an L1 penalty on ``f * ||W_dec row||``);
- ``"topk"``: the ``k`` largest pre-activations of each token, through a ReLU (so L0 is ``k`` unless
  fewer than ``k`` are positive); everything else 0;
- ``"jumprelu"``: ``relu(pre) * (pre > threshold)`` with a per-feature ``threshold [d_sae]``; in
  training its gradient reaches the threshold through a straight-through estimator (rectangle
  kernel of width ``bandwidth``), as in Rajamanoharan et al. 2024.

>>> import torch
>>> pre = torch.tensor([[-1.0, 0.5, 2.0, 3.0]])
>>> activate(pre, "relu")
tensor([[0.0000, 0.5000, 2.0000, 3.0000]])
>>> activate(pre, "topk", k=2)
tensor([[0., 0., 2., 3.]])
>>> activate(pre, "jumprelu", threshold=torch.tensor([0.0, 1.0, 1.0, 1.0]))
tensor([[0., 0., 2., 3.]])
"""

from __future__ import annotations

import torch
from torch import Tensor

KINDS = ("relu", "topk", "jumprelu")


def topk_activate(pre: Tensor, k: int) -> Tensor:
    """``relu`` of the ``k`` largest entries along the last dimension, zeros elsewhere."""
    values, indices = pre.topk(k, dim=-1, sorted=False)
    return torch.zeros_like(pre).scatter_(-1, indices, values.relu())


class _JumpReLU(torch.autograd.Function):
    """Forward ``relu(pre) * (pre > t)``; backward: the true gradient for ``pre`` above the threshold
    and a pseudo-derivative ``-t/bandwidth * K((pre - t)/bandwidth)`` for ``t`` (K: rectangle)."""

    @staticmethod
    def forward(ctx, pre: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return pre.relu() * (pre > threshold)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, threshold = ctx.saved_tensors
        bandwidth = ctx.bandwidth
        grad_pre = grad * ((pre > threshold) & (pre > 0))
        window = ((pre - threshold).abs() < bandwidth / 2).to(grad.dtype)
        grad_threshold = (-(threshold / bandwidth) * window * grad).sum_to_size(threshold.shape)
        return grad_pre, grad_threshold, None


def jumprelu_activate(pre: Tensor, threshold: Tensor, bandwidth: float | None = None) -> Tensor:
    """JumpReLU; with ``bandwidth`` (training) the threshold gets the straight-through gradient.

    ``threshold``: ``[d_sae]``, or ``[n_sae, 1, d_sae]`` for a stack ``pre [n_sae, batch, d_sae]``."""
    if bandwidth is None or not (pre.requires_grad or threshold.requires_grad):
        return pre.relu() * (pre > threshold)
    return _JumpReLU.apply(pre, threshold, bandwidth)


def activate(pre: Tensor, kind: str, *, k: int | None = None, threshold: Tensor | None = None,
             bandwidth: float | None = None) -> Tensor:
    """The feature activations of ``kind`` from pre-activations ``pre [..., d_sae]``."""
    if kind == "relu":
        return pre.relu()
    if kind == "topk":
        return topk_activate(pre, k)
    if kind == "jumprelu":
        return jumprelu_activate(pre, threshold, bandwidth)
    raise ValueError(f"unknown SAE kind {kind!r}; known: {', '.join(KINDS)}")
