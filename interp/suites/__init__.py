"""Suites: readers for SyntaxGym suites, CausalGym templates and rows, and the built-ins.

>>> from interp.suites import syntaxgym, causalgym
>>> suite = syntaxgym.load("builtin:number_pp")
>>> tasks = causalgym.load_templates("builtin:agreement", seed=0)
"""

from interp.suites import causalgym, syntaxgym
from interp.suites.builtins import builtin_names

__all__ = ["builtin_names", "causalgym", "syntaxgym"]
