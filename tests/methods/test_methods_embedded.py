"""DAS on the embedded SmolLM2-135M-Instruct: hand-written agreement pairs, subject position, an early layer."""

from __future__ import annotations

import itertools

import pytest
import torch

from interp.methods import PairData, activations, find_direction, score, train_das

SUBJECTS = [("key", "keys"), ("dog", "dogs"), ("teacher", "teachers"), ("author", "authors"), ("farmer", "farmers"),
            ("doctor", "doctors"), ("girl", "girls"), ("boy", "boys"), ("student", "students"), ("car", "cars")]
PREPS = [("to", "cabinets"), ("near", "house"), ("behind", "trees"), ("with", "dog")]


def agreement_pairs(hm, subjects) -> PairData:
    base, source, types = [], [], []
    for (sg, pl), (prep, obj) in itertools.product(subjects, PREPS):
        for b, s, t in ((sg, pl, "sg"), (pl, sg, "pl")):
            base.append(f"The {b} {prep} the {obj}")
            source.append(f"The {s} {prep} the {obj}")
            types.append(t)

    def subject_end(text: str) -> int:
        return len(hm.tokenize(" ".join(text.split()[:2])).input_ids[0]) - 1

    label = {"sg": " is", "pl": " are"}
    other = {"sg": "pl", "pl": "sg"}
    return PairData.from_texts(hm, base, source, [subject_end(t) for t in base], [subject_end(t) for t in source],
                               [label[t] for t in types], [label[other[t]] for t in types], base_types=types)


@pytest.mark.slow
def test_das_beats_random_and_mean_is_positive_at_the_subject(embedded):
    hm = embedded
    train, test = agreement_pairs(hm, SUBJECTS[:7]), agreement_pairs(hm, SUBJECTS[7:])
    site = "resid_pre.4"
    das = train_das(hm, train, site, steps=40, batch_size=4, seed=0)
    assert das.losses[-10:].mean() < das.losses[:5].mean()
    b, s = activations(hm, train, site)
    mean = find_direction("mean", b[:, 0], s[:, 0], train.base_types, train.source_types)
    random = find_direction("random", b[:, 0], s[:, 0], train.base_types, seed=0)
    scores = {name: score(hm, test, site, d) for name, d in
              {"das": das.interventions[0], "mean": mean, "random": random, "vanilla": None}.items()}
    odds = {name: float(sc.odds_ratio.mean()) for name, sc in scores.items()}
    assert float(scores["das"].behaviour.float().mean()) > 0.8
    assert odds["das"] > 1.0, odds
    assert odds["das"] > odds["random"] + 1.0, odds
    assert abs(odds["random"]) < 0.5, odds
    assert odds["vanilla"] > 1.0 and odds["mean"] > 0.5, odds
    assert float(scores["das"].iia.float().mean()) > 0.6, odds


def _bootstrap_interval(values: torch.Tensor, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values [n]`` over resampled examples."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(values), (n_boot, len(values)), generator=generator)
    means = values.double()[picks].mean(1)
    return float(means.quantile(0.025)), float(means.quantile(0.975))


@pytest.mark.slow
@pytest.mark.parametrize("task", ["agr_sv_num_pp", "agr_sv_num_subj-relc"])
def test_causalgym_ordering_das_then_probe_then_random(embedded, task):
    """The CausalGym paper's ordering on the built-in agreement tasks, at the subject span of a middle
    layer: DAS is not below the probe (beyond the bootstrap interval of their paired difference), and
    the probe is above a random direction by a margin (the interval's lower end)."""
    from interp.methods.random_vector import random_direction
    from interp.suites.causalgym import load_templates

    hm = embedded
    splits = load_templates("builtin:agreement", seed=0, sizes=(80, 0, 48), tasks=[task])[task]
    subject = 1  # span 1 of "The {subject} ...": the label-bearing span
    train, test = (PairData.from_encoded(splits.encode(hm.tokenizer, split), [subject]) for split in ("train", "test"))
    site = "resid_post.16"
    das = train_das(hm, train, site, steps=50, batch_size=4, seed=0)
    base, source = activations(hm, train, site)
    probe = find_direction("probe", base[:, 0], source[:, 0], train.base_types, train.source_types)
    directions = {"das": das.interventions[0], "probe": probe, "random": random_direction(hm.d_model, 0)}
    # the subject column three times: all three directions scored in one call
    scores = score(hm, test.subset(range(test.n), [0] * len(directions)), site, list(directions.values()))
    odds = dict(zip(directions, scores.odds_ratio))  # name -> [n_test]
    means = {name: round(float(v.mean()), 2) for name, v in odds.items()}
    _, das_minus_probe_high = _bootstrap_interval(odds["das"] - odds["probe"])
    probe_minus_random_low, _ = _bootstrap_interval(odds["probe"] - odds["random"])
    assert das_minus_probe_high >= 0, (means, das_minus_probe_high)
    assert probe_minus_random_low > 1.0, (means, probe_minus_random_low)
    assert abs(means["random"]) < 0.5, means
