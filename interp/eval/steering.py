"""Steering experiments: a difference-of-means vector from a contrast set, added with a sweep of
coefficients while generating, scored for the behaviour it brings and the fluency it costs.

>>> import interp
>>> from interp.eval.steering import steering_sweep
>>> hm = interp.models.tiny("llama", seed=0)
>>> contrast = {"positive": ["I love it", "so good"], "negative": ["I hate it", "so bad"],
...             "prompts": ["The movie was", "I went"], "words": {"positive": ["love"], "negative": ["hate"]}}
>>> result = steering_sweep(hm, contrast, layers=[0], coefficients=[-1.0, 0.0, 1.0], max_new_tokens=4)
>>> result.table().columns.tolist()
['layer', 'coefficient', 'behaviour', 'target', 'opposite', 'perplexity', 'distinct_2', 'n_tokens', 'n']
>>> len(result.generations)         # one text per layer x coefficient x prompt
6

How it works (the choices, where the issue left them open):

- **Vector.** ``mean(h | positive) - mean(h | negative)`` at ``{site}.{layer}`` (``resid_pre`` by
  default: the residual stream entering the layer). Each sentence contributes the mean over its
  tokens (``read="mean"``) or its last token (``read="last"``); sentences are weighted equally.
  The first token of each sentence is left out (unless it is the only one): it is an attention
  sink whose activations are far from typical (on SmolLM2 its norm is many times the others'),
  so a few sentences that start differently would otherwise dominate the difference.
- **Units.** The vector is scaled to unit length and then to the *mean activation norm* at that
  site (over the same tokens). Coefficient 1 adds a vector as long as a typical
  residual-stream state, so coefficients mean the same at every layer and on every model.
- **Where.** The vector is added at every position of the prompt and of every new token
  (``where="all"``; ``"prompt"`` or ``"new"`` restrict it).
- **Generation.** Greedy by default (``sample=True`` draws with ``temperature``, seeded per
  batch). Rows (coefficient x prompt x sample) are stacked along the batch, each row with its
  own coefficient, prompts left-padded to one common width, ``batch_size`` rows per call.
- **Behaviour.** Word lists (the contrast set's, or ``behaviour={"target": [...], "opposite": [...]}``):
  per text ``target`` = 1 if it has a target word, ``opposite`` = 1 if it has an opposite word,
  ``behaviour = target - opposite``. Or any ``behaviour=callable(text) -> bool | float``.
- **Fluency.** ``perplexity`` of the continuation (up to and including an end-of-text token) given
  its prompt, under the *unsteered* model; ``distinct_2`` = distinct token bigrams / bigrams of the
  continuation (repetition, which perplexity alone rewards).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from interp.errors import InputError
from interp.eval.finite import check_finite
from interp.eval.steering_config import (
    READS,
    Behaviour,
    SteeringConfig,
    check_prompts,
)
from interp.eval.steering_units import SteeringUnits
from interp.graph.inputs import Batch
from interp.interventions.steer import Steer
from interp.io import write_run
from interp.progress import progress_bar
from interp.stats import Z_95, wilson_interval
from interp.suites.steering import ContrastSet, load_contrast
from interp.viz.steering import steering_curves
from interp.viz.write import write_html


# ----------------------------------------------------------------------------- the vector
@dataclass
class SteeringVector:
    """``direction`` (unit, ``[d]``) times ``scale`` (the site's mean activation norm) is coefficient 1."""

    site: str
    direction: Tensor
    scale: float
    raw_norm: float  # length of the difference of means, in the site's own units

    def vector(self, coefficient: float = 1.0) -> Tensor:
        return coefficient * self.scale * self.direction

    def steer(self, coefficient: float = 1.0, positions=None):
        """The :class:`~interp.interventions.Steer` that adds ``coefficient`` units at ``positions``."""
        return Steer(self.site, self.vector(1.0), alpha=coefficient, positions=positions)


def steering_vector(hm, contrast: ContrastSet | Any, site: str, *, read: str = "mean") -> SteeringVector:
    """The difference-of-means direction of ``contrast`` at ``site``, in units of the mean activation norm.

    >>> import interp
    >>> hm = interp.models.tiny("gpt2")
    >>> v = steering_vector(hm, {"positive": ["good day"], "negative": ["bad day"]}, "resid_pre.1")
    >>> round(float(v.direction.norm()), 4), v.scale > 0
    (1.0, True)
    """
    contrast = load_contrast(contrast)
    if read not in READS:
        raise InputError(f"read must be one of {', '.join(map(repr, READS))}, not {read!r}")
    hm.binding(site)
    pos_mean, pos_norm = _sentence_means(hm, site, contrast.positive, read)
    neg_mean, neg_norm = _sentence_means(hm, site, contrast.negative, read)
    diff = pos_mean - neg_mean
    raw = float(diff.norm())
    if raw == 0.0:
        raise InputError(f"the positive and negative sentences of {contrast.name!r} have the same mean at {site}: "
                         f"no direction to steer along")
    return SteeringVector(site, diff / raw, (pos_norm + neg_norm) / 2, raw)


def _sentence_means(hm, site: str, sentences: Sequence[str], read: str) -> tuple[Tensor, float]:
    """Mean over sentences of each sentence's mean (or last) activation; mean norm of non-first tokens."""
    out = hm.run(list(sentences), cache=[site], logits=False)
    acts, batch = out.cache[site].float(), out.batch
    acts = acts.reshape(*acts.shape[:2], -1)  # [batch, pos, d] (per-head sites flattened)
    typical = batch.attention_mask.to(acts.device).bool()  # real tokens but the first (unless it is alone)
    typical[torch.arange(batch.size), batch.offsets.to(acts.device)] = batch.lengths.to(acts.device) == 1
    if read == "last":
        per_sentence = acts[torch.arange(batch.size), batch.last_index.to(acts.device)]
    else:
        per_sentence = (acts * typical[..., None]).sum(1) / typical.sum(1, keepdim=True)
    norms = acts.norm(dim=-1)[typical]
    return per_sentence.mean(0).reshape(out.cache[site].shape[2:]), float(norms.mean())


# ----------------------------------------------------------------------------- behaviour
@dataclass(frozen=True)
class WordBehaviour:
    """Scores a text by whole-word matches (case-insensitive) of target and opposite words.

    >>> WordBehaviour(["good", "great"], ["bad"])("A good, GREAT day; not bad.")
    {'target': 1.0, 'opposite': 1.0, 'behaviour': 0.0}
    """

    target: Sequence[str]
    opposite: Sequence[str] = ()
    _sets: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sets", ({w.lower() for w in self.target}, {w.lower() for w in self.opposite}))

    def __call__(self, text: str) -> dict[str, float]:
        words = set(re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower()))
        target, opposite = float(bool(words & self._sets[0])), float(bool(words & self._sets[1]))
        return {"target": target, "opposite": opposite, "behaviour": target - opposite}


def behaviour_scorer(behaviour: Behaviour, contrast: ContrastSet) -> Callable[[str], dict[str, float]]:
    """Turn ``behaviour`` (None: the contrast set's words; word lists; or a callable) into a scorer."""
    if behaviour is None:
        if not contrast.target_words:
            raise InputError(f"contrast set {contrast.name!r} has no 'words' lists: pass behaviour= word lists "
                             f"or a callable(text) -> bool | float")
        return WordBehaviour(contrast.target_words, contrast.opposite_words)
    if callable(behaviour):
        return _CallableBehaviour(behaviour)
    if isinstance(behaviour, Mapping):
        unknown = set(behaviour) - {"target", "opposite"}
        if unknown or "target" not in behaviour:
            raise InputError(f"behaviour word lists are {{'target': [...], 'opposite': [...]}}; "
                             f"got keys {sorted(behaviour)}")
        return WordBehaviour(_words(behaviour["target"], "target"), _words(behaviour.get("opposite", ()), "opposite"))
    if isinstance(behaviour, Sequence) and not isinstance(behaviour, str):
        return WordBehaviour(_words(behaviour, "target"))
    raise InputError(f"behaviour must be None, word lists or a callable(text) -> bool | float, "
                     f"not {type(behaviour).__name__}")


def _words(words: Any, name: str) -> list[str]:
    if isinstance(words, str) or not all(isinstance(w, str) and w for w in words):
        raise InputError(f"behaviour {name!r} must be a list of non-empty words, not {words!r}")
    return list(words)


@dataclass(frozen=True)
class _CallableBehaviour:
    fn: Callable[[str], Any]

    def __call__(self, text: str) -> dict[str, float]:
        value = self.fn(text)
        if isinstance(value, (bool, np.bool_)):
            return {"behaviour": float(value)}
        try:
            return {"behaviour": float(value)}
        except (TypeError, ValueError):
            raise InputError(f"the behaviour callable must return a bool or a number; it returned {value!r} "
                             f"for {text!r}") from None


# ----------------------------------------------------------------------------- generation
def steered_generate(hm, prompts: Batch | Sequence[str], vector: SteeringVector, coefficients: Sequence[float], *,
                     max_new_tokens: int = 20, where: str = "all", **generate_kwargs):
    """Generate from every row of ``prompts`` with its own coefficient (``coefficients[i]`` units of ``vector``
    on row ``i``), in one batched :func:`~interp.interventions.generate` call; returns its ``Generation``.

    >>> import interp
    >>> hm = interp.models.tiny("gpt2")
    >>> v = steering_vector(hm, {"positive": ["good day"], "negative": ["bad day"]}, "resid_pre.1")
    >>> gen = steered_generate(hm, ["The movie was", "The movie was"], v, [0.0, 5.0], max_new_tokens=3)
    >>> gen.new_tokens.shape
    torch.Size([2, 3])
    """
    batch = hm.tokenize(prompts, padding_side="left")
    if len(coefficients) != batch.size:
        raise InputError(f"{len(coefficients)} coefficients for {batch.size} prompts: give one per prompt")
    alphas = torch.tensor([float(c) for c in coefficients], dtype=torch.float32)  # one per prompt (batch row)
    steer = Steer(vector.site, vector.vector(1.0).float(), alpha=alphas)  # every position, prompt and new tokens
    return hm.generate(batch, interventions=[steer], max_new_tokens=max_new_tokens, where=where, **generate_kwargs)


def _rows(batch: Batch, index: Sequence[int]) -> Batch:
    rows = torch.as_tensor(list(index), dtype=torch.long)
    return Batch(batch.input_ids[rows], batch.attention_mask[rows])


def continuation_mask(new_tokens: Tensor, eos_id: int | None) -> Tensor:
    """``[rows, new]`` 1 for the continuation's tokens: up to and including the first end-of-text token.

    >>> continuation_mask(torch.tensor([[5, 2, 2], [5, 6, 7]]), eos_id=2).tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    if eos_id is None:
        return torch.ones_like(new_tokens)
    is_eos = (new_tokens == eos_id).long()
    before = is_eos.cumsum(1) - is_eos  # end-of-text tokens strictly before each position
    return (before == 0).long()


def continuation_nll(hm, sequences: Tensor, prompt: Batch, mask: Tensor) -> Tensor:
    """``[rows]`` mean negative log-likelihood (nats per token) of each continuation given its prompt,
    under ``hm`` with no intervention."""
    width = prompt.width
    full = Batch(sequences, torch.cat([prompt.attention_mask, mask], 1))
    logits = hm.run(full).logits[:, width - 1:-1].float()  # predictions of the new tokens
    logp = torch.log_softmax(logits, -1).gather(-1, sequences[:, width:, None].to(logits.device))[..., 0]
    mask = mask.to(logp.device, logp.dtype)
    return -(logp * mask).sum(1).cpu() / mask.sum(1).clamp(min=1).cpu()


def distinct_n(tokens: Sequence[int], n: int = 2) -> float:
    """Distinct n-grams / n-grams (NaN when shorter than ``n``).

    >>> distinct_n([1, 2, 1, 2, 1], 2)
    0.5
    """
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan


# ----------------------------------------------------------------------------- the sweep
@dataclass
class SteeringResult:
    """``results``: one row per layer x coefficient x prompt x sample x metric; ``summary``: per layer x
    coefficient x metric (mean, 95 % interval, n); ``generations``: the texts and their token ids (up to
    and including an end-of-text token); ``vectors``: per layer."""

    results: pd.DataFrame
    summary: pd.DataFrame
    generations: pd.DataFrame
    vectors: dict[int, SteeringVector]

    def table(self) -> pd.DataFrame:
        """The summary as one row per layer x coefficient, one column per metric (what the CLI prints)."""
        wide = self.summary.pivot_table(index=["layer", "coefficient"], columns="metric", values="value",
                                        sort=False).reset_index()
        order = [m for m in SUMMARY_METRICS if m in wide.columns]
        n = self.summary.groupby(["layer", "coefficient"], sort=False)["n"].max().reset_index()
        wide = wide[["layer", "coefficient", *order]].merge(n, on=["layer", "coefficient"])
        wide.columns.name = None
        return wide

    def figures(self) -> dict:
        return {"steering_curves": steering_curves(self.summary)}

    def write(self, out: str | Path, meta: dict[str, Any]) -> list[Path]:
        """``results.csv``, ``summary.csv``, ``generations.csv``, ``figures/steering_curves.html``,
        ``vectors/layer_L/`` (a :class:`~interp.interventions.Steer` of coefficient 1) and ``meta.json``."""
        out = Path(out)
        paths = write_html(self.figures(), out)
        for layer, vector in self.vectors.items():
            paths.append(vector.steer(1.0).save(out / "vectors" / f"layer_{layer}"))
        meta = {**meta, "vectors": {str(k): {"site": v.site, "scale": v.scale, "raw_norm": v.raw_norm}
                                    for k, v in self.vectors.items()}}
        return paths + write_run(out, self.results, self.summary, meta, extra={"generations": self.generations})


SUMMARY_METRICS = ("behaviour", "target", "opposite", "perplexity", "distinct_2", "n_tokens")
BINARY_METRICS = ("target", "opposite")


def steering_sweep(hm, contrast: ContrastSet | str | Path | Mapping[str, Any] = "builtin:sentiment",
                   config: SteeringConfig | None = None, *, out: str | Path | None = None, progress: bool = False,
                   **settings: Any) -> SteeringResult:
    """Steer ``prompts`` (default: the contrast set's) along ``contrast`` at each of ``layers`` with each of
    ``coefficients`` (units: the site's mean activation norm) and score every continuation.

    The settings are ``config`` (a :class:`~interp.eval.steering_config.SteeringConfig`, default: its
    defaults) with any of its fields given as keywords instead or on top (``layers=[9]``,
    ``coefficients=[...]``, ``max_new_tokens``, ``sample``, ...). Everything is checked before the
    first forward pass: the settings, the contrast set, layers (``{site}.{layer}`` must exist),
    prompts and the behaviour scorer. With ``out``, each finished chunk of generations is kept in
    ``out/units/`` and a rerun skips it (:mod:`~interp.eval.steering_units`); ``progress`` shows a bar
    on a terminal.
    """
    config = replace(config if config is not None else SteeringConfig(), **settings).validate()
    layers, coefficients, site, samples = config.layers, config.coefficients, config.site, config.samples
    max_new_tokens, where, sample, seed, batch_size = (config.max_new_tokens, config.where, config.sample,
                                                       config.seed, config.batch_size)
    contrast = load_contrast(contrast)
    sites = {layer: f"{site}.{layer}" for layer in layers}
    prompts = list(contrast.prompts if config.prompts is None else config.prompts)
    check_prompts(prompts)
    score = behaviour_scorer(config.behaviour, contrast)
    for name in sites.values():
        hm.binding(name)  # an unknown site or a layer out of range fails here, naming what exists
    prompt_batch = hm.tokenize(prompts, padding_side="left")
    eos_id = getattr(hm.tokenizer, "eos_token_id", None)
    rows = [(c, p, s) for c in range(len(coefficients)) for p in range(len(prompts)) for s in range(samples)]
    generation_kwargs = {"do_sample": True, "temperature": config.temperature, "top_k": 0} if sample else {}

    records, texts, vectors = [], [], {}
    units = SteeringUnits.of_sweep(out, hm, contrast, config)
    starts = range(0, len(rows), batch_size)
    bar = progress_bar(total=len(sites) * len(starts), progress=progress, desc="steering", unit="batch")
    for layer, name in sites.items():
        vectors[layer] = steering_vector(hm, contrast, name, read=config.read)
        for start in starts:
            bar.update()
            kept = units.get(layer, start)
            if kept is not None:
                records += kept[0]
                texts += kept[1]
                continue
            chunk_records, chunk_texts = [], []
            chunk = rows[start:start + batch_size]
            batch = _rows(prompt_batch, [p for _, p, _ in chunk])
            if sample:
                torch.manual_seed(seed + start)
            gen = steered_generate(hm, batch, vectors[layer], [coefficients[c] for c, _, _ in chunk],
                                   max_new_tokens=max_new_tokens, where=where, **generation_kwargs)
            mask = continuation_mask(gen.new_tokens, eos_id)
            nll = continuation_nll(hm, gen.sequences, batch, mask)
            check_finite(nll, f"steering {contrast.name!r} at {name}",
                         lambda i, c=chunk: f"coefficient {coefficients[c[i[0]][0]]}, prompt {c[i[0]][1]}, sample "
                                            f"{c[i[0]][2]}: the continuation's negative log-likelihood")
            for i, (c, p, s) in enumerate(chunk):
                tokens = gen.new_tokens[i][mask[i].bool()].tolist()
                content = [t for t in tokens if t != eos_id]
                unit_key = {"layer": layer, "coefficient": coefficients[c], "prompt": p, "sample": s}
                metrics = {**score(gen.texts[i]), "nll": float(nll[i]), "perplexity": math.exp(float(nll[i])),
                           "distinct_2": distinct_n(content, 2), "n_tokens": float(len(tokens))}
                chunk_records += [{**unit_key, "metric": m, "value": v} for m, v in metrics.items()]
                chunk_texts.append({**unit_key, "prompt_text": prompts[p], "text": gen.texts[i],
                                    "tokens": " ".join(map(str, tokens))})
            units.put(layer, start, chunk_records, chunk_texts)
            records += chunk_records
            texts += chunk_texts
    bar.close()

    head = {"model": hm.name, "contrast": contrast.name, "site": site}
    results = pd.DataFrame([{**head, **r} for r in records])
    generations = pd.DataFrame([{**head, **t} for t in texts])
    return SteeringResult(results, summarise(results), generations, vectors)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per ``model, contrast, site, layer, coefficient, metric``: mean and 95 % interval over texts.

    Rates (``target``, ``opposite``) get Wilson intervals; ``perplexity`` is ``exp(mean nll)`` with
    the interval of the mean nll; the rest the normal interval of the mean.
    """
    keys = ["model", "contrast", "site", "layer", "coefficient"]
    out = []
    for key, group in results.groupby(keys, sort=False):
        for metric in SUMMARY_METRICS:
            source = "nll" if metric == "perplexity" else metric
            values = group.value[group.metric == source].dropna().to_numpy(float)
            if source not in set(group.metric):
                continue
            n = len(values)
            mean = float(values.mean()) if n else math.nan
            if metric in BINARY_METRICS:
                low, high = (float(x[0]) for x in wilson_interval(np.array([mean]), np.array([n])))
            else:
                half = Z_95 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
                low, high = mean - half, mean + half
            if metric == "perplexity":
                mean, low, high = math.exp(mean), math.exp(low), math.exp(high)
            out.append({**dict(zip(keys, key)), "metric": metric, "value": mean, "ci_low": low, "ci_high": high,
                        "n": n})
    return pd.DataFrame(out)
