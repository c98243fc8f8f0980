"""``interp causalgym``: the CausalGym causal-efficacy protocol, written into ``--out DIR``.

    interp causalgym --suite builtin:agreement --tasks agr_sv_num_pp --methods das,mean,random,vanilla \\
        --layers 0:8:2 --out runs/agreement
    interp causalgym --suite builtin:agreement --layers 0:30:2 --out runs/full     # all methods, 400/100 pairs
    interp causalgym --suite runs/full/rows --layers 0:30:2 --out runs/again      # the same pairs, from the rows

For each task, layer and aligned position every method finds a direction on the training pairs
and is scored on the test pairs (log odds-ratio, IIA, behavioural accuracy; selectivity against
the control task unless ``--no-control``). Writes ``results.csv`` (one row per unit, position
and metric), ``summary.csv`` (the published aggregation with 95 % bootstrap CIs, also printed),
``meta.json`` (with ``split_overlap``: per task, the share of test sentences also in training),
``rows/`` (the pairs used, as published rows: ``--suite DIR/rows`` reruns them),
``units/`` (one file per finished unit: rerunning into the same folder resumes),
``directions/`` (safetensors, reloadable with :func:`interp.eval.load_directions`) and
``figures/*.html`` when :mod:`interp.viz` is available.

    interp causalgym --model EleutherAI/pythia-70m --revisions step1000,step8000,step143000 ... --out runs/traj

``--revisions`` runs the same protocol on each training checkpoint (loaded with
``interp.load(model, revision=...)``, from the local Hugging Face cache when offline), as the
experiment :func:`revisions_spec` describes: ``DIR/runs/causalgym__MODEL__REVISION__seedN/`` per
checkpoint, combined ``results.csv``/``summary.csv`` with a ``revision`` column,
``figures/trajectory.html`` (each metric against the training step, one line per method), and
``DIR/experiment.toml`` — the command line as a spec that ``interp run`` reruns.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.commands.summaries import print_experiment_summary, print_summary
from interp.errors import InputError, SuiteError
from interp.eval.causal_efficacy import CausalGymConfig, causal_efficacy, parse_layers, parse_methods
from interp.eval.causalgym.span_labels import recorded_span_labels
from interp.exec import get_executor
from interp.experiments import Experiment, dumps, run_experiment
from interp.folders import check_out as check
from interp.graph.sites import LAYER_RESIDUAL_KINDS
from interp.methods import METHODS
from interp.suites.causalgym_source import open_suite, suite_tasks


def add_parser(subparsers) -> None:
    defaults = CausalGymConfig()  # the defaults, written once
    parser = subparsers.add_parser("causalgym", help="causal efficacy of interpretability methods (CausalGym)")
    parser.add_argument("--suite", default="builtin:agreement",
                        help="CausalGym template file or folder, builtin:NAME (default builtin:agreement), or "
                             "published rows: a folder of train/dev/test files (.jsonl, .json, .csv, .parquet; "
                             "e.g. OUT/rows of an earlier run), a rows file with a split field, or a Hugging Face "
                             "dataset id")
    parser.add_argument("--tasks", type=types.names("task"), default=None,
                        help="comma-separated task names (default: every task of the suite)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--sae", default=argparse.SUPPRESS, metavar="DIR",
                        help="saved SAEs (e.g. from interp sae train --out DIR) for --methods ...,sae: the feature "
                             "that best separates the two types, as a direction")
    parser.add_argument("--layers", type=types.layers, default="all",
                        help="START:STOP[:STEP], N, or N,M,... (default: all)")
    parser.add_argument("--positions", type=types.positions, default="all",
                        help="span indices N,M,... (default: every aligned span)")
    parser.add_argument("--site", default=defaults.site_kind, choices=LAYER_RESIDUAL_KINDS,
                        help="site kind intervened on at each layer")
    add_out_arguments(parser, help="output folder (rerun into it to resume)")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip the control task (no selectivity)")
    parser.add_argument("--strict-splits", action="store_true",
                        help="a template whose fillers cannot keep test sentences out of training is an error "
                             "(default: keep colliding pairs after 20 redraws, warn, record the share in meta.json)")
    parser.add_argument("--seed", type=types.non_negative_int, default=defaults.seed)
    parser.add_argument("--n-train", type=types.int_at_least(2), default=defaults.n_train,
                        help="training pairs per task")
    parser.add_argument("--n-test", type=types.positive_int, default=defaults.n_test, help="test pairs per task")
    parser.add_argument("--das-steps", type=types.positive_int, default=defaults.das.steps,
                        help="DAS training steps (at least 1: an untrained DAS is not DAS)")
    parser.add_argument("--das-batch-size", type=types.positive_int, default=defaults.das.batch_size)
    parser.add_argument("--das-lr", type=types.positive_float, default=defaults.das.lr)
    parser.add_argument("--n-boot", type=types.positive_int, default=defaults.n_boot,
                        help="bootstrap resamples for the CIs")
    parser.add_argument("--no-figures", dest="figures", action="store_false")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where the units run: this process (default) or a Ray cluster")
    parser.add_argument("--ray-address", default=None,
                        help="Ray cluster: auto (the cluster this machine belongs to) or HOST:PORT (default: a "
                             "new local cluster)")
    parser.add_argument("--ray-workers", type=types.positive_int, default=None,
                        help="Ray workers, each loads the model once (default: one per CPU of the cluster)")
    parser.add_argument("--revisions", default=None,
                        help="comma-separated checkpoints (e.g. step1000,step2000): the protocol once per revision, "
                             "a revision column and a trajectory figure")
    add_model_arguments(parser)
    parser.set_defaults(func=run, interrupted=interrupted)


def _check_suite(args: argparse.Namespace) -> None:
    """Read the suite and task names before loading any model (a bad file fails fast)."""
    templates = suite_tasks(args.suite)
    if not templates:
        raise SuiteError(f"{args.suite}: the suite has no tasks")
    for task in args.task_list or []:
        if task not in templates:
            raise SuiteError(f"{args.suite}: no task {task!r}; the tasks are: {', '.join(templates)}")
    if args.strict_splits:  # sampling is cheap: too few fillers fails here, before the model loads
        open_suite(args.suite, seed=args.seed, sizes=(args.n_train, 0, args.n_test), tasks=args.task_list,
                   strict=True)


def interrupted(args: argparse.Namespace) -> str:
    """The Ctrl-C line: how many finished units the folder keeps, and how to resume."""
    if args.revisions is not None:
        return f"finished runs are kept in {args.out}/runs; rerun the same command to resume"
    units = Path(args.out) / "units"
    n = len([p for p in units.glob("*.json") if p.name != "config.json"]) if units.is_dir() else 0
    return f"{n} finished unit{'' if n == 1 else 's'} kept in {args.out}; rerun the same command to resume"


def run(args: argparse.Namespace) -> int:
    args.task_list = args.tasks
    methods = parse_methods(args.methods)  # bad input fails before the model loads
    _check_suite(args)
    if args.revisions is not None:
        return _run_revisions(args, methods)
    config = causalgym_config(args)
    claim = check_out(args)
    executor = _executor(args)
    try:
        hm = load_model(args)
        parse_layers(args.layers, hm.n_layers)  # before the folder is claimed
        claim.take()
        result = causal_efficacy(hm, args.suite, config, out=args.out, progress=True, command=list(sys.argv),
                                 executor=executor)
    finally:
        executor.close()
    out = Path(args.out)
    figures = []
    if args.figures:
        try:
            from interp.viz import write_figures, write_task_figures
        except ImportError as error:  # plotly missing, or interp.viz not there
            print(f"(no figures: {error})", file=sys.stderr)
        else:
            figures = write_figures(result.results, out, summary=result.summary,
                                    position_labels=recorded_span_labels(out))
            figures += write_task_figures(result.summary, out)
    n_units = len(result.records)
    print(f"{hm.name}: {result.results.task.nunique()} task(s), {n_units} units; "
          f"summary = mean over test pairs -> max over positions -> mean over layers -> mean over tasks")
    print_summary(result.summary)
    print(f"\nwrote {out}/results.csv, summary.csv, meta.json, rows/, units/, directions/")
    if figures:
        print("figures: " + ", ".join(str(p) for p in figures))
    return 0


def causalgym_config(args: argparse.Namespace) -> CausalGymConfig:
    """The :class:`~interp.eval.CausalGymConfig` the options ask for (checked: a bad one is named as its option)."""
    das = CausalGymConfig().das
    config = CausalGymConfig.build(
        methods=args.methods, layers=args.layers, positions=args.positions, tasks=args.tasks, control=args.control,
        site_kind=args.site, seed=args.seed, n_train=args.n_train, n_test=args.n_test, n_boot=args.n_boot,
        strict_splits=args.strict_splits, sae=getattr(args, "sae", None),
        das=replace(das, steps=args.das_steps, batch_size=args.das_batch_size, lr=args.das_lr))
    return config.validate(spell=lambda key: "--" + {"site_kind": "site"}.get(key, key).replace("_", "-"))


def _executor(args: argparse.Namespace):
    """``--executor``, ``--ray-address``, ``--ray-workers`` -> an :mod:`interp.exec` executor (Ray connects later)."""
    if args.executor == "local" and (args.ray_address is not None or args.ray_workers is not None):
        raise InputError("--ray-address and --ray-workers need --executor ray")
    if args.executor == "local":
        return get_executor("local")
    return get_executor("ray", address=args.ray_address, num_workers=args.ray_workers)


def revisions_spec(args: argparse.Namespace, methods: list[str]) -> dict:
    """The experiment spec (:mod:`interp.experiments.spec`) that ``--revisions`` runs: one model, one seed."""
    if args.revision is not None:
        raise InputError("give either --revision (one checkpoint) or --revisions (several), not both")
    revisions = [r.strip() for r in args.revisions.split(",") if r.strip()]
    if not revisions:
        raise InputError("--revisions: give checkpoint names separated by commas, e.g. step1000,step2000")
    positions = "all" if args.positions is None else args.positions
    evaluation = {"name": "causalgym", "evaluator": "causalgym", "suite": args.suite,
                  "tasks": args.task_list or "all", "methods": methods, "layers": args.layers,
                  "positions": positions, "site": args.site, "control": args.control, "n_train": args.n_train,
                  "n_test": args.n_test, "n_boot": args.n_boot, "strict_splits": args.strict_splits,
                  "das": {"steps": args.das_steps, "batch_size": args.das_batch_size, "lr": args.das_lr}}
    model = {"name": args.model, "revisions": revisions, "dtype": args.dtype, "device": args.device}
    executor = {"name": "ray", "address": args.ray_address, "num_workers": args.ray_workers}
    return {"out": str(args.out), "seeds": [args.seed], "figures": args.figures, "models": [model],
            "evaluations": [evaluation], "executor": {k: v for k, v in executor.items() if v is not None}
            if args.executor == "ray" else None}


def _run_revisions(args: argparse.Namespace, methods: list[str]) -> int:
    """``--revisions``: the same protocol on every checkpoint, as an experiment (``interp run`` layout)."""
    _executor(args).close()  # only checks the options (Ray connects later)
    data = revisions_spec(args, methods)
    spec = Experiment.from_dict(data, where="interp causalgym", source=dumps(data))
    check(spec.out, "run", {}, overwrite=args.overwrite).take()  # an experiment folder, as `interp run` writes
    result = run_experiment(spec, progress=True, command=list(sys.argv))
    print(f"{args.model}: {len(spec.models[0].revisions)} revision(s); ran {len(result.ran)}, "
          f"{len(result.skipped)} already finished")
    print_experiment_summary(result.summary)
    print(f"\nwrote {spec.out}/results.csv, summary.csv (with a revision column), meta.json, experiment.toml, "
          "runs/ (one folder per revision)")
    figures = [p for p in result.paths if p.suffix == ".html"]
    if figures:
        print("figures: " + ", ".join(str(p) for p in figures))
    return 0
