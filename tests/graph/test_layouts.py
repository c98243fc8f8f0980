"""The layout data model: verification at bind time, base models and other heads, structure
matching, the no-layout warning, state-space and mixture-of-experts sites, fused QKV packings."""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    BertConfig,
    BertModel,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    LlamaModel,
)

import interp
from interp.errors import ModelLoadError, NoLayoutWarning, SiteError
from interp.graph.adapters import LAYOUTS, FusedQKV, build_bindings, layout_for, verify_layout
from interp.graph.adapters.layout import Dims
from interp.graph.runner import count_hooks
from interp.models.tiny import tiny_tokenizer
from interp.models.tiny_configs import tiny_config

TOKENIZER = tiny_tokenizer()


def build(model_type: str, cls=AutoModelForCausalLM.from_config, **overrides):
    torch.manual_seed(0)
    return cls(tiny_config(model_type, vocab_size=384, **overrides)).eval()


@pytest.mark.parametrize("model_type", ["gemma2", "olmo2", "granite", "cohere"])
def test_a_wrong_table_is_an_error_naming_the_identity(model_type):
    model = build(model_type)
    wrong = LAYOUTS["llama"].under("model")
    with pytest.raises(ModelLoadError, match=r"the Llama layout does not fit .* is off by"):
        verify_layout(model, wrong, build_bindings(model, wrong, model.config), model.config)


def test_verification_leaves_no_hooks_and_the_layer_list_as_it_was():
    model = build("llama", num_hidden_layers=4)
    layers = model.model.layers
    hm = interp.wrap(model, TOKENIZER)
    assert model.model.layers is layers and len(layers) == 4 and count_hooks(model) == 0
    assert hm.n_layers == 4


def test_a_base_model_has_every_site_but_logits():
    hm = interp.wrap(build("llama", cls=LlamaModel), TOKENIZER)
    assert hm.layout.layers == "layers" and "resid_post.1" in hm.sites() and "logits" not in hm.sites()
    assert hm.run("The keys").logits is None


def test_a_classification_head_gives_per_position_logits():
    model = build("llama", cls=LlamaForSequenceClassification, num_labels=3, pad_token_id=0)
    hm = interp.wrap(model, TOKENIZER)
    out = hm.run("The keys to", cache=["logits"])
    assert out.cache["logits"].shape[-1] == 3 and torch.equal(out.cache["logits"][:, -1], out.logits)


def test_a_subclass_with_its_own_model_type_and_a_renamed_type_find_their_layout():
    class MyConfig(LlamaConfig):
        model_type = "my_llama"

    class MyLlama(LlamaForCausalLM):
        config_class = MyConfig

    model = MyLlama(MyConfig(**tiny_config("llama", vocab_size=384).to_dict())).eval()
    assert interp.wrap(model, TOKENIZER).family == "Llama"
    renamed = build("olmo2")
    renamed.config.model_type = "not_a_known_type"
    assert layout_for(renamed).family == "OLMo-2"  # by structure: the table that verifies


def test_a_model_without_a_layout_warns_with_module_path_sites():
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    with pytest.warns(NoLayoutWarning, match=r"no layout for BertModel .*'encoder.layer.0"):
        hm = interp.wrap(model)
    assert hm.sites() == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        interp.wrap(torch.nn.Linear(2, 2))  # not a Hugging Face model: no warning


def test_a_state_space_model_has_mixer_sites_and_says_why_it_has_no_attention():
    hm = interp.wrap(build("mamba"), TOKENIZER)
    assert {site.split(".")[0] for site in hm.sites()} == {"embed", "resid_pre", "mixer_out", "resid_post", "logits"}
    with pytest.raises(SiteError, match="state-space model"):
        hm.binding("z.0")


def test_router_probabilities_are_read_only_and_sum_to_one():
    hm = interp.wrap(build("mixtral"), TOKENIZER)
    out = hm.run("The keys", cache=["router.0"])
    assert torch.allclose(out.cache["router.0"].sum(-1), torch.ones(1, out.batch.width))
    assert "mlp_post.0" not in hm.sites() and not hm.binding("router.0").writable


@pytest.mark.parametrize("packing", ["concat", "per_head", "grouped", FusedQKV(4, ("q", "v", "k"))])
def test_fused_packings_read_back_what_they_write(packing):
    dims = Dims(1, n_heads=4, n_kv_heads=2 if packing in ("concat", "grouped") else 4, d_model=16, d_head=2)
    fused = FusedQKV.named(packing)
    width = (dims.n_heads + 2 * dims.n_kv_heads) * dims.d_head
    raw = torch.randn(2, 3, width)
    seen = []
    for kind in "qkv":
        read, write = fused.accessors(kind, dims)
        value = read(raw, {})
        assert value.shape[-2:] == ((dims.n_heads if kind == "q" else dims.n_kv_heads), dims.d_head)
        assert torch.equal(write(raw, value, {}), raw)
        seen.append(value.flatten(-2))
    assert torch.equal(torch.cat(seen, -1).sort(-1).values, raw.sort(-1).values)  # every entry exactly once
