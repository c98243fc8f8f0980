"""Shared output for benchmark scripts: a readable table, then one JSON line, also saved to results/."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(), "platform": platform.platform()}


def print_table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for line in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(line, widths))))


def _plain(value):
    """numpy / torch scalars (a pandas cell, a tensor item) as Python numbers; NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
        return None if value != value else value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def report(script: str, headline: dict) -> None:
    """Print the headline JSON line and write it atomically to ``results/<script>.json``."""
    headline = {"benchmark": script, **headline, "machine": machine()}
    line = json.dumps(headline, sort_keys=True, default=_plain)
    RESULTS.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=RESULTS, delete=False, suffix=".tmp") as handle:
        handle.write(json.dumps(headline, indent=2, sort_keys=True, default=_plain) + "\n")
    os.replace(handle.name, RESULTS / f"{script}.json")
    sys.stdout.write(line + "\n")
