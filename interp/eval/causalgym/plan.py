"""The plan of a CausalGym sweep: each task's pairs, loaded, checked and encoded once.

:func:`load_tasks` reads the suite (templates or rows, see :mod:`interp.suites.causalgym_source`,
or a dict of :class:`~interp.suites.causalgym.TaskSplits`); :func:`encode_task` tokenises a task's train and
test pairs (and those of its control relabelling), checks that every label is one token and that
the two types' labels differ, and finds the spans (positions) usable in every pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import InputError, SiteError, SuiteError
from interp.interventions.base import site_shape
from interp.methods import PairData
from interp.suites.causalgym_source import open_suite


@dataclass
class EncodedTask:
    """One task's encoded pairs: train/test for the task labels and for the control labels."""

    name: str
    spans: list[int]
    train: Any  # PairData
    test: Any
    control_train: Any
    control_test: Any
    digest: str


def load_tasks(suite: Any, tasks: Sequence[str] | None, seed: int, n_train: int, n_test: int,
               strict: bool = False) -> dict:
    """The tasks' splits: a dict of TaskSplits as given, or any suite :func:`~interp.suites.causalgym_source.open_suite`
    reads (templates sampled into ``n_train``/``n_test`` rows; rows capped at those numbers)."""
    if isinstance(suite, dict):
        chosen = dict(suite) if tasks is None else {t: suite[t] for t in tasks if t in suite}
        missing = [] if tasks is None else [t for t in tasks if t not in suite]
        if missing:
            raise SuiteError(f"no task {missing}; the tasks are: {', '.join(suite)}")
        return chosen
    if isinstance(suite, (str, Path)):
        return open_suite(suite, seed=seed, sizes=(n_train, 0, n_test), tasks=tasks, strict=strict)
    raise InputError(f"suite must be a template file or folder, builtin:NAME, a rows file or folder, a dataset id "
                     f"or a dict of TaskSplits; got {type(suite).__name__}")


def encode_task(hm, splits, positions: Sequence[int] | None, control_labels: tuple[str, str] | None) -> EncodedTask:
    name = splits.task
    if not splits.train or not splits.test:
        raise SuiteError(f"task {name!r} has {len(splits.train)} training and {len(splits.test)} test pairs; it "
                         "needs both")
    control = splits.control(control_labels) if control_labels else None
    jobs = [("train", splits, "train"), ("test", splits, "test")]
    if control is not None:
        jobs += [("control_train", control, "train"), ("control_test", control, "test")]
    encoded = {}
    for key, source, split in jobs:
        try:
            encoded[key] = source.encode(hm.tokenizer, split)
        except InputError as error:
            kind = "control " if source is control else ""
            raise InputError(f"{error} (in the {kind}{split} split)") from None
    for key, pairs in encoded.items():
        check_labels_differ(name, pairs, hm.tokenizer, "control " if key.startswith("control") else "")
    common = set(encoded["train"][0].sites)
    for pairs in encoded.values():
        for pair in pairs:
            common &= set(pair.sites)
    spans = sorted(common)
    if positions is not None:
        wanted = [int(p) for p in positions]
        missing = [p for p in wanted if p not in common]
        if missing:
            raise InputError(f"task {name!r}: span{'s' if len(missing) > 1 else ''} {missing} not usable in every "
                             f"pair; usable spans: {spans}")
        spans = wanted
    if not spans:
        raise SuiteError(f"task {name!r}: its pairs share no usable span (position) to intervene on")
    pad = getattr(hm.tokenizer, "pad_token_id", None) or 0
    data = {key: PairData.from_encoded(pairs, spans, pad_id=pad) for key, pairs in encoded.items()}
    frames = splits.to_frame().to_csv(index=False)
    digest = hashlib.sha256(f"{spans}\n{frames}".encode()).hexdigest()[:16]
    return EncodedTask(name, spans, data["train"], data["test"], data.get("control_train"), data.get("control_test"),
                 digest)


def check_labels_differ(task: str, pairs: list, tokenizer, kind: str = "") -> None:
    """The two types' label tokens must differ: a token that is a label of both makes every odds-ratio 0."""
    by_type: dict[str, dict[int, str]] = {}
    for encoded in pairs:
        pair = encoded.pair
        by_type.setdefault(pair.base_type, {})[encoded.base_label_id] = pair.base_label
        by_type.setdefault(pair.src_type, {})[encoded.src_label_id] = pair.src_label
    types = list(by_type)
    for i, first in enumerate(types):
        for second in types[i + 1:]:
            shared = sorted(set(by_type[first]) & set(by_type[second]))
            if shared:
                token = shared[0]
                a, b = by_type[first][token], by_type[second][token]
                same = repr(a) if a == b else f"{a!r} and {b!r} (one token)"
                raise SuiteError(f"task {task!r}: the {kind}label {same} belongs to both types {first!r} and "
                                 f"{second!r}; the two types need different labels (a shared label scores 0 "
                                 "everywhere)")


def check_site(hm, site: str, methods: list[str]) -> None:
    try:
        hm.binding(site)
    except SiteError as error:
        raise InputError(f"site {site!r}: {error}") from None
    if "das" in methods:
        shape = site_shape(hm, site)
        if shape is None or len(shape) != 1:
            raise InputError(f"DAS training here needs a site with one vector per token (resid_*, attn_out, "
                             f"mlp_out, mlp_post); {site!r} has shape {shape}")


def suite_name_of(suite: Any) -> str:
    if isinstance(suite, (str, Path)):
        text = str(suite)
        return text if text.startswith(("builtin:", "hf:")) else Path(text).stem
    return "custom"


__all__ = ["EncodedTask", "check_labels_differ", "check_site", "encode_task", "load_tasks", "suite_name_of"]
