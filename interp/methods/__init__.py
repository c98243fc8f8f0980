"""Methods: ways to find the direction (or subspace) an intervention acts along.

CausalGym's methods, one file each: ``das`` (trained rotation, :func:`train_das`), ``probe``,
``mean``, ``pca``, ``kmeans``, ``lda``, ``random`` (:func:`find_direction`), and ``vanilla``
(full patching, no direction). :func:`score` measures any of them on test pairs.

>>> import interp, torch
>>> from interp.methods import PairData, activations, find_direction, train_das, score
>>> hm = interp.models.tiny("llama")
>>> base = ["The key to the cabinets", "The dog near the houses"]
>>> source = ["The keys to the cabinets", "The dogs near the houses"]
>>> data = PairData.from_texts(hm, base, source, base_positions=[2, 2], source_positions=[3, 3],
...                            base_labels=[" is", " is"], source_labels=[" are", " are"],
...                            base_types=["sg", "sg"], source_types=["pl", "pl"])
>>> b, s = activations(hm, data, "resid_pre.1")             # [n, P, d]; "s" is a token of its own
>>> mean = find_direction("mean", b[:, 0], s[:, 0], data.base_types, data.source_types)
>>> das = train_das(hm, data, "resid_pre.1", steps=2, batch_size=2).interventions[0]
>>> scores = score(hm, data, "resid_pre.1", mean)            # or das, or None (vanilla)
>>> scores.summary()[0]["n"]
2

A direction becomes a reusable intervention: ``Subspace(site, direction, source=..., positions=...)``.
"""

from interp.methods.das import DASResult, train_das, train_das_reference, train_das_sides
from interp.methods.das_config import DASConfig
from interp.methods.directions import DIRECTION_METHODS, METHODS, find_direction, stack_sides
from interp.methods.kmeans import kmeans_direction
from interp.methods.lda import lda_direction
from interp.methods.mean import mean_direction
from interp.methods.pairs import PairData
from interp.methods.pca import pca_direction
from interp.methods.probe import probe_direction
from interp.methods.random_vector import random_direction
from interp.methods.scoring import Scores, as_basis, base_logprobs, score
from interp.methods.sites import activations

__all__ = [
    "DASConfig", "DASResult", "DIRECTION_METHODS", "METHODS", "PairData", "Scores", "activations", "as_basis",
    "base_logprobs",
    "find_direction", "kmeans_direction", "lda_direction", "mean_direction", "pca_direction", "probe_direction",
    "random_direction", "score", "stack_sides", "train_das", "train_das_reference", "train_das_sides",
]
