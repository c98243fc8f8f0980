"""Intervention primitives that compose in one forward pass.

>>> import interp
>>> from interp.interventions import Patch, Ablate, Subspace, DAS, ScaleHeads, Steer
>>> hm = interp.models.tiny("llama")
>>> src = hm.run(["The keys to the cabinet"], cache=["resid_post.0"])
>>> out = hm.run(["The key to the cabinets"], interventions=[
...     Patch("resid_post.0", source=src.cache, positions=[2]),     # the subject token
...     ScaleHeads("z.1", {0: 0.5}),
... ])

Each is an ``nn.Module`` with a small config: ``save(folder)`` writes JSON + safetensors,
:func:`load` reads it back without unpickling. Several interventions apply in graph order.
Per-row parameters with :class:`Slots` give every row of one forward its own edit
(see :mod:`interp.interventions.base`).
Sweeps over layers × positions: :func:`patch_sweep`; its first-order estimate:
:func:`attribution_patch` (its top-k checked by :func:`verify_top_k`); steering while generating: :func:`generate`
(at chosen steps: :class:`AtSteps`).
"""

from interp.graph.generation import Generation, generate
from interp.graph.steps import AtSteps
from interp.interventions.ablate import Ablate
from interp.interventions.attribution import attribution_patch, spearman
from interp.interventions.base import Intervention
from interp.interventions.das import DAS, BoundlessDAS
from interp.interventions.function import Apply
from interp.interventions.patch import Patch
from interp.interventions.positions import Slots
from interp.interventions.saving import load
from interp.interventions.scale_heads import ScaleHeads
from interp.interventions.source import Source
from interp.interventions.steer import Steer
from interp.interventions.subspace import Subspace
from interp.interventions.sweep import SweepResult, patch_sweep, serial_patch_sweep
from interp.interventions.verify import verify_top_k

__all__ = [
    "DAS", "Ablate", "Apply", "AtSteps", "BoundlessDAS", "Generation", "Intervention", "Patch", "ScaleHeads", "Slots",
    "Source",
    "Steer", "Subspace", "SweepResult", "attribution_patch", "generate", "load", "patch_sweep", "serial_patch_sweep",
    "spearman", "verify_top_k",
]
