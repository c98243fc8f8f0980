"""``interp sae train`` and ``interp sae groups``: collect activations, train SAEs, evaluate them.

    interp sae train --out runs/sae                                   # TopK SAE at resid_post.6, ~50k tokens
    interp sae train --sites resid_post.3,resid_post.9 --d-sae 1152,2304 --saelens --out runs/sae2
    interp sae groups --out runs/groups                               # layer groups over every layer
    interp sae groups --layers 0:30:2 --n-groups 4 --out runs/groups4

``train`` collects the activations of ``--sites`` in one pass over the corpus (kept in
``OUT/activations/``), trains one SAE per site and size in one pass over them (``OUT/saes/``: the
checkpoint, ``training.csv`` and ``sae_0``, ``sae_1``, ... in interp's format; ``--saelens`` also
writes ``OUT/saelens/<hook>/``), and evaluates each on held-out tokens (FVU, L0, dead and dense
features) and with the model (next-token loss clean, spliced, zero-ablated; loss recovered) on corpus
text after the collected tokens. ``groups`` collects every chosen layer, clusters them into contiguous
groups by angular distance, and trains one SAE per group and one per layer (``OUT/saes/groups/``,
``OUT/saes/per_layer/``), reporting per-layer FVU of each and their cost. Both write ``results.csv``
(one row per SAE x site x metric), ``summary.csv`` (printed), ``meta.json`` and ``figures/``.
Interrupted, a rerun of the same command resumes from the last checkpoint; finished SAEs are kept.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from interp.commands.common import load_model
from interp.commands.sae_common import (
    STORE_DTYPES,
    blocks_after,
    claim_out,
    collected_blocks,
    config_of,
    corpus_of,
    sizes,
    spec_of,
    tidy,
)
from interp.errors import InputError
from interp.eval.causal_efficacy import parse_layers
from interp.io import run_metadata, write_run
from interp.sae.activations import collect
from interp.sae.evaluate import evaluate
from interp.sae.group_report import compare_groups
from interp.sae.saelens import hook_of_site, save_saelens
from interp.sae.train import train_saes
from interp.viz.sae_plots import distance_heatmap, group_fvu, training_curves
from interp.viz.write import write_html


def _store(hm, args, sites: list[str], out: Path):
    """The activations of ``sites`` (collected once, then read back from ``out/activations``): (train, test)."""
    store = collect(hm, sites, corpus_of(args), tokens=args.tokens + args.test_tokens, context=args.context,
                    batch_size=args.collect_batch_size, seed=args.seed, dtype=STORE_DTYPES[args.store_dtype],
                    out=out / "activations", max_norm_ratio=args.max_norm_ratio)
    if store.n_tokens <= args.test_tokens + args.batch_size:
        raise InputError(f"the corpus gave {store.n_tokens} tokens: too few for --test-tokens {args.test_tokens} "
                         f"and one batch of {args.batch_size}")
    return store.split(args.test_tokens)


def _sites(hm, names: list[str]) -> list[str]:
    """Each site checked against the model (a misspelt one is an error before any work)."""
    return [hm.binding(name).name for name in names]


def _meta(hm, args, **facts) -> dict:
    return run_metadata(hm, seed=args.seed, command=list(sys.argv), evaluator=args.command.replace(" ", "_"),
                        dtype=args.dtype, device=args.device, **facts)


def write_saelens(saes, folder: Path) -> list[Path]:
    """Each SAE in SAELens's format, one folder per hook; a layer-group SAE once per layer it reads."""
    paths = []
    for sae in saes:
        for site in sae.sites:
            single = type(sae).from_tensors(replace(sae.config, site=site), sae.state_dict())
            paths.append(save_saelens(single, folder / f"{hook_of_site(site)}.d{sae.d_sae}"))
    return paths


def run_train(args: argparse.Namespace) -> int:
    specs = [spec_of(args, site, d_sae) for d_sae in sizes(args) for site in args.sites]
    config = config_of(args)
    corpus_of(args)
    claim = claim_out(args)
    hm = load_model(args)
    sites = _sites(hm, args.sites)
    specs = [spec.with_site(sites[args.sites.index(spec.site)]) for spec in specs]
    claim.take()
    out = Path(args.out)
    train, test = _store(hm, args, sites, out)
    trained = train_saes(train, specs, config, out=out / "saes", model=hm.name)
    if args.saelens:
        write_saelens(trained.saes, out / "saelens")
    blocks = blocks_after(hm, corpus_of(args), context=args.context, n_blocks=args.eval_blocks,
                          skip_tokens=collected_blocks(args.tokens + args.test_tokens, args.context) * args.context)
    summary = evaluate(trained.saes, test, hm=hm, blocks=blocks)
    summary.insert(5, "k", [sae.k for sae in trained.saes for _ in sae.sites])
    names = {i: f"{sae.site} ({sae.d_sae})" for i, sae in enumerate(trained.saes)}
    if args.figures:
        write_html({"training_curves": training_curves(trained.history, names=names)}, out)
    meta = _meta(hm, args, sites=sites, n_tokens_train=train.n_tokens, n_tokens_test=test.n_tokens,
                 eval_blocks=list(blocks.shape), train_seconds=trained.seconds,
                 train_tokens_per_second=trained.tokens_per_second, saes=[f"saes/sae_{i}" for i in names],
                 specs=[spec.to_dict() for spec in specs], config=config.to_dict())
    write_run(out, tidy(summary), summary, meta)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {out}/saes/ (sae_0 ...{', saelens/' if args.saelens else ''}), results.csv, summary.csv, "
          "meta.json, figures/")
    return 0


def run_groups(args: argparse.Namespace) -> int:
    if args.n_groups is not None and args.threshold is not None:
        raise InputError("give one of --n-groups and --threshold")
    spec = spec_of(args, "resid_post.0", sizes(args)[0])
    config = config_of(args)
    corpus_of(args)
    claim = claim_out(args)
    hm = load_model(args)
    layers = parse_layers(args.layers, hm.n_layers)
    sites = _sites(hm, [f"{args.site}.{layer}" for layer in layers])
    if args.n_groups is not None and args.n_groups > len(sites):
        raise InputError(f"--n-groups {args.n_groups}: there are only {len(sites)} layers to group")
    claim.take()
    out = Path(args.out)
    train, test = _store(hm, args, sites, out)
    threshold = None if args.n_groups is not None else args.threshold if args.threshold is not None else 0.1
    report = compare_groups(train, test, sites, spec, config, n_groups=args.n_groups, threshold=threshold,
                            out=out / "saes")
    table = report.table.assign(group_sites=[",".join(report.groups[g]) for g in report.table["group"]])
    long = table.melt(id_vars=["site", "group"], value_vars=[c for c in table if c.endswith(("_per_layer", "_groups"))],
                      var_name="name", value_name="value")
    long[["metric", "approach"]] = long["name"].str.extract(r"^(\w+?)_(per_layer|groups)$")
    results = long[["approach", "site", "group", "metric", "value"]]
    distances = pd.DataFrame(report.distances.numpy(), index=sites, columns=sites).rename_axis("site").reset_index()
    if args.figures:
        write_html({"layer_groups": [group_fvu(table), distance_heatmap(report.distances, sites, report.groups)]}, out)
    meta = _meta(hm, args, sites=sites, groups=report.groups, amad=report.amad, threshold=threshold,
                 n_groups=len(report.groups), n_tokens_train=train.n_tokens, n_tokens_test=test.n_tokens,
                 spec=spec.to_dict(), config=config.to_dict(), target_fvu=report.target_fvu)
    write_run(out, results, table, meta, extra={"cost": report.cost, "distances": distances,
                                                "fvu_curve": report.curve})
    print("groups: " + " | ".join(",".join(g) for g in report.groups) + f"  (AMAD {report.amad:.3f})")
    print(table.drop(columns="group_sites").to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"cost (to_target: until the mean per-layer held-out FVU reached {report.target_fvu:.4g}):")
    print(report.cost.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {out}/saes/ (groups/, per_layer/), results.csv, summary.csv, cost.csv, fvu_curve.csv, "
          "distances.csv, meta.json, figures/")
    return 0
