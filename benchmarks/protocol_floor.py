"""The arithmetic floor of the full CausalGym protocol: the fewest floating-point operations an exact
run of it needs on the embedded model, divided by this CPU's best matrix-product rate.

    .venv/bin/python benchmarks/protocol_floor.py [--suites agreement,cleft,filler_gap,garden_path,npi,subordination]
        [--n-train 400] [--n-test 100] [--das-steps 100] [--cores 2] [--check-layer 15]

Every built-in task is encoded as the protocol encodes it (same seed, splits, spans and control labels),
and the work of every task × layer is counted from the rows the protocol runs (the same seeded DAS
batches, the same scoring rows), each row recomputing only the tokens its edit can change:

- **DAS** (task + control, every position): per step, forward and backward through the layers from the
  site's on, of each row's tokens from its edited one to the last prompt token, and the last token's
  full-vocabulary unembedding (the loss is a cross-entropy over the vocabulary);
- **scoring** (8 methods' directions: the 7 label-blind ones once for task and control, DAS's for each):
  a forward of the same tokens; the log-odds need only the two answer columns of the unembedding;
- **the plain runs, once per task**: the training and test pairs' bases and sources through every layer.

The count is a lower bound on any exact implementation: matrix products only (norms, activations and
Adam are left out), attention only over each token's own prefix, the last layer only for the last
token (apart from its keys and values), backward products only for the inputs' gradients (1× the
forward's; attention 2×). The rate is the best single-thread float32 product this CPU reaches on the
protocol's shapes or on large square ones. ``--check-layer`` also counts one real DAS step and one
real scoring set with ``torch.utils.flop_counter`` (what the code computes: its products with weights,
the full last layer included; the counter does not see attention on CPU) beside the bound's products
with weights. The last line printed is JSON, also written to benchmarks/results/protocol_floor.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from _protocol_flops import FULL_TASKS, SUITES, Model, protocol_tasks, suffix_flops  # noqa: E402
from _report import print_table, report  # noqa: E402

import interp  # noqa: E402
from interp.eval.causalgym.config import CausalGymConfig  # noqa: E402
from interp.eval.causalgym.plan import encode_task, load_tasks  # noqa: E402
from interp.methods import DASConfig, train_das_sides  # noqa: E402
from interp.methods.score_sets import score_sets  # noqa: E402


def best_rate(shapes: list[tuple[int, int, int]], reps: int = 5) -> tuple[float, tuple]:
    """The best GFLOP/s of ``a [m, k] @ b [k, n]`` over ``shapes`` (float32, this process's threads)."""
    best, where = 0.0, None
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        for _ in range(reps):
            started = time.perf_counter()
            a @ b
            rate = 2 * m * k * n / (time.perf_counter() - started) / 1e9
            if rate > best:
                best, where = rate, (m, k, n)
    return best, where


def counted(hm, task, layer: int, settings) -> dict[str, float]:
    """What the code computes at ``layer`` (torch's FLOP counter): one DAS step of 4 pairs (2 steps less 1, so
    the plain runs before the steps cancel out), and one set's scoring rows for 8 test pairs (2 sets less 1)."""
    site = f"{settings.site_kind}.{layer}"
    data = task.train.subset(range(4))
    labels = [data.source_labels, task.control_train.source_labels[:4]]
    test = task.test.subset(range(8))
    direction = torch.nn.functional.normalize(torch.randn(hm.model.config.hidden_size), dim=0)
    flops = []
    for copies in (1, 2):
        with FlopCounterMode(display=False) as das:
            train_das_sides(hm, data, site, labels, DASConfig(steps=copies, batch_size=4), seed=settings.seed)
        with FlopCounterMode(display=False) as scoring:
            score_sets(hm, test, site, [[direction] * len(task.spans)] * copies,
                       [(test.base_labels, test.source_labels)])
        flops.append((das.get_total_flops(), scoring.get_total_flops()))
    return {"das_step": flops[1][0] - flops[0][0], "scoring_set": flops[1][1] - flops[0][1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suites", default=SUITES)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--das-steps", type=int, default=100)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check-layer", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hm = interp.load()
    settings = CausalGymConfig.build(n_train=args.n_train, n_test=args.n_test, das_steps=args.das_steps).validate()
    model = Model(hm.model.config)
    totals = {"das": 0.0, "scoring": 0.0, "plain": 0.0}
    rows = []
    counts = protocol_tasks(hm, settings, args.suites)
    for name, flops in counts.items():
        sums = {key: sum(values) for key, values in flops.items()}
        for key in totals:
            totals[key] += sums[key]
        rows.append([name, f"{sums['das'] / 1e12:.1f}", f"{sums['scoring'] / 1e12:.1f}", f"{sums['plain'] / 1e12:.2f}"])
    print_table(rows, ("task", "DAS TFLOP", "scoring TFLOP", "plain runs TFLOP"))
    n_tasks = len(rows)
    shapes = [(84, 576, 1536), (84, 1536, 576), (256, 576, 1536), (256, 1536, 576), (32, 576, 49152),
              (1024, 576, 1536), (2048, 2048, 2048)]
    rate, where = best_rate(shapes)
    total = sum(totals.values()) * FULL_TASKS / n_tasks
    hours = total / (rate * 1e9) / args.cores / 3600
    first = encode_task(hm, next(iter(load_tasks("builtin:agreement", ["agr_sv_num_pp"], settings.seed,
                                                  settings.n_train, settings.n_test).values())), None,
                        tuple(settings.control_labels))
    check = counted(hm, first, args.check_layer, settings)
    n_pos, above = len(first.spans), model.layers - args.check_layer - 1
    bound_step = suffix_flops(model, first.train, torch.arange(4).repeat(n_pos * 2),
                              torch.arange(n_pos).repeat_interleave(4).repeat(2), above, backward=True, full_vocab=True,
                              attention=False)
    bound_set = suffix_flops(model, first.test, torch.arange(8).repeat(n_pos), torch.arange(n_pos).repeat_interleave(8),
                             above, backward=False, full_vocab=False, attention=False)
    print(f"\n{n_tasks} tasks x {model.layers} layers: DAS {totals['das'] / 1e15:.2f} PFLOP, scoring "
          f"{totals['scoring'] / 1e15:.2f}, plain runs {totals['plain'] / 1e15:.3f}; scaled to {FULL_TASKS} tasks: "
          f"{total / 1e15:.2f} PFLOP")
    print(f"best float32 product on {args.threads} thread(s): {rate:.1f} GFLOP/s at {where}")
    print(f"floor: {hours:.2f} h on {args.cores} cores (every product at that rate, nothing else)")
    print(f"check at layer {args.check_layer} (products with weights; torch's counter skips CPU attention): one DAS "
          f"step, 4 pairs: the code computes {check['das_step'] / 1e9:.2f} GFLOP, the bound {bound_step / 1e9:.2f}; "
          f"one scoring set, 8 pairs: "
          f"{check['scoring_set'] / 1e9:.2f} vs {bound_set / 1e9:.2f}")
    report("protocol_floor", {
        "floor_hours": round(hours, 2), "cores": args.cores, "best_gflops": round(rate, 1), "best_shape": where,
        "tasks_counted": n_tasks,
        "pflop": {key: round(v * FULL_TASKS / n_tasks / 1e15, 3) for key, v in totals.items()},
        "check": {"layer": args.check_layer, "das_step_gflop_code": round(check["das_step"] / 1e9, 2),
                  "das_step_gflop_bound": round(bound_step / 1e9, 2),
                  "scoring_set_8_pairs_gflop_code": round(check["scoring_set"] / 1e9, 2),
                  "scoring_set_8_pairs_gflop_bound": round(bound_set / 1e9, 2)},
        "settings": {"n_train": args.n_train, "n_test": args.n_test, "das_steps": args.das_steps,
                     "threads": args.threads}})


if __name__ == "__main__":
    main()
