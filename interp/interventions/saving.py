"""Loading saved interventions: JSON config + safetensors, never pickle.

>>> import tempfile, torch
>>> from interp.interventions import Subspace, load
>>> folder = Subspace("resid_post.0", torch.eye(64)[:, :2]).save(tempfile.mkdtemp())
>>> load(folder)
Subspace(site='resid_post.0', basis=[64, 2])
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from interp.errors import InputError, InterpError
from interp.interventions.ablate import Ablate
from interp.interventions.base import FORMAT_VERSION
from interp.interventions.das import DAS, BoundlessDAS
from interp.interventions.identity import check
from interp.interventions.patch import Patch
from interp.interventions.scale_heads import ScaleHeads
from interp.interventions.steer import Steer
from interp.interventions.subspace import Subspace


def _types() -> dict[str, type]:
    return {cls.__name__: cls for cls in (Ablate, BoundlessDAS, DAS, Patch, ScaleHeads, Steer, Subspace)}


def load(path: str | Path, *, model=None):
    """Rebuild an intervention written by ``intervention.save(path)``.

    ``model``: check now that it is the model the intervention was saved for (every run checks too;
    see :mod:`interp.interventions.identity`)."""
    folder = Path(path)
    config_file, tensor_file = folder / "config.json", folder / "tensors.safetensors"
    if not config_file.is_file() or not tensor_file.is_file():
        raise InputError(
            f"{folder} is not a saved intervention: it needs config.json and tensors.safetensors"
        )
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{config_file} is not valid JSON: {error}") from None
    types = _types()
    name = config.get("type") if isinstance(config, dict) else None
    if name not in types:
        known = ", ".join(sorted(types))
        raise InputError(f"{config_file}: unknown intervention type {name!r}; known: {known}")
    version = config.get("format")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(f"{config_file}: format {version!r} is not one this interp reads (1..{FORMAT_VERSION}); "
                         "it was written by another version")
    try:
        tensors = load_file(tensor_file)
    except (SafetensorError, OSError, ValueError) as error:
        raise InputError(f"{tensor_file} is not a safetensors file: {error}") from None
    try:
        loaded = types[name].from_saved(config, dict(tensors))
    except (InterpError, ValueError, TypeError, KeyError, RuntimeError) as error:
        raise InputError(f"{folder}: the saved {name} does not fit together: {error}") from None
    expected, found = set(loaded.tensors()), set(tensors)
    if expected != found:  # e.g. a DAS whose rotation is missing would silently be a random one
        raise InputError(f"{tensor_file}: the saved {name} needs tensors {sorted(expected)}; the file has "
                         f"{sorted(found)}")
    if model is not None:
        check(loaded.model_identity, model, f"{folder}: the saved {loaded.label}")
    return loaded
