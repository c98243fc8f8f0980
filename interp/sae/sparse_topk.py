"""The sparse products of TopK training, for a stack of ``n`` SAEs: each token touches ``k`` of the
``d_sae`` features, so after the one dense encoder product that picks them, everything else costs
``batch * k * d_in`` instead of ``batch * d_sae * d_in`` (Gao et al. 2024):

- :func:`chosen_pre_activations` returns the ``k`` chosen pre-activations and, in backward, gives
  ``W_enc``, ``b_enc`` and the input their gradients through those ``k`` entries only (one sparse
  matrix product for ``W_enc``, one gather-sum for the input), never a dense ``[batch, d_sae]``
  gradient;
- :func:`decode_rows` sums the ``k`` chosen decoder rows of each token (``embedding_bag``).

Both equal the dense computation up to float rounding:

>>> import torch
>>> n, batch, d_in, d_sae, k = 2, 8, 4, 16, 3
>>> x = torch.randn(n, batch, d_in, requires_grad=True)
>>> W_enc = torch.randn(n, d_in, d_sae, requires_grad=True)
>>> b_enc = torch.randn(n, d_sae, requires_grad=True)
>>> pre = torch.baddbmm(b_enc[:, None, :], x, W_enc)                          # dense, with autograd
>>> index = pre.detach().topk(k, dim=-1).indices
>>> sparse = chosen_pre_activations(x, W_enc, b_enc, pre.detach(), index)
>>> torch.equal(sparse, pre.gather(-1, index))
True
>>> weights = torch.randn(n, batch, k)
>>> dense_grads = torch.autograd.grad((pre.gather(-1, index) * weights).sum(), (x, W_enc, b_enc))
>>> sparse_grads = torch.autograd.grad((sparse * weights).sum(), (x, W_enc, b_enc))
>>> all(torch.allclose(a, b, atol=1e-5) for a, b in zip(dense_grads, sparse_grads))
True
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import embedding_bag


def _flat(index: Tensor, d_sae: int) -> Tensor:
    """``[n, batch, k]`` feature indices -> rows of the stack's ``[n * d_sae, ...]`` tables."""
    return index + (torch.arange(index.shape[0], device=index.device) * d_sae)[:, None, None]


def decode_rows(index: Tensor, values: Tensor, W_dec: Tensor) -> Tensor:
    """``sum_j values[..., j] * W_dec[i, index[i, b, j]]``: ``[n, batch, d_in]`` (no bias).

    ``index``, ``values``: ``[n, batch, k]``; ``W_dec``: ``[n, d_sae, d_in]``."""
    n, batch, k = index.shape
    rows = embedding_bag(_flat(index, W_dec.shape[1]).reshape(-1, k), W_dec.reshape(-1, W_dec.shape[-1]),
                         per_sample_weights=values.reshape(-1, k), mode="sum")
    return rows.reshape(n, batch, -1)


class _ChosenPre(torch.autograd.Function):
    """Forward: the given dense pre-activations at ``index``; backward: sparse gradients."""

    @staticmethod
    def forward(ctx, x: Tensor, W_enc: Tensor, b_enc: Tensor, pre: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(x, W_enc, index)
        return pre.gather(-1, index)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, W_enc, index = ctx.saved_tensors
        n, batch, k = index.shape
        d_in, d_sae = W_enc.shape[1:]
        flat = _flat(index, d_sae)
        grad_x = grad_W = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = decode_rows(index, grad, W_enc.transpose(1, 2).contiguous())
        if ctx.needs_input_grad[1]:
            tokens = torch.arange(n * batch, device=x.device).repeat_interleave(k)
            g_t = torch.sparse_coo_tensor(torch.stack([flat.reshape(-1), tokens]), grad.reshape(-1),
                                          (n * d_sae, n * batch), check_invariants=False)
            grad_W = torch.sparse.mm(g_t, x.reshape(n * batch, d_in)).view(n, d_sae, d_in).transpose(1, 2)
        if ctx.needs_input_grad[2]:
            grad_b = torch.zeros(n * d_sae, dtype=grad.dtype, device=grad.device)
            grad_b = grad_b.index_add_(0, flat.reshape(-1), grad.reshape(-1)).view(n, d_sae)
        return grad_x, grad_W, grad_b, None, None


def chosen_pre_activations(x: Tensor, W_enc: Tensor, b_enc: Tensor, pre: Tensor, index: Tensor) -> Tensor:
    """``pre.gather(-1, index)``, differentiable in ``x``, ``W_enc`` and ``b_enc`` as if ``pre`` were
    ``x @ W_enc + b_enc`` (which the caller computed without autograd, to choose ``index``), with
    gradients through the chosen entries only.

    ``x``: ``[n, batch, d_in]``; ``W_enc``: ``[n, d_in, d_sae]``; ``b_enc``: ``[n, d_sae]``;
    ``pre``: ``[n, batch, d_sae]``; ``index``: ``[n, batch, k]`` -> ``[n, batch, k]``."""
    return _ChosenPre.apply(x, W_enc, b_enc, pre, index)
