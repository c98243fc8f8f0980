"""``interp sae eval`` and ``interp sae features``: evaluate saved SAEs, look at their features.

    interp sae eval --sae runs/sae --out runs/sae-eval                # every SAE in the folder
    interp sae eval --sae path/to/saelens_sae --tokens 8192 --out runs/eval2
    interp sae features --sae runs/sae --out runs/sae-features        # the 20 strongest features
    interp sae features --sae runs/sae --site resid_post.6 --features 3,17,40 --out runs/f

``--sae`` is a saved SAE (interp's ``config.json`` or SAELens's ``cfg.json``) or a folder holding
them, such as the ``--out`` of ``interp sae train``. Both read corpus text after ``--skip-tokens``
tokens, past what ``interp sae train`` collects by default, so the text is not the training text.
``eval`` writes the held-out FVU, L0, dead and dense features and the next-token loss clean, spliced
and zero-ablated (loss recovered) per SAE and site: ``results.csv`` (one row per SAE x site x metric),
``summary.csv`` (printed), ``meta.json``, ``figures/sae_eval.html``. ``features`` writes the feature
dashboard ``figures/features.html`` (each feature's top-activating contexts, the tokens its decoder
row promotes and suppresses), ``results.csv`` (per feature: max activation, density),
``summary.csv``, ``contexts.csv`` and ``meta.json``. Rerunning rewrites the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from interp.commands.common import load_model
from interp.commands.sae_common import blocks_after, claim_out, corpus_of, saes_in, tidy
from interp.errors import InputError
from interp.io import run_metadata, write_run
from interp.sae.activations import collect
from interp.sae.evaluate import evaluate
from interp.viz.sae_features import feature_dashboard
from interp.viz.sae_plots import evaluation_bars
from interp.viz.write import write_html


def _meta(hm, args, **facts) -> dict:
    return run_metadata(hm, seed=getattr(args, "seed", None), command=list(sys.argv),
                        evaluator=args.command.replace(" ", "_"), sae=str(args.sae), skip_tokens=args.skip_tokens,
                        dtype=args.dtype, device=args.device, **facts)


def _checked_model(args, saes):
    hm = load_model(args)
    for path, sae in saes:
        for site in sae.sites:
            hm.binding(site)
        if sae.d_in != hm.d_model and all(site.startswith(("resid", "attn_out", "mlp_out", "embed"))
                                          for site in sae.sites):
            raise InputError(f"the SAE in {path} reads width {sae.d_in}; {hm.name} has d_model {hm.d_model}")
    return hm


def run_eval(args: argparse.Namespace) -> int:
    found = saes_in(args.sae)
    if any(not sae.sites for _, sae in found):
        path = next(p for p, sae in found if not sae.sites)
        raise InputError(f"the SAE in {path} does not say which site it reads")
    corpus = corpus_of(args)
    claim = claim_out(args)
    hm = _checked_model(args, found)
    claim.take()
    out = Path(args.out)
    saes = [sae for _, sae in found]
    sites = list(dict.fromkeys(site for sae in saes for site in sae.sites))
    n_blocks = -(-args.tokens // (args.context - 1))
    blocks = blocks_after(hm, corpus, context=args.context, skip_tokens=args.skip_tokens,
                          n_blocks=n_blocks + args.eval_blocks)
    test = collect(hm, sites, blocks[:n_blocks], tokens=args.tokens, context=args.context, shuffle=False)
    summary = evaluate(saes, test, hm=hm, blocks=blocks[n_blocks:])
    summary.insert(1, "path", [str(path) for path, sae in found for _ in sae.sites])
    if args.figures:
        write_html({"sae_eval": evaluation_bars(summary, title=f"SAEs on {hm.name}")}, out)
    meta = _meta(hm, args, sites=sites, n_tokens=test.n_tokens, eval_blocks=[args.eval_blocks, args.context],
                 saes=[str(path) for path, _ in found])
    write_run(out, tidy(summary.drop(columns="path")), summary, meta)
    print(summary.drop(columns="path").to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {out}/results.csv, summary.csv, meta.json, figures/sae_eval.html")
    return 0


def _pick(found, site: str | None, hm):
    if site is None:
        if len(found) > 1:
            listed = "; ".join(f"{path} ({','.join(sae.sites)})" for path, sae in found)
            raise InputError(f"--sae holds {len(found)} SAEs: name one with --site, or give one SAE's folder "
                             f"({listed})")
        path, sae = found[0]
        return path, sae, sae.sites[0] if sae.sites else None
    name = hm.binding(site).name
    for path, sae in found:
        if name in {hm.binding(s).name for s in sae.sites}:
            return path, sae, name
    raise InputError(f"no SAE in {found[0][0].parent} reads {site}; they read "
                     f"{sorted({s for _, sae in found for s in sae.sites})}")


def run_features(args: argparse.Namespace) -> int:
    found = saes_in(args.sae)
    corpus = corpus_of(args)
    claim = claim_out(args)
    hm = _checked_model(args, found)
    path, sae, site = _pick(found, args.site, hm)
    if site is None:
        raise InputError(f"the SAE in {path} does not say which site it reads: pass --site")
    features = args.features
    bad = [f for f in features or [] if not 0 <= f < sae.d_sae]
    if bad:
        raise InputError(f"--features: {bad[0]} is out of range: the SAE has {sae.d_sae} features (0..{sae.d_sae - 1})")
    claim.take()
    out = Path(args.out)
    blocks = blocks_after(hm, corpus, context=args.context, skip_tokens=args.skip_tokens, n_blocks=args.texts)
    texts = hm.tokenizer.batch_decode(blocks.tolist())
    board = feature_dashboard(hm, sae, texts, features=features, n_features=args.n_features, k=args.k, site=site)
    rows, contexts = [], []
    for card in board.cards:
        rows.append({"feature": card.feature, "max_activation": card.max_activation, "density": card.density,
                     "promoted": " ".join(repr(t) for t, _ in card.promoted[:5]),
                     "suppressed": " ".join(repr(t) for t, _ in card.suppressed[:5]),
                     "top_context": "".join(card.contexts[0].tokens) if card.contexts else ""})
        contexts += [{"feature": card.feature, "rank": rank, "text": c.text, "position": c.position,
                      "activation": c.value, "context": "".join(c.tokens), "token": c.tokens[c.focus]}
                     for rank, c in enumerate(card.contexts)]
    summary = pd.DataFrame(rows)
    results = summary.melt(id_vars=["feature"], value_vars=["max_activation", "density"], var_name="metric",
                           value_name="value").assign(site=site, d_sae=sae.d_sae)[
        ["site", "d_sae", "feature", "metric", "value"]]
    if args.figures:
        board.write(out / "figures" / "features.html")
    meta = _meta(hm, args, site=site, sae_path=str(path), n_texts=len(texts), features=summary["feature"].tolist())
    write_run(out, results, summary, meta, extra={"contexts": pd.DataFrame(contexts)})
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}", max_colwidth=50))
    print(f"\nwrote {out}/figures/features.html, results.csv, summary.csv, contexts.csv, meta.json")
    return 0
