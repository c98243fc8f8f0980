"""Activations in the autograd graph, and the gradient at a site (backward-hook sites).

A frozen model builds no graph of its own: no weight requires grad, so nothing computed from them
does. A run asked for gradients (``hm.run(..., grad=True, cache_grad=True)`` or ``grads=[...]``)
therefore *tracks* each such site: the activation the model goes on with is a tensor that requires
grad (a fresh leaf at the first tracked site, when nothing before it requires grad; the activation
itself, or an alias of it written back, after), so that the logits depend on it through autograd.

>>> import torch, interp
>>> hm = interp.models.tiny("llama")
>>> out = hm.run("The keys", grad=True, cache=["resid_post.0"], cache_grad=True, grads=["z.1"])
>>> metric = out.logits[0, -1].logsumexp(-1)
>>> (by_hand,) = torch.autograd.grad(metric, out.cache["resid_post.0"], retain_graph=True)
>>> metric.backward()
>>> out.grads["z.1"].shape == out.cache["resid_post.0"].shape[:2] + (hm.n_heads, hm.d_head)
True

Values never change: the tracked tensor holds the same numbers as the activation (a ``resid_mid``
site is written back through the model's own addition, so equal up to float rounding).
"""

from __future__ import annotations

from torch import Tensor

from interp.errors import InputError, SiteError
from interp.graph.bindings import Binding, _identity_read
from interp.graph.runner import Handler


class GradientCache(dict):
    """Site name -> the gradient of the last backward pass at that site's activation.

    Filled during ``backward()`` (by a tensor hook on each ``grads=[...]`` site's activation); a
    site asked for but not reached by the backward yet says so.
    """

    def __init__(self, sites: list[str]) -> None:
        super().__init__()
        self.sites = list(sites)

    def __missing__(self, key: str):
        if key in self.sites:
            raise InputError(f"no gradient at {key!r} yet: call .backward() on a scalar computed from this run's "
                             f"outputs first (e.g. out.logits[0, -1].max().backward()); {key!r} is filled then, "
                             "if that scalar depends on it")
        raise SiteError(f"site {key!r} was not in this run's grads=[...]; it recorded: {self.sites}")


def tracking_handler(binding: Binding, record: list[str], grads: GradientCache | None) -> Handler:
    """A handler that makes the activation at ``binding`` part of the autograd graph and, for each
    name in ``record``, stores its gradient in ``grads`` during backward."""
    identity = binding.read is _identity_read

    def handler(act: Tensor, context) -> Tensor | None:
        if act.requires_grad and (identity or not binding.writable):
            tracked = act  # the very tensor the model goes on with
        elif not binding.writable:
            raise InputError(f"site {binding.name!r} is read-only and nothing before it is tracked, so it has no "
                             "gradient; track an earlier site too")
        elif act.requires_grad:
            tracked = act.view_as(act)  # written back, so that what follows is computed from it
        else:
            tracked = act.detach().requires_grad_()  # nothing before requires grad: a leaf loses nothing
        if grads is not None:
            for name in record:
                tracked.register_hook(lambda gradient, name=name: grads.__setitem__(name, gradient))
        return tracked

    return handler


__all__ = ["GradientCache", "tracking_handler"]
