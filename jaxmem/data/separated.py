"""Distributions of Yu et al.'s class D(n, c) (NeurIPS 2024, Definition 3.1): supported in
[0, 1]^n, with opposite labels at distance >= c, and with a geometry that is known, so that
their nearby-set size S_D (Definition 7.1) is known or boundable.

  checkerboard       a lattice of side^n cell centres, labels alternating like a chessboard.
                     Each point's nearest opposite point is a lattice neighbour at 1/side, so
                     the nearby ball of radius (1/side)/3.1 holds its centre alone: S_D = side^n.
  gaussian_clusters  Gaussian clusters truncated to balls around fixed centres with
                     alternating labels: c = the closest opposite centres' distance - 2 radius.
  slabs              uniform on two slabs of the cube either side of a gap (a density bound,
                     for Theorem 5.3).
  separation         the exact separation bound of a sample (min opposite-label distance).

Every sampler is `(key, N, ...) -> (X, y)`, pure and vmappable with static sizes.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.synthetic import _float
from jaxmem.data.validate import positive_int, validate

__all__ = [
    "check_in_class",
    "checkerboard",
    "checkerboard_indices",
    "checkerboard_support",
    "cluster_centres",
    "gaussian_clusters",
    "in_unit_cube",
    "separation",
    "slabs",
]


def checkerboard_support(n: int, side: int, dtype=None):
    """(P, labels): the side^n centres (k + 1/2)/side, k in {0..side-1}^n, of the lattice
    cells of [0, 1]^n, labelled (-1)^(k_1 + ... + k_n), so lattice neighbours (distance
    1/side, the minimum) have opposite labels. The separation is c = 1/side."""
    n, side = positive_int("n", n), positive_int("side", side)
    if side < 2:
        raise ValueError(f"side must be >= 2 so that both labels occur; got {side}")
    if side**n > 2**20:
        raise ValueError(f"side^n = {side}^{n} support points is too many (limit 2^20)")
    k = np.array(list(itertools.product(range(side), repeat=n)), dtype=np.int64)
    dtype = dtype or _float()
    P = jnp.asarray((k + 0.5) / side, dtype)
    labels = jnp.asarray(np.where(k.sum(1) % 2 == 0, 1.0, -1.0), dtype)
    return P, labels


def checkerboard_indices(key, N: int, support_size: int, weights=None):
    """N i.i.d. indices into the support, uniform or with the given probabilities."""
    N, support_size = positive_int("N", N), positive_int("support_size", support_size)
    if weights is None:
        return jax.random.randint(key, (N,), 0, support_size)
    return jax.random.choice(key, support_size, (N,), p=jnp.asarray(weights))


def checkerboard(key, N: int, n: int, side: int, dtype=None):
    """N i.i.d. samples of the uniform distribution on `checkerboard_support(n, side)`."""
    P, labels = checkerboard_support(n, side, dtype)
    idx = checkerboard_indices(key, N, P.shape[0])
    return P[idx], labels[idx]


def cluster_centres(n: int, per_axis: int, dtype=None):
    """A lattice of per_axis^n cluster centres in [0, 1]^n with checkerboard labels (the
    centres of `checkerboard_support`)."""
    return checkerboard_support(n, per_axis, dtype)


def gaussian_clusters(
    key,
    N: int,
    n: int,
    per_axis: int = 2,
    *,
    sigma: float = 0.05,
    radius: float | None = None,
    dtype=None,
):
    """N samples: a uniformly chosen centre of `cluster_centres(n, per_axis)` plus a
    Gaussian N(0, sigma^2 I) offset truncated to the ball of `radius` (default: 0.35 / per_axis,
    so clusters of opposite labels stay 1/per_axis - 2 radius = 0.3/per_axis apart).

    Truncation is exact, not clipping: the offset's direction is uniform and its length is
    sigma * chi_n conditioned on <= radius, drawn by rejection from 16 proposals per point;
    a point whose 16 proposals all fall outside (probability < 0.5^16 whenever
    P(||offset|| <= radius) >= 1/2) keeps the shortest one scaled onto the ball."""
    N, n, per_axis = positive_int("N", N), positive_int("n", n), positive_int("per_axis", per_axis)
    radius = 0.35 / per_axis if radius is None else radius
    if not 0 < radius < 0.5 / per_axis:
        raise ValueError(
            f"radius must lie in (0, 0.5/per_axis = {0.5 / per_axis}) so that the "
            f"clusters stay in [0, 1]^n and apart; got {radius}"
        )
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    P, labels = cluster_centres(n, per_axis, dtype)
    k_idx, k_off = jax.random.split(key)
    idx = jax.random.randint(k_idx, (N,), 0, P.shape[0])
    offsets = sigma * jax.random.normal(k_off, (16, N, n), P.dtype)
    norms = jnp.linalg.norm(offsets, axis=-1)
    inside = norms <= radius
    first = jnp.argmax(inside, axis=0)
    shortest = jnp.argmin(norms, axis=0)
    pick = jnp.where(jnp.any(inside, axis=0), first, shortest)
    chosen = jnp.take_along_axis(offsets, pick[None, :, None], axis=0)[0]
    length = jnp.take_along_axis(norms, pick[None, :], axis=0)[0]
    chosen = chosen * jnp.minimum(1, radius / jnp.maximum(length, 1e-300))[:, None]
    return P[idx] + chosen, labels[idx]


def separation(X, y) -> jax.Array:
    """min ||x_i - x_j|| over pairs with y_i != y_j (the c of D(n, c) measured on a sample),
    from explicit differences (not a Gram matrix, which loses digits for close points)."""
    X = jnp.asarray(X)
    y = jnp.asarray(y)
    diff = X[:, None, :] - X[None, :, :]
    sq = jnp.sum(diff * diff, axis=-1)
    return jnp.sqrt(jnp.min(jnp.where(y[:, None] != y[None, :], sq, jnp.inf)))


def in_unit_cube(X) -> jax.Array:
    """Whether every point lies in [0, 1]^n (D(n) of Definition 3.1)."""
    X = jnp.asarray(X)
    return jnp.all((X >= 0) & (X <= 1))


def check_in_class(X, y, c: float) -> None:
    """Raises ValueError unless the sample lies in [0, 1]^n with separation >= c (host side;
    names the offending row or pair)."""
    validate(X, y, task="binary", allow_duplicates=True)
    Xn, yn = np.asarray(X), np.asarray(y)
    out = np.flatnonzero(((Xn < 0) | (Xn > 1)).any(1))
    if out.size:
        raise ValueError(
            f"rows {out[:5].tolist()} lie outside [0, 1]^n (row {out[0]} is "
            f"{Xn[out[0]].tolist()[:6]}...)"
        )
    d = np.sqrt(((Xn[:, None] - Xn[None]) ** 2).sum(-1))
    d[yn[:, None] == yn[None]] = np.inf
    i, j = np.unravel_index(np.argmin(d), d.shape)
    if d[i, j] < c:
        raise ValueError(
            f"rows {min(i, j)} and {max(i, j)} have opposite labels at distance "
            f"{d[i, j]:.6g} < c = {c}"
        )


def slabs(key, N: int, n: int, gap: float = 0.1, dtype=None):
    """N samples of the uniform distribution on the two slabs |x_1 - 1/2| >= gap/2 of
    [0, 1]^n, labelled by the side: y = sign(x_1 - 1/2). In D(n, gap), with density
    1/(1 - gap) (Definition 5.2), classes of mass 1/2 each."""
    N, n = positive_int("N", N), positive_int("n", n)
    if not 0 < gap < 1:
        raise ValueError(f"gap must lie in (0, 1); got {gap}")
    dtype = dtype or _float()
    k_x, k_side, k_first = jax.random.split(key, 3)
    X = jax.random.uniform(k_x, (N, n), dtype)
    y = jnp.where(jax.random.bernoulli(k_side, 0.5, (N,)), 1.0, -1.0).astype(dtype)
    first = 0.5 + y * (gap / 2 + jax.random.uniform(k_first, (N,), dtype) * (0.5 - gap / 2))
    return X.at[:, 0].set(first), y
