"""One entry point for the non-trained methods: a unit direction from two types' activations.

CausalGym's recipe: take the activations at one site and position for every training pair, the
base side labelled with the base type and the source side with the source type, and find a
direction that separates the two types. The direction is then used as a rank-1 interchange
``h ← h + a (aᵀh_src − aᵀh_base)`` (:class:`interp.interventions.Subspace`).

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> base, source = torch.randn(20, 4, generator=g), torch.randn(20, 4, generator=g) + torch.tensor([3., 0, 0, 0])
>>> a = find_direction("mean", base, source, base_types=["sg"] * 20, source_types=["pl"] * 20)
>>> a.shape, a[0].abs().item() > 0.9
(torch.Size([4]), True)
>>> find_direction("vanilla", base, source, ["sg"] * 20) is None      # full patching: no direction
True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.methods.kmeans import kmeans_direction
from interp.methods.lda import lda_direction
from interp.methods.mean import mean_direction
from interp.methods.pca import pca_direction
from interp.methods.probe import probe_direction
from interp.methods.random_vector import random_direction

DIRECTION_METHODS = {
    "probe": probe_direction,
    "mean": mean_direction,
    "pca": pca_direction,
    "kmeans": kmeans_direction,
    "lda": lda_direction,
}
METHODS = ("das", *DIRECTION_METHODS, "random", "vanilla")


def stack_sides(base_acts: Tensor, source_acts: Tensor, base_types: Sequence | Tensor,
                source_types: Sequence | Tensor | None = None) -> tuple[Tensor, list]:
    """``[2n, d]`` activations (bases then sources) and their ``2n`` type labels.

    ``source_types`` defaults to "the other type" of each base (a minimal pair swaps the feature).
    """
    if base_acts.ndim != 2 or source_acts.shape != base_acts.shape:
        raise InputError(f"base and source activations must both be [n, d]; got {list(base_acts.shape)} and "
                         f"{list(source_acts.shape)}")
    base_types = base_types.tolist() if isinstance(base_types, Tensor) else list(base_types)
    if source_types is None:
        kinds = sorted(set(base_types), key=str)
        if len(kinds) == 1 and set(kinds) <= {0, 1}:
            kinds = [0, 1]
        if len(kinds) != 2:
            raise InputError(f"cannot infer the source types from base types {kinds}: pass source_types")
        source_types = [kinds[1 - kinds.index(t)] for t in base_types]
    source_types = source_types.tolist() if isinstance(source_types, Tensor) else list(source_types)
    if len(base_types) != len(base_acts) or len(source_types) != len(source_acts):
        raise InputError(f"{len(base_types)} base / {len(source_types)} source types for {len(base_acts)} pairs")
    return torch.cat([base_acts, source_acts]), base_types + source_types


def find_direction(method: str, base_acts: Tensor, source_acts: Tensor, base_types: Sequence | Tensor,
                   source_types: Sequence | Tensor | None = None, *, seed: int = 0) -> Tensor | None:
    """A unit ``[d]`` direction by ``method`` from ``base_acts [n, d]`` and ``source_acts [n, d]``.

    ``method``: ``probe``, ``mean``, ``pca``, ``kmeans``, ``lda``, ``random`` (seeded), or
    ``vanilla`` (returns None: patch the whole vector). DAS is trained on the model's outputs
    instead: :func:`interp.methods.train_das`.
    """
    if method == "vanilla":
        return None
    if method == "random":
        return random_direction(base_acts.shape[-1], seed)
    if method == "das":
        raise InputError("das is trained against the model's outputs, not fit to activations: use "
                         "interp.methods.train_das(hm, pairs, site)")
    if method not in DIRECTION_METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    acts, labels = stack_sides(base_acts, source_acts, base_types, source_types)
    return DIRECTION_METHODS[method](acts, labels, seed=seed)
