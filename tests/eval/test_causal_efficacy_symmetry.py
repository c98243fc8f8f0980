"""Swap symmetry of CausalGym pairs: the loaders give every pair its swapped copy, one to one, and the
log odds-ratio of the swapped pair is the pair's with base and source exchanged.

With ``D(x) = log p_x(y_b) − log p_x(y_s)`` for the *pair's* labels ``y_b, y_s`` and a run ``x``, the
metric of docs/formats.md reads

    OR(pair)    = D(b) − D(b←s)       (base b, source s; b←s is b with the source patched in)
    OR(swapped) = D(s←b) − D(s)       (base s, source b, labels exchanged: each term changes sign)

so in general ``OR(pair) − OR(swapped) = [D(b) + D(s)] − [D(b←s) + D(s←b)]``, and where full
patching reproduces the source run — the last layer's residual stream at the last prompt token, the
only vector the next-token logits read — ``D(b←s) = D(s)`` and ``D(s←b) = D(b)``: both pairs then
score exactly ``D(b) − D(s)``, and the pair's interchange accuracy is the swapped pair's behavioural
accuracy (and vice versa).
"""

from __future__ import annotations

import pytest
import torch
from conftest import AGREEMENT_LARGE, FIXTURES

import interp
from interp.interventions import Patch
from interp.methods import PairData, score
from interp.suites import causalgym

TASK = AGREEMENT_LARGE


@pytest.fixture(scope="module")
def splits(suite):
    return causalgym.load_templates(suite, seed=0, sizes=(16, 8, 8))["agr"]


def assert_swap_units(pairs):
    """Rows come as (pair, its swapped copy); the swap is an involution and the set is closed under it."""
    assert len(pairs) % 2 == 0
    for pair, partner in zip(pairs[::2], pairs[1::2]):
        assert partner == pair.swapped() and partner.swapped() == pair
        assert (partner.base, partner.src) == (pair.src, pair.base)
        assert (partner.base_label, partner.src_label) == (pair.src_label, pair.base_label)
        assert (partner.base_type, partner.src_type) == (pair.src_type, pair.base_type)
        assert pair.base_type != pair.src_type
    keys = [(p.base, p.src, p.base_label, p.src_label) for p in pairs]
    assert len(set(keys)) == len(keys)  # one to one: no pair twice, so no swapped copy twice
    assert {(s, b, sl, bl) for b, s, bl, sl in keys} == set(keys)


def test_the_template_loader_gives_every_pair_its_swapped_copy(splits):
    for split in ("train", "dev", "test"):
        assert_swap_units(splits.split(split))
        assert_swap_units(splits.control((" dog", " house")).split(split))  # relabelling keeps the units


def test_published_rows_come_with_their_swapped_copies():
    rows = causalgym.load_rows(FIXTURES / "causalgym_rows.json")
    first = next(iter(rows.values()))
    assert_swap_units(first[:4])


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def data(hm, splits):
    encoded = [pair.encode(hm.tokenizer) for pair in splits.test]
    return PairData.from_encoded(encoded, pad_id=hm.tokenizer.pad_token_id or 0)


def contrast(hm, data: PairData, row: int, patch: Patch | None, labels: tuple[int, int]) -> float:
    """``log p(labels[0]) − log p(labels[1])`` of ``row``'s base run (patched or not), run on its own."""
    one = data.subset([row])
    logits = hm.run(one.base, interventions=[patch] if patch else []).last_logits[0]
    logprobs = torch.log_softmax(logits.double(), -1)
    return float(logprobs[labels[0]] - logprobs[labels[1]])


def full_patch(hm, data: PairData, row: int, site: str, p: int) -> Patch:
    one = data.subset([row])
    source = hm.run(one.source, cache=[site])
    return Patch(site, source=source.cache, positions=one.base_positions[:, p:p + 1].tolist(),  # per example
                 source_positions=one.source_positions[:, p:p + 1].tolist())


def test_odds_ratios_of_a_pair_and_its_swap_follow_the_identity(hm, data):
    site = "resid_post.0"
    scores = score(hm, data, site, [None] * data.n_positions)
    for k in range(0, data.n, 2):
        labels = (int(data.base_labels[k]), int(data.source_labels[k]))  # the pair's y_b, y_s
        assert (int(data.base_labels[k + 1]), int(data.source_labels[k + 1])) == labels[::-1]
        assert torch.equal(data.base.input_ids[k + 1][: data.base.lengths[k + 1]],
                           data.source.input_ids[k][: data.source.lengths[k]])  # the swap's base is the source
        d_b, d_s = contrast(hm, data, k, None, labels), contrast(hm, data, k + 1, None, labels)
        for p in range(data.n_positions):
            d_b_s = contrast(hm, data, k, full_patch(hm, data, k, site, p), labels)
            d_s_b = contrast(hm, data, k + 1, full_patch(hm, data, k + 1, site, p), labels)
            pair, swapped = float(scores.odds_ratio[p, k]), float(scores.odds_ratio[p, k + 1])
            assert pair == pytest.approx(d_b - d_b_s, abs=1e-4)
            assert swapped == pytest.approx(d_s_b - d_s, abs=1e-4)
            assert pair - swapped == pytest.approx((d_b + d_s) - (d_b_s + d_s_b), abs=2e-4)


def test_full_patching_the_last_residual_at_the_last_token_is_swap_symmetric(hm, data):
    site = f"resid_post.{hm.n_layers - 1}"
    last = data.n_positions - 1  # the last span ends at the last prompt token
    assert bool((data.base_positions[:, last] == data.base.lengths - 1).all())
    scores = score(hm, data, site, [None] * data.n_positions)
    odds, iia, behaviour = scores.odds_ratio[last], scores.iia[last], scores.behaviour
    assert torch.allclose(odds[0::2], odds[1::2], atol=1e-4)
    for k in range(0, data.n, 2):
        labels = (int(data.base_labels[k]), int(data.source_labels[k]))
        clean = contrast(hm, data, k, None, labels) - contrast(hm, data, k + 1, None, labels)
        assert float(odds[k]) == pytest.approx(clean, abs=1e-4)  # = D(b) − D(s)
    assert torch.equal(iia[0::2], behaviour[1::2]) and torch.equal(iia[1::2], behaviour[0::2])
    # earlier layers are not symmetric in general: later layers still read the base's other tokens
    early = score(hm, data, "resid_post.0", [None] * data.n_positions).odds_ratio[last]
    assert not torch.allclose(early[0::2], early[1::2], atol=1e-3)
