"""DAS training (fast trainer vs the plain loop), scoring, and the pair adapters, on tiny models."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.errors import InputError
from interp.interventions import DAS, Patch, Subspace
from interp.methods import PairData, activations, score, train_das, train_das_reference

BASES = ["The key to the cabinets", "The keys to the cabinet", "The dog near the houses", "The dogs near the house"]
SOURCES = ["The keys to the cabinet", "The key to the cabinets", "The dogs near the house", "The dog near the houses"]


def pairs(hm) -> PairData:
    """Subject and last-token positions, located per side (" keys" may split into " key" + "s")."""
    def subject_end(text: str) -> int:
        return len(hm.tokenize(" ".join(text.split()[:2])).input_ids[0]) - 1

    base_pos = [[subject_end(t), -1] for t in BASES]
    source_pos = [[subject_end(t), -1] for t in SOURCES]
    return PairData.from_texts(hm, BASES, SOURCES, base_pos, source_pos, [" is", " are", " was", " were"],
                               [" are", " is", " were", " was"], base_types=["sg", "pl", "sg", "pl"])


def test_pairdata_positions_differ_per_side():
    hm = interp.models.tiny("llama")
    data = pairs(hm)
    assert data.base_positions[0, 0] != data.source_positions[0, 0]  # "key" vs "key"+"s"
    assert data.source_types == ["pl", "sg", "pl", "sg"]
    sub = data.subset([1, 2], positions=[0])
    assert sub.n == 2 and sub.n_positions == 1 and sub.base_types == ["pl", "sg"]


def test_fast_trainer_matches_the_plain_loop(tiny_hm):
    data = pairs(tiny_hm)
    kwargs = dict(steps=4, batch_size=2, lr=5e-2, seed=1)
    fast = train_das(tiny_hm, data, "resid_pre.1", **kwargs)
    slow = train_das_reference(tiny_hm, data, "resid_pre.1", **kwargs)
    assert fast.losses.shape == slow.losses.shape == (4, 2)
    torch.testing.assert_close(fast.losses, slow.losses, atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(fast.bases, slow.bases, atol=2e-4, rtol=1e-4)


def test_fast_trainer_matches_at_a_mid_layer_site():
    hm = interp.models.tiny("gpt2")
    data = pairs(hm)
    fast = train_das(hm, data, "attn_out.1", steps=4, batch_size=3, seed=2)
    slow = train_das_reference(hm, data, "attn_out.1", steps=4, batch_size=3, seed=2)
    torch.testing.assert_close(fast.losses, slow.losses, atol=2e-4, rtol=1e-4)


def test_training_lowers_the_loss_and_touches_only_das():
    hm = interp.models.tiny("llama")
    data = pairs(hm)
    before = {k: v.clone() for k, v in hm.model.state_dict().items()}
    flags = {k: p.requires_grad for k, p in hm.model.named_parameters()}
    result = train_das(hm, data.subset(range(4), positions=[1]), "resid_pre.1", steps=15, batch_size=4, lr=1e-1)
    losses = result.losses[:, 0]
    assert losses[-5:].mean() < losses[:5].mean() - 0.05
    assert all(p.grad is None for p in hm.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in hm.model.state_dict().items())
    assert flags == {k: p.requires_grad for k, p in hm.model.named_parameters()}
    das = result.interventions[0]
    assert isinstance(das, DAS) and das.basis.shape == (hm.d_model, 1)
    torch.testing.assert_close(das.basis.T @ das.basis, torch.eye(1), atol=1e-5, rtol=0)
    assert not torch.allclose(das.basis, DAS("resid_pre.1", hm.d_model, seed=0).basis)


def _manual_odds(hm, data, intervention, p):
    plain = hm.run(data.base).last_logits.log_softmax(-1)
    star = hm.run(data.base, interventions=[intervention]).last_logits.log_softmax(-1)
    rows = torch.arange(data.n)
    yb, ys = data.base_labels, data.source_labels
    return (plain[rows, yb] - plain[rows, ys]) + (star[rows, ys] - star[rows, yb])


def test_score_matches_hand_written_runs(tiny_hm):
    data = pairs(tiny_hm)
    site = "resid_post.0"
    direction = torch.nn.functional.normalize(torch.randn(tiny_hm.d_model, generator=torch.Generator().manual_seed(0)),
                                              dim=0)
    scores = score(tiny_hm, data, site, [direction, None], max_rows=3)  # chunks cross positions
    where = dict(positions=data.base_positions[:, :1].tolist(), source_positions=data.source_positions[:, :1].tolist())
    sub = Subspace(site, direction, source=data.source, **where)
    torch.testing.assert_close(scores.odds_ratio[0], _manual_odds(tiny_hm, data, sub, 0), atol=1e-4, rtol=1e-4)
    where = dict(positions=data.base_positions[:, 1:].tolist(), source_positions=data.source_positions[:, 1:].tolist())
    patch = Patch(site, source=data.source, **where)
    torch.testing.assert_close(scores.odds_ratio[1], _manual_odds(tiny_hm, data, patch, 1), atol=1e-4, rtol=1e-4)
    plain = tiny_hm.run(data.base).last_logits
    rows = torch.arange(data.n)
    assert torch.equal(scores.behaviour, plain[rows, data.base_labels] > plain[rows, data.source_labels])
    summary = scores.summary()
    assert [s["position"] for s in summary] == [0, 1] and summary[0]["n"] == 4


def test_score_takes_trained_das_and_a_null_intervention_scores_zero():
    hm = interp.models.tiny("neox")
    data = pairs(hm)
    result = train_das(hm, data, "resid_pre.1", steps=2, batch_size=2)
    scores = score(hm, data, "resid_pre.1", result.interventions)
    assert scores.odds_ratio.shape == (2, 4) and torch.isfinite(scores.odds_ratio).all()
    # a pair whose source is its base: every intervention is a no-op
    same = PairData(data.base, data.base, data.base_positions, data.base_positions, data.base_labels,
                    data.source_labels)
    null = score(hm, same, "resid_pre.1", [result.interventions[0], None])
    torch.testing.assert_close(null.odds_ratio, torch.zeros(2, 4), atol=1e-4, rtol=0)
    assert not null.iia.any() or True  # IIA there is just the base preference for y_s


def test_activations_read_each_sides_own_positions():
    hm = interp.models.tiny("gpt2")
    data = pairs(hm)
    base, source = activations(hm, data, "resid_post.0")
    assert base.shape == source.shape == (4, 2, hm.d_model)
    cache = hm.run(data.source, cache=["resid_post.0"]).cache["resid_post.0"]
    torch.testing.assert_close(source[0, 0], cache[0, data.source_positions[0, 0]])


def test_from_encoded_pairs_of_the_suites():
    pairs_module = pytest.importorskip("interp.suites.pairs")
    hm = interp.models.tiny("gpt2")
    pair = pairs_module.Pair(("The", " dog", " near the", " house"), ("The", " dogs", " near the", " house"),
                             "singular", "plural", " is", " are", task="agr")
    encoded = [pair.encode(hm.tokenizer), pair.swapped().encode(hm.tokenizer)]
    data = PairData.from_encoded(encoded)
    assert data.names == encoded[0].sites
    assert data.base_positions[0].tolist() == [encoded[0].positions(k)[0] for k in data.names]
    assert data.source_positions[0].tolist() == [encoded[0].positions(k)[1] for k in data.names]
    assert data.base_labels.tolist() == [encoded[0].base_label_id, encoded[1].base_label_id]
    assert score(hm, data, "resid_pre.1", None).odds_ratio.shape == (len(data.names), 2)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_packed_rows_equal_full_intervened_runs(tiny_hm, padding_side):
    """Each packed row (only its tokens from the edit on, the base's keys/values before) gives the
    logits of the full intervened run of its example, on every family and either padding."""
    from interp.graph.packing import Packing, base_state, packed_last_logits
    from interp.interventions.positions import Slots

    hm = tiny_hm
    batch = hm.tokenize(["The key to the cabinets", "A dog", "The dogs near the old house"], padding_side)
    examples = torch.tensor([0, 1, 2, 2, 0, 1])
    starts = batch.offsets[examples] + torch.tensor([1, 0, 2, -1, -1, 1]) % batch.lengths[examples]
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(len(examples), hm.d_model, generator=generator)
    basis = torch.linalg.qr(torch.randn(len(examples), hm.d_model, 2, generator=generator)).Q
    for site in ("resid_pre.1", "mlp_out.1"):
        packing = Packing(batch, examples, starts)
        assert packing.tokens == int((batch.last_index[examples] - starts + 1).sum())
        state = base_state(hm, batch, layer=1)
        packed_slots = Slots(torch.zeros_like(packing.first), packing.first)  # rows end to end in one sequence
        packed = packed_last_logits(hm, state, packing, [Subspace(site, basis, source, packed_slots).bind(hm)])
        rows = hm.tokenize([batch.texts[i] for i in examples.tolist()], padding_side)
        full_slots = Slots(torch.arange(len(examples)), starts)
        full = hm.run(rows, interventions=[Subspace(site, basis, source, full_slots)]).last_logits
        torch.testing.assert_close(packed, full, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(full, hm.run(rows).last_logits, atol=1e-3)  # the edit did something


def test_packed_and_full_row_training_agree():
    hm = interp.models.tiny("neox")
    data = pairs(hm)
    kwargs = dict(steps=5, batch_size=3, lr=5e-2, seed=3)
    packed = train_das(hm, data, "resid_post.0", packed=True, **kwargs)
    full = train_das(hm, data, "resid_post.0", packed=False, **kwargs)
    torch.testing.assert_close(packed.losses, full.losses, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed.bases, full.bases, atol=1e-5, rtol=1e-5)
    assert train_das(hm, data, "resid_post.0", steps=0).losses.shape == (0, 2)


def test_packed_training_needs_a_site_inside_a_layer():
    hm = interp.models.tiny("gpt2")
    with pytest.raises(InputError, match="packed training needs"):
        train_das(hm, pairs(hm), "embed", packed=True, steps=1)
    assert train_das(hm, pairs(hm), "embed", steps=1).losses.shape == (1, 2)  # full rows from the start


def test_score_packs_long_chunks_in_pieces(monkeypatch):
    """Rows of one chunk split over several packs (the token budget) score exactly as in one pack."""
    import interp.methods.scoring as scoring
    from interp.graph.packing import token_chunks

    hm = interp.models.tiny("llama")
    data = pairs(hm)
    direction = torch.nn.functional.normalize(torch.ones(hm.d_model), dim=0)
    whole = score(hm, data, "resid_pre.1", [direction, None])
    monkeypatch.setattr(scoring, "token_chunks", lambda lengths: token_chunks(lengths, max_tokens=5))
    pieces = score(hm, data, "resid_pre.1", [direction, None])
    torch.testing.assert_close(pieces.odds_ratio, whole.odds_ratio, atol=1e-5, rtol=1e-5)
