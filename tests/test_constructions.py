"""Constructions: exact interpolation and the papers' unit and parameter counts, over many
random datasets in float64; degenerate inputs become flags; float32 failure is reported."""

import functools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import chex
import numpy as np
import pytest
import scipy.linalg

from jaxmem import exact, metrics, network
from jaxmem.constructions import bubeck2020, zhang2017
from jaxmem.data import gaussian
from jaxmem.sweep import batched, run_chunked


def _keys(seed, count):
    return jax.random.split(jax.random.key(seed), count)


# Checks of one dataset at a time run compiled: a builder or a metric dispatched op by op
# compiles every primitive for every new shape, seconds per test.
@functools.partial(jax.jit, static_argnames=("n", "d", "labels"))
def zhang_dataset(data_key, build_key, n, d, labels="gaussian", theta=0.01):
    """gaussian(data_key, n, d, labels) and Theorem 1's network on it (theta traced)."""
    X, y = gaussian(data_key, n, d, labels=labels)
    net, info = zhang2017.build(build_key, X, y, theta=theta)
    return X, y, net, info


# ---- Zhang et al. 2017, Theorem 1 -------------------------------------------------------

def zhang_trial(key, n, d):
    """Theorem 1's network on gaussian data: its fit, float32 report and counts, and the
    dataset and weights (one batch serves the counts, float32 and per-dataset tests)."""
    X, y = gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")
    net, info = zhang2017.build(jax.random.fold_in(key, 1), X, y)
    fit = metrics.fit_report(net, X, y)
    f32 = metrics.float32_report(net, X, y)
    return dict(interpolates=fit["interpolates"], valid=info["valid"],
                shared=info["shared_param_count"], dense=network.param_count(net),
                nonzero=network.nonzero_param_count(net), err=fit["max_abs_error"],
                deployable_f32=f32["deployable_f32"], err_f32=f32["max_abs_error_f32"],
                X=X, y=y, weights=info["weights"])


@functools.cache
def zhang_batch(n, d):
    """48 datasets of (n, d) in one chunk: one compile, shared by the tests that read it."""
    keys = _keys(n * 100 + d, 48)
    return keys, run_chunked(zhang_trial, keys, 48, n=n, d=d)


@pytest.mark.slow
@pytest.mark.parametrize("n,d", [(1, 1), (64, 1), (300, 10)])   # one point, d = 1, general
def test_zhang_interpolates_with_2n_plus_d_weights(n, d):
    _, out = zhang_batch(n, d)
    assert out["valid"].all() and out["interpolates"].all()
    assert (out["shared"] == 2 * n + d).all()                  # Theorem 1's count
    assert (out["dense"] == n * (d + 1) + (n + 1)).all()       # sum n_out (n_in + 1)
    # The dense net's only zero parameter is the output bias (Gaussian data: a, b, w != 0).
    assert (out["nonzero"] == n * (d + 1) + n).all()


@pytest.mark.slow
def test_zhang_knots_interleave_and_recurrence_solves_lemma1_system():
    # 200 points in R^10 with sign labels: the midpoint test's compiled build (the system
    # and the recurrence are the same for any labels)
    X, y, net, info = zhang_dataset(jax.random.key(3), jax.random.key(4), 200, 10,
                                    labels="sign", theta=0.01)
    ts = np.sort(np.asarray(X @ info["direction"]))
    b = np.asarray(info["knots"])
    assert np.all(b < ts) and np.all(ts[:-1] < b[1:])          # b_1 < t_1 < b_2 < ... < t_n
    A = np.maximum(ts[:, None] - b[None, :], 0)
    w_ref = scipy.linalg.solve_triangular(A, np.asarray(y)[np.argsort(np.asarray(X @ info["direction"]))],
                                          lower=True)
    w = np.asarray(info["weights"])
    # Both solve the same triangular system; compare through the residual scale |A||w|.
    scale = np.abs(A) @ np.abs(w_ref)
    assert np.all(np.abs(A @ w - A @ w_ref) <= 64 * np.finfo(float).eps * scale.max())
    # Lemma 1's smallest eigenvalue, min_i (t_i - b_i), against LAPACK's eigenvalues of A
    # (not against the same min(ts - b) the module computed).
    smallest = float(np.min(np.real(np.linalg.eigvals(A))))
    eig_error = A.shape[0] * np.finfo(float).eps * np.linalg.norm(A)   # backward-stable eig
    assert abs(float(info["min_diagonal"]) - smallest) <= eig_error


@pytest.mark.slow
def test_zhang_midpoint_knots_give_larger_weights():
    """zhang2017.md §2: theta = 1/2 makes the recurrence alternate, weights grow 10-1000x."""
    ratios = []
    for seed in range(8):
        keys = jax.random.key(seed), jax.random.key(99)
        *_, near = zhang_dataset(*keys, 200, 10, labels="sign", theta=0.01)
        *_, mid = zhang_dataset(*keys, 200, 10, labels="sign", theta=0.5)
        ratios.append(float(jnp.sum(jnp.abs(mid["weights"])) / jnp.sum(jnp.abs(near["weights"]))))
    assert np.median(ratios) > 10


@functools.cache
def _six_points():
    # 6 points in R^2 for the tie, bad-input and projection tests, drawn once by a compiled
    # draw (dispatched op by op, every op of it compiles on its own)
    return jax.jit(gaussian, static_argnums=(1, 2), static_argnames="labels")(
        jax.random.key(5), 6, 2, labels="gaussian")


def test_zhang_projection_tie_is_a_flag_not_an_exception():
    X, y = _six_points()
    X = X.at[3].set(X[1])          # a repeated point: every projection ties
    y = y.at[3].set(y[1])
    _, info = jax.jit(zhang2017.build)(jax.random.key(0), X, y)   # traced: no validation
    assert not bool(info["valid"])
    with pytest.raises(ValueError, match="rows 1 and 3"):
        zhang2017.build(jax.random.key(0), X, y)                 # concrete: validated


@pytest.mark.slow
def test_vmapped_equals_per_dataset():
    """Data are bitwise identical; flags and counts equal; weights equal up to rounding (a
    batched matmul may sum in another order, and weights ~ 1/gap amplify the last bits).
    The batch is the general case's of the count test above (run_chunked, compiled once)."""
    keys, batch = zhang_batch(300, 10)
    single_trial = jax.jit(zhang_trial, static_argnums=(1, 2))   # one compile, not one per i
    for i in range(8):
        single = single_trial(keys[i], 300, 10)
        assert np.array_equal(batch["X"][i], single["X"])
        assert np.array_equal(batch["y"][i], single["y"])
        for name in ("interpolates", "valid", "shared", "dense", "nonzero"):
            assert batch[name][i] == single[name], name
        np.testing.assert_allclose(batch["weights"][i], single["weights"], rtol=1e-9)


@pytest.mark.slow
def test_no_recompilation_on_second_batch_of_same_shape():
    # chex.assert_max_traces raises on a second trace of the trial, i.e. a recompilation.
    # (The count test's d = 1 shapes, 48 keys: XLA's program comes from the session's cache.)
    traced_once = chex.assert_max_traces(zhang_trial, n=1)
    f = batched(traced_once, n=64, d=1)
    f(_keys(1, 48))
    f(_keys(2, 48))
    # A padded last chunk reuses the same compilation: 60 keys in chunks of 48 (a retrace
    # would be the second and raise).
    out = run_chunked(traced_once, _keys(3, 60), 48, n=64, d=1)
    assert len(out["valid"]) == 60
    # the check can fail: another shape is a second trace
    with pytest.raises(AssertionError, match="traced > 1 times"):
        f(_keys(4, 96))
    chex.clear_trace_counter()      # the counter is per function, across wrappers


@pytest.mark.slow
def test_float32_failure_is_reported_at_large_n():
    # the count test's batches: 48 datasets of 300 points in R^10, and of one point
    _, large = zhang_batch(300, 10)
    assert large["interpolates"].all()                         # exact in float64
    assert not large["deployable_f32"].any()                   # but not in float32
    assert (large["err_f32"] > 1e-3).all()
    _, small = zhang_batch(1, 1)
    assert small["deployable_f32"].all()                       # the report can pass


def test_zhang_rejects_bad_options_and_input():
    X, y = _six_points()
    with pytest.raises(ValueError, match="theta"):
        zhang2017.build(jax.random.key(0), X, y, theta=1.0)
    with pytest.raises(ValueError, match="rows 2"):
        zhang2017.build(jax.random.key(0), X.at[2, 1].set(jnp.nan), y)
    with pytest.raises(ValueError, match="k = 7"):
        zhang2017.build_depth_k(jax.random.key(0), X, y, k=7)


# ---- depth k ----------------------------------------------------------------------------

def depth_k_trial(key, n, d, k):
    X, y = gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")
    net, info = zhang2017.build_depth_k(jax.random.fold_in(key, 1), X, y, k=k)
    return dict(interpolates=metrics.interpolates(net, X, y), valid=info["valid"],
                widths=network.widths(net))


@pytest.mark.slow
# k = 1 (no carry layers), k = n (one unit a block), a padded last block
@pytest.mark.parametrize("n,k", [(10, 1), (10, 10), (97, 5)])
def test_depth_k_width_and_exactness(n, k):
    out = run_chunked(depth_k_trial, _keys(n + k, 16), 16, n=n, d=3, k=k)
    assert out["valid"].all() and out["interpolates"].all()
    assert out["widths"].shape[1] == k                                # k hidden layers
    assert (out["widths"].max(axis=1) == math.ceil(n / k) + 2).all()
    # Hidden units beyond the carries add up to n: every unit of Theorem 1 appears once.
    assert (out["widths"].sum(axis=1) - 2 * k == n).all()


# ---- Bubeck et al. 2020 and Baum 1988 ---------------------------------------------------

def bubeck_network(key, n, d):
    X, y = gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")
    net, info = bubeck2020.build(jax.random.fold_in(key, 1), X, y)
    return net, info, X, y


bubeck_network_jit = jax.jit(bubeck_network, static_argnums=(1, 2))


@functools.cache
def bubeck_exact_rebuild(seed, i, n, d):
    """Dataset i of the batch drawn from _keys(seed, 200): its float64 network, and whether
    the construction rebuilt in rational arithmetic is valid and interpolates exactly, with
    its parameter count (cached: the (200, 10) batch's dataset 188 is checked by two tests)."""
    key = _keys(seed, 200)[i]
    net, _, X, y = bubeck_network_jit(key, n, d)
    exact_net, info = bubeck2020.build_exact_from_key(jax.random.fold_in(key, 1), X, y)
    f = exact.apply(exact_net, np.asarray(X).astype(object), allow_float=True)
    fits = all(fi == Fraction(float(yi)) for fi, yi in zip(f, np.asarray(y)))
    return net, X, y, bool(info["valid"]), fits, exact.param_count(exact_net)


def bubeck_trial(key, n, d):
    net, info, X, y = bubeck_network(key, n, d)
    fit = metrics.fit_report(net, X, y)
    return dict(interpolates=fit["interpolates"], decision=fit["decision"], valid=info["valid"],
                units=network.widths(net)[0], dense=network.param_count(net))


@pytest.mark.slow
@pytest.mark.parametrize("n,d", [(1, 4), (3, 4), (20, 20), (40, 1), (200, 10), (203, 7)])
def test_bubeck_relu_4_ceil_n_over_d_units(n, d):
    # n < d: one padded group; n = d: one group holds every point, and only the refined group
    # solve is exact enough; d = 1; many groups.
    out = run_chunked(bubeck_trial, _keys(n * 7 + d, 200), 200, n=n, d=d)
    assert out["valid"].all() and (out["decision"] != metrics.FAILS).all()
    # What float64 cannot decide (a few datasets at n = 200) is decided on the host: the
    # construction rebuilt in rational arithmetic interpolates exactly.
    for i in np.flatnonzero(out["decision"] == metrics.UNDECIDED):
        net, _, _, valid, fits, count = bubeck_exact_rebuild(n * 7 + d, int(i), n, d)
        assert valid
        assert fits
        assert count == int(network.param_count(net))
    assert (out["decision"] == metrics.UNDECIDED).mean() < 0.05
    units = 4 * math.ceil(n / d)
    assert (out["units"] == units).all()
    assert (out["dense"] == units * (d + 1) + units + 1).all()


def _point_near_a_hyperplane(gap, n=200, d=10, j=15):
    """Gaussian data with point j (of group 1) moved to distance `gap` from group 0's
    hyperplane: the construction's delta is ~gap, so its output weights are ~1/gap."""
    key = jax.random.key(n * 7 + d)
    X, y = gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")
    X = np.array(X)
    normal = np.linalg.svd(X[1:d] - X[0])[2][-1]
    X[j] -= (normal @ (X[j] - X[0]) - gap) * normal
    return jax.random.fold_in(key, 1), jnp.asarray(X), y


@pytest.mark.slow
def test_bubeck_float64_network_can_miss_a_label_that_the_exact_construction_fits():
    """A point 1e-13 from another group's hyperplane: the float64 network's rows s + delta v
    are rounded and the output divides their difference by delta ~ 1e-13, so it misses a
    label by ~1e-2 of the labels' scale: within the a-priori tolerance (the float check
    cannot decide it) but beyond the fit resolution; evaluated exactly, it FAILS; rebuilt in
    rationals (same key: same groups and offset), the construction fits."""
    key, X, y = _point_near_a_hyperplane(1e-13)
    net, info = bubeck2020.build(key, X, y)
    assert bool(info["valid"]) and float(info["min_gamma"]) < 2e-13
    fit = metrics.fit_report(net, X, y)
    assert int(fit["decision"]) == metrics.UNDECIDED
    assert float(fit["max_abs_error"]) > metrics.FIT_RESOLUTION * float(jnp.max(jnp.abs(y)))
    assert metrics.exact_fit_report(net, X, y)["decision"] == metrics.FAILS
    exact_net, exact_info = bubeck2020.build_exact_from_key(key, X, y)
    assert exact_info["valid"]
    f = exact.apply(exact_net, np.asarray(X).astype(object), allow_float=True)
    assert all(fi == Fraction(float(yi)) for fi, yi in zip(f, np.asarray(y)))


@pytest.mark.slow
def test_bubeck_and_baum_fit_groups_whose_affine_hull_passes_through_the_origin():
    """Two antipodal points in one group (in general position, yet on a line through 0): the
    hyperplanes are solved through a random offset, so both constructions fit, in float64
    and exactly (before the offset, every group solve <s, x_i> = 1 was singular here)."""
    X = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.3, 1.0], [2.0, 3.0], [-1.5, 0.7]])
    y = jnp.array([1.0, 2.0, -1.0, 0.5, 3.0])
    signs = jnp.array([1.0, 1.0, -1.0, -1.0, -1.0])  # the minority class is the antipodal pair
    for seed in range(3):
        key = jax.random.key(seed)
        net, info = bubeck2020.build(key, X, y)
        assert bool(info["valid"]) and int(metrics.fit_report(net, X, y)["decision"]) == metrics.FITS
        exact_net, exact_info = bubeck2020.build_exact_from_key(key, X, y)
        f = exact.apply(exact_net, np.asarray(X).astype(object), allow_float=True)
        assert exact_info["valid"] and list(f) == [Fraction(float(v)) for v in np.asarray(y)]
        net, info = bubeck2020.build_baum(key, X, signs)
        assert bool(info["valid"]) and bool(jnp.all(network.apply(net, X) == signs))
    # the origin as the offset (build_exact's default): the pair's group is singular
    assert not bubeck2020.build_exact(X, y)[1]["valid"]


@pytest.mark.slow
def test_baum_exact_rebuild_fits_where_float64_misses_and_catches_a_wrong_slab():
    """Two points 3e-8 apart in one slab (found by `jaxmem falsify baum1988.threshold`): with
    this key's offset the float64 group solve through them is numerically singular (the
    build is invalid and labels wrongly); the network rebuilt in rationals from the same key
    (groups, slab class, offset) labels every point. A slab over a point of the other class
    is caught exactly."""
    X = np.array([[-0.96642274, -0.21580431], [-0.96642276, -0.21580433],
                  [-0.66176116, -1.76405098], [1.27070881, 0.30256397],
                  [-0.7793769, 0.09827992]])
    y = np.array([-1.0, -1.0, 1.0, 1.0, 1.0])
    key = jax.random.key(1)
    net, info = bubeck2020.build_baum(key, jnp.asarray(X), jnp.asarray(y))
    assert not bool(info["valid"]) and not bool(jnp.all(network.apply(net, X) == y))
    exact_net, exact_info = bubeck2020.build_baum_exact_from_key(key, X, y)
    assert exact_info["valid"] and exact_info["hidden_units"] == int(info["hidden_units"]) == 2
    assert exact.param_count(exact_net) == 2 * (2 + 1) + 2 + 1
    target = [Fraction(float(v)) for v in y]
    assert list(exact.apply(exact_net, X.astype(object), allow_float=True)) == target
    wrong, _ = bubeck2020.build_baum_exact(X, y, [[2]], -1)  # a slab of class -1 over a +1 point
    assert list(exact.apply(wrong, X.astype(object), allow_float=True)) != target


def baum_trial(key, n, d):
    X, y = gaussian(jax.random.fold_in(key, 0), n, d, labels="sign")
    net, info = bubeck2020.build_baum(jax.random.fold_in(key, 1), X, y)
    f = network.apply(net, X)
    minority = jnp.minimum(jnp.sum(y > 0), jnp.sum(y < 0))
    return dict(exact=jnp.all(f == y), valid=info["valid"], units=network.widths(net)[0],
                minority=minority, reported_minority=info["minority_size"])


@pytest.mark.slow
@pytest.mark.parametrize("n,d", [(2, 1), (30, 1), (201, 3)])   # two points, d = 1, general
def test_baum_threshold_units(n, d):
    out = run_chunked(baum_trial, _keys(n * 3 + d, 32), 32, n=n, d=d)
    assert out["valid"].all()
    assert out["exact"].all()            # outputs are exactly +-1: no rounding at all
    assert (out["reported_minority"] == out["minority"]).all()
    assert (out["units"] == 2 * -(-out["minority"] // d)).all()
    assert (out["units"] <= math.ceil(n / d) + 1).all()


@pytest.mark.slow
def test_baum_single_class_under_jit():
    X, _ = gaussian(jax.random.key(0), 9, 2)
    y = jnp.ones(9)
    net, info = jax.jit(bubeck2020.build_baum)(jax.random.key(1), X, y)
    assert bool(info["valid"]) and int(network.widths(net)[0]) == 0
    assert bool(jnp.all(network.apply(net, X) == 1))
    with pytest.raises(ValueError, match="class -1 is empty"):
        bubeck2020.build_baum(jax.random.key(1), X, y)


@pytest.mark.slow
def test_bubeck_general_position_failure_is_flagged():
    # Three collinear points in R^2 with d = 2: a group's line passes through another point.
    X = jnp.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
    y = jnp.array([1.0, -1.0, 2.0, 0.5])
    build = jax.jit(bubeck2020.build)     # one compile for the six keys
    valid = []
    for seed in range(6):
        _, info = build(jax.random.key(seed), X, y)
        valid.append(bool(info["valid"]))
    assert not all(valid)   # some grouping pairs two collinear points with the third outside


def test_best_direction_takes_the_candidate_with_the_largest_gap():
    """Zhang's and Yun's shared projection: of 8 Gaussian candidates (the same draws as
    jax.random.normal(key, (8, d))), the one whose sorted projections' minimum gap is largest."""
    from jaxmem.constructions.projection import best_direction
    X, _ = _six_points()
    key = jax.random.key(6)
    U = np.asarray(jax.random.normal(key, (8, 2), X.dtype))
    gaps = [np.min(np.diff(np.sort(np.asarray(X) @ u))) for u in U]
    # compiled, as the builders call it (op by op, each candidate count costs ~0.6 s of compiles)
    best = jax.jit(best_direction, static_argnums=2)
    assert np.array_equal(np.asarray(best(key, X, 8)), U[int(np.argmax(gaps))])
    assert np.array_equal(np.asarray(best(key, X, 1)),
                          np.asarray(jax.random.normal(key, (1, 2), X.dtype))[0])
