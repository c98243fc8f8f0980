"""``interp.wrap``: put a hook graph over a model you already have.

>>> import torch, interp
>>> hm = interp.wrap(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()))
>>> hm.run(torch.ones(1, 3), cache=["0:output"]).cache["0:output"].shape
torch.Size([1, 3])
"""

from __future__ import annotations

from typing import Any

from torch import nn

from interp.errors import InputError
from interp.graph.hooked_model import HookedModel


def wrap(model: Any, tokenizer: Any = None, *, name: str | None = None) -> HookedModel:
    """Wrap a Hugging Face model, any ``nn.Module``, a TransformerLens model or an nnsight model."""
    if isinstance(model, HookedModel):
        return model
    if not isinstance(model, nn.Module):
        raise InputError(f"interp.wrap needs a torch.nn.Module (or a TransformerLens / nnsight model); got {type(model)}")
    return HookedModel(model, tokenizer, name=name)
