"""Yu, Gao, Zhang, Miao (NeurIPS 2024): the M1 network of Theorem 7.3 and Theorem 5.3's
projection memorizer (jaxmem/constructions/yu2024.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import network
from jaxmem.constructions import yu2024


def _data(seed, N=30, n=4, T=300):
    """N training points in [0, 1]^n with random +-1 labels (both present), T test points.
    The tests share the default shapes (also the lattice, the vmapped datasets and the chunks
    of test_cells_decide_only_points_inside_a_cell), so that M1's programs and the eager
    build's per-shape programs compile once for all of them: each new (N, n) costs ~2 s of
    eager compilation, each new test-set size ~2 s per evaluation method."""
    rng = np.random.default_rng(seed)
    X = rng.random((N, n))
    y = np.where(rng.random(N) < 0.5, 1.0, -1.0)
    y[:2] = [1.0, -1.0]
    return jnp.asarray(X), jnp.asarray(y), jnp.asarray(rng.random((T, n)))


@jax.jit
def _dense_and_tolerance(net, T):
    """The materialized network's outputs and twice its forward error bound (the materialized
    path's own rounding), compiled: op-by-op dispatch recompiles for every network size."""
    return network.apply(net, T), 2 * network.rounding_bound(net, T)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_implicit_equals_materialized_network(seed):
    X, y, T = _data(seed)
    m1, info = yu2024.build(None, X, y)
    net = yu2024.materialize(m1)
    dense, tol = _dense_and_tolerance(net, T)   # tol: the materialized path's own error
    for method in yu2024.METHODS:
        implicit = yu2024.apply(m1, T, method=method)
        assert jnp.all(jnp.abs(implicit - dense) <= tol)
        # Exact zeros (the band between cells) are exact on both paths.
        np.testing.assert_array_equal(np.asarray(implicit == 0), np.asarray(dense == 0))
    assert 0 < float(jnp.mean(dense == 0)) < 0.5   # the band is hit, so ties are exercised


@pytest.mark.slow
def test_pruned_cascade_matches_full_at_every_level():
    # The default shapes: the full program is shared with the tests above and below.
    X, y, T = _data(2)
    m1, _ = yu2024.build(None, X, y)
    full = yu2024.apply(m1, T, method="full")
    # candidates=1 forces the 8K fallback in some blocks; tiny blocks isolate them (several
    # blocks, the last one padded). (16, 300) is the default pruned program at T's size.
    for candidates, block in ((1, 7), (2, 16), (16, 300)):
        pruned = yu2024.apply(m1, T, candidates=candidates, block_size=block)
        np.testing.assert_allclose(np.asarray(pruned), np.asarray(full), rtol=0, atol=1e-15)
    # The fallbacks ran: not every point had at most one possible unit (the pruned path's
    # certified fraction; the same compiled program as apply's above). The cells path's
    # certified fraction, in (0, 1) also at tiny blocks: test_evaluate_by_cells_equals_...
    ev = yu2024.evaluate(m1, T, jnp.sign(T[:, 0] - 0.5), method="pruned", candidates=1,
                         block_size=7)
    assert float(ev["certified_fraction"]) < 1


@pytest.mark.slow
def test_parameter_counts_follow_the_formulas():
    X, y, _ = _data(3)
    m1, info = yu2024.build(None, X, y)
    net = yu2024.materialize(m1)
    n_pos, n_neg = int(jnp.sum(y > 0)), int(jnp.sum(y < 0))
    M, N, n = 2 * n_pos * n_neg, n_pos + n_neg, 4
    assert network.widths(net).tolist() == [M, N]
    assert int(network.param_count(net)) == info["dense_param_count"] \
        == M * (n + 1) + N * (M + 1) + N + 1
    # Continuous data: every first-layer weight and bias is nonzero; the output bias is 0.
    assert int(network.nonzero_param_count(net)) == info["sparse_param_count"] - 1 \
        == M * (n + 2) + 2 * N
    # The figures for one MNIST and one CIFAR-10 pair in docs/papers/yu2024.md §5.A.2.
    assert yu2024.param_counts(500, 500, 784)["sparse_param_count"] == 393_002_001
    assert yu2024.param_counts(500, 500, 784)["dense_param_count"] == 892_502_001
    assert yu2024.param_counts(3000, 3000, 3072)["sparse_param_count"] == 55_332_012_001


@pytest.mark.slow
def test_training_margins_and_cell_boundaries():
    X, y, _ = _data(4)
    m1, info = yu2024.build(None, X, y)
    tm = yu2024.training_margins(m1)
    assert bool(jnp.all(tm["ok"]))
    assert not bool(jnp.any(tm["undecided"]))
    assert bool(jnp.all(tm["margin_over_r"] >= 1 - tm["tolerance"]))
    assert float(jnp.max(tm["tolerance"])) < 1e-6    # rounding far below r on such data
    np.testing.assert_allclose(float(info["margin_r"]),
                               0.01 * float(info["min_opposite_sq_distance"]))
    bm = yu2024.boundary_margins(m1)
    assert int(jnp.sum(bm["inside"])) >= 1 and bool(jnp.all(bm["ok"]))


@pytest.mark.slow   # alone, ~5 s: M1's first eager build and margin programs
def test_split_one_half_is_caught_at_the_cell_boundary():
    """0.5 / 0.5: the training points still get margin r, but the cells of the closest
    opposite pair share their boundary, where F = 0 (Lemma H.2 needs 0.02 ||x_i - x_k||^2)."""
    X, y, _ = _data(4)
    broken, _ = yu2024.build(None, X, y, split=0.5)
    assert bool(jnp.all(yu2024.training_margins(broken)["ok"]))
    assert not bool(jnp.all(yu2024.boundary_margins(broken)["ok"]))


@pytest.mark.slow
def test_inside_cells_m1_is_one_nearest_neighbour_and_ties_are_errors():
    X, y, T = _data(5)
    m1, _ = yu2024.build(None, X, y)
    yT = jnp.where(T[:, 0] > 0.5, 1.0, -1.0)
    ev = yu2024.evaluate(m1, T, yT)
    out = yu2024.apply(m1, T)
    assert bool(ev["agree_with_nn_in_cells"])
    np.testing.assert_allclose(float(ev["accuracy"]), float(jnp.mean(jnp.sign(out) == yT)))
    np.testing.assert_allclose(float(ev["tie_fraction"]), float(jnp.mean(out == 0)))
    # Every point right under 1-NN but tied under M1 is an M1 error.
    assert float(ev["accuracy"]) <= float(ev["nn_accuracy"]) + 1 - float(ev["in_cell_fraction"])


@pytest.mark.slow
def test_vmapped_over_datasets_equals_one_at_a_time():
    rng = np.random.default_rng(6)
    Xs = jnp.asarray(rng.random((3, 30, 4)))          # _data's shapes: see below
    labels = np.where(rng.random((3, 30)) < 0.5, 1.0, -1.0)
    labels[:, :2] = [1.0, -1.0]                       # both classes in every dataset
    ys = jnp.asarray(labels)
    T = jnp.asarray(rng.random((300, 4)))

    def acc(X, y):
        return yu2024.evaluate(yu2024.build(None, X, y)[0], T, jnp.sign(T[:, 1] - 0.5))["accuracy"]

    batched = jax.jit(jax.vmap(acc))(Xs, ys)
    # One dataset at a time, as the other tests call it: the eager build and the evaluation
    # program of the default shapes, compiled once for the file.
    single = [float(acc(Xs[i], ys[i])) for i in range(3)]
    np.testing.assert_allclose(np.asarray(batched), single)


def test_bad_input_is_rejected_before_compiling():
    X, y, T = _data(7)
    with pytest.raises(ValueError, match="binary labels"):
        yu2024.build(None, X, y.at[3].set(0.5))
    with pytest.raises(ValueError, match="same point with different labels"):
        yu2024.build(None, X.at[1].set(X[0]), y)
    with pytest.raises(ValueError, match="split"):
        yu2024.build(None, X, y, split=1.2)
    # Compiled: op by op, M1's first build alone costs ~2 s of small programs.
    m1 = jax.jit(lambda X, y: yu2024.build(None, X, y)[0])(X, y)
    with pytest.raises(ValueError, match="shape"):
        yu2024.apply(m1, T[:, :2])
    with pytest.raises(ValueError, match="NaN or inf in row 4"):
        yu2024.apply(m1, T.at[4, 1].set(jnp.nan))
    with pytest.raises(ValueError, match="method"):
        yu2024.apply(m1, T, method="dense")
    with pytest.raises(ValueError, match="positive int"):
        yu2024.param_counts(0, 3, 4)


@pytest.mark.slow
def test_duplicate_points_of_one_label_are_allowed():
    X, y, T = _data(8, N=27)                # 30 points with the duplicates
    Xd = jnp.concatenate([X, X[:3]])
    yd = jnp.concatenate([y, y[:3]])
    m1, info = yu2024.build(None, Xd, yd)
    assert bool(info["valid"]) and bool(jnp.all(yu2024.training_margins(m1)["ok"]))


@pytest.mark.slow
def test_projection_memorizer_memorizes_and_scores_the_negative_mass():
    """Theorem 5.3's function: memorizes, yet labels fresh points -1."""
    rng = np.random.default_rng(9)
    X = jnp.asarray(rng.random((200, 6)))
    y = jnp.where(X[:, 0] > 0.5, 1.0, -1.0)
    # Compiled (the eager build, with its checks, is in the projection network test).
    net, info = jax.jit(yu2024.build_adversarial)(jax.random.key(0), X, y)
    assert bool(info["valid"])
    np.testing.assert_array_equal(np.asarray(net.apply(X)), np.asarray(y))
    T = jnp.asarray(rng.random((4000, 6)))
    yT = jnp.where(T[:, 0] > 0.5, 1.0, -1.0)
    acc = float(jnp.mean(net.apply(T) == yT))
    other = float(jnp.mean(yT != info["encoded_label"]))
    assert abs(acc - other) < 0.01 and other <= 0.5 + 0.03


@pytest.mark.slow
def test_evaluate_on_a_padded_test_set_equals_the_unpadded_one():
    X, y, T = _data(10)
    m1, _ = yu2024.build(None, X, y)
    yT = jnp.where(T[:, 0] > 0.5, 1.0, -1.0)
    plain = yu2024.evaluate(m1, T, yT)
    Tp = jnp.concatenate([T, jnp.zeros((14, T.shape[1]))])
    yp = jnp.concatenate([yT, jnp.zeros(14)])
    padded = yu2024.evaluate(m1, Tp, yp, valid=jnp.arange(314) < 300)
    for k in plain:
        np.testing.assert_allclose(float(padded[k]), float(plain[k]), rtol=1e-12)
    with pytest.raises(ValueError, match="row 3 is 0.5"):
        yu2024.evaluate(m1, T, yT.at[3].set(0.5))


@pytest.mark.slow
@pytest.mark.parametrize("block", [None, 9])
def test_evaluate_by_cells_equals_the_full_network(block):
    X, y, T = _data(11)
    m1, _ = yu2024.build(None, X, y)
    yT = jnp.where(T[:, 0] + T[:, 1] > 1, 1.0, -1.0)
    by_cells = yu2024.evaluate(m1, T, yT, block_size=block)
    full = yu2024.evaluate(m1, T, yT, method="full")
    for k in ("accuracy", "tie_fraction", "nn_accuracy", "in_cell_fraction"):
        np.testing.assert_allclose(float(by_cells[k]), float(full[k]), rtol=1e-12)
    assert 0 < float(by_cells["certified_fraction"]) < 1     # both paths are exercised


@pytest.mark.slow
def test_cells_decide_only_points_inside_a_cell():
    """Point by point, on test points packed around the cell boundaries (along segments
    between opposite training points): where the cells path certifies a point, the full
    network has the certified sign and |F| >= r, and the point lies in the cell (the cell test
    u_i(t) == 0 exactly: a test that let u_i(t) up to r pass would certify band points)."""
    X, y, _ = _data(5, T=1)
    m1, _ = yu2024.build(None, X, y)
    pos, neg = np.flatnonzero(np.asarray(y) > 0), np.flatnonzero(np.asarray(y) < 0)
    s = np.linspace(0.05, 0.95, 61)[:, None]
    segments = [(1 - s) * np.asarray(X)[i] + s * np.asarray(X)[j]
                for i in pos[:4] for j in neg[:4]]
    # Just outside each cell: past its boundary point p_i towards the nearest opposite x_j,
    # by half of r in S_ij, so that u_i(t) = r/2 (outside the cell, within r of it).
    P, _ = yu2024.cell_boundary_points(m1)
    Xn, r = np.asarray(X), float(m1.margin_r)
    dist = np.linalg.norm(Xn[:, None] - Xn[None], axis=-1)
    j = np.argmin(np.where(np.asarray(y)[:, None] != np.asarray(y)[None], dist, np.inf), axis=1)
    step = 0.5 * r / dist[np.arange(len(j)), j] ** 2
    outside = np.asarray(P) + step[:, None] * (Xn[j] - Xn)
    T = np.concatenate(segments + [outside])
    out_c, _, in_cell_c, cert = _evaluate_in_chunks(m1, T, "cells")
    out_f, _, in_cell_f, _ = _evaluate_in_chunks(m1, T, "full")
    assert cert.sum() >= 10 and (~cert).sum() >= 10   # both paths are exercised
    assert np.array_equal(np.sign(out_c), np.sign(out_f))
    assert np.all(np.abs(out_f[cert]) >= r * (1 - 1e-9))
    assert np.array_equal(np.asarray(in_cell_c), np.asarray(in_cell_f))


def _evaluate_in_chunks(m1, T, method, size=300):
    """_evaluate_blocks on the rows of T (NumPy), `size` at a time (the last chunk filled up
    with T's first rows, dropped again): the programs of the default test-set size, whatever
    T's length. Each row is evaluated on its own (the rows sharing its block can change only
    the summation order of F in the band, as T's blocks could before)."""
    Tp = np.concatenate([T, T[:-len(T) % size]])
    parts = [yu2024._evaluate_blocks(m1, Tp[i:i + size], method, yu2024.CANDIDATES, None)
             for i in range(0, len(Tp), size)]
    return [np.concatenate([np.asarray(p[k]) for p in parts])[:len(T)] for k in range(4)]


@pytest.mark.slow
def test_counts_without_materializing_equal_the_materialized_network():
    """param_count / nonzero_param_count (what the sweep records) against the network
    written out: on uniform points, and on lattice points that share coordinates (zero
    first-layer weights) and repeat."""
    X, y, _ = _data(12)
    rng = np.random.default_rng(12)
    lattice = rng.integers(0, 3, (30, 4)) / 2.0      # _data's shape: the same eager programs
    labels = np.where(np.sum(lattice, axis=1) % 1 == 0, 1.0, -1.0)
    labels[:2] = [1.0, -1.0]
    lattice[:2] = [[0, 0, 0, 0], [0.5, 0, 0, 0]]
    assert len(np.unique(lattice, axis=0)) < len(lattice)        # some points repeat
    for X_, y_ in ((X, y), (jnp.asarray(lattice), jnp.asarray(labels))):
        m1, info = yu2024.build(None, X_, y_)
        net = yu2024.materialize(m1)
        assert info["param_count"] == m1.param_count() == int(network.param_count(net))
        assert info["nonzero_param_count"] == int(m1.nonzero_param_count()) \
            == int(network.nonzero_param_count(net))
        assert info["paper_param_count"] == info["sparse_param_count"]
    assert info["nonzero_param_count"] < info["sparse_param_count"] - 1   # lattice zeros


@pytest.mark.slow
@pytest.mark.parametrize("split", [0.3, 0.001])
def test_implicit_evaluation_stays_exact_below_the_papers_split(split):
    """The pruning test holds for split >= 1/2 and the cells (Lemma H.2) for split >= 0.51:
    below, apply and evaluate fall back to the network, still equal to the one written out."""
    X, y, T = _data(13, N=30)
    m1, _ = yu2024.build(None, X, y, split=split)
    net = yu2024.materialize(m1)
    for points in (T, X):
        dense, tol = _dense_and_tolerance(net, points)
        for method in yu2024.METHODS:
            assert jnp.all(jnp.abs(yu2024.apply(m1, points, method=method) - dense) <= tol)
    yT = jnp.sign(T[:, 0] - 0.5)
    by_cells, full = yu2024.evaluate(m1, T, yT), yu2024.evaluate(m1, T, yT, method="full")
    assert float(by_cells["certified_fraction"]) == 0          # no cell decides a point
    # Equal up to exact ties, which the summation order of F decides (module docstring).
    assert abs(float(by_cells["accuracy"]) - float(full["accuracy"])) \
        <= max(float(by_cells["tie_fraction"]), float(full["tie_fraction"]))


@pytest.mark.slow
def test_split_below_one_percent_breaks_memorization():
    """a_ki(x_i) = split ||x_i - x_k||^2 < r: units of the other label survive at x_i."""
    X, y, _ = _data(14)
    assert bool(yu2024.sweep_trial(None, X, y)["ok"])
    outs = [yu2024.sweep_trial(None, *_data(seed)[:2], split=0.001)
            for seed in range(14, 20)]
    assert not all(bool(o["ok"]) for o in outs) and all(bool(o["valid"]) for o in outs)


@pytest.mark.slow
def test_projection_network_computes_the_memorizer_and_has_its_counted_size():
    # _data's shape (N, n) = (30, 4): the eager build shares some per-shape programs with M1's.
    rng = np.random.default_rng(15)
    X = jnp.asarray(rng.random((30, 4)))
    y = jnp.where(X[:, 0] > 0.5, 1.0, -1.0)
    mem, info = yu2024.build_adversarial(jax.random.key(1), X, y, tries=4)
    net = yu2024.materialize_projection(mem)
    T = jnp.asarray(rng.random((2000, 4)))
    np.testing.assert_array_equal(np.asarray(net.apply(X)), np.asarray(y))
    np.testing.assert_array_equal(np.asarray(net.apply(T)), np.asarray(mem.apply(T)))
    K = int(info["encoded_points"])
    assert K == int(jnp.sum(y == info["encoded_label"])) and 2 * K >= 30
    assert int(info["param_count"]) == yu2024.projection_param_count(K, 4) \
        == int(mem.param_count()) == int(network.param_count(net))
    assert int(info["nonzero_param_count"]) == int(network.nonzero_param_count(net)) \
        == yu2024.projection_param_count(K, 4) - 1
    assert network.widths(net).tolist() == [1, 2 * K, 1]
    trial = yu2024.adversarial_trial(jax.random.key(1), X, y, tries=4)
    assert bool(trial["ok"]) and float(trial["sign_accuracy"]) == 1
