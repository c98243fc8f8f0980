"""``interp steer``: steer generation along a contrast set's difference of means with a coefficient sweep,
and report per coefficient how often the target behaviour appears and what it costs in fluency.

    interp steer --out runs/steer                                   # built-in sentiment set, the defaults
    interp steer --contrast builtin:formality --layer 4,8 --coefficients -2,-1,0,1,2 --out runs/formal
    interp steer --contrast my_set.json --model EleutherAI/pythia-70m --layer 3 --out runs/pythia

Writes ``results.csv`` (one row per layer x coefficient x prompt x metric), ``summary.csv`` (per layer x
coefficient x metric: mean, 95 % interval, n; also printed), ``generations.csv`` (every continuation and
its token ids), ``figures/steering_curves.html``, ``vectors/layer_L/`` (the steering vector as a ``Steer``
of coefficient 1, loadable with ``interp.interventions.load``) and ``meta.json``. Each finished batch of
generations is kept in ``units/``: rerunning the same command into the same folder resumes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.commands.types import finite_floats
from interp.errors import InputError
from interp.eval.causal_efficacy import parse_layers
from interp.eval.steering import steering_sweep
from interp.eval.steering_config import READS, SteeringConfig
from interp.io import run_metadata
from interp.suites.steering import load_contrast


def add_parser(subparsers) -> None:
    defaults = SteeringConfig()  # the defaults, written once
    parser = subparsers.add_parser("steer", help="steering sweep: behaviour and fluency per coefficient")
    add_out_arguments(parser)
    parser.add_argument("--contrast", default="builtin:sentiment",
                        help="builtin:NAME (sentiment, formality) or a contrast-set .json file")
    parser.add_argument("--layer", "--layers", dest="layers", type=types.layers,
                        default=",".join(map(str, defaults.layers)),
                        help="layer(s) to steer at: N, N,M,... or START:STOP[:STEP] (default: %(default)s)")
    parser.add_argument("--coefficients", default=",".join(f"{c:g}" for c in defaults.coefficients),
                        help="comma-separated coefficients, in units of the mean residual norm "
                             "(default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=types.positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--site", default=defaults.site, help="site kind steered at each layer (default: %(default)s)")
    parser.add_argument("--read", default=defaults.read, choices=READS,
                        help="each contrast sentence's activation: mean over its tokens, or its last token")
    parser.add_argument("--where", default=defaults.where, choices=["all", "prompt", "new"],
                        help="steer the prompt tokens, the new tokens, or both")
    parser.add_argument("--prompts", default=None, help="a text file with one prompt per line "
                        "(default: the contrast set's prompts)")
    parser.add_argument("--sample", action="store_true", help="sample (seeded) instead of greedy decoding")
    parser.add_argument("--samples", type=types.positive_int, default=defaults.samples,
                        help="continuations per prompt (with --sample)")
    parser.add_argument("--temperature", type=types.positive_float, default=defaults.temperature)
    parser.add_argument("--seed", type=types.non_negative_int, default=defaults.seed)
    parser.add_argument("--batch-size", type=types.positive_int, default=defaults.batch_size,
                        help="generated rows per forward batch")
    add_model_arguments(parser)
    # "--coefficients -2,0,2" reads as a value, as Python 3.13's argparse does (older ones see an option)
    parser._negative_number_matcher = re.compile(r"-\.?\d")
    parser.set_defaults(func=run, interrupted=interrupted)


def interrupted(args: argparse.Namespace) -> str:
    """The Ctrl-C line: how many finished batches the folder keeps, and how to resume."""
    units = Path(args.out) / "units"
    n = len([p for p in units.glob("*.json") if p.name != "config.json"]) if units.is_dir() else 0
    return (f"{n} finished batch{'' if n == 1 else 'es'} of generations kept in {args.out}; rerun the same command "
            "to resume")


def run(args: argparse.Namespace) -> int:
    contrast = load_contrast(args.contrast)  # a bad file fails before the model loads
    coefficients = parse_coefficients(args.coefficients)
    prompts = read_prompts(args.prompts) if args.prompts else None
    claim = check_out(args)
    hm = load_model(args)
    layers = parse_layers(args.layers, hm.n_layers)
    claim.take()
    result = steering_sweep(
        hm, contrast, layers=layers, coefficients=coefficients, prompts=prompts, max_new_tokens=args.max_new_tokens,
        site=args.site, read=args.read, where=args.where, sample=args.sample, samples=args.samples,
        temperature=args.temperature, seed=args.seed, batch_size=args.batch_size, out=args.out, progress=True,
    )
    meta = run_metadata(hm, seed=args.seed, command=list(sys.argv), evaluator="steering", contrast=contrast.source,
                        layers=layers, coefficients=coefficients, site=args.site, read=args.read, where=args.where,
                        max_new_tokens=args.max_new_tokens, sample=args.sample, samples=args.samples,
                        temperature=args.temperature, dtype=args.dtype, device=args.device)
    result.write(args.out, meta)
    print(f"steering {hm.name} along {contrast.name!r} ({len(contrast.positive)} vs {len(contrast.negative)} "
          f"sentences) at {args.site}; behaviour = target - opposite words; perplexity under the unsteered model")
    print(result.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwrote {args.out}/results.csv, summary.csv, generations.csv, meta.json, figures/steering_curves.html")
    return 0


def parse_coefficients(text: str) -> list[float]:
    """``"-2,-1,0,1,2"`` -> ``[-2.0, -1.0, 0.0, 1.0, 2.0]``.
    >>> parse_coefficients("-4, 0,4")
    [-4.0, 0.0, 4.0]
    """
    try:
        return finite_floats(text)
    except argparse.ArgumentTypeError:
        raise InputError(f"cannot read coefficients {text!r}: write finite numbers separated by commas, "
                         f"e.g. -2,-1,0,1,2") from None


def read_prompts(path: str) -> list[str]:
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the prompts ({error})") from None
    prompts = [line.rstrip("\n") for line in lines if line.strip()]
    if not prompts:
        raise InputError(f"{path}: no prompts (one per line)")
    return prompts
