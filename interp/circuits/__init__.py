"""Circuits: the graph of heads and MLPs, edge attribution (EAP, EAP-IG), exact edge patching, faithfulness.

>>> import interp
>>> from interp.circuits import Task, edge_scores, faithfulness_curve
>>> hm = interp.models.tiny("llama")
>>> task = Task("toy", ("The dog near the",), ("The key near the",), (" is",), (" are",))
>>> scores = edge_scores(hm, task, method="eap-ig-inputs", steps=2)
>>> curve = faithfulness_curve(hm, task, scores, sizes=[10, 40])
>>> list(curve.table().columns)
['edges', 'kept', 'metric', 'faithfulness']
"""

from interp.circuits.attribution import EdgeScores, edge_scores
from interp.circuits.circuit import FaithfulnessCurve, faithfulness_curve, greedy, prune, top_n
from interp.circuits.graph import Graph
from interp.circuits.patching import EdgePatching, ablate_outside, patch_edges
from interp.circuits.tasks import Task, builtin_task, from_causalgym

__all__ = ["EdgePatching", "EdgeScores", "FaithfulnessCurve", "Graph", "Task", "ablate_outside", "builtin_task",
           "edge_scores", "faithfulness_curve", "from_causalgym", "greedy", "patch_edges", "prune", "top_n"]
