"""What the ``interp sae`` subcommands share: their options, the output folder's owner record, token
blocks of the corpus, the SAEs saved in a folder, and tidy tables.

>>> import pandas as pd
>>> wide = pd.DataFrame({"sae": [0], "site": ["resid_post.0"], "sites": ["resid_post.0"], "kind": ["topk"],
...                      "d_sae": [128], "fvu": [0.2], "l0": [8.0]})
>>> tidy(wide)[["sae", "site", "metric", "value"]]
   sae          site metric  value
0    0  resid_post.0    fvu    0.2
1    0  resid_post.0     l0    8.0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from interp.commands import types
from interp.commands.common import run_settings
from interp.errors import InputError
from interp.folders import check_out
from interp.sae.corpus import token_blocks
from interp.sae.kinds import KINDS
from interp.sae.model import SAE
from interp.sae.saelens import load
from interp.sae.train_config import SAESpec, TrainConfig

ID_COLUMNS = ("sae", "site", "sites", "kind", "d_sae", "k", "group", "approach")
STORE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def add_corpus_arguments(parser: argparse.ArgumentParser, *, tokens: int, context: int = 128) -> None:
    parser.add_argument("--corpus", default=None,
                        help="a folder of .txt/.md/.rst files (default: the installed docs, offline, ~1.16 M tokens)")
    parser.add_argument("--tokens", type=types.positive_int, default=tokens, help="activation tokens to collect")
    parser.add_argument("--context", type=types.int_at_least(2), default=context, help="tokens per corpus block")
    parser.add_argument("--collect-batch-size", type=types.positive_int, default=16,
                        help="blocks per forward while collecting")


def add_training_arguments(parser: argparse.ArgumentParser, *, d_sae: str, steps: int, batch_size: int,
                           store_dtype: str) -> None:
    parser.add_argument("--kind", default="topk", choices=KINDS, help="SAE kind")
    parser.add_argument("--d-sae", type=types.names("size"), default=d_sae,
                        help="features per SAE; several sizes (N,M) train in the same pass")
    parser.add_argument("--k", type=types.positive_int, default=32, help="features per token (topk)")
    parser.add_argument("--l1", type=types.positive_float, default=5.0, help="L1 coefficient (relu)")
    parser.add_argument("--l0", type=types.positive_float, default=1.0, help="L0 coefficient (jumprelu)")
    parser.add_argument("--lr", type=types.positive_float, default=1e-3)
    parser.add_argument("--steps", type=types.positive_int, default=steps)
    parser.add_argument("--batch-size", type=types.positive_int, default=batch_size, help="activation tokens per step")
    parser.add_argument("--warmup", type=types.non_negative_int, default=20, help="learning-rate warm-up steps")
    parser.add_argument("--test-tokens", type=types.positive_int, default=2048,
                        help="collected tokens held out for the evaluation")
    parser.add_argument("--checkpoint-every", type=types.positive_int, default=100,
                        help="steps between checkpoints (a rerun resumes from the last)")
    parser.add_argument("--store-dtype", default=store_dtype, choices=sorted(STORE_DTYPES),
                        help="how the activations are kept (float16 halves the memory)")
    parser.add_argument("--seed", type=types.non_negative_int, default=0)
    parser.add_argument("--max-norm-ratio", type=types.positive_float, default=None,
                        help="leave out tokens whose activation norm is over this many times the median "
                             "(massive activations; default: keep all, warn when they dominate)")


def feature_indices(text: str) -> list[int]:
    """``"3,17"`` -> ``[3, 17]``: feature indices, at least one, each a non-negative integer."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = [-1]
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"must be feature indices N,M,... (e.g. 3,17), not {text!r}")
    return values


def sizes(args: argparse.Namespace) -> list[int]:
    try:
        values = [int(size) for size in args.d_sae]
    except ValueError:
        values = [0]
    if any(v < 1 for v in values):
        raise InputError(f"--d-sae must be positive integers separated by commas, not {','.join(args.d_sae)!r}")
    return values


def spec_of(args: argparse.Namespace, site, d_sae: int) -> SAESpec:
    """The SAE the options describe (checked before any model loads)."""
    return SAESpec(site, d_sae, args.kind, k=args.k if args.kind == "topk" else None, l1_coefficient=args.l1,
                   l0_coefficient=args.l0, lr=args.lr)


def config_of(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                       lr_warmup_steps=min(args.warmup, args.steps), sparsity_warmup_steps=max(1, args.steps // 4),
                       dead_steps=max(1, min(250, args.steps // 4)), checkpoint_every=args.checkpoint_every,
                       log_every=max(1, min(10, args.steps // 20)))


def claim_out(args: argparse.Namespace):
    """Check ``--out`` for ``interp sae COMMAND`` with these settings (nothing is created yet)."""
    settings = {k: v for k, v in run_settings(args).items() if k != "sae_command"}
    return check_out(args.out, args.command, settings, overwrite=args.overwrite)


def corpus_of(args: argparse.Namespace):
    if args.corpus is None:
        return None
    if not Path(args.corpus).expanduser().is_dir():
        raise InputError(f"--corpus {args.corpus}: not a folder (give a folder of .txt, .md or .rst files)")
    return str(Path(args.corpus).expanduser())


def blocks_after(hm, corpus, *, context: int, skip_tokens: int, n_blocks: int) -> Tensor:
    """``[n_blocks, context]`` token blocks of the corpus, starting after its first ``skip_tokens`` tokens."""
    skip = -(-skip_tokens // context)
    blocks = token_blocks(corpus, hm.tokenizer, context=context, max_tokens=(skip + n_blocks) * context)
    if blocks.shape[0] <= skip:
        raise InputError(f"the corpus has only {blocks.shape[0] * context} tokens; nothing is left after skipping "
                         f"{skip_tokens} (lower --skip-tokens)")
    return blocks[skip:skip + n_blocks]


def collected_blocks(tokens: int, context: int) -> int:
    """How many corpus blocks :func:`interp.sae.activations.collect` reads for ``tokens`` (skip_first on)."""
    return -(-(tokens + -(-tokens // context)) // context)


def saes_in(folder: str | Path) -> list[tuple[Path, SAE]]:
    """Every SAE saved in ``folder`` (itself one, or up to two levels down; interp or SAELens format),
    each once: a SAELens copy of an SAE already found is skipped."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"--sae {folder}: not a folder (give an SAE folder, or one holding SAEs, such as the "
                         "--out of interp sae train)")
    found: list[tuple[Path, SAE]] = []
    candidates = [root, *sorted(root.glob("*")), *sorted(root.glob("*/*"))]
    for path in sorted((c for c in candidates if (c / "config.json").is_file() or (c / "cfg.json").is_file()),
                       key=lambda c: (not (c / "config.json").is_file(), str(c))):
        sae = load(path)
        if not any(other.sites == sae.sites and other.W_dec.shape == sae.W_dec.shape
                   and torch.equal(other.W_dec, sae.W_dec) for _, other in found):
            found.append((path, sae))
    if not found:
        raise InputError(f"--sae {folder}: no saved SAE there (a folder with config.json + sae.safetensors, or "
                         "SAELens's cfg.json + sae_weights.safetensors)")
    return found


def tidy(wide: pd.DataFrame) -> pd.DataFrame:
    """One row per SAE x site x metric: the id columns present, then ``metric`` and ``value``."""
    ids = [c for c in ID_COLUMNS if c in wide.columns]
    return wide.melt(id_vars=ids, var_name="metric", value_name="value")
