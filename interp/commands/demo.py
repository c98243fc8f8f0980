"""``interp demo``: load a model, show its sites, and score subject-verb agreement minimal pairs.

For each prompt the model should prefer the verb that agrees with the head noun of the subject,
not with the nearer "attractor" noun.
"""

from __future__ import annotations

import argparse

from interp.commands.common import add_model_arguments, load_model
from interp.suites_common import single_token_id

MINIMAL_PAIRS = [
    # (prompt, agreeing verb, disagreeing verb)
    ("The keys to the cabinet", " are", " is"),
    ("The key to the cabinets", " is", " are"),
    ("The authors that the guard likes", " are", " is"),
    ("The author that the guards like", " is", " are"),
    ("The dogs near the house", " are", " is"),
    ("The dog near the houses", " is", " are"),
    ("The teachers of the student", " were", " was"),
    ("The teacher of the students", " was", " were"),
]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="load a model, list its sites, score agreement minimal pairs")
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def score_pairs(hm, pairs=MINIMAL_PAIRS) -> list[tuple[str, str, str, float]]:
    """``(prompt, good, bad, log p(good) - log p(bad))`` for each pair, from one batched run."""
    prompts = [prompt for prompt, _, _ in pairs]
    log_probs = hm.run(prompts).last_logits.log_softmax(-1)
    rows = []
    for row, (prompt, good, bad) in enumerate(pairs):
        good_id, bad_id = single_token_id(hm.tokenizer, good), single_token_id(hm.tokenizer, bad)
        rows.append((prompt, good, bad, float(log_probs[row, good_id] - log_probs[row, bad_id])))
    return rows


def run(args: argparse.Namespace) -> int:
    hm = load_model(args)
    print(hm)
    kinds = hm.site_kinds()
    print(f"{len(hm.sites())} sites; kinds: {', '.join(kinds)}; e.g. {', '.join(hm.sites()[:4])}, ...")
    print()
    print(f"{'prompt':<36} {'agreeing':>9} {'other':>7} {'log-odds':>9}")
    rows = score_pairs(hm)
    for prompt, good, bad, margin in rows:
        print(f"{prompt:<36} {good!r:>9} {bad!r:>7} {margin:>+9.3f}")
    correct = sum(margin > 0 for *_, margin in rows)
    print(f"\nagreement accuracy: {correct}/{len(rows)}")
    return 0
