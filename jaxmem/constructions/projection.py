"""The random projection direction that Zhang et al.'s and Yun et al.'s constructions share:
both sort the points by <u, x> and need the sorted projections distinct, and both divide by
their smallest gap, so more candidate directions buy larger gaps."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def best_direction(key, X, directions: int = 1):
    """A Gaussian direction u ~ N(0, I_d); with directions > 1 candidates, the one whose sorted
    projections <u, x_i> have the largest minimum gap (a constant-factor gain in the weights,
    which grow like 1 / min gap)."""
    U = jax.random.normal(key, (directions, X.shape[1]), X.dtype)
    ts = jnp.sort(jnp.matmul(X, U.T, precision=jax.lax.Precision.HIGHEST), axis=0)
    gaps = jnp.min(jnp.diff(ts, axis=0), axis=0, initial=jnp.inf)
    return U[jnp.argmax(gaps)]


__all__ = ["best_direction"]
