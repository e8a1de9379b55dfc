"""Two-class datasets with a geometry the theorems talk about (separation delta, radius R,
covering numbers): two moons, two parallel lines, concentric spheres, Gaussian blobs.

Labels are +-1. The class labelled +1 is the one Dirksen, Finke, Genzel's second layer covers
(their X-); for two moons it is scikit-learn's class 1, the lower, shifted moon.

`make_moons` reproduces scikit-learn's `make_moons(n, noise=..., random_state=...)` bit for
bit (same NumPy RandomState calls in the same order), so the papers' moons are the same points
here; it runs on the host. The other generators are JAX functions of a key, vmappable like
`jaxmem.data.gaussian`. `normalize` rescales to max norm 1 (R = 1), as every experiment of
Dirksen et al. does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.synthetic import _float
from jaxmem.data.validate import is_traced, positive_int


def _check_range(name, value, low, high=float("inf"), *, low_open=False):
    """A clear error for a geometric parameter outside its range (before any tracing)."""
    if is_traced(value):
        return
    ok = (value > low if low_open else value >= low) and value < high
    if not ok:
        bound = f"({low}, {high})" if low_open else f"[{low}, {high})"
        raise ValueError(f"{name} must lie in {bound}; got {value!r}")


def normalize(X):
    """X / max_i ||x_i||_2, so the data lie in the unit ball with a point on its boundary."""
    return X / jnp.max(jnp.linalg.norm(X, axis=-1))


def make_moons(
    n: int, noise: float | None = 0.05, random_state: int = 0, *, normalized: bool = True
):
    """scikit-learn's two moons, bit for bit (sklearn.datasets.make_moons with shuffle=True):
    n // 2 points on the upper moon (class 0 -> label -1), the rest on the lower one (class 1
    -> label +1), shuffled with RandomState(random_state).shuffle, then Gaussian noise of scale
    `noise` from the same generator. Returns NumPy float64 arrays (X, y)."""
    n = positive_int("n", n)
    if noise is not None:
        _check_range("noise", noise, 0)
    n_out, n_in = n // 2, n - n // 2
    generator = np.random.RandomState(random_state)
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack(
        [
            np.append(np.cos(outer), 1 - np.cos(inner)),
            np.append(np.sin(outer), 1 - np.sin(inner) - 0.5),
        ]
    ).T
    labels = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n)
    generator.shuffle(order)
    X, labels = X[order], labels[order]
    if noise is not None:
        X += generator.normal(scale=noise, size=X.shape)
    if normalized:
        X = X / np.max(np.linalg.norm(X, axis=1))
    return X, np.where(labels == 1, 1.0, -1.0)


def moons(key, n: int, noise: float = 0.05, *, dtype=None):
    """Two moons as a JAX function of a key, vmappable: make_moons' geometry with JAX's noise,
    unshuffled (the first n // 2 points are the upper moon, -1; the rest the lower one, +1),
    normalized to max norm 1. Statistically, not bitwise, the same as make_moons."""
    n = positive_int("n", n)
    _check_range("noise", noise, 0)
    dtype = dtype or _float()
    n_out, n_in = n // 2, n - n // 2
    outer = jnp.linspace(0, jnp.pi, n_out, dtype=dtype)
    inner = jnp.linspace(0, jnp.pi, n_in, dtype=dtype)
    X = jnp.stack(
        [
            jnp.concatenate([jnp.cos(outer), 1 - jnp.cos(inner)]),
            jnp.concatenate([jnp.sin(outer), 1 - jnp.sin(inner) - 0.5]),
        ],
        axis=1,
    )
    X = X + noise * jax.random.normal(key, X.shape, dtype)
    y = jnp.concatenate([-jnp.ones(n_out, dtype), jnp.ones(n_in, dtype)])
    return normalize(X), y


def parallel_lines(n: int, gap: float = 0.1, *, dtype=None):
    """Worst case (docs/papers/genzel2023.md §4.6): n // 2 points evenly spaced on [-1, 1] at height
    -gap/2 (label +1) and the rest at +gap/2 (label -1). Separation delta = gap; with n = 20 the
    in-line spacing 0.22 exceeds 2 delta, so no ball around one point reaches another."""
    n = positive_int("n", n)
    _check_range("gap", gap, 0, low_open=True)
    dtype = dtype or _float()
    n_low, n_high = n - n // 2, n // 2
    xs = jnp.concatenate(
        [jnp.linspace(-1, 1, n_low, dtype=dtype), jnp.linspace(-1, 1, n_high, dtype=dtype)]
    )
    heights = jnp.concatenate([jnp.full(n_low, -gap / 2, dtype), jnp.full(n_high, gap / 2, dtype)])
    y = jnp.concatenate([jnp.ones(n_low, dtype), -jnp.ones(n_high, dtype)])
    return jnp.stack([xs, heights], axis=1), y


def concentric_spheres(key, n: int, d: int, gap: float = 0.2, *, dtype=None):
    """n // 2 points uniform on the sphere of radius 1 - gap (label +1) and the rest on the unit
    sphere (label -1): separation delta = gap, radius R = 1."""
    n, d = positive_int("n", n), positive_int("d", d)
    _check_range("gap", gap, 0, 1, low_open=True)
    dtype = dtype or _float()
    G = jax.random.normal(key, (n, d), dtype)
    U = G / jnp.linalg.norm(G, axis=1, keepdims=True)
    inner = jnp.arange(n) < n - n // 2
    X = U * jnp.where(inner, 1 - gap, 1.0)[:, None]
    return X, jnp.where(inner, 1.0, -1.0).astype(dtype)


def gaussian_blobs(key, n: int, d: int, distance: float = 1.0, std: float = 0.1, *, dtype=None):
    """Two Gaussian blobs N(+-distance/2 e_1, std^2 I) (n - n // 2 points labelled +1 around
    -distance/2 e_1, the rest -1), normalized to max norm 1."""
    n, d = positive_int("n", n), positive_int("d", d)
    _check_range("distance", distance, 0)
    _check_range("std", std, 0)
    dtype = dtype or _float()
    first = jnp.arange(n) < n - n // 2
    centers = (
        jnp.where(first, -distance / 2, distance / 2)[:, None]
        * (jnp.arange(d) == 0).astype(dtype)[None, :]
    )
    X = centers + std * jax.random.normal(key, (n, d), dtype)
    return normalize(X), jnp.where(first, 1.0, -1.0).astype(dtype)
