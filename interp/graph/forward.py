"""How a run calls the model: a Hugging Face causal LM through its own forward (token ids in, logits
out), any other ``nn.Module`` with its inputs as they are.

>>> import interp
>>> hm = interp.models.tiny("gpt2")
>>> is_hf(hm.model), input_device(hm.model)
(True, device(type='cpu'))
>>> logits_of(call_hf(hm.model, hm.tokenize("hello there"))).shape[0]
1
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from interp.graph.inputs import Batch


def is_hf(model: nn.Module) -> bool:
    """Whether ``model`` is a Hugging Face ``PreTrainedModel`` (False when transformers is missing)."""
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, PreTrainedModel)


def input_device(model: nn.Module) -> torch.device:
    """The device a model's token ids must be on: its input embedding's, also when a
    ``device_map`` spread the layers over devices (or offloaded them, leaving ``meta`` weights)."""
    embeddings = getattr(model, "get_input_embeddings", lambda: None)()
    weight = getattr(embeddings, "weight", None)
    if isinstance(weight, Tensor) and weight.device.type != "meta":
        return weight.device
    for parameter in model.parameters():
        if parameter.device.type != "meta":
            return parameter.device
    return torch.device("cpu")  # every weight offloaded: accelerate moves them to the inputs' device


def call_hf(model: nn.Module, batch: Batch) -> Any:
    """A plain forward of a Hugging Face model on ``batch`` (no KV cache kept)."""
    return model(**batch.model_kwargs(input_device(model)), use_cache=False)


def call_module(model: nn.Module, inputs: Any) -> Any:
    """A plain forward of any module: a :class:`Batch` gives its token ids, a tuple positional
    arguments, a dict keyword arguments, anything else the one argument."""
    if isinstance(inputs, Batch):
        return model(inputs.input_ids.to(input_device(model)))
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


def logits_of(output: Any) -> Tensor | None:
    """The logits in a forward's output (a tensor, ``.logits``, or the first element), or None."""
    if isinstance(output, Tensor):
        return output
    if getattr(output, "logits", None) is not None:
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    return None


__all__ = ["call_hf", "call_module", "input_device", "is_hf", "logits_of"]
