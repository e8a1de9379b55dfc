"""jaxmem.linalg.spd_solve: Gauss-Jordan on SPD batches (Bubeck's group solves)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.linalg import spd_solve


def test_spd_solve_matches_lapack_within_the_condition_number():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((2, 7, 9, 9))
    A = np.einsum("bgij,bgkj->bgik", M, M) + 0.1 * np.eye(9)       # SPD, moderately conditioned
    B = rng.standard_normal((2, 7, 9, 3))
    X = np.asarray(jax.jit(spd_solve)(jnp.asarray(A), jnp.asarray(B)))
    ref = np.linalg.solve(A, B)
    cond = np.linalg.cond(A)[..., None, None]
    eps = np.finfo(np.float64).eps
    assert np.all(np.abs(X - ref) <= 50 * 9 * eps * cond * np.abs(ref).max(axis=-2, keepdims=True))
    # the identity gives the inverse
    inv = np.asarray(spd_solve(jnp.asarray(A[0, 0]), jnp.eye(9)))
    np.testing.assert_allclose(inv @ A[0, 0], np.eye(9), atol=1e-9)


def test_spd_solve_flags_a_singular_matrix_with_non_finite_entries():
    A = jnp.array([[1.0, 1.0], [1.0, 1.0]])
    X = spd_solve(A, jnp.eye(2))
    assert not np.all(np.isfinite(np.asarray(X)))
