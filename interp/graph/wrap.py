"""``interp.wrap``: put a hook graph over a model you already have.

>>> import torch, interp
>>> hm = interp.wrap(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()))
>>> hm.run(torch.ones(1, 3), cache=["0:output"]).cache["0:output"].shape
torch.Size([1, 3])

What it accepts, and where the sites go:

- a Hugging Face causal LM of a known family: canonical sites through the family's layout;
- any other ``nn.Module``: module-path sites (``"0:output"``, ``"encoder.layer.2:input"``);
- a TransformerLens ``TransformerBridge`` or ``HookedTransformer``: canonical sites on its
  HookPoints (:mod:`interp.graph.adapters.transformer_lens`);
- an nnsight ``LanguageModel`` / ``TransformersModel`` / ``NNsight``: the module it wraps, as
  above (:mod:`interp.graph.adapters.nnsight`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from interp.errors import InputError
from interp.graph.adapters.nnsight import is_nnsight, wrap_nnsight
from interp.graph.adapters.transformer_lens import bridged_hf_model, is_transformer_lens, wrap_transformer_lens
from interp.graph.hooked_model import HookedModel


def wrap(model: Any, tokenizer: Any = None, *, name: str | None = None) -> HookedModel:
    """Wrap a Hugging Face model, any ``nn.Module``, a TransformerLens model or an nnsight model.

    ``tokenizer`` defaults to the one the TransformerLens / nnsight model carries.
    """
    if isinstance(model, HookedModel):
        return model
    if is_nnsight(model):
        return wrap_nnsight(model, tokenizer, name=name)
    if is_transformer_lens(model):
        return wrap_transformer_lens(model, tokenizer, name=name)
    if not isinstance(model, nn.Module):
        raise InputError(
            f"interp.wrap needs a torch.nn.Module (or a TransformerLens / nnsight model); got {type(model)}"
        )
    if bridged_hf_model(model):
        raise InputError(
            f"this {type(model).__name__} was taken over by a TransformerLens TransformerBridge, which "
            "replaced its layers in place: wrap the bridge instead (interp.wrap(bridge)), or a copy of the "
            "model made before the bridge was built"
        )
    return HookedModel(model, tokenizer, name=name)
