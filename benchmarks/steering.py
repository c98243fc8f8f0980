"""Steered generation for a coefficient sweep: interp's batched rows vs one generate call per coefficient
(interp's ``Steer``, and a raw ``register_forward_pre_hook`` as a user would write it by hand), and vs the
same batched rows written by hand (a pre-hook adding a coefficient per row: interp's overhead).

    .venv/bin/python benchmarks/steering.py [--threads 1] [--reps 3] [--prompts 16] [--tokens 16]

Same model (the embedded SmolLM2-135M-Instruct), prompts, vector (difference of means of the built-in
sentiment set at resid_pre.9) and coefficients for every method, greedy, KV cache on; repetitions
interleaved; only generation is timed (no scoring). Every method's tokens are checked against the
batched rows' before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _report import print_table, report

COEFFICIENTS = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
LAYER = 9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import interp
    from interp.eval.steering import steered_generate, steering_vector
    from interp.suites.steering import load_contrast

    hm = interp.load()
    contrast = load_contrast("builtin:sentiment")
    prompts = contrast.prompts[:args.prompts]
    vector = steering_vector(hm, contrast, f"resid_pre.{LAYER}")
    unit = vector.vector(1.0)
    batch = hm.tokenize(prompts, padding_side="left")
    rows = [(c, p) for c in COEFFICIENTS for p in range(len(prompts))]
    layer_module = hm.model.model.layers[LAYER]

    def batched_rows() -> list[list[int]]:
        out = []
        for start in range(0, len(rows), args.batch_size):
            chunk = rows[start:start + args.batch_size]
            texts = [prompts[p] for _, p in chunk]
            gen = steered_generate(hm, texts, vector, [c for c, _ in chunk], max_new_tokens=args.tokens)
            out += gen.new_tokens.tolist()
        return out

    def steer_per_coefficient() -> list[list[int]]:
        out = []
        for c in COEFFICIENTS:
            gen = hm.generate(batch, interventions=[vector.steer(c)], max_new_tokens=args.tokens, where="all")
            out += gen.new_tokens.tolist()
        return out

    def raw_generate(tokens, coefficient: float | torch.Tensor) -> list[list[int]]:
        """Greedy generation with a raw pre-hook adding ``coefficient * unit`` to the layer's input
        hidden states (= resid_pre): one coefficient, or one per row (``[rows, 1, 1]``)."""
        def add(module, inputs, kwargs):
            if inputs:
                return (inputs[0] + coefficient * unit, *inputs[1:]), kwargs
            return inputs, {**kwargs, "hidden_states": kwargs["hidden_states"] + coefficient * unit}

        handle = layer_module.register_forward_pre_hook(add, with_kwargs=True)
        try:
            with torch.no_grad():
                seqs = hm.model.generate(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask,
                                         max_new_tokens=args.tokens, do_sample=False,
                                         pad_token_id=hm.tokenizer.eos_token_id)
        finally:
            handle.remove()
        return seqs[:, tokens.width:].tolist()

    def raw_hook_per_coefficient() -> list[list[int]]:
        return [row for c in COEFFICIENTS for row in raw_generate(batch, c)]

    def raw_hook_batched_rows() -> list[list[int]]:  # the batched rows by hand: a coefficient per row
        out = []
        for start in range(0, len(rows), args.batch_size):
            chunk = rows[start:start + args.batch_size]
            out += raw_generate(hm.tokenize([prompts[p] for _, p in chunk], padding_side="left"),
                                torch.tensor([c for c, _ in chunk])[:, None, None])
        return out

    methods = {"interp batched rows (steering_sweep)": batched_rows,
               "interp Steer, one generate per coefficient": steer_per_coefficient,
               "raw pre-hook, one generate per coefficient": raw_hook_per_coefficient,
               "raw pre-hook, batched rows": raw_hook_batched_rows}
    reference = batched_rows()
    agree = {}
    for name, fn in methods.items():
        tokens = fn()
        agree[name] = sum(a == b for a, b in zip(tokens, reference)) / len(reference)
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.reps):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    raw = medians["raw pre-hook, one generate per coefficient"]
    print(f"{len(prompts)} prompts x {len(COEFFICIENTS)} coefficients, {args.tokens} new tokens, "
          f"{args.threads} thread(s), median of {args.reps}")
    print_table([(name, f"{medians[name]:.2f}", f"{raw / medians[name]:.2f}x", f"{agree[name]:.3f}")
                 for name in methods], ("method", "seconds", "speed vs raw hook loop", "rows equal to batched"))
    batched, looped = (medians[name] for name in list(methods)[:2])
    report("steering", {
        "batched_s": round(batched, 3), "steer_loop_s": round(looped, 3), "raw_hook_loop_s": round(raw, 3),
        "speedup_batched_vs_raw_loop": round(raw / batched, 2), "steer_loop_vs_raw_loop": round(looped / raw, 3),
        "batched_vs_raw_batched": round(batched / medians["raw pre-hook, batched rows"], 3),
        "rows_equal": {k: round(v, 3) for k, v in agree.items()}, "prompts": len(prompts),
        "coefficients": list(COEFFICIENTS), "new_tokens": args.tokens, "reps": args.reps,
    })


if __name__ == "__main__":
    main()
