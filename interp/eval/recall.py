"""Factual recall with a counterfactual in context: which heads choose between the in-context and the
memorised answer, and what scaling them does (Yu, Merullo & Pavlick 2023).

>>> import interp
>>> from interp.eval.recall import recall_scaling
>>> from interp.suites import recall
>>> hm, suite = interp.models.tiny("llama"), recall.load("builtin:capitals")
>>> items = suite.items(hm.tokenizer)[:4]
>>> scaling = recall_scaling(hm, suite, items, heads=[(1, 0)], factors=[-1.5, 1.0], max_new_tokens=3)
>>> sorted(set(scaling.summary.metric))
['in_context', 'logit_diff', 'memorised', 'other', 'prefers_in_context']
>>> set(scaling.results.answer) <= {"in_context", "memorised", "other"}
True

**A head's value vectors under grouped-query attention.** Scaling a head's value vectors by ``f``
at every position multiplies that head's attention output ``z = Σ_j A_j v_j`` by ``f`` at every
position, because the output is linear in the values. Under GQA a key/value head is shared by
several query heads (SmolLM2: 3 query heads per KV head), so scaling the KV head's ``v`` would scale
all of them at once. Here "head" means a *query* head and its values are scaled as they enter that
head's weighted sum: ``ScaleHeads("z.L", {h: f})`` at every prompt and generated position
(``where="all"``) — identical to scaling its value vectors, for that head alone. Without GQA
(Pythia, the paper's models) this is exactly the paper's intervention. For speed the factors of a
sweep are stacked along the batch (one row per prompt × factor, each row scaled by its own
factor), so one greedy generation serves every factor; the tests check it row for row against
``hm.generate(..., interventions=[ScaleHeads(...)], where="all")``.

**Scoring.** Greedy generation of ``max_new_tokens``; the continuation up to the suite's next stop
marker (the next line / question) is ``in_context`` or ``memorised`` when it names that capital
(the earlier one if both), else ``other``. The same generation also records, at the prompt's last
token, ``logit_diff`` = logit(memorised) − logit(in-context) (first tokens, the quantity the
attribution decomposes) and so whether the model *prefers* the in-context answer of the two.
Factor 1 is the unintervened model (multiplying by 1 is exact; run once, shared by every head).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from interp.errors import InputError
from interp.eval.finite import check_finite
from interp.eval.head_attribution import HeadAttribution, head_attribution
from interp.eval.recall_config import DEFAULT_FACTORS as DEFAULT_FACTORS  # still importable from here
from interp.eval.recall_config import DEFAULT_SUITE, DEFAULTS, Head, RecallConfig, check_heads
from interp.graph.generation import generate
from interp.interventions.scale_heads import ScaleHeads
from interp.io import write_run
from interp.progress import progress_bar
from interp.stats import wilson_interval
from interp.suites import recall as recall_suites
from interp.suites.recall import ANSWERS, RecallItem, RecallSuite, split
from interp.viz.heads import recall_figures


def known_facts(hm, suite: RecallSuite, items: Sequence[RecallItem], *, max_new_tokens: int = DEFAULTS.max_new_tokens,
                batch_size: int = DEFAULTS.batch_size) -> tuple[list[RecallItem], pd.DataFrame]:
    """The items whose capital the model gives *without* the counterfactual: the greedy answer names
    it, or its first token is the capital's first token. Returns (known items, one row per item)."""
    items = _check_items(items)
    rows = []
    for chunk in _chunks(items, batch_size):
        generation = generate(hm, [item.plain for item in chunk], max_new_tokens=max_new_tokens)
        for item, text, first in zip(chunk, generation.texts, generation.new_tokens[:, 0].tolist()):
            named = item.memorised in suite.answer_segment(text)
            rows.append({"country": item.country, "memorised": item.memorised, "continuation": text,
                         "known": named or first == _first_token(hm, item.memorised)})
    table = pd.DataFrame(rows)
    return [item for item, known in zip(items, table.known) if known], table


def recall_attribution(hm, items: Sequence[RecallItem], *, batch_size: int = 16) -> HeadAttribution:
    """Direct logit attribution to ``logit(memorised) − logit(in-context)`` (first tokens) at the
    last prompt token: positive heads push toward the memorised answer ("memory heads")."""
    items = _check_items(items)
    return head_attribution(hm, [item.prompt for item in items], [" " + item.memorised for item in items],
                            [" " + item.in_context for item in items], batch_size=batch_size)


@dataclass
class RecallScaling:
    """``results``: one row per condition × item (the answer and the continuation);
    ``summary``: one row per condition × rate (``in_context``, ``memorised``, ``other``) with
    ``value``, ``n`` and a 95 % Wilson interval."""

    results: pd.DataFrame
    summary: pd.DataFrame
    heads: list[Head]

    def rate(self, heads: str, factor: float, answer: str = "in_context") -> float:
        rows = self.summary[(self.summary.heads == heads) & (self.summary.factor == factor)
                            & (self.summary.metric == answer)]
        if rows.empty:
            raise InputError(f"no condition heads={heads!r} factor={factor} in this run")
        return float(rows.value.iloc[0])


def head_label(heads: Sequence[Head]) -> str:
    """``[(14, 3), (20, 1)]`` -> ``"L14.H3+L20.H1"``."""
    return "+".join(f"L{layer}.H{head}" for layer, head in heads)


def recall_scaling(hm, suite: RecallSuite, items: Sequence[RecallItem],
                   heads: str | Sequence[Head] = DEFAULTS.heads, factors: Sequence[float] = DEFAULTS.factors, *,
                   attribution: HeadAttribution | None = None, together: bool = False,
                   max_new_tokens: int = DEFAULTS.max_new_tokens, batch_size: int = DEFAULTS.batch_size,
                   progress: bool = False) -> RecallScaling:
    """Rates of in-context / memorised / other answers per head (alone) and factor.

    ``heads``: ``[(layer, head), ...]``, or ``"top:K"`` / ``"memory:K"`` (the K heads pushing hardest
    toward the memorised answer) or ``"context:K"`` (toward the in-context one), chosen from
    ``attribution`` (computed on ``items`` when not given — pass one from training items to keep
    ``items`` held out). ``together=True`` adds the condition "all chosen heads scaled at once".
    ``progress``: a bar over the conditions, on a terminal only. The settings are checked as
    :class:`~interp.eval.recall_config.RecallConfig` checks them (``together`` is off by default here).
    """
    items = _check_items(items)
    config = RecallConfig(heads=heads, factors=factors, together=together, max_new_tokens=max_new_tokens,
                          batch_size=batch_size).validate()
    factors = config.factors
    chosen = resolve_heads(hm, config.heads, attribution, items)
    conditions = [[head] for head in chosen] + ([chosen] if together and len(chosen) > 1 else [])
    rows, baseline = [], None
    for group in progress_bar(iterable=conditions, total=len(conditions), progress=progress, desc="head scaling",
                              unit="condition"):
        to_run = [f for f in factors if f != 1.0 or baseline is None]
        answers = _answers(hm, suite, items, group, to_run, max_new_tokens, batch_size)
        baseline = answers.get(1.0, baseline)
        for factor in factors:
            for item, (answer, text, logit_diff) in zip(items, answers.get(factor, baseline)):
                rows.append({"heads": head_label(group), "layer": group[0][0] if len(group) == 1 else None,
                             "head": group[0][1] if len(group) == 1 else None, "factor": factor,
                             "country": item.country, "memorised": item.memorised, "in_context": item.in_context,
                             "answer": answer, "logit_diff": logit_diff, "continuation": text})
    results = pd.DataFrame(rows).astype({"layer": "Int64", "head": "Int64"})
    return RecallScaling(results, summarise(results), chosen)


def resolve_heads(hm, heads: str | Sequence[Head], attribution: HeadAttribution | None,
                  items: Sequence[RecallItem] = ()) -> list[Head]:
    """Explicit heads checked against the model, or ``"top:K"``/``"memory:K"``/``"context:K"``."""
    heads = check_heads(heads)
    if isinstance(heads, str):
        kind, _, count = heads.partition(":")
        if attribution is None:
            attribution = recall_attribution(hm, items)
        return attribution.top(int(count), "negative" if kind == "context" else "positive")
    for layer, head in heads:
        if not 0 <= layer < hm.n_layers or not 0 <= head < hm.n_heads:
            raise InputError(f"head (layer {layer}, head {head}) is out of range: the model has {hm.n_layers} layers "
                             f"of {hm.n_heads} heads")
    return heads


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per (heads, factor): the rate of each answer kind (``in_context``, ``memorised``, ``other``),
    ``prefers_in_context`` (share of prompts whose in-context first token out-scores the memorised
    one) with 95 % Wilson intervals, and the mean ``logit_diff`` (memorised − in-context) with a
    normal 95 % interval; columns ``metric, value, n, ci_low, ci_high``."""
    rows = []
    keys = ["heads", "layer", "head", "factor"]
    for key, group in results.groupby(keys, sort=False, dropna=False):
        n = len(group)
        rates = {answer: float((group.answer == answer).mean()) for answer in ANSWERS}
        rates["prefers_in_context"] = float((group.logit_diff < 0).mean())
        for metric, rate in rates.items():
            low, high = wilson_interval([rate], [n])
            rows.append({**dict(zip(keys, key)), "metric": metric, "value": rate, "n": n,
                         "ci_low": float(low[0]), "ci_high": float(high[0])})
        mean = float(group.logit_diff.mean())
        half = 1.959964 * float(group.logit_diff.std()) / math.sqrt(n) if n > 1 else math.nan
        rows.append({**dict(zip(keys, key)), "metric": "logit_diff", "value": mean, "n": n,
                     "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows).astype({"layer": "Int64", "head": "Int64"})


class _PromptLogits:
    """Reads (never writes) the logits of the prompt's last token at the first generation step."""

    site = "logits"

    def __init__(self):
        self.last: Tensor | None = None

    def __call__(self, act: Tensor, ctx) -> None:  # act: [batch, pos, vocab], prompts left-padded
        if self.last is None:
            self.last = act[:, -1].detach().float().cpu()


def _answers(hm, suite: RecallSuite, items: Sequence[RecallItem], group: Sequence[Head], factors: Sequence[float],
             max_new_tokens: int, batch_size: int) -> dict[float, list[tuple[str, str, float]]]:
    """Greedy answers of every item under each factor (``group``'s heads scaled) as (answer kind,
    continuation, logit(memorised) − logit(in-context) at the prompt's last token, first tokens),
    generated with the factors stacked along the batch in chunks of at most ``batch_size`` rows."""
    rows = [(factor, item) for factor in factors for item in items]
    by_layer: dict[int, list[int]] = {}
    for layer, head in group:
        by_layer.setdefault(layer, []).append(head)
    answers: dict[float, list[tuple[str, str, float]]] = {factor: [] for factor in factors}
    for chunk in _chunks(rows, batch_size):
        row_factors = torch.tensor([factor for factor, _ in chunk])
        scalings = [ScaleHeads(f"z.{layer}", heads, factor=row_factors)  # one factor per row (prompt × factor)
                    for layer, heads in sorted(by_layer.items())]
        logits = _PromptLogits()
        generation = generate(hm, [item.prompt for _, item in chunk], interventions=[*scalings, logits],
                              max_new_tokens=max_new_tokens, where="all")
        memorised = torch.tensor([_first_token(hm, item.memorised) for _, item in chunk])
        in_context = torch.tensor([_first_token(hm, item.in_context) for _, item in chunk])
        check_finite(logits.last, f"recall, heads {head_label(group)}",
                     lambda i, c=chunk: f"factor {c[i[0]][0]}, country {c[i[0]][1].country!r}: the logit of token "
                                        f"{i[1]} at the prompt's last token")
        rows_index = torch.arange(len(chunk))
        diffs = (logits.last[rows_index, memorised] - logits.last[rows_index, in_context]).tolist()
        for (factor, item), text, diff in zip(chunk, generation.texts, diffs):
            answers[factor].append((suite.score(text, item), text, diff))
    return answers


def _first_token(hm, capital: str) -> int:
    return hm.tokenizer(" " + capital, add_special_tokens=False)["input_ids"][0]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """Consecutive chunks of at most ``size``, as even as possible (no tiny last chunk)."""
    count = -(-len(items) // size)
    even = -(-len(items) // count) if count else size
    return [items[i:i + even] for i in range(0, len(items), even)]


def _check_items(items: Sequence[RecallItem]) -> list[RecallItem]:
    items = list(items)
    if not items:
        raise InputError("no facts to evaluate (the list of recall items is empty)")
    if not all(isinstance(item, RecallItem) for item in items):
        raise InputError("items must be RecallItem objects, e.g. interp.suites.recall.load().items(tokenizer)")
    return items


@dataclass
class RecallResult:
    """Everything :func:`recall` measured: the known-facts filter, the attribution (train items) and
    the scaling sweep (held-out items)."""

    known: pd.DataFrame
    attribution: HeadAttribution
    scaling: RecallScaling
    train: list[RecallItem] = field(default_factory=list)
    held_out: list[RecallItem] = field(default_factory=list)

    def write(self, out: str | Path, meta: dict[str, Any]) -> list[Path]:
        """``results.csv`` (scaling, per item), ``summary.csv`` (rates), ``attribution.csv`` (every
        component), ``known.csv`` (the filter), ``meta.json`` and ``figures/*.html``."""
        paths = write_run(out, self.scaling.results, self.scaling.summary, meta,
                          extra={"attribution": self.attribution.table(), "known": self.known})
        return paths + recall_figures(self.attribution, self.scaling.summary, out)


def recall(hm, suite: str | RecallSuite = DEFAULT_SUITE, heads: str | Sequence[Head] | None = None,
           factors: Sequence[float] | None = None, *, config: RecallConfig | None = None, progress: bool = False,
           **settings: Any) -> RecallResult:
    """The whole protocol: keep the facts the model knows, split them by ``seed``, attribute on the
    train part, scale the chosen heads on the held-out part.

    The settings are ``config`` (a :class:`~interp.eval.recall_config.RecallConfig`, default: its
    defaults) with ``heads``, ``factors`` (``None``: the config's) and any of its other fields given as
    keywords instead or on top: ``n_facts`` caps the number of known facts used (after the filter,
    before the split); ``only_known=False`` skips the filter (every fact is used; ``known`` still
    says which are known); ``seed``, ``held_out``, ``together``, ``max_new_tokens``, ``batch_size``.
    Everything is checked before the first forward pass. ``progress``: a bar over the head-scaling
    conditions, on a terminal only.
    """
    given = {key: value for key, value in {"heads": heads, "factors": factors}.items() if value is not None}
    config = RecallConfig.build(config, **given, **settings).validate()
    suite = recall_suites.load(suite) if isinstance(suite, str) else suite
    if not isinstance(config.heads, str):
        resolve_heads(hm, config.heads, None)  # fail on a bad head before any forward
    items = suite.items(hm.tokenizer)
    known, table = known_facts(hm, suite, items, max_new_tokens=config.max_new_tokens, batch_size=config.batch_size)
    known = known if config.only_known else items
    if len(known) < 2:
        raise InputError(f"the model knows only {len(known)} of {len(items)} facts without context: nothing to split")
    known = known[:config.n_facts] if config.n_facts is not None else known
    train, test = split(known, seed=config.seed, held_out=config.held_out)
    attribution = recall_attribution(hm, train, batch_size=min(config.batch_size, 16))
    scaling = recall_scaling(hm, suite, test, config.heads, config.factors, attribution=attribution,
                             together=config.together, max_new_tokens=config.max_new_tokens,
                             batch_size=config.batch_size, progress=progress)
    return RecallResult(table, attribution, scaling, train, test)
