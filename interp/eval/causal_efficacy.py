"""Causal efficacy: the CausalGym protocol end to end, as a resumable sweep.

For every task of a suite, every layer and every aligned position (span), each method finds a
direction from the training pairs' activations at ``site_kind.L`` (DAS is trained on the
counterfactual label; ``vanilla`` patches the whole vector), and the direction is scored on the
test pairs by the one-dimensional interchange: log odds-ratio, interchange-intervention accuracy
(IIA) and the model's behavioural accuracy. With ``control=True`` the same is done on the
control relabelling (`` dog`` / `` give``) and selectivity = score − control score.

>>> import interp, json, tempfile
>>> from interp.eval import causal_efficacy
>>> hm = interp.models.tiny("llama")
>>> suite = tempfile.mktemp(suffix=".json")
>>> _ = open(suite, "w").write(json.dumps({"agr": {"templates": ["The {subject} near the {object}"],
...     "label": "subject", "result_prepend_space": True, "labels": {"sg": ["is"], "pl": ["are"]},
...     "variables": {"subject": {"sg": ["dog", "key"], "pl": ["dogs", "keys"]}, "object": ["car", "house"]}}}))
>>> result = causal_efficacy(hm, suite, methods=["mean", "vanilla"], layers=[1], n_train=4, n_test=2,
...                          control_labels=(" dog", " house"), n_boot=50)   # the tiny vocabulary has no " give"
>>> sorted(result.results.metric.unique())
['behaviour', 'iia', 'odds_ratio', 'selectivity', 'selectivity_iia']
>>> list(result.results.columns)
['model', 'suite', 'task', 'method', 'layer', 'site', 'position', 'control', 'metric', 'value', 'n']
>>> result.subspaces("agr", "mean", 1)[0]            # reusable interventions, one per span
Subspace(site='resid_post.1', basis=[64, 1])

**Units.** A unit is task × layer × method × (task | control). With ``out=DIR`` each finished
unit is written at once to ``DIR/units/`` (one file per unit, atomically; see
:mod:`interp.eval.units`) with its per-example scores, and its directions to
``DIR/directions/TASK/METHOD[-control]/SITE.safetensors`` (:func:`load_directions` gives them
back as :class:`~interp.interventions.Subspace` objects); a rerun into the same folder skips the
units already there, so an interrupted run resumes without losing or repeating finished units.
Each unit is a pure function of the model, the encoded pairs and the unit (:func:`run_unit`), so
units run anywhere: ``executor="local"`` (in this process, the default) or on a Ray cluster
(``executor=RayExecutor(address="auto")``, see :mod:`interp.exec`), with the same tables.
At the end ``results.csv``, ``summary.csv`` and ``meta.json`` are written (``meta.json`` last).

**Tables.** ``results``: one row per unit, position and metric (``odds_ratio``, ``iia``,
``behaviour`` on both the task and the control (``control`` column); ``selectivity`` and
``selectivity_iia`` = task − control, on the task rows), each the mean over the ``n`` test
pairs. ``summary`` (:func:`interp.eval.aggregate.summarize`): the published aggregation — mean
over examples, max over positions, mean over layers, mean over tasks — per method, with 95 %
bootstrap intervals over examples, for every task and for ``task == "all"``.

**Modules.** The settings: :class:`~interp.eval.causalgym.config.CausalGymConfig` (defaults
written once, validated once); the plan (tasks loaded, encoded, checked):
:mod:`interp.eval.causalgym.plan`; one unit: :mod:`interp.eval.causalgym.unit`; the sweep:
:mod:`interp.eval.causalgym.sweep`; the result and directions on disk:
:mod:`interp.eval.causalgym.result`. This module gathers their public names.
"""

from interp.eval.causalgym.config import (
    SITE_KINDS,
    CausalGymConfig,
    check_control_labels,
    parse_layers,
    parse_methods,
    parse_tasks,
)
from interp.eval.causalgym.result import (
    RESULT_COLUMNS,
    CausalEfficacyResult,
    load_directions,
    results_table,
    save_directions,
)
from interp.eval.causalgym.sweep import causal_efficacy, computation_paths
from interp.eval.causalgym.unit import Sweep, Unit, run_unit

__all__ = ["RESULT_COLUMNS", "SITE_KINDS", "CausalEfficacyResult", "CausalGymConfig", "Sweep", "Unit",
           "causal_efficacy", "check_control_labels", "computation_paths", "load_directions", "parse_layers",
           "parse_methods", "parse_tasks", "results_table", "run_unit", "save_directions"]
