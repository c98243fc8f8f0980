"""Looking at SAE features: the dashboard (top contexts, promoted/suppressed tokens, offline HTML), the
direct-logit reading of a decoder row, and (slow) steering the embedded model along a feature."""

from __future__ import annotations

import pytest

import interp
from interp.sae import SAE, feature_steer, promoted_tokens
from interp.sae.features import direction_logits
from interp.viz.sae_features import feature_dashboard

TEXTS = ["The keys to the cabinet are", "A dog <b>near</b> the houses", "Once upon a time"]


@pytest.fixture(scope="module")
def gpt2():
    return interp.models.tiny("gpt2")


def test_dashboard_lists_the_top_contexts_of_each_feature(gpt2, tmp_path):
    sae = SAE(gpt2.d_model, 48, kind="relu", site="resid_post.1", seed=0)
    board = feature_dashboard(gpt2, sae, TEXTS, n_features=3, k=2, n_tokens=4)
    assert len(board.cards) == 3
    maxima = [card.max_activation for card in board.cards]
    assert maxima == sorted(maxima, reverse=True)                 # the most active features first
    for card in board.cards:
        values = [c.value for c in card.contexts]
        assert values == sorted(values, reverse=True) and len(values) <= 2
        assert values[0] == pytest.approx(card.max_activation, rel=1e-5)
        assert all(c.tokens[c.focus] and c.activations[c.focus] == pytest.approx(c.value) for c in card.contexts)
        assert len(card.promoted) == len(card.suppressed) == 4
    page = board.write(tmp_path / "features.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "&lt;b&gt;" in page or "&lt;" in page                  # tokens are escaped, never markup


def test_a_decoder_row_along_a_tokens_unembedding_promotes_it(gpt2):
    token = gpt2.tokenizer.encode(" cabinet")[0]
    unembed = gpt2.model.get_output_embeddings().weight[token].detach()
    logits = direction_logits(gpt2, unembed)
    assert int(logits.argmax()) == token
    up, down = promoted_tokens(gpt2, unembed, k=3)
    assert up[0][0] == gpt2.tokenizer.decode([token]) and up[0][1] > down[0][1]


@pytest.mark.slow
def test_steering_with_a_feature_moves_the_embedded_models_next_token_towards_its_promoted_tokens(embedded):
    hm = embedded
    site = f"resid_post.{hm.n_layers - 4}"
    sae = SAE(hm.d_model, 16, kind="relu", site=site, seed=0)       # random unit decoder rows as features
    prompts = ["The weather today is", "My favourite food is", "She opened the door and"]
    clean = hm.run(prompts, cache=[site])
    scale = float(clean.cache[site][:, 1:].norm(dim=-1).mean())     # a typical state's length (no sink token)
    clean_logp = clean.last_logits.log_softmax(-1)
    for feature in range(3):
        reading = direction_logits(hm, sae.W_dec[feature].detach())
        up, down = reading.topk(20).indices, (-reading).topk(20).indices
        steered = hm.run(prompts, interventions=[feature_steer(sae, feature, alpha=0.5 * scale, positions="last")])
        logp = steered.last_logits.log_softmax(-1)
        assert (logp[:, up].logsumexp(-1) > clean_logp[:, up].logsumexp(-1) + 1.0).all()
        assert (logp[:, down].logsumexp(-1) < clean_logp[:, down].logsumexp(-1)).all()
