"""Arguments shared by CLI subcommands."""

from __future__ import annotations

import argparse

import torch

from interp import models
from interp.folders import check_out as check

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default",
                        help="hub id, local directory, .gguf file, or 'default' (the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")


def load_model(args: argparse.Namespace):
    return models.load(args.model, dtype=DTYPES[args.dtype], device=args.device, revision=args.revision)


# Options that say how or where to run, or what to print, not what is computed.
NOT_SETTINGS = frozenset({"func", "command", "out", "overwrite", "debug", "interrupted", "figures", "executor",
                          "ray_address", "ray_workers", "dry_run", "task_list"})


def add_out_arguments(parser: argparse.ArgumentParser, *, required: bool = True,
                      help: str = "output folder") -> None:
    """``--out DIR`` and ``--overwrite`` (see :mod:`interp.folders`)."""
    parser.add_argument("--out", required=required, default=None, help=help)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a folder that another command or other settings wrote (its previous "
                             "output files are removed first)")


def run_settings(args: argparse.Namespace) -> dict:
    """The options that define a run (everything but :data:`NOT_SETTINGS`), for the folder's owner record."""
    return {key: value for key, value in sorted(vars(args).items()) if key not in NOT_SETTINGS}


def check_out(args: argparse.Namespace, out=None, settings: dict | None = None):
    """Check ``--out`` before any model load; returns the :class:`~interp.folders.FolderClaim` to take."""
    return check(args.out if out is None else out, args.command, run_settings(args) if settings is None else settings,
                 overwrite=args.overwrite)
