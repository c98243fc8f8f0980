"""Evaluators: they score a model on suites and return tidy pandas tables.

>>> from interp.eval import syntaxgym      # region surprisals and prediction accuracy
>>> from interp.eval import recall, head_attribution  # in-context vs memorised answers: heads
>>> from interp.eval import causal_efficacy  # the CausalGym protocol: methods × layers × positions
>>> from interp.eval import steering_sweep   # steering: behaviour and fluency per coefficient
"""

from interp.eval.causal_efficacy import CausalEfficacyResult, CausalGymConfig, causal_efficacy, load_directions
from interp.eval.head_attribution import HeadAttribution, head_attribution
from interp.eval.recall import RecallResult, RecallScaling, recall, recall_scaling
from interp.eval.recall_config import RecallConfig
from interp.eval.steering import SteeringResult, steering_sweep
from interp.eval.steering_config import SteeringConfig
from interp.eval.syntaxgym import SyntaxGymResult, syntaxgym

__all__ = ["CausalEfficacyResult", "CausalGymConfig", "HeadAttribution", "RecallConfig", "RecallResult",
           "RecallScaling", "SteeringConfig", "SteeringResult", "SyntaxGymResult", "causal_efficacy",
           "head_attribution", "load_directions", "recall", "recall_scaling", "steering_sweep", "syntaxgym"]
