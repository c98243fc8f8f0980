"""Per-row interventions: one forward whose rows each carry their own parameters equals the R
single-row runs on a tiny model of each family, to float32 rounding. (Not bit for bit: a batch of 1
and a batch of R, or a basis per row and one shared basis, take different matmul kernels, which on
some CPUs differ in the last bit; a row given another row's parameters differs by 1e-2 or more.)"""

from __future__ import annotations

import pytest
import torch

from interp.errors import InputError
from interp.interventions import DAS, Patch, ScaleHeads, Slots, Steer, Subspace, load

TEXT = "The key to the cabinets is"
TOKENS = torch.tensor([1, 3, 2, 0])  # the token each row writes
R = len(TOKENS)


def rows_and_singles(hm, per_row, single) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(row r of the per-row run, the single run of row r) for every row; R copies of one text, so
    the rows differ only in their parameters."""
    both = hm.run([TEXT] * R, interventions=[per_row]).last_logits
    return [(both[r], hm.run(TEXT, interventions=[single(r)]).last_logits[0]) for r in range(R)]


def assert_all_equal(pairs) -> None:
    for r, (row, alone) in enumerate(pairs):
        torch.testing.assert_close(row, alone, atol=2e-6, rtol=0, msg=lambda m, r=r: f"row {r}: {m}")


def draws(hm, k: int = 2):
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(R, hm.d_model, generator=generator)  # [R, d]
    basis = torch.linalg.qr(torch.randn(R, hm.d_model, k, generator=generator)).Q  # [R, d, k]
    return source, basis


def test_subspace_with_a_basis_and_source_per_row(tiny_hm):
    hm = tiny_hm
    source, basis = draws(hm)
    slots = Slots(torch.arange(R), TOKENS)
    per_row = Subspace("resid_pre.1", basis, source, positions=slots)
    assert_all_equal(rows_and_singles(hm, per_row, lambda r: Subspace(
        "resid_pre.1", basis[r], source[r][None, None], [int(TOKENS[r])], source_positions=[0])))


def test_patch_with_a_source_per_row(tiny_hm):
    hm = tiny_hm
    source, _ = draws(hm)
    per_row = Patch("mlp_out.0", source, positions=Slots(torch.arange(R), TOKENS))
    assert_all_equal(rows_and_singles(hm, per_row, lambda r: Patch(
        "mlp_out.0", source[r][None, None], [int(TOKENS[r])], source_positions=[0])))


def test_patch_reads_a_source_at_its_own_slots_and_heads(tiny_hm):
    """Source slots (example, token, head) per row, as the per-head sweep builds them."""
    hm = tiny_hm
    src = hm.run(["The keys to the cabinet are"], cache=["z.1"]).cache
    heads = torch.tensor([0, 3, 1, 2])
    per_row = Patch("z.1", src, Slots(torch.arange(R), TOKENS, heads),
                    source_positions=Slots(torch.zeros(R, dtype=torch.long), TOKENS + 1, heads))
    assert_all_equal(rows_and_singles(hm, per_row, lambda r: Patch(
        "z.1", src, [int(TOKENS[r])], source_positions=[int(TOKENS[r]) + 1], heads=[int(heads[r])])))


def test_steer_with_a_coefficient_per_row(tiny_hm):
    hm = tiny_hm
    alpha = torch.tensor([0.0, 1.0, -2.0, 3.5])
    vector = torch.randn(hm.d_model, generator=torch.Generator().manual_seed(1))
    assert_all_equal(rows_and_singles(hm, Steer("resid_post.0", vector, alpha=alpha),
                                      lambda r: Steer("resid_post.0", vector, alpha=float(alpha[r]))))
    slots = Slots(torch.arange(R), TOKENS)  # and at one slot per row
    assert_all_equal(rows_and_singles(hm, Steer("resid_post.0", vector, alpha=alpha, positions=slots),
                                      lambda r: Steer("resid_post.0", vector, float(alpha[r]), [int(TOKENS[r])])))


def test_scale_heads_with_a_factor_per_row(tiny_hm):
    hm = tiny_hm
    factor = torch.tensor([0.0, 1.0, -2.0, 0.5])
    assert_all_equal(rows_and_singles(hm, ScaleHeads("z.1", [0, 2], factor=factor),
                                      lambda r: ScaleHeads("z.1", [0, 2], factor=float(factor[r]))))
    factors = torch.tensor([[0.0, 1.0], [2.0, 0.5], [1.0, 1.0], [-1.0, 3.0]])  # [R, heads]
    assert_all_equal(rows_and_singles(hm, ScaleHeads("z.1", [1, 3], factors=factors), lambda r: ScaleHeads(
        "z.1", {1: float(factors[r, 0]), 3: float(factors[r, 1])})))


def test_packed_slots_address_one_sequence(tiny_hm):
    """Rows end to end in one sequence of batch 1 (a packed forward): Slots(batch=0, token=first[r])."""
    hm = tiny_hm
    source, basis = draws(hm)
    act = torch.randn(1, 10, hm.d_model)
    first = torch.tensor([0, 2, 5, 9])
    handler = Subspace("resid_pre.1", basis, source, Slots(torch.zeros(R, dtype=torch.long), first)).bind(hm)
    assert handler.site == "resid_pre.1"
    out = handler(act, None)
    for r in range(R):
        one = Subspace("resid_pre.1", basis[r], source[r][None, None], [int(first[r])], source_positions=[0])
        expected = one.bind(hm, hm.tokenize("x " * 10))(act, None)[0, first[r]]
        torch.testing.assert_close(out[0, first[r]], expected, atol=1e-6, rtol=0)
    untouched = torch.ones(10, dtype=torch.bool)
    untouched[first] = False
    assert torch.equal(out[:, untouched], act[:, untouched])


def test_a_basis_per_row_trains_the_dases_behind_it():
    """Stacked DAS bases (with grad) in one per-row Subspace get the gradients of separate runs."""
    import interp

    hm = interp.models.tiny("llama")
    dases = [DAS("resid_pre.1", hm.d_model, rank=1, seed=s) for s in range(R)]
    source, _ = draws(hm)
    label = 5
    basis = torch.stack([das.basis for das in dases])  # [R, d, 1], in the autograd graph
    per_row = Subspace("resid_pre.1", basis, source, Slots(torch.arange(R), TOKENS))
    hm.run([TEXT] * R, interventions=[per_row], grad=True).last_logits[:, label].sum().backward()
    together = [das.rotation.parametrizations.weight.original.grad.clone() for das in dases]
    for r, das in enumerate(dases):
        das.zero_grad()
        alone = Subspace("resid_pre.1", das.basis, source[r][None, None], [int(TOKENS[r])], source_positions=[0])
        hm.run(TEXT, interventions=[alone], grad=True).last_logits[0, label].backward()
        torch.testing.assert_close(das.rotation.parametrizations.weight.original.grad, together[r], atol=1e-6,
                                   rtol=1e-5)


def test_per_row_mistakes_are_input_errors():
    import interp

    hm = interp.models.tiny("gpt2")
    source, basis = draws(hm)
    slots = Slots(torch.arange(R), TOKENS)
    with pytest.raises(InputError, match="rows"):
        hm.run([TEXT] * R, interventions=[Subspace("resid_pre.1", basis[:2], source, slots)])
    with pytest.raises(InputError, match="alpha"):
        hm.run([TEXT] * 3, interventions=[Steer("resid_post.0", torch.ones(64), alpha=torch.ones(R))])
    with pytest.raises(InputError, match="outside"):
        hm.run([TEXT] * 2, interventions=[Patch("resid_pre.1", source, slots)])
    with pytest.raises(InputError, match="not both"):
        hm.run([TEXT] * R, interventions=[Patch("z.1", source[:, :16], Slots(torch.arange(R), TOKENS, TOKENS),
                                                heads=[0])])
    with pytest.raises(InputError, match="integer"):
        Slots(torch.zeros(R), TOKENS)
    with pytest.raises(InputError, match="orthonormal"):
        Subspace("resid_pre.1", basis * 2, source, slots)


def test_per_row_interventions_save_and_load(tmp_path):
    import interp

    hm = interp.models.tiny("gpt2")
    source, _ = draws(hm)
    steer = Steer("resid_post.0", torch.ones(64), alpha=torch.tensor([0.0, 1.0, 2.0, 3.0]),
                  positions=Slots(torch.arange(R), TOKENS))
    patch = Patch("resid_pre.1", source, Slots(torch.arange(R), TOKENS))
    for intervention in (steer, patch):
        loaded = load(intervention.save(tmp_path / type(intervention).__name__))
        before = hm.run([TEXT] * R, interventions=[intervention]).last_logits
        assert torch.equal(hm.run([TEXT] * R, interventions=[loaded]).last_logits, before)
    assert repr(steer) == "Steer(site='resid_post.0', positions=Slots[4], alpha=tensor[4], vector=[64])"
