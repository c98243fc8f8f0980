"""One re-entrant lock per model: runs that hook or edit a model take turns, whatever thread they are in.

Hooks live on the model's shared modules, and some runs edit the model for their duration (a run
from ``start_at`` swaps its layer list, :func:`interp.graph.resume.started_at`; a ``pattern`` run
switches the config's attention implementation, :func:`interp.graph.attention.pattern_attention`).
Two threads doing this at once on one model would see each other's hooks and edits, so every
:class:`~interp.graph.HookedModel` operation that attaches hooks or edits the model holds the lock
of the underlying ``nn.Module`` while it does. The lock belongs to the module, not to the
``HookedModel``, because several ``HookedModel`` objects can wrap one model; it is re-entrant, so a
run inside a ``hm.hooks(...)`` block (or an intervention that runs its source while binding) works.

>>> import threading
>>> from torch import nn
>>> net = nn.Linear(2, 2)
>>> model_lock(net) is model_lock(net), isinstance(model_lock(net), type(threading.RLock()))
(True, True)
>>> with model_lock(net):        # re-entrant: the same thread may take it again
...     with model_lock(net):
...         pass

Nothing is stored on the model itself: the locks sit in a weak dictionary and go with their model.
A forward that calls ``hm.model`` directly, outside interp, does not take the lock and is not
protected from hooks that a run in another thread has attached.
"""

from __future__ import annotations

import threading
import weakref

from torch import nn

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The re-entrant lock that serialises hooked runs and edits of ``model`` (created on first use)."""
    with _GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


__all__ = ["model_lock"]
