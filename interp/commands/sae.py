"""``interp sae``: sparse autoencoders from the shell: train, layer groups, evaluate, look at features.

    interp sae train --out runs/sae                         # TopK SAE at resid_post.6 of the embedded model
    interp sae groups --out runs/groups                     # layer groups over every layer vs one SAE per layer
    interp sae eval --sae runs/sae --out runs/sae-eval      # FVU, L0, dead/dense, loss recovered
    interp sae features --sae runs/sae --out runs/sae-features   # the feature dashboard (HTML)
    interp causalgym --methods probe,sae --sae runs/sae --layers 6 --out runs/cg   # SAE features as directions

Every subcommand runs offline on the embedded model and the default corpus (the documentation that
Python and the installed packages ship) and writes its ``--out`` folder: ``results.csv``,
``summary.csv``, ``meta.json``, ``figures/`` and, for ``train``/``groups``, the SAEs. ``interp sae
COMMAND --help`` shows each one's options.
"""

from __future__ import annotations

import argparse

from interp.commands import sae_eval, sae_train, types
from interp.commands.common import add_model_arguments, add_out_arguments
from interp.commands.sae_common import add_corpus_arguments, add_training_arguments, feature_indices

# ``interp sae train`` collects about this many tokens by default; eval and features read text after them
TRAIN_TOKENS = 50_000
SKIP_TOKENS = 65_536


def _subcommand(commands, name: str, module, help: str, func, interrupted) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=(module.__doc__ or "").strip())
    add_out_arguments(parser)
    parser.add_argument("--no-figures", dest="figures", action="store_false", help="write no figures/")
    parser.set_defaults(command=f"sae {name}", func=func, interrupted=interrupted)
    return parser


def _finish(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of an error")


def _resume(args) -> str:
    return f"checkpoints and finished SAEs kept in {args.out}; rerun the same command to resume"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sae", help="sparse autoencoders: train, layer groups, evaluate, features")
    commands = parser.add_subparsers(dest="sae_command", required=True, metavar="SAE_COMMAND")

    train = _subcommand(commands, "train", sae_train, "collect activations, train SAEs, evaluate them",
                        sae_train.run_train, _resume)
    train.add_argument("--sites", type=types.names("site"), default="resid_post.6",
                       help="sites to train an SAE at, in one pass (N,M,...)")
    add_corpus_arguments(train, tokens=TRAIN_TOKENS)
    add_training_arguments(train, d_sae="1152", steps=300, batch_size=1024, store_dtype="float32")
    train.add_argument("--eval-blocks", type=types.positive_int, default=8,
                       help="corpus blocks (after the collected ones) for the language-model losses")
    train.add_argument("--saelens", action="store_true", help="also write the SAEs in SAELens's format (saelens/)")
    _finish(train)

    groups = _subcommand(commands, "groups", sae_train, "layer groups: one SAE per group vs one per layer",
                         sae_train.run_groups, _resume)
    groups.add_argument("--layers", default="all", help="layers to group: all, START:STOP[:STEP] or N,M,...")
    groups.add_argument("--site", default="resid_post", help="the site kind read at each layer")
    groups.add_argument("--threshold", type=types.positive_float, default=None,
                        help="the fewest groups whose average maximum angular distance is at most this "
                             "(default: 0.1 unless --n-groups)")
    groups.add_argument("--n-groups", type=types.positive_int, default=None, help="this many groups instead")
    add_corpus_arguments(groups, tokens=6144)
    add_training_arguments(groups, d_sae="576", steps=100, batch_size=256, store_dtype="float16")
    groups.set_defaults(test_tokens=1024)
    _finish(groups)

    evaluate = _subcommand(commands, "eval", sae_eval, "FVU, L0, dead/dense features and loss recovered",
                           sae_eval.run_eval, lambda args: f"nothing new was written to {args.out}")
    evaluate.add_argument("--sae", required=True, help="a saved SAE (interp or SAELens) or a folder holding them")
    add_corpus_arguments(evaluate, tokens=4096)
    evaluate.add_argument("--skip-tokens", type=types.non_negative_int, default=SKIP_TOKENS,
                          help="start this far into the corpus (past interp sae train's tokens)")
    evaluate.add_argument("--eval-blocks", type=types.positive_int, default=8,
                          help="corpus blocks for the language-model losses")
    _finish(evaluate)

    features = _subcommand(commands, "features", sae_eval, "feature dashboard: top contexts, promoted tokens",
                           sae_eval.run_features, lambda args: f"nothing new was written to {args.out}")
    features.add_argument("--sae", required=True, help="a saved SAE (interp or SAELens) or a folder holding them")
    features.add_argument("--site", default=None, help="which SAE of the folder (and which layer of a group SAE)")
    features.add_argument("--features", type=feature_indices, default=None,
                          help="feature indices N,M,... (default: the --n-features strongest on the texts)")
    features.add_argument("--n-features", type=types.positive_int, default=20)
    features.add_argument("--k", type=types.positive_int, default=5, help="top contexts per feature")
    features.add_argument("--texts", type=types.positive_int, default=128, help="corpus blocks to read")
    features.add_argument("--context", type=types.int_at_least(2), default=64, help="tokens per block")
    features.add_argument("--corpus", default=None,
                          help="a folder of .txt/.md/.rst files (default: the installed docs)")
    features.add_argument("--skip-tokens", type=types.non_negative_int, default=SKIP_TOKENS,
                          help="start this far into the corpus (past interp sae train's tokens)")
    _finish(features)
