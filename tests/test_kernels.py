"""jaxmem.training.kernels: the lazy NTK model (Gram = features' Gram = the defining sum, the
min-norm fit is numpy's min-norm least-squares solution and interpolates when N d >> n, K is
singular when N d < n or an activation pattern forces it, the finite-width Gram converges to
the arc-cosine kernel at rate 1/sqrt(N)); Gaussian kernel interpolation is exact and its
tolerance is not loose; GD on an over-parameterized linear model from 0 reaches numpy's
min-norm solution, and from w0 != 0 keeps w0's null-space part; bad input is rejected."""

import functools
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from jaxmem.training import kernels as K


# One OpenBLAS thread for the eigensolvers and SVDs (tests/conftest.py says why).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


# Test data from NumPy (no compilation); most tests share the shapes (N_PTS, D) and (10, 40)
# so that each jitted core compiles once.
N_PTS, D = 24, 6


def _sphere(seed, n=N_PTS, d=D):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return jnp.asarray(X), jnp.asarray(rng.standard_normal(n))


def _gauss(seed, n=N_PTS, d=D):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    return jnp.asarray(X), jnp.asarray(rng.standard_normal(n))


# ---------------------------------------------------------------------------------------------
# The lazy / NTK model
# ---------------------------------------------------------------------------------------------

def test_gram_is_the_feature_gram_and_the_defining_sum():
    N = 7
    X, _ = _sphere(0)
    W = K.ntk_weights(jax.random.key(1), N, D)
    F = np.asarray(K.ntk_features(W, X))
    G = np.asarray(K.ntk_gram(W, X))
    assert F.shape == (N_PTS, N * D)
    np.testing.assert_allclose(G, F @ F.T / (N * D), rtol=0, atol=1e-15)
    # The defining sum of docs/papers/montanari2020.md §1, unit by unit in NumPy.
    Xn, Wn = np.asarray(X), np.asarray(W)
    ref = sum(np.outer(Xn @ w > 0, Xn @ w > 0) * (Xn @ Xn.T) for w in Wn) / (N * D)
    np.testing.assert_allclose(G, ref, rtol=0, atol=1e-15)
    # Cross Gram K(X2, X) and the features of new points agree too.
    X2, _ = _sphere(2)
    np.testing.assert_allclose(K.ntk_gram(W, X2, X), np.asarray(K.ntk_features(W, X2)) @ F.T
                               / (N * D), rtol=0, atol=1e-15)
    # w_j ~ N(0, I/d): squared row norms average 1.
    big = K.ntk_weights(jax.random.key(3), 4000, D)
    assert abs(float(jnp.mean(jnp.sum(big ** 2, 1))) - 1) < 0.05


WIDE = 40                                                 # N d = 240 >> n = 24


def test_min_norm_fit_interpolates_and_is_numpys_min_norm_solution():
    X, y = _sphere(3)
    fit = K.ntk_min_norm_fit(jax.random.key(4), X, y, WIDE)
    assert bool(fit["nonsingular"]) and bool(fit["interpolates"]) and int(fit["rank"]) == N_PTS
    assert fit["max_residual"] <= fit["residual_tolerance"] < 1e-9
    W, A, alpha = fit["W"], fit["A"], fit["alpha"]
    f = K.ntk_predict(W, A, X)                            # the network itself fits y
    assert float(jnp.max(jnp.abs(f - y))) == pytest.approx(float(fit["max_residual"]), abs=1e-15)
    # a = pinv(F / sqrt(N)) y: the minimum-norm parameters with f(X) = y.
    F = np.asarray(K.ntk_features(W, X)) / np.sqrt(WIDE)
    a_ref = np.linalg.lstsq(F, np.asarray(y), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(A).ravel(), a_ref, rtol=0,
                               atol=1e-9 * np.linalg.norm(a_ref))
    assert float(fit["weight_norm"]) == pytest.approx(np.linalg.norm(a_ref), rel=1e-9)
    # The spectrum is NumPy's.
    lam = np.linalg.eigvalsh(np.asarray(K.ntk_gram(W, X)))
    assert float(fit["lambda_min"]) == pytest.approx(lam[0], rel=1e-8)
    assert float(fit["lambda_max"]) == pytest.approx(lam[-1], rel=1e-12)
    # Primal and dual forms agree off the data: f(x) = sum_i alpha_i K(x, x_i).
    Xt, _ = _sphere(5)
    np.testing.assert_allclose(K.ntk_predict(W, A, Xt), K.ntk_gram(W, Xt, X) @ alpha,
                               rtol=0, atol=1e-10)
    # The tolerance is not loose: a 1e-6 relative change of the coefficients breaks it.
    err_bad = jnp.max(jnp.abs(K.ntk_predict(W, A * (1 + 1e-6), X) - y))
    assert float(err_bad) > float(fit["residual_tolerance"])


def test_gram_is_singular_when_parameters_are_fewer_than_points():
    N = 3                                                 # N d = 18 < n = 24
    X, y = _sphere(6)
    fit = K.ntk_min_norm_fit(jax.random.key(7), X, y, N)
    assert int(fit["rank"]) <= N * D and not bool(fit["nonsingular"])
    assert not bool(fit["interpolates"]) and float(fit["max_residual"]) > 0.1
    assert all(np.all(np.isfinite(np.asarray(fit[k]))) for k in ("alpha", "A", "max_residual"))
    assert np.linalg.matrix_rank(np.asarray(K.ntk_gram(fit["W"], X))) <= N * D
    # The same points with N d = 10 n: non-singular, as numpy's matrix_rank says.
    wide = K.ntk_min_norm_fit(jax.random.key(7), X, y, WIDE)
    assert bool(wide["nonsingular"]) and bool(wide["interpolates"])
    assert np.linalg.matrix_rank(np.asarray(K.ntk_gram(wide["W"], X))) == N_PTS


def test_activation_patterns_force_singularity_whatever_the_width():
    X, y = _sphere(8)
    W = K.ntk_weights(jax.random.key(10), WIDE, D)
    noise = np.random.default_rng(9).standard_normal((D + 1, D))
    cluster = np.asarray(X[0]) + 1e-4 * noise             # d + 1 points in one cell (w.h.p.)
    Xc = jnp.asarray(np.concatenate([cluster, np.asarray(X[D + 1:])]))
    rep = K.ntk_pattern_report(W, Xc)
    assert int(rep["max_shared_pattern"]) == D + 1 and bool(rep["singular_by_pattern"])
    fit = K.ntk_min_norm_fit(jax.random.key(10), Xc, y, WIDE)   # same key: the same W
    assert not bool(fit["nonsingular"]) and not bool(fit["interpolates"])
    # Control: only d of them in the cell: the pattern no longer forces singularity.
    Xd = Xc.at[D].set(X[D])
    rep_d = K.ntk_pattern_report(W, Xd)
    assert int(rep_d["max_shared_pattern"]) == D and not bool(rep_d["singular_by_pattern"])
    assert bool(K.ntk_min_norm_fit(jax.random.key(10), Xd, y, WIDE)["nonsingular"])
    # A dead point (every <w_j, x> < 0) has a zero row.
    Wp = W.at[:, 0].set(jnp.abs(W[:, 0]) + 1.0)           # every w_j has w_j1 > 0 ...
    Xdead = X.at[0].set(-jnp.eye(D)[0])                   # ... so x = -e_1 is dead
    rep_dead = K.ntk_pattern_report(Wp, Xdead)
    dead_ref = np.all(np.asarray(Xdead) @ np.asarray(Wp).T <= 0, axis=1)
    assert dead_ref[0] and int(rep_dead["dead_points"]) == dead_ref.sum()
    assert bool(rep_dead["singular_by_pattern"])
    assert np.all(np.asarray(K.ntk_gram(Wp, Xdead))[dead_ref] == 0)


def test_finite_width_gram_converges_to_the_arc_cosine_kernel_like_one_over_sqrt_n():
    X, _ = _sphere(11)
    K_inf = np.asarray(K.ntk_gram_infinite(X))
    np.testing.assert_allclose(np.diag(K_inf), 1 / (2 * D), rtol=1e-12)   # |x| = 1, theta = 0
    assert np.allclose(K_inf, K_inf.T) and np.linalg.eigvalsh(K_inf)[0] > 0
    rng = np.random.default_rng(12)
    errors = []
    for N in (100, 1600, 25600):
        rms = [np.sqrt(np.mean((np.asarray(K.ntk_gram(rng.standard_normal((N, D)) / np.sqrt(D),
                                                      X)) - K_inf) ** 2)) for _ in range(4)]
        errors.append(np.mean(rms))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])            # sqrt(16) = 4 expected
    assert np.all((ratios > 2.5) & (ratios < 6.5)), (errors, ratios)


def test_ntk_fit_vmaps_over_datasets():
    B = 2
    keys = jax.random.split(jax.random.key(13), B)
    data = [_sphere(20 + b) for b in range(B)]
    Xs, ys = jnp.stack([X for X, _ in data]), jnp.stack([y for _, y in data])
    fit = jax.jit(jax.vmap(functools.partial(K.ntk_min_norm_fit, width=WIDE)))(keys, Xs, ys)
    assert fit["alpha"].shape == (B, N_PTS) and fit["A"].shape == (B, WIDE, D)
    for b in range(B):
        one = K.ntk_min_norm_fit(keys[b], Xs[b], ys[b], WIDE)
        assert bool(one["interpolates"]) and bool(fit["interpolates"][b])
        np.testing.assert_allclose(fit["A"][b], one["A"], rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Gaussian kernel interpolation
# ---------------------------------------------------------------------------------------------

def test_median_bandwidth_and_gaussian_kernel_follow_their_definitions():
    X, _ = _gauss(14)
    Xn = np.asarray(X)
    assert float(K.median_bandwidth(X)) == pytest.approx(np.median(pdist(Xn)), rel=1e-12)
    s = 0.7
    ref = np.exp(-((Xn[:, None, :] - Xn[None, :, :]) ** 2).sum(-1) / (2 * s * s))
    np.testing.assert_allclose(K.gaussian_kernel(X, X, s), ref, rtol=0, atol=1e-14)


def test_kernel_interpolation_is_exact_for_sign_and_one_hot_labels():
    X, _ = _gauss(15)
    y = jnp.asarray(np.sign(np.random.default_rng(16).standard_normal(N_PTS)))
    fit = K.kernel_interpolate(X, y)
    assert bool(fit["nonsingular"]) and bool(fit["interpolates"])
    assert fit["max_residual"] <= fit["residual_tolerance"]
    Kn = np.asarray(K.gaussian_kernel(X, X, fit["bandwidth"]))
    alpha_ref = np.linalg.solve(Kn, np.asarray(y))
    cond = float(fit["condition_number"])
    assert cond == pytest.approx(np.linalg.cond(Kn), rel=1e-6)
    np.testing.assert_allclose(fit["alpha"], alpha_ref, rtol=0,
                               atol=10 * N_PTS * cond * 2.2e-16 * np.linalg.norm(alpha_ref))
    assert np.array_equal(K.kernel_classify(X, fit["alpha"], X, fit["bandwidth"]), y)
    # The tolerance is cond * eps-sized, not loose: a 1e-8 relative error in alpha breaks it.
    bad = np.abs(Kn @ (np.asarray(fit["alpha"]) * (1 + 1e-8)) - np.asarray(y)).max()
    assert bad > float(fit["residual_tolerance"])
    # Five classes, one-hot targets: exact fit, argmax recovers every label.
    labels = jnp.asarray(np.random.default_rng(17).integers(0, 5, N_PTS))
    fit5 = K.kernel_interpolate(X, K.one_hot(labels, 5), bandwidth=1.5)
    assert fit5["alpha"].shape == (N_PTS, 5) and bool(fit5["interpolates"])
    assert float(fit5["bandwidth"]) == 1.5
    assert np.array_equal(K.kernel_classify(X, fit5["alpha"], X, 1.5), labels)
    Xt, _ = _gauss(18)
    assert np.all(np.isfinite(np.asarray(K.kernel_predict(X, fit5["alpha"], Xt, 1.5))))


def test_singular_kernels_give_a_flag_not_nans():
    X, _ = _gauss(19)
    y = jnp.ones(N_PTS).at[1].set(-1.0)
    dup = X.at[1].set(X[0])                              # same point, different labels
    fit = K.kernel_interpolate(dup, y)
    assert not bool(fit["nonsingular"]) and not bool(fit["interpolates"])
    assert float(fit["max_residual"]) > 0.5 and np.all(np.isfinite(np.asarray(fit["alpha"])))
    wide = K.kernel_interpolate(X, y, bandwidth=1e8)     # K = all ones to working precision
    assert int(wide["rank"]) == 1 and not bool(wide["interpolates"])


# ---------------------------------------------------------------------------------------------
# Minimum-norm linear interpolation and GD
# ---------------------------------------------------------------------------------------------

def test_min_norm_solution_is_numpys():
    X, y = _gauss(20, 10, 40)
    Xn, yn = np.asarray(X), np.asarray(y)
    w = np.asarray(K.min_norm_solution(X, y))
    np.testing.assert_allclose(w, np.linalg.lstsq(Xn, yn, rcond=None)[0], atol=1e-12)
    np.testing.assert_allclose(w, np.linalg.pinv(Xn) @ yn, atol=1e-12)
    np.testing.assert_allclose(w, Xn.T @ np.linalg.solve(Xn @ Xn.T, yn), atol=1e-12)
    np.testing.assert_allclose(Xn @ w, yn, atol=1e-12)


def test_gd_from_zero_reaches_the_min_norm_solution():
    X, y = _gauss(21, 10, 40)
    rep = K.gd_min_norm_report(X, y, steps=400)
    assert bool(rep["converged"]) and bool(rep["contracts"]) and bool(rep["null_preserved"])
    assert rep["null_component"] <= rep["null_tolerance"] < 1e-8
    assert rep["distance"] <= rep["contraction_bound"] + rep["distance_tolerance"]
    assert float(rep["relative_distance"]) < 1e-10
    np.testing.assert_allclose(rep["w"], np.linalg.pinv(np.asarray(X)) @ np.asarray(y),
                               atol=1e-10)
    # linear_gd is the same iteration as a NumPy loop, and its rounding bound covers the
    # (exactly zero in exact arithmetic) null-space part.
    out = K.linear_gd(X, y, steps=20)
    Xn, yn, w = np.asarray(X), np.asarray(y), np.zeros(40)
    lr = 10 / np.linalg.norm(Xn, 2) ** 2
    for _ in range(20):
        w = w - lr * Xn.T @ (Xn @ w - yn) / 10
    np.testing.assert_allclose(out["w"], w, atol=1e-13)
    assert float(out["lr"]) == pytest.approx(lr, rel=1e-12)
    P_null = np.eye(40) - np.linalg.pinv(Xn) @ Xn
    assert np.linalg.norm(P_null @ np.asarray(out["w"])) <= float(out["rounding_bound"])


def test_gd_from_a_nonzero_start_keeps_its_null_space_part():
    X, y = _gauss(22, 10, 40)
    w0 = jnp.asarray(np.random.default_rng(23).standard_normal(40))
    rep = K.gd_min_norm_report(X, y, steps=400, w0=w0)
    Xn = np.asarray(X)
    P_null = np.eye(40) - np.linalg.pinv(Xn) @ Xn
    null0 = np.linalg.norm(P_null @ np.asarray(w0))
    assert not bool(rep["converged"]) and bool(rep["null_preserved"])
    assert float(rep["initial_null_component"]) == pytest.approx(null0, rel=1e-10)
    assert float(rep["null_component"]) == pytest.approx(null0, rel=1e-10)
    # It converges instead to w* + P_null w0 (still an interpolant, not the min-norm one).
    np.testing.assert_allclose(rep["w"], np.asarray(rep["w_star"]) + P_null @ np.asarray(w0),
                               atol=1e-10)
    np.testing.assert_allclose(Xn @ np.asarray(rep["w"]), np.asarray(y), atol=1e-10)


def test_contraction_bound_is_attained_on_the_slowest_direction():
    X, _ = _gauss(24, 10, 40)
    v_min = np.linalg.svd(np.asarray(X))[2][9]          # the slowest right singular vector
    y = jnp.asarray(np.asarray(X) @ v_min)               # so w* = v_min, e_0 = -v_min
    rep = K.gd_min_norm_report(X, y, steps=15)
    assert float(rep["distance"]) == pytest.approx(float(rep["contraction_bound"]), rel=1e-8)
    assert bool(rep["converged"])
    # Too large a step (lr = 2.5 / mu_max) diverges: no contraction, not converged.
    mu_max = float(rep["mu_max"])
    bad = K.gd_min_norm_report(X, y, steps=15, lr=2.5 / mu_max)
    assert not bool(bad["contracts"]) and not bool(bad["converged"])


def test_gd_from_zero_finds_the_min_norm_least_squares_fit_when_inconsistent():
    X, y = _gauss(25, 10, 40)
    X = X.at[1].set(X[0])                                # rank 9, y[0] != y[1]: no interpolant
    rep = K.gd_min_norm_report(X, y, steps=400)
    assert int(rep["rank"]) == 9 and bool(rep["converged"])
    w_ls = np.linalg.lstsq(np.asarray(X), np.asarray(y), rcond=None)[0]
    np.testing.assert_allclose(rep["w_star"], w_ls, atol=1e-12)
    assert np.linalg.norm(np.asarray(rep["w"]) - w_ls) <= (float(rep["contraction_bound"])
                                                          + float(rep["distance_tolerance"]))


# ---------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the argument, before anything compiles
# ---------------------------------------------------------------------------------------------

_X = np.asarray(_gauss(26, 6, 3)[0])
_y = np.arange(6.0)
_nan_X = _X.copy()
_nan_X[3, 1] = np.nan
_inf_y = _y.copy()
_inf_y[2] = np.inf
_W = np.ones((5, 3))
_KEY = jax.random.key(0)

BAD = [
    (lambda: K.ntk_min_norm_fit(_KEY, _nan_X, _y, 4), "X has NaN or inf in rows 3"),
    (lambda: K.ntk_min_norm_fit(_KEY, _X, _y[:5], 4), r"y must have shape \(6,\)"),
    (lambda: K.ntk_min_norm_fit(_KEY, _X, _inf_y, 4), "y has NaN or inf in rows 2"),
    (lambda: K.ntk_min_norm_fit(_KEY, _X, _y, 0), "width must be a positive int"),
    (lambda: K.ntk_min_norm_fit(_KEY, _X[0], _y, 4), r"X must have shape \(n, d\)"),
    (lambda: K.ntk_gram(np.ones((5, 4)), _X), "W has 4 columns but the points have 3"),
    (lambda: K.ntk_predict(_W, np.ones((5, 2)), _X), "A .* must have the shape of W"),
    (lambda: K.ntk_features(_W, _nan_X), "X has NaN or inf in rows 3"),
    (lambda: K.kernel_interpolate(_X, _y, bandwidth=-1.0), "bandwidth must be a positive"),
    (lambda: K.kernel_interpolate(_X, _inf_y), "Y has NaN or inf in rows 2"),
    (lambda: K.kernel_interpolate(_X, np.ones((6, 2, 2))), r"Y must have shape \(6,\) or \(6, C\)"),
    (lambda: K.kernel_predict(_X, _y, np.ones((2, 4)), 1.0), "X has 4 columns but X_train has 3"),
    (lambda: K.one_hot(np.array([0, 3, 1]), 3), r"labels must lie in \[0, 3\); rows 1"),
    (lambda: K.linear_gd(_X, _y, 10, w0=np.ones(4)), r"w0 must have shape \(3,\)"),
    (lambda: K.linear_gd(_X, _y, 0), "steps must be a positive int"),
    (lambda: K.gd_min_norm_report(_X, _y, 10, lr=float("nan")), "lr must be a positive finite"),
    (lambda: K.min_norm_solution(_nan_X, _y), "X has NaN or inf in rows 3"),
]


@pytest.mark.parametrize("call,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_raises_a_clear_value_error(call, message, caplog):
    with caplog.at_level(logging.WARNING, logger="jax"), jax.log_compiles(True):
        with pytest.raises(ValueError, match=message):
            call()
    # Raised on the host, before JAX traced or compiled anything.
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]
