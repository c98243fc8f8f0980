"""The settings' defaults are written once: the Python API, the command line and the experiment files
all start from :class:`CausalGymConfig` / :class:`DASConfig`."""

import inspect

from interp.cli import build_parser
from interp.commands.causalgym import causalgym_config
from interp.eval import CausalGymConfig, SteeringConfig, causal_efficacy
from interp.experiments.options import CAUSALGYM_DEFAULTS, DAS_DEFAULTS
from interp.experiments.options import causalgym_config as spec_config
from interp.methods import DASConfig, train_das


def test_the_command_line_defaults_are_the_config_defaults(tmp_path):
    args = build_parser().parse_args(["causalgym", "--out", str(tmp_path)])
    assert causalgym_config(args) == CausalGymConfig().validate()


def test_the_experiment_file_defaults_are_the_config_defaults():
    assert DAS_DEFAULTS == DASConfig().to_dict()
    assert spec_config(CAUSALGYM_DEFAULTS, seed=0).validate() == CausalGymConfig().validate()


def test_the_python_api_defaults_are_the_config_defaults():
    assert CausalGymConfig.build() == CausalGymConfig()
    assert inspect.signature(causal_efficacy).parameters["config"].default is None  # None: CausalGymConfig()
    das = inspect.signature(train_das).parameters
    assert das["config"].default is None and all(das[name].default is None for name in DASConfig.RULES)


def test_keyword_settings_build_the_same_config():
    built = CausalGymConfig.build(methods="mean", das_steps=7, das_lr=0.01, n_train=8)
    assert built == CausalGymConfig(methods="mean", n_train=8, das=DASConfig(steps=7, lr=0.01))


def test_the_steer_command_defaults_are_the_steering_config_defaults(tmp_path):
    from interp.commands.steer import parse_coefficients

    args = build_parser().parse_args(["steer", "--out", str(tmp_path)])
    defaults = SteeringConfig()
    assert [int(x) for x in args.layers.split(",")] == list(defaults.layers)
    assert parse_coefficients(args.coefficients) == list(defaults.coefficients)
    assert (args.max_new_tokens, args.site, args.read, args.where, args.samples, args.temperature, args.seed,
            args.batch_size) == (defaults.max_new_tokens, defaults.site, defaults.read, defaults.where,
                                 defaults.samples, defaults.temperature, defaults.seed, defaults.batch_size)
