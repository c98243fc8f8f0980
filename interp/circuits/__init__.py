"""Circuits: the graph of heads and MLPs, edge attribution (EAP, EAP-IG), exact edge patching, faithfulness."""

from interp.circuits.attribution import EdgeScores, edge_scores
from interp.circuits.graph import Graph
from interp.circuits.tasks import Task, builtin_task, from_causalgym

__all__ = ["EdgeScores", "Graph", "Task", "builtin_task", "edge_scores", "from_causalgym"]
