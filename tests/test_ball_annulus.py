"""The hard distribution of Yu et al. (2024), Theorem 5.1: radii, class balance, the radial and
directional laws, the cube, and jit/vmap over keys."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxmem.data.ball_annulus import ball_annulus, ball_annulus_radii, ball_annulus_separation

P_MIN = 1e-6   # deterministic keys; a p-value below this means a wrong law, not bad luck


def test_radii_and_separation():
    for n in (1, 2, 10, 784, 10 ** 5):
        r1, r2, r3 = ball_annulus_radii(n)
        assert r3 == pytest.approx(0.5, rel=1e-15)                 # B(q, r3) touches the faces
        assert r1 == 0.5 / 3 ** (1 / n) and r1 < r2 < r3
        assert r3 ** n - r2 ** n == pytest.approx(r1 ** n, rel=1e-9)   # equal class mass (c2)
        c = ball_annulus_separation(n)
        assert c == pytest.approx(r2 - r1, rel=1e-9) and c > 0
    assert ball_annulus_separation(10 ** 5) == pytest.approx(0.5 * math.log(2) / 10 ** 5, rel=1e-4)
    r1, r2, r3 = ball_annulus_radii(4, scale=0.1)
    assert (r1, r2, r3) == (0.1, 0.1 * 2 ** 0.25, 0.1 * 3 ** 0.25)


@pytest.mark.parametrize("kwargs, match", [
    (dict(N=0, n=3), "N must be a positive int"), (dict(N=3, n=2.5), "n must be a positive int"),
    (dict(N=True, n=3), "N must be"), (dict(N=3, n=3, scale=0.0), "scale must be in"),
    (dict(N=3, n=3, scale=0.45), "scale must be in"), (dict(N=3, n=3, scale=math.nan), "scale"),
    (dict(N=3, n=3, scale="0.1"), "scale must be a real number")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ball_annulus(jax.random.key(0), **kwargs)
    if "scale" in kwargs:
        with pytest.raises(ValueError, match="scale"):
            ball_annulus_radii(kwargs["n"], kwargs["scale"])


def test_laws_balance_radii_and_directions():
    n, N = 5, 20000
    X, y = ball_annulus(jax.random.key(0), N, n)
    X, y = np.asarray(X), np.asarray(y)
    assert X.dtype == np.float64 and X.shape == (N, n) and set(np.unique(y)) == {-1.0, 1.0}
    assert np.all((X >= 0) & (X <= 1))
    # Class balance: P(y = 1) = 1/2 exactly, an exact binomial test.
    assert stats.binomtest(int((y > 0).sum()), N, 0.5).pvalue > P_MIN
    r1, r2, r3 = ball_annulus_radii(n)
    r = np.linalg.norm(X - 0.5, axis=1)
    ball, ann = r[y > 0], r[y < 0]
    assert ball.max() <= r1 * (1 + 1e-12) and ann.min() >= r2 * (1 - 1e-12)
    assert ann.max() <= r3 * (1 + 1e-12)
    # Uniform in volume: (r/r1)^n ~ U[0, 1] on the ball and U[2, 3] on the annulus.
    assert stats.kstest((ball / r1) ** n, "uniform").pvalue > P_MIN
    assert stats.kstest((ann / r1) ** n - 2, "uniform").pvalue > P_MIN
    # Uniform directions: (u_1 + 1)/2 ~ Beta((n-1)/2, (n-1)/2) for u uniform on S^{n-1}.
    u = (X[:, 0] - 0.5) / r
    assert stats.kstest((u + 1) / 2, stats.beta((n - 1) / 2, (n - 1) / 2).cdf).pvalue > P_MIN


@pytest.mark.slow
def test_large_dimension_jit_vmap_and_determinism():
    n = 10 ** 5
    f = jax.jit(jax.vmap(lambda k: ball_annulus(k, 6, n)))
    keys = jax.random.split(jax.random.key(1), 3)
    X, y = f(keys)
    assert X.shape == (3, 6, n) and y.shape == (3, 6) and bool(jnp.all(jnp.isfinite(X)))
    r1, r2, r3 = ball_annulus_radii(n)
    rel = np.asarray(jnp.linalg.norm(X - 0.5, axis=-1)) / r1
    y = np.asarray(y)
    assert np.all(rel[y > 0] <= 1 + 1e-9)
    assert np.all((rel[y < 0] >= 2 ** (1 / n) - 1e-9) & (rel[y < 0] <= 3 ** (1 / n) + 1e-9))
    X0, y0 = ball_annulus(keys[0], 6, n)                       # eager == jit(vmap)
    np.testing.assert_allclose(X0, X[0], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(y0, y[0])
    assert not np.array_equal(np.asarray(X[0]), np.asarray(X[1]))


def test_float32_and_a_small_scale():
    X, y = ball_annulus(jax.random.key(2), 2000, 3, scale=0.1, dtype=jnp.float32)
    assert X.dtype == jnp.float32 and y.dtype == jnp.float32
    r = np.linalg.norm(np.asarray(X, np.float64) - 0.5, axis=1)
    r1, r2, r3 = ball_annulus_radii(3, 0.1)
    assert r[np.asarray(y) > 0].max() <= r1 + 1e-6 and r[np.asarray(y) < 0].min() >= r2 - 1e-6
    assert r.max() <= r3 + 1e-6 and np.all(np.isfinite(np.asarray(X)))
