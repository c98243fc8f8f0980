"""Run interp interventions inside an nnsight trace: the path to models served remotely (NDIF).

:meth:`HookedModel.run` applies interventions through PyTorch hooks on a local module. A model
served by NDIF has no local module, only an nnsight ``LanguageModel`` whose ``trace`` runs
remotely. :func:`run_traced` compiles the same interventions into one nnsight trace: for each
module (side) that a site lives on, in execution order, it reads the envoy's ``.output`` (or
``.inputs``), turns it into the canonical activation with the site's binding, lets every bound
intervention edit it, and assigns the result back. Binding — positions, sources, shape checks —
happens before the trace starts, exactly as in :meth:`HookedModel.run`, so the numbers are the
native path's.

>>> import nnsight, interp
>>> from interp.interventions import Steer
>>> hm = interp.models.tiny("llama")
>>> lm = nnsight.LanguageModel(hm.model, tokenizer=hm.tokenizer)
>>> steer = Steer("resid_post.0", torch.ones(hm.d_model), alpha=2.0)
>>> traced = run_traced(lm, ["the dog is"], interventions=[steer], cache=["resid_post.1"])
>>> native = hm.run(["the dog is"], interventions=[steer], cache=["resid_post.1"])
>>> torch.equal(traced.logits, native.logits), torch.equal(traced.cache["resid_post.1"], native.cache["resid_post.1"])
(True, True)

``remote=True`` is passed to ``lm.trace``: NDIF then runs the trace on its servers (this needs an
NDIF account, the network, and a server that accepts the interp functions the trace calls). Only
``remote=False`` is tested here, against the native path, on several intervention kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from interp.errors import InputError
from interp.graph.adapters.nnsight import is_nnsight, underlying_module
from interp.graph.bindings import Binding
from interp.graph.forward import input_device
from interp.graph.hooked_model import HookedModel, RunOutput
from interp.graph.runner import Handler, _dispatch, _input_get, _input_set, _output_get, _output_set
from interp.graph.wrap import wrap


def _envoy_at(root: Any, path: str) -> Any:
    """The envoy of the submodule at ``path`` (``"model.layers.3.self_attn"``)."""
    envoy = root
    for part in filter(None, path.split(".")):
        envoy = envoy[int(part)] if part.isdigit() else getattr(envoy, part)
    return envoy


def _groups(module: torch.nn.Module, handlers: dict[Binding, list[Handler]]) -> list[tuple[str, str, list]]:
    """``[(module path, side, [(binding, handlers), ...]), ...]`` in execution order."""
    paths = {id(m): name for name, m in module.named_modules()}
    grouped: dict[tuple[str, str], list] = {}
    for binding, site_handlers in handlers.items():
        if id(binding.module) not in paths:
            raise InputError(f"site {binding.name!r} lives on a module outside the traced model")
        grouped.setdefault((paths[id(binding.module)], binding.io), []).append((binding, site_handlers))

    def rank(entry: tuple[Binding, list]) -> int:
        return -1 if entry[0].order is None else entry[0].order

    for entries in grouped.values():
        entries.sort(key=rank)
    ordered = sorted(grouped.items(), key=lambda item: (min(rank(e) for e in item[1]), item[0][1] == "output"))
    return [(path, io, entries) for (path, io), entries in ordered]


def run_traced(lm: Any, inputs: Any, *, interventions: Sequence[Any] = (), cache: Iterable[str] = (),
               remote: bool = False, padding_side: str = "right", hm: HookedModel | None = None) -> RunOutput:
    """Apply ``interventions`` and cache ``cache`` sites in one ``lm.trace``; like :meth:`HookedModel.run`.

    ``lm``: an nnsight ``LanguageModel`` / ``NNsight`` (``hm`` defaults to ``interp.wrap(lm)``).
    Returns a :class:`RunOutput` with ``[batch, pos, vocab]`` logits and the cached activations.
    """
    if not is_nnsight(lm):
        raise InputError(f"run_traced needs an nnsight model (LanguageModel / NNsight); got {type(lm).__name__}")
    module = underlying_module(lm)
    if hm is None:
        hm = wrap(lm)
    elif hm.model is not module:
        raise InputError("hm must wrap the same module as the nnsight model (hm = interp.wrap(lm))")
    batch = hm.tokenize(inputs, padding_side)
    handlers, store = hm.handler_table(batch, interventions, cache)
    groups = _groups(module, handlers)
    state: dict = {}
    kwargs = batch.model_kwargs(input_device(module))
    with torch.no_grad(), lm.trace(kwargs.pop("input_ids"), **kwargs, use_cache=False, remote=remote):
        for path, io, entries in groups:
            envoy = _envoy_at(lm, path)
            if io == "input":
                value, changed = _dispatch(entries, envoy.inputs, _input_get, _input_set, state, batch, None)
                if changed:
                    envoy.inputs = value
            else:
                value, changed = _dispatch(entries, envoy.output, _output_get, _output_set, state, batch, None)
                if changed:
                    envoy.output = value
        logits = lm.output.logits.save()
    return RunOutput(logits, store, batch)


__all__ = ["run_traced"]
