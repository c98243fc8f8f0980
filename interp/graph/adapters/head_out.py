"""The per-head output site ``head_out.L``: each head's ``z`` through its slice of the output projection.

``head_out.L[b, p, h] = z.L[b, p, h] @ W_O[h]`` (``[batch, pos, head, d_model]``), times the residual
multiplier where the family has one (Granite), so that on every family without a sandwich norm

    ``head_out.L.sum(head) == attn_out.L − b_O`` (the projection's bias, times the multiplier)

exactly up to float rounding. On sandwich-norm families (Gemma-2/3, OLMo-2/3, EXAONE-4, GLM-4) the
sum is the projection's output *before* the post-attention norm: ``attn_out.L ==
post_norm(head_out.L.sum(head) + b_O)``, so the identity needs the post-norm.

The site lives on the projection's output and reads ``z.L`` from the run's state. Writing it adds
the change of the heads to the projection's output (``out + Σ_h (new_h − old_h)``): patching one head
changes only that head's contribution, and writing back the value read leaves the run bit for bit.

>>> import interp, torch
>>> hm = interp.models.tiny("llama")
>>> out = hm.run("The keys", cache=["head_out.0", "attn_out.0"])
>>> out.cache["head_out.0"].shape[2:] == (hm.n_heads, hm.d_model)
True
>>> torch.allclose(out.cache["head_out.0"].sum(2), out.cache["attn_out.0"], atol=1e-6)   # no bias in Llama
True
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from interp.errors import SiteError
from interp.graph.adapters.layout import Dims
from interp.graph.bindings import Reader, Writer


def in_out_weight(module: nn.Module) -> Tensor:
    """A linear module's weight as ``[in, out]`` (a view): ``nn.Linear``'s transposed, transformers'
    ``Conv1D`` (GPT-2) as it is."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise SiteError(f"{type(module).__name__} has no weight matrix, so its per-head slices are unknown")
    return weight if type(module).__name__ == "Conv1D" else weight.T


def head_blocks(module: nn.Module, n_heads: int, d_head: int) -> Tensor:
    """The output projection ``module`` as per-head blocks ``[head, d_head, d_model]`` (a view of its weight)."""
    weight = in_out_weight(module)  # [heads * d_head, d_model]
    if weight.shape[0] != n_heads * d_head:
        raise SiteError(f"the attention output projection {type(module).__name__} takes {weight.shape[0]} inputs, "
                        f"not heads × d_head = {n_heads} × {d_head}")
    return weight.unflatten(0, (n_heads, d_head))


def per_head_output(module: nn.Module | Callable[[], Tensor], z: Tensor, factor: float | None = None) -> Tensor:
    """``z`` ``[batch, pos, head, d_head]`` through each head's slice of ``module`` (or of the blocks
    ``[head, d_head, d_model]`` a callable returns): ``[batch, pos, head, d_model]``."""
    blocks = module() if callable(module) and not isinstance(module, nn.Module) else \
        head_blocks(module, z.shape[-2], z.shape[-1])
    heads = (z.unsqueeze(-2) @ blocks.to(z.dtype)).squeeze(-2)  # [batch, pos, head, 1, d_head] @ [head, d_head, d]
    return heads if factor is None else heads * factor


def head_out_accessors(module: nn.Module | Callable[[], Tensor], index: int, dims: Dims,
                       factor: float | None) -> tuple[Reader, Writer]:
    """``(read, write)`` of ``head_out.index`` at a value that adds the heads' outputs (the output
    projection's output, or TransformerLens's ``hook_attn_out``), ``z.index`` in state. ``module``:
    the output projection, or a callable giving its per-head blocks ``W_O`` ``[head, d_head, d_model]``."""
    z_key = f"z.{index}"

    def read(raw: Tensor, state: dict) -> Tensor:  # raw: the projection's output [batch, pos, d_model]
        return per_head_output(module, state[z_key], factor).to(raw.dtype)

    def write(raw: Tensor, new: Tensor, state: dict) -> Tensor:
        change = (new - read(raw, state)).sum(-2)  # [batch, pos, d_model]
        return raw + (change if factor is None else change / factor).to(raw.dtype)

    return read, write


__all__ = ["head_blocks", "head_out_accessors", "in_out_weight", "per_head_output"]
