"""Interventions during generation (KV cache on) give the tokens of cache-free full-sequence runs."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.interventions import Apply, Patch, Steer, generate
from interp.models import FAMILIES

PROMPTS = ["The keys to the", "The dog near the houses was"]


@pytest.fixture(scope="module", params=FAMILIES)
def hm(request):
    return interp.models.tiny(request.param)


def reference(hm, prompts, make_handler, n_new):
    """Greedy decoding without a cache: re-run the whole sequence each step."""
    batch = hm.tokenize(prompts, padding_side="left")
    ids, mask = batch.input_ids, batch.attention_mask
    for _ in range(n_new):
        seq = interp.Batch(ids, mask)
        out = hm.run(seq, interventions=[make_handler(batch.width)])
        nxt = out.logits[:, -1].argmax(-1)
        ids = torch.cat([ids, nxt[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return ids


@pytest.mark.parametrize("where", ["prompt", "new", "all"])
def test_steering_with_kv_cache_equals_cache_free_runs(hm, where):
    vector = torch.randn(hm.d_model, generator=torch.Generator().manual_seed(0))
    steer = Steer("resid_post.0", vector, alpha=4.0)
    gen = generate(hm, PROMPTS, interventions=[steer], max_new_tokens=6, where=where)

    def make_handler(width):
        def add(act, ctx):
            columns = torch.arange(act.shape[1])
            chosen = {"prompt": columns < width, "new": columns >= width, "all": columns >= 0}[where]
            return act + 4.0 * vector * chosen[None, :, None]
        return Apply("resid_post.0", add)

    assert torch.equal(gen.sequences, reference(hm, PROMPTS, make_handler, 6))
    plain = generate(hm, PROMPTS, max_new_tokens=6)
    assert not torch.equal(gen.sequences, plain.sequences)  # the steering did something


def test_patch_on_the_last_prompt_token_during_generation(hm):
    source = ["The key to the", "The dogs near the house was"]
    src = hm.run(source, cache=["resid_pre.1"])
    patch = Patch("resid_pre.1", src.cache, positions="last")
    gen = generate(hm, PROMPTS, interventions=[patch], max_new_tokens=5)
    values = src.cache["resid_pre.1"][torch.arange(2), src.batch.last_index]

    def make_handler(width):
        def put(act, ctx):
            act = act.clone()
            act[:, width - 1] = values
            return act
        return Apply("resid_pre.1", put)

    assert torch.equal(gen.sequences, reference(hm, PROMPTS, make_handler, 5))


def test_generation_rejects_an_unknown_where(hm):
    with pytest.raises(interp.InputError, match="where must be one of"):
        generate(hm, PROMPTS, where="everywhere")
