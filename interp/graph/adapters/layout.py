"""The data model of a family adapter: :class:`Layout`, one declarative table per model family.

How to add a family
-------------------

1. Read the family's ``modeling_<type>.py`` in transformers: the decoder layer's ``__init__`` (module
   names) and ``forward`` (what is added to the residual stream, and where).
2. Write a file ``interp/graph/adapters/layouts/<family>.py`` holding ``LAYOUTS: dict[str, Layout]``
   keyed by ``config.model_type``. Paths are module paths: ``layers``, ``embed`` and
   ``final_norm`` relative to the *base model* (``model.base_model``: ``LlamaModel`` inside
   ``LlamaForCausalLM``), every other path relative to one decoder layer. Only write what differs
   from the defaults below (the Llama names)::

       LAYOUTS = {"olmo2": Layout(family="OLMo-2", attn_out="post_attention_layernorm",
                                  mlp_out="post_feedforward_layernorm")}

   The package collects every module's ``LAYOUTS`` (:mod:`interp.graph.adapters.layouts`); nothing
   else is registered anywhere.
3. Add the family's tiny config to :mod:`interp.models.tiny_configs`; the parametrised semantic test
   (``tests/graph/test_families.py``) then checks it, and wrapping any model of the family checks
   the table once more (:func:`interp.graph.adapters.verify.verify_layout`): a wrong path or a
   missed quirk is a :class:`~interp.errors.ModelLoadError` naming the identity that failed.

What the fields mean (the canonical site each one defines):

- ``qkv``: three projections whose outputs are ``q``/``k``/``v`` (before any per-head q/k norm
  and before rotary embeddings), or one fused projection with ``qkv_fused`` saying how it is packed
  (a :class:`~interp.graph.adapters.fused_qkv.FusedQKV`, or ``"concat"``, ``"per_head"``,
  ``"grouped"``).
- ``attn_out_proj``: its input is ``z``. ``attn``: the attention module (``pattern`` is its output
  element 1). ``attn_out`` / ``mlp_out``: the module whose output is what the branch *adds* to the
  residual stream; defaults to ``attn`` / ``mlp`` (sandwich norms name the post-norm instead).
- ``residual_multiplier``: a config attribute that scales both branches before the addition
  (Granite); ``attn_out``/``mlp_out`` include it.
- ``mlp_down``: its input is ``mlp_post`` (absent on a layer where the path does not exist, e.g.
  the sparse layers of a mixture of experts).
- ``router``: a :class:`Router`, giving the read-only ``router.L`` site (expert probabilities).
- ``mixer``: state-space models: the module whose output is added to the stream (``mixer_out.L``);
  such a family sets ``attn=None`` and says why in ``no_attention``.
- ``logit_adjustments``: config attributes the causal-LM head applies after the unembedding
  (``logit_scale``, ``logits_scaling``, ``final_logit_softcapping``): when one is set, ``logits``
  is the model's output rather than the unembedding's.
- ``parallel_residual``: ``config -> bool``: attention and MLP both read ``resid_pre`` (no
  ``resid_mid``).
- ``flat_mlp``: the MLP runs on ``[batch * pos, d]`` rows (OPT): ``mlp_post``/``mlp_out`` are
  shaped back to ``[batch, pos, ...]`` (the layer's ``resid_pre`` gives batch and pos).
- ``copied``: site kinds whose module output the model later changes in place (Falcon adds the
  attention's output into the MLP's): they are read, and written, as copies.
- ``unsupported``: ``config -> why or None``: a configuration of the family the table cannot
  describe (OPT-350m's post-norm blocks); such a model wraps with module-path sites only, and the
  warning says why.

``embed`` is always the residual stream entering layer 0 (after any embedding scale or
multiplier), so ``embed == resid_pre.0``.

>>> from interp.graph.adapters import LAYOUTS
>>> LAYOUTS["olmo2"].attn_out, LAYOUTS["llama"].under("model").layers
('post_attention_layernorm', 'model.layers')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from interp.graph.adapters.fused_qkv import FusedQKV


def never(config: Any) -> bool:
    return False


def always(config: Any) -> bool:
    return True


def fits_every_config(config: Any) -> str | None:
    """``Layout.unsupported`` of a table that describes every configuration of its family."""
    return None


@dataclass(frozen=True)
class Dims:
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int

    @classmethod
    def from_config(cls, config) -> Dims:
        """Dimensions under the usual config names (``num_attention_heads`` 0 on attention-free models)."""
        n_heads = getattr(config, "num_attention_heads", None) or 0
        d_model = config.hidden_size
        head_dim = getattr(config, "head_dim", None) or (d_model // n_heads if n_heads else 0)
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        return cls(config.num_hidden_layers, n_heads, n_kv, d_model, head_dim)


@dataclass(frozen=True)
class Router:
    """Where a mixture-of-experts layer computes its router logits, and how they become probabilities.

    ``path``: relative to the layer; ``element``: which output element holds the logits
    ``[batch * pos, n_experts]``; ``probabilities``: ``"softmax"`` or ``"sigmoid"``.
    """

    path: str
    element: int = 0
    probabilities: str = "softmax"


LOGIT_ADJUSTMENTS = ("logit_scale", "logits_scaling", "final_logit_softcapping")


@dataclass(frozen=True)
class Layout:
    """Module paths and quirks of one family (see the module doc: how to add a family)."""

    family: str
    # base-model-relative paths
    layers: str = "layers"
    final_norm: str | None = "norm"
    embed: str = "embed_tokens"
    # top-model-relative: the language-model head (``get_output_embeddings()`` is tried first)
    unembed: str = "lm_head"
    # layer-relative paths
    attn: str | None = "self_attn"
    qkv: tuple[str, ...] = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
    qkv_fused: FusedQKV | str | None = None
    attn_out_proj: str | None = "self_attn.o_proj"
    attn_out: str | None = None
    mlp: str | None = "mlp"
    mlp_down: str | None = "mlp.down_proj"
    mlp_out: str | None = None
    router: Router | None = None
    mixer: str | None = None
    no_attention: str | None = None  # why a family has no attention sites (state-space models)
    # quirks
    parallel_residual: Callable[[Any], bool] = never
    residual_multiplier: str | None = None
    logit_adjustments: tuple[str, ...] = ()
    flat_mlp: bool = False
    copied: tuple[str, ...] = ()
    unsupported: Callable[[Any], str | None] = fits_every_config
    dims: Callable[[Any], Dims] = Dims.from_config
    # where the base model sits in the wrapped model ("" for a base model); set by ``under``
    root: str = field(default="", compare=False)

    def under(self, prefix: str) -> Layout:
        """This layout with the base-model paths seen from a module ``prefix`` levels up.

        >>> Layout("Llama").under("model").final_norm, Layout("Llama").under("").final_norm
        ('model.norm', 'norm')
        """
        if not prefix:
            return self

        def join(path: str | None) -> str | None:
            return None if path is None else f"{prefix}.{path}" if path else prefix

        root = join(self.root) if self.root else prefix
        return replace(self, layers=join(self.layers), final_norm=join(self.final_norm), embed=join(self.embed),
                       root=root)

    @property
    def fused(self) -> FusedQKV | None:
        """The fused-QKV packing, or None for separate projections."""
        return FusedQKV.named(self.qkv_fused)

    def adjusts_logits(self, config: Any) -> bool:
        """Whether the head changes the unembedding's output (so ``logits`` is the model's output)."""
        return any(_active(name, getattr(config, name, None)) for name in self.logit_adjustments)

    def module_paths(self) -> dict[str, str | None]:
        return {"embed": self.embed, "layers": self.layers, "final_norm": self.final_norm, "unembed": self.unembed}


def _active(name: str, value: Any) -> bool:
    if value is None:
        return False
    return value != 1.0 if name in ("logit_scale", "logits_scaling") else bool(value)


def adjust_logits(layout: Layout, config: Any, logits):
    """``logits`` ``[..., vocab]`` from the unembedding, adjusted as the family's head does."""
    for name in layout.logit_adjustments:
        value = getattr(config, name, None)
        if not _active(name, value):
            continue
        if name == "logit_scale":
            logits = logits * value
        elif name == "logits_scaling":
            logits = logits / value
        else:
            logits = torch.tanh(logits / value) * value
    return logits


__all__ = ["LOGIT_ADJUSTMENTS", "Dims", "Layout", "Router", "adjust_logits", "always", "fits_every_config",
           "never"]
