"""Evaluators: they score a model on suites and return tidy pandas tables.

>>> from interp.eval import syntaxgym      # region surprisals and prediction accuracy
>>> from interp.eval import causal_efficacy  # the CausalGym protocol: methods × layers × positions
"""

from interp.eval.causal_efficacy import CausalEfficacyResult, causal_efficacy, load_directions
from interp.eval.syntaxgym import SyntaxGymResult, syntaxgym

__all__ = ["CausalEfficacyResult", "SyntaxGymResult", "causal_efficacy", "load_directions", "syntaxgym"]
