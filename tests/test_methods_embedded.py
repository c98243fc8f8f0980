"""DAS on the embedded SmolLM2-135M: hand-written agreement pairs, subject position, an early layer."""

from __future__ import annotations

import itertools

import pytest

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
