"""Several same-shaped SAEs as one module: every parameter has a leading SAE dimension, so a training
step is a handful of batched matrix products (``torch.baddbmm``) for all of them, no Python loop over
SAEs or features.

>>> import torch
>>> from interp.sae.train_config import SAESpec
>>> specs = [SAESpec("resid_post.0", 128, "topk", k=4), SAESpec("resid_post.1", 128, "topk", k=4)]
>>> stack = SAEStack(specs, d_in=16, generator=torch.Generator().manual_seed(0))
>>> out = stack.losses(torch.randn(2, 32, 16), sparsity_factor=1.0, dead=torch.zeros(2, 128, dtype=torch.bool))
>>> out["loss"].shape, out["l0"].tolist()                              # per SAE
(torch.Size([2]), [4.0, 4.0])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from interp.sae.kinds import activate, topk_activate
from interp.sae.model import SAE, SAEConfig
from interp.sae.sparse_topk import chosen_pre_activations, decode_rows
from interp.sae.train_config import SAESpec


class _Step(torch.autograd.Function):
    """Heaviside ``pre > t``; the threshold's pseudo-derivative ``-1/bandwidth * K((pre - t)/bandwidth)``."""

    @staticmethod
    def forward(ctx, pre: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, threshold = ctx.saved_tensors
        window = ((pre - threshold).abs() < ctx.bandwidth / 2).to(grad.dtype)
        return None, (-window * grad / ctx.bandwidth).sum_to_size(threshold.shape), None


class SAEStack(nn.Module):
    """``n`` SAEs of one :attr:`SAESpec.stack_key`: ``W_enc [n, d_in, d_sae]`` (a view of the parameter
    ``W_enc_rows [n, d_sae, d_in]``, so that the sparse TopK gradients, a sum of rows, need no
    transposed copy), ``b_enc [n, d_sae]``, ``W_dec [n, d_sae, d_in]``, ``b_dec [n, d_in]``,
    ``log_threshold [n, d_sae]`` (jumprelu)."""

    def __init__(self, specs: list[SAESpec], d_in: int, generator: torch.Generator):
        super().__init__()
        self.specs, self.spec = specs, specs[0]
        n, d_sae = len(specs), self.spec.d_sae
        W_dec = torch.randn(n, d_sae, d_in, generator=generator)
        W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True)
        self.W_enc_rows = nn.Parameter(W_dec.clone())
        self.b_enc = nn.Parameter(torch.zeros(n, d_sae))
        self.W_dec = nn.Parameter(W_dec)
        self.b_dec = nn.Parameter(torch.zeros(n, d_in))
        if self.spec.kind == "jumprelu":
            start = math.log(self.spec.initial_threshold)
            self.log_threshold = nn.Parameter(torch.full((n, d_sae), start))

    @property
    def W_enc(self) -> Tensor:
        """``[n, d_in, d_sae]``."""
        return self.W_enc_rows.transpose(1, 2)

    def encode_pre(self, x: Tensor) -> Tensor:
        """``[n, batch, d_in] -> [n, batch, d_sae]`` pre-activations."""
        return torch.baddbmm(self.b_enc[:, None, :], x - self.b_dec[:, None, :], self.W_enc)

    def _topk_losses(self, x: Tensor, dead: Tensor) -> dict[str, Tensor]:
        """TopK through the sparse products of :mod:`interp.sae.sparse_topk`: one dense encoder product
        (without autograd) picks ``k`` features per token; only those are decoded and differentiated."""
        spec, n = self.spec, x.shape[0]
        x_centered = x - self.b_dec[:, None, :]
        with torch.no_grad():
            pre_dense = torch.baddbmm(self.b_enc[:, None, :], x_centered, self.W_enc)          # [n, batch, d_sae]
        index = pre_dense.topk(spec.k, dim=-1, sorted=False).indices                          # [n, batch, k]
        values = chosen_pre_activations(x_centered, self.W_enc, self.b_enc, pre_dense, index).relu()
        recon = decode_rows(index, values, self.W_dec) + self.b_dec[:, None, :]
        error = x - recon
        mse = error.pow(2).sum(-1).mean(-1)
        variance = (x - x.mean(1, keepdim=True)).pow(2).sum(-1).mean(-1)
        loss = mse
        if spec.aux_k and spec.aux_coefficient and bool(dead.any()):
            with torch.no_grad():
                masked = pre_dense.masked_fill(~dead[:, None, :], float("-inf"))
                aux_index = masked.topk(min(spec.aux_k, spec.d_sae), dim=-1, sorted=False).indices
                usable = dead.gather(1, aux_index.flatten(1)).reshape(aux_index.shape)
            aux_pre = chosen_pre_activations(x_centered, self.W_enc, self.b_enc, pre_dense, aux_index)
            aux_recon = decode_rows(aux_index, aux_pre.relu() * usable, self.W_dec)
            aux = (aux_recon - error.detach()).pow(2).sum(-1).mean(-1) / variance.clamp_min(1e-12)
            loss = loss + spec.aux_coefficient * aux * dead.any(-1)
        active = (values > 0).float()
        fired = torch.zeros(n, spec.d_sae).scatter_add_(1, index.flatten(1), active.detach().flatten(1)) > 0
        return {"loss": loss, "mse": mse.detach(), "fvu": (mse / variance.clamp_min(1e-12)).detach(),
                "l0": active.sum(-1).mean(-1).detach(), "fired": fired}

    def losses(self, x: Tensor, *, sparsity_factor: float, dead: Tensor) -> dict[str, Tensor]:
        """Per-SAE ``loss`` (summed over SAEs for backward), ``mse``, ``fvu``, ``l0`` and ``fired [n, d_sae]``
        for inputs ``x [n, batch, d_in]``; ``dead [n, d_sae]`` marks the features the aux loss may use."""
        spec = self.spec
        if spec.kind == "topk":
            return self._topk_losses(x, dead)
        pre = self.encode_pre(x)                                                   # [n, batch, d_sae]
        threshold = self.log_threshold.exp()[:, None, :] if spec.kind == "jumprelu" else None
        f = activate(pre, spec.kind, k=spec.k, threshold=threshold, bandwidth=spec.bandwidth)
        recon = torch.baddbmm(self.b_dec[:, None, :], f, self.W_dec)               # [n, batch, d_in]
        error = x - recon
        mse = error.pow(2).sum(-1).mean(-1)                                         # [n]
        variance = (x - x.mean(1, keepdim=True)).pow(2).sum(-1).mean(-1)            # [n]
        active = f > 0
        loss = mse
        if spec.kind == "relu":
            loss = loss + sparsity_factor * spec.l1_coefficient * f.sum(-1).mean(-1) / x.shape[-1] ** 0.5
        elif spec.kind == "jumprelu":
            l0 = _Step.apply(pre, threshold, spec.bandwidth).sum(-1).mean(-1)
            loss = loss + sparsity_factor * spec.l0_coefficient * l0
        if spec.aux_k and spec.aux_coefficient and bool(dead.any()):
            aux_pre = pre.masked_fill(~dead[:, None, :], float("-inf"))
            aux_f = topk_activate(aux_pre, min(spec.aux_k, spec.d_sae)).nan_to_num(0.0)
            aux_recon = torch.bmm(aux_f, self.W_dec)
            residual = error.detach()
            aux = (aux_recon - residual).pow(2).sum(-1).mean(-1) / variance.clamp_min(1e-12)
            loss = loss + spec.aux_coefficient * aux * dead.any(-1)
        return {"loss": loss, "mse": mse.detach(), "fvu": (mse / variance.clamp_min(1e-12)).detach(),
                "l0": active.sum(-1).float().mean(-1), "fired": active.any(1)}

    @torch.no_grad()
    def before_step(self) -> None:
        """Drop the part of each decoder row's gradient that would only change its norm."""
        if self.W_dec.grad is not None:
            parallel = (self.W_dec.grad * self.W_dec).sum(-1, keepdim=True)
            self.W_dec.grad -= parallel * self.W_dec

    @torch.no_grad()
    def after_step(self) -> None:
        """Decoder rows back to unit norm."""
        self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def to_saes(self, scales: Tensor, model: str | None = None) -> list[SAE]:
        """The trained SAEs, with each input scale ``scales [n]`` folded into the weights, so they read
        and write the model's own activations."""
        saes = []
        for i, spec in enumerate(self.specs):
            config = SAEConfig(self.W_enc.shape[1], spec.d_sae, spec.kind, spec.k, spec.site, model,
                               extra={"training": spec.to_dict(), "input_scale": float(scales[i])})
            c = scales[i]
            tensors = {"W_enc": self.W_enc[i] * c, "b_enc": self.b_enc[i], "W_dec": self.W_dec[i] / c,
                       "b_dec": self.b_dec[i] / c}
            if spec.kind == "jumprelu":
                tensors["threshold"] = self.log_threshold[i].exp()
            saes.append(SAE.from_tensors(config, {k: v.detach().clone().contiguous() for k, v in tensors.items()}))
        return saes
