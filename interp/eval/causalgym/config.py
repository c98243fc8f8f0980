"""The CausalGym protocol's settings, with their defaults written once: :class:`CausalGymConfig`.

:func:`interp.eval.causal_efficacy`, ``interp causalgym`` and an experiment file's
``[[evaluations]]`` table all build one and call :meth:`CausalGymConfig.validate`, each naming a bad
setting the way its user wrote it (``das_steps``, ``--das-steps``, ``evaluations[0].das.steps``)
through ``spell``.

>>> config = CausalGymConfig(methods="mean,vanilla", layers="0:4:2", n_train=64, das=DASConfig(steps=40))
>>> checked = config.validate()           # the same settings, in their one normal form
>>> checked.methods, checked.das.steps
(['mean', 'vanilla'], 40)
>>> CausalGymConfig.build(config, das_steps=20, seed=1).das.steps     # causal_efficacy's keywords
20
>>> CausalGymConfig(n_train=1).validate()
Traceback (most recent call last):
interp.errors.InputError: n_train: must be at least 2 (a task needs at least 2 training pairs), not 1
>>> CausalGymConfig(das=DASConfig(lr=float("nan"))).validate(spell=lambda key: "--" + key.replace("_", "-"))
Traceback (most recent call last):
interp.errors.InputError: --das-lr: nan is out of range (must be a finite number greater than 0)
>>> parse_tasks("agr, npi"), parse_tasks(None), parse_tasks("all")
(['agr', 'npi'], None, None)
>>> parse_tasks([""])
Traceback (most recent call last):
interp.errors.InputError: tasks is empty: name at least one task, or pass None for all
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from interp.errors import InputError, InterpError
from interp.graph.sites import LAYER_RESIDUAL_KINDS
from interp.methods import METHODS, DASConfig
from interp.settings import Whole, check_rules
from interp.suites.pairs import CONTROL_LABELS

#: Methods a run may name but that are not in the default set ("all"): ``sae`` needs SAEs (``sae=FOLDER``).
EXTRA_METHODS = ("sae",)
#: The site kinds a CausalGym direction sits at, one site per layer: ``f"{site_kind}.{layer}"``.
SITE_KINDS = LAYER_RESIDUAL_KINDS
#: Whole-number settings and their least value (with why, where the reason is not obvious).
RULES = {
    "n_train": Whole(2, " (a task needs at least 2 training pairs)"),
    "n_test": Whole(1, " (a task needs at least 1 test pair)"),
    "n_boot": Whole(1, " (the summary's intervals need at least one bootstrap resample)"),
    "max_rows": Whole(1),
}
#: ``causal_efficacy``'s keyword for each DAS field (``das_steps`` -> ``steps``).
DAS_KEYWORDS = {f"das_{name}": name for name in DASConfig.RULES}


@dataclass(frozen=True)
class CausalGymConfig:
    """What a CausalGym run computes (how and where it runs — ``out``, ``executor`` — is not here).

    ``methods``: names from :data:`interp.methods.METHODS`, a list or ``"a,b"`` (``None``: all eight).
    ``layers``: see :func:`parse_layers` (``None``: all). ``positions``: span indices (``None``:
    every span usable in all pairs). ``tasks``: task names (``None``: every task; an empty selection
    is an error). ``control``: also score the control task (for selectivity), whose two labels are
    ``control_labels``. Sites are ``f"{site_kind}.{layer}"``. ``seed`` fixes the sampling of pairs,
    DAS initialisation and order, and the random directions. ``n_train``/``n_test``: pairs per task;
    ``das``: DAS training; ``n_boot``: bootstrap resamples of the summary's intervals; ``max_rows``:
    rows per scoring forward. ``strict_splits``: a template whose fillers cannot keep the splits apart
    is an error, instead of keeping colliding pairs with a warning (:mod:`interp.suites.sampling`).
    ``sae``: a folder of saved SAEs for the ``sae`` method (:mod:`interp.sae.direction`), one reading
    each site of the run (not in the default methods).
    """

    methods: str | Sequence[str] | None = None
    layers: Any = None
    positions: Sequence[int] | str | None = None
    tasks: str | Sequence[str] | None = None
    control: bool = True
    control_labels: Sequence[str] = CONTROL_LABELS
    site_kind: str = "resid_post"
    seed: int = 0
    n_train: int = 400
    n_test: int = 100
    das: DASConfig = field(default_factory=DASConfig)
    n_boot: int = 1000
    max_rows: int = 256
    strict_splits: bool = False
    sae: str | None = None

    @classmethod
    def build(cls, config: CausalGymConfig | None = None, **overrides: Any) -> CausalGymConfig:
        """``config`` (default: every default) with ``overrides`` by :func:`~interp.eval.causal_efficacy`'s
        keywords: the fields, and ``das_steps``, ``das_batch_size``, ``das_lr``, ``das_warmup``, ``das_rank``."""
        config = config if config is not None else cls()
        if not isinstance(config, CausalGymConfig):
            raise InputError(f"config must be a CausalGymConfig, not {type(config).__name__} ({config!r}); give "
                             "methods, layers, ... as keywords")
        names = {f.name for f in fields(cls)}
        unknown = [key for key in overrides if key not in names and key not in DAS_KEYWORDS]
        if unknown:
            raise TypeError(f"unexpected setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; the settings "
                            f"are {', '.join([*names, *DAS_KEYWORDS])}")
        das = {DAS_KEYWORDS[key]: value for key, value in overrides.items() if key in DAS_KEYWORDS}
        plain = {key: value for key, value in overrides.items() if key in names}
        config = replace(config, **plain)
        return replace(config, das=replace(config.das, **das)) if das else config

    def validate(self, *, spell: Callable[[str], str] = str) -> CausalGymConfig:
        """The same settings in their normal form (lists of names, ``None`` for "all"), or an
        :class:`~interp.errors.InputError` for the first bad one, named ``spell(key)`` (keys as
        :meth:`build` takes them). Layers are checked against a model by :func:`parse_layers`."""
        check_rules(asdict(self), RULES, spell=spell)
        if not isinstance(self.das, DASConfig):
            raise InputError(f"{spell('das')}: must be a DASConfig, not {self.das!r}")
        self.das.validate(spell=lambda key: spell(f"das_{key}"))
        tasks = _named(spell, "tasks", lambda: parse_tasks(self.tasks))
        methods = _named(spell, "methods", lambda: parse_methods(self.methods))
        if not isinstance(self.strict_splits, bool):
            raise InputError(f"{spell('strict_splits')} must be true or false, not {self.strict_splits!r}")
        if "sae" in methods and not self.sae:
            raise InputError(f"{spell('methods')}: the sae method needs SAEs: pass {spell('sae')}=FOLDER (saved SAEs, "
                             "e.g. from interp sae train --out FOLDER)")
        if self.site_kind not in SITE_KINDS:
            raise InputError(f"{spell('site_kind')} must be one of {', '.join(SITE_KINDS)}, not {self.site_kind!r}")
        labels = (check_control_labels(self.control_labels, spell=spell("control_labels")) if self.control
                  else tuple(self.control_labels))
        return replace(self, methods=methods, tasks=tasks, control_labels=labels,
                       layers=None if self.layers == "all" else self.layers,
                       positions=None if self.positions == "all" else self.positions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _named(spell: Callable[[str], str], key: str, check: Callable[[], Any]) -> Any:
    """Run a parser; where the caller spells ``key`` its own way, its message starts with that name."""
    try:
        return check()
    except InterpError as error:
        if spell(key) == key:
            raise
        raise InputError(f"{spell(key)}: {error}") from None


def parse_methods(methods: str | Sequence[str] | None) -> list[str]:
    """``"das,probe"`` / a list / ``None`` or ``"all"`` (every method) -> validated method names."""
    if methods is None or methods == "all":
        return list(METHODS)
    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else [str(m) for m in methods]
    names = [m for m in names if m]
    if not names:
        raise InputError(f"no methods given; choose from {', '.join(METHODS)}")
    unknown = [m for m in names if m not in METHODS and m not in EXTRA_METHODS]
    if unknown:
        raise InputError(f"unknown method{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join((*METHODS, *EXTRA_METHODS))}")
    return list(dict.fromkeys(names))


def layer_text_parts(text: str) -> list[int | None]:
    """The numbers of a layer text, ``"0:30:2"`` -> ``[0, 30, 2]`` (None where a range leaves one out) or
    ``"0,2"`` -> ``[0, 2]``; an :class:`InputError` when it is neither (the model is not needed)."""
    text = text.strip()
    try:
        parts = [int(p) if p.strip() else None for p in text.split(":" if ":" in text else ",")]
    except ValueError:
        parts = []
    if not parts or len(parts) > 3 and ":" in text or (":" not in text and None in parts):
        raise InputError(f"cannot read layers {text!r}: write START:STOP[:STEP] (e.g. 0:30:2), a number, "
                         "or numbers separated by commas")
    return parts


def parse_layers(layers: Any, n_layers: int) -> list[int]:
    """``None``/``"all"``, an int, a list, a ``range``, or text ``"0:30:2"`` / ``"4"`` / ``"0,2,4"``."""
    valid = f"the model has {n_layers} layers (0..{n_layers - 1})"
    if layers is None or layers == "all":
        return list(range(n_layers))
    if isinstance(layers, str):
        text = layers.strip()
        parts = layer_text_parts(text)
        if ":" in text:
            start, stop, step = (parts + [None, None])[:3]
            start = 0 if start is None else start
            stop = n_layers if stop is None else stop
            if stop > n_layers or start < 0 or stop < 0:
                raise InputError(f"layer range {text!r} goes outside the model: {valid}")
            layers = list(range(start, stop, step or 1))
        else:
            layers = parts
    elif isinstance(layers, int):
        layers = [layers]
    layers = [int(layer) for layer in layers]
    if not layers:
        raise InputError(f"no layers selected; {valid}")
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise InputError(f"layer{'s' if len(bad) > 1 else ''} {bad} outside the model: {valid}")
    return list(dict.fromkeys(layers))


def parse_tasks(tasks: str | Sequence[str] | None) -> list[str] | None:
    """``None`` or ``"all"``: every task; ``"a,b"`` or a list: those tasks (in order, each once).

    An empty selection (``""``, ``[]``, ``[""]``) is an error, never "every task"; so is an entry
    that is not a non-empty string.
    """
    if tasks is None or tasks == "all":
        return None
    if isinstance(tasks, str):
        names = [t.strip() for t in tasks.split(",")]
        names = [t for t in names if t]
    else:
        if not isinstance(tasks, Sequence):
            raise InputError(f"tasks must be a list of task names, \"all\" or None, not {tasks!r}")
        bad = [t for t in tasks if not isinstance(t, str)]
        if bad:
            raise InputError(f"tasks must be task names (strings), not {bad[0]!r}")
        names = [t.strip() for t in tasks]
        if any(names) and not all(names):
            raise InputError(f"tasks: entry {names.index('')} of {list(tasks)!r} is an empty name")
        names = [t for t in names if t]
    if not names:
        raise InputError("tasks is empty: name at least one task, or pass None for all")
    return list(dict.fromkeys(names))


def check_control_labels(labels: Sequence[str], *, spell: str = "control_labels") -> tuple[str, str]:
    """Two different non-empty labels, one per type (equal labels would make every score 0)."""
    labels = tuple(labels)
    if len(labels) != 2 or not all(isinstance(label, str) and label for label in labels):
        raise InputError(f"{spell} must be two labels, one per type; got {labels!r}")
    if labels[0] == labels[1]:
        raise InputError(f"{spell}: both types get the label {labels[0]!r}; the control task needs two different "
                         "labels (with one label for both, every score is 0)")
    return labels  # type: ignore[return-value]


__all__ = ["DAS_KEYWORDS", "RULES", "SITE_KINDS", "CausalGymConfig", "check_control_labels", "parse_layers",
           "parse_methods", "parse_tasks"]
