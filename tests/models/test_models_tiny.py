import pytest
import torch

import interp
from interp.errors import ModelLoadError


def test_each_family_runs_and_has_its_shape(tiny_hm):
    out = tiny_hm.run(["The dog near the houses"])
    assert out.logits.shape == (1, out.batch.width, len(tiny_hm.tokenizer))
    assert torch.isfinite(out.logits).all()
    assert not any(p.requires_grad for p in tiny_hm.model.parameters())


def test_same_seed_same_weights_other_seed_other_weights(family):
    a, b, c = interp.models.tiny(family), interp.models.tiny(family), interp.models.tiny(family, seed=1)
    weights = lambda hm: torch.cat([p.flatten() for p in hm.model.parameters()])  # noqa: E731
    assert torch.equal(weights(a), weights(b))
    assert not torch.equal(weights(a), weights(c))


def test_overrides_reach_the_config():
    hm = interp.models.tiny("llama", num_hidden_layers=3, num_key_value_heads=1)
    assert (hm.n_layers, hm.n_kv_heads) == (3, 1)


def test_tokenizer_has_leading_space_tokens_and_llama_adds_bos():
    gpt2, llama = interp.models.tiny("gpt2").tokenizer, interp.models.tiny("llama").tokenizer
    assert gpt2.convert_ids_to_tokens(gpt2(" the")["input_ids"]) == ["Ġthe"]
    assert llama("the")["input_ids"][0] == llama.bos_token_id
    assert gpt2("the")["input_ids"][0] != gpt2.bos_token_id


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="unknown tiny family 'bert'.*gpt2, neox, llama"):
        interp.models.tiny("bert")
