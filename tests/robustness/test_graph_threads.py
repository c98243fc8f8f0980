"""Runs on one model from several threads take turns: a plain run never sees another thread's
interventions, hooks or model edits (:mod:`interp.graph.locking`)."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable

import pytest
import torch

import interp
from interp.graph.locking import _LOCKS, model_lock
from interp.interventions import Steer

TEXTS = ["The keys to the cabinet", "No teacher near the dogs"]


def hammer(jobs: list[Callable[[], torch.Tensor]], threads: int, rounds: int) -> list[list[torch.Tensor]]:
    """Run ``jobs[(t + r) % len(jobs)]`` for round ``r`` of thread ``t``, all threads released at once;
    returns ``results[job] = [every result of that job]``."""
    results: list[list[torch.Tensor]] = [[] for _ in jobs]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)
    guard = threading.Lock()

    def worker(t: int) -> None:
        start.wait()
        for r in range(rounds):
            job = (t + r) % len(jobs)
            try:
                result = jobs[job]()
            except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
                errors.append(error)
                return
            with guard:
                results[job].append(result)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return results


def test_plain_and_steered_runs_in_threads_match_single_threaded_runs():
    hm = interp.models.tiny("llama")
    steer = Steer("resid_post.0", torch.ones(hm.d_model), alpha=8.0)
    plain_ref = hm.run(TEXTS).logits
    steered_ref = hm.run(TEXTS, interventions=[steer]).logits
    assert not torch.allclose(plain_ref, steered_ref)  # the steering shows, so a leak would too
    plain, steered = hammer([lambda: hm.run(TEXTS).logits,
                             lambda: hm.run(TEXTS, interventions=[steer]).logits], threads=4, rounds=20)
    assert len(plain) == len(steered) == 40
    assert all(torch.equal(logits, plain_ref) for logits in plain)
    assert all(torch.equal(logits, steered_ref) for logits in steered)
    assert interp.graph.count_hooks(hm.model) == 0


def test_runs_that_edit_the_model_and_hooks_blocks_take_turns_across_wrappers():
    """start_at swaps the layer list, pattern sites switch the config to eager attention, a hooks()
    block steers direct calls of hm.model; a second HookedModel wrapping the same model shares the lock."""
    hm = interp.models.tiny("llama")
    other = interp.wrap(hm.model, hm.tokenizer)
    batch = hm.tokenize(TEXTS)
    resid = hm.run(batch, cache=["resid_pre.1"]).cache["resid_pre.1"]
    shift = torch.full((hm.d_model,), 5.0)

    def plain() -> torch.Tensor:
        return other.run(batch).logits

    def started() -> torch.Tensor:
        return hm.run(batch, start_at=("resid_pre.1", resid + 1.0)).logits

    def pattern() -> torch.Tensor:
        return hm.run(batch, cache=["pattern.1"]).cache["pattern.1"]

    def hooked() -> torch.Tensor:
        with torch.no_grad(), hm.hooks({"resid_post.0": lambda act, ctx: act + shift}):
            return hm.model(**batch.model_kwargs("cpu")).logits

    jobs = [plain, started, pattern, hooked]
    references = [job() for job in jobs]
    assert not torch.allclose(references[0], references[1]) and not torch.allclose(references[0], references[3])
    results = hammer(jobs, threads=4, rounds=12)
    for name, reference, got in zip(["plain", "start_at", "pattern", "hooks"], references, results):
        assert len(got) == 12
        assert all(torch.equal(value, reference) for value in got), f"{name} runs differ across threads"
    assert hm.config._attn_implementation == "sdpa"
    assert len(hm.model.get_submodule(hm.layout.layers)) == hm.n_layers
    assert interp.graph.count_hooks(hm.model) == 0


def test_one_lock_per_model_that_goes_with_it():
    a, b = interp.models.tiny("llama").model, interp.models.tiny("llama").model
    assert model_lock(a) is model_lock(a) and model_lock(a) is not model_lock(b)
    assert not hasattr(a, "_interp_lock") and "lock" not in " ".join(vars(a))
    gone = weakref.ref(a)
    gc.collect()  # models of earlier tests waiting in reference cycles go first
    before = len(_LOCKS)
    del a
    gc.collect()
    assert gone() is None and len(_LOCKS) == before - 1


def test_a_run_waits_for_another_threads_hooks_block():
    hm = interp.models.tiny("llama")
    reference = hm.run(TEXTS).logits
    finished: list[torch.Tensor] = []

    def run_in_other_thread() -> None:
        finished.append(hm.run(TEXTS).logits)

    with hm.hooks({"resid_post.0": lambda act, ctx: act * 0}):
        thread = threading.Thread(target=run_in_other_thread)
        thread.start()
        time.sleep(0.3)  # ample for a tiny run that did not wait
        assert finished == []  # still waiting: it would otherwise have run through the zeroing hook
    thread.join()
    assert torch.equal(finished[0], reference)


@pytest.mark.slow
def test_plain_runs_on_the_embedded_model_stay_plain_while_another_thread_steers(embedded):
    hm = embedded
    text = "The keys to the cabinet"
    steer = Steer("resid_post.10", 40.0 * torch.randn(hm.d_model, generator=torch.Generator().manual_seed(0)))
    plain_ref = hm.run(text).last_logits[0]
    steered_ref = hm.run(text, interventions=[steer]).last_logits[0]
    top = hm.tokenizer.decode(plain_ref.argmax())
    assert top.strip() in {"are", "is", "were", "was"}, top
    assert hm.tokenizer.decode(steered_ref.argmax()) != top  # the steer is large enough to show if it leaked
    plain, steered = hammer([lambda: hm.run(text).last_logits[0],
                             lambda: hm.run(text, interventions=[steer]).last_logits[0]], threads=2, rounds=8)
    assert [hm.tokenizer.decode(logits.argmax()) for logits in plain] == [top] * 8
    assert all(torch.equal(logits, plain_ref) for logits in plain)
    assert all(torch.equal(logits, steered_ref) for logits in steered)


def test_packed_base_state_in_threads_never_sees_another_threads_steering():
    """The base keys/values of the packed forwards (DAS training, scoring) run under the model's lock."""
    from interp.graph.packing import base_state

    hm = interp.models.tiny("llama")
    batch = hm.tokenize(TEXTS)
    steer = Steer("resid_post.0", torch.ones(hm.d_model), alpha=8.0)
    reference = base_state(hm, batch, layer=1, prefix=2).keys[-1]

    def keys() -> torch.Tensor:
        return base_state(hm, batch, layer=1, prefix=2).keys[-1]

    results = hammer([keys, lambda: hm.run(TEXTS, interventions=[steer]).logits], threads=4, rounds=8)
    assert len(results[0]) == 16 and all(torch.equal(value, reference) for value in results[0])
