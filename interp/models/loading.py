"""``interp.load``: any causal LM from a hub id, a local directory, a GGUF file, or the default.

>>> import interp
>>> hm = interp.load()                        # doctest: +SKIP
>>> hm = interp.load("EleutherAI/pythia-70m") # doctest: +SKIP
>>> hm = interp.load("path/to/model.gguf")    # doctest: +SKIP

With no argument it is the embedded SmolLM2-135M-Instruct (de-quantised from Q4_1); a hub id is
read from the local Hugging Face cache first (so it works offline) and fetched only when it is not
there.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError

from interp.errors import ModelLoadError
from interp.graph import HookedModel
from interp.models.embedded import EMBEDDED_NAME, embedded_revision, load_embedded

#: Names that load the embedded model (the older "SmolLM2-135M" spellings are kept so specs still load).
DEFAULT_NAMES = {None, "default", "smollm2-135m", "SmolLM2-135M", "smollm2-135m-instruct", "SmolLM2-135M-Instruct"}


def _not_causal(name: str, error: Exception) -> ModelLoadError:
    return ModelLoadError(f"{name!r} is not a causal language model that transformers can load: {error}")


def _from_pretrained(source: str, *, dtype, revision, local_only: bool, gguf_file: str | None = None,
                     placement: dict | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"revision": revision, "local_files_only": local_only}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs, **(placement or {}))
    except ValueError as error:
        if "Unrecognized configuration class" in str(error):
            raise _not_causal(source, error) from error
        raise
    except (SafetensorError, pickle.UnpicklingError) as error:  # truncated weights, or a pickle that would run code
        raise ModelLoadError(f"the weights of {source!r} cannot be read (a corrupt or truncated file, or a "
                             f"pickle that is not plain tensors, which interp never executes): {error}") from None
    return model, tokenizer


def load_model_and_tokenizer(name_or_path: str | None = None, *, dtype=torch.float32, revision: str | None = None,
                             placement: dict | None = None):
    """Return ``(model, tokenizer, revision)`` without wrapping.

    ``placement``: ``device_map`` / ``max_memory`` / ``offload_folder`` for ``from_pretrained``
    (local directories and hub ids load straight onto their devices; see :func:`place`)."""
    if name_or_path in DEFAULT_NAMES:
        if revision is not None and revision != embedded_revision():
            raise ModelLoadError(f"the embedded {EMBEDDED_NAME} has one revision ({embedded_revision()}), not "
                                 f"{revision!r}; name a hub id (e.g. EleutherAI/pythia-70m) to load checkpoints")
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
        model, tokenizer = _from_pretrained(str(path), dtype=dtype, revision=None, local_only=True,
                                            placement=placement)
        return model, tokenizer, revision
    if path.exists():
        raise ModelLoadError(f"{str(path)!r} is neither a model directory nor a .gguf file")
    try:  # a hub id: the local Hugging Face cache first, so that it works offline
        model, tokenizer = _from_pretrained(str(name_or_path), dtype=dtype, revision=revision, local_only=True,
                                            placement=placement)
    except OSError:
        try:
            model, tokenizer = _from_pretrained(str(name_or_path), dtype=dtype, revision=revision, local_only=False,
                                                placement=placement)
        except OSError as error:
            if revision is not None:
                raise ModelLoadError(
                    f"revision {revision!r} of {name_or_path!r} is not in the local Hugging Face cache and could "
                    f"not be fetched from the hub ({error.__class__.__name__}): check the name of the revision "
                    "(a branch, tag or commit, e.g. 'step1000' for Pythia checkpoints)") from error
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
    device_map: str | dict | None = None,
    max_memory: dict | None = None,
    offload_folder: str | Path | None = None,
):
    """Load a causal LM and its tokenizer and wrap them in a :class:`~interp.graph.HookedModel`.

    With no argument (or ``"default"``) this is the embedded SmolLM2-135M-Instruct (de-quantised from
    Q4_1). The model is put in eval mode with gradients off for its parameters: interventions train,
    the model stays frozen.

    A model larger than one device: ``device_map="auto"`` (or an explicit ``{module: device}``
    map, devices including ``"cpu"`` and ``"disk"``) places its layers across the GPUs, the CPU
    and ``offload_folder`` with accelerate, within ``max_memory`` (``{0: "20GiB", "cpu": "60GiB"}``).
    Every site, intervention and evaluator works the same: hooks run on whatever device a module
    lives on, and inputs go to the input embedding's device.
    """

    placement = None
    if device_map is not None:
        if str(device) != "cpu":
            raise ModelLoadError(f"give either device={device!r} or device_map={device_map!r}, not both")
        placement = {"device_map": device_map, "max_memory": max_memory, "offload_folder": offload_folder}
        placement = {key: value for key, value in placement.items() if value is not None}
    elif max_memory is not None or offload_folder is not None:
        raise ModelLoadError("max_memory and offload_folder only apply with device_map=...")
    model, tokenizer, resolved_revision = load_model_and_tokenizer(name_or_path, dtype=dtype, revision=revision,
                                                                   placement=placement)
    if placement is not None and getattr(model, "hf_device_map", None) is None:
        model = place(model, **placement)  # the embedded model and GGUF files load on the CPU first
    elif placement is None:
        model.to(device)
    model.eval().requires_grad_(False)
    name = EMBEDDED_NAME if name_or_path in DEFAULT_NAMES else str(name_or_path)
    hm = HookedModel(model, tokenizer, name=name, revision=resolved_revision)
    hm.spec = {"loader": "load", "name_or_path": name_or_path, "dtype": str(dtype).removeprefix("torch."),
               "device": str(device), "revision": revision, **(placement or {})}  # to load it again (interp.exec)
    return hm


def place(model, device_map: str | dict = "auto", max_memory: dict | None = None,
          offload_folder: str | Path | None = None):
    """Spread a loaded model over devices with accelerate (``"auto"``: fill ``max_memory`` in order)."""
    from accelerate import dispatch_model, infer_auto_device_map

    if device_map in ("auto", "balanced", "sequential"):
        device_map = infer_auto_device_map(model, max_memory=max_memory,
                                           no_split_module_classes=getattr(model, "_no_split_modules", None) or [])
    if not isinstance(device_map, dict):
        raise ModelLoadError(f"device_map must be 'auto' or a {{module: device}} dict, not {device_map!r}")
    if "disk" in device_map.values() and offload_folder is None:
        raise ModelLoadError("device_map puts modules on 'disk': give offload_folder=... for their weights")
    model.hf_device_map = device_map
    return dispatch_model(model, device_map=device_map, offload_dir=None if offload_folder is None else
                          str(offload_folder))
