"""An experiment file's ``suite`` may be published rows (a folder of splits), and ``strict_splits`` is its
key for the strict sampling of templates."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import AGREEMENT_LARGE, FIXTURES

from interp.errors import InputError, SuiteError
from interp.experiments import Experiment, run_experiment
from interp.experiments.spec import suite_hash
from interp.suites.causalgym_source import open_suite, save_rows

TASK = AGREEMENT_LARGE
CLEFT = FIXTURES / "causalgym_cleft.json"


def spec(model, suite, out, extra: str = "", n_train: int = 8) -> Experiment:
    return Experiment.from_toml_text(f"""
out = "{out}"
[[models]]
name = "{model}"
[[evaluations]]
name = "agr"
evaluator = "causalgym"
suite = "{suite}"
methods = ["mean", "vanilla"]
layers = "0"
control = false
n_train = {n_train}
n_test = 8
n_boot = 20
{extra}
""")


def test_a_rows_folder_is_a_suite_and_strict_splits_a_key(tiny_llama_dir, suite, tmp_path):
    rows = tmp_path / "rows"
    save_rows(rows, open_suite(suite, sizes=(8, 0, 8)))
    experiment = spec(tiny_llama_dir, rows, tmp_path / "out", "strict_splits = true")
    evaluation = experiment.evaluations[0]
    assert evaluation.options["strict_splits"] is True and suite_hash(evaluation) is not None
    run_experiment(experiment, log=lambda line: None)
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(results.task) == {"agr"} and set(results.n) == {8}
    assert spec(tiny_llama_dir, suite, tmp_path / "o").evaluations[0].options["strict_splits"] is False


def test_strict_splits_must_be_a_boolean_and_makes_too_few_fillers_an_error(tiny_llama_dir, tmp_path):
    with pytest.raises(InputError, match=r"evaluations\[0\]\.strict_splits"):
        spec(tiny_llama_dir, CLEFT, tmp_path / "o", 'strict_splits = "yes"')
    strict = spec(tiny_llama_dir, CLEFT, tmp_path / "o", "strict_splits = true", n_train=40)
    with pytest.raises(SuiteError, match="task 'cleft_fixture' yields only"):
        run_experiment(strict, log=lambda line: None)
