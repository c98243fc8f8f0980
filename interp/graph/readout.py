"""The final norm with its scale frozen, and the unembedding: the linear read-out of the residual stream.

The final norm is linear in the residual stream once its scale is *frozen* at the value computed
from the actual final residual (the standard linearisation of direct logit attribution):
``LayerNorm(x) ≈ γ ⊙ (x − mean x) · s + β`` and ``RMSNorm(x) ≈ γ ⊙ x · s`` with ``s`` fixed per token.
So any sum of components of the final residual reads out, through the norm and the unembedding,
as the sum of each component's read-out plus two constants (``β`` and the unembedding bias).
Used by :func:`interp.eval.head_attribution.head_attribution` and the cache decompositions
(:mod:`interp.graph.decomposition`).

>>> import interp, torch
>>> hm = interp.models.tiny("gpt2")
>>> final = hm.run("The keys", cache=["resid_post.1"]).cache["resid_post.1"]     # [batch, pos, d_model]
>>> readout = FrozenReadout(hm)
>>> torch.allclose(readout.normalise(final, final) + readout.beta.float(), hm.final_norm(final), atol=1e-5)
True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from interp.errors import SiteError


def _double(parameter: Tensor) -> Tensor:
    return parameter.detach().double().cpu()


class FrozenReadout:
    """The final norm (frozen scale) and the unembedding, as a direction per prompt."""

    def __init__(self, hm):
        self.norm = hm.model.get_submodule(hm.layout.final_norm)
        unembed = hm.model.get_output_embeddings()
        weight = getattr(unembed, "weight", None)
        if weight is None or weight.ndim != 2:
            raise SiteError(f"the unembedding {type(unembed).__name__} has no [vocab, d_model] weight")
        self.unembed_weight = weight
        self.unembed_bias = getattr(unembed, "bias", None)
        self.centre = isinstance(self.norm, nn.LayerNorm)
        self.gamma = getattr(self.norm, "weight", None)
        self.beta = getattr(self.norm, "bias", None) if self.centre else None
        self.eps = getattr(self.norm, "eps", None) if self.centre else getattr(self.norm, "variance_epsilon", None)
        if self.eps is None:
            raise SiteError(f"final norm {type(self.norm).__name__} is neither a LayerNorm nor an RMSNorm "
                            "(weight, variance_epsilon) that interp knows how to freeze")

    def scale(self, final: Tensor) -> Tensor:
        """The frozen scale ``s`` ``[..., 1]`` of each final residual ``[..., d_model]`` (float64, cpu)."""
        x = final.double().cpu()
        if self.centre:
            x = x - x.mean(-1, keepdim=True)
        scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        gamma = torch.ones(x.shape[-1], dtype=torch.float64) if self.gamma is None else _double(self.gamma)
        self._check(final, x * scale * gamma + (0 if self.beta is None else _double(self.beta)))
        return scale

    def normalise(self, stack: Tensor, final: Tensor) -> Tensor:
        """Components ``[..., batch, pos, d_model]`` of ``final`` ``[batch, pos, d_model]`` through the norm
        with its scale frozen at ``final``'s, without ``β``: ``γ ⊙ P c · s`` (in ``stack``'s dtype and device)."""
        x = stack.double().cpu()
        if self.centre:
            x = x - x.mean(-1, keepdim=True)
        gamma = 1.0 if self.gamma is None else _double(self.gamma)
        return (x * self.scale(final) * gamma).to(stack.dtype).to(stack.device)

    def direction(self, final: Tensor, target: Tensor, baseline: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """``w [batch, d_model]`` with ``contribution(c) = c · w``, and the constants ``{name: [batch]}``
        (``baseline`` None: the target's logit itself)."""
        scale = self.scale(final)  # [batch, 1]
        gamma = torch.ones(final.shape[-1], dtype=torch.float64) if self.gamma is None else _double(self.gamma)
        unembed = self.unembed_weight.detach().double().cpu()
        u = unembed[target] if baseline is None else unembed[target] - unembed[baseline]  # [batch, d_model]
        w = scale * gamma * u
        if self.centre:
            w = w - w.mean(-1, keepdim=True)  # (P c) · v == c · (P v)
        return w, self.constants(u, target, baseline)

    def constants(self, u: Tensor, target: Tensor, baseline: Tensor | None) -> dict[str, Tensor]:
        constants = {}
        if self.beta is not None:
            constants["final_norm_bias"] = u @ self.beta.detach().double().cpu()
        if self.unembed_bias is not None:
            bias = self.unembed_bias.detach().double().cpu()
            constants["unembed_bias"] = bias[target] - (0 if baseline is None else bias[baseline])
        return constants

    def _check(self, final: Tensor, frozen: Tensor) -> None:
        with torch.no_grad():
            actual = self.norm(final).double().cpu()  # in the model's own dtype and device
        if not torch.allclose(actual, frozen, rtol=1e-3, atol=1e-4 * float(actual.abs().max()) + 1e-6):
            raise SiteError(f"final norm {type(self.norm).__name__} does not behave like a LayerNorm/RMSNorm "
                            "(γ ⊙ normalised x + β); its scale cannot be frozen the standard way")


__all__ = ["FrozenReadout"]
