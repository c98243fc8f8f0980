"""Circuits on the embedded SmolLM2-135M-Instruct: EAP and EAP-IG over every edge, checked against exact
edge patching, and exact edge patching batched against one forward per edge.

    .venv/bin/python benchmarks/circuits.py [--pairs 8] [--sample 48] [--repeats 3] [--threads 1]

1. EAP (clean and corrupted forwards, one forward and backward with per-head pullbacks) and EAP-IG over the
   inputs (m = 5 steps, one batch) over all edges of the graph (30 layers × (9 query + 3 key + 3 value heads + MLP)
   inputs, plus the logits) on the CausalGym agreement task (``agr_sv_num_pp``, pairs of equal token length):
   seconds for ``--pairs`` pairs, their linear extrapolation to 100 pairs, and the same in plain forwards of
   the pairs' clean batch (timed in the same run).
2. Exact edge patching of a sampled edge set (half the top edges by EAP-IG, half drawn at random): Spearman
   rank correlation of each estimate with the exact effect, and top-k recall (the share of the exact top-k by
   |effect| among the estimate's top-k).
3. Exact edge patching: edges per second of ``patch_edges`` (edges grouped by the layer they enter, resumed
   there, ``--batch-edges`` per forward) vs one forward per edge (the channel forward of the whole model that
   ``ablate_outside`` runs, measured on ``--serial`` edges; same values), and their ratio (goal ≥ 10×); also
   against the plain forward of the clean batch, the floor of any one-forward-per-edge method. The two are
   timed ``--repeats`` times, interleaved, and each rate comes from its median time.
4. The faithfulness curve's ablations (the EAP-IG top-n circuits at 0.2 %, 1 %, 5 % and 20 % of the edges,
   and the empty circuit): seconds of the channel forward (``path="channels"``, before) and of the layer-by-layer
   path (``path="layers"``, now), interleaved, and the largest difference of their metrics.

The last line printed is JSON, also written to benchmarks/results/circuits.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import interp
from interp.circuits import Graph, ablate_outside, edge_scores, from_causalgym, patch_edges, top_n
from interp.circuits.patching import Prepared, edge_plan
from interp.circuits.tasks import same_length
from interp.interventions import spearman


def recall_at(estimate: torch.Tensor, exact: torch.Tensor, k: int) -> float:
    top_exact = set(exact.abs().topk(k).indices.tolist())
    return len(top_exact & set(estimate.abs().topk(k).indices.tolist())) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--sample", type=int, default=48, help="edges checked against exact patching")
    parser.add_argument("--serial", type=int, default=6, help="edges timed one forward each")
    parser.add_argument("--batch-edges", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timings of batched and serial patching")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    hm = interp.load()
    task = same_length(hm, from_causalgym("builtin:agreement", "agr_sv_num_pp", n=4 * args.pairs))
    task = task.subset(range(min(args.pairs, len(task))))
    graph = Graph.of(hm)
    print(f"{hm.name}: {graph.n_edges} edges, {graph.n_upstream} upstream nodes, {graph.n_downstream} inputs; "
          f"task {task.name}, {len(task)} pairs")

    batch = task.encode(hm)[0]
    hm.run(batch)  # warm up
    start = time.perf_counter()
    for _ in range(3):
        hm.run(batch)
    plain_s = (time.perf_counter() - start) / 3
    times, scores = {}, {}
    for method, steps in (("eap", 1), ("eap-ig-inputs", 5)):
        start = time.perf_counter()
        scores[method] = edge_scores(hm, task, method=method, steps=steps, batch_size=len(task))
        times[method] = time.perf_counter() - start
        print(f"{method:15s} {times[method]:7.1f} s for {len(task)} pairs "
              f"(~{times[method] * 100 / len(task):.0f} s for 100; {times[method] / plain_s:.1f} plain forwards)")

    ig = scores["eap-ig-inputs"].values[graph.mask]
    edges = graph.edges
    top = ig.abs().topk(args.sample // 2).indices.tolist()
    rest = [i for i in torch.randperm(len(edges)).tolist() if i not in set(top)][: args.sample - len(top)]
    sample = [edges[i] for i in top + rest]
    prepared = Prepared.of(hm, task)
    batched_times, serial_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        exact = patch_edges(hm, task, sample, prepared=prepared, edges_per_batch=args.batch_edges)
        batched_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        serial = torch.stack([prepared.run(hm, edge_plan(graph, [edge], len(task))).double().mean()
                              for edge in sample[: args.serial]]).cpu()
        serial_times.append(time.perf_counter() - start)
    agree = float((serial - exact.patched[: args.serial]).abs().max())
    batched_rate = len(sample) / statistics.median(batched_times)
    serial_rate = args.serial / statistics.median(serial_times)
    print(f"exact edge patching: batched {batched_rate:.2f} edges/s, one forward per edge {serial_rate:.2f} edges/s "
          f"({batched_rate / serial_rate:.1f}x; max difference {agree:.2e}); "
          f"{batched_rate * plain_s:.1f} edges per plain forward's time")

    sizes = [round(f * graph.n_edges) for f in (0.002, 0.01, 0.05, 0.2)]
    circuits = torch.stack([top_n(scores["eap-ig-inputs"], n) for n in sizes] + [torch.zeros_like(graph.mask)])
    ablation_s, ablated = {}, {}
    for path in ("channels", "layers"):
        start = time.perf_counter()
        ablated[path] = ablate_outside(hm, task, circuits, prepared=prepared, path=path)
        ablation_s[path] = time.perf_counter() - start
    ablation_difference = float((ablated["layers"] - ablated["channels"]).abs().max())
    full, empty = float(prepared.clean_metric.double().mean()), float(ablated["layers"][-1])
    faithfulness = ((ablated["layers"][:-1] - empty) / (full - empty)).tolist()
    print(f"faithfulness curve ({len(circuits)} circuits): channel forward {ablation_s['channels']:.1f} s, layer by "
          f"layer {ablation_s['layers']:.1f} s ({ablation_s['channels'] / ablation_s['layers']:.1f}x; max difference "
          f"{ablation_difference:.2e}); faithfulness {[round(f, 3) for f in faithfulness]} at {sizes} edges")

    effects = exact.effects
    k = max(1, len(sample) // 6)
    quality = {}
    for method, result in scores.items():
        estimate = torch.tensor([float(result.values[u, d]) for u, d in sample], dtype=torch.float64)
        quality[method] = {"spearman": spearman(estimate, effects), f"top{k}_recall": recall_at(estimate, effects, k)}
        print(f"{method:15s} vs exact on {len(sample)} edges: Spearman {quality[method]['spearman']:.3f}, "
              f"top-{k} recall {quality[method][f'top{k}_recall']:.2f}")

    result = {"model": hm.name, "task": task.name, "pairs": len(task), "edges": graph.n_edges,
              "seconds": {m: round(t, 2) for m, t in times.items()},
              "seconds_for_100_pairs": {m: round(t * 100 / len(task), 1) for m, t in times.items()},
              "plain_forward_s": round(plain_s, 4),
              "plain_forwards": {m: round(t / plain_s, 1) for m, t in times.items()},
              "agreement_with_exact": quality, "sampled_edges": len(sample),
              "edge_patching": {"batched_edges_per_s": round(batched_rate, 3),
                                "serial_edges_per_s": round(serial_rate, 3),
                                "speedup": round(batched_rate / serial_rate, 2), "max_difference": agree,
                                "edges_per_plain_forward": round(batched_rate * plain_s, 2),
                                "edges_per_batch": args.batch_edges, "repeats": args.repeats},
              "faithfulness_curve": {"sizes": sizes, "faithfulness": [round(f, 4) for f in faithfulness],
                                     "seconds_channels": round(ablation_s["channels"], 2),
                                     "seconds_layers": round(ablation_s["layers"], 2),
                                     "speedup": round(ablation_s["channels"] / ablation_s["layers"], 2),
                                     "max_difference": ablation_difference},
              "threads": args.threads}
    path = Path(__file__).resolve().parent / "results" / "circuits.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
