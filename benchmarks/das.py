"""DAS training for every aligned position of one task at a layer: the CausalGym way (pyvene
``LowRankRotatedSpaceIntervention``, one full source + base forward per step per position) vs
``interp.methods.train_das`` (frozen prefix cached once, all positions of the layer in one
packed forward from ``resid_pre.L`` over only the tokens each edit can change, the base's keys and
values standing in for the rest, last-token unembedding, DAS-only gradients).

    .venv/bin/python benchmarks/das.py [--layers 4,15] [--steps 100] [--batch-size 4] [--reps 2] [--threads 1]
                                       [--full-rows]

Each layer is timed on its own (the speedup grows with the layer: interp starts at it, pyvene
runs every layer of the source and the base each step); the headline speedup is the sum of the
layers' times, pyvene over interp.

``--full-rows`` adds ``train_das(..., packed=False)`` (full base rows resumed at ``resid_pre.L``,
the trainer before packing) as a third peer. ``--threads 1`` is what the committed numbers use:
the machine is shared, and one thread per process keeps the peers' timings comparable. Process
CPU time is reported beside wall time: with one thread it is the wall time the run would take on
an idle machine, and it is less disturbed by other processes on a shared one.

Same model (the embedded SmolLM2-135M-Instruct), same training pairs in the same order, same initial basis
(pyvene's orthogonal parametrization is loaded with ``DAS(seed=...)``'s), same step count, batch size and learning-rate
schedule (Adam 5e-3, linear warm-up 10 % and decay). Both trained bases are then
scored by the same code on the same test pairs (mean log odds-ratio per position). Repetitions
are interleaved (pyvene, interp, pyvene, ...); medians reported. The last line printed is JSON,
also written to benchmarks/results/das.json.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import print_table, report  # noqa: E402

import interp  # noqa: E402
from interp.interventions import DAS  # noqa: E402
from interp.methods import PairData, score, train_das  # noqa: E402
from interp.methods.das import batch_order, schedule  # noqa: E402

SUBJECTS = [("key", "keys"), ("dog", "dogs"), ("teacher", "teachers"), ("author", "authors"), ("farmer", "farmers"),
            ("doctor", "doctors"), ("girl", "girls"), ("boy", "boys"), ("student", "students"), ("car", "cars"),
            ("man", "men"), ("woman", "women"), ("child", "children"), ("nurse", "nurses"), ("pilot", "pilots")]
PREPS = [("to", "cabinets"), ("near", "house"), ("behind", "trees"), ("with", "dog"), ("next to", "doors"),
         ("beside", "table")]
LABELS = {"sg": " is", "pl": " are"}
PEER = "pyvene (CausalGym)"


def agreement(hm, subjects) -> PairData:
    """``The {subject} {prep} the {object}`` → is/are; positions: subject, preposition, "the", object."""
    base, source, types, bpos, spos = [], [], [], [], []
    for (sg, pl), (prep, obj) in itertools.product(subjects, PREPS):
        for b, s, t in ((sg, pl, "sg"), (pl, sg, "pl")):
            for text, out in ((f"The {b} {prep} the {obj}", bpos), (f"The {s} {prep} the {obj}", spos)):
                spans = ["The", f" {text.split()[1]}", f" {prep}", " the", f" {obj}"]
                ends = [len(hm.tokenize("".join(spans[:k + 1])).input_ids[0]) - 1 for k in range(1, 5)]
                out.append(ends)
            base.append(f"The {b} {prep} the {obj}")
            source.append(f"The {s} {prep} the {obj}")
            types.append(t)
    other = {"sg": "pl", "pl": "sg"}
    data = PairData.from_texts(hm, base, source, bpos, spos, [LABELS[t] for t in types],
                               [LABELS[other[t]] for t in types], base_types=types)
    data.names = ["subject", "prep", "the", "object"]
    return data


def train_pyvene(hm, data: PairData, layer: int, steps: int, batch_size: int, lr: float, seed: int) -> torch.Tensor:
    """CausalGym's loop: one IntervenableModel per position, a full source + base forward per step."""
    import pyvene as pv

    bases = []
    for p in range(data.n_positions):
        torch.manual_seed(seed)
        config = pv.IntervenableConfig([{"layer": layer, "component": "block_input", "low_rank_dimension": 1,
                                         "intervention_type": pv.LowRankRotatedSpaceIntervention}])
        pvm = pv.IntervenableModel(config, model=hm.model)
        pvm.disable_model_gradients()
        intervention = next(iter(pvm.interventions.values()))
        intervention = intervention[0] if isinstance(intervention, (list, tuple)) else intervention
        # start from interp's DAS(seed=seed): the same orthogonal parametrization, its parameter and base copied
        start = DAS(f"resid_pre.{layer}", hm.d_model, 1, seed=seed).rotation.parametrizations.weight.state_dict()
        intervention.rotate_layer.parametrizations.weight.load_state_dict(start)
        params = list(intervention.rotate_layer.parameters())
        optimiser = torch.optim.Adam(params, lr=lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: schedule(s, steps, 0.1))
        for idx in batch_order(data.n, steps, batch_size, seed):
            sub = data.subset(idx)
            base_pos = [[[int(x)] for x in sub.base_positions[:, p]]]
            source_pos = [[[int(x)] for x in sub.source_positions[:, p]]]
            _, out = pvm({"input_ids": sub.base.input_ids, "attention_mask": sub.base.attention_mask},
                         [{"input_ids": sub.source.input_ids, "attention_mask": sub.source.attention_mask}],
                         {"sources->base": (source_pos, base_pos)})
            logits = out.logits[torch.arange(sub.n), sub.base.last_index]
            loss = torch.nn.functional.cross_entropy(logits.float(), sub.source_labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
        bases.append(intervention.rotate_layer.weight.detach().clone())
    for param in hm.model.parameters():  # pyvene froze the model; give the flags back
        param.requires_grad_(True)
    return torch.stack(bases)  # [P, d, 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="4,15", help="comma-separated layers (each timed on its own)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--full-rows", action="store_true", help="also time the unpacked trainer")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hm = interp.load()
    layers = [int(x) for x in args.layers.split(",")]
    train, test = agreement(hm, SUBJECTS[:11]), agreement(hm, SUBJECTS[11:])
    print(f"{hm.name}: {train.n} train / {test.n} test pairs, {train.n_positions} positions {train.names}, "
          f"layers {layers}, {args.steps} steps of {args.batch_size}, {args.reps} interleaved reps, "
          f"torch threads={torch.get_num_threads()}")
    kwargs = dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    by_layer, rows = {}, []
    for layer in layers:
        site = f"resid_pre.{layer}"
        peers = {PEER: lambda layer=layer: train_pyvene(hm, train, layer, **kwargs),
                 "interp": lambda site=site: train_das(hm, train, site, **kwargs).bases}
        if args.full_rows:
            peers["interp (full rows)"] = lambda site=site: train_das(hm, train, site, packed=False, **kwargs).bases
        wall, cpu, bases = {name: [] for name in peers}, {name: [] for name in peers}, {}
        for _ in range(args.reps):
            for name, train_peer in peers.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                bases[name] = train_peer()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        wall = {name: statistics.median(t) for name, t in wall.items()}
        cpu = {name: statistics.median(t) for name, t in cpu.items()}
        odds = {name: score(hm, test, site, list(b)).odds_ratio.mean(1) for name, b in bases.items()}
        rows += [(layer, name, f"{wall[name]:.2f}", f"{cpu[name]:.2f}", f"{wall[PEER] / wall[name]:.2f}",
                  *(f"{x:.2f}" for x in odds[name].tolist()), f"{float(odds[name].max()):.2f}") for name in peers]
        by_layer[layer] = {"seconds": wall, "cpu_seconds": cpu, "speedup": wall[PEER] / wall["interp"],
                           "speedup_cpu_time": cpu[PEER] / cpu["interp"],
                           "odds_ratio": {k: [round(x, 3) for x in v.tolist()] for k, v in odds.items()}}
    print_table(rows, ("layer", "method", "train s", "cpu s", "speedup", *(f"odds {n}" for n in train.names),
                       "max over positions"))
    total = {kind: {name: sum(by_layer[layer][kind][name] for layer in layers) for name in by_layer[layers[0]][kind]}
             for kind in ("seconds", "cpu_seconds")}
    ratio = total["seconds"][PEER] / total["seconds"]["interp"]
    cpu_ratio = total["cpu_seconds"][PEER] / total["cpu_seconds"]["interp"]
    print(f"layers {layers} together: interp is {ratio:.1f}x faster in wall time ({cpu_ratio:.1f}x in process CPU "
          "time); per layer: " + ", ".join(f"{layer}: {v['speedup']:.1f}x" for layer, v in by_layer.items()))
    extra = {}
    if args.full_rows:
        extra["speedup_packed_vs_full_rows"] = round(total["seconds"]["interp (full rows)"] /
                                                     total["seconds"]["interp"], 2)

    def rounded(value):
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return round(value, 3) if isinstance(value, float) else value

    report("das", rounded({
        **extra, "speedup": ratio, "speedup_cpu_time": cpu_ratio, "seconds": total["seconds"],
        "cpu_seconds": total["cpu_seconds"], "by_layer": {str(k): v for k, v in by_layer.items()},
        "positions": train.names, "layers": layers, "steps": args.steps, "batch_size": args.batch_size,
        "n_train": train.n, "n_test": test.n, "reps": args.reps, "model": hm.name, "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
