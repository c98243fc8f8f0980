"""Hook overhead: caching sites with interp vs raw PyTorch hooks, nnsight and TransformerLens.

    .venv/bin/python benchmarks/overhead.py [--reps 40] [--batch 8] [--tokens 16] [--threads N]

One process, the embedded SmolLM2-135M-Instruct, one batch (``--batch`` prompts × ``--tokens`` tokens, no
padding). Every method runs once per round, in a shuffled order, for ``--reps`` rounds; the table
shows medians and ratios to the plain forward. Sites: ``resid_post.15`` (1 site) and every
``resid_post.L`` (30 sites) — the output of a decoder layer, which each peer exposes directly:

- plain:   ``model(input_ids, attention_mask)`` under ``torch.no_grad()``
- interp:  ``hm.run(batch, cache=sites)`` (hooks attached and removed inside the call)
- raw:     ``register_forward_hook`` on the same layers, forward, ``handle.remove()``
- nnsight: ``with lm.trace(...): layers[L].output.save()`` on a copy of the model
- TL:      ``bridge.run_with_cache(..., names_filter=[blocks.L.hook_resid_post])`` on a copy
           (a TransformerBridge replaces the model's layers in place, and nnsight installs a
           controller ``forward`` on every module, so each peer gets its own copy of the weights)

Target: caching costs no more than raw hooks + 5 % (``interp_vs_raw_* <= 1.05``).
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from _report import print_table, report

import interp

PROMPT_WORDS = ("the keys to the cabinet are on the table near the old wooden door in the quiet house "
                "where my grandmother kept her letters and photographs from many years ago").split()


def make_batch(hm: interp.HookedModel, size: int, tokens: int) -> interp.Batch:
    """``size`` different prompts, each exactly ``tokens`` tokens long (no padding)."""
    rows = []
    for i in range(size):
        words = PROMPT_WORDS[i:] + PROMPT_WORDS[:i]
        ids = hm.tokenizer(" ".join(words))["input_ids"][:tokens]
        rows.append(torch.tensor(ids))
    ids = torch.stack(rows)
    return interp.Batch(ids, torch.ones_like(ids))


def methods(hm: interp.HookedModel, batch: interp.Batch, one: list[int], many: list[int]) -> dict[str, Callable]:
    model = hm.model
    kwargs = batch.model_kwargs("cpu")
    layers = model.model.layers

    def plain():
        return model(**kwargs, use_cache=False).logits

    def interp_run(layer_ids):
        sites = [f"resid_post.{i}" for i in layer_ids]
        return lambda: hm.run(batch, cache=sites).cache

    def raw(layer_ids):
        def run():
            store = {}
            handles = [
                layers[i].register_forward_hook(
                    lambda m, a, out, i=i: store.__setitem__(i, (out[0] if isinstance(out, tuple) else out).detach())
                )
                for i in layer_ids
            ]
            try:
                model(**kwargs, use_cache=False)
            finally:
                for handle in handles:
                    handle.remove()
            return store

        return run

    table = {
        "plain forward": plain,
        "interp run, 1 site": interp_run(one),
        "interp run, 30 sites": interp_run(many),
        "raw hooks, 1 site": raw(one),
        "raw hooks, 30 sites": raw(many),
    }
    table.update(nnsight_methods(hm, batch, one, many))
    table.update(transformer_lens_methods(hm, batch, one, many))
    return table


def nnsight_methods(hm, batch, one, many) -> dict[str, Callable]:
    try:
        import nnsight
    except ImportError:
        print("nnsight is not installed: skipped (pip install -e '.[bench]')")
        return {}
    warnings.filterwarnings("ignore", message=".*LanguageModel is deprecated.*")
    lm = nnsight.LanguageModel(copy.deepcopy(hm.model), tokenizer=hm.tokenizer)
    ids, mask = batch.input_ids, batch.attention_mask

    def trace(layer_ids):
        def run():
            saved = {}
            with lm.trace(ids, attention_mask=mask):
                for i in layer_ids:
                    saved[i] = lm.model.layers[i].output.save()
            return saved

        return run

    return {"nnsight trace, 1 site": trace(one), "nnsight trace, 30 sites": trace(many)}


def transformer_lens_methods(hm, batch, one, many) -> dict[str, Callable]:
    try:
        from interp.graph.adapters.transformer_lens import bridge_from_hf
    except ImportError:
        print("transformer-lens is not installed: skipped (pip install -e '.[bench]')")
        return {}
    bridge = bridge_from_hf(copy.deepcopy(hm.model))
    ids, mask = batch.input_ids, batch.attention_mask

    def cached(layer_ids):
        names = [f"blocks.{i}.hook_resid_post" for i in layer_ids]
        return lambda: bridge.run_with_cache(ids, attention_mask=mask, names_filter=names)[1]

    return {
        "TL bridge forward": lambda: bridge(ids, attention_mask=mask),
        "TL run_with_cache, 1 site": cached(one),
        "TL run_with_cache, 30 sites": cached(many),
    }


def check_same_activations(table: dict[str, Callable], one: list[int], many: list[int]) -> None:
    """Every method must capture the same tensors, or the timings compare different work."""
    reference = table["raw hooks, 30 sites"]()
    for name, run in table.items():
        if "30 sites" not in name:
            continue
        got = run()
        for i in many:
            key = {"interp": f"resid_post.{i}", "TL": f"blocks.{i}.hook_resid_post"}.get(name.split()[0], i)
            value = got[key]
            value = value[0] if isinstance(value, tuple) else value
            tol = 1e-3 if name.startswith("TL") else 0.0  # the bridge's eager attention vs sdpa
            torch.testing.assert_close(value, reference[i], atol=tol, rtol=tol, msg=f"{name}: layer {i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    hm = interp.load()
    batch = make_batch(hm, args.batch, args.tokens)
    many = list(range(hm.n_layers))
    one = [hm.n_layers // 2]
    table = methods(hm, batch, one, many)
    times: dict[str, list[float]] = {name: [] for name in table}
    with torch.no_grad():
        check_same_activations(table, one, many)
        for run in table.values():  # warm-up
            run()
        rng = random.Random(args.seed)
        names = list(table)
        for _ in range(args.reps):
            rng.shuffle(names)
            for name in names:
                start = time.perf_counter()
                table[name]()
                times[name].append(time.perf_counter() - start)

    ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
    plain = ms["plain forward"]
    print(f"\n{hm.name}, batch {args.batch} x {args.tokens} tokens, median of {args.reps} interleaved rounds, "
          f"{torch.get_num_threads()} threads\n")
    rows = [(name, f"{ms[name]:.1f}", f"{ms[name] / plain:.3f}") for name in table]
    print_table(rows, ("method", "median ms", "x plain"))
    headline = {
        "model": hm.name,
        "batch": [args.batch, args.tokens],
        "reps": args.reps,
        "ms": {name: round(value, 2) for name, value in ms.items()},
        "ratio_to_plain": {name: round(value / plain, 4) for name, value in ms.items()},
        "interp_vs_raw_1": round(ms["interp run, 1 site"] / ms["raw hooks, 1 site"], 4),
        "interp_vs_raw_30": round(ms["interp run, 30 sites"] / ms["raw hooks, 30 sites"], 4),
        "interp_minus_raw_ms_1": round(ms["interp run, 1 site"] - ms["raw hooks, 1 site"], 2),
        "interp_minus_raw_ms_30": round(ms["interp run, 30 sites"] - ms["raw hooks, 30 sites"], 2),
        "target_interp_vs_raw": 1.05,
    }
    print(f"\ninterp / raw hooks: {headline['interp_vs_raw_1']:.3f} (1 site), "
          f"{headline['interp_vs_raw_30']:.3f} (30 sites); target <= 1.05\n")
    report("overhead", headline)


if __name__ == "__main__":
    main()
