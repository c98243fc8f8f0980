"""Oracle tests of the intervention primitives on tiny models of every family (exact equalities)."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.interventions import DAS, Ablate, Apply, Patch, ScaleHeads, Steer, Subspace
from interp.models import FAMILIES

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]


@pytest.fixture(scope="module")
def models():
    return {family: interp.models.tiny(family) for family in FAMILIES}


@pytest.fixture(params=FAMILIES)
def hm(request, models):
    return models[request.param]


def same_length_pair(hm):
    """Base and source prompts of equal token length (for whole-sequence patches)."""
    base, source = "The key is on the table", "The dog is on the table"
    assert hm.tokenize(base).width == hm.tokenize(source).width
    return base, source


def sites_of(hm):
    names = ["resid_pre.0", "q.0", "k.1", "v.0", "z.1", "attn_out.0", "mlp_post.1", "mlp_out.0", "resid_post.1"]
    return names + (["resid_mid.0"] if hm.sites("resid_mid") else [])


def test_patch_from_same_input_is_a_no_op_bit_for_bit(hm):
    clean = hm.run(BASE, cache=sites_of(hm))
    for site in sites_of(hm):
        for positions in (None, "last", [1, 2]):
            out = hm.run(BASE, interventions=[Patch(site, clean.cache, positions)])
            assert torch.equal(out.logits, clean.logits), (site, positions)


def test_patching_every_position_of_resid_pre_0_gives_the_source_logits(hm):
    base, source = same_length_pair(hm)
    src = hm.run(source, cache=["resid_pre.0"])
    out = hm.run(base, interventions=[Patch("resid_pre.0", src.cache)])
    assert torch.equal(out.logits, src.logits)
    assert not torch.equal(hm.run(base).logits, src.logits)


def test_patch_one_position_matches_a_hand_written_hook(hm):
    src = hm.run(SOURCE, cache=["resid_post.0"])
    base_pos, src_pos = [[1], [2]], [[2], [1]]  # one list per example, and different on the two sides

    def manual(act, ctx):
        act = act.clone()
        for b, ([p], [q]) in enumerate(zip(base_pos, src_pos)):
            act[b, p] = src.cache["resid_post.0"][b, q]
        return act

    manual.site = "resid_post.0"
    expected = hm.run(BASE, interventions=[manual]).logits
    out = hm.run(BASE, interventions=[Patch("resid_post.0", src, base_pos, source_positions=src_pos)])
    assert torch.equal(out.logits, expected)


def test_source_positions_count_the_sources_own_real_tokens(hm):
    """A padded source batch: 'last' must read each source example's own last token."""
    sources = ["The keys", "The keys to the cabinet"]
    src = hm.run(sources, cache=["resid_post.0"], padding_side="left")
    assert src.batch.offsets[0] > 0  # the short source is padded on the left
    patch = Patch("resid_post.0", src.cache, positions="last")
    out = hm.run(BASE, interventions=[patch], cache=["resid_post.0"])
    last = out.batch.last_index
    for b in range(2):
        assert torch.equal(out.cache["resid_post.0"][b, last[b]], src.cache["resid_post.0"][b, -1])


def test_source_given_as_inputs_equals_source_given_as_cache(hm):
    src = hm.run(SOURCE, cache=["resid_post.0"])
    a = hm.run(BASE, interventions=[Patch("resid_post.0", src.cache, "last")]).logits
    b = hm.run(BASE, interventions=[Patch("resid_post.0", SOURCE, "last")]).logits
    assert torch.equal(a, b)


def test_patch_per_head_touches_only_those_heads(hm):
    src = hm.run(SOURCE, cache=["z.0"])
    out = hm.run(BASE, interventions=[Patch("z.0", src.cache, "last", heads=[1])], cache=["z.0"])
    clean = hm.run(BASE, cache=["z.0"]).cache["z.0"]
    rows, last, src_last = torch.arange(2), out.batch.last_index, src.batch.last_index
    z = out.cache["z.0"]
    assert torch.equal(z[rows, last, 1], src.cache["z.0"][rows, src_last, 1])
    changed = (z != clean).any(-1)
    assert changed[rows, last, 1].all() and changed.sum() == 2


def test_subspace_full_basis_equals_patch_and_empty_basis_is_a_no_op(hm):
    src = hm.run(SOURCE, cache=["resid_post.0"])
    clean = hm.run(BASE)
    patch = hm.run(BASE, interventions=[Patch("resid_post.0", src.cache, "last")]).logits
    full = Subspace("resid_post.0", torch.eye(hm.d_model), src.cache, "last")
    assert torch.equal(hm.run(BASE, interventions=[full]).logits, patch)
    empty = Subspace("resid_post.0", torch.zeros(hm.d_model, 0), src.cache, "last")
    assert torch.equal(hm.run(BASE, interventions=[empty]).logits, clean.logits)
    rotation = torch.linalg.qr(torch.randn(hm.d_model, hm.d_model, generator=torch.Generator().manual_seed(0))).Q
    rotated = Subspace("resid_post.0", rotation, src.cache, "last")
    torch.testing.assert_close(hm.run(BASE, interventions=[rotated]).logits, patch, atol=1e-4, rtol=1e-4)


def test_one_dimensional_subspace_is_the_causalgym_interchange(hm):
    src = hm.run(SOURCE, cache=["resid_post.0"])
    a = torch.nn.functional.normalize(torch.randn(hm.d_model, generator=torch.Generator().manual_seed(1)), dim=0)
    out = hm.run(BASE, interventions=[Subspace("resid_post.0", a, src.cache, "last")], cache=["resid_post.0"])
    clean = hm.run(BASE, cache=["resid_post.0"])
    rows, last = torch.arange(2), clean.batch.last_index
    h, s = clean.cache["resid_post.0"][rows, last], src.cache["resid_post.0"][rows, src.batch.last_index]
    expected = h + a * ((s @ a) - (h @ a))[:, None]
    torch.testing.assert_close(out.cache["resid_post.0"][rows, last], expected, atol=1e-5, rtol=1e-5)


def test_scale_heads_factor_one_is_a_no_op_and_zero_equals_zero_ablation(hm):
    clean = hm.run(BASE).logits
    for site in ("z.0", "v.1"):
        assert torch.equal(hm.run(BASE, interventions=[ScaleHeads(site, {1: 1.0})]).logits, clean)
    zeroed = hm.run(BASE, interventions=[ScaleHeads("z.1", {2: 0.0})]).logits
    ablated = hm.run(BASE, interventions=[Ablate("z.1", heads=[2])]).logits
    assert torch.equal(zeroed, ablated)
    assert not torch.equal(zeroed, clean)


def test_scale_heads_multiplies_only_the_chosen_head(hm):
    out = hm.run(BASE, interventions=[ScaleHeads("z.0", {0: 2.0, 3: 0.5})], cache=["z.0"]).cache["z.0"]
    clean = hm.run(BASE, cache=["z.0"]).cache["z.0"]
    assert torch.equal(out[:, :, 0], clean[:, :, 0] * 2) and torch.equal(out[:, :, 3], clean[:, :, 3] * 0.5)
    assert torch.equal(out[:, :, 1:3], clean[:, :, 1:3])


def test_ablations(hm):
    reference = ["The dog was happy", "The house is near the forest"]
    ref = hm.run(reference, cache=["mlp_out.0"])
    mask = ref.batch.attention_mask.bool()
    mean = ref.cache["mlp_out.0"][mask].mean(0)
    out = hm.run(BASE, interventions=[Ablate("mlp_out.0", "mean", reference=reference, positions=[1, 2])],
                 cache=["mlp_out.0"])
    assert all(torch.equal(out.cache["mlp_out.0"][b, p], mean) for b in range(2) for p in (1, 2))  # in every example
    assert not torch.equal(out.cache["mlp_out.0"][0, 3], mean)
    zero = hm.run(BASE, interventions=[Ablate("mlp_out.0")], cache=["mlp_out.0"]).cache["mlp_out.0"]
    assert not zero.any()
    resample = Ablate("mlp_out.0", "resample", reference=ref, positions="last", seed=3)
    first = hm.run(BASE, interventions=[resample], cache=["mlp_out.0"])
    again = hm.run(BASE, interventions=[resample], cache=["mlp_out.0"])
    assert torch.equal(first.logits, again.logits)
    drawn = first.cache["mlp_out.0"][torch.arange(2), first.batch.last_index]
    candidates = ref.cache["mlp_out.0"][torch.arange(2), ref.batch.last_index]
    assert all(any(torch.equal(d, c) for c in candidates) for d in drawn)


def test_steer_adds_alpha_times_vector_at_the_chosen_positions(hm):
    vector = torch.randn(hm.d_model, generator=torch.Generator().manual_seed(2))
    out = hm.run(BASE, interventions=[Steer("resid_pre.1", vector, alpha=3.0, positions="last")],
                 cache=["resid_pre.1"])
    clean = hm.run(BASE, cache=["resid_pre.1"])
    delta = out.cache["resid_pre.1"] - clean.cache["resid_pre.1"]
    last = clean.batch.last_index
    torch.testing.assert_close(delta[torch.arange(2), last], 3.0 * vector.expand(2, -1))
    delta[torch.arange(2), last] = 0
    assert not delta.any()


def test_interventions_compose_in_graph_order_whatever_the_list_order(hm):
    vector = torch.ones(hm.d_model)
    steer, ablate = Steer("resid_pre.1", vector, alpha=2.0), Ablate("resid_post.0")
    for order in ([steer, ablate], [ablate, steer]):
        out = hm.run(BASE, interventions=order, cache=["resid_pre.1"])
        assert torch.equal(out.cache["resid_pre.1"], torch.full_like(out.cache["resid_pre.1"], 2.0))


def test_apply_is_the_escape_hatch(hm):
    out = hm.run(BASE, interventions=[Apply("mlp_out.0", lambda act, ctx: act * 0)], cache=["mlp_out.0"])
    assert not out.cache["mlp_out.0"].any()


def test_das_trains_only_its_rotation_and_keeps_it_orthonormal(hm):
    das = DAS("resid_post.0", dim=hm.d_model, rank=3, positions="last", seed=0)
    params = list(das.parameters())
    assert params and all(p.requires_grad for p in params)
    opt = torch.optim.Adam(params, lr=0.05)
    label = hm.tokenizer(" is")["input_ids"][-1]
    losses = []
    for _ in range(5):
        opt.zero_grad()
        out = hm.run(BASE, interventions=[das.using(source=SOURCE)], grad=True)
        loss = out.last_logits[:, label].sum()
        loss.backward()
        losses.append(loss.item())
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
        assert all(p.grad is None and not p.requires_grad for p in hm.model.parameters())
        opt.step()
    assert losses[-1] < losses[0]
    torch.testing.assert_close(das.basis.T @ das.basis, torch.eye(3), atol=1e-5, rtol=0)


def test_reprs_are_readable(models):
    hm = models["gpt2"]
    src = hm.run(SOURCE, cache=["resid_post.0"])
    assert repr(Patch("resid_post.0", src.cache, "last")) == (
        "Patch(site='resid_post.0', positions='last', source=cache[2, 7, 64])"
    )
    assert repr(DAS("resid_post.0", 64, 2)) == "DAS(site='resid_post.0', dim=64, rank=2, rotation=[64, 2])"
    assert repr(ScaleHeads("z.1", [0, 2], 0.0)) == "ScaleHeads(site='z.1', heads=[0, 2], factors=[0.0, 0.0])"
