"""Experiments as files: a TOML spec of models × revisions × seeds × evaluations, run into one folder.

>>> from interp.experiments import Experiment, run_experiment, rebuild
>>> spec = Experiment.from_toml_text('out = "runs/x"\\nmodels = ["default"]\\n[[evaluations]]\\n'
...                                  'evaluator = "causalgym"\\nsuite = "builtin:agreement"\\nlayers = "0:2"')
>>> [run.folder for run in spec.runs()]
['causalgym-agreement__default__default__seed0']

* :mod:`interp.experiments.spec`: the spec (:class:`Experiment`) and its plan of runs; every key
  documented there. :mod:`~interp.experiments.options`: the evaluators' options in a spec;
  :mod:`~interp.experiments.checks`: the checks that name a bad value's place.
* :mod:`interp.experiments.runner`: :func:`run_experiment` writes the folder, resuming.
* :mod:`interp.experiments.report`: :func:`rebuild` recomputes a folder's tables and figures.
* :mod:`interp.experiments.toml_text`: :func:`dumps` writes a spec (a command line as a file).
"""

from interp.experiments.report import Report, rebuild
from interp.experiments.runner import ExperimentResult, run_experiment
from interp.experiments.spec import Evaluation, Experiment, ExperimentModel, Run
from interp.experiments.toml_text import dumps

__all__ = ["Evaluation", "Experiment", "ExperimentModel", "ExperimentResult", "Report", "Run", "dumps", "rebuild",
           "run_experiment"]
