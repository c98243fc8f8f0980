"""Progress bars that show on a terminal only: a log file or a pipe gets no ``\\r`` lines.

>>> bar = progress_bar(total=3, progress=True, desc="units")   # stderr is not a terminal here: no bar
>>> bar.disable
True
>>> for _ in range(3):
...     bar.update()
>>> bar.close()

``progress=False`` hides the bar everywhere; ``progress=True`` shows it when stderr is a terminal
(tqdm's ``disable=None``), so ``interp causalgym ... > log 2>&1`` writes no bar at all.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def progress_bar(*, total: int, progress: bool, desc: str, unit: str = "unit", initial: int = 0, **kwargs: Any):
    """A ``tqdm`` bar on stderr, shown when ``progress`` is true and stderr is a terminal."""
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                disable=None if progress else True, **kwargs)
