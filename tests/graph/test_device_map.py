"""Models spread over devices with ``device_map``: every site and intervention gives the same numbers.

This machine has one CPU and no GPU, so the second "device" is accelerate's disk offload: the
offloaded layers hold ``meta`` weights and accelerate's hooks load them for each forward, which
is the same mechanism (module hooks moving tensors between devices) as a split across GPUs.
"""

from __future__ import annotations

import pytest
import torch

import interp
from interp.errors import ModelLoadError
from interp.graph.runner import count_hooks
from interp.interventions import Patch, ScaleHeads, Steer, patch_sweep
from interp.models.loading import place

PROMPTS = ["The keys to the cabinet", "The dog near the cars is"]
SITES = ["embed", "resid_pre.1", "resid_mid.1", "z.1", "v.0", "mlp_post.1", "resid_post.1"]


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory):
    hm = interp.models.tiny("llama", seed=2)
    folder = tmp_path_factory.mktemp("tiny-llama")
    hm.model.save_pretrained(folder)
    hm.tokenizer.save_pretrained(folder)
    return folder


def _split_map() -> dict:
    """Layer 0 and the embeddings on the CPU, layer 1 and the head on disk."""
    return {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.layers.0": "cpu",
            "model.layers.1": "disk", "model.norm": "disk", "lm_head": "disk"}


def _interventions(hm, source):
    return [Patch("resid_post.0", source=source.cache, positions=1), ScaleHeads("z.1", {0: -1.5}),
            Steer("resid_mid.1", torch.ones(hm.d_model), alpha=0.5, positions="last")]


def _assert_same(split, whole):
    assert split.model.model.layers[1].self_attn.q_proj.weight.device.type == "meta"  # really offloaded
    hooks_before = count_hooks(split.model)  # accelerate's own (if any) stay; every one of ours goes
    a, b = whole.run(PROMPTS, cache=SITES), split.run(PROMPTS, cache=SITES)
    assert torch.equal(a.logits, b.logits)
    for site in SITES:
        assert torch.equal(a.cache[site], b.cache[site]), site
    source_a = whole.run(["A red fish swims far", "Every cat sat on it"], cache=["resid_post.0"])
    source_b = split.run(["A red fish swims far", "Every cat sat on it"], cache=["resid_post.0"])
    patched_a = whole.run(PROMPTS, interventions=_interventions(whole, source_a))
    patched_b = split.run(PROMPTS, interventions=_interventions(split, source_b))
    assert not torch.equal(patched_a.logits, a.logits)
    assert torch.equal(patched_a.logits, patched_b.logits)
    assert count_hooks(split.model) == hooks_before


def test_from_pretrained_with_a_device_map_gives_identical_numbers(saved_tiny, tmp_path):
    whole = interp.load(str(saved_tiny))
    split = interp.load(str(saved_tiny), device_map=_split_map(), offload_folder=tmp_path)
    _assert_same(split, whole)
    assert split.device == torch.device("cpu")
    sweep_a = patch_sweep(whole, PROMPTS[:1], ["The key to the cabinets"], kind="resid_pre", layers=[0, 1],
                          positions=[1, 2])
    sweep_b = patch_sweep(split, PROMPTS[:1], ["The key to the cabinets"], kind="resid_pre", layers=[0, 1],
                          positions=[1, 2])
    assert torch.allclose(sweep_a.values, sweep_b.values, atol=1e-6)


def test_auto_map_within_a_memory_budget_offloads(saved_tiny, tmp_path):
    whole = interp.load(str(saved_tiny))
    size = sum(p.numel() * p.element_size() for p in whole.model.parameters())
    split = interp.load(str(saved_tiny), device_map="auto", max_memory={"cpu": size // 3}, offload_folder=tmp_path)
    assert "disk" in set(split.model.hf_device_map.values())
    a, b = whole.run(PROMPTS, cache=["z.1"]), split.run(PROMPTS, cache=["z.1"])
    assert torch.equal(a.logits, b.logits) and torch.equal(a.cache["z.1"], b.cache["z.1"])


def test_generation_with_interventions_on_a_split_model(saved_tiny, tmp_path):
    whole = interp.load(str(saved_tiny))
    split = interp.load(str(saved_tiny), device_map=_split_map(), offload_folder=tmp_path)
    steer = [Steer("resid_post.0", torch.ones(whole.d_model), alpha=2.0)]
    a = whole.generate(PROMPTS, interventions=steer, max_new_tokens=4)
    b = split.generate(PROMPTS, interventions=steer, max_new_tokens=4)
    assert torch.equal(a.sequences, b.sequences)


def test_place_spreads_a_model_already_in_memory(tmp_path):
    hm = interp.models.tiny("llama", seed=2)
    expected = hm.run(PROMPTS, cache=["z.1"])
    model = place(hm.model, _split_map(), offload_folder=tmp_path)
    split = interp.wrap(model, hm.tokenizer)
    got = split.run(PROMPTS, cache=["z.1"])
    assert torch.equal(expected.logits, got.logits) and torch.equal(expected.cache["z.1"], got.cache["z.1"])


def test_bad_placement_is_a_clear_error(saved_tiny):
    with pytest.raises(ModelLoadError, match="either device"):
        interp.load(str(saved_tiny), device="cuda", device_map="auto")
    with pytest.raises(ModelLoadError, match="only apply with device_map"):
        interp.load(str(saved_tiny), max_memory={"cpu": 1000})
    hm = interp.models.tiny("llama")
    with pytest.raises(ModelLoadError, match="offload_folder"):
        place(hm.model, _split_map())


@pytest.mark.slow
def test_embedded_model_split_half_on_disk(tmp_path):
    whole = interp.load()
    device_map = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu", "lm_head": "cpu"}
    device_map.update({f"model.layers.{i}": "cpu" if i < 15 else "disk" for i in range(whole.n_layers)})
    split = interp.load(device_map=device_map, offload_folder=tmp_path)
    base = ["The key to the cabinets"]
    source = split.run(["The keys to the cabinet"], cache=["resid_pre.2"])
    patch = Patch("resid_pre.2", source=source.cache, positions=[1])
    a, b = whole.run(base, interventions=[patch], cache=["z.20"]), split.run(base, interventions=[patch],
                                                                             cache=["z.20"])
    assert torch.equal(a.logits, b.logits) and torch.equal(a.cache["z.20"], b.cache["z.20"])
