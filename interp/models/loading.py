"""``interp.load``: any causal LM from a hub id, a local directory, a GGUF file, or the default.

>>> import interp
>>> hm = interp.load()                        # doctest: +SKIP
>>> hm = interp.load("EleutherAI/pythia-70m") # doctest: +SKIP
>>> hm = interp.load("path/to/model.gguf")    # doctest: +SKIP

With no argument it is the embedded SmolLM2-135M; a hub id is read from the local Hugging Face
cache first (so it works offline) and fetched only when it is not there.
"""

from __future__ import annotations

from pathlib import Path

import torch

from interp.errors import ModelLoadError
from interp.models.embedded import EMBEDDED_NAME, embedded_revision, load_embedded

DEFAULT_NAMES = {None, "default", "smollm2-135m", "SmolLM2-135M"}


def _not_causal(name: str, error: Exception) -> ModelLoadError:
    return ModelLoadError(f"{name!r} is not a causal language model that transformers can load: {error}")


def _from_pretrained(source: str, *, dtype, revision, local_only: bool, gguf_file: str | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"revision": revision, "local_files_only": local_only}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except ValueError as error:
        if "Unrecognized configuration class" in str(error):
            raise _not_causal(source, error) from error
        raise
    return model, tokenizer


def load_model_and_tokenizer(name_or_path: str | None = None, *, dtype=torch.float32, revision: str | None = None):
    """Return ``(model, tokenizer, revision)`` without wrapping."""
    if name_or_path in DEFAULT_NAMES:
        model, tokenizer = load_embedded(dtype=dtype)
        return model, tokenizer, embedded_revision()
    path = Path(str(name_or_path)).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file {str(path)!r} does not exist")
        try:
            import gguf  # noqa: F401
        except ImportError as error:
            raise ModelLoadError("reading a GGUF file needs the 'gguf' package: pip install gguf") from error
        model, tokenizer = _from_pretrained(str(path.parent), dtype=dtype, revision=None, local_only=True,
                                            gguf_file=path.name)
        return model, tokenizer, f"gguf:{path.name}"
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"directory {str(path)!r} has no config.json, so it is not a saved model")
        model, tokenizer = _from_pretrained(str(path), dtype=dtype, revision=None, local_only=True)
        return model, tokenizer, revision
    if path.exists():
        raise ModelLoadError(f"{str(path)!r} is neither a model directory nor a .gguf file")
    try:  # a hub id: the local Hugging Face cache first, so that it works offline
        model, tokenizer = _from_pretrained(str(name_or_path), dtype=dtype, revision=revision, local_only=True)
    except OSError:
        try:
            model, tokenizer = _from_pretrained(str(name_or_path), dtype=dtype, revision=revision, local_only=False)
        except OSError as error:
            raise ModelLoadError(
                f"unknown model {name_or_path!r}: it is not a local path, not in the local Hugging Face cache, "
                f"and could not be fetched from the hub ({error.__class__.__name__}). "
                f"Use interp.load() for the embedded {EMBEDDED_NAME}, a local directory or a .gguf file."
            ) from error
    return model, tokenizer, revision or getattr(model.config, "_commit_hash", None)


def load(
    name_or_path: str | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    revision: str | None = None,
):
    """Load a causal LM and its tokenizer and wrap them in a :class:`~interp.graph.HookedModel`.

    With no argument (or ``"default"``) this is the embedded SmolLM2-135M. The model is put in
    eval mode with gradients off for its parameters: interventions train, the model stays frozen.
    """
    from interp.graph import HookedModel

    model, tokenizer, resolved_revision = load_model_and_tokenizer(name_or_path, dtype=dtype, revision=revision)
    model.to(device).eval().requires_grad_(False)
    name = EMBEDDED_NAME if name_or_path in DEFAULT_NAMES else str(name_or_path)
    return HookedModel(model, tokenizer, name=name, revision=resolved_revision)
