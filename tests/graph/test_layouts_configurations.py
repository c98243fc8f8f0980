"""Layouts whose meaning depends on the configuration: Falcon's three QKV packings and block shapes,
GPT-BigCode with and without multi-query attention, CodeGen's blocked ``[q | v | k]``, configurations a
table does not describe (OPT-350m, BLOOM's post-norm residual) and the in-place edit Falcon makes to
its MLP's output. Each on a tiny random model (``tests/graph/test_families.py`` checks the default
tiny config of every family)."""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import AutoModelForCausalLM

import interp
from interp.errors import NoLayoutWarning
from interp.interventions import Patch
from interp.models.tiny import tiny_tokenizer
from interp.models.tiny_configs import tiny_config

TOKENIZER = tiny_tokenizer()
SENTENCES = ["The keys to the cabinet are on the table.", "No teacher has ever seen"]


def wrapped(model_type: str, **overrides):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(model_type, vocab_size=384, **overrides),
                                             attn_implementation="eager").eval()
    return interp.wrap(model, TOKENIZER)


def assert_heads_and_residual(hm) -> None:
    """``z == pattern @ v`` per head (the q/k/v packing and its widths) and the residual identity."""
    layers = range(hm.n_layers)
    kinds = ("pattern", "v", "z", "resid_pre", "attn_out", "mlp_out", "resid_post")
    out = hm.run(SENTENCES, cache=[f"{kind}.{layer}" for kind in kinds for layer in layers])
    real = out.batch.attention_mask.bool()  # [batch, pos]
    for layer in layers:
        pattern, v, z = (out.cache[f"{kind}.{layer}"] for kind in ("pattern", "v", "z"))
        v_per_head = v.repeat_interleave(hm.n_heads // v.shape[2], dim=2)  # [batch, pos, head, d_head]
        torch.testing.assert_close(torch.einsum("bhqk,bkhd->bqhd", pattern, v_per_head)[real], z[real])
        total = out.cache[f"resid_pre.{layer}"] + out.cache[f"attn_out.{layer}"] + out.cache[f"mlp_out.{layer}"]
        torch.testing.assert_close(total, out.cache[f"resid_post.{layer}"])


@pytest.mark.parametrize(("overrides", "n_kv_heads", "parallel"), [
    (dict(num_attention_heads=8, num_kv_heads=2), 2, True),  # new decoder architecture: [g: q q q q k v]
    (dict(new_decoder_architecture=False, multi_query=True, parallel_attn=True, num_kv_heads=None), 1, True),  # 7B
    (dict(new_decoder_architecture=False, multi_query=False, parallel_attn=False, alibi=True, num_kv_heads=None),
     4, False),  # Falcon-RW: per head, sequential, ALiBi
], ids=["new-decoder-gqa", "multi-query", "rw-alibi"])
def test_falcon_packings_and_blocks(overrides, n_kv_heads, parallel):
    hm = wrapped("falcon", **overrides)
    assert hm.dims.n_kv_heads == n_kv_heads
    assert_heads_and_residual(hm)
    assert bool(hm.sites("resid_mid")) == (not parallel)


def test_falcon_mlp_out_is_the_mlps_own_output_also_after_the_in_place_add():
    hm = wrapped("falcon")
    cache = hm.run(SENTENCES, cache=["mlp_post.0", "mlp_out.0", "attn_out.0"]).cache
    down = hm.binding("mlp_post.0").module
    torch.testing.assert_close(cache["mlp_out.0"], down(cache["mlp_post.0"]))
    source = hm.run(SENTENCES[::-1], cache=["mlp_out.0"]).cache
    kept = source["mlp_out.0"].clone()
    hm.run(SENTENCES, interventions=[Patch("mlp_out.0", source=source)])
    assert torch.equal(source["mlp_out.0"], kept)  # the layer's in-place add did not reach the patch's source


@pytest.mark.parametrize("multi_query", [True, False])
def test_gpt_bigcode_with_and_without_multi_query(multi_query):
    hm = wrapped("gpt_bigcode", multi_query=multi_query)
    assert hm.dims.n_kv_heads == (1 if multi_query else hm.n_heads)
    assert_heads_and_residual(hm)


def test_codegen_reads_its_four_blocks_of_q_v_k():
    hm = wrapped("codegen", n_head=8)  # 2 heads in each of the 4 blocks
    assert_heads_and_residual(hm)


@pytest.mark.parametrize(("model_type", "overrides", "why"), [
    ("opt", dict(do_layer_norm_before=False, word_embed_proj_dim=32), "do_layer_norm_before=False"),
    ("opt", dict(word_embed_proj_dim=32), "project_out"),
    ("bloom", dict(apply_residual_connection_post_layernorm=True), "apply_residual_connection_post_layernorm"),
])
def test_a_configuration_the_table_does_not_describe_wraps_with_module_paths_and_says_why(model_type, overrides,
                                                                                         why):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hm = wrapped(model_type, **overrides)
    assert hm.layout is None and hm.sites() == []
    messages = [str(w.message) for w in caught if issubclass(w.category, NoLayoutWarning)]
    assert any("does not describe this configuration" in m and why in m for m in messages), messages
