"""Generation control on tiny models of each family: interventions at chosen steps (equal to a cache-free
manual loop, earlier tokens untouched), beam search and num_return_sequences with interventions bound per
prompt, per-step caching."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.graph import AtSteps
from interp.interventions import Apply, Steer, generate
from interp.models import FAMILIES

PROMPTS = ["The keys to the", "The dog near the houses was"]
N_NEW = 6


@pytest.fixture(scope="module", params=FAMILIES)
def hm(request):
    return interp.models.tiny(request.param)


@pytest.fixture(scope="module")
def vector(hm):
    return torch.randn(hm.d_model, generator=torch.Generator().manual_seed(0))


def manual_loop(hm, prompts, columns, add, n_new):
    """Greedy decoding without a KV cache, ``add`` added at the sequence ``columns(width, total)`` chooses."""
    batch = hm.tokenize(prompts, padding_side="left")
    ids, mask = batch.input_ids, batch.attention_mask

    def edit(act, ctx):
        chosen = columns(batch.width, act.shape[1])
        return act + add * chosen[None, :, None].to(act.dtype)

    for _ in range(n_new):
        out = hm.run(interp.Batch(ids, mask), interventions=[Apply("resid_post.0", edit)])
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1)[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return ids


@pytest.mark.parametrize("steps", [0, 3, slice(4, None)], ids=["step0", "step3", "from4"])
def test_an_intervention_at_chosen_steps_equals_a_manual_loop(hm, vector, steps):
    steer = Steer("resid_post.0", vector, alpha=6.0)
    gen = generate(hm, PROMPTS, interventions=[AtSteps(steer, steps)], max_new_tokens=N_NEW)
    first = steps.start if isinstance(steps, slice) else steps

    def columns(width, total):  # step s >= 1 reads the token at column width + s - 1; step 0 the prompt
        at = torch.arange(total)
        if first == 0:
            return at < width
        return at == width + first - 1 if not isinstance(steps, slice) else at >= width + first - 1

    assert torch.equal(gen.sequences, manual_loop(hm, PROMPTS, columns, 6.0 * vector, N_NEW))
    plain = generate(hm, PROMPTS, max_new_tokens=N_NEW)
    assert torch.equal(gen.new_tokens[:, :first], plain.new_tokens[:, :first])   # earlier tokens untouched
    assert not torch.equal(gen.new_tokens, plain.new_tokens)                     # and it did something


def test_beam_search_with_an_identity_intervention_equals_plain_beam_search(hm, vector):
    settings = {"max_new_tokens": 5, "num_beams": 3, "num_return_sequences": 2}
    identity = Steer("resid_post.0", vector, alpha=torch.zeros(len(PROMPTS)))   # per-row, all zero
    gen = generate(hm, PROMPTS, interventions=[identity], where="all", **settings)
    plain = generate(hm, PROMPTS, **settings)
    assert gen.sequences.shape[0] == 2 * len(PROMPTS) and torch.equal(gen.sequences, plain.sequences)


@pytest.mark.parametrize("settings", [{"num_beams": 2, "num_return_sequences": 2},
                                      {"do_sample": True, "top_k": 1, "num_return_sequences": 3}],
                         ids=["beams", "sampling"])
def test_per_row_interventions_follow_their_prompt_to_every_returned_sequence(hm, vector, settings):
    k = settings["num_return_sequences"]

    def run(alpha, positions):
        steer = Steer("resid_post.0", vector, alpha=alpha, positions=positions)
        return generate(hm, PROMPTS, interventions=[steer], where="prompt", max_new_tokens=5, **settings).sequences

    per_row = run(torch.tensor([30.0, 60.0]), [[4], [3]])      # prompt 0: its last token; prompt 1: its 4th
    first, second = run(30.0, [[4], [4]]), run(60.0, [[3], [3]])
    assert torch.equal(per_row[:k], first[:k]) and torch.equal(per_row[k:], second[k:])
    plain = generate(hm, PROMPTS, max_new_tokens=5, **settings).sequences
    assert not torch.equal(per_row, plain)


def test_per_step_cache(hm, vector):
    steer = AtSteps(Steer("resid_post.0", vector, alpha=6.0), 2)
    gen = generate(hm, PROMPTS, interventions=[steer], max_new_tokens=4, cache=["resid_post.0", "resid_post.1"])
    steps = gen.cache["resid_post.0"]
    width = gen.prompt.width
    assert [tuple(a.shape[:2]) for a in steps] == [(2, width), (2, 1), (2, 1), (2, 1)]
    # the cache-free run of the whole sequence, the same intervention at step 2's token, gives the same values
    def add(act, ctx):
        return act + 6.0 * vector * (torch.arange(act.shape[1]) == width + 1)[None, :, None]
    full = hm.run(interp.Batch(gen.sequences, torch.cat([gen.prompt.attention_mask, torch.ones(2, 4, dtype=torch.long)],
                                                         1)), interventions=[Apply("resid_post.0", add)],
                  cache=["resid_post.0", "resid_post.1"])
    for site in ("resid_post.0", "resid_post.1"):
        stacked = gen.at_new_tokens(site)                          # [rows, new, d]
        assert stacked.shape == (2, 4, hm.d_model)
        torch.testing.assert_close(stacked, full.cache[site][:, width - 1:width + 3], atol=1e-4, rtol=1e-4)


def test_step_errors_say_what_is_wrong(hm, vector):
    steer = Steer("resid_post.0", vector)
    with pytest.raises(interp.InputError, match="never applies: a generation of 4 new tokens runs steps 0 to 3"):
        generate(hm, PROMPTS, interventions=[AtSteps(steer, 4)], max_new_tokens=4)
    with pytest.raises(interp.InputError, match="slice.*from step 4 on"):
        AtSteps(steer, -1)
    with pytest.raises(interp.InputError, match="was not cached.*cache=\\['z.0'\\]"):
        generate(hm, PROMPTS, max_new_tokens=2).at_new_tokens("z.0")
