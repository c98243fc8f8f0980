"""Sparse autoencoders: the model, activation stores, training (several SAEs and layer groups at
once), evaluation, and SAELens's on-disk format.

>>> from interp.sae import SAE
>>> SAE(64, 512, kind="topk", k=16, site="resid_post.0")
SAE(kind='topk', d_in=64, d_sae=512, k=16, site='resid_post.0')
"""

from interp.sae.features import feature_activations, feature_steer, promoted_tokens
from interp.sae.kinds import KINDS
from interp.sae.model import SAE, SAEConfig
from interp.sae.splice import Splice

__all__ = ["KINDS", "SAE", "SAEConfig", "Splice", "feature_activations", "feature_steer", "promoted_tokens"]
