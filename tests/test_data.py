"""Synthetic generators: shapes, dtypes, supports, determinism in the key, vmap/jit, argument
checks, and first moments within standard errors derived from the sample size."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.data import GENERATORS, LABELS, cube, gaussian, random_labels, sphere

jax.config.update("jax_enable_x64", True)

GENS = sorted(GENERATORS)
EPS64 = float(np.finfo(np.float64).eps)


@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize("gen", GENS)
def test_shapes_and_dtypes(gen, labels):
    X, y = GENERATORS[gen](jax.random.key(0), 17, 4, labels)
    assert X.shape == (17, 4) and y.shape == (17,)
    assert X.dtype == jnp.float64 and y.dtype == jnp.float64  # x64 is on
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))


@pytest.mark.parametrize("gen", GENS)
def test_dtype_argument_is_honoured(gen):
    X, y = GENERATORS[gen](jax.random.key(0), 5, 3, dtype=jnp.float32)
    assert X.dtype == jnp.float32 and y.dtype == jnp.float32
    X, y = GENERATORS[gen](jax.random.key(0), 5, 3, dtype=np.dtype("float32"))
    assert X.dtype == jnp.float32 and y.dtype == jnp.float32


@pytest.mark.parametrize("d", [1, 2, 9])
def test_sphere_rows_have_unit_norm(d):
    X, _ = sphere(jax.random.key(1), 300, d)
    norms = np.linalg.norm(np.asarray(X), axis=1)
    assert np.max(np.abs(norms - 1)) <= 1e-12


def test_cube_is_in_half_open_unit_interval():
    X, _ = cube(jax.random.key(2), 500, 6)
    X = np.asarray(X)
    assert X.min() >= 0 and X.max() < 1
    # and it is spread over the cube, not collapsed near a corner
    assert X.min() < 0.01 and X.max() > 0.99


@pytest.mark.parametrize("gen", GENS)
def test_sign_labels_are_exactly_pm1_and_both_occur(gen):
    _, y = GENERATORS[gen](jax.random.key(3), 200, 2, "sign")
    y = np.asarray(y)
    assert set(np.unique(y).tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("gen", GENS)
def test_gaussian_labels_are_real_valued(gen):
    _, y = GENERATORS[gen](jax.random.key(3), 200, 2, "gaussian")
    y = np.asarray(y)
    assert len(np.unique(y)) == 200  # continuous: no ties, not +-1
    assert (y < 0).any() and (y > 0).any()


@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize("gen", GENS)
def test_same_key_same_data_different_key_different_data(gen, labels):
    g = GENERATORS[gen]
    X1, y1 = g(jax.random.key(4), 40, 3, labels)
    X2, y2 = g(jax.random.key(4), 40, 3, labels)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    X3, y3 = g(jax.random.key(5), 40, 3, labels)
    # Continuous coordinates: two independent draws share (almost) no entry.
    assert np.mean(np.asarray(X1) == np.asarray(X3)) < 0.01
    assert not np.array_equal(y1, y3)


@pytest.mark.parametrize("gen", GENS)
def test_points_do_not_depend_on_the_label_kind(gen):
    g = GENERATORS[gen]
    X_sign, _ = g(jax.random.key(6), 30, 4, "sign")
    X_gauss, _ = g(jax.random.key(6), 30, 4, "gaussian")
    assert np.array_equal(X_sign, X_gauss)


@pytest.mark.slow
@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize("gen", GENS)
def test_vmap_over_keys_equals_per_key_bitwise(gen, labels):
    g = GENERATORS[gen]
    keys = jax.random.split(jax.random.key(7), 6)
    Xb, yb = jax.vmap(lambda k: g(k, 25, 5, labels))(keys)
    assert Xb.shape == (6, 25, 5) and yb.shape == (6, 25)
    for i in range(len(keys)):
        Xi, yi = g(keys[i], 25, 5, labels)
        assert np.array_equal(Xb[i], Xi), f"dataset {i}"
        assert np.array_equal(yb[i], yi), f"dataset {i}"
    # and the datasets of the batch are distinct
    assert not np.array_equal(Xb[0], Xb[1])


@pytest.mark.slow
@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize("gen", GENS)
def test_jit_works_and_agrees_with_eager(gen, labels):
    g = GENERATORS[gen]
    jg = jax.jit(g, static_argnums=(1, 2), static_argnames=("labels",))
    X, y = jg(jax.random.key(8), 25, 5, labels=labels)
    Xe, ye = g(jax.random.key(8), 25, 5, labels)
    assert X.shape == Xe.shape and X.dtype == Xe.dtype
    # Same random bits; a compiled graph may round the arithmetic after them (a scale, a
    # norm) differently, by a few units in the last place at most.
    np.testing.assert_allclose(X, Xe, rtol=8 * EPS64, atol=0)
    np.testing.assert_allclose(y, ye, rtol=8 * EPS64, atol=0)
    if labels == "sign":
        assert np.array_equal(y, ye)


@pytest.mark.parametrize("gen", GENS)
@pytest.mark.parametrize("n,d,pattern", [
    (0, 3, r"n must be a positive int.*got 0"),
    (-4, 3, r"n must be a positive int.*got -4"),
    (2.5, 3, r"n must be a positive int.*got 2\.5"),
    (5, -1, r"d must be a positive int.*got -1"),
    (5, 0, r"d must be a positive int.*got 0"),
    (5, 3.0, r"d must be a positive int.*got 3\.0"),
])
def test_bad_sizes_are_rejected(gen, n, d, pattern):
    with pytest.raises(ValueError, match=pattern):
        GENERATORS[gen](jax.random.key(0), n, d)


@pytest.mark.parametrize("gen", GENS)
def test_unknown_labels_are_rejected(gen):
    with pytest.raises(ValueError, match=r"unknown labels 'binary'; expected one of \('sign', 'gaussian'\)"):
        GENERATORS[gen](jax.random.key(0), 5, 3, "binary")
    with pytest.raises(ValueError, match=r"unknown labels 'rademacher'"):
        random_labels(jax.random.key(0), 5, "rademacher")


# ---- statistics: tolerances are 5 standard errors of the sample mean ------------------------

Z = 5.0


def test_gaussian_coordinates_have_mean_zero_and_variance_one_over_d():
    n, d = 2000, 10
    X = np.asarray(gaussian(jax.random.key(11), n, d)[0])
    N = X.size  # 20000 entries, each N(0, 1/d)
    assert abs(X.mean()) <= Z * math.sqrt(1 / d / N)
    # E||x||^2 = 1: ||x||^2 = chi^2_d / d has variance 2 / d; mean over n rows.
    sq = np.sum(X**2, axis=1)
    assert abs(sq.mean() - 1) <= Z * math.sqrt(2 / d / n)


def test_sphere_coordinates_are_centred_with_second_moment_one_over_d():
    n, d = 2000, 10
    X = np.asarray(sphere(jax.random.key(12), n, d)[0])
    # Each coordinate has mean 0 and variance 1/d (by symmetry and ||x|| = 1).
    assert abs(X.mean()) <= Z * math.sqrt(1 / d / X.size)
    # x_1^2 ~ Beta(1/2, (d-1)/2): mean 1/d, variance 2(d-1)/(d^2 (d+2)).
    var_sq = 2 * (d - 1) / (d**2 * (d + 2))
    assert abs(np.mean(X[:, 0] ** 2) - 1 / d) <= Z * math.sqrt(var_sq / n)


def test_cube_coordinates_are_uniform_moments():
    n, d = 2000, 10
    X = np.asarray(cube(jax.random.key(13), n, d)[0])
    assert abs(X.mean() - 0.5) <= Z * math.sqrt(1 / 12 / X.size)
    # E[x^2] = 1/3, Var[x^2] = 1/5 - 1/9 = 4/45
    assert abs(np.mean(X**2) - 1 / 3) <= Z * math.sqrt(4 / 45 / X.size)


@pytest.mark.parametrize("labels,mean,var", [("sign", 0.0, 1.0), ("gaussian", 0.0, 1.0)])
def test_label_moments(labels, mean, var):
    n = 20000
    y = np.asarray(random_labels(jax.random.key(14), n, labels))
    assert abs(y.mean() - mean) <= Z * math.sqrt(var / n)
    # second moment 1 for both; Var[y^2] is 0 for signs and 2 for N(0, 1)
    if labels == "sign":
        assert np.all(y**2 == 1)
    else:
        assert abs(np.mean(y**2) - 1) <= Z * math.sqrt(2 / n)
