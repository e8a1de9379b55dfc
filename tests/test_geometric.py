"""Geometric two-class datasets: sklearn's moons bit for bit, separations and radii as stated."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import data


def min_cross_distance(X, y):
    X, y = np.asarray(X), np.asarray(y)
    A, B = X[y > 0], X[y < 0]
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)).min()


@pytest.mark.parametrize("n, noise, seed", [(1000, 0.05, 0), (101, 0.2, 7), (10, None, 3)])
def test_make_moons_is_sklearns(n, noise, seed):
    datasets = pytest.importorskip("sklearn.datasets")
    X_ref, labels = datasets.make_moons(n, noise=noise, random_state=seed)
    X, y = data.make_moons(n, noise=noise, random_state=seed, normalized=False)
    assert np.array_equal(X, X_ref)                      # bit for bit
    assert np.array_equal(y, np.where(labels == 1, 1.0, -1.0))
    Xn, _ = data.make_moons(n, noise=noise, random_state=seed)
    assert np.isclose(np.linalg.norm(Xn, axis=1).max(), 1.0)


def test_moons_jax_version_shapes_and_classes():
    X, y = jax.jit(jax.vmap(lambda k: data.moons(k, 200)))(jax.random.split(jax.random.key(0), 3))
    assert X.shape == (3, 200, 2) and np.allclose(jnp.linalg.norm(X, axis=-1).max(-1), 1.0)
    assert int((y[0] > 0).sum()) == 100
    # Noise-free moons are separated (the gap between the arcs is 0.5 before normalizing).
    X0, y0 = data.moons(jax.random.key(0), 200, noise=0.0)
    assert min_cross_distance(X0, y0) > 0.1


def test_parallel_lines_separation_is_the_gap():
    X, y = data.parallel_lines(20, gap=0.1)
    assert X.shape == (20, 2) and int((y > 0).sum()) == 10
    assert np.isclose(min_cross_distance(X, y), 0.1)
    assert np.allclose(np.diff(np.sort(np.asarray(X[y > 0, 0]))), 2 / 9)


def test_concentric_spheres_radii_and_separation():
    X, y = data.concentric_spheres(jax.random.key(1), 300, 3, gap=0.25)
    norms = np.linalg.norm(np.asarray(X), axis=1)
    assert np.allclose(norms[np.asarray(y) > 0], 0.75) and np.allclose(norms[np.asarray(y) < 0], 1)
    assert min_cross_distance(X, y) >= 0.25 - 1e-12


@pytest.mark.slow
def test_gaussian_blobs_normalized_and_split():
    X, y = data.gaussian_blobs(jax.random.key(2), 101, 4, distance=2.0, std=0.05)
    assert np.isclose(np.linalg.norm(np.asarray(X), axis=1).max(), 1.0)
    assert int((y > 0).sum()) == 51
    # Well separated blobs: the +1 blob sits at negative first coordinates.
    assert np.all(np.asarray(X[y > 0, 0]) < 0) and np.all(np.asarray(X[y < 0, 0]) > 0)


@pytest.mark.parametrize("call, message", [
    (lambda: data.make_moons(10, noise=-0.1), "noise must lie in"),
    (lambda: data.moons(jax.random.key(0), 10, noise=-1.0), "noise must lie in"),
    (lambda: data.parallel_lines(10, gap=0.0), r"gap must lie in \(0"),
    (lambda: data.concentric_spheres(jax.random.key(0), 10, 2, gap=1.0), r"gap must lie in \(0, 1\)"),
    (lambda: data.gaussian_blobs(jax.random.key(0), 10, 2, std=-1.0), "std must lie in"),
    (lambda: data.make_moons(0), "n must be a positive int"),
])
def test_bad_parameters_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
