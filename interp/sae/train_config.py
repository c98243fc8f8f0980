"""What to train: :class:`SAESpec` (one SAE: where it reads, its size, kind and sparsity) and
:class:`TrainConfig` (the pass they share: batch size, steps, learning-rate schedule, seed).

SAEs whose specs differ only in ``site`` train as one stack (batched matrix products); specs that
differ in size or kind form separate stacks, all fed from the same batches in one pass.

>>> a, b = SAESpec("resid_post.3", d_sae=1024, kind="topk", k=32), SAESpec("resid_post.4", 1024, "topk", k=32)
>>> a.stack_key == b.stack_key
True
>>> TrainConfig(steps=0)
Traceback (most recent call last):
interp.errors.InputError: steps: must be at least 1, not 0
>>> SAESpec("resid_post.3", 1024, kind="topk")
Traceback (most recent call last):
interp.errors.InputError: a topk SAE needs k between 1 and d_sae=1024; got k=None
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from interp.errors import InputError
from interp.sae.kinds import KINDS
from interp.settings import POSITIVE, Real, Whole, check_rules

NON_NEGATIVE = Real(0.0, True, float("inf"), False, "must be a finite number of at least 0")
FRACTION = Real(0.0, True, 1.0, True, "must be between 0 and 1")


@dataclass(frozen=True)
class SAESpec:
    """One SAE to train. ``site``: a site name, or a list of them for a layer-group SAE (each batch row
    then comes from one of its layers, drawn at random).

    - ``l1_coefficient`` (relu): weight of the L1 penalty on the features (decoder rows have unit norm);
    - ``l0_coefficient`` (jumprelu): weight of the L0 penalty; ``bandwidth``: its straight-through kernel
      width; ``initial_threshold``: the thresholds' start;
    - ``aux_k``, ``aux_coefficient``: the auxiliary loss that lets dead features reconstruct what the
      live ones miss (Gao et al. 2024), for every kind; 0 turns it off."""

    site: str | tuple[str, ...]
    d_sae: int
    kind: str = "topk"
    k: int | None = None
    l1_coefficient: float = 5.0
    l0_coefficient: float = 1.0
    bandwidth: float = 0.001
    initial_threshold: float = 0.001
    aux_k: int = 256
    aux_coefficient: float = 1 / 32
    lr: float = 4e-4

    def __post_init__(self):
        if isinstance(self.site, list):
            object.__setattr__(self, "site", tuple(self.site))
        if not (isinstance(self.site, str) or (self.site and all(isinstance(s, str) for s in self.site))):
            raise InputError(f"site must be a site name or a non-empty list of them; got {self.site!r}")
        if self.kind not in KINDS:
            raise InputError(f"unknown SAE kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.kind == "topk" and not (isinstance(self.k, int) and 0 < self.k <= self.d_sae):
            raise InputError(f"a topk SAE needs k between 1 and d_sae={self.d_sae}; got k={self.k!r}")
        check_rules({"d_sae": self.d_sae, "aux_k": self.aux_k}, {"d_sae": Whole(1), "aux_k": Whole(0)})
        check_rules({"l1_coefficient": self.l1_coefficient, "l0_coefficient": self.l0_coefficient,
                     "aux_coefficient": self.aux_coefficient, "bandwidth": self.bandwidth,
                     "initial_threshold": self.initial_threshold, "lr": self.lr},
                    {"l1_coefficient": NON_NEGATIVE, "l0_coefficient": NON_NEGATIVE, "aux_coefficient": NON_NEGATIVE,
                     "bandwidth": POSITIVE, "initial_threshold": POSITIVE, "lr": POSITIVE})

    @property
    def sites(self) -> tuple[str, ...]:
        return (self.site,) if isinstance(self.site, str) else tuple(self.site)

    @property
    def stack_key(self) -> tuple:
        """Specs with equal keys train batched together: everything but the site."""
        return tuple(value for name, value in asdict(self).items() if name != "site")

    def with_site(self, site) -> SAESpec:
        return replace(self, site=site)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["site"] = list(self.site) if isinstance(self.site, tuple) else self.site
        return data


@dataclass(frozen=True)
class TrainConfig:
    """The training pass shared by every SAE in it.

    ``steps`` batches of ``batch_size`` tokens (the store is reused, reshuffled, when it runs out);
    the learning rate warms up linearly over ``lr_warmup_steps`` and decays linearly to 0 over the last
    ``lr_decay_fraction`` of the steps; the sparsity penalty warms up over ``sparsity_warmup_steps``; a
    feature is dead when it has not fired for ``dead_steps`` steps; ``normalize`` scales each SAE's
    inputs to a mean squared norm of ``d_in`` while training and folds the scale into the saved weights;
    ``checkpoint_every`` steps the state is saved (with ``out``) and a rerun resumes from it."""

    steps: int = 2000
    batch_size: int = 4096
    seed: int = 0
    lr_warmup_steps: int = 100
    lr_decay_fraction: float = 0.2
    sparsity_warmup_steps: int = 500
    dead_steps: int = 250
    normalize: bool = True
    checkpoint_every: int = 500
    log_every: int = 50

    def __post_init__(self):
        check_rules({"steps": self.steps, "batch_size": self.batch_size, "lr_warmup_steps": self.lr_warmup_steps,
                     "sparsity_warmup_steps": self.sparsity_warmup_steps, "dead_steps": self.dead_steps,
                     "checkpoint_every": self.checkpoint_every, "log_every": self.log_every, "seed": self.seed},
                    {"steps": Whole(1), "batch_size": Whole(1), "lr_warmup_steps": Whole(0),
                     "sparsity_warmup_steps": Whole(0), "dead_steps": Whole(1), "checkpoint_every": Whole(1),
                     "log_every": Whole(1), "seed": Whole(0)})
        check_rules({"lr_decay_fraction": self.lr_decay_fraction}, {"lr_decay_fraction": FRACTION})

    def lr_factor(self, step: int) -> float:
        """The learning rate's multiplier at ``step`` (0-based)."""
        warm = min(1.0, (step + 1) / self.lr_warmup_steps) if self.lr_warmup_steps else 1.0
        decay_steps = int(self.steps * self.lr_decay_fraction)
        left = self.steps - step
        return warm * (min(1.0, left / decay_steps) if decay_steps else 1.0)

    def sparsity_factor(self, step: int) -> float:
        return min(1.0, (step + 1) / self.sparsity_warmup_steps) if self.sparsity_warmup_steps else 1.0

    def to_dict(self) -> dict:
        return asdict(self)
