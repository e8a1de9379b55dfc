"""Closed-form "training": the lazy (NTK) two-layer ReLU model, kernel interpolation, and the
minimum-norm solution of an over-parameterized linear model reached by gradient descent.

Three models whose training has a closed form, each with the numerical facts needed to check
"it interpolates exactly" in floating point:

* **Lazy / neural-tangent model** (Montanari & Zhong 2020; docs/papers/montanari2020.md §1):
  f(x) = (1/sqrt(N)) sum_j <a_j, x> relu'(<w_j, x>), w_j ~ N(0, I_d/d) fixed, a_j in R^d
  trained (N d parameters). It is linear in a, so its minimum-norm interpolant solves an
  n x n system in the Gram matrix K; it interpolates arbitrary labels iff K is non-singular.
  `ntk_weights`, `ntk_features`, `ntk_gram`, `ntk_gram_infinite`, `ntk_min_norm_fit`,
  `ntk_predict`, `ntk_pattern_report` (activation patterns that force K singular),
  `ntk_width_for`.
* **Kernel interpolation** (Zhang et al. 2017, Section 5; docs/papers/zhang2017.md §4.6):
  solve K alpha = y exactly, no regularization, here with a Gaussian kernel.
  `gaussian_kernel`, `median_bandwidth`, `kernel_interpolate`, `kernel_predict`,
  `kernel_classify`, `one_hot`.
* **Minimum-norm linear interpolation** (Zhang et al. 2017, Section 5: w = X^T alpha with
  X X^T alpha = y): GD from zero never leaves the row space of X, hence converges to the
  minimum-norm interpolant. `min_norm_solution`, `linear_gd`, `gd_min_norm_report`.

Conventions shared by all three:

* Pure functions of explicit arrays (and keys); static shapes (widths and step counts are
  Python ints); each works on ONE dataset and vmaps over a leading batch axis of datasets.
* Input is validated on the host before anything compiles; a ValueError names the argument
  and the offending row. Under jit/vmap the arrays are tracers and validation is skipped (the
  caller validates concrete data, as `jaxmem.data.validate` documents).
* Linear systems are solved through a symmetric eigendecomposition (or an SVD) with
  numpy.linalg.matrix_rank's rule: an eigenvalue counts as non-zero iff
  lambda > n * eps(dtype) * lambda_max. A singular system therefore gives a valid result with
  `nonsingular = False` (the pseudo-inverse solution), never NaN. (jaxmem/linalg.py avoids
  LAPACK because a vmapped jnp.linalg.solve deadlocked on CPU; the vmapped eigh and svd used
  here ran thousands of batched calls without hanging on jax 0.10. They do run in OpenBLAS,
  whose second, spinning thread on a loaded 2-core machine made them ~10x slower: limit it with
  threadpoolctl or OPENBLAS_NUM_THREADS=1 there.)
* The public functions validate, then call one jit-compiled core (so a concrete call costs
  one compilation per shape, not one per operation); under an outer jit/vmap the cores inline.
* Tolerances are derived from the dtype's unit roundoff and the norms involved (Higham,
  Accuracy and Stability of Numerical Algorithms, 2nd ed.; gamma_k = k u / (1 - k u)), never a
  fixed constant. Run exactness checks in float64.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.validate import _rows, is_traced, positive_int
from jaxmem.network import gamma, unit_roundoff

_HIGHEST = jax.lax.Precision.HIGHEST


def _mm(a, b):
    return jnp.matmul(a, b, precision=_HIGHEST)


# ---------------------------------------------------------------------------------------------
# Validation (host side, before compilation)
# ---------------------------------------------------------------------------------------------


def _real_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if (
        a.dtype == bool
        or not np.issubdtype(a.dtype, np.number)
        or np.issubdtype(a.dtype, np.complexfloating)
    ):
        raise ValueError(f"{name} must be real numbers; got dtype {a.dtype}")
    return a


def _check_points(X, name: str = "X") -> None:
    """X of shape (n, d), n >= 1, d >= 1, finite (the offending rows named)."""
    if is_traced(X):
        return
    X = _real_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) (one row per point); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (n = 0): a dataset needs at least one point")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no columns (d = 0): points need at least one coordinate")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has NaN or inf in rows {_rows(np.flatnonzero(bad.any(1)))} "
            f"(row {r}, column {c} is {X[r, c]})"
        )


def _check_targets(
    y, n: int, name: str = "y", allow_matrix: bool = False, points: str = "X"
) -> None:
    """y of shape (n,) (or (n, C) if allow_matrix), finite."""
    if is_traced(y):
        return
    y = _real_array(y, name)
    shapes = f"({n},)" + (f" or ({n}, C)" if allow_matrix else "")
    if not (y.ndim == 1 or (allow_matrix and y.ndim == 2)) or y.shape[0] != n:
        raise ValueError(
            f"{name} must have shape {shapes}, one target per row of {points}; got shape {y.shape}"
        )
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"{name} has no columns: a one-hot target needs at least one class")
    bad = ~np.isfinite(y.reshape(n, -1))
    if bad.any():
        rows = np.flatnonzero(bad.any(1))
        raise ValueError(
            f"{name} has NaN or inf in rows {_rows(rows)} (row {rows[0]} is {y[rows[0]]})"
        )


def _check_positive_scalar(value, name: str) -> None:
    if value is None or is_traced(value):
        return
    v = np.asarray(value)
    if v.shape != () or not np.issubdtype(v.dtype, np.number) or v.dtype == bool:
        raise ValueError(f"{name} must be a positive real scalar; got {value!r}")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")


def _float_dtype(*arrays):
    """The floating dtype the arithmetic runs in (integer data are promoted)."""
    return jnp.result_type(*[a for a in arrays if a is not None], jnp.float32)


# ---------------------------------------------------------------------------------------------
# Symmetric solves with the numerical-rank rule
# ---------------------------------------------------------------------------------------------


def _symmetric_pinv_solve(K, Y):
    """alpha = K^+ Y through K = V diag(lam) V^T, keeping eigenvalues lam > n eps lam_max.

    The cut-off is numpy.linalg.matrix_rank's rule (tol = S.max() * max(M, N) * eps): below it
    an eigenvalue is indistinguishable from rounding in K itself. Returns alpha (the
    minimum-norm least-squares solution; the exact solution when K is non-singular), the
    eigenvalues (ascending), the numerical rank and the non-singularity flag.
    """
    n = K.shape[-1]
    eps = jnp.finfo(K.dtype).eps
    lam, V = jnp.linalg.eigh(K)
    lam_max = jnp.maximum(jnp.max(jnp.abs(lam)), jnp.finfo(K.dtype).tiny)
    keep = lam > n * eps * lam_max
    inv = jnp.where(keep, 1 / jnp.where(keep, lam, 1), 0)
    coords = _mm(V.T, Y)
    coords = coords * (inv if Y.ndim == 1 else inv[:, None])
    alpha = _mm(V, coords)
    rank = jnp.sum(keep)
    return alpha, lam, rank, rank == n


def _spectrum_report(lam, n):
    """lambda_min, lambda_max and cond = lambda_max / lambda_min (inf when lambda_min <= 0)."""
    lam_min, lam_max = lam[0], lam[-1]
    cond = jnp.where(lam_min > 0, lam_max / jnp.where(lam_min > 0, lam_min, 1), jnp.inf)
    return dict(lambda_min=lam_min, lambda_max=lam_max, condition_number=cond)


def _solve_tolerance(n, u, lam_max, alpha, Y):
    """Per-target bound on |K alpha - y| left by a backward-stable symmetric solve.

    A backward-stable eigensolver returns the exact decomposition of K + E with
    ||E||_2 <= gamma_{c n} ||K||_2 (Higham Ch. 19 / LAPACK syevd), so the computed alpha
    satisfies (K + E) alpha = y up to the rounding of forming V diag(1/lam) V^T y, and
    |K alpha - y| <= gamma_{cn} (lambda_max ||alpha||_2 + |y|). Since ||alpha||_2 <=
    ||y||_2 / lambda_min this is at most gamma_{cn} (cond(K) + 1) ||y||_2: the cond(K) * eps
    tolerance, but sharp for labels that do not load the smallest eigenvalues. c = 4 counts the
    eigensolve, the two products with V and the one with K."""
    a = jnp.linalg.norm(alpha.reshape(alpha.shape[0], -1), axis=0)  # per target column
    return gamma(4 * n, u) * (lam_max * a + jnp.abs(Y))


# ---------------------------------------------------------------------------------------------
# 1. The lazy / NTK model of a two-layer ReLU network (Montanari & Zhong 2020)
# ---------------------------------------------------------------------------------------------


def ntk_weights(key, width: int, d: int, dtype=None) -> jax.Array:
    """The fixed first-layer weights w_j ~ N(0, I_d / d), shape (width, d) (montanari2020.md §1)."""
    width, d = positive_int("width", width), positive_int("d", d)
    dtype = dtype or (jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32)
    return jax.random.normal(key, (width, d), dtype) / jnp.sqrt(jnp.asarray(d, dtype))


def _check_W(W, d: int | None = None) -> None:
    _check_points(W, "W")
    if d is not None and not is_traced(W) and np.shape(W)[1] != d:
        raise ValueError(
            f"W has {np.shape(W)[1]} columns but the points have {d}: one row "
            f"w_j in R^d per hidden unit"
        )


def _activation_pattern(W, X):
    """S_ij = relu'(<w_j, x_i>) = 1[<w_j, x_i> > 0], shape (n, N). relu'(0) := 0 (a null
    event for continuous data)."""
    return (_mm(X, W.T) > 0).astype(X.dtype)


def ntk_features(W, X) -> jax.Array:
    """The tangent features F(x) in R^{N d}, shape (n, N d): F[i, j d + k] = relu'(<w_j, x_i>) x_ik.

    f(x) = (1/sqrt(N)) <a, F(x)> with a = (a_1, ..., a_N) flattened, so the gradient of f in a
    is F(x) / sqrt(N), and `ntk_gram` = F F^T / (N d).
    """
    _check_W(W)
    _check_points(X)
    _check_W(W, np.shape(X)[1])
    dtype = _float_dtype(W, X)
    return _ntk_features(jnp.asarray(W, dtype), jnp.asarray(X, dtype))


@jax.jit
def _ntk_features(W, X):
    S = _activation_pattern(W, X)
    n, d = X.shape
    return (S[:, :, None] * X[:, None, :]).reshape(n, W.shape[0] * d)


def ntk_gram(W, X, X2=None) -> jax.Array:
    """K_ik = (1/(N d)) sum_j relu'(<w_j, x_i>) relu'(<w_j, x'_k>) <x_i, x'_k>, shape (n, m).

    = (S S'^T) * (X X'^T) / (N d) elementwise, without forming the (n, N d) features. X2
    defaults to X (the n x n Gram matrix of the data).

    The 1/(N d) normalization is a convention: docs/papers/montanari2020.md §1 marks it
    [UNCONFIRMED]. It rescales K, so it changes neither its (non-)singularity, its condition
    number, nor the interpolant's predictions (alpha scales inversely).
    """
    _check_W(W)
    _check_points(X)
    _check_W(W, np.shape(X)[1])
    if X2 is not None:
        _check_points(X2, "X2")
        _check_W(W, np.shape(X2)[1])
    dtype = _float_dtype(W, X, X2)
    W, X = jnp.asarray(W, dtype), jnp.asarray(X, dtype)
    X2 = X if X2 is None else jnp.asarray(X2, dtype)
    return _ntk_gram(W, X, X2)


@jax.jit
def _ntk_gram(W, X, X2):
    N, d = W.shape
    S, S2 = _activation_pattern(W, X), _activation_pattern(W, X2)
    return _mm(S, S2.T) * _mm(X, X2.T) / (N * d)


def ntk_gram_infinite(X, X2=None, d: int | None = None) -> jax.Array:
    """The N -> infinity limit of `ntk_gram` (same 1/(N d) convention), shape (n, m).

    For w ~ N(0, I/d), P(<w,x> > 0, <w,x'> > 0) = (pi - theta) / (2 pi) with theta the angle
    between x and x' (the degree-0 arc-cosine kernel, Cho & Saul 2009), so
    K_inf(x, x') = <x, x'> (pi - theta) / (2 pi d). It does not depend on the scale of w. A
    zero vector has relu'(<w, 0>) = 0, hence K_inf = 0 in its row (as <x, 0> = 0 anyway).
    d defaults to X's number of columns.
    """
    _check_points(X)
    if X2 is not None:
        _check_points(X2, "X2")
        if not is_traced(X, X2) and np.shape(X2)[1] != np.shape(X)[1]:
            raise ValueError(f"X2 has {np.shape(X2)[1]} columns but X has {np.shape(X)[1]}")
    d = np.shape(X)[1] if d is None else positive_int("d", d)
    dtype = _float_dtype(X, X2)
    X = jnp.asarray(X, dtype)
    X2 = X if X2 is None else jnp.asarray(X2, dtype)
    return _ntk_gram_infinite(X, X2, d)


@functools.partial(jax.jit, static_argnames="d")
def _ntk_gram_infinite(X, X2, d):
    G = _mm(X, X2.T)

    # theta by Kahan's formula 2 atan2(|u - v|, |u + v|) on the unit vectors u, v, not
    # arccos(cos): arccos loses half the digits near theta = 0 (arccos(1 - eps) = sqrt(2 eps)).
    # It forms the (n, m, d) differences: meant for cross-checks at moderate sizes.
    def unit(Z):
        norm = jnp.linalg.norm(Z, axis=1, keepdims=True)
        return Z / jnp.where(norm > 0, norm, 1)

    U, V = unit(X)[:, None, :], unit(X2)[None, :, :]
    theta = 2 * jnp.arctan2(jnp.linalg.norm(U - V, axis=-1), jnp.linalg.norm(U + V, axis=-1))
    return G * (jnp.pi - theta) / (2 * jnp.pi * d)


def ntk_predict(W, A, X) -> jax.Array:
    """f(x) = (1/sqrt(N)) sum_j <a_j, x> relu'(<w_j, x>), shape (n,); W, A of shape (N, d)."""
    _check_W(W)
    _check_W(A)
    _check_points(X)
    _check_W(W, np.shape(X)[1])
    if not is_traced(W, A) and np.shape(A) != np.shape(W):
        raise ValueError(
            f"A (the trained a_j) must have the shape of W {np.shape(W)}; got {np.shape(A)}"
        )
    dtype = _float_dtype(W, A, X)
    W, A, X = (jnp.asarray(v, dtype) for v in (W, A, X))
    return _ntk_apply(W, A, X)


@jax.jit
def _ntk_apply(W, A, X):
    S = _activation_pattern(W, X)
    return jnp.sum(S * _mm(X, A.T), axis=1) / jnp.sqrt(jnp.asarray(W.shape[0], X.dtype))


def _decision(nonsingular, f, y, tol) -> dict:
    """The fit's three-valued decision (jaxmem.metrics.value_decisions: decided only where the
    tolerance is small against the labels' scale): decision (int8), interpolates (nonsingular
    and decided FITS), undecided_points."""
    from jaxmem import metrics

    points = metrics.value_decisions(f, y, tol)
    decision = metrics.dataset_decision(points.reshape(-1))
    return dict(
        decision=decision,
        interpolates=nonsingular & (decision == metrics.FITS),
        undecided_points=jnp.sum(points == metrics.UNDECIDED),
    )


def ntk_min_norm_fit(key, X, y, width: int) -> dict:
    """The minimum-norm interpolant of the lazy two-layer ReLU model, in closed form.

    w_j ~ N(0, I_d/d) from `key` (`ntk_weights`); the trained a in R^{N d} solves
    min ||a||_2 subject to f(x_i) = y_i. Since f(X) = F a / sqrt(N) (`ntk_features`),
    a = F^T alpha / (sqrt(N) d) with K alpha = y, K = F F^T / (N d) (`ntk_gram`); K is solved by
    eigendecomposition with the matrix_rank rule, so a singular K (e.g. N d < n, as
    rank K <= N d) returns the pseudo-inverse (least-squares) fit and nonsingular = False.

    Returns a dict:
      W, A                (N, d) fixed and trained weights (`ntk_predict(W, A, X)` is the fit)
      alpha               (n,) kernel coefficients: f(x) = sum_i alpha_i K(x, x_i)
      lambda_min, lambda_max, condition_number   of K (eigvalsh)
      rank                numerical rank of K (eigenvalues > n eps lambda_max)
      nonsingular         rank == n, i.e. lambda_min > n eps(dtype) lambda_max
      max_residual        max_i |f(x_i) - y_i|, f evaluated through the network (W, A)
      residual_tolerance  max_i of the per-point rounding bound (see below)
      residual_over_tolerance   max_i |f(x_i) - y_i| / bound_i
      interpolates        nonsingular and every residual within its bound, decided (the bound
                          small against the labels' scale, jaxmem.metrics.value_decisions)
      decision, undecided_points   the fit's three-valued decision and its open points
      weight_norm         ||a||_2 = sqrt(y^T (d K)^+ y): the minimum parameter norm
      rkhs_norm           sqrt(alpha^T K alpha) (both depend on the 1/(N d) convention)
      param_count         N d, the number of trained parameters

    The per-point tolerance adds the solve's bound gamma_{4n} (lambda_max ||alpha|| + |y_i|)
    (`_solve_tolerance`) and the rounding of forming a and evaluating f in the network's
    dtype, gamma_{2(n + d) + 2} (|S| |S|^T * |X| |X|^T / (N d)) |alpha| (Higham Sec. 3.5:
    forward error of the two products, entrywise in absolute values).
    """
    width = positive_int("width", width)
    _check_points(X)
    _check_targets(y, np.shape(X)[0])
    dtype = _float_dtype(X, y)
    return _ntk_min_norm_fit(key, jnp.asarray(X, dtype), jnp.asarray(y, dtype), width)


@functools.partial(jax.jit, static_argnames="width")
def _ntk_min_norm_fit(key, X, y, width):
    dtype = X.dtype
    n, d = X.shape
    u = unit_roundoff(dtype)
    W = ntk_weights(key, width, d, dtype)
    S = _activation_pattern(W, X)
    K = _mm(S, S.T) * _mm(X, X.T) / (width * d)
    alpha, lam, rank, nonsingular = _symmetric_pinv_solve(K, y)
    # a_j = (1/(sqrt(N) d)) sum_i alpha_i relu'(<w_j, x_i>) x_i: the min-norm primal weights.
    A = _mm((S * alpha[:, None]).T, X) / (jnp.sqrt(jnp.asarray(width, dtype)) * d)
    f = _ntk_apply(W, A, X)
    err = jnp.abs(f - y)
    K_abs = _mm(S, S.T) * _mm(jnp.abs(X), jnp.abs(X).T) / (width * d)
    tol = _solve_tolerance(n, u, lam[-1], alpha, y) + gamma(2 * (n + d) + 2, u) * _mm(
        K_abs, jnp.abs(alpha)
    )
    ratio = err / jnp.maximum(tol, jnp.finfo(dtype).tiny)
    return dict(
        W=W,
        A=A,
        alpha=alpha,
        **_spectrum_report(lam, n),
        rank=rank,
        nonsingular=nonsingular,
        max_residual=jnp.max(err),
        residual_tolerance=jnp.max(tol),
        residual_over_tolerance=jnp.max(ratio),
        **_decision(nonsingular, f, y, tol),
        weight_norm=jnp.linalg.norm(A),
        rkhs_norm=jnp.sqrt(jnp.maximum(alpha @ _mm(K, alpha), 0)),
        param_count=width * d,
    )


def ntk_pattern_report(W, X) -> dict:
    """Activation-pattern facts that force the NTK Gram matrix to be singular.

    A point whose pattern s_i = (relu'(<w_j, x_i>))_j is shared by other points has features
    F_i = s_i (x) x_i in the d-dimensional space s_i (x) R^d, so if more than d points share
    one pattern their rows of F (hence of K) are linearly dependent, whatever N d is. A dead
    point (s_i = 0, inactive for all N units; probability 2^-N per point on the sphere) has a
    zero row: K is singular. Returns dead_points (count) and max_shared_pattern (the largest
    number of points with one common non-zero pattern); singular_by_pattern is
    dead_points > 0 or max_shared_pattern > d: a sufficient (not necessary) condition.
    """
    _check_W(W)
    _check_points(X)
    _check_W(W, np.shape(X)[1])
    dtype = _float_dtype(W, X)
    return _ntk_pattern_report(jnp.asarray(W, dtype), jnp.asarray(X, dtype))


@jax.jit
def _ntk_pattern_report(W, X):
    S = _activation_pattern(W, X)
    N, d = W.shape
    alive = jnp.any(S > 0, axis=1)
    # Patterns agree iff they agree on every unit: S S^T + (1-S)(1-S)^T counts agreements.
    same = (_mm(S, S.T) + _mm(1 - S, (1 - S).T)) == N
    shared = jnp.sum(same & alive[None, :], axis=1)
    max_shared = jnp.max(jnp.where(alive, shared, 0))
    dead = jnp.sum(~alive)
    return dict(
        dead_points=dead,
        max_shared_pattern=max_shared,
        singular_by_pattern=(dead > 0) | (max_shared > d),
    )


def ntk_width_for(n: int, d: int, factor: float) -> int:
    """The smallest width N with N d >= factor * n (the parameter budget of the claim)."""
    n, d = positive_int("n", n), positive_int("d", d)
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be a positive finite number; got {factor!r}")
    return max(1, math.ceil(factor * n / d - 1e-12))


# ---------------------------------------------------------------------------------------------
# 2. Gaussian kernel interpolation (Zhang et al. 2017, Section 5)
# ---------------------------------------------------------------------------------------------


def _squared_distances(X1, X2):
    sq = jnp.sum(X1 * X1, 1)[:, None] + jnp.sum(X2 * X2, 1)[None, :] - 2 * _mm(X1, X2.T)
    return jnp.maximum(sq, 0)  # cancellation can leave -eps; distances are >= 0


def median_bandwidth(X) -> jax.Array:
    """The median heuristic: s = median of the n(n-1)/2 pairwise distances ||x_i - x_j||.

    A common default for Gaussian kernels (e.g. Gretton et al., "A kernel two-sample test",
    JMLR 2012); Zhang et al. do not state their bandwidth. It makes k(x_i, x_j) = exp(-1/2) for
    the median pair, so K is neither close to the identity nor to the all-ones matrix. Falls
    back to 1 for a single point, and to 1 when the median distance is 0 (mostly duplicates).
    """
    _check_points(X)
    return _median_bandwidth(jnp.asarray(X, _float_dtype(X)))


@jax.jit
def _median_bandwidth(X):
    n = X.shape[0]
    if n < 2:
        return jnp.ones((), X.dtype)
    i, j = np.triu_indices(n, 1)
    dist = jnp.sqrt(_squared_distances(X, X)[i, j])
    med = jnp.median(dist)
    return jnp.where(med > 0, med, 1)


def gaussian_kernel(X1, X2, bandwidth) -> jax.Array:
    """k(x, x') = exp(-||x - x'||^2 / (2 s^2)), shape (n, m). Positive definite on distinct
    points for every s > 0 (Bochner: its spectral density is positive everywhere)."""
    _check_points(X1, "X1")
    _check_points(X2, "X2")
    if not is_traced(X1, X2) and np.shape(X1)[1] != np.shape(X2)[1]:
        raise ValueError(f"X2 has {np.shape(X2)[1]} columns but X1 has {np.shape(X1)[1]}")
    _check_positive_scalar(bandwidth, "bandwidth")
    dtype = _float_dtype(X1, X2)
    return _gaussian(jnp.asarray(X1, dtype), jnp.asarray(X2, dtype), jnp.asarray(bandwidth, dtype))


@jax.jit
def _gaussian(X1, X2, s):
    return jnp.exp(-_squared_distances(X1, X2) / (2 * s * s))


def kernel_interpolate(X, Y, bandwidth=None) -> dict:
    """Solves K alpha = Y exactly (no regularization), K = `gaussian_kernel`(X, X, bandwidth).

    Y: (n,) real or +-1 labels, or (n, C) one-hot targets (`one_hot`); bandwidth None uses
    `median_bandwidth`(X). Solved by eigendecomposition with the matrix_rank rule, so a singular
    K (duplicate points, or a bandwidth so large that K is all ones to working precision) gives
    nonsingular = False and the pseudo-inverse fit, never NaN.

    Returns a dict: alpha (shape of Y), bandwidth, lambda_min, lambda_max, condition_number,
    rank, nonsingular, max_residual = max |K alpha - Y| (K applied afresh), residual_tolerance
    (max of gamma_{4n} (lambda_max ||alpha|| + |Y|) + gamma_{n} |K| |alpha|: the solve's
    backward error, at most gamma_{4n} (cond(K) + 1) ||Y||, plus evaluating K alpha;
    see `_solve_tolerance`), residual_over_tolerance, interpolates (nonsingular and every
    residual within its bound, decided: jaxmem.metrics.value_decisions), decision,
    undecided_points.
    """
    _check_points(X)
    _check_targets(Y, np.shape(X)[0], "Y", allow_matrix=True)
    _check_positive_scalar(bandwidth, "bandwidth")
    dtype = _float_dtype(X, Y)
    X, Y = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
    s = _median_bandwidth(X) if bandwidth is None else jnp.asarray(bandwidth, dtype)
    return _kernel_interpolate(X, Y, s)


@jax.jit
def _kernel_interpolate(X, Y, s):
    dtype = X.dtype
    n = X.shape[0]
    u = unit_roundoff(dtype)
    K = _gaussian(X, X, s)
    alpha, lam, rank, nonsingular = _symmetric_pinv_solve(K, Y)
    err = jnp.abs(_mm(K, alpha) - Y)
    tol = _solve_tolerance(n, u, lam[-1], alpha, Y) + gamma(n, u) * _mm(K, jnp.abs(alpha))
    ratio = err / jnp.maximum(tol, jnp.finfo(dtype).tiny)
    return dict(
        alpha=alpha,
        bandwidth=s,
        **_spectrum_report(lam, n),
        rank=rank,
        nonsingular=nonsingular,
        max_residual=jnp.max(err),
        residual_tolerance=jnp.max(tol),
        residual_over_tolerance=jnp.max(ratio),
        **_decision(nonsingular, _mm(K, alpha), Y, tol),
    )


def kernel_predict(X_train, alpha, X, bandwidth) -> jax.Array:
    """f(x) = sum_i alpha_i k(x, x_i): shape (m,) or (m, C) like alpha."""
    _check_points(X_train, "X_train")
    _check_targets(alpha, np.shape(X_train)[0], "alpha", allow_matrix=True, points="X_train")
    _check_points(X)
    if not is_traced(X_train, X) and np.shape(X)[1] != np.shape(X_train)[1]:
        raise ValueError(f"X has {np.shape(X)[1]} columns but X_train has {np.shape(X_train)[1]}")
    _check_positive_scalar(bandwidth, "bandwidth")
    dtype = _float_dtype(X_train, alpha, X)
    return _kernel_predict(
        jnp.asarray(X_train, dtype),
        jnp.asarray(alpha, dtype),
        jnp.asarray(X, dtype),
        jnp.asarray(bandwidth, dtype),
    )


@jax.jit
def _kernel_predict(X_train, alpha, X, s):
    return _mm(_gaussian(X, X_train, s), alpha)


def kernel_classify(X_train, alpha, X, bandwidth) -> jax.Array:
    """Labels from `kernel_predict`: argmax over classes for (n, C) one-hot coefficients
    (int32 class indices), sign for +-1 labels (an output of exactly 0 gives 0, an error)."""
    scores = kernel_predict(X_train, alpha, X, bandwidth)
    if scores.ndim == 2:
        return jnp.argmax(scores, axis=1).astype(jnp.int32)
    return jnp.sign(scores)


def one_hot(labels, classes: int, dtype=None) -> jax.Array:
    """(n, classes) one-hot targets of integer labels in [0, classes)."""
    classes = positive_int("classes", classes)
    if not is_traced(labels):
        lab = np.asarray(labels)
        if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(
                f"labels must be a 1-D array of integers; got shape {lab.shape}, dtype {lab.dtype}"
            )
        bad = (lab < 0) | (lab >= classes)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"labels must lie in [0, {classes}); rows {_rows(rows)} do not "
                f"(row {rows[0]} is {lab[rows[0]]})"
            )
    dtype = dtype or (jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32)
    return jax.nn.one_hot(labels, classes, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# 3. Minimum-norm linear interpolation and gradient descent (Zhang et al. 2017, Section 5)
# ---------------------------------------------------------------------------------------------


def _linear_inputs(X, y, w0=None, steps=None, lr=None):
    """Validates everything on the host first, then converts (conversion already compiles)."""
    if steps is not None:
        positive_int("steps", steps)
    _check_positive_scalar(lr, "lr")
    _check_points(X)
    _check_targets(y, np.shape(X)[0])
    if w0 is not None and not is_traced(w0):
        w = _real_array(w0, "w0")
        d = np.shape(X)[1]
        if w.shape != (d,):
            raise ValueError(
                f"w0 must have shape ({d},), one weight per column of X; got shape {w.shape}"
            )
        bad = ~np.isfinite(w)
        if bad.any():
            raise ValueError(f"w0 has NaN or inf in entries {_rows(np.flatnonzero(bad))}")
    dtype = _float_dtype(X, y, w0)
    X, y = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    w0 = jnp.zeros((X.shape[1],), dtype) if w0 is None else jnp.asarray(w0, dtype)
    return X, y, w0


def _svd(X):
    """Thin SVD with the matrix_rank mask s > max(n, d) eps s_max."""
    U, s, Vt = jnp.linalg.svd(X, full_matrices=False)
    eps = jnp.finfo(X.dtype).eps
    keep = s > max(X.shape) * eps * jnp.maximum(s[0], jnp.finfo(X.dtype).tiny)
    return U, s, Vt, keep


def _pinv_apply(U, s, Vt, keep, y):
    return _mm(Vt.T, jnp.where(keep, _mm(U.T, y) / jnp.where(keep, s, 1), 0))


def min_norm_solution(X, y) -> jax.Array:
    """w* = X^T (X X^T)^{-1} y, the minimum-norm interpolant of X w = y when d > n and X has
    full row rank (Zhang et al. 2017, Sec. 5: w = X^T alpha, X X^T alpha = y). Computed as
    pinv(X) y through a thin SVD (matrix_rank cut-off), which also covers the rank-deficient
    case: then it is the minimum-norm least-squares solution, like numpy.linalg.lstsq."""
    X, y, _ = _linear_inputs(X, y)
    return _min_norm_solution(X, y)


@jax.jit
def _min_norm_solution(X, y):
    return _pinv_apply(*_svd(X), y)


def _default_lr(s, n):
    # 1 / lambda_max(X^T X / n) = n / s_max^2: the 1/L step of an L-smooth quadratic; it makes
    # every factor |1 - lr mu_i| <= 1 - mu_min / mu_max < 1 on the row space.
    return n / jnp.maximum(s[0] ** 2, jnp.finfo(s.dtype).tiny)


def _check_steps_lr(steps, lr):
    steps = positive_int("steps", steps)
    _check_positive_scalar(lr, "lr")
    return steps


def linear_gd(X, y, steps: int, lr=None, w0=None) -> dict:
    """Full-batch GD on L(w) = ||X w - y||^2 / (2 n) from w0 (default 0), via lax.scan:
    w_{t+1} = w_t - lr X^T (X w_t - y) / n. lr defaults to 1 / lambda_max(X^T X / n).

    Returns dict(w=w_T, lr=lr, rounding_bound=sum_t delta_t), where delta_t bounds the
    rounding committed in step t, accumulated in the scan from the actual ||w_t||:
    delta_t = gamma_{n + d + 4} (||w_t|| + 2 (lr/n) ||X||_F (||X||_F ||w_t|| + ||y||))
    (the residual X w - y, the product X^T r, the scaling, the update; Higham Sec. 3.5 with
    || |X| |v| || <= ||X||_F ||v||). Each step's error then evolves by I - lr X^T X / n, whose
    norm is <= 1 for lr <= 2 / lambda_max, so the sum bounds the total drift of the computed
    iterate from the exact one, and in particular its null-space component.
    """
    X, y, w0 = _linear_inputs(X, y, w0, steps, lr)
    steps = _check_steps_lr(steps, lr)
    return _linear_gd(X, y, w0, _lr_or_nan(lr, X.dtype), steps)


def _lr_or_nan(lr, dtype):
    # None (the default step) travels into the jitted core as NaN: one compiled program
    # serves both, and a user's lr was already checked to be finite and positive.
    return jnp.asarray(jnp.nan if lr is None else lr, dtype)


@functools.partial(jax.jit, static_argnames="steps")
def _linear_gd(X, y, w0, lr, steps):
    lr = jnp.where(jnp.isnan(lr), _default_lr(jnp.linalg.svd(X, compute_uv=False), X.shape[0]), lr)
    return _gd(X, y, w0, steps, lr)


def _gd(X, y, w0, steps, lr):
    n, d = X.shape
    u = unit_roundoff(X.dtype)
    xf, yn = jnp.linalg.norm(X), jnp.linalg.norm(y)
    g = gamma(n + d + 4, u)

    def step(carry, _):
        w, bound = carry
        r = _mm(X, w) - y
        w_next = w - (lr / n) * _mm(X.T, r)
        wn = jnp.linalg.norm(w)
        bound = bound + g * (wn + 2 * (lr / n) * xf * (xf * wn + yn))
        return (w_next, bound), None

    (w, bound), _ = jax.lax.scan(step, (w0, jnp.zeros((), X.dtype)), None, length=steps)
    return dict(w=w, lr=lr, rounding_bound=bound)


def gd_min_norm_report(X, y, steps: int, lr=None, w0=None) -> dict:
    """Does GD on the over-parameterized linear model reach the minimum-norm interpolant?

    In exact arithmetic, with P the projector onto the row space of X and mu_i the non-zero
    eigenvalues of X^T X / n: GD never changes (I - P) w (every update is X^T times something),
    and e_t = P w_t - w* contracts as e_{t+1} = (I - lr X^T X / n) e_t, so
      ||(I - P) w_T|| = ||(I - P) w0||   and
      ||w_T - w*|| <= rho^T ||P w0 - w*|| + ||(I - P) w0||,  rho = max_i |1 - lr mu_i|.
    From w0 = 0 the null-space part is 0 and w_T -> w* (the min-norm solution); from any w0
    with a null-space part, w_T -> w* + (I - P) w0 instead: `converged` is then False.

    Returns a dict:
      distance               ||w_T - w*||
      relative_distance      ||w_T - w*|| / ||w*||
      null_component         ||(I - P) w_T||, the part orthogonal to the row space
      initial_null_component ||(I - P) w0||
      contraction_factor     rho (from the spectrum: 1 - mu_min / mu_max at the default lr)
      contraction_bound      rho^T ||P w0 - w*||
      null_tolerance         rounding bound of `linear_gd` + gamma_{n+d} (1 + cond(X)) ||w_T||
                             (the computed row space is exact for X + E, ||E|| <= gamma ||X||,
                             so it is tilted by up to gamma cond(X))
      distance_tolerance     rounding bound + gamma_{n+d} (1 + cond(X)) ||w*|| (the reference
                             w* is computed, with the same perturbation bound)
      null_preserved         | null_component - initial_null_component | <= null_tolerance
      contracts              rho < 1 in exact arithmetic (0 < lr mu_min, lr mu_max < 2): otherwise
                             the bound is void (rho^T is computed without rounding rho to 1)
      converged              contracts, null_component <= null_tolerance and
                             distance <= contraction_bound + distance_tolerance
      w, w_star, lr, mu_min, mu_max, rank, min_norm (||w*||), rounding_bound
    """
    X, y, w0 = _linear_inputs(X, y, w0, steps, lr)
    steps = _check_steps_lr(steps, lr)
    return _gd_min_norm_report(X, y, w0, _lr_or_nan(lr, X.dtype), steps)


@functools.partial(jax.jit, static_argnames="steps")
def _gd_min_norm_report(X, y, w0, lr, steps):
    n, d = X.shape
    dtype = X.dtype
    u = unit_roundoff(dtype)
    U, s, Vt, keep = _svd(X)
    lr = jnp.where(jnp.isnan(lr), _default_lr(s, n), lr)
    w_star = _pinv_apply(U, s, Vt, keep, y)
    run = _gd(X, y, w0, steps, lr)
    w = run["w"]

    def row_part(v):  # P v, through the (numerically) non-null right vectors
        return _mm(Vt.T, jnp.where(keep, _mm(Vt, v), 0))

    mu = s**2 / n
    mu_max = mu[0]
    mu_min = jnp.min(jnp.where(keep, mu, jnp.inf))
    rho = jnp.maximum(jnp.abs(1 - lr * mu_min), jnp.abs(1 - lr * mu_max))
    # rho^T without rounding rho first: 1 - lr mu_min rounds to 1.0 once mu_min / mu_max <
    # u (two rows 1e-9 apart), which would void a bound that still holds; log1p keeps it.
    a, b = lr * mu_min, lr * mu_max
    slow = jnp.where(
        a <= 1, jnp.exp(steps * jnp.log1p(-jnp.minimum(a, 1))), jnp.abs(1 - a) ** steps
    )
    rho_steps = jnp.maximum(slow, jnp.abs(1 - b) ** steps)
    contracts = (a > 0) & (b < 2)  # rho < 1 in exact arithmetic
    s_min = jnp.min(jnp.where(keep, s, jnp.inf))
    cond = s[0] / s_min
    null = jnp.linalg.norm(w - row_part(w))
    null0 = jnp.linalg.norm(w0 - row_part(w0))
    distance = jnp.linalg.norm(w - w_star)
    bound = rho_steps * jnp.linalg.norm(row_part(w0) - w_star)
    g = gamma(n + d, u) * (1 + cond)
    null_tol = run["rounding_bound"] + g * jnp.linalg.norm(w)
    dist_tol = run["rounding_bound"] + g * jnp.linalg.norm(w_star)
    min_norm = jnp.linalg.norm(w_star)
    return dict(
        distance=distance,
        relative_distance=distance / jnp.maximum(min_norm, jnp.finfo(dtype).tiny),
        null_component=null,
        initial_null_component=null0,
        contraction_factor=rho,
        contraction_bound=bound,
        null_tolerance=null_tol,
        distance_tolerance=dist_tol,
        null_preserved=jnp.abs(null - null0) <= null_tol + g * jnp.linalg.norm(w0),
        contracts=contracts,
        converged=contracts & (null <= null_tol) & (distance <= bound + dist_tol),
        w=w,
        w_star=w_star,
        lr=lr,
        mu_min=mu_min,
        mu_max=mu_max,
        rank=jnp.sum(keep),
        min_norm=min_norm,
        rounding_bound=run["rounding_bound"],
    )


__all__ = [
    "gaussian_kernel",
    "gd_min_norm_report",
    "kernel_classify",
    "kernel_interpolate",
    "kernel_predict",
    "linear_gd",
    "median_bandwidth",
    "min_norm_solution",
    "ntk_features",
    "ntk_gram",
    "ntk_gram_infinite",
    "ntk_min_norm_fit",
    "ntk_pattern_report",
    "ntk_predict",
    "ntk_weights",
    "ntk_width_for",
    "one_hot",
]
