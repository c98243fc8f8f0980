"""Runs do not leak: memory stays flat over many runs and cached tensors die with their result."""

import gc
import weakref

import torch

import interp


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


class AddOne:
    site = "resid_post.0"

    def __call__(self, act, ctx):
        return act + 1


def test_a_thousand_runs_do_not_grow_memory():
    hm = interp.models.tiny("llama")
    batch = hm.tokenize(["The keys to the cabinet", "The key"])
    for _ in range(50):  # warm up allocator and caches
        hm.run(batch, interventions=[AddOne()], cache=["z.1", "resid_post.1"])
    gc.collect()
    before = rss_bytes()
    for _ in range(1000):
        hm.run(batch, interventions=[AddOne()], cache=["z.1", "resid_post.1"])
    gc.collect()
    assert rss_bytes() - before < 20 * 2**20


def test_cached_tensors_are_released_with_their_result():
    hm = interp.models.tiny("gpt2")
    out = hm.run("The keys", cache=["resid_post.1", "mlp_post.0"])
    refs = [weakref.ref(t) for t in out.cache.values()]
    del out
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_same_inputs_same_numbers():
    hm = interp.models.tiny("neox")
    first = hm.run(["The keys to the cabinet"], cache=["z.0"])
    second = hm.run(["The keys to the cabinet"], cache=["z.0"])
    assert torch.equal(first.logits, second.logits) and torch.equal(first.cache["z.0"], second.cache["z.0"])
