"""Distributions of D(n, c) with known geometry (jaxmem/data/separated.py) and the S_D tools
(jaxmem/metrics/nearby.py)."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.data import separated
from jaxmem.metrics import nearby


@pytest.mark.slow
@pytest.mark.parametrize("n,side", [(2, 3), (3, 2), (1, 5)])
def test_checkerboard_support_alternates_and_is_separated(n, side):
    P, labels = separated.checkerboard_support(n, side)
    assert P.shape == (side ** n, n) and bool(separated.in_unit_cube(P))
    np.testing.assert_allclose(float(separated.separation(P, labels)), 1 / side, rtol=1e-12)
    # Lattice neighbours (distance exactly 1/side) always have opposite labels.
    d = np.sqrt(((np.asarray(P)[:, None] - np.asarray(P)[None]) ** 2).sum(-1))
    near = np.isclose(d, 1 / side)
    opposite = np.asarray(labels)[:, None] != np.asarray(labels)[None]
    assert near.any() and opposite[near].all()


def test_nearby_set_of_a_full_checkerboard_is_the_support():
    P, labels = separated.checkerboard_support(2, 4)
    X = jnp.concatenate([P, P[:5]])            # repeated points change nothing
    y = jnp.concatenate([labels, labels[:5]])
    cover = nearby.greedy_nearby_set(X, y)
    assert int(cover["size"]) == 16 == int(cover["lower_bound"])
    assert nearby.prop7_7_bound(2, 0.25) >= 16


def _optimal_cover(X, y):
    radii = np.asarray(nearby.nearby_radii(X, y))
    Xn = np.asarray(X)
    covers = ((Xn[None] - Xn[:, None]) ** 2).sum(-1) <= radii[:, None] ** 2 * (1 + 1e-9)
    for size in range(1, len(Xn) + 1):
        for subset in itertools.combinations(range(len(Xn)), size):
            if covers[list(subset)].any(0).all():
                return size


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_greedy_cover_brackets_the_optimum(seed):
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.random((9, 2)))
    y = jnp.asarray(np.where(rng.random(9) < 0.5, 1.0, -1.0)).at[:2].set(jnp.array([1.0, -1.0]))
    cover = nearby.greedy_nearby_set(X, y)
    best = _optimal_cover(X, y)
    assert int(cover["lower_bound"]) <= best <= int(cover["size"])
    assert int(cover["size"]) <= best * (math.log(9) + 1)


def test_prop7_7_and_sample_size_formulas():
    assert nearby.prop7_7_bound(2, 0.5) == 625          # example of docs/papers/yu2024.md §5.A.6
    assert nearby.prop7_7_bound(3, 1.0) == 19 ** 3
    for S, eps, delta in ((9, 0.2, 0.2), (25, 0.1, 0.05), (1, 0.5, 0.5)):
        N = nearby.theorem7_3_sample_size(S, eps, delta)
        target = S * math.log(S / delta) / eps
        assert N >= target > N - 1
    with pytest.raises(ValueError, match="c must be > 0"):
        nearby.prop7_7_bound(2, 0.0)
    with pytest.raises(ValueError, match="eps and delta"):
        nearby.theorem7_3_sample_size(4, 1.5, 0.1)
    with pytest.raises(ValueError, match="exceed 3"):
        nearby.greedy_nearby_set(jnp.zeros((2, 1)).at[1].set(1.0), jnp.array([1.0, -1.0]),
                                 constant=2.5)


@pytest.mark.slow
def test_clusters_and_slabs_stay_in_their_class():
    X, y = separated.gaussian_clusters(jax.random.key(0), 400, 3, 2)
    assert bool(separated.in_unit_cube(X))
    assert float(separated.separation(X, y)) >= 1 / 2 - 2 * 0.35 / 2 - 1e-12
    separated.check_in_class(X, y, 0.15)
    X, y = separated.slabs(jax.random.key(1), 2000, 4, gap=0.2)
    assert float(separated.separation(X, y)) >= 0.2 - 1e-12
    assert abs(float(jnp.mean(y > 0)) - 0.5) < 0.05      # 4.5 standard deviations
    assert bool(jnp.all(jnp.sign(X[:, 0] - 0.5) == y))


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="side must be >= 2"):
        separated.checkerboard_support(2, 1)
    with pytest.raises(ValueError, match="radius"):
        separated.gaussian_clusters(jax.random.key(0), 10, 2, 2, radius=0.3)
    with pytest.raises(ValueError, match="outside"):
        separated.check_in_class(jnp.array([[0.5], [1.5]]), jnp.array([1.0, -1.0]), 0.1)
    with pytest.raises(ValueError, match="rows 0 and 1"):
        separated.check_in_class(jnp.array([[0.5], [0.55]]), jnp.array([1.0, -1.0]), 0.1)
