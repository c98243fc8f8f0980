"""Evaluators: they score a model on suites and return tidy pandas tables.

>>> from interp.eval import syntaxgym      # region surprisals and prediction accuracy
"""

from interp.eval.syntaxgym import SyntaxGymResult, syntaxgym

__all__ = ["SyntaxGymResult", "syntaxgym"]
