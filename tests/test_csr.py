"""LASS critical samples (Arpit et al. 2017, lass_tf.py) against exact answers.

For a linear binary model f(x) = <w, x> + b the critical points at L_inf radius r are known
exactly (|f(x)| < r ||w||_1), so LASS's soundness (never a false flag, every witness inside the
box and flipping) is asserted exactly, and its recall measured. With noise = 0 the search is
deterministic, which pins the stop rule's iteration counts.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.metrics.csr import critical_sample_ratio, lass_critical, linear_critical_exact

R_PIX = 0.3 / 255
A_PIX = 0.25 / 255


def linear_apply(params, X):
    w, b = params
    return X @ w + b


def mlp_apply(params, X):
    W1, b1, W2, b2 = params
    return jnp.tanh(X @ W1 + b1) @ W2 + b2


def linear_data(seed, d, margins_over_R, r=R_PIX):
    """X in about [0.2, 0.8]^d with f(x_n) = margins_over_R[n] * r ||w||_1 exactly (up to
    rounding): each row is moved along w to the prescribed margin."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    b = 0.1
    R = r * np.abs(w).sum()
    m = np.asarray(margins_over_R) * R
    X0 = rng.uniform(0.2, 0.8, (len(m), d))
    X = X0 + ((m - (X0 @ w + b)) / (w @ w))[:, None] * w
    return (jnp.asarray(w), jnp.asarray(b)), X, m / R


def random_margins(seed, n, low, high):
    rng = np.random.default_rng(seed + 1000)
    return rng.uniform(low, high, n) * rng.choice([-1.0, 1.0], n)


def assert_witnesses(out, X, radius, predict, clip=(-np.inf, np.inf)):
    """Every flagged row's x_tilde lies in the box (up to the rounding of x + r) and the clip
    range, and its prediction differs from the original; unflagged rows stay in the box too."""
    crit = np.asarray(out["critical"])
    Xt = np.asarray(out["x_tilde"])
    slack = np.spacing(np.abs(X) + radius)          # fl(x + r) - x may exceed r by half an ulp
    assert np.all(np.abs(Xt - X) <= radius + slack)
    assert np.all((Xt >= clip[0]) & (Xt <= clip[1]))
    before, after = predict(X), predict(Xt)
    # flagged rows flip; unflagged rows' last iterate was evaluated and did not flip
    np.testing.assert_array_equal(before != after, crit)
    assert np.array_equal(np.asarray(out["predicted_class"]), before)


def linear_predict(params):
    w, b = (np.asarray(p) for p in params)
    return lambda X: (X @ w + b > 0).astype(int)


def test_linear_exact_matches_corner_enumeration():
    # f is linear, so its extremes over the box are at the 2^d corners.
    params, X, _ = linear_data(0, 3, random_margins(0, 40, 0.0, 2.0), r=0.05)
    w, b = (np.asarray(p) for p in params)
    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=3))) * 0.05
    f0 = X @ w + b
    fc = (X[:, None, :] + corners[None]) @ w + b
    brute = np.any((fc > 0) != (f0 > 0)[:, None], axis=1)
    np.testing.assert_array_equal(np.asarray(linear_critical_exact(w, b, X, 0.05)), brute)
    assert 0 < brute.sum() < len(brute)


@pytest.mark.slow
def test_lass_sound_and_recall_on_linear_model():
    params, X, rel = linear_data(1, 16, random_margins(1, 64, 0.0, 2.0))
    exact = np.asarray(linear_critical_exact(*params, X, R_PIX))
    out = lass_critical(jax.random.key(0), linear_apply, params, X, min_new=0,
                        return_adversarial=True)
    crit = np.asarray(out["critical"])
    assert not np.any(crit & ~exact), "LASS flagged a point that is not critical"
    assert_witnesses(out, X, R_PIX, linear_predict(params))
    recall = crit[exact].mean()
    assert exact.sum() >= 20 and recall >= 0.95, recall   # measured 1.0 (64 rows, d = 16)
    assert int(out["iterations_run"]) == 100 and not bool(out["stopped_by_rule"])
    first = np.asarray(out["iterations_to_flip"])
    assert np.all((first == -1) == ~crit)
    assert np.all((first[crit] >= 1) & (first[crit] <= 100))
    # The default stop rule (fewer than 20 new flags) stops after a couple of iterations and
    # still finds the points well inside the boundary.
    out20 = lass_critical(jax.random.key(0), linear_apply, params, X)
    crit20 = np.asarray(out20["critical"])
    assert not np.any(crit20 & ~exact)
    assert int(out20["iterations_run"]) < 100 and bool(out20["stopped_by_rule"])
    assert np.all(crit20[exact & (np.abs(rel) < 0.5)])


def test_lass_recall_near_the_boundary():
    # |f| in [0.9 R, R): every point is critical, but only near a corner of the box.
    params, X, _ = linear_data(2, 16, random_margins(2, 64, 0.9, 0.999))
    exact = np.asarray(linear_critical_exact(*params, X, R_PIX))
    assert exact.all()
    crit = np.asarray(lass_critical(jax.random.key(1), linear_apply, params, X,
                                    min_new=0)["critical"])
    assert crit.mean() >= 0.9, crit.mean()                  # measured 1.0


def test_far_points_never_flagged_even_with_large_noise():
    params, X, _ = linear_data(3, 16, random_margins(3, 64, 1.01, 3.0))
    assert not np.asarray(linear_critical_exact(*params, X, R_PIX)).any()
    for noise in (0.2 / 255, 50 * R_PIX):   # the projection keeps any noise inside the box
        out = lass_critical(jax.random.key(2), linear_apply, params, X, noise=noise, min_new=0,
                            return_adversarial=True)
        assert not np.asarray(out["critical"]).any()
        assert_witnesses(out, X, R_PIX, linear_predict(params))


def test_huge_radius_makes_everything_critical():
    params, X, _ = linear_data(4, 16, random_margins(4, 64, 0.0, 50.0))
    out = lass_critical(jax.random.key(3), linear_apply, params, X, radius=1e3, step=1.0)
    assert np.asarray(out["critical"]).all()
    mlp, Xm = mlp_problem()
    out = lass_critical(jax.random.key(3), mlp_apply, mlp, Xm, radius=1e3, step=1.0,
                        min_new=0, max_iter=30, return_adversarial=True)
    assert np.asarray(out["critical"]).all()


def _stop_rule_data(n_inner, n_ring, n_far):
    # noise = 0: iteration 1 moves f by a ||w||_1 = (a/r) R ~ 0.83 R, iteration 2 reaches the
    # corner (R), later iterations stay there. So inner points flip at 1, ring points at 2.
    margins = np.concatenate([np.linspace(0.05, 0.4, n_inner), np.linspace(0.88, 0.98, n_ring),
                              np.linspace(1.1, 2.0, n_far)])
    signs = np.where(np.arange(len(margins)) % 2 == 0, 1.0, -1.0)
    return linear_data(6, 16, margins * signs)


@pytest.mark.parametrize("n_inner, n_ring, min_new, max_iter, expect_run, expect_rule", [
    (25, 5, 20, 100, 2, True),    # 25 new at 1 (>= 20: go on), 5 new at 2 (< 20: stop)
    (10, 5, 20, 100, 1, True),    # fewer than 20 at the FIRST iteration already stops (the
                                  # count starts at 0: any set of < 20 rows stops after one)
    (25, 25, 20, 100, 3, True),   # 25, 25, then 0 new
    (25, 5, 0, 7, 7, False),      # min_new = 0 runs all max_iter
    (25, 5, 6, 100, 2, True),     # 5 < 6
    (25, 5, 5, 100, 3, True),     # 5 is not < 5: one more iteration, which adds 0
])
def test_stop_rule_counts(n_inner, n_ring, min_new, max_iter, expect_run, expect_rule):
    params, X, _ = _stop_rule_data(n_inner, n_ring, 64 - n_inner - n_ring)
    out = lass_critical(jax.random.key(0), linear_apply, params, X, noise=0.0, min_new=min_new,
                        max_iter=max_iter)
    assert int(out["iterations_run"]) == expect_run
    assert bool(out["stopped_by_rule"]) == expect_rule
    first = np.asarray(out["iterations_to_flip"])
    np.testing.assert_array_equal(first[:n_inner], 1)
    ring = first[n_inner:n_inner + n_ring]
    np.testing.assert_array_equal(ring, 2 if expect_run >= 2 else -1)
    np.testing.assert_array_equal(first[n_inner + n_ring:], -1)
    assert int(out["num_critical"]) == np.sum(first > 0)


def test_deterministic_given_key_and_noise_depends_on_it():
    params, X, _ = linear_data(8, 16, random_margins(8, 64, 0.0, 2.0))
    kw = dict(min_new=0, max_iter=20, return_adversarial=True)
    a = lass_critical(jax.random.key(4), linear_apply, params, X, **kw)
    b = lass_critical(jax.random.key(4), linear_apply, params, X, **kw)
    c = lass_critical(jax.random.key(5), linear_apply, params, X, **kw)
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    assert not np.array_equal(np.asarray(a["x_tilde"]), np.asarray(c["x_tilde"]))


def mlp_problem():
    rng = np.random.default_rng(9)
    mlp = (jnp.asarray(rng.normal(size=(8, 16))), jnp.asarray(rng.normal(size=16)),
           jnp.asarray(rng.normal(size=(16, 3))), jnp.asarray(rng.normal(size=3)))
    X = rng.uniform(0, 1, (48, 8))
    X[:8, 0] = 0.0                      # rows on the clip boundary
    return mlp, X


def test_multiclass_mlp_witnesses_and_clip():
    mlp, X = mlp_problem()
    predict = lambda Z: np.asarray(jnp.argmax(mlp_apply(mlp, jnp.asarray(Z)), -1))
    out = lass_critical(jax.random.key(6), mlp_apply, mlp, X, radius=0.05, step=0.02,
                        noise=0.01, min_new=0, max_iter=50, clip_min=0.0, clip_max=1.0,
                        return_adversarial=True)
    crit = np.asarray(out["critical"])
    assert 0 < crit.sum() < len(crit)
    assert_witnesses(out, X, 0.05, predict, clip=(0.0, 1.0))


def test_critical_sample_ratio_is_the_mean():
    params, X, _ = linear_data(13, 16, random_margins(13, 64, 0.0, 2.0))
    out = lass_critical(jax.random.key(8), linear_apply, params, X, min_new=0)
    csr = critical_sample_ratio(jax.random.key(8), linear_apply, params, X, min_new=0)
    assert float(csr) == np.asarray(out["critical"]).mean() > 0


@pytest.mark.slow
def test_vmap_over_models_matches_a_loop():
    params, X, _ = linear_data(10, 16, random_margins(10, 64, 0.0, 2.0))
    rng = np.random.default_rng(11)
    ws = jnp.asarray(params[0]) * jnp.asarray(rng.uniform(0.5, 1.5, (3, 1)))
    bs = jnp.asarray([0.1, 0.1, 0.1])
    keys = jax.random.split(jax.random.key(7), 3)
    run = lambda k, w, b: lass_critical(k, linear_apply, (w, b), X, max_iter=10)
    batched = jax.vmap(run)(keys, ws, bs)
    for i in range(3):
        single = run(keys[i], ws[i], bs[i])
        for name in ("critical", "iterations_to_flip", "iterations_run"):
            np.testing.assert_array_equal(np.asarray(batched[name][i]), np.asarray(single[name]))


@pytest.mark.parametrize("kwargs, X, match", [
    (dict(radius=0.0), None, "radius must be > 0"),
    (dict(radius=-1.0), None, "radius must be > 0"),
    (dict(radius=float("nan")), None, "radius must be finite"),
    (dict(step=-0.1), None, "step must be >= 0"),
    (dict(max_iter=0), None, "max_iter must be an int >= 1"),
    (dict(min_new=-1), None, "min_new must be an int >= 0"),
    (dict(clip_min=1.0, clip_max=0.0), None, "clip_min must be < clip_max"),
    ({}, np.full((4, 16), np.nan), "X has NaN or inf in rows"),
    ({}, np.zeros(16), r"X must have shape \(N, \*features\)"),
    ({}, np.zeros((4, 3)), r"apply_fn\(params, X\) fails on X of shape \(4, 3\)"),
])
def test_bad_input_raises_before_compiling(kwargs, X, match):
    params, X_ok, _ = linear_data(12, 16, random_margins(12, 4, 0.0, 1.0))
    with pytest.raises(ValueError, match=match):
        lass_critical(jax.random.key(0), linear_apply, params, X_ok if X is None else X,
                      **kwargs)


def test_bad_output_shape_named():
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"squeeze a single output column"):
        lass_critical(jax.random.key(0), lambda p, X: X @ p, jnp.ones((3, 1)), X)
    with pytest.raises(ValueError, match="linear_critical_exact|w must have shape"):
        linear_critical_exact(np.ones(2), 0.0, X, 0.1)
