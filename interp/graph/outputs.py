"""What a run returns: :class:`RunOutput` (logits, cached activations, gradients, keys/values) and
its :class:`ActivationCache`.

>>> import interp
>>> out = interp.models.tiny("llama").run("The keys", cache=["resid_post.0"])
>>> out.last_logits.shape[0], sorted(out.cache)
(1, ['resid_post.0'])
>>> out.cache["z.0"]
Traceback (most recent call last):
interp.errors.SiteError: site 'z.0' was not cached in this run; cached sites: ['resid_post.0']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from interp.display import run_output_html
from interp.errors import InputError, SiteError
from interp.graph import decomposition
from interp.graph.cache import canonical_name
from interp.graph.gradients import GradientCache
from interp.graph.inputs import Batch


class ActivationCache(dict):
    """Site name -> activation tensor. A missing site says which sites were cached.

    ``batch`` is the :class:`Batch` the activations came from (so that positions in them can be
    counted in that run's real tokens, e.g. by a patch that reads this cache as its source);
    ``model`` the :class:`HookedModel` that ran, which lets ``cache["resid_post.-1"]`` find
    ``resid_post.L`` and gives the decompositions of :mod:`interp.graph.decomposition`
    (``accumulated_resid``, ``decompose_resid``, ``stack_head_results``, ``logit_attrs``).
    """

    batch: Batch | None = None
    model: Any = None

    def _canonical(self, key: Any) -> Any:
        return canonical_name(self.model, key) if self.model is not None and isinstance(key, str) else key

    def __missing__(self, key):
        canonical = self._canonical(key)
        if canonical != key and dict.__contains__(self, canonical):
            return self[canonical]
        raise SiteError(f"site {key!r} was not cached in this run; cached sites: {sorted(self)}")

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._canonical(key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __getstate__(self) -> dict:  # pickles and deep copies without the model
        return {"batch": self.batch}

    def __repr__(self) -> str:
        shapes = [f"{name}: {list(value.shape)}" if isinstance(value, Tensor) else name for name, value in self.items()]
        shown = ", ".join(shapes[:6]) + (f", ... {len(shapes) - 6} more" if len(shapes) > 6 else "")
        return f"ActivationCache({len(self)} sites: {shown})"

    accumulated_resid = decomposition.accumulated_resid
    decompose_resid = decomposition.decompose_resid
    stack_head_results = decomposition.stack_head_results
    logit_attrs = decomposition.logit_attrs


@dataclass
class RunOutput:
    """What :meth:`HookedModel.run` returns.

    ``logits``: ``[batch, pos, vocab]`` (None when the run stopped early);
    ``cache``: the requested activations; ``batch``: the tokenised inputs;
    ``grads``: the gradient at each ``grads=[...]`` site, filled when you call ``backward()``;
    ``key_values``: per layer ``(keys, values)``, each ``[batch, kv_heads, pos, d_head]``, when the
    run was asked to keep them (``keep_kv=True``), for :meth:`HookedModel.resume`.
    """

    logits: Tensor | None
    cache: ActivationCache = field(default_factory=ActivationCache)
    batch: Batch | None = None
    stopped_at: str | None = None
    key_values: list[tuple[Tensor, Tensor]] | None = field(default=None, repr=False)
    grads: GradientCache = field(default_factory=lambda: GradientCache([]), repr=False)

    @property
    def last_logits(self) -> Tensor:
        """``[batch, vocab]`` logits at each example's last real token."""
        if self.logits is None:
            raise InputError(f"this run stopped early at {self.stopped_at!r} and computed no logits")
        if self.batch is None:
            return self.logits[:, -1]
        return self.logits[torch.arange(self.batch.size), self.batch.last_index.to(self.logits.device)]

    def __repr__(self) -> str:
        shape = None if self.logits is None else tuple(self.logits.shape)
        cached = {name: tuple(t.shape) for name, t in self.cache.items()}
        return f"RunOutput(logits={shape}, cache={cached})"

    def _repr_html_(self) -> str:
        return run_output_html(self)


__all__ = ["ActivationCache", "RunOutput"]
