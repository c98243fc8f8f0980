"""The one place interp changes a model's attention implementation: :func:`eager_attention`.

``pattern.L`` sites read the attention weights, which only the eager implementation computes
(SDPA and flash attention never materialise them). Transformers picks the implementation per
forward from ``config._attn_implementation``, so a run that reads a pattern switches it for its
own duration and switches it back.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> with eager_attention(hm):
...     inside = hm.config._attn_implementation
>>> inside, hm.config._attn_implementation
('eager', 'sdpa')
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from interp.errors import SiteError
from interp.graph.locking import model_lock


@contextmanager
def eager_attention(hm: Any) -> Iterator[None]:
    """Run ``hm.model`` with eager attention inside the block; the previous setting comes back after.

    Why: attention weights (``pattern`` sites) exist only in the eager implementation, and
    transformers reads the implementation from the shared ``config`` at every forward, so there is
    no per-call argument to ask for it. What changes: ``hm.config._attn_implementation`` only (no
    module, weight or other setting), restored when the block ends, also on an exception.

    Re-entrant: inside a block that already runs eager attention (or on a model configured eager)
    nothing changes and nothing is restored early. Threads: the block holds the model's lock
    (:func:`interp.graph.locking.model_lock`), so runs from other threads wait and never see the
    switched setting; concurrent runs on one model are serialised.
    """
    config = hm.config
    if config is None or not hasattr(config, "_attn_implementation"):
        raise SiteError(
            "pattern sites need eager attention, which interp switches on per run through the "
            f"model's config; {hm.family} has no attention-implementation setting"
        )
    with model_lock(hm.model):
        previous = config._attn_implementation
        if previous == "eager":
            yield
            return
        config._attn_implementation = "eager"
        try:
            yield
        finally:
            config._attn_implementation = previous


__all__ = ["eager_attention"]
