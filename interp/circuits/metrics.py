"""Metrics of a run's last-token logits, per pair: ``metric(logits [rows, vocab], pairs [rows]) -> [rows]``.

``answers [pairs, 2]`` holds each pair's (target, baseline) token ids, ``clean [pairs, vocab]`` the clean
run's last-token logits (for ``kl``).

- ``logit_diff``: logit(target) − logit(baseline).
- ``prob``: p(target).
- ``kl``: KL(clean ‖ run) of the next-token distributions (0 on the clean run).
- ``odds_ratio``: the CausalGym log odds-ratio of the run against the clean run,
  [log p(target) − log p(baseline)]_clean − [log p(target) − log p(baseline)]_run (0 on the clean run,
  the full-patching odds-ratio on the corrupted one).

``metric.columns``: the token ids whose logits the metric reads (the answers, for ``logit_diff`` and
``odds_ratio``: the odds-ratio's normalisers cancel), or None when it reads the whole distribution.

>>> import torch
>>> metric = make_metric("logit_diff", torch.tensor([[2, 0]]), torch.zeros(1, 3))
>>> metric(torch.tensor([[1.0, 0.0, 3.0]]), torch.tensor([0])).tolist()
[2.0]
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from interp.errors import InputError

Metric = Callable[[Tensor, Tensor], Tensor]
METRICS = ("logit_diff", "prob", "kl", "odds_ratio")


def make_metric(name: str, answers: Tensor, clean: Tensor) -> Metric:
    if name not in METRICS:
        raise InputError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")

    def answer_gap(logits: Tensor, pairs: Tensor) -> Tensor:
        ids = answers.to(logits.device)[pairs.to(logits.device)]
        return logits.gather(-1, ids[:, :1])[:, 0] - logits.gather(-1, ids[:, 1:])[:, 0]

    def metric(logits: Tensor, pairs: Tensor) -> Tensor:
        if name == "logit_diff":
            return answer_gap(logits, pairs)
        if name == "prob":
            ids = answers.to(logits.device)[pairs.to(logits.device), 0]
            return logits.softmax(-1).gather(-1, ids[:, None])[:, 0]
        reference = clean.to(logits.device, logits.dtype)[pairs.to(logits.device)]
        if name == "kl":
            ref = reference.log_softmax(-1)
            return (ref.exp() * (ref - logits.log_softmax(-1))).sum(-1)
        return answer_gap(reference, pairs) - answer_gap(logits, pairs)

    metric.__name__ = name
    metric.columns = answers if name in ("logit_diff", "odds_ratio") else None  # the only logits it reads
    return metric
