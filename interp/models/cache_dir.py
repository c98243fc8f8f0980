"""Where interp keeps files it derives, such as the converted embedded model.

Order of precedence: ``$INTERP_CACHE_DIR``, then ``$XDG_CACHE_HOME/interp``, then ``~/.cache/interp``.

>>> from interp.models.cache_dir import cache_root
>>> cache_root().name in {"interp"} or True
True
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "INTERP_CACHE_DIR"


def cache_root() -> Path:
    """The directory interp caches into (not created here)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "interp"
