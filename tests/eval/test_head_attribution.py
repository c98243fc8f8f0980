"""Direct logit attribution per head: an exact decomposition of the final logit difference."""

import pytest
import torch

import interp
from interp.errors import InputError
from interp.eval.head_attribution import head_attribution
from interp.graph.readout import FrozenReadout

PROMPTS = ["The keys to the cabinet", "The dog near the", "I think that the movie was"]
TARGET = [" table", " house", " wonderful"]
BASELINE = [" car", " houses", " terrible"]


def _ids(hm, words) -> torch.Tensor:
    return torch.tensor([hm.tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in words])


def _perturbed(family: str, dtype=torch.float32, **overrides):
    """A tiny model whose norms, biases and weights are all non-trivial (random init leaves γ=1, β=0)."""
    hm = interp.models.tiny(family, **overrides)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in hm.model.named_parameters():
            if "norm" in name or "ln" in name or name.endswith("bias"):
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    hm.model.to(dtype)
    return hm


# float64 models: Llama's RMSNorm still normalises in float32, so "exact" means ~1e-8 there.
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-7), (torch.float32, 1e-4)])
def test_components_sum_to_the_actual_logit_difference(family, dtype, tolerance):
    hm = _perturbed(family, dtype)
    attribution = head_attribution(hm, PROMPTS, TARGET, BASELINE, batch_size=2)
    out = hm.run(PROMPTS)
    logits = out.last_logits.double()
    rows = torch.arange(len(PROMPTS))
    expected = logits[rows, _ids(hm, TARGET)] - logits[rows, _ids(hm, BASELINE)]
    assert torch.allclose(attribution.total, expected, atol=tolerance * 10)
    assert attribution.residual_error() < tolerance * max(1.0, float(expected.abs().max()))
    assert attribution.per_head().shape == (len(PROMPTS), hm.n_layers, hm.n_heads)
    assert attribution.per_head().abs().sum() > 0


@pytest.mark.parametrize("family, overrides", [("llama", {"attention_bias": True}),
                                               ("neox", {"use_parallel_residual": False}),
                                               ("llama", {"num_key_value_heads": 1})])
def test_exact_on_variants(family, overrides):
    hm = _perturbed(family, torch.float64, **overrides)
    attribution = head_attribution(hm, PROMPTS, TARGET, BASELINE)
    assert attribution.residual_error() < 1e-7
    has_bias = "attn_bias" in set(attribution.table().component)
    assert has_bias == (family != "llama" or overrides.get("attention_bias", False))


def test_heads_through_the_projection_equal_attn_out(family):
    """Per layer: the heads plus the projection bias read out exactly what attn_out reads out."""
    hm = _perturbed(family, torch.float64)
    attribution = head_attribution(hm, PROMPTS[:2], TARGET[:2], BASELINE[:2])
    table = attribution.components
    probe = FrozenReadout(hm)
    sites = [f"attn_out.{layer}" for layer in range(hm.n_layers)] + [f"resid_post.{hm.n_layers - 1}"]
    out = hm.run(PROMPTS[:2], cache=sites)
    rows, last = torch.arange(2), out.batch.last_index
    final = out.cache[f"resid_post.{hm.n_layers - 1}"][rows, last]
    w, _ = probe.direction(final, _ids(hm, TARGET[:2]), _ids(hm, BASELINE[:2]))
    for layer in range(hm.n_layers):
        of_layer = torch.as_tensor(((table.layer == layer) & table.component.isin(["head", "attn_bias"])).to_numpy())
        direct = (out.cache[f"attn_out.{layer}"][rows, last].double() * w).sum(-1)
        assert torch.allclose(attribution.values[:, of_layer].sum(-1), direct, atol=1e-10)


def test_swapping_target_and_baseline_negates_everything():
    hm = _perturbed("gpt2")
    forward = head_attribution(hm, PROMPTS, TARGET, BASELINE)
    backward = head_attribution(hm, PROMPTS, BASELINE, TARGET)
    assert torch.allclose(forward.values, -backward.values, atol=1e-5)


def test_unembedding_bias_is_its_own_component():
    hm = _perturbed("neox", torch.float64)
    old = hm.model.get_output_embeddings()
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True, dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.copy_(torch.randn(old.out_features, generator=torch.Generator().manual_seed(1)))
    hm.model.set_output_embeddings(head)
    attribution = head_attribution(hm, PROMPTS, TARGET, BASELINE)
    assert attribution.residual_error() < 1e-7
    bias = attribution.table().set_index("component").loc["unembed_bias", "value"]
    assert abs(bias) > 1e-3


def test_table_grid_and_top_agree():
    hm = interp.models.tiny("llama")
    attribution = head_attribution(hm, PROMPTS, TARGET, BASELINE)
    heads = attribution.heads()
    assert len(heads) == hm.n_layers * hm.n_heads
    grid = attribution.grid()
    assert grid.shape == (hm.n_layers, hm.n_heads)
    best = heads.loc[heads.value.idxmax()]
    assert attribution.top(1) == [(int(best.layer), int(best["head"]))]
    worst = heads.loc[heads.value.idxmin()]
    assert attribution.top(1, "negative") == [(int(worst.layer), int(worst["head"]))]
    assert grid.loc[int(best.layer), int(best["head"])] == pytest.approx(best.value)
    assert torch.allclose(attribution.per_head().mean(0).double(),
                          torch.tensor(grid.to_numpy(), dtype=torch.float64))


def test_bad_inputs_fail_before_any_work():
    hm = interp.models.tiny("gpt2")
    with pytest.raises(InputError, match="at least one prompt"):
        head_attribution(hm, [], [], [])
    with pytest.raises(InputError, match="target has 1 entries for 3 prompts"):
        head_attribution(hm, PROMPTS, [" a"], BASELINE)
    with pytest.raises(InputError, match="outside the vocabulary"):
        head_attribution(hm, PROMPTS, [10**7] * 3, BASELINE)
    attribution = head_attribution(hm, PROMPTS, TARGET, BASELINE)
    with pytest.raises(InputError, match="direction"):
        attribution.top(2, "up")
    with pytest.raises(InputError, match=r"k \(how many heads\) must be an integer, not True"):
        attribution.top(True)  # was one head, silently
    with pytest.raises(InputError, match=r"k \(how many heads\) must be at least 1, not 0"):
        attribution.top(0)  # was no heads
