"""The CausalGym protocol on a slice: a task's units as one job (the default) vs unit by unit
(``causal_efficacy(..., per_unit=True)``, the path before), and the full protocol extrapolated.

    .venv/bin/python benchmarks/protocol.py [--tasks agr_sv_num_pp,agr_sv_num_subj-relc,agr_refl_num_pp]
        [--layers 5:30:10] [--n-train 400] [--n-test 100] [--das-steps 100] [--reps 1] [--threads 1]
        [--paths jobs,units] [--name protocol]

``--paths jobs`` times the job path alone (a projection over more tasks and layers than the unit-by-unit
path can be timed on); ``--name`` names the results file (``benchmarks/results/NAME.json``).

Same model (the embedded SmolLM2-135M-Instruct), suite (builtin:agreement tasks), every method, the
control task on; repetitions interleaved (jobs, units, jobs, ...), medians of process CPU time
(with ``--threads 1``, the wall time on an idle core; the machine is shared). Both paths' results.csv
are compared (largest difference printed). The full protocol (29 tasks × 30 layers × 8 methods ×
task/control) is extrapolated from the slice's CPU time, weighted by arithmetic: the slice's share of
the protocol's floating-point work (``benchmarks/_protocol_flops.py`` counts it for every built-in task
× layer from the rows the protocol runs; tasks with more positions or longer sentences cost more, and
a layer's work falls with its depth), the job path's plain runs once per task (they serve every
layer), and divided by the cores for a wall time (tasks are independent: ``--executor ray
--ray-workers 2``); ``full_protocol_hours_by_count`` scales by the number of task × layers instead.
The last line printed is JSON, also written to benchmarks/results/protocol.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _protocol_flops import FULL_TASKS, protocol_tasks  # noqa: E402
from _report import print_table, report  # noqa: E402

import interp  # noqa: E402
from interp.eval import causal_efficacy  # noqa: E402
from interp.eval.causalgym import job as causalgym_job  # noqa: E402
from interp.eval.causalgym.config import CausalGymConfig, parse_layers  # noqa: E402

FULL = {"tasks": FULL_TASKS, "layers": 30}
KEYS = ["task", "method", "layer", "position", "control", "metric"]


class TaskSetup:
    """CPU seconds in a task's plain runs (interp.eval.causalgym.task_passes), which the job path does once per
    task for all its layers: the projection scales them by tasks only, the rest by tasks × layers."""

    def __init__(self):
        self.seconds = 0.0
        for name in ("train_passes", "scoring_passes"):
            setattr(causalgym_job, name, self.timed(getattr(causalgym_job, name)))

    def timed(self, fn):
        def run(*args, **kwargs):
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - started
        return run


def run(hm, args, per_unit: bool) -> tuple[float, float, pd.DataFrame]:
    out = Path(tempfile.mkdtemp(prefix="protocol-"))
    wall, cpu = time.perf_counter(), time.process_time()
    result = causal_efficacy(hm, args.suite, tasks=args.tasks, layers=args.layers, methods=None, control=True,
                             n_train=args.n_train, n_test=args.n_test, das_steps=args.das_steps, n_boot=10,
                             out=out, per_unit=per_unit)
    return time.perf_counter() - wall, time.process_time() - cpu, result.results


def arithmetic_scale(hm, args, tasks: list[str], layers: list[int]) -> float | None:
    """The full protocol's floating-point work (every built-in task × layer, scaled to the published task
    count) over the slice's; None when a slice task is not a built-in one."""
    settings = CausalGymConfig.build(n_train=args.n_train, n_test=args.n_test, das_steps=args.das_steps).validate()
    counts = protocol_tasks(hm, settings)
    if any(task not in counts for task in tasks):
        return None
    work = {name: [d + s for d, s in zip(flops["das"], flops["scoring"])] for name, flops in counts.items()}
    full = sum(sum(per_layer) for per_layer in work.values()) * FULL["tasks"] / len(work)
    return full / sum(work[task][layer] for task in tasks for layer in layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="builtin:agreement")
    parser.add_argument("--tasks", default="agr_sv_num_pp,agr_sv_num_subj-relc,agr_refl_num_pp")
    parser.add_argument("--layers", default="5:30:10")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--das-steps", type=int, default=100)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2, help="cores the full protocol's projection runs on")
    parser.add_argument("--paths", default="jobs,units", help="jobs (the default path), units (unit by unit), or both")
    parser.add_argument("--name", default="protocol", help="the results file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hm = interp.load()
    tasks = args.tasks.split(",")
    layers = parse_layers(args.layers, hm.n_layers)
    paths = [name for name in ("jobs", "units") if name in args.paths.split(",")]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    tables = {}
    setup = TaskSetup()
    setups = []
    for _ in range(args.reps):
        for name, per_unit in ((name, name == "units") for name in paths):
            before = setup.seconds
            wall, cpu, table = run(hm, args, per_unit)
            times[name].append((wall, cpu))
            if name == "jobs":
                setups.append(setup.seconds - before)
            tables[name] = table.set_index(KEYS).value.sort_index()
            print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    difference = float((tables["jobs"] - tables["units"]).abs().max()) if len(tables) == 2 else None
    slice_units = len(tasks) * len(layers) * 8 * 2
    by_count = FULL["tasks"] * FULL["layers"] / (len(tasks) * len(layers))
    scale = arithmetic_scale(hm, args, tasks, layers) or by_count
    rows, figures = [], {}
    for name in reversed(paths):
        wall = statistics.median(w for w, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        once = statistics.median(setups) if name == "jobs" else 0.0  # per task, whatever the layers
        hours, counted = (((cpu - once) * factor + once * FULL["tasks"] / len(tasks)) / 3600 / args.cores
                          for factor in (scale, by_count))
        rows.append([name, f"{wall:.1f}", f"{cpu:.1f}", f"{cpu / slice_units:.2f}", f"{hours:.2f}"])
        figures[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "full_protocol_hours": round(hours, 2),
                         "full_protocol_hours_by_count": round(counted, 2),
                         **({"task_setup_cpu_s": round(once, 2)} if name == "jobs" else {})}
    print_table(rows, ("path", "slice wall s", "slice CPU s", "CPU s / unit", f"full protocol h ({args.cores} cores)"))
    speedup = round(figures["units"]["cpu_s"] / figures["jobs"]["cpu_s"], 2) if len(figures) == 2 else None
    report(args.name, {"speedup_cpu": speedup, **figures,
                        "max_abs_difference": difference, "slice": {"tasks": tasks, "layers": layers,
                                                                    "units": slice_units},
                        "settings": {"n_train": args.n_train, "n_test": args.n_test, "das_steps": args.das_steps,
                                     "threads": args.threads, "reps": args.reps, "cores": args.cores}})


if __name__ == "__main__":
    main()
