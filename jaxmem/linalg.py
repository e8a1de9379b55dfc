"""Small dense linear algebra in plain XLA ops (no LAPACK custom calls).

Batched LAPACK calls on CPU (jnp.linalg.solve under vmap) are parallelized along the batch on
the same thread pool as XLA's own intra-op work; on jax 0.10 with 2 cores this deadlocked a
vmapped construction (observed here; cf. jax-ml/jax#36927, #39292). The constructions solve
many tiny d x d symmetric positive definite systems, for which Gauss-Jordan elimination
without pivoting is backward stable (Higham, Accuracy and Stability, Sec. 10.1), vectorizes
over any batch, and runs the same on CPU, GPU and TPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def spd_solve(A: jax.Array, B: jax.Array) -> jax.Array:
    """Solves A X = B for symmetric positive definite A (..., d, d), B (..., d, r).

    A singular or indefinite A yields inf/nan entries (callers turn them into validity flags).
    """
    d = A.shape[-1]

    def eliminate(k, carry):
        A, B = carry
        pivot = A[..., k, k]
        row_a = A[..., k, :] / pivot[..., None]
        row_b = B[..., k, :] / pivot[..., None]
        # rows i != k lose factor_i * row; row k becomes row itself (its factor, pivot, is
        # replaced by pivot - 1): one rank-1 update each, no separate row write (a second
        # pass over the batch)
        factor = A[..., :, k] - (jnp.arange(d) == k).astype(A.dtype)
        A = A - factor[..., :, None] * row_a[..., None, :]
        B = B - factor[..., :, None] * row_b[..., None, :]
        return A, B

    # d is static and small: unrolled, XLA fuses the rank-1 updates across steps.
    _, X = jax.lax.fori_loop(0, d, eliminate, (A, B), unroll=True)
    return X
