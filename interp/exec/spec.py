"""How to load a model again in another process: a small, picklable, JSON-able recipe.

A Ray worker cannot receive a loaded model (hundreds of MB, and not meant to be pickled); it
receives a :class:`ModelSpec` and loads the model once. :func:`interp.load` and
:func:`interp.models.tiny` record theirs on the model they return (``hm.spec``), so
``ModelSpec.of(hm)`` usually just works; a model wrapped by hand needs an explicit spec.

>>> import interp
>>> spec = ModelSpec.of(interp.models.tiny("llama", seed=3))
>>> spec
ModelSpec(loader='tiny', options={'family': 'llama', 'seed': 3, 'attn_implementation': 'sdpa'})
>>> ModelSpec.parse(("tiny", "llama", 3)) == spec
True
>>> ModelSpec.parse("default")
ModelSpec(loader='load', options={'name_or_path': 'default'})
>>> hm = spec.load()                          # what every worker does, once
>>> hm.name, hm.revision
('tiny-llama', 'seed=3')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp import models
from interp.errors import InputError
from interp.models.loading import DEFAULT_NAMES

LOADERS = ("load", "tiny")


@dataclass(frozen=True)
class ModelSpec:
    """``loader``: ``"load"`` (:func:`interp.load`) or ``"tiny"`` (:func:`interp.models.tiny`);
    ``options``: its keyword arguments (``dtype`` as a name such as ``"float32"``)."""

    loader: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.loader not in LOADERS:
            raise InputError(f"model spec loader must be one of {', '.join(LOADERS)}, not {self.loader!r}")

    @classmethod
    def parse(cls, value: Any) -> ModelSpec:
        """A spec from a ModelSpec, a dict (``{"loader": ..., **options}``), a model name or path
        (``"default"``, ``"EleutherAI/pythia-70m"``), ``("tiny", family, seed)`` or
        ``("load", name_or_path[, revision])``."""
        if isinstance(value, ModelSpec):
            return value
        if isinstance(value, str):
            return cls("load", {"name_or_path": value})
        if isinstance(value, dict) and "loader" in value:
            return cls(str(value["loader"]), {k: v for k, v in value.items() if k != "loader"})
        if isinstance(value, (tuple, list)) and value and value[0] == "tiny" and 2 <= len(value) <= 4:
            family = value[1]
            seed = value[2] if len(value) > 2 else 0
            overrides = value[3] if len(value) > 3 else {}
            return cls("tiny", {"family": family, "seed": int(seed), "attn_implementation": "sdpa",
                                **dict(overrides)})
        if isinstance(value, (tuple, list)) and value and value[0] == "load" and 2 <= len(value) <= 3:
            options = {"name_or_path": value[1]}
            if len(value) == 3 and value[2] is not None:
                options["revision"] = value[2]
            return cls("load", options)
        raise InputError(f"cannot read a model spec from {value!r}: give a model name or path, "
                         "('tiny', family, seed), ('load', name_or_path, revision) or a ModelSpec")

    @classmethod
    def of(cls, hm: Any) -> ModelSpec | None:
        """The spec ``hm`` was loaded from (``hm.spec``), or None for a model wrapped by hand."""
        recorded = getattr(hm, "spec", None)
        if recorded is None:
            return None
        spec = cls.parse(recorded)
        path = spec.options.get("name_or_path")

        if spec.loader == "load" and path not in DEFAULT_NAMES and Path(str(path)).expanduser().exists():
            # a worker may run in another directory: name local files absolutely
            spec = cls("load", {**spec.options, "name_or_path": str(Path(path).expanduser().resolve())})
        return spec

    @classmethod
    def required(cls, model: Any) -> ModelSpec:
        """The spec of ``model`` (a spec, something :meth:`parse` reads, or a model with ``hm.spec``);
        an :class:`~interp.errors.InputError` if there is none (a model wrapped by hand)."""
        if isinstance(model, (ModelSpec, str, tuple, list, dict)):
            return cls.parse(model)
        spec = cls.of(model)
        if spec is None:
            raise InputError("workers in other processes load the model themselves and need to know how: this "
                             "model was not made by interp.load or interp.models.tiny, so pass model_spec=... (a "
                             "model name or path, ('tiny', family, seed), or an interp.exec.ModelSpec)")
        return spec

    def load(self):
        """Load the model this spec describes (a :class:`~interp.graph.HookedModel`)."""

        options = dict(self.options)
        if self.loader == "tiny":
            return models.tiny(options.pop("family", "llama"), **options)
        if isinstance(options.get("dtype"), str):
            options["dtype"] = getattr(torch, options["dtype"])
        return models.load(options.pop("name_or_path", None), **options)
