"""Scaling a causal-efficacy sweep out with the Ray executor, on the embedded SmolLM2-135M-Instruct.

    .venv/bin/python benchmarks/scale.py [--reps 2] [--threads 1] [--layers 2,6] [--methods das,probe]
                                         [--n-train 32] [--n-test 16] [--das-steps 20] [--trivial 200]

1. The same sweep (one agreement task, ``--methods`` × ``--layers``, no control: compute-bound DAS
   and probe units) run by the local executor, by Ray with 1 worker and by Ray with 2 workers, each
   into a fresh output folder; the three tables are compared (they must be equal bit for bit: every
   worker and the local run use ``--threads`` torch threads).
2. Scheduling overhead: ``--trivial`` units that do nothing (``fn`` returns its unit) through each
   executor, per unit; and, on the real sweep, wall time minus the units' own compute time, per unit.

The Ray cluster is started here on 127.0.0.1 with 3 logical CPUs, so that the 1-worker and the
2-worker executors keep their actors (model loaded once) for the whole run; only two ever work at
once (the machine has 2 cores). Worker start-up (process + model load) is timed separately.

A ceiling is measured alongside: two units of pure arithmetic (``spin``) on 1 worker (one after
the other) vs on 2 workers (at once). On a Linux machine shared with other users' processes the
scheduler's autogroups split the CPU between *sessions* first, and Ray's workers stay in the
session of the process that started the cluster: however many they are, they then share one
session's slice, and 2 workers cannot beat that ceiling (``unit s``, the mean time a unit took on
its worker, doubles instead). Separate machines, or an otherwise idle one, have no such cap.
Repetitions are interleaved (local, ray1, ray2, local, ...) so that load from other processes hits
each alike; medians are reported, with the load average. The last line printed is JSON, also
written to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import print_table, report  # noqa: E402

import interp  # noqa: E402
from interp.eval import causal_efficacy  # noqa: E402
from interp.exec import LocalExecutor, ModelSpec, RayExecutor  # noqa: E402

TASK = "agr_sv_num_pp"


def trivial(worker, unit):
    """A unit that does nothing: what is left of its time is scheduling."""
    return unit


def spin(worker, unit):
    """Fixed pure-Python arithmetic (no torch threads): the CPU a worker gets, nothing else."""
    total = 0
    for i in range(20_000_000):
        total += i
    return total


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process and of each worker")
    parser.add_argument("--layers", default="2,6")
    parser.add_argument("--methods", default="das,probe")
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--n-test", type=int, default=16)
    parser.add_argument("--das-steps", type=int, default=20)
    parser.add_argument("--trivial", type=int, default=200, help="trivial units for the overhead measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import ray

    hm = interp.load()
    spec = ModelSpec.of(hm)
    settings = dict(methods=args.methods, layers=args.layers, tasks=[TASK], control=False, n_train=args.n_train,
                    n_test=args.n_test, das_steps=args.das_steps, n_boot=10)
    ray.init(num_cpus=3, _node_ip_address="127.0.0.1", include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    executors = {"local": LocalExecutor(), "ray1": RayExecutor(num_workers=1, threads=args.threads),
                 "ray2": RayExecutor(num_workers=2, threads=args.threads)}
    startup = {name: timed(lambda ex=ex, n=ex.num_workers: list(ex.map(trivial, range(n), model=spec)))[0]
               for name, ex in executors.items() if name != "local"}

    sweep_times = {name: [] for name in executors}
    unit_seconds = {name: [] for name in executors}  # the mean time a unit took on its worker
    tables, n_units = {}, 0
    with tempfile.TemporaryDirectory() as scratch:
        for rep in range(args.reps):
            for name, executor in executors.items():
                out = Path(scratch) / f"{name}-{rep}"
                seconds, result = timed(lambda ex=executor, out=out: causal_efficacy(
                    hm, "builtin:agreement", out=out, executor=ex, **settings))
                n_units = len(result.records)
                sweep_times[name].append(seconds)
                unit_seconds[name].append(sum(r["seconds"] for r in result.records) / n_units)
                tables[name] = result.results
                print(f"rep {rep} {name}: {seconds:.1f} s", file=sys.stderr)
    equal = {}
    for name in ("ray1", "ray2"):
        try:
            pd.testing.assert_frame_equal(tables[name], tables["local"])
            equal[name] = True
        except AssertionError:
            equal[name] = False

    trivial_times = {name: [] for name in executors}
    for _ in range(3):
        for name, executor in executors.items():
            model = hm if name == "local" else spec
            seconds, _ = timed(lambda ex=executor, model=model: list(ex.map(trivial, range(args.trivial),
                                                                             model=model)))
            trivial_times[name].append(seconds / args.trivial)
    ceiling = {name: [] for name in ("ray1", "ray2")}
    for _ in range(args.reps):
        for name in ceiling:
            ceiling[name].append(timed(lambda ex=executors[name]: list(ex.map(spin, range(2), model=spec)))[0])
    for executor in executors.values():
        executor.close()
    ray.shutdown()

    sweep = {name: statistics.median(t) for name, t in sweep_times.items()}
    per_unit = {name: statistics.median(t) for name, t in trivial_times.items()}
    unit_s = {name: statistics.median(t) for name, t in unit_seconds.items()}
    # one unit at a time (local, ray1): wall time not spent inside units, per unit
    sweep_overhead = {name: (sweep[name] - n_units * unit_s[name]) / n_units for name in ("local", "ray1")}
    rows = [(name, f"{sweep[name]:.1f}", f"{sweep['ray1'] / sweep[name]:.2f}x", f"{unit_s[name]:.2f}",
             f"{1e3 * sweep_overhead[name]:.0f}" if name in sweep_overhead else "-", f"{1e3 * per_unit[name]:.2f}",
             f"{startup[name]:.1f}" if name in startup else "-") for name in executors]
    print(f"sweep: {n_units} units ({args.methods} x layers {args.layers}, {TASK}, {args.n_train} train / "
          f"{args.n_test} test pairs, DAS {args.das_steps} steps), {args.threads} thread(s) per worker, "
          f"median of {args.reps}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print_table(rows, ("executor", "sweep s", "vs ray1", "unit s", "overhead ms/unit (sweep)", "trivial unit ms",
                       "worker start s"))
    spin_s = {name: statistics.median(t) for name, t in ceiling.items()}
    print(f"tables equal to the local run: {equal}")
    print(f"ceiling: 2 spin units take {spin_s['ray1']:.1f} s on 1 worker, {spin_s['ray2']:.1f} s on 2 "
          f"({spin_s['ray1'] / spin_s['ray2']:.2f}x): the most 2 workers can gain on this machine now")
    report("scale", {
        "speedup_2_vs_1_workers": round(sweep["ray1"] / sweep["ray2"], 3),
        "ray1_vs_local": round(sweep["ray1"] / sweep["local"], 3),
        "sweep_s": {k: round(v, 2) for k, v in sweep.items()}, "sweep_units": n_units,
        "overhead_ms_per_unit_sweep": {k: round(1e3 * v, 1) for k, v in sweep_overhead.items()},
        "unit_s": {k: round(v, 3) for k, v in unit_s.items()},
        "ceiling_2_vs_1_workers": round(spin_s["ray1"] / spin_s["ray2"], 3),
        "spin_s": {k: round(v, 2) for k, v in spin_s.items()},
        "trivial_unit_ms": {k: round(1e3 * v, 3) for k, v in per_unit.items()},
        "worker_start_s": {k: round(v, 2) for k, v in startup.items()}, "tables_equal": equal,
        "settings": {"methods": args.methods, "layers": args.layers, "n_train": args.n_train, "n_test": args.n_test,
                     "das_steps": args.das_steps, "reps": args.reps, "trivial_units": args.trivial},
        "load_average": round(os.getloadavg()[0], 2),
    })


if __name__ == "__main__":
    main()
