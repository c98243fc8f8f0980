"""Score SyntaxGym suites: region surprisals (bits) and prediction accuracy.

>>> import interp
>>> from interp.eval import syntaxgym
>>> hm = interp.models.tiny("gpt2")
>>> result = syntaxgym(hm, "builtin:number_pp")
>>> sorted(result.summary.prediction.unique())[-1]
'all'
>>> list(result.regions.columns[:6])
['model', 'suite', 'item', 'condition', 'region_number', 'region']

Each sentence is scored after the tokenizer's beginning-of-sequence context (see
:func:`interp.suites.alignment.context_ids`; pass ``bos=None`` for none, in which case the
first token has no surprisal and its region's value is NaN). A region's value combines the
surprisals of its tokens with the suite's metric; a region with no tokens is 0 under ``sum``
and NaN otherwise. A comparison involving NaN is false. Any other non-finite surprisal (NaN/inf
logits) is a :class:`~interp.errors.NumericalError` naming the suite, item, condition and region,
and a suite given twice (the same file, or two suites of one name) is an ``InputError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from interp.display import syntaxgym_html
from interp.errors import InputError
from interp.eval.finite import check_finite
from interp.graph.inputs import Batch
from interp.io import write_run
from interp.progress import progress_bar
from interp.suites.alignment import Bos, SpanEncoding, context_ids, encode_spans
from interp.suites.syntaxgym import Suite, check_distinct, load_all

LN2 = math.log(2.0)


@dataclass
class SyntaxGymResult:
    """``regions``: one row per item × condition × region; ``predictions``: one row per item ×
    prediction; ``summary``: accuracy per suite and prediction, with ``prediction == "all"``
    the share of items passing every prediction."""

    regions: pd.DataFrame
    predictions: pd.DataFrame
    summary: pd.DataFrame

    def accuracy(self, suite: str | None = None) -> float:
        rows = self.summary[self.summary.prediction == "all"]
        if suite is not None:
            rows = rows[rows.suite == suite]
        return float(rows.value.mean())

    def write(self, out: str | Path, meta: dict[str, Any]) -> list[Path]:
        """``results.csv`` (regions), ``predictions.csv``, ``summary.csv`` and ``meta.json``."""
        return write_run(out, self.regions, self.summary, meta, extra={"predictions": self.predictions})

    def _repr_html_(self) -> str:
        return syntaxgym_html(self)


def combine(values: list[float], metric: str) -> float:
    """Combine token surprisals into a region value (``sum``, ``mean``, ``median``, ``max``, ...)."""
    if not values:
        return 0.0 if metric == "sum" else math.nan
    array = np.asarray(values, dtype=np.float64)
    if metric == "sum":
        return float(array.sum())
    if metric == "mean":
        return float(array.mean())
    if metric == "median":
        return float(np.median(array))
    if metric == "max":
        return float(array.max())
    if metric == "min":
        return float(array.min())
    if metric == "range":
        return float(array.max() - array.min())
    raise ValueError(f"unknown metric {metric!r}")


def token_surprisals(hm, encodings: list[SpanEncoding], batch_size: int = 32,
                     progress: bool = False) -> list[list[float]]:
    """Surprisal in bits of every token of each encoding given the ones before it (NaN for the first);
    ``progress``: a bar over the sentences, on a terminal only."""
    out: list[list[float]] = []
    pad = 0 if hm.tokenizer is None or hm.tokenizer.pad_token_id is None else hm.tokenizer.pad_token_id
    bar = progress_bar(total=len(encodings), progress=progress, desc="syntaxgym", unit="sentence")
    for start in range(0, len(encodings), batch_size):
        chunk = encodings[start:start + batch_size]
        bar.update(len(chunk))
        width = max(len(e.ids) for e in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, encoding in enumerate(chunk):
            ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids)
            mask[row, : len(encoding.ids)] = 1
        logits = hm.run(Batch(ids, mask)).logits.float()
        log_probs = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None].to(logits.device))[..., 0]
        bits = (-log_probs / LN2).cpu().double()
        for row, encoding in enumerate(chunk):
            out.append([math.nan] + bits[row, : len(encoding.ids) - 1].tolist())
    bar.close()
    return out


def _check_finite(bits: list[float], encoding: SpanEncoding, suite: Suite, item, cond) -> None:
    """Every surprisal the model gave must be finite (the first token's NaN, with no context, is by design)."""
    def what(index: tuple[int, ...]) -> str:
        t = index[0] + 1
        region = next((cond.region_numbers[k] for k, tokens in enumerate(encoding.span_tokens) if t in tokens), None)
        return f"the surprisal of token {t} (region {region})"

    check_finite(bits[1:], f"suite {suite.name!r} ({suite.source}), item {item.number}, condition {cond.name!r}",
                 what)


def _suites(suite: Suite | str | Path | Iterable) -> list[Suite]:
    if isinstance(suite, Suite):
        return [suite]
    if isinstance(suite, (str, Path)):
        return load_all(suite)
    return [s for entry in suite for s in _suites(entry)]


def syntaxgym(hm, suite: Suite | str | Path | Iterable, *, bos: Bos = "auto", batch_size: int = 32,
              progress: bool = False) -> SyntaxGymResult:
    """Evaluate one suite, a path (file, folder, ``builtin:NAME``) or several, on a HookedModel
    (``progress``: a bar on a terminal)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a whole number of at least 1, not {batch_size!r}")
    suites = check_distinct(_suites(suite))
    model = getattr(hm, "name", type(hm).__name__)
    keys, encodings = [], []
    bos = context_ids(hm.tokenizer, bos)
    for s in suites:
        for item in s.items:
            for cond in item.conditions.values():
                keys.append((s, item, cond))
                encodings.append(encode_spans(hm.tokenizer, cond.spans(), bos))
    surprisals = token_surprisals(hm, encodings, batch_size, progress)

    region_rows: list[dict] = []
    values: dict[tuple[int, Any, str], dict[int, float]] = {}
    for (s, item, cond), encoding, bits in zip(keys, encodings, surprisals):
        _check_finite(bits, encoding, s, item, cond)
        per_region = values.setdefault((id(s), item.number, cond.name), {})
        for k, (number, content) in enumerate(zip(cond.region_numbers, cond.contents)):
            tokens = encoding.span_tokens[k]
            value = combine([bits[t] for t in tokens], s.metric)
            per_region[number] = value
            region_rows.append({
                "model": model, "suite": s.name, "item": item.number, "condition": cond.name,
                "region_number": number, "region": s.region_names.get(number, str(number)),
                "content": content, "metric": f"surprisal_{s.metric}", "value": value, "n": len(tokens),
                "tokens": "|".join(hm.tokenizer.convert_ids_to_tokens([encoding.ids[t] for t in tokens])),
            })

    prediction_rows, summary_rows = [], []
    for s in suites:
        passed_all = []
        per_prediction: dict[int, list[bool]] = {p.index: [] for p in s.predictions}
        for item in s.items:
            def value(region, condition, _item=item, _s=s):
                regions = values[(id(_s), _item.number, condition)]
                return sum(regions.values()) if region is None else regions[region]

            outcomes = []
            for prediction in s.predictions:
                passed = prediction.formula.evaluate(value)
                outcomes.append(passed)
                per_prediction[prediction.index].append(passed)
                prediction_rows.append({"model": model, "suite": s.name, "item": item.number,
                                        "prediction": prediction.index, "formula": prediction.text,
                                        "passed": passed})
            passed_all.append(all(outcomes))
        for prediction in s.predictions:
            outcomes = per_prediction[prediction.index]
            summary_rows.append({"model": model, "suite": s.name, "prediction": str(prediction.index),
                                 "formula": prediction.text, "metric": "accuracy",
                                 "value": float(np.mean(outcomes)), "n": len(outcomes)})
        summary_rows.append({"model": model, "suite": s.name, "prediction": "all",
                             "formula": "all predictions", "metric": "accuracy",
                             "value": float(np.mean(passed_all)) if passed_all else math.nan,
                             "n": len(passed_all)})
    return SyntaxGymResult(pd.DataFrame(region_rows), pd.DataFrame(prediction_rows), pd.DataFrame(summary_rows))
