"""Load time of the embedded model: the first, converting load vs the cached load.

    .venv/bin/python benchmarks/load.py [--reps 5]

The first load de-quantises the GGUF (what `transformers` does on every GGUF load) and writes the
safetensors cache; later loads read the cache. Both run in a fresh temporary cache directory so
the numbers do not depend on this machine's user cache. Target: cached load under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from _report import print_table, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["INTERP_CACHE_DIR"] = cache
        import interp
        from interp.models.embedded import load_embedded_from_gguf

        start = time.perf_counter()
        interp.load()
        first = time.perf_counter() - start
        gguf_times, cached_times = [], []
        for _ in range(args.reps):  # interleaved: a raw transformers GGUF load, then a cached interp load
            start = time.perf_counter()
            load_embedded_from_gguf()
            gguf_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            interp.load()
            cached_times.append(time.perf_counter() - start)
    gguf, cached = statistics.median(gguf_times), statistics.median(cached_times)
    print_table(
        [("interp.load(), first (converts)", f"{first:.2f}", "1 run"),
         ("transformers GGUF load", f"{gguf:.2f}", f"median of {args.reps}"),
         ("interp.load(), cached", f"{cached:.2f}", f"median of {args.reps}")],
        ("load", "seconds", "note"),
    )
    print(f"\ncached load is {gguf / cached:.1f}x faster than reading the GGUF; target < 2 s: "
          f"{'met' if cached < 2 else 'NOT met'}")
    report("load", {"first_load_s": round(first, 3), "cached_load_s": round(cached, 3),
                    "gguf_load_s": round(gguf, 3), "speedup_vs_gguf": round(gguf / cached, 2)})


if __name__ == "__main__":
    main()
