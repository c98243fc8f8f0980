"""Sparse autoencoders on the embedded SmolLM2-135M-Instruct, in one process:

1. activation collection (tokens/s) with 1 site early (the forward stops there), 1 site at the last
   layer, and all 30 residual layers cached at once (``interp.sae.collect`` on the offline default
   corpus, the installed docs);
2. training throughput of one TopK SAE (4608 features, k 32, batches of 1024, 100 steps) at ``--layer``,
   interp's trainer vs SAELens's ``SAETrainer`` on the same activations with the same settings (d_sae, k,
   batch, batch order, steps, lr, warm-up, Adam betas, input normalisation, initialisation, aux-k
   coefficient), interleaved repetitions: tokens/s, held-out FVU of each, and the steps and seconds
   interp needs to reach SAELens's final FVU; then interp training 4 SAEs in one pass. SAELens is used
   when importable (``PYTHONPATH`` to a folder with sae-lens; it is not in the lock: it needs
   transformer-lens < 4), else the row says so;
3. layer groups on all 30 layers: angular distances, the groups (AMAD threshold), one SAE per group
   (1.5x the steps, since each learns several layers) vs one per layer (1152 features, k 32, 200 steps
   of 512): per-layer held-out FVU of each, training FLOPs and seconds, in all and until each approach's
   mean per-layer held-out FVU (logged every 10 steps) first reached 1.1 x the per-layer SAEs' final.

About 15 minutes on one idle thread; every size is a flag.
    OMP_NUM_THREADS=1 python benchmarks/sae.py [--collect-tokens 1024] [--group-tokens 13312] [--steps 100] ...
"""

from __future__ import annotations

import argparse
import time

import torch
from _report import print_table, report

import interp
from interp.sae.activations import collect
from interp.sae.evaluate import reconstruction
from interp.sae.group_report import compare_groups
from interp.sae.groups import amad, merge_order
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig


def collection(hm, args) -> tuple[dict, object]:
    rows, speeds = [], {}
    cases = [("1 site, layer 5", ["resid_post.5"], args.collect_tokens),
             ("1 site, layer 29", ["resid_post.29"], args.collect_tokens),
             ("30 sites, layers 0-29", [f"resid_post.{i}" for i in range(hm.n_layers)], args.group_tokens)]
    store = None
    for name, sites, tokens in cases:
        started = time.perf_counter()
        out = args.store if len(sites) > 1 else None     # the 30-layer store, reused by a rerun with --store
        result = collect(hm, sites, None, tokens=tokens, context=args.context, batch_size=8, seed=0, out=out)
        if out is not None and "seconds" in result.meta:
            seconds = result.meta["seconds"]
        else:
            seconds = time.perf_counter() - started
        speeds[name] = result.n_tokens / seconds
        rows.append((name, result.n_tokens, f"{seconds:.1f}", f"{speeds[name]:.0f}"))
        store = result
    print_table(rows, ("collection", "tokens", "seconds", "tokens/s"))
    return speeds, store


def saelens_train(x: torch.Tensor, args) -> tuple[object, float]:
    """SAELens's ``SAETrainer`` on ``x`` with interp's settings: unit-norm decoder rows at start and the
    encoder their transpose, ``b_dec`` at the (scaled) mean input, aux-k coefficient 1/32, inputs scaled
    to a mean squared norm of ``d_in``, the same lr, warm-up, batch order and steps; SAELens keeps its
    own decoder-norm handling and gradient clipping."""
    from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.config import SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    torch.manual_seed(0)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=args.d_sae, k=args.k,
                                                normalize_activations="expected_average_only_in",
                                                decoder_init_norm=1.0, aux_loss_coefficient=1 / 32))
    with torch.no_grad():
        sae.b_dec.copy_(x.mean(0) * x.shape[1] ** 0.5 / x.norm(dim=-1).mean())
    generator = torch.Generator().manual_seed(0)

    def batches():
        while True:
            order = torch.randperm(x.shape[0], generator=generator)
            for start in range(0, x.shape[0] - args.batch + 1, args.batch):
                yield x[order[start:start + args.batch]]

    config = SAETrainerConfig(total_training_samples=args.steps * args.batch, train_batch_size_samples=args.batch,
                              lr=args.lr, lr_end=args.lr, lr_warm_up_steps=args.warmup,
                              n_batches_for_norm_estimate=8)
    trainer = SAETrainer(config, sae, batches())
    started = time.perf_counter()
    trainer.fit()
    return sae, time.perf_counter() - started


def throughput(hm, args) -> dict:
    """One TopK SAE at ``--layer``: interp vs SAELens, interleaved; tokens/s at equal settings and steps,
    held-out FVU of each, and the seconds interp needs to come within 5 % of SAELens's final FVU (the
    first step at which its held-out FVU, logged every step in a separate run, is at most 1.05 x
    SAELens's; timed runs log none)."""
    site = f"resid_post.{args.layer}"
    store = collect(hm, [site], None, tokens=args.train_tokens + args.test_tokens, context=args.context,
                    batch_size=8, seed=0, out=None if args.store is None else f"{args.store}/layer{args.layer}")
    train, test = store.split(args.test_tokens)
    spec = SAESpec(site, args.d_sae, "topk", k=args.k, lr=args.lr)
    config = TrainConfig(steps=args.steps, batch_size=args.batch, lr_warmup_steps=args.warmup, lr_decay_fraction=0.0)
    x, x_test = train[site].float(), test[site].float()
    try:
        import sae_lens  # noqa: F401
        have_saelens = True
    except ImportError:
        have_saelens = False
    ours_s, theirs_s, ours_fvu, theirs_fvu = [], [], None, None
    for _ in range(args.reps):
        trained = train_saes(train, [spec], config)
        ours_s.append(trained.seconds)
        ours_fvu = reconstruction(trained.saes[0], x_test)["fvu"]
        if have_saelens:
            sae, seconds = saelens_train(x, args)
            theirs_s.append(seconds)
            with torch.no_grad():
                theirs_fvu = float((sae(x_test) - x_test).pow(2).sum() / (x_test - x_test.mean(0)).pow(2).sum())
    tokens = args.steps * args.batch
    four = train_saes(train, [spec] * 4, config)                # 4 SAEs (other initialisations) in one pass
    result = {"ours_tokens_per_s": tokens / min(ours_s), "ours_fvu": ours_fvu, "ours_seconds": min(ours_s),
              "ours_4_saes_tokens_per_s_per_sae": four.tokens_per_second,
              "saelens": "installed" if have_saelens else "not importable (not in the lock; needs transformer-lens<4)"}
    rows = [("interp, 1 SAE", f"{min(ours_s):.1f}", f"{tokens / min(ours_s):.0f}", f"{ours_fvu:.4f}"),
            ("interp, 4 SAEs in one pass", f"{four.seconds:.1f}", f"{four.tokens_per_second:.0f} per SAE", "")]
    if have_saelens:
        logged = train_saes(train, [spec], TrainConfig(**{**config.to_dict(), "log_every": 1}), test=test)
        reached = logged.history[logged.history.test_fvu <= 1.05 * theirs_fvu].step
        match = int(reached.iloc[0]) if len(reached) else None
        result.update(saelens_tokens_per_s=tokens / min(theirs_s), saelens_fvu=theirs_fvu,
                      saelens_seconds=min(theirs_s), speedup_vs_saelens=min(theirs_s) / min(ours_s),
                      fvu_ratio_ours_vs_saelens=ours_fvu / theirs_fvu, ours_steps_to_saelens_fvu=match)
        rows.insert(1, ("SAELens SAETrainer, 1 SAE", f"{min(theirs_s):.1f}", f"{tokens / min(theirs_s):.0f}",
                        f"{theirs_fvu:.4f}"))
        if match is not None:
            seconds = min(ours_s) * match / args.steps
            at_match = float(logged.history.test_fvu[logged.history.step == match].iloc[0])
            result.update(ours_fvu_at_match=at_match, fvu_ratio_at_match=at_match / theirs_fvu,
                          time_to_equal_fvu_speedup=min(theirs_s) / seconds)
            rows.insert(1, (f"interp, {match} steps (FVU within 5 %)", f"{seconds:.1f}", f"{tokens / min(ours_s):.0f}",
                            f"{at_match:.4f}"))
    print_table(rows, ("training (TopK)", "seconds", "tokens/s", "test FVU"))
    return result


def groups(store, hm, args) -> dict:
    sites = [f"resid_post.{i}" for i in range(hm.n_layers)]
    train, test = store.split(args.test_tokens)
    spec = SAESpec(sites[0], args.group_d_sae, "topk", k=args.group_k, lr=args.lr)
    config = TrainConfig(steps=args.group_steps, batch_size=args.group_batch, lr_warmup_steps=args.warmup,
                         lr_decay_fraction=0.2, log_every=10)
    group_config = TrainConfig(**{**config.to_dict(), "steps": args.groups_steps or round(1.5 * args.group_steps)})
    result = compare_groups(train, test, sites, spec, config, threshold=args.threshold, n_groups=args.n_groups,
                            group_config=group_config)
    curve = {len(g): round(amad(result.distances, g), 4) for g in merge_order(result.distances)}
    print("AMAD by number of groups:", {k: curve[k] for k in sorted(curve)[:10]})
    print("groups:", [f"{g[0].split('.')[1]}-{g[-1].split('.')[1]}" for g in result.groups])
    table = result.table
    rows = [(r.site, r.group, f"{r.fvu_per_layer:.3f}", f"{r.fvu_groups:.3f}") for r in table.itertuples()]
    print_table(rows, ("site", "group", "FVU own SAE", "FVU group SAE"))
    costs = [(r.approach, r.n_saes, r.steps, f"{r.training_flops:.3g}", f"{r.seconds:.1f}", r.steps_to_target,
              f"{r.flops_to_target or float('nan'):.3g}", f"{r.seconds_to_target or float('nan'):.1f}")
             for r in result.cost.itertuples()]
    print(f"target: mean per-layer held-out FVU {result.target_fvu:.4f} (1.1 x the per-layer SAEs' final)")
    print_table(costs, ("approach", "SAEs", "steps", "training FLOPs", "seconds", "steps to target", "FLOPs to target",
                        "seconds to target"))
    per_layer, grouped = result.cost.iloc[0], result.cost.iloc[1]
    return {"groups": [[int(s.split(".")[1]) for s in g] for g in result.groups], "amad": result.amad,
            "n_groups": len(result.groups), "mean_fvu_per_layer": float(table["fvu_per_layer"].mean()),
            "mean_fvu_groups": float(table["fvu_groups"].mean()),
            "fvu_ratio_groups_vs_per_layer": float(table["fvu_groups"].mean() / table["fvu_per_layer"].mean()),
            "flops_ratio_per_layer_vs_groups": float(per_layer.training_flops / grouped.training_flops),
            "seconds_per_layer": float(per_layer.seconds), "seconds_groups": float(grouped.seconds),
            "time_ratio_per_layer_vs_groups": float(per_layer.seconds / grouped.seconds),
            "target_fvu": result.target_fvu, "steps_to_target": {"per_layer": per_layer.steps_to_target,
                                                                 "groups": grouped.steps_to_target},
            "flops_to_target_ratio_per_layer_vs_groups": float(per_layer.flops_to_target / grouped.flops_to_target),
            "seconds_to_target_ratio_per_layer_vs_groups": float(per_layer.seconds_to_target
                                                                 / grouped.seconds_to_target),
            "final_mean_fvu": {a: float(c.fvu.iloc[-1]) for a, c in result.curve.groupby("approach")}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collect-tokens", type=int, default=1024)
    parser.add_argument("--group-tokens", type=int, default=13312, help="tokens of all 30 layers (train + test)")
    parser.add_argument("--test-tokens", type=int, default=1024)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--layer", type=int, default=12, help="the layer of the throughput comparison")
    parser.add_argument("--train-tokens", type=int, default=8192, help="tokens of --layer for the SAELens comparison")
    parser.add_argument("--d-sae", type=int, default=4608)
    parser.add_argument("--group-d-sae", type=int, default=1152)
    parser.add_argument("--group-k", type=int, default=32)
    parser.add_argument("--group-batch", type=int, default=512)
    parser.add_argument("--group-steps", type=int, default=200, help="steps of the per-layer SAEs")
    parser.add_argument("--groups-steps", type=int, default=None, help="steps of the group SAEs (1.5x --group-steps)")
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=None, help="largest AMAD of the groups")
    parser.add_argument("--n-groups", type=int, default=None)
    parser.add_argument("--store", default=None, help="a folder to keep the 30-layer activations in for reruns")
    args = parser.parse_args()
    if args.threshold is None and args.n_groups is None:
        args.threshold = 0.1
    torch.manual_seed(0)
    hm = interp.load()
    speeds, store = collection(hm, args)
    training = throughput(hm, args)
    grouping = groups(store, hm, args)
    report("sae", {"collection_tokens_per_s": speeds, "training": training, "layer_groups": grouping,
                   "settings": vars(args), "model": hm.name})


if __name__ == "__main__":
    main()
