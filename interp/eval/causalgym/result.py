"""What a CausalGym sweep gives back: :class:`CausalEfficacyResult`, its tidy table, its directions.

A unit's directions are saved as ``DIR/directions/TASK/METHOD[-control]/SITE.safetensors``
(:func:`save_directions`, atomically) and come back as :class:`~interp.interventions.Subspace`
objects (:func:`load_directions`, no unpickling).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import Tensor

from interp.display import causal_efficacy_html
from interp.errors import InputError
from interp.interventions import Subspace
from interp.io import atomic_write_bytes

RESULT_COLUMNS = ["model", "suite", "task", "method", "layer", "site", "position", "control", "metric", "value",
                  "n"]


def save_directions(path: str | Path, bases: Tensor, site: str, spans: Sequence[int], **meta: Any) -> Path:
    """Write ``bases [P, d, k]`` (one orthonormal basis per span) atomically as safetensors."""
    metadata = {"site": site, **{k: json.dumps(v) for k, v in meta.items()}}
    tensors = {"bases": bases.detach().float().contiguous().cpu(), "spans": torch.tensor(list(spans))}
    return atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_directions(path: str | Path) -> dict[int, Any]:
    """``{span: Subspace}`` from a file written by :func:`save_directions` (no unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such directions file")
    try:
        with safe_open(str(path), framework="pt") as file:
            site = (file.metadata() or {})["site"]
            bases, spans = file.get_tensor("bases"), file.get_tensor("spans").tolist()
        if bases.ndim != 3 or len(spans) != bases.shape[0]:
            raise ValueError(f"bases of shape {list(bases.shape)} for {len(spans)} spans")
    except Exception as error:  # safetensors raises its own error types for damaged headers and data
        raise InputError(f"{path}: not a directions file written by interp, or damaged ({error}); delete it and "
                         "rerun to recompute the unit") from None
    return {span: Subspace(site, bases[p]) for p, span in enumerate(spans)}


@dataclass
class CausalEfficacyResult:
    """``results``: the tidy per-unit table; ``summary``: the published aggregation with CIs;
    ``records``: per-unit per-example scores; ``out``: the output folder (or None)."""

    results: pd.DataFrame
    summary: pd.DataFrame
    records: list[dict]
    out: Path | None = None
    paths: list[Path] = field(default_factory=list)
    _bases: dict = field(default_factory=dict, repr=False)

    def subspaces(self, task: str, method: str, layer: int, control: bool = False) -> list[Any]:
        """The unit's directions as :class:`~interp.interventions.Subspace` objects, one per span."""
        for record in self.records:
            if (record["task"], record["method"], record["layer"], record["control"]) == (task, method, layer,
                                                                                          control):
                if method == "vanilla":
                    raise InputError("vanilla patching has no direction (it replaces the whole vector)")
                if record["key"] in self._bases:
                    return [Subspace(record["site"], b) for b in self._bases[record["key"]]]
                if self.out is not None and record.get("directions"):
                    return list(load_directions(self.out / record["directions"]).values())
        raise InputError(f"no unit {task}/{method}/layer {layer}{'/control' if control else ''} in this result")

    def table(self, metric: str = "odds_ratio", control: bool = False) -> pd.DataFrame:
        """``layer × position`` means of ``metric`` per task and method (a quick look)."""
        rows = self.results[(self.results.metric == metric) & (self.results.control == control)]
        return rows.pivot_table(index=["task", "method", "layer"], columns="position", values="value")

    def _repr_html_(self) -> str:
        return causal_efficacy_html(self)


def _unit_rows(record: dict, control_record: dict | None, model: str, suite: str) -> list[dict]:
    odds = torch.tensor(record["odds_ratio"], dtype=torch.float64)
    iia = torch.tensor(record["iia"], dtype=torch.float64)
    behaviour = float(torch.tensor(record["behaviour"], dtype=torch.float64).mean())
    n = odds.shape[1]
    rows = []
    for p, span in enumerate(record["positions"]):
        common = {"model": model, "suite": suite, "task": record["task"], "method": record["method"],
                  "layer": record["layer"], "site": record["site"], "position": span, "control": record["control"],
                  "n": n}
        values = {"odds_ratio": float(odds[p].mean()), "iia": float(iia[p].mean()), "behaviour": behaviour}
        if control_record is not None:
            values["selectivity"] = values["odds_ratio"] - float(torch.tensor(control_record["odds_ratio"][p]).double()
                                                                  .mean())
            values["selectivity_iia"] = values["iia"] - float(torch.tensor(control_record["iia"][p]).double().mean())
        rows.extend({**common, "metric": metric, "value": value} for metric, value in values.items())
    return rows


def results_table(records: list[dict], model: str, suite: str) -> pd.DataFrame:
    """The tidy table of unit records (selectivity where the matching control unit is present)."""
    by_key = {(r["task"], r["method"], r["layer"], r["control"]): r for r in records}
    rows = []
    for record in records:
        partner = None if record["control"] else by_key.get((record["task"], record["method"], record["layer"], True))
        rows.extend(_unit_rows(record, partner, model, suite))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


__all__ = ["RESULT_COLUMNS", "CausalEfficacyResult", "load_directions", "results_table", "save_directions"]
