"""Faults leave the model as it was: an exception or ``KeyboardInterrupt`` raised inside any
intervention, evaluator, sweep, training loop or generation leaves no extra hook, the same weights,
``requires_grad`` flags, train/eval modes, attention implementation and layer list, and the model
gives the same logits afterwards.

Two ways to fail: the intervention's own code raises (its ``edit``), or a layer of the model raises
half-way through an evaluator (the ``k``-th call of the last layer, ``k`` = half the calls a whole
run makes), so the fault lands in the middle of the work, not at its start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import torch
from conftest import AGREEMENT_SMALL, FIXTURES

import interp
from interp.errors import InputError
from interp.eval import causal_efficacy, syntaxgym
from interp.graph import count_hooks
from interp.interventions import (
    DAS,
    Ablate,
    Apply,
    BoundlessDAS,
    Patch,
    ScaleHeads,
    Steer,
    Subspace,
    attribution_patch,
    generate,
    patch_sweep,
)
from interp.methods import PairData, score, train_das

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]
ERRORS = [RuntimeError("fault inside"), KeyboardInterrupt()]
TASK = AGREEMENT_SMALL


def fingerprint(hm) -> dict:
    """Everything a fault must not change."""
    digest = hashlib.sha256()
    for name, tensor in sorted(hm.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return {
        "weights": digest.hexdigest(),
        "requires_grad": [(n, p.requires_grad) for n, p in hm.model.named_parameters()],
        "grads": [n for n, p in hm.model.named_parameters() if p.grad is not None],
        "training": [(n, m.training) for n, m in hm.model.named_modules()],
        "attention": hm.config._attn_implementation,
        "layers": list(hm.model.get_submodule(hm.layout.layers)),
        "hooks": count_hooks(hm.model),
        "grad_enabled": torch.is_grad_enabled(),
    }


def user_state(hm):
    """A model a user has touched: some weights trainable, the top layer in train mode."""
    hm.model.get_submodule(hm.layout.layers)[-1].mlp.requires_grad_(True)
    hm.model.get_submodule(hm.layout.layers)[0].train()
    return hm


class FailAt:
    """A forward hook on ``module`` that counts calls and raises ``error`` on call ``at``."""

    def __init__(self, module, error: BaseException | None = None, at: int = 0):
        self.calls, self.error, self.at = 0, error, at
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, args, output):
        self.calls += 1
        if self.error is not None and self.calls == self.at:
            raise self.error

    def remove(self):
        self.handle.remove()


def assert_untouched(hm, before: dict, logits: torch.Tensor) -> None:
    after = fingerprint(hm)
    for key in before:
        assert after[key] == before[key], key
    assert torch.equal(hm.run(BASE).logits, logits)


# ------------------------------------------------------------------------------ inside interventions
def interventions(hm, src) -> dict[str, Callable[[], object]]:
    d = hm.d_model
    basis = torch.linalg.qr(torch.randn(d, 2, generator=torch.Generator().manual_seed(0))).Q
    return {
        "Patch": lambda: Patch("resid_post.1", src.cache, "last"),
        "Patch heads": lambda: Patch("z.1", SOURCE, "last", heads=[0]),
        "Ablate mean": lambda: Ablate("mlp_out.1", "mean", reference=SOURCE),
        "Ablate resample": lambda: Ablate("resid_post.1", "resample", reference=src, positions="last"),
        "Subspace": lambda: Subspace("resid_post.1", basis, src, "last"),
        "DAS": lambda: DAS("resid_post.1", d, 2, src.cache, "last"),
        "BoundlessDAS": lambda: BoundlessDAS("resid_post.1", d, src.cache, "last"),
        "ScaleHeads": lambda: ScaleHeads("z.1", {0: 0.0}),
        "Steer": lambda: Steer("resid_post.1", torch.ones(d), alpha=2.0),
    }


@pytest.fixture
def hm():
    return user_state(interp.models.tiny("llama"))  # grouped-query attention, switchable attention implementation


KINDS = ["Patch", "Patch heads", "Ablate mean", "Ablate resample", "Subspace", "DAS", "BoundlessDAS", "ScaleHeads",
         "Steer", "Apply"]


@pytest.mark.parametrize("error", ERRORS, ids=["exception", "KeyboardInterrupt"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_inside_an_intervention_leaves_the_model_as_it_was(hm, kind, error):
    src = hm.run(SOURCE, cache=["resid_post.1", "z.1"])
    start = hm.run(BASE, cache=["resid_pre.1"]).cache["resid_pre.1"]
    logits = hm.run(BASE).logits
    before = fingerprint(hm)

    def boom(*args):
        raise error

    if kind == "Apply":
        intervention = Apply("resid_post.1", boom)
    else:
        intervention = interventions(hm, src)[kind]()
        intervention.edit = boom  # the intervention's own code fails, mid-forward
    fine = Steer("resid_post.0", torch.ones(hm.d_model))  # a healthy intervention before it
    for run in (
        lambda: hm.run(BASE, interventions=[fine, intervention], cache=["pattern.0", "z.1"]),  # eager attention
        lambda: hm.run(BASE, interventions=[intervention], grad=True, cache=["resid_post.1"], cache_grad=True),
        lambda: hm.run(BASE, interventions=[intervention], start_at=("resid_pre.1", start)),  # layers swapped
        lambda: generate(hm, BASE, interventions=[intervention], max_new_tokens=3, where="new"),
    ):
        with pytest.raises(type(error)):
            run()
        assert_untouched(hm, before, logits)


# ------------------------------------------------------------------------------ inside evaluators
def pairs(hm) -> PairData:
    return PairData.from_texts(hm, BASE, SOURCE, base_positions=[[1, 2], [1, 2]], source_positions=[[1, 2], [1, 2]],
                               base_labels=[" is", " is"], source_labels=[" are", " are"], base_types=["sg", "sg"])


def evaluators(hm, templates, tmp_path) -> dict[str, Callable[[], object]]:
    metric = lambda logits: logits[..., 5] - logits[..., 7]  # noqa: E731
    return {
        "syntaxgym": lambda: syntaxgym(hm, FIXTURES / "syntaxgym_agreement.json", batch_size=4),
        "causal_efficacy": lambda: causal_efficacy(
            hm, templates, methods=["das", "mean", "vanilla"], layers=[1], n_train=4, n_test=2, das_steps=2,
            n_boot=10, control=False, out=tmp_path / "ce"),
        "patch_sweep": lambda: patch_sweep(hm, BASE, SOURCE, metric=metric, max_rows=3),
        "attribution_patch": lambda: attribution_patch(hm, BASE, SOURCE, metric=metric),
        "train_das": lambda: train_das(hm, pairs(hm), "resid_post.0", steps=4, batch_size=1),
        "score": lambda: score(hm, pairs(hm), "resid_post.0", [None, torch.ones(hm.d_model) / hm.d_model**0.5]),
        "Steer.from_contrast": lambda: Steer.from_contrast(hm, "resid_post.1", BASE, SOURCE),
        "hm.generate": lambda: hm.generate(BASE, interventions=[Steer("resid_post.0", torch.ones(hm.d_model))],
                                           max_new_tokens=4),
    }


@pytest.mark.parametrize("error", ERRORS, ids=["exception", "KeyboardInterrupt"])
@pytest.mark.parametrize("name", ["syntaxgym", "causal_efficacy", "patch_sweep", "attribution_patch", "train_das",
                                  "score", "Steer.from_contrast", "hm.generate"])
def test_a_fault_half_way_through_an_evaluator_leaves_the_model_as_it_was(name, error, suite, tmp_path):
    hm = user_state(interp.models.tiny("llama"))
    work = evaluators(hm, suite, tmp_path)[name]
    last_layer = hm.model.get_submodule(hm.layout.layers)[-1]
    counter = FailAt(last_layer)
    work()  # a whole run, to count the calls
    counter.remove()
    assert counter.calls >= 1
    logits = hm.run(BASE).logits
    before = fingerprint(hm)
    fault = FailAt(last_layer, error, at=max(1, counter.calls // 2))
    try:
        with pytest.raises(type(error)):
            evaluators(hm, suite, tmp_path / "again")[name]()
    finally:
        fault.remove()
    assert fault.calls == max(1, counter.calls // 2)
    assert_untouched(hm, before, logits)


def test_a_handler_that_returns_another_shape_is_an_error_at_its_site(hm):
    logits = hm.run(BASE).logits
    before = fingerprint(hm)
    for wrong in (lambda act, ctx: act[..., :3], lambda act, ctx: act.tolist()):
        with pytest.raises(InputError, match=r"a handler at 'resid_post.1' returned .*activation's shape \[2, "):
            hm.run(BASE, interventions=[Apply("resid_post.1", wrong)])
        assert_untouched(hm, before, logits)
