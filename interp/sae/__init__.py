"""Sparse autoencoders: the model, activation stores, training (several SAEs and layer groups at
once), evaluation, and SAELens's on-disk format.

>>> from interp.sae import SAE
>>> SAE(64, 512, kind="topk", k=16, site="resid_post.0")
SAE(kind='topk', d_in=64, d_sae=512, k=16, site='resid_post.0')

The path: ``store = collect(hm, sites)`` (one pass, the offline default corpus), ``train_saes(store,
[SAESpec(site, d_sae, "topk", k=32), ...], TrainConfig(...))``, ``evaluate(saes, test, hm=hm, blocks=...)``;
layer groups: ``layer_groups(angular_distances(store, sites), threshold=...)`` or ``compare_groups``;
``load(folder)`` reads interp's and SAELens's folders, ``save_saelens`` writes SAELens's.
"""

from interp.sae.activations import Activations, collect
from interp.sae.corpus import installed_docs, token_blocks
from interp.sae.evaluate import evaluate
from interp.sae.features import feature_activations, feature_steer, promoted_tokens
from interp.sae.group_report import compare_groups
from interp.sae.groups import angular_distances, layer_groups
from interp.sae.kinds import KINDS
from interp.sae.model import SAE, SAEConfig
from interp.sae.saelens import load, load_saelens, save_saelens
from interp.sae.splice import Splice
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig

__all__ = ["KINDS", "SAE", "SAEConfig", "Splice", "feature_activations", "feature_steer", "promoted_tokens",
           "Activations", "collect", "installed_docs", "token_blocks", "evaluate", "compare_groups",
           "angular_distances", "layer_groups", "load", "load_saelens", "save_saelens", "train_saes", "SAESpec",
           "TrainConfig"]
