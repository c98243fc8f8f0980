"""What a run attaches: each intervention bound to its site, cache readers, gradient tracking, and
where the run may stop early. :meth:`HookedModel.run` builds its hooks here; other executors (an
nnsight trace) call the same handlers through :meth:`HookedModel.handler_table`.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> handlers, cache = handler_table(hm, hm.tokenize("The keys"), cache=["resid_post.0"])
>>> [binding.name for binding in handlers], dict(cache)
(['resid_post.0'], {})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch import Tensor

from interp.errors import InputError, SiteError
from interp.graph.bindings import Binding
from interp.graph.gradients import GradientCache, tracking_handler
from interp.graph.inputs import Batch
from interp.graph.outputs import ActivationCache
from interp.graph.runner import Handler


def handler_table(hm, batch: Batch | None, interventions: Sequence[Any] = (), cache: Iterable[str] = (), *,
                  cache_grad: bool = False, grads: GradientCache | None = None,
                  ) -> tuple[dict[Binding, list[Handler]], ActivationCache]:
    """Bind ``interventions`` to ``batch`` (every check runs here) and add cache handlers.

    Returns ``({binding: [handler, ...]}, cache)``: what :meth:`HookedModel.run` attaches as hooks, and
    what another executor (e.g. an nnsight trace, :mod:`interp.graph.adapters.nnsight_trace`)
    can call at the same sites; the cache fills as the handlers run. With ``cache_grad`` or
    ``grads`` (a :class:`GradientCache` to fill in backward), those sites are tracked in the
    autograd graph (:func:`interp.graph.gradients.tracking_handler`), after the interventions
    there and before the cache reads them.

    A cache name may also be a value an intervention publishes (its ``publishes``, e.g. an SAE
    splice's ``"sae:resid_post.1"`` features): the intervention's handler leaves it in the run's
    shared state, and the cache keeps it from there.
    """
    handlers: dict[Binding, list[Handler]] = {}
    published = published_sites(interventions)
    for intervention in interventions:
        binding = hm.binding(site_of(intervention))
        if not binding.writable:
            raise SiteError(f"site {binding.name!r} is read-only: interventions cannot write to it")
        bound = intervention.bind(hm, batch) if hasattr(intervention, "bind") else intervention
        handlers.setdefault(binding, []).append(bound)
    tracked = [*(cache if cache_grad else ()), *(grads.sites if grads is not None else ())]
    tracked = [name for name in tracked if name not in published]
    _add_tracking(hm, handlers, tracked, grads)
    store = ActivationCache()
    store.batch, store.model = batch, hm
    for name in cache:
        binding = hm.binding(published.get(name, name))
        read = published_handler if name in published else cache_handler
        handlers.setdefault(binding, []).append(read(store, name, cache_grad))
    for binding in list(handlers):
        for needed in binding.needs:
            handlers.setdefault(hm.binding(needed), [])
    return handlers, store


def _add_tracking(hm, handlers: dict[Binding, list[Handler]], sites: list[str],
                  grads: GradientCache | None) -> None:
    """Track ``sites`` in the autograd graph (once each); a read-only site (``pattern.L``) is
    reached through ``resid_pre.L``, tracked too."""
    record: dict[Binding, list[str]] = {}
    for name in sites:
        binding = hm.binding(name)
        if not binding.writable and binding.layer is not None:
            record.setdefault(hm.binding(f"resid_pre.{binding.layer}"), [])
        names = record.setdefault(binding, [])
        if grads is not None and name in grads.sites and name not in names:
            names.append(name)
    for binding, names in sorted(record.items(), key=lambda item: item[0].order or 0):
        handlers.setdefault(binding, []).append(tracking_handler(binding, names, grads))


def check_stop(hm, stop_at: str, interventions: list, cache: list[str], grads: list[str]) -> None:
    """A site the run is asked to cache, or an intervention, after ``stop_at`` is an :class:`InputError`."""
    stop = hm.binding(stop_at)
    if stop.order is None:
        return  # a module-path site has no known place in the graph
    published = published_sites(interventions)
    for name in [*cache, *grads]:
        binding = hm.binding(published.get(name, name))
        if binding.order is not None and binding.order > stop.order:
            raise InputError(f"stop_at={stop_at!r} ends the run before {name!r}, which it is asked to "
                             f"{'cache' if name in cache else 'record the gradient of'}; stop at {name!r} (or "
                             f"later), or drop {name!r}")
    for intervention in interventions:
        site = site_of(intervention)
        binding = hm.binding(site)
        if binding.order is not None and binding.order > stop.order:
            raise InputError(f"the {type(intervention).__name__} at {site!r} comes after stop_at={stop_at!r}: the "
                             f"run would end before it acts; stop at {site!r} (or later), or drop it")


def stop_binding(hm, stop_at: str | None, logits: bool, handlers: dict[Binding, list]) -> Binding | None:
    """Where the run ends: ``stop_at``, or with ``logits=False`` the last site it attaches to (None: the end)."""
    if stop_at is not None:
        binding = hm.binding(stop_at)
        handlers.setdefault(binding, [])
        return binding
    if logits:
        return None
    ordered = [b for b in handlers if b.order is not None]
    if not ordered or len(ordered) < len(handlers):
        return None  # a module-path site has no known place in the graph: run to the end
    return max(ordered, key=lambda b: b.order)


def site_of(intervention: Any) -> str:
    """The site an intervention acts at; an object without a ``site`` string is an :class:`InputError`."""
    site = getattr(intervention, "site", None)
    if not isinstance(site, str):
        raise InputError(f"an intervention needs a 'site' attribute naming where it acts; got {intervention!r}")
    return site


def published_sites(interventions: Sequence[Any]) -> dict[str, str]:
    """``{name: site}`` of every value the interventions publish (``intervention.publishes``)."""
    return {name: site_of(intervention) for intervention in interventions
            for name in getattr(intervention, "publishes", ())}


def published_handler(store: ActivationCache, name: str, keep_grad: bool) -> Handler:
    """A handler that keeps the value an intervention at this site published as ``name`` in the run's state."""
    def handler(act: Tensor, context) -> None:
        value = context.state[name]
        store[name] = value if keep_grad else value.detach()

    return handler


def cache_handler(store: ActivationCache, name: str, keep_grad: bool) -> Handler:
    """A handler that keeps the value at ``name`` in ``store`` (detached unless ``keep_grad``)."""
    def handler(act: Tensor, context) -> None:
        store[name] = act if keep_grad else act.detach()

    return handler


__all__ = ["cache_handler", "check_stop", "handler_table", "published_handler", "published_sites", "site_of",
           "stop_binding"]
