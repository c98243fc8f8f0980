"""interp: a hook graph over any PyTorch LM, composable interventions, causal-efficacy evaluators.

>>> import interp
>>> hm = interp.models.tiny("llama")     # or interp.load() for the embedded SmolLM2-135M-Instruct
>>> out = hm.run("The keys to the cabinet", cache=["resid_post.1"])
>>> out.logits.shape[0], out.cache["resid_post.1"].shape[-1]
(1, 64)
"""

from interp import models
from interp.errors import InputError, InterpError, ModelLoadError, SiteError
from interp.graph import Batch, HookedModel, RunOutput
from interp.graph.wrap import wrap
from interp.models import load

__version__ = "0.1.0"

__all__ = [
    "Batch", "HookedModel", "InputError", "InterpError", "ModelLoadError", "RunOutput", "SiteError",
    "load", "models", "wrap", "__version__",
]
