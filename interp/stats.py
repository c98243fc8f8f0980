"""The intervals interp's tables and figures report: bootstrap resamples and Wilson intervals.

Used by the evaluators' summaries (:mod:`interp.eval.aggregate`, steering, recall) and by the
figures (:mod:`interp.viz`), so a table and its figure show the same interval.

>>> import numpy as np
>>> weights = bootstrap_weights(4, n_boot=3, seed=0)    # [n_boot, n]: a resample's mean is weights @ x
>>> weights.shape, bool(np.allclose(weights.sum(1), 1.0))
((3, 4), True)
>>> low, high = wilson_interval(np.array([0.5, 1.0]), np.array([20, 10]))
>>> np.round(low, 3).tolist(), np.round(high, 3).tolist()
([0.299, 0.722], [0.701, 1.0])
"""

from __future__ import annotations

import numpy as np

#: The two-sided 95 % quantile of the standard normal distribution.
Z_95 = 1.959964


def bootstrap_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n]``: each row the resample counts of ``n`` examples divided by ``n`` (a mean is ``w @ x``)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n


def wilson_interval(accuracy: np.ndarray, n: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a proportion ``accuracy`` over ``n`` trials (NaN where n is 0)."""
    p, n = np.asarray(accuracy, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.minimum(centre - half, p), np.maximum(centre + half, p)  # contains p despite rounding


__all__ = ["Z_95", "bootstrap_weights", "wilson_interval"]
