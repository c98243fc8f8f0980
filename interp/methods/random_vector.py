"""``random``: a random unit vector, fixed by the seed (the chance baseline).

>>> a, b = random_direction(8, seed=1), random_direction(8, seed=1)
>>> bool((a == b).all()), round(a.norm().item(), 5)
(True, 1.0)
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.methods._common import unit


def random_direction(dim: int, seed: int = 0) -> Tensor:
    """A unit ``[dim]`` vector drawn from an isotropic Gaussian with its own generator."""
    generator = torch.Generator().manual_seed(int(seed))
    return unit(torch.randn(int(dim), generator=generator, dtype=torch.float64))
