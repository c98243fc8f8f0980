"""``interp recall``: in-context vs memorised answers — head attribution and head scaling.

    interp recall --out runs/recall
    interp recall --model EleutherAI/pythia-1.4b --heads top:3 --factors=-2,-1.5,-1,0,1,2 --out runs/pythia

Keeps the facts the model knows without context, splits them by ``--seed`` into train and held-out
halves, attributes ``logit(memorised) − logit(in-context)`` to every head on the train half, then
scales the chosen heads' value vectors during greedy generation on the held-out half. Writes
``results.csv`` (one row per head × factor × fact: the answer and the continuation), ``summary.csv``
(per head × factor: in-context / memorised / other answer rates, the share preferring the in-context
first token, the mean logit difference, with 95 % intervals; printed),
``attribution.csv`` (every component's mean direct contribution), ``known.csv`` (the filter),
``meta.json`` and ``figures/head_attribution.html``, ``figures/head_scaling.html``.
"""

from __future__ import annotations

import argparse
import sys

from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.commands.types import finite_floats
from interp.errors import InputError
from interp.eval.recall import recall
from interp.eval.recall_config import DEFAULT_SUITE, RecallConfig
from interp.io import run_metadata
from interp.suites import recall as recall_suites


def add_parser(subparsers) -> None:
    defaults = RecallConfig()  # the defaults, written once
    parser = subparsers.add_parser("recall", help="factual recall: head attribution and head scaling")
    add_out_arguments(parser)
    parser.add_argument("--suite", default=DEFAULT_SUITE, help="a recall suite .json file or builtin:capitals")
    parser.add_argument("--heads", default=format_heads(defaults.heads),
                        help="top:K (memory heads), context:K, or explicit heads such as 14.3,20.1 (layer.head) "
                             "(default: %(default)s)")
    parser.add_argument("--factors", default=",".join(f"{f:g}" for f in defaults.factors),
                        help="comma-separated scaling factors (write --factors=-2,... since they start with '-'; "
                             "default: %(default)s)")
    parser.add_argument("--n-facts", type=types.int_at_least(2), default=defaults.n_facts,
                        help="use at most N known facts (at least 2: one train, one held-out)")
    parser.add_argument("--seed", type=types.non_negative_int, default=defaults.seed, help="train/held-out split")
    parser.add_argument("--max-new-tokens", type=types.positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--batch-size", type=types.positive_int, default=defaults.batch_size,
                        help="generation rows (prompt × factor) at once")
    parser.add_argument("--separately", action="store_true", help="do not also scale the chosen heads together")
    parser.add_argument("--all-facts", action="store_true", help="skip the known-facts filter")
    add_model_arguments(parser)
    parser.set_defaults(func=run, interrupted=lambda args: f"nothing new was written to {args.out}")


def parse_factors(text: str) -> list[float]:
    """``"-2,-1.5,1"`` -> ``[-2.0, -1.5, 1.0]`` (finite numbers, at least one)."""
    try:
        return finite_floats(text)
    except argparse.ArgumentTypeError:
        raise InputError(f"--factors must be comma-separated numbers, each finite, not {text!r}") from None


def format_heads(heads: str | list[tuple[int, int]]) -> str:
    """The ``--heads`` text of a config's heads: ``[(14, 3), (20, 1)]`` -> ``"14.3,20.1"``."""
    return heads if isinstance(heads, str) else ",".join(f"{layer}.{head}" for layer, head in heads)


def recall_config(args: argparse.Namespace) -> RecallConfig:
    """The :class:`RecallConfig` of the parsed arguments, checked, a bad one named as its option."""
    factors, heads = parse_factors(args.factors), parse_heads(args.heads)
    config = RecallConfig(heads=heads, factors=factors, n_facts=args.n_facts, seed=args.seed,
                          together=not args.separately, max_new_tokens=args.max_new_tokens,
                          batch_size=args.batch_size, only_known=not args.all_facts)
    return config.validate(spell=option)


def option(key: str) -> str:
    """The command-line option of a :class:`RecallConfig` field: ``n_facts`` -> ``--n-facts``."""
    return {"together": "--separately", "only_known": "--all-facts"}.get(key, "--" + key.replace("_", "-"))


def parse_heads(text: str) -> str | list[tuple[int, int]]:
    """``"top:3"`` stays as is; ``"14.3,20.1"`` -> ``[(14, 3), (20, 1)]``."""
    if ":" in text:
        return text
    heads = []
    for part in text.split(","):
        layer, dot, head = part.strip().partition(".")
        if not (dot and layer.isdigit() and head.isdigit()):
            raise InputError(f"--heads takes top:K, context:K or layer.head pairs such as 14.3,20.1; not {text!r}")
        heads.append((int(layer), int(head)))
    return heads


def run(args: argparse.Namespace) -> int:
    suite = recall_suites.load(args.suite)  # fail on a bad suite or argument before loading the model
    config = recall_config(args)
    claim = check_out(args)
    hm = load_model(args)
    claim.take()
    result = recall(hm, suite, config=config, progress=True)
    meta = run_metadata(hm, seed=config.seed, command=list(sys.argv), evaluator="recall", suite=suite.source,
                        heads=[list(h) for h in result.scaling.heads], factors=config.factors, dtype=args.dtype,
                        device=args.device, n_known=int(result.known.known.sum()), n_facts=len(result.known),
                        n_train=len(result.train), n_held_out=len(result.held_out))
    result.write(args.out, meta)
    print(report(result))
    print(f"\nwrote {args.out}/results.csv, summary.csv, attribution.csv, known.csv, meta.json, figures/")
    return 0


def report(result) -> str:
    """The printed summary: the filter, the top heads' attributions, and the rates per head × factor."""
    heads = result.attribution.heads().set_index(["layer", "head"]).value
    lines = [f"known facts: {int(result.known.known.sum())} of {len(result.known)}; "
             f"train {len(result.train)}, held-out {len(result.held_out)}",
             "attribution (train, mean logit(memorised) - logit(in-context)): "
             + ", ".join(f"L{layer}.H{head} {heads[(layer, head)]:+.3f}" for layer, head in result.scaling.heads),
             ""]
    summary = result.scaling.summary
    table = summary.pivot_table(index=["heads", "factor"], columns="metric", values="value", sort=False)
    table = table.reindex(columns=["in_context", "memorised", "other", "prefers_in_context", "logit_diff"])
    lines.append(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)
