"""Layer groups (contiguous, deterministic, threshold rule) and the evaluation (FVU and the spliced
language-model loss, checked with SAEs whose answers are known)."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.sae import SAE
from interp.sae.activations import Activations, collect
from interp.sae.evaluate import evaluate, lm_losses, reconstruction
from interp.sae.group_report import compare_groups
from interp.sae.groups import amad, angular_distances, layer_groups, merge_order
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig


def random_distances(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    points = torch.cumsum(torch.rand(n, generator=g), 0)          # layers drift apart with depth, unevenly
    return ((points[:, None] - points[None, :]).abs() / n).clamp(max=1.0)


@pytest.mark.parametrize("seed", range(4))
def test_clustering_is_contiguous_and_deterministic(seed):
    D = random_distances(12, seed)
    history = merge_order(D)
    assert history == merge_order(D.clone())
    assert [len(groups) for groups in history] == list(range(12, 0, -1))
    for groups in history:
        assert [i for g in groups for i in g] == list(range(12))              # in order, each layer once
        assert all(g == list(range(g[0], g[-1] + 1)) for g in groups)         # contiguous
    for k in range(1, 13):
        assert layer_groups(D, n_groups=k) == history[12 - k]


def test_threshold_picks_the_fewest_groups_under_it():
    D = random_distances(10, 0)
    for threshold in (0.0, 0.05, 0.1, 0.3, 1.0):
        groups = layer_groups(D, threshold=threshold)
        assert amad(D, groups) <= threshold
        assert all(amad(D, h) > threshold for h in merge_order(D) if len(h) < len(groups))


def test_angular_distance_is_zero_for_the_same_direction_and_one_for_the_opposite():
    x = torch.randn(100, 8)
    D = angular_distances(Activations({"a": x, "b": 3 * x, "c": -x}), ["a", "b", "c"])
    torch.testing.assert_close(D, torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]),
                               atol=2e-3, rtol=0)


def exact_sae(d: int, site) -> SAE:
    """relu([x, -x]) decoded by [I; -I]: reconstructs every input exactly."""
    sae = SAE(d, 2 * d, "relu", site=site)
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], 1))
        sae.W_dec.copy_(torch.cat([eye, -eye], 0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


def test_an_exact_sae_recovers_all_the_loss_and_an_empty_one_none():
    hm = interp.models.tiny("llama")
    blocks = torch.randint(0, 200, (3, 10), generator=torch.Generator().manual_seed(0))
    exact = lm_losses(hm, exact_sae(hm.d_model, "resid_post.0"), "resid_post.0", blocks)
    assert exact["loss_spliced"] == pytest.approx(exact["loss_clean"], abs=1e-5)
    assert exact["loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    empty = exact_sae(hm.d_model, "resid_post.0")
    with torch.no_grad():
        empty.W_dec.zero_()
    nothing = lm_losses(hm, empty, "resid_post.0", blocks)
    assert nothing["loss_spliced"] == pytest.approx(nothing["loss_zero"], abs=1e-5)
    assert nothing["loss_recovered"] == pytest.approx(0.0, abs=1e-4)


def test_reconstruction_metrics():
    x = torch.randn(200, 8)
    exact = reconstruction(exact_sae(8, "resid_post.0"), x)
    assert exact["fvu"] < 1e-10 and exact["dead"] == 0.0 and exact["dense"] == 1.0 and exact["l0"] == 8.0


def test_evaluate_gives_a_row_per_layer_of_a_group_sae():
    hm = interp.models.tiny("llama")
    texts = ["The keys to the cabinet are on the table."] * 30
    store = collect(hm, ["resid_post.0", "resid_post.1"], texts, tokens=300, context=12)
    group = exact_sae(hm.d_model, ["resid_post.0", "resid_post.1"])
    blocks = torch.randint(0, 200, (2, 10), generator=torch.Generator().manual_seed(1))
    table = evaluate([group], store, hm=hm, blocks=blocks)
    assert list(table["site"]) == ["resid_post.0", "resid_post.1"]
    assert (table["fvu"] < 1e-8).all() and (table["loss_recovered"] - 1).abs().max() < 1e-4


def test_held_out_fvu_is_logged_per_sae_and_costs_are_read_off_it():
    """``test_fvu`` in the log is the trained SAE's held-out FVU (a group SAE's: the mean over its layers),
    and a comparison's steps to the target are the first logged step whose per-layer mean reaches it."""
    torch.manual_seed(0)
    base = torch.randn(2600, 16) * torch.linspace(0.2, 2.0, 16)
    store = Activations({f"resid_post.{i}": base + 0.05 * i * torch.randn(2600, 16) for i in range(3)})
    train, test = store.split(600)
    specs = [SAESpec("resid_post.0", 32, "topk", k=4), SAESpec(["resid_post.1", "resid_post.2"], 32, "topk", k=4)]
    trained = train_saes(train, specs, TrainConfig(steps=12, batch_size=256, lr_warmup_steps=1, log_every=4),
                         test=test)
    last = trained.history[trained.history.step == 12].set_index("sae").test_fvu
    assert last[0] == pytest.approx(reconstruction(trained.saes[0], test["resid_post.0"])["fvu"], rel=1e-5)
    group = [reconstruction(trained.saes[1], test[s])["fvu"] for s in ("resid_post.1", "resid_post.2")]
    assert last[1] == pytest.approx(sum(group) / 2, rel=1e-5)
    assert sorted(trained.history.step.unique()) == [4, 8, 12]

    report = compare_groups(train, test, store.sites, specs[0], TrainConfig(steps=12, batch_size=256,
                            lr_warmup_steps=1, log_every=2), n_groups=1, target_fvu=0.9)
    for row in report.cost.itertuples():
        curve = report.curve[report.curve.approach == row.approach]
        first = curve[curve.fvu <= 0.9].step
        assert row.steps_to_target == (int(first.iloc[0]) if len(first) else None)
        if len(first):
            assert row.flops_to_target == row.training_flops * row.steps_to_target / 12
    assert curve.fvu.iloc[-1] < curve.fvu.iloc[0]                  # the groups' held-out FVU falls while training
