"""Apply: the escape hatch — any ``f(activation, context) -> activation`` at a site.

>>> import interp
>>> from interp.interventions import Apply
>>> hm = interp.models.tiny("gpt2")
>>> double = Apply("mlp_out.0", lambda act, ctx: act * 2)
>>> _ = hm.run("hello", interventions=[double])

A plain function with a ``site`` attribute works too; ``Apply`` adds a readable repr and a
clear error if you try to save it (code is not data: it is never pickled).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from interp.errors import InputError
from interp.graph.sites import parse_site


class Apply:
    def __init__(self, site: str, fn: Callable[[Tensor, object], Tensor | None]):
        parse_site(site)
        if not callable(fn):
            raise InputError(f"Apply needs a callable f(activation, context); got {type(fn).__name__}")
        self.site, self.fn = site, fn

    def __call__(self, act: Tensor, ctx) -> Tensor | None:
        return self.fn(act, ctx)

    def save(self, path) -> None:
        raise InputError(
            "Apply wraps arbitrary code, which interp does not serialise; save its inputs instead"
        )

    def __repr__(self) -> str:
        return f"Apply(site={self.site!r}, fn={getattr(self.fn, '__qualname__', repr(self.fn))})"
