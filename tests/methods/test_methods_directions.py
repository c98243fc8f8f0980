"""Direction methods on synthetic data: two Gaussian clouds separated along a known direction."""

from __future__ import annotations

import pytest
import torch

from interp.errors import InputError
from interp.methods import METHODS, find_direction, random_direction, stack_sides

D = 16


def clouds(n: int = 200, seed: int = 0, gap: float = 4.0, noise_axis_scale: float = 1.0):
    """Base (type "a") and source (type "b") activations: equal clouds, shifted by ``gap · true``."""
    g = torch.Generator().manual_seed(seed)
    true = torch.nn.functional.normalize(torch.randn(D, generator=g), dim=0)
    scale = torch.full((D,), 0.3)
    base = torch.randn(n, D, generator=g) * scale
    source = torch.randn(n, D, generator=g) * scale + gap * true
    return base, source, true


@pytest.mark.parametrize("method", ["probe", "mean", "lda", "pca", "kmeans"])
def test_recovers_the_separating_direction(method):
    base, source, true = clouds()
    direction = find_direction(method, base, source, ["a"] * len(base), ["b"] * len(source), seed=0)
    assert direction.shape == (D,)
    assert direction.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.dot(direction, true).item() > 0.9  # oriented toward type "b" (the second in sorted order)


def test_lda_and_probe_see_through_correlated_noise_that_fools_mean():
    """A large shared-noise axis correlated with the gap: the mean difference tilts, LDA does not."""
    g = torch.Generator().manual_seed(1)
    n = 400
    noise = torch.randn(2 * n, generator=g)[:, None] * torch.tensor([3.0, 3.0])  # strong noise along (1, 1)
    acts = torch.randn(2 * n, 2, generator=g) * 0.05 + noise
    acts[n:, 0] += 1.0  # the types differ along x only... plus noise along the diagonal
    base, source = acts[:n], acts[n:]
    lda = find_direction("lda", base, source, [0] * n, [1] * n)
    # the discriminant is orthogonal to the noise axis (1, 1): it points along (1, -1)
    assert abs(float(lda @ torch.tensor([1.0, 1.0]) / 2 ** 0.5)) < 0.1


def test_random_is_a_seeded_unit_vector():
    a, b, c = random_direction(D, seed=3), random_direction(D, seed=3), random_direction(D, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.norm().item() == pytest.approx(1.0, abs=1e-6)
    base, source, _ = clouds(20)
    assert torch.equal(find_direction("random", base, source, [0] * 20, seed=3), a)


def test_vanilla_has_no_direction_and_das_points_elsewhere():
    base, source, _ = clouds(10)
    assert find_direction("vanilla", base, source, [0] * 10) is None
    with pytest.raises(InputError, match="train_das"):
        find_direction("das", base, source, [0] * 10)
    with pytest.raises(InputError, match="unknown method 'pcaa'"):
        find_direction("pcaa", base, source, [0] * 10)
    assert set(METHODS) == {"das", "probe", "mean", "pca", "kmeans", "lda", "random", "vanilla"}


def test_source_types_default_to_the_other_type_and_errors_are_clear():
    base, source, _ = clouds(4)
    _, labels = stack_sides(base, source, ["sg", "pl", "sg", "pl"])
    assert labels == ["sg", "pl", "sg", "pl", "pl", "sg", "pl", "sg"]
    _, labels = stack_sides(base, source, [0, 0, 0, 0])
    assert labels[4:] == [1, 1, 1, 1]
    with pytest.raises(InputError, match="two types"):
        find_direction("mean", base, source, ["a"] * 4, ["a"] * 4)
    with pytest.raises(InputError, match=r"\[n, d\]"):
        find_direction("mean", base[0], source[0], ["a"])
    with pytest.raises(InputError, match="no direction"):
        find_direction("mean", base, base, ["a"] * 4, ["b"] * 4)
