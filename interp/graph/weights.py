"""Weights by canonical name, for every family with a layout: ``hm.W_E``, ``hm.W_U``, ``hm.W_Q(L)``,
``hm.W_K(L)``, ``hm.W_V(L)``, ``hm.W_O(L)`` (with their biases ``b_*``) and ``hm.final_norm``.

Shapes follow TransformerLens: ``W_E`` ``[vocab, d_model]``, ``W_U`` ``[d_model, vocab]``, ``W_Q``
``[head, d_model, d_head]``, ``W_K``/``W_V`` ``[kv_head, d_model, d_head]`` (one per key/value head under
grouped-query attention; ``expand=True`` repeats them per query head, as attention uses them), ``W_O``
``[head, d_head, d_model]``. Each is a view of the model's own parameter, detached (no gradient):
read it, do not write into it (an in-place write would change the model). Fused QKV projections are
sliced the way the ``q``/``k``/``v`` sites are, so ``v.L == resid @ W_V(L) + b_V(L)`` before any norm
inside the attention.

>>> import interp, torch
>>> hm = interp.models.tiny("gpt2")
>>> hm.W_E.shape, hm.W_U.shape, hm.W_O(0).shape, hm.W_V(0).shape
(torch.Size([384, 64]), torch.Size([64, 384]), torch.Size([4, 16, 64]), torch.Size([4, 64, 16]))
>>> out = hm.run("The keys", cache=["v.1", "z.1", "head_out.1"])
>>> torch.allclose(out.cache["head_out.1"], torch.einsum("bphd,hde->bphe", out.cache["z.1"], hm.W_O(1)), atol=1e-6)
True
>>> type(hm.final_norm).__name__
'LayerNorm'
"""

from __future__ import annotations

from torch import Tensor, nn

from interp.errors import SiteError
from interp.graph.adapters.head_out import head_blocks, in_out_weight
from interp.graph.positions import integer_index


def _no_layout(hm, what: str) -> SiteError:
    return SiteError(f"{hm.family} has no adapter, so interp does not know its {what}; read it from hm.model")


def unembed_module(hm) -> nn.Module:
    """The unembedding (``lm_head``): the model's output embedding, else the layout's ``unembed`` path."""
    module = getattr(hm.model, "get_output_embeddings", lambda: None)()
    if module is None and hm.layout is not None:
        try:
            module = hm.model.get_submodule(hm.layout.unembed)
        except AttributeError:
            module = None
    if module is None or getattr(module, "weight", None) is None:
        raise SiteError(f"{hm.name} has no unembedding (a language-model head with a [vocab, d_model] weight)")
    return module


def embed_module(hm) -> nn.Module:
    """The token embedding."""
    module = getattr(hm.model, "get_input_embeddings", lambda: None)()
    if module is None and hm.layout is not None:
        module = hm.model.get_submodule(hm.layout.embed)
    if module is None:
        raise _no_layout(hm, "token embedding")
    return module


def _projection(hm, kind: str, layer: int) -> tuple[Tensor, Tensor | None]:
    """``[d_model, heads, d_head]`` weight and ``[heads, d_head]`` bias of the ``q``/``k``/``v`` projection."""
    if hm.layout is None:
        raise _no_layout(hm, f"W_{kind.upper()}")
    binding = hm.binding(f"{kind}.{integer_index(layer, 'a layer')}")
    weight = binding.read(in_out_weight(binding.module).detach(), {})  # the site's reader on [d_model, width]
    bias = getattr(binding.module, "bias", None)
    return weight, None if bias is None else binding.read(bias.detach()[None], {})[0]


class WeightMethods:
    """Canonical weights as :class:`~interp.graph.hooked_model.HookedModel` attributes (see the module doc)."""

    @property
    def W_E(self) -> Tensor:
        """Token embedding ``[vocab, d_model]``."""
        return embed_module(self).weight.detach()

    @property
    def W_U(self) -> Tensor:
        """Unembedding ``[d_model, vocab]`` (before any soft-cap or logit scale of the head)."""
        return unembed_module(self).weight.detach().T

    @property
    def b_U(self) -> Tensor | None:
        """Unembedding bias ``[vocab]``, or None."""
        bias = getattr(unembed_module(self), "bias", None)
        return None if bias is None else bias.detach()

    @property
    def final_norm(self) -> nn.Module:
        """The norm before the unembedding (``ln_f``, ``model.norm``)."""
        if self.layout is None or self.layout.final_norm is None:
            raise _no_layout(self, "final norm")
        return self.model.get_submodule(self.layout.final_norm)

    def W_Q(self, layer: int) -> Tensor:
        """Query weights ``[head, d_model, d_head]`` of ``layer``."""
        return _projection(self, "q", layer)[0].permute(1, 0, 2)

    def W_K(self, layer: int, *, expand: bool = False) -> Tensor:
        """Key weights ``[kv_head, d_model, d_head]`` (``expand=True``: ``[head, ...]``, shared per group)."""
        return self._per_head(_projection(self, "k", layer)[0].permute(1, 0, 2), expand)

    def W_V(self, layer: int, *, expand: bool = False) -> Tensor:
        """Value weights ``[kv_head, d_model, d_head]`` (``expand=True``: ``[head, ...]``, shared per group)."""
        return self._per_head(_projection(self, "v", layer)[0].permute(1, 0, 2), expand)

    def b_V(self, layer: int) -> Tensor | None:
        """Value bias ``[kv_head, d_head]``, or None."""
        return _projection(self, "v", layer)[1]

    def W_O(self, layer: int) -> Tensor:
        """Output projection per head ``[head, d_head, d_model]``: ``head_out.L == z.L @ W_O(L)`` per head."""
        if self.layout is None:
            raise _no_layout(self, "W_O")
        return head_blocks(self.binding(f"z.{integer_index(layer, 'a layer')}").module, self.n_heads,
                           self.d_head).detach()

    def b_O(self, layer: int) -> Tensor | None:
        """Output projection bias ``[d_model]``, or None."""
        if self.layout is None:
            raise _no_layout(self, "b_O")
        bias = getattr(self.binding(f"z.{integer_index(layer, 'a layer')}").module, "bias", None)
        return None if bias is None else bias.detach()

    def _per_head(self, weight: Tensor, expand: bool) -> Tensor:
        if not expand or weight.shape[0] == self.n_heads:
            return weight
        return weight.repeat_interleave(self.n_heads // weight.shape[0], dim=0)


__all__ = ["WeightMethods", "embed_module", "unembed_module"]
