"""Resuming a steering sweep: each finished chunk of generations (layer × a batch of rows) is a unit in
``out/units/`` (:class:`~interp.eval.units.UnitLog`), so a rerun into the same folder skips them.

>>> import tempfile
>>> units = SteeringUnits(tempfile.mkdtemp(), {"model": "m", "layers": [9]})
>>> units.get(9, 0) is None
True
>>> units.put(9, 0, [{"metric": "behaviour", "value": 1.0}], [{"text": "good"}])
>>> units.get(9, 0)
([{'metric': 'behaviour', 'value': 1.0}], [{'text': 'good'}])

A rerun with other settings (model, contrast, layers, coefficients, prompts, decoding) into the same
folder is an error naming them, rather than a silent mix. Sampled chunks are seeded by their own
first row, so a resumed sweep gives the tables of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from interp.eval.units import UnitLog


class SteeringUnits:
    """The finished chunks of one steering sweep (nothing is kept when ``out`` is None)."""

    def __init__(self, out: str | Path | None, settings: dict[str, Any]):
        self.log = None if out is None else UnitLog(out, settings)

    @classmethod
    def of_sweep(cls, out: str | Path | None, hm, contrast, config) -> SteeringUnits:
        """The units of a sweep of ``hm`` along ``contrast`` with ``config`` (what makes its units comparable)."""
        if out is None:
            return cls(None, {})
        behaviour = config.behaviour
        if callable(behaviour):
            behaviour = getattr(behaviour, "__qualname__", type(behaviour).__name__)
        sentences = json.dumps([list(contrast.positive), list(contrast.negative)])
        return cls(out, {"model": getattr(hm, "name", None), "revision": getattr(hm, "revision", None),
                         "contrast": contrast.name, "sentences": hashlib.sha256(sentences.encode()).hexdigest()[:16],
                         **asdict(replace(config, behaviour=behaviour))})

    @staticmethod
    def key(layer: int, start: int) -> str:
        return f"layer{layer}/rows{start}"

    def get(self, layer: int, start: int) -> tuple[list[dict], list[dict]] | None:
        """``(records, texts)`` of a finished chunk, or None."""
        if self.log is None or not self.log.done(self.key(layer, start)):
            return None
        unit = self.log.read(self.key(layer, start))
        return unit["records"], unit["texts"]

    def put(self, layer: int, start: int, records: list[dict], texts: list[dict]) -> None:
        if self.log is not None:
            self.log.write(self.key(layer, start), {"records": records, "texts": texts})

    def count(self) -> int:
        return 0 if self.log is None else len(self.log.records())
