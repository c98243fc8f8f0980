"""Gradients at sites on a frozen model: ``cache_grad=True`` keeps cached activations in the graph,
``grads=[...]`` records the gradient at a site in backward; both checked against float64 finite
differences (:mod:`interp.graph.gradients`)."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.errors import InputError, SiteError
from interp.interventions import Apply

TEXTS = ["The keys to the cabinet", "No teacher"]  # two lengths: padding in the batch
TOKEN = 7
LAST = "last"
# (site, [(example, position, index...), ...]): a residual site, a per-head view, the residual sum
# that no module outputs, MLP neurons; LAST is the example's last real token
COORDINATES = {
    "resid_post.0": [(0, 1, 3), (1, 0, 10), (0, 4, 63)],
    "z.1": [(0, LAST, 1, 5), (1, LAST, 3, 0)],  # the last layer reaches the logits at its own position only
    "resid_mid.0": [(0, 3, 7), (1, 1, 20)],
    "mlp_post.1": [(0, LAST, 11), (1, LAST, 100)],
}


# family -> (finite-difference step, relative tolerance). GPT-2 in float64 is float64 throughout;
# Llama's RMSNorm computes in float32 whatever the model's dtype: a larger step, a looser tolerance.
PRECISION = {"gpt2": (1e-4, 1e-6), "llama": (2e-2, 3e-4)}


@pytest.fixture(scope="module", params=list(PRECISION))
def hm(request):
    hm = interp.models.tiny(request.param)
    hm.model.double()
    return hm


def metric(hm, logits: torch.Tensor, batch) -> torch.Tensor:
    """Summed log-probability of token ``TOKEN`` at each example's last real token."""
    last = logits[torch.arange(batch.size), batch.last_index]
    return last.log_softmax(-1)[:, TOKEN].sum()


def shifted_metric(hm, site: str, coordinate: tuple, eps: float) -> float:
    def shift(act, ctx):
        act = act.clone()
        act[coordinate] += eps
        return act

    out = hm.run(TEXTS, interventions=[Apply(site, shift)])
    return float(metric(hm, out.logits, out.batch))


def finite_difference(hm, site: str, coordinate: tuple, step: float) -> float:
    """Central differences at ``step`` and ``step / 2``, Richardson-extrapolated (error O(step⁴))."""

    def central(h: float) -> float:
        return (shifted_metric(hm, site, coordinate, h) - shifted_metric(hm, site, coordinate, -h)) / (2 * h)

    return (4 * central(step / 2) - central(step)) / 3


@pytest.mark.parametrize("site", list(COORDINATES))
def test_gradients_at_sites_match_finite_differences(hm, site):
    out = hm.run(TEXTS, grad=True, cache=[site], cache_grad=True, grads=[site])
    value = metric(hm, out.logits, out.batch)
    (by_autograd,) = torch.autograd.grad(value, out.cache[site], retain_graph=True)
    value.backward()
    recorded = out.grads[site]
    assert recorded.shape == out.cache[site].shape
    torch.testing.assert_close(recorded, by_autograd, rtol=0, atol=0)
    step, rel = PRECISION[hm.config.model_type]
    for example, position, *rest in COORDINATES[site]:
        last = int(out.batch.last_index[example])
        coordinate = (example, last if position == LAST else position, *rest)
        finite = finite_difference(hm, site, coordinate, step)
        assert abs(finite) > 1e-5, f"{site}{coordinate}: a zero derivative would test nothing"
        assert recorded[coordinate].item() == pytest.approx(finite, rel=rel), f"{site}{coordinate}"


def test_padding_positions_get_no_gradient_from_the_last_token(hm):
    out = hm.run(TEXTS, grad=True, grads=["resid_post.1"])
    metric(hm, out.logits, out.batch).backward()
    short = 1  # "No teacher" is right-padded
    assert out.grads["resid_post.1"][short, out.batch.lengths[short]:].abs().max() == 0
    assert out.grads["resid_post.1"][short, : out.batch.lengths[short]].abs().max() > 0


def test_the_issue_example_requires_grad_and_the_model_is_untouched(tiny_hm):
    flags = [p.requires_grad for p in tiny_hm.model.parameters()]
    plain = tiny_hm.run("hi", cache=["resid_post.0", "z.1", "mlp_out.1"])
    out = tiny_hm.run("hi", cache=["resid_post.0", "z.1", "mlp_out.1"], grad=True, cache_grad=True)
    for site, activation in out.cache.items():
        assert activation.requires_grad, site
        torch.testing.assert_close(activation.detach(), plain.cache[site], rtol=0, atol=1e-6)
    torch.testing.assert_close(out.logits.detach(), plain.logits, rtol=0, atol=1e-6)
    grads = torch.autograd.grad(out.logits[0, -1].max(), list(out.cache.values()))
    assert all(g.abs().sum() > 0 for g in grads)
    assert [p.requires_grad for p in tiny_hm.model.parameters()] == flags
    assert all(p.grad is None for p in tiny_hm.model.parameters())


def test_pattern_gradients_flow_through_the_layer_input(hm):
    out = hm.run(TEXTS, grad=True, cache=["pattern.1"], cache_grad=True, grads=["pattern.1"])
    metric(hm, out.logits, out.batch).backward()
    gradient = out.grads["pattern.1"]
    assert gradient.shape == out.cache["pattern.1"].shape and gradient.abs().sum() > 0


def test_the_gradient_store_says_what_is_missing(hm):
    out = hm.run(TEXTS, grad=True, grads=["resid_post.0"])
    with pytest.raises(InputError, match=r"no gradient at 'resid_post.0' yet: call .backward\(\)"):
        out.grads["resid_post.0"]
    with pytest.raises(SiteError, match=r"'z.0' was not in this run's grads=\[...\]; it recorded: \['resid_post.0'\]"):
        out.grads["z.0"]
