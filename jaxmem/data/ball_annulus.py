"""The hard distribution of Yu et al. (NeurIPS 2024), Theorem 5.1 (Definition D.9, Lemma D.8).

D(n, q, r1, r2, r3): label +1 uniform on the ball B(q, r1), label -1 uniform on the annulus
B(q, r3) minus B(q, r2), with r2 = r1 2^{1/n}, r3 = r1 3^{1/n}, so that r3^n - r2^n = r1^n and
the two classes have equal mass under one common density (condition (c2)). The centre is
q = (1/2, ..., 1/2) and r1 = s <= 0.5 / 3^{1/n}, so that B(q, r3) fits in [0, 1]^n (c1). The
classes are separated by c = r2 - r1 = s (2^{1/n} - 1), so D is in D(n, c) (Definition 3.1).

Sampling (docs/papers/yu2024.md §5.B.1): a Gaussian (Box-Muller) direction times a radius whose n-th
power is uniform on [0, r1^n] (ball) or [r2^n, r3^n] (annulus). With r^n = r1^n (2 + U) the
annulus radius is r1 exp(log(2 + U) / n): no n-th powers, nothing under- or overflows at
n = 10^5.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jaxmem.data.synthetic import _float
from jaxmem.data.validate import positive_int


def _max_scale(n: int) -> float:
    return 0.5 / 3.0 ** (1.0 / n)


def _scale(n: int, scale) -> float:
    """r1 as a Python float in (0, 0.5 / 3^{1/n}] (the ball B(q, r3) must fit in the cube)."""
    top = _max_scale(n)
    if scale is None:
        return top
    if isinstance(scale, (bool, str, bytes)):
        raise ValueError(f"scale must be a real number in (0, {top!r}]; got {scale!r}")
    try:
        value = float(scale)
    except (TypeError, ValueError):  # a tracer, or an array of several values
        raise ValueError(
            f"scale must be a Python number (it is checked before compiling); got {scale!r}"
        ) from None
    if not math.isfinite(value) or not 0 < value <= top:
        raise ValueError(
            f"scale must be in (0, 0.5 / 3^(1/n)] = (0, {top!r}] for n = {n} so "
            f"that B(q, r3) fits in [0, 1]^n; got {scale!r}"
        )
    return value


def ball_annulus_radii(n: int, scale=None) -> tuple[float, float, float]:
    """(r1, r2, r3) = s (1, 2^{1/n}, 3^{1/n}), s = scale (default 0.5 / 3^{1/n})."""
    n = positive_int("n", n)
    r1 = _scale(n, scale)
    return r1, r1 * 2.0 ** (1.0 / n), r1 * 3.0 ** (1.0 / n)


def ball_annulus_separation(n: int, scale=None) -> float:
    """c = r2 - r1 = s (2^{1/n} - 1), the distance between the classes (Definition 3.1)."""
    n = positive_int("n", n)
    return _scale(n, scale) * math.expm1(math.log(2.0) / n)


def ball_annulus_density(n: int, scale=None) -> float:
    """D's density on its support: each class has mass 1/2 on volume V_n r1^n (the ball; the
    annulus has r3^n - r2^n = r1^n), so 1 / (2 V_n r1^n), V_n = pi^(n/2) / Gamma(n/2 + 1);
    computed in logs (V_n r1^n underflows for large n)."""
    n = positive_int("n", n)
    log_volume = (
        0.5 * n * math.log(math.pi) - math.lgamma(0.5 * n + 1) + n * math.log(_scale(n, scale))
    )
    return math.exp(-math.log(2.0) - log_volume)


def ball_annulus(key, N: int, n: int, *, scale=None, dtype=None):
    """N i.i.d. samples of D(n, q, r1, r2, r3): X of shape (N, n) in [0, 1]^n, y in {-1, +1}.

    y = +1 (P = 1/2): uniform on B(q, r1); y = -1: uniform on B(q, r3) \\ B(q, r2). N and n fix
    shapes (static under jit); vmaps over keys. float64 when jax_enable_x64 is on.
    """
    N, n = positive_int("N", N), positive_int("n", n)
    return _draw(key, N, n, _scale(n, scale), jnp.dtype(dtype or _float()))


# One compiled program per (N, n, r1, dtype) when called eagerly (op by op would compile each
# primitive); inlined when called inside a user's jit or vmap.
@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _draw(key, N: int, n: int, r1: float, dtype):
    # One uniform draw feeds everything (Box-Muller Gaussians, the label, the radius): a
    # single threefry call site, which keeps XLA's CPU compile time down inside big trials.
    half = (n + 1) // 2
    U = jax.random.uniform(key, (N, 2 * half + 2), dtype)
    y = jnp.where(U[:, -1] < 0.5, 1, -1).astype(dtype)  # P = 1/2 exactly (the top bit)
    r = jnp.sqrt(-2 * jnp.log1p(-U[:, :half]))  # U < 1: finite
    angle = 2 * jnp.pi * U[:, half : 2 * half]
    G = jnp.concatenate([r * jnp.cos(angle), r * jnp.sin(angle)], axis=1)[:, :n]
    norm = jnp.linalg.norm(G, axis=1, keepdims=True)
    # G = 0 has probability ~2^-24 per point in float32: any fixed unit vector keeps it finite.
    direction = jnp.where(norm > 0, G / jnp.where(norm > 0, norm, 1), jnp.eye(1, n, dtype=dtype))
    # (r / r1)^n is U on the ball and 2 + U on the annulus (r2^n = 2 r1^n, r3^n = 3 r1^n).
    radius = r1 * jnp.exp(jnp.log(jnp.where(y > 0, U[:, -2], 2 + U[:, -2])) / n)
    # The clip only moves points that rounding pushed past a face (r3 <= 1/2 exactly).
    X = jnp.clip(0.5 + radius[:, None] * direction, 0, 1)
    return X, y


__all__ = [
    "ball_annulus",
    "ball_annulus_density",
    "ball_annulus_radii",
    "ball_annulus_separation",
]
