"""The hook machinery behind :meth:`HookedModel.run`: attach, dispatch, detach.

:func:`attached` registers one PyTorch hook per (module, side) that the requested sites need,
calls each site's handlers in execution order, writes changed values back, and removes every
hook when the ``with`` block ends — normally, on an exception, or on ``KeyboardInterrupt``.

A handler is ``handler(activation, context) -> Tensor | None``; returning a different tensor
replaces the activation for the rest of the forward pass.

>>> import torch
>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
>>> seen = {}
>>> binding = Binding("0:output", net[0], "output")
>>> with attached({binding: [lambda act, ctx: seen.setdefault("x", act)]}):
...     _ = net(torch.ones(1, 2))
>>> seen["x"].shape, len(net[0]._forward_hooks)
(torch.Size([1, 2]), 0)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from interp.errors import InputError, SiteError
from interp.graph.bindings import Binding


class StopForward(Exception):
    """Raised inside a hook to end a forward pass once every requested site has been seen."""


@dataclass
class HookContext:
    """What a handler knows about the call it runs in."""

    site: str
    batch: Any = None  # the interp.graph.inputs.Batch of this run, if any
    state: dict = field(default_factory=dict)
    layer: int | None = None


Handler = Callable[[Tensor, HookContext], Tensor | None]


def _input_get(value: tuple[tuple, dict], element: int) -> Tensor:
    args, kwargs = value
    if element < len(args):
        return args[element]
    if element == 0 and "hidden_states" in kwargs:
        return kwargs["hidden_states"]
    if element == 0:
        tensors = [v for v in kwargs.values() if isinstance(v, Tensor)]
        if tensors:
            return tensors[0]
    raise TypeError(f"the module was called without positional argument {element}")


def _input_set(value: tuple[tuple, dict], element: int, new: Tensor) -> tuple[tuple, dict]:
    args, kwargs = value
    if element < len(args):
        return (*args[:element], new, *args[element + 1 :]), kwargs
    key = "hidden_states" if "hidden_states" in kwargs else next(k for k, v in kwargs.items() if isinstance(v, Tensor))
    return args, {**kwargs, key: new}


def _output_get(value: Any, element: int) -> Tensor:
    if isinstance(value, Tensor):
        if element:
            raise TypeError(f"the module returns one tensor; it has no output element {element}")
        return value
    if isinstance(value, (tuple, list)):
        return value[element]
    for attribute in ("logits", "last_hidden_state"):  # ModelOutput objects
        if element == 0 and getattr(value, attribute, None) is not None:
            return getattr(value, attribute)
    raise TypeError(f"cannot find tensor {element} in a module output of type {type(value).__name__}")


def _output_set(value: Any, element: int, new: Tensor) -> Any:
    if isinstance(value, Tensor):
        return new
    if isinstance(value, (tuple, list)):
        items = list(value)
        items[element] = new
        return type(value)(items) if isinstance(value, list) else tuple(items)
    for attribute in ("logits", "last_hidden_state"):
        if getattr(value, attribute, None) is not None:
            setattr(value, attribute, new)
            return value
    raise TypeError(f"cannot replace tensor {element} in a module output of type {type(value).__name__}")


def _dispatch(
    entries: list[tuple[Binding, list[Handler]]],
    value: Any,
    get: Callable,
    put: Callable,
    state: dict,
    batch: Any,
    stop: Binding | None,
) -> tuple[Any, bool]:
    changed_any = False
    for binding, handlers in entries:
        raw = get(value, binding.element)
        act = binding.read(raw, state)
        context = HookContext(binding.name, batch, state, binding.layer)
        changed = False
        for handler in handlers:
            result = handler(act, context)
            if result is not None and result is not act:
                if not isinstance(result, Tensor) or result.shape != act.shape:
                    got = list(result.shape) if isinstance(result, Tensor) else type(result).__name__
                    raise InputError(f"a handler at {binding.name!r} returned {got}; it must return None or a "
                                     f"tensor of the activation's shape {list(act.shape)}")
                act, changed = result, True
        if changed:
            if binding.write is None:
                raise SiteError(f"site {binding.name!r} is read-only: interventions cannot write to it")
            value = put(value, binding.element, binding.write(raw, act, state).to(raw.dtype))
            changed_any = True
        state[binding.name] = act
        if binding is stop:
            raise StopForward(binding.name)
    return value, changed_any


@contextmanager
def attached(
    handlers: dict[Binding, list[Handler]],
    *,
    batch: Any = None,
    stop: Binding | None = None,
) -> Iterator[dict]:
    """Hook every binding in ``handlers`` for the duration of the block; yields the shared state."""
    groups: dict[tuple[int, str], list[tuple[Binding, list[Handler]]]] = defaultdict(list)
    modules: dict[int, nn.Module] = {}
    for binding, site_handlers in handlers.items():
        groups[(id(binding.module), binding.io)].append((binding, site_handlers))
        modules[id(binding.module)] = binding.module
    state: dict = {}
    handles = []
    try:
        for (module_id, io), entries in groups.items():
            entries.sort(key=lambda entry: -1 if entry[0].order is None else entry[0].order)
            module = modules[module_id]
            if io == "input":

                def pre_hook(module, args, kwargs, entries=entries):
                    value, changed = _dispatch(
                        entries, (args, kwargs), _input_get, _input_set, state, batch, stop
                    )
                    return value if changed else None

                handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
            else:

                def hook(module, args, kwargs, output, entries=entries):
                    value, changed = _dispatch(entries, output, _output_get, _output_set, state, batch, stop)
                    return value if changed else None

                handles.append(module.register_forward_hook(hook, with_kwargs=True))
        yield state
    finally:
        for handle in handles:
            handle.remove()
        state.clear()


def count_hooks(model: nn.Module) -> int:
    """Number of forward hooks and pre-hooks on ``model`` and all its submodules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
