"""No leaks: a thousand *patched* runs (activation patching from a cached source, plus a subspace
interchange) keep Python allocations and the process's resident memory flat, and every tensor a run
caches is freed once its result and the interventions that read it are gone.

(``test_graph_memory.py`` covers plain runs with a function intervention.)
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import torch

import interp
from interp.interventions import Patch, Subspace

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def test_a_thousand_patched_runs_do_not_grow_memory():
    hm = interp.models.tiny("llama")
    base, source = hm.tokenize(BASE), hm.tokenize(SOURCE)
    basis = torch.linalg.qr(torch.randn(64, 4, generator=torch.Generator().manual_seed(0))).Q

    def patched_run():
        src = hm.run(source, cache=["resid_post.0", "z.1"], logits=False)
        return hm.run(base, interventions=[Patch("z.1", src.cache, "last", heads=[1]),
                                           Subspace("resid_post.0", basis, src, positions=[1, 2])],
                      cache=["resid_post.1"])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only add contention
    try:
        for _ in range(50):  # warm up allocator and caches
            patched_run()
        gc.collect()
        rss_before = rss_bytes()
        for _ in range(800):
            patched_run()
        tracemalloc.start()  # the last 200 runs also count every Python allocation
        try:
            gc.collect()
            python_before = tracemalloc.get_traced_memory()[0]
            for _ in range(200):
                patched_run()
            gc.collect()
            python_growth = tracemalloc.get_traced_memory()[0] - python_before
        finally:
            tracemalloc.stop()
    finally:
        torch.set_num_threads(threads)
    assert python_growth < 64 * 1024, f"Python allocations grew by {python_growth} bytes over 200 runs"
    assert rss_bytes() - rss_before < 20 * 2**20

def test_cached_tensors_die_with_the_result_and_the_patch_that_read_them():
    hm = interp.models.tiny("gpt2")
    src = hm.run(SOURCE, cache=["resid_post.0", "mlp_post.1"])
    refs = [weakref.ref(t) for t in src.cache.values()]
    patch = Patch("resid_post.0", src, "last")
    out = hm.run(BASE, interventions=[patch], cache=["resid_post.1"])
    refs.append(weakref.ref(out.cache["resid_post.1"]))
    refs.append(weakref.ref(out.logits))
    del src, patch, out
    gc.collect()
    assert [ref() is None for ref in refs] == [True] * len(refs)
