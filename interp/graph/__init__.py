"""The hook graph: canonical sites over PyTorch language models.

>>> import interp
>>> hm = interp.models.tiny("gpt2")
>>> out = hm.run("hello world", cache=["resid_post.0"])
>>> tuple(out.cache["resid_post.0"].shape[::2])
(1, 64)
"""

from interp.graph.hooked_model import ActivationCache, HookedModel, RunOutput
from interp.graph.inputs import Batch, tokenize
from interp.graph.positions import resolve_positions
from interp.graph.runner import HookContext, count_hooks
from interp.graph.sites import parse_site
from interp.graph.steps import AtSteps

__all__ = [
    "ActivationCache", "AtSteps", "Batch", "HookContext", "HookedModel", "RunOutput",
    "count_hooks", "parse_site", "resolve_positions", "tokenize",
]
