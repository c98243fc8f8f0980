"""``interp circuit``: edge attribution, a circuit, and its faithfulness over circuit size.

    interp circuit --task ioi --out runs/ioi
    interp circuit --suite builtin:agreement --task agr_sv_num_pp --method eap-ig-inputs --steps 5 --out runs/agr
    interp circuit --pairs my_pairs.csv --metric prob --out runs/mine

Scores every edge of the model's graph (``interp.circuits``: EAP, EAP-IG over inputs or activations),
keeps the top ``--edges`` (or the ``--fraction`` of all edges) as the circuit, pruned to nodes connected
to the input and the logits, and measures faithfulness (every edge outside ablated, ``--ablation``
corrupted or mean; full model 1, empty circuit 0) at each of ``--curve`` fractions of the edges. Writes
``edges.csv`` (every edge: score, rank), ``circuit.csv`` (the circuit's edges), ``faithfulness.csv`` and
``results.csv`` (the curve), ``summary.csv`` (one row: the circuit's size and faithfulness), ``meta.json``
and ``figures/circuit.html``, ``figures/faithfulness.html``. Rerun the same command to resume: scores
already in ``edges.csv`` are read back, not recomputed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from interp.circuits import Graph, builtin_task, edge_scores, faithfulness_curve, from_causalgym, greedy, top_n
from interp.circuits.attribution import METHODS
from interp.circuits.circuit import circuit_table, scores_from_table
from interp.circuits.metrics import METRICS
from interp.circuits.patching import MODES, ablate_outside
from interp.circuits.tasks import BUILTIN, from_file, same_length
from interp.commands import types
from interp.commands.common import add_model_arguments, add_out_arguments, check_out, load_model
from interp.errors import InputError
from interp.io import run_metadata, write_run, write_table
from interp.viz.circuit import circuit_graph
from interp.viz.circuit import faithfulness_curve as faithfulness_figure
from interp.viz.write import write_html


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("circuit", help="edge attribution (EAP, EAP-IG), a circuit and its faithfulness")
    add_out_arguments(parser)
    parser.add_argument("--task", default=None,
                        help=f"a built-in task ({', '.join(sorted(BUILTIN))}) or, with --suite, the suite's task")
    parser.add_argument("--suite", default=None, help="a CausalGym suite (templates, rows, builtin:NAME)")
    parser.add_argument("--pairs", default=None, help="your pairs: CSV/JSON with clean, corrupted, target, baseline")
    parser.add_argument("--n", type=types.positive_int, default=32, help="number of pairs")
    parser.add_argument("--seed", type=types.non_negative_int, default=0)
    parser.add_argument("--method", default="eap-ig-inputs", choices=METHODS)
    parser.add_argument("--metric", default="logit_diff", choices=METRICS)
    parser.add_argument("--steps", type=types.positive_int, default=5, help="EAP-IG interpolation steps")
    parser.add_argument("--select", default="top_n", choices=("top_n", "greedy"))
    parser.add_argument("--fraction", type=types.positive_float, default=0.2,
                        help="the circuit: this fraction of all edges (before pruning)")
    parser.add_argument("--edges", type=types.positive_int, default=None, help="the circuit: this many edges")
    parser.add_argument("--curve", default="0.01,0.02,0.05,0.1,0.2,0.5",
                        help="fractions of the edges at which to measure faithfulness")
    parser.add_argument("--ablation", default="corrupted", choices=MODES)
    parser.add_argument("--batch-size", type=types.positive_int, default=8, help="pairs per scoring batch")
    add_model_arguments(parser)
    parser.set_defaults(func=run, interrupted=lambda args: f"finished steps kept in {args.out}; rerun to resume")


def load_task(args: argparse.Namespace):
    if sum(x is not None for x in (args.suite, args.pairs)) > 1:
        raise InputError("give one of --suite and --pairs (and --task names a built-in task or the suite's task)")
    if args.pairs is not None:
        return from_file(args.pairs)
    if args.suite is not None:
        return from_causalgym(args.suite, args.task, n=args.n, seed=args.seed)
    return builtin_task(args.task or "ioi", n=args.n, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    fractions = types.finite_floats(args.curve)
    if not all(0 <= f <= 1 for f in fractions) or args.fraction > 1:
        raise InputError(f"--curve and --fraction are fractions of the edges, between 0 and 1; got {args.curve!r}, "
                         f"{args.fraction}")
    task = load_task(args)
    claim = check_out(args)
    hm = load_model(args)
    claim.take()
    asked = len(task)
    task = same_length(hm, task)  # warns with the count and an example of the pairs left out
    out = Path(args.out)
    graph = Graph.of(hm)
    if (out / "edges.csv").exists():
        scores = scores_from_table(graph, pd.read_csv(out / "edges.csv"), args.method, args.metric)
        print(f"read the edge scores back from {out / 'edges.csv'}")
    else:
        scores = edge_scores(hm, task, method=args.method, metric=args.metric, steps=args.steps,
                             batch_size=args.batch_size)
        write_table(out / "edges.csv", scores.table())
    pick = top_n if args.select == "top_n" else greedy
    size = args.edges or max(1, round(args.fraction * graph.n_edges))
    circuit = pick(scores, size)
    sizes = [round(f * graph.n_edges) for f in fractions]
    curve = faithfulness_curve(hm, task, scores, sizes, select=args.select, mode=args.ablation)
    kept = float(ablate_outside(hm, task, circuit, metric=args.metric, mode=args.ablation)[0])
    faithful = (kept - curve.empty) / (curve.full - curve.empty)
    table = circuit_table(scores, circuit)
    summary = pd.DataFrame([{"task": task.name, "method": args.method, "metric": args.metric, "edges": size,
                             "kept": int(circuit.sum()), "of": graph.n_edges, "metric_value": kept,
                             "full": curve.full, "empty": curve.empty, "faithfulness": faithful}])
    figures = {"circuit": circuit_graph(table, title=f"{task.name}: {args.method}",
                                        group=graph.n_heads // graph.n_kv_heads),
               "faithfulness": faithfulness_figure(curve.table())}
    if not getattr(args, "no_figures", False):
        write_html(figures, out)
    meta = run_metadata(hm, seed=args.seed, command=list(sys.argv), evaluator="circuit", task=task.name,
                        n_pairs=len(task), n_pairs_left_out=asked - len(task), method=args.method,
                        metric=args.metric, steps=args.steps,
                        ablation=args.ablation, n_edges=graph.n_edges)
    write_run(out, curve.table(), summary, meta, extra={"circuit": table, "faithfulness": curve.table()})
    if asked > len(task):
        print(f"note: {asked - len(task)} of {asked} pairs left out (clean and corrupted of different token lengths)")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(curve.table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {out}/edges.csv, circuit.csv, faithfulness.csv, results.csv, summary.csv, meta.json, figures/")
    return 0
