"""Loading models: hub ids, local directories, GGUF files, the embedded default, tiny test models."""

from interp.models.embedded import EMBEDDED_NAME, load_embedded
from interp.models.loading import load
from interp.models.tiny import FAMILIES, MODEL_TYPES, tiny, tiny_tokenizer

__all__ = ["EMBEDDED_NAME", "FAMILIES", "MODEL_TYPES", "load", "load_embedded", "tiny", "tiny_tokenizer"]
