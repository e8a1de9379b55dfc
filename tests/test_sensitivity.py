"""Loss sensitivity through unrolled SGD (docs/papers/arpit2017.md §3) and the Gini
coefficient. Float64 (conftest): the unrolled gradient is checked against central finite
differences of an independent, plain-Python SGD loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.metrics.sensitivity import (class_loss_sensitivity, gini, logistic_loss,
                                        loss_sensitivity, sgd_batch_indices, sgd_unroll,
                                        softmax_cross_entropy)

D, H, K, N, BATCH, LR, STEPS = 4, 6, 3, 12, 4, 0.5, 4
CHECKPOINTS = (0, 2, 4)


def mlp_apply(params, X):
    W1, b1, W2, b2 = params
    return jnp.tanh(X @ W1 + b1) @ W2 + b2


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    params0 = (jnp.asarray(rng.normal(size=(D, H))), jnp.asarray(rng.normal(size=H) * 0.1),
               jnp.asarray(rng.normal(size=(H, K))), jnp.asarray(rng.normal(size=K) * 0.1))
    X = jnp.asarray(rng.normal(size=(N, D)))
    Y = jnp.asarray(np.arange(N) % K)
    return params0, X, Y


def initialisations(params0):
    """Two initialisations stacked on a leading axis: every check below runs on a vmap over
    them, which tests vmapping and (the vmapped computation being compiled once, with path and
    ord traced) keeps the test to one compilation of the unrolled gradient."""
    return jax.tree_util.tree_map(lambda p: jnp.stack([p, 0.5 * p]), params0)


def init(params, i):
    return jax.tree_util.tree_map(lambda p: p[i], params)


def run(problem, **kwargs):
    params0, X, Y = problem
    kw = dict(lr=LR, steps=STEPS, batch_size=BATCH, checkpoints=CHECKPOINTS,
              return_gradients=True) | kwargs
    return jax.vmap(lambda p: loss_sensitivity(jax.random.key(0), mlp_apply,
                                               softmax_cross_entropy, p, X, Y, **kw))(
        initialisations(params0))


@pytest.fixture(scope="module")
def full(problem):
    return run(problem)


def _mean_loss(p, Xb, Yb):
    return jnp.mean(softmax_cross_entropy(mlp_apply(p, Xb), Yb))


def _reference(params0, X, Y, batch_indices, X_updates, t):
    """Plain SGD (no scan, no checkpoint, no cond): the full training loss after t steps,
    the minibatches taking their inputs from X_updates."""
    params = params0
    for s in range(t):                       # a Python loop: t explicit, unrolled steps
        idx = batch_indices[s]
        g = jax.grad(_mean_loss)(params, X_updates[idx], Y[idx])
        params = jax.tree_util.tree_map(lambda p, gi: p - LR * gi, params, g)
    return _mean_loss(params, X, Y)


reference_loss = jax.jit(_reference, static_argnames="t")
# d/dX of the final loss only, the updates seeing X as a constant: the "direct" path
reference_direct_grad = jax.jit(jax.grad(_reference, argnums=1), static_argnames="t")


@pytest.mark.slow
def test_t0_is_the_plain_input_gradient(problem, full):
    params0, X, Y = problem
    params = initialisations(params0)
    batches = np.asarray(full["batch_indices"][0])
    for i in range(2):
        p = init(params, i)
        grad0 = np.asarray(reference_direct_grad(p, X, Y, batches, X, t=0))
        np.testing.assert_allclose(np.asarray(full["gradients"][i, 0]), grad0, rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(np.asarray(full["g"][i, 0]), np.abs(grad0).sum(1),
                                   rtol=1e-12)
        assert float(full["losses"][i, 0]) == pytest.approx(
            float(reference_loss(p, X, Y, batches, X, t=0)), rel=1e-12)


def test_unrolled_gradient_matches_finite_differences(problem, full):
    params0, X, Y = problem
    params = initialisations(params0)
    batches = np.asarray(full["batch_indices"][0])
    h = 1e-5
    for i in range(2):
        p = init(params, i)
        for row, t in enumerate(CHECKPOINTS[1:], start=1):
            assert float(full["losses"][i, row]) == pytest.approx(
                float(reference_loss(p, X, Y, batches, X, t=t)), rel=1e-12)
            for n, j in ((0, 1), (5, 3), (11, 0)):
                e = jnp.zeros_like(X).at[n, j].set(h)
                fd = (reference_loss(p, X + e, Y, batches, X + e, t=t)
                      - reference_loss(p, X - e, Y, batches, X - e, t=t)) / (2 * h)
                got = float(full["gradients"][i, row, n, j])
                assert got == pytest.approx(float(fd), rel=1e-6, abs=1e-10), (i, t, n, j)


def test_gradient_goes_through_the_updates(problem, full):
    params0, X, Y = problem
    params = initialisations(params0)
    direct, indirect = run(problem, path="direct"), run(problem, path="indirect")
    gf, gd, gi = (np.asarray(o["gradients"]) for o in (full, direct, indirect))
    batches = np.asarray(full["batch_indices"][0])
    for i in range(2):
        for row, t in enumerate(CHECKPOINTS):   # direct = the input gradient at theta_t
            ref = reference_direct_grad(init(params, i), X, Y, batches, X, t=t)
            np.testing.assert_allclose(gd[i, row], np.asarray(ref), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gf, gd + gi, rtol=1e-10, atol=1e-13)   # linearity of d/dX
    np.testing.assert_array_equal(gi[:, 0], 0.0)                       # t = 0: no updates yet
    for i in range(2):
        for row in (1, 2):   # after updates the paths differ, by a lot
            assert np.abs(gf[i, row] - gd[i, row]).max() > 1e-2 * np.abs(gf[i, row]).max()


def test_norms_and_average(problem, full):
    grads = np.asarray(full["gradients"])
    np.testing.assert_allclose(np.asarray(full["g"]), np.abs(grads).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(full["g_mean"]), np.asarray(full["g"]).mean(1),
                               rtol=1e-12)
    for ord, ref in ((2, np.sqrt((grads ** 2).sum(-1))), (np.inf, np.abs(grads).max(-1))):
        np.testing.assert_allclose(np.asarray(run(problem, ord=ord)["g"]), ref, rtol=1e-10)


def test_batch_order_fixed_by_key(full):
    a = np.asarray(sgd_batch_indices(jax.random.key(1), 10, 3, 7))
    b = np.asarray(sgd_batch_indices(jax.random.key(1), 10, 3, 7))
    c = np.asarray(sgd_batch_indices(jax.random.key(2), 10, 3, 7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (7, 3)
    for epoch in (a[0:3], a[3:6]):            # 3 batches per epoch, no row twice in an epoch
        assert len(set(epoch.ravel().tolist())) == 9
    np.testing.assert_array_equal(np.asarray(full["batch_indices"][0]),
                                  np.asarray(sgd_batch_indices(jax.random.key(0), N, BATCH,
                                                               STEPS)))


def test_logistic_loss_is_the_two_class_cross_entropy():
    # the binary convention of jaxmem.metrics.csr: scalar f <-> logits [-f/2, f/2]
    f = jnp.asarray([-3.0, -0.2, 0.0, 0.7, 5.0])
    y = jnp.asarray([1.0, -1.0, 1.0, -1.0, 1.0])
    ce = softmax_cross_entropy(jnp.stack([-f / 2, f / 2], -1), ((y + 1) // 2).astype(int))
    np.testing.assert_allclose(np.asarray(logistic_loss(f, y)), np.asarray(ce), rtol=1e-12)


@pytest.mark.slow
def test_class_specific_matrix(problem, full):
    # unbatched, and the 9 backward sweeps three at a time (lax.map): checked against the
    # vmapped full-loss gradients of the first initialisation
    params0, X, Y = problem
    out = class_loss_sensitivity(jax.random.key(0), mlp_apply, softmax_cross_entropy, params0,
                                 X, Y, np.asarray(Y), num_classes=K, lr=LR, steps=STEPS,
                                 batch_size=BATCH, checkpoints=CHECKPOINTS,
                                 backward_batch=3, return_gradients=True)
    grads = np.asarray(out["gradients"])                # (m, k, N, D)
    # the class terms add up to the full loss, so their gradients add up to its gradient
    np.testing.assert_allclose(grads.sum(1), np.asarray(full["gradients"][0]), rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(np.asarray(out["losses"]).sum(1), np.asarray(full["losses"][0]),
                               rtol=1e-12)
    onehot = np.eye(K)[np.asarray(Y)]
    norms = np.abs(grads).sum(-1)                        # (m, k, N)
    ref = norms @ onehot / onehot.sum(0)
    np.testing.assert_allclose(np.asarray(out["per_checkpoint"]), ref, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(out["matrix"]), ref.mean(0), rtol=1e-12)
    t0 = np.asarray(out["per_checkpoint"][0])
    np.testing.assert_array_equal(t0[~np.eye(K, dtype=bool)], 0.0)   # t = 0: diagonal only
    assert np.all(np.diag(t0) > 0)
    assert np.all(np.asarray(out["per_checkpoint"][2]) > 0)       # later: every class pair


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), "lr must be > 0"),
    (dict(batch_size=13), r"batch_size must lie in \[1, N = 12\]"),
    (dict(checkpoints=(0, 5)), r"checkpoints must lie in \[0, steps = 4\]"),
    (dict(checkpoints=()), "checkpoints must be a non-empty"),
    (dict(ord=3), "ord must be 1, 2 or inf"),
    (dict(path="both"), "path must be one of"),
    (dict(steps=-1), "steps must be >= 0"),
])
def test_bad_arguments_raise(problem, kwargs, match):
    params0, X, Y = problem
    kw = dict(lr=LR, steps=STEPS, batch_size=BATCH, checkpoints=CHECKPOINTS) | kwargs
    with pytest.raises(ValueError, match=match):
        loss_sensitivity(jax.random.key(0), mlp_apply, softmax_cross_entropy, params0, X, Y,
                         **kw)


def test_bad_data_raises(problem):
    params0, X, Y = problem
    kw = dict(lr=LR, steps=STEPS, batch_size=BATCH)
    with pytest.raises(ValueError, match="X has NaN or inf"):
        loss_sensitivity(jax.random.key(0), mlp_apply, softmax_cross_entropy, params0,
                         X.at[3, 1].set(jnp.nan), Y, **kw)
    with pytest.raises(ValueError, match="Y must have N = 12 rows"):
        loss_sensitivity(jax.random.key(0), mlp_apply, softmax_cross_entropy, params0, X, Y[:5],
                         **kw)
    with pytest.raises(ValueError, match="per-example losses of shape"):
        loss_sensitivity(jax.random.key(0), mlp_apply,
                         lambda o, y: jnp.mean(softmax_cross_entropy(o, y)), params0, X, Y, **kw)
    with pytest.raises(ValueError, match=r"classes must lie in \[0, num_classes = 2\)"):
        class_loss_sensitivity(jax.random.key(0), mlp_apply, softmax_cross_entropy, params0, X,
                               Y, np.asarray(Y), num_classes=2, **kw)


def test_sgd_unroll_matches_reference(problem):
    params0, X, Y = problem
    batches = sgd_batch_indices(jax.random.key(0), N, BATCH, STEPS)
    unroll = jax.jit(sgd_unroll, static_argnums=(0, 1))
    params = unroll(mlp_apply, softmax_cross_entropy, params0, X, Y, batches, LR)
    assert float(jax.jit(_mean_loss)(params, X, Y)) == pytest.approx(
        float(reference_loss(params0, X, Y, batches, X, t=STEPS)), rel=1e-12)


# ---------------------------------------------------------------- Gini coefficient

def gini_pairwise(g):
    g = np.asarray(g, float)
    n = len(g)
    return np.abs(g[:, None] - g[None, :]).sum() / (2 * n * n * g.mean())


def test_gini_matches_the_quadratic_definition():
    rng = np.random.default_rng(4)
    for n in (1, 7, 30):
        for draw in (rng.exponential(size=n), rng.uniform(size=n), rng.integers(0, 3, n) + 0.0):
            if draw.sum() == 0:
                continue
            assert float(gini(draw)) == pytest.approx(gini_pairwise(draw), rel=1e-12, abs=1e-15)


def test_gini_special_values_and_invariances():
    assert float(gini(np.full(30, 3.7))) == pytest.approx(0.0, abs=1e-15)
    assert float(gini(np.zeros(30))) == 0.0
    for n in (1, 7, 30):
        one = np.zeros(n)
        one[n // 2] = 2.5
        assert float(gini(one)) == pytest.approx((n - 1) / n, rel=1e-12)
    rng = np.random.default_rng(5)
    g = rng.exponential(size=30)
    assert float(gini(5 * g)) == pytest.approx(float(gini(g)), rel=1e-12)
    assert float(gini(rng.permutation(g))) == pytest.approx(float(gini(g)), rel=1e-12)
    batch = rng.exponential(size=(7, 30))
    np.testing.assert_allclose(np.asarray(gini(batch)), [gini_pairwise(b) for b in batch],
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gini(batch.T, axis=0)), np.asarray(gini(batch)),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.vmap(gini)(jnp.asarray(batch))),
                               np.asarray(gini(batch)), rtol=1e-12)
    # more unequal: moving mass from a small value to the largest raises G
    h = np.sort(g)
    h[0] -= 0.5 * h[0]
    h[-1] += 0.5 * np.sort(g)[0]
    assert float(gini(h)) > float(gini(g))


@pytest.mark.parametrize("values, match", [
    (np.array([1.0, -0.1]), "values must be >= 0"),
    (np.array([1.0, np.nan]), "NaN or inf"),
    (np.zeros(0), "empty"),
    (np.float64(1.0), "at least one axis"),
])
def test_gini_bad_input(values, match):
    with pytest.raises(ValueError, match=match):
        gini(values)
