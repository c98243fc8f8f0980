"""Bad input fails before any forward pass; saved interventions round-trip exactly, never unpickle."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

import interp
from interp.errors import InputError
from interp.interventions import DAS, Ablate, Apply, BoundlessDAS, Patch, ScaleHeads, Steer, Subspace, load

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


@pytest.fixture(scope="module")
def src(hm):
    return hm.run(SOURCE, cache=["resid_post.0", "z.1", "v.0"])


def forwards(hm):
    calls = []
    handle = hm.model.register_forward_pre_hook(lambda *args: calls.append(1))
    return calls, handle


@pytest.mark.parametrize("make, message", [
    (lambda src: Patch("resid_post.0", src.cache, positions=[1, 40]), "out of range"),
    (lambda src: Patch("resid_post.0", src.cache, positions="last", source_positions=12), "source positions"),
    (lambda src: Patch("resid_post.0", src.cache["resid_post.0"][:1].repeat(3, 1, 1), "last"), "source batch"),
    (lambda src: Patch("resid_post.0", src.cache, positions=[[1, 2], [1, 2]], source_positions="last"), "select"),
    (lambda src: Steer("resid_post.0", torch.ones(65)), "trailing dims [64]"),
    (lambda src: ScaleHeads("z.1", {4: 0.0}), "head index [4] out of range"),
    (lambda src: ScaleHeads("v.0", {2: 0.0}), "2 key/value heads"),
    (lambda src: Patch("z.1", src.cache, "last", heads=[7]), "out of range"),
    (lambda src: Subspace("resid_post.0", torch.ones(32, 1) / 32**0.5, src.cache, "last"), "width"),
    (lambda src: DAS("resid_post.0", 32, 2, src.cache, "last"), "dim=32"),
    (lambda src: Patch("resid_post.0", src.cache["resid_post.0"][:, :5]), "choose positions"),
])
def test_bad_input_is_a_clear_error_before_any_forward(hm, src, make, message):
    calls, handle = forwards(hm)
    try:
        with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
            hm.run(BASE, interventions=[make(src)])
    finally:
        handle.remove()
    assert calls == []


def test_constructor_errors(hm):
    with pytest.raises(InputError, match="orthonormal"):
        Subspace("resid_post.0", torch.ones(64, 2))
    with pytest.raises(InputError, match="unknown ablation"):
        Ablate("resid_post.0", "median")
    with pytest.raises(InputError, match="needs reference"):
        Ablate("resid_post.0", "resample")
    with pytest.raises(interp.SiteError, match="not a site name"):
        Patch("resid post 0", None)
    with pytest.raises(InputError, match="rank"):
        DAS("resid_post.0", 64, 0)
    with pytest.raises(InputError, match="not serialise"):
        Apply("resid_post.0", lambda a, c: a).save("/tmp/nowhere")


def test_missing_site_in_source_cache_names_what_is_there(hm, src):
    with pytest.raises(interp.SiteError, match="resid_post.0"):
        Patch("resid_post.1", src.cache)


def interventions(hm, src):
    g = torch.Generator().manual_seed(0)
    das = DAS("resid_post.0", 64, 3, src.cache, "last", seed=1)
    with torch.no_grad():
        for p in das.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return [
        Patch("resid_post.0", src.cache, [[1], [2]], source_positions=slice(-2, -1)),
        Patch("resid_post.0", src.cache, [1, 2], source_positions=[2, 1]),
        Patch("z.1", SOURCE, "last", heads=[0, 3]),
        Subspace("resid_post.0", torch.linalg.qr(torch.randn(64, 4, generator=g)).Q, src, "last"),
        das,
        BoundlessDAS("resid_post.0", 64, src.cache, "last", temperature=0.5, seed=2),
        ScaleHeads("v.0", {1: 0.0}, positions=[[0, 1], [2, 3]]),
        Steer("resid_post.0", torch.randn(64, generator=g), alpha=2.5, positions="last"),
        Ablate("resid_post.0", "mean", reference=["The dog was happy"], positions=0),
        Ablate("z.1", "resample", reference=src, heads=[1], positions="last", seed=4),
        Ablate("mlp_out.0"),
    ]


def test_save_and_load_round_trip_exactly(hm, src, tmp_path):
    for i, original in enumerate(interventions(hm, src)):
        expected = hm.run(BASE, interventions=[original]).logits
        folder = original.save(tmp_path / str(i))
        json.loads((folder / "config.json").read_text())  # plain JSON
        loaded = load(folder)
        assert type(loaded) is type(original) and repr(loaded) == repr(original)
        assert loaded.config() == original.config()
        assert loaded.tensors().keys() == original.tensors().keys()
        assert all(torch.equal(loaded.tensors()[k], v) for k, v in original.tensors().items())
        assert torch.equal(hm.run(BASE, interventions=[loaded]).logits, expected), original


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    folder = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "steer")
    (folder / "tensors.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InputError, match="not a safetensors file"):
        load(folder)
    torch.save({"vector": Evil()}, folder / "tensors.safetensors")
    with pytest.raises(InputError, match="not a safetensors file"):
        load(folder)
    (folder / "config.json").write_text(json.dumps({"type": "os.system"}))
    with pytest.raises(InputError, match="unknown intervention type 'os.system'"):
        load(folder)
    assert not marker.exists()
