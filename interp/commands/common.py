"""Arguments shared by CLI subcommands."""

from __future__ import annotations

import argparse

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default",
                        help="hub id, local directory, .gguf file, or 'default' (the embedded SmolLM2-135M)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")


def load_model(args: argparse.Namespace):
    import interp

    return interp.load(args.model, dtype=DTYPES[args.dtype], device=args.device, revision=args.revision)
