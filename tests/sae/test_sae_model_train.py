"""The SAE module and its trainer: TopK's L0, unit-norm decoder rows, bit-exact saving, training that
reconstructs, several SAEs in one pass, and a resumed run equal to an uninterrupted one."""

from __future__ import annotations

import warnings

import pytest
import safetensors.torch
import torch

import interp
from interp.errors import InputError, MassiveActivationWarning
from interp.sae import SAE
from interp.sae.activations import Activations, collect
from interp.sae.kinds import topk_activate
from interp.sae.stack import SAEStack
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig


def sparse_store(n=4096, d=16, n_features=48, active=3, seed=0) -> Activations:
    """Activations that are sums of ``active`` of ``n_features`` unit directions: an SAE can find them."""
    g = torch.Generator().manual_seed(seed)
    dictionary = torch.nn.functional.normalize(torch.randn(n_features, d, generator=g), dim=-1)
    codes = torch.zeros(n, n_features)
    idx = torch.rand(n, n_features, generator=g).argsort(-1)[:, :active]
    codes.scatter_(1, idx, torch.rand(n, active, generator=g) + 0.5)
    x = codes @ dictionary
    return Activations({"resid_post.0": x, "resid_post.1": x * 2 + 0.1})


@pytest.mark.parametrize("k", [1, 7, 32])
def test_topk_l0_is_k(k):
    sae = SAE(32, 128, "topk", k=k, seed=0)
    with torch.no_grad():
        sae.b_enc.fill_(10.0)        # every pre-activation positive: exactly k survive
    f = sae.encode(torch.randn(3, 5, 32))
    assert ((f != 0).sum(-1) == k).all()


@pytest.mark.parametrize("kind", ["relu", "topk", "jumprelu"])
def test_save_load_round_trip_is_bit_exact(tmp_path, kind):
    sae = SAE(16, 64, kind, k=5 if kind == "topk" else None, site=["resid_post.0", "resid_post.1"], seed=1)
    with torch.no_grad():
        for parameter in sae.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    again = SAE.load(sae.save(tmp_path / kind))
    assert again.config == sae.config
    for name, value in sae.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name
    x = torch.randn(4, 16)
    assert torch.equal(sae(x), again(x))


def test_load_says_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="needs config.json"):
        SAE.load(tmp_path)


def test_decoder_rows_stay_unit_norm_after_steps():
    spec = SAESpec("resid_post.0", 64, "relu")
    stack = SAEStack([spec, spec.with_site("resid_post.1")], 16, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(stack.parameters(), lr=1e-2)
    for _ in range(5):
        out = stack.losses(torch.randn(2, 64, 16), sparsity_factor=1.0, dead=torch.zeros(2, 64, dtype=torch.bool))
        optimizer.zero_grad()
        out["loss"].sum().backward()
        stack.before_step()
        optimizer.step()
        stack.after_step()
        assert torch.allclose(stack.W_dec.norm(dim=-1), torch.ones(2, 64), atol=1e-6)


@pytest.mark.parametrize("kind,bound", [("topk", 0.15), ("relu", 0.25), ("jumprelu", 0.25)])
def test_training_reconstructs_sparse_data(kind, bound):
    store = sparse_store()
    spec = SAESpec("resid_post.0", 64, kind, k=4 if kind == "topk" else None, l1_coefficient=0.3,
                   l0_coefficient=0.01, aux_k=16, lr=3e-3)
    config = TrainConfig(steps=300, batch_size=256, lr_warmup_steps=10, sparsity_warmup_steps=50, lr_decay_fraction=0.2)
    result = train_saes(store, [spec], config)
    sae, x = result.saes[0], store["resid_post.0"]
    fvu = ((sae(x) - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()
    assert fvu < bound, (kind, fvu)
    assert result.history["fvu"].iloc[-1] < result.history["fvu"].iloc[0]


def test_several_saes_in_one_pass():
    """Two sites in one stack: one SAE per spec, in the specs' order, each logged."""
    store = sparse_store()
    config = TrainConfig(steps=20, batch_size=128, lr_warmup_steps=2)
    both = train_saes(store, [SAESpec("resid_post.0", 32, "topk", k=3), SAESpec("resid_post.1", 32, "topk", k=3)],
                      config)
    assert len(both.saes) == 2 and both.saes[1].site == "resid_post.1"
    assert set(both.history["sae"]) == {0, 1}


def test_resume_equals_uninterrupted(tmp_path):
    store = sparse_store(n=2048)
    specs = [SAESpec("resid_post.0", 32, "topk", k=3, aux_k=8), SAESpec("resid_post.1", 16, "relu"),
             SAESpec(["resid_post.0", "resid_post.1"], 32, "jumprelu")]
    config = TrainConfig(steps=24, batch_size=256, lr_warmup_steps=3, sparsity_warmup_steps=5, dead_steps=4,
                         checkpoint_every=5, log_every=4)
    whole = train_saes(store, specs, config)
    part = train_saes(store, specs, config, out=tmp_path, stop_after=13)         # interrupted after 13 steps
    assert not (tmp_path / "sae_0").exists()
    rest = train_saes(store, specs, config, out=tmp_path)
    for a, b in zip(whole.saes, rest.saes):
        for name, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[name]), name
    assert (tmp_path / "sae_2" / "config.json").is_file() and rest.saes[2].sites == ("resid_post.0", "resid_post.1")
    assert part.history["step"].max() <= 13 and rest.history["step"].max() == 24
    state = safetensors.torch.load_file(tmp_path / "checkpoint.safetensors")
    state["0.W_enc"] = state.pop("0.W_enc_rows")                  # a checkpoint naming its tensors otherwise
    (tmp_path / "checkpoint.safetensors").write_bytes(safetensors.torch.save(state))
    with pytest.raises(InputError, match="lacks.*0.W_enc_rows.*delete it"):
        train_saes(store, specs, config, out=tmp_path)


def test_tiny_model_training_run_reduces_fvu():
    hm = interp.models.tiny("llama")
    texts = [f"The {w} near the {o} is on the table number {i}." for i, (w, o) in
             enumerate(zip(["dog", "key", "author", "cat"] * 30, ["house", "door", "forest"] * 40))]
    store = collect(hm, ["resid_post.1"], texts, tokens=3000, context=16)
    result = train_saes(store, [SAESpec("resid_post.1", 128, "topk", k=16, lr=3e-3)],
                        TrainConfig(steps=150, batch_size=256, lr_warmup_steps=10))
    x = store["resid_post.1"]
    fvu = ((result.saes[0](x) - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()
    assert fvu < 0.3, fvu


@pytest.mark.parametrize("n_dead", [0, 9])
def test_sparse_topk_step_equals_the_dense_computation(n_dead):
    """The TopK trainer differentiates only the k chosen features (and the aux-k loss only its chosen dead
    ones); loss and gradients are the dense ones."""
    torch.manual_seed(0)
    specs = [SAESpec(f"resid_post.{i}", 64, "topk", k=5, aux_k=4, aux_coefficient=0.5) for i in range(2)]
    stack = SAEStack(specs, 16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        stack.b_enc.normal_()
        stack.b_dec.normal_()
    x = torch.randn(2, 40, 16)
    dead = torch.zeros(2, 64, dtype=torch.bool)
    dead[0, :n_dead] = True                                   # SAE 0 has dead features (more than aux_k), SAE 1 none
    sparse = stack.losses(x, sparsity_factor=1.0, dead=dead)["loss"].sum()
    grads = torch.autograd.grad(sparse, list(stack.parameters()))
    pre = stack.encode_pre(x)
    recon = torch.baddbmm(stack.b_dec[:, None], topk_activate(pre, 5), stack.W_dec)
    variance = (x - x.mean(1, keepdim=True)).pow(2).sum(-1).mean(-1)
    per_sae = (x - recon).pow(2).sum(-1).mean(-1)
    aux_f = topk_activate(pre.masked_fill(~dead[:, None, :], float("-inf")), 4).nan_to_num(0.0)
    aux = (torch.bmm(aux_f, stack.W_dec) - (x - recon).detach()).pow(2).sum(-1).mean(-1) / variance
    dense = (per_sae + 0.5 * aux * dead.any(-1)).sum()
    torch.testing.assert_close(sparse, dense)
    for mine, reference in zip(grads, torch.autograd.grad(dense, list(stack.parameters()))):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-5)


def test_massive_activations_warn_and_max_norm_ratio_leaves_them_out():
    """Tokens whose activations are hundreds of times the median dominate the variance: collecting warns,
    and ``max_norm_ratio`` drops exactly those tokens (recorded in the store's meta)."""
    hm = interp.models.tiny("llama")
    texts = ["The keys to the cabinet are on the table."] * 40
    massive = hm.tokenizer(" cabinet", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():
        hm.model.get_input_embeddings().weight[massive] *= 1000.0     # a token with a massive residual
    with pytest.warns(MassiveActivationWarning, match="resid_post.0.*max_norm_ratio"):
        everything = collect(hm, ["resid_post.0"], texts, tokens=300, context=16)
    n_massive = int((everything.tokens == massive).sum())
    assert n_massive > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", MassiveActivationWarning)
        ordinary = collect(hm, ["resid_post.0"], texts, tokens=300, context=16, max_norm_ratio=10)
    assert ordinary.meta["dropped_tokens"] == n_massive
    assert ordinary.n_tokens == everything.n_tokens - n_massive and not bool((ordinary.tokens == massive).any())
    with pytest.raises(InputError, match="max_norm_ratio must be a number above 1"):
        collect(hm, ["resid_post.0"], texts, tokens=300, context=16, max_norm_ratio=0.5)
