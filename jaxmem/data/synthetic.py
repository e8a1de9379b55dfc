"""Synthetic datasets: `(key, n, d, ...) -> (X, y)`, pure and vmappable over keys.

n and d fix shapes, so they are Python ints (static under jit). The labels come from a
separate subkey, so the same key gives the same points whatever the labels.

labels:
  "sign"     random +-1 (Rademacher), the binary task;
  "gaussian" real labels y ~ N(0, 1), the regression task.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmem.data.validate import positive_int

LABELS = ("sign", "gaussian")


def _check(n, d, labels):
    # n and d fix shapes: Python ints (numpy ints accepted), no tracers.
    n, d = positive_int("n", n), positive_int("d", d)
    if labels not in LABELS:
        raise ValueError(f"unknown labels {labels!r}; expected one of {LABELS}")
    return n, d


def _float():
    return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32


def random_labels(key, n: int, labels: str = "sign", dtype=None) -> jax.Array:
    """n labels: Rademacher +-1 ("sign") or standard normal ("gaussian")."""
    dtype = dtype or _float()
    if labels == "sign":
        # rademacher, not choice: choice gathers, which fails under an Explicit mesh
        # (docs/jax-notes.md §2.5).
        return jax.random.rademacher(key, (n,), dtype=jnp.int32).astype(dtype)
    if labels == "gaussian":
        return jax.random.normal(key, (n,), dtype)
    raise ValueError(f"unknown labels {labels!r}; expected one of {LABELS}")


def _dataset(key, n, d, labels, dtype, draw_points):
    """Points from draw_points(key, (n, d), dtype), labels from an independent subkey."""
    n, d = _check(n, d, labels)
    dtype = dtype or _float()
    kx, ky = jax.random.split(key)
    return draw_points(kx, (n, d), dtype), random_labels(ky, n, labels, dtype)


def _scaled_normal(key, shape, dtype):
    return jax.random.normal(key, shape, dtype) / jnp.sqrt(jnp.asarray(shape[1], dtype))


def _unit_rows(key, shape, dtype):
    G = jax.random.normal(key, shape, dtype)
    return G / jnp.linalg.norm(G, axis=1, keepdims=True)


def gaussian(key, n: int, d: int, labels: str = "sign", dtype=None):
    """x_i ~ N(0, I_d / d) (so E||x||^2 = 1), labels as above."""
    return _dataset(key, n, d, labels, dtype, _scaled_normal)


def sphere(key, n: int, d: int, labels: str = "sign", dtype=None):
    """x_i uniform on the unit sphere S^{d-1} (normalized Gaussians)."""
    return _dataset(key, n, d, labels, dtype, _unit_rows)


def cube(key, n: int, d: int, labels: str = "sign", dtype=None):
    """x_i uniform in [0, 1]^d."""
    return _dataset(key, n, d, labels, dtype, jax.random.uniform)


GENERATORS = {"gaussian": gaussian, "sphere": sphere, "cube": cube}
