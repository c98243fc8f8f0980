"""The fast paths on random-initialised models of real architectures, on any device (the GPU check).

    .venv/bin/python benchmarks/gpu_speed.py [--config smollm2-135m,llama-1b] [--device cuda] [--reps 3]
                                             [--das-steps 50] [--dtype float32]

Timing needs no trained weights, so the models are built from the real configs (SmolLM2-135M's, a
~1B Llama's: Llama-3.2-1B's sizes) with random weights and the tiny test tokenizer; nothing is
downloaded and no model file travels. Per config:

1. a ``resid_pre`` patch sweep over every layer x position of one minimal pair: the batched
   ``patch_sweep`` (KV reuse, suffix forwards) vs ``serial_patch_sweep`` (one full forward per patch);
2. DAS training at the middle layer, every aligned position of 90 agreement pairs:
   ``train_das`` (packed) vs ``train_das_reference`` (one full forward per position per step).

Both pairs must agree (max |diff| is printed). Repetitions are interleaved; medians reported. The last
line printed is JSON, also written to benchmarks/results/gpu_speed-<device>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import report  # noqa: E402
from das import SUBJECTS, agreement  # noqa: E402

import interp  # noqa: E402
from interp.interventions import patch_sweep, serial_patch_sweep  # noqa: E402
from interp.methods import train_das  # noqa: E402
from interp.methods.das import train_das_reference  # noqa: E402

CONFIGS = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, vocab_size=49152, max_position_embeddings=2048,
                         tie_word_embeddings=True, rope_theta=100000.0, rms_norm_eps=1e-5),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=2048,
                     tie_word_embeddings=True, rope_theta=500000.0, rms_norm_eps=1e-5),
}
BASE, SOURCE = "The key to the cabinets", "The keys to the cabinet"


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(methods: dict, reps: int, device: str) -> tuple[dict[str, float], dict]:
    times: dict[str, list[float]] = {name: [] for name in methods}
    values = {}
    for _ in range(reps):
        for name, fn in methods.items():
            synchronize(device)
            start = time.perf_counter()
            values[name] = fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, values


def measure(config: str, device: str, dtype: torch.dtype, reps: int, das_steps: int) -> dict:
    hm = interp.models.tiny("llama", device=device, **CONFIGS[config])
    hm.model.to(dtype)
    are, is_ = (hm.tokenizer(word)["input_ids"][-1] for word in (" are", " is"))
    metric = lambda logits: logits[..., are] - logits[..., is_]  # noqa: E731
    sweep, sweeps = interleaved({
        "batched": lambda: patch_sweep(hm, [BASE], [SOURCE], metric=metric),
        "serial": lambda: serial_patch_sweep(hm, [BASE], [SOURCE], metric=metric),
    }, reps, device)
    sweep_diff = float((sweeps["batched"].values - sweeps["serial"].values).abs().max())
    data = agreement(hm, SUBJECTS)
    layer = hm.n_layers // 2
    das, trained = interleaved({
        "packed": lambda: train_das(hm, data, f"resid_pre.{layer}", steps=das_steps),
        "reference": lambda: train_das_reference(hm, data, f"resid_pre.{layer}", steps=das_steps),
    }, max(1, reps - 1), device)
    loss_diff = float((trained["packed"].losses - trained["reference"].losses).abs().max())
    return {
        "config": config, "layers": hm.n_layers, "d_model": hm.d_model,
        "parameters_millions": round(sum(p.numel() for p in hm.model.parameters()) / 1e6, 1),
        "sweep_patches": int(sweeps["batched"].values.numel()), "sweep_path": sweeps["batched"].path,
        "sweep_seconds": {k: round(v, 4) for k, v in sweep.items()},
        "sweep_speedup": round(sweep["serial"] / sweep["batched"], 2), "sweep_max_abs_diff": sweep_diff,
        "das_pairs": data.n, "das_positions": data.n_positions, "das_steps": das_steps,
        "das_path": trained["packed"].path, "das_seconds": {k: round(v, 4) for k, v in das.items()},
        "das_speedup": round(das["reference"] / das["packed"], 2), "das_max_abs_loss_diff": loss_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="smollm2-135m,llama-1b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--das-steps", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = [measure(name, args.device, getattr(torch, args.dtype), args.reps, args.das_steps)
            for name in args.config.split(",")]
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"\nFast paths on random models of real configs, {name}, {args.dtype}, "
          f"transformers {__import__('transformers').__version__}")
    print(f"{'config':<14}{'params':>8}{'sweep batched':>15}{'serial':>9}{'ratio':>8}"
          f"{'DAS packed':>12}{'reference':>11}{'ratio':>8}")
    for r in rows:
        print(f"{r['config']:<14}{r['parameters_millions']:>7.0f}M{r['sweep_seconds']['batched']:>14.3f}s"
              f"{r['sweep_seconds']['serial']:>8.3f}s{r['sweep_speedup']:>7.1f}x{r['das_seconds']['packed']:>11.3f}s"
              f"{r['das_seconds']['reference']:>10.3f}s{r['das_speedup']:>7.1f}x")
    report(f"gpu_speed-{args.device.split(':')[0]}", {"device": name, "dtype": args.dtype, "results": rows})


if __name__ == "__main__":
    main()
