"""Binned information-plane estimates (jaxmem.metrics.information), checked against exact
values, information inequalities and an independent NumPy implementation (np.unique)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.metrics import information as info

TOL = 1e-10


def _numpy_reference(T, y, bins, value_range=None):
    """H(T), H(T|Y), H(Y) in bits via np.digitize and np.unique over rows."""
    T = np.asarray(T, float)
    lo, hi = (T.min(), T.max()) if value_range is None else value_range
    inner = np.linspace(lo, hi, bins + 1)[1:-1]
    B = np.digitize(T, inner)             # 0..bins-1; values outside go to the end bins

    def H(rows):
        _, counts = np.unique(rows, axis=0, return_counts=True)
        p = counts / counts.sum()
        return -np.sum(p * np.log2(p))

    H_T = H(B)
    H_T_Y = sum(np.mean(y == c) * H(B[y == c]) for c in np.unique(y))
    return H_T, H_T_Y, H(y[:, None])


def test_distinct_rows_give_log2_n_and_constant_gives_zero():
    N = 64
    T = ((np.arange(N) + 0.5) / N)[:, None]           # one point per bin
    assert abs(float(info.binned_entropy(T, bins=N, value_range=(0, 1))) - 6.0) < TOL
    # Two columns that together (not separately) make every row distinct.
    T2 = np.stack([np.arange(N) % 8, np.arange(N) // 8], 1) + 0.5
    assert abs(float(info.binned_entropy(T2, bins=8, value_range=(0, 8))) - 6.0) < TOL
    assert float(info.binned_entropy(T2[:, :1], bins=8, value_range=(0, 8))) == \
        pytest.approx(3.0, abs=TOL)
    const = np.full((N, 5), 0.3)
    assert float(info.binned_entropy(const)) == 0.0      # own range is degenerate
    assert float(info.binned_entropy(const, bins=7, value_range=(-1, 1))) == 0.0
    y = np.arange(N) % 3
    d = info.layer_information(const, y)
    assert float(d["I_XT"]) == 0.0 and float(d["I_TY"]) == 0.0


def test_nats_are_bits_times_ln2():
    T = np.random.default_rng(0).normal(size=(200, 3))
    bits = float(info.binned_entropy(T, bins=5))
    nats = float(info.binned_entropy(T, bins=5, unit="nats"))
    assert nats == pytest.approx(bits * math.log(2), rel=1e-12)


def test_T_determining_Y_gives_I_TY_equal_H_Y():
    rng = np.random.default_rng(1)
    N = 200
    y = rng.choice(4, size=N, p=[0.5, 0.25, 0.15, 0.1])   # unbalanced: H(Y) < 2 bits
    H_Y = -sum(np.mean(y == c) * np.log2(np.mean(y == c)) for c in range(4))
    assert float(info.label_entropy(y)) == pytest.approx(H_Y, abs=TOL)
    # T = the label (plus within-bin jitter): H(T) = H(Y) and I(T;Y) = H(Y).
    T = (y + 0.5 + 0.2 * rng.uniform(-1, 1, N))[:, None]
    d = info.layer_information(T, y, bins=4, value_range=(0, 4))
    assert float(d["I_TY"]) == pytest.approx(H_Y, abs=TOL)
    assert float(d["I_XT"]) == pytest.approx(H_Y, abs=TOL)
    # T with all rows distinct also determines Y: I(T;Y) = H(Y) < I(X;T) = log2 N.
    i = np.arange(N)
    grid = np.stack([i % 20, i // 20, rng.uniform(0, 20, N)], 1)   # rows distinct in bins
    d = info.layer_information(grid, y, bins=20, value_range=(0, 20))
    assert float(d["I_XT"]) == pytest.approx(math.log2(N), abs=TOL)
    assert float(d["I_TY"]) == pytest.approx(H_Y, abs=TOL)
    assert float(d["H_Y"]) == pytest.approx(H_Y, abs=TOL)


def test_data_processing_inequality():
    rng = np.random.default_rng(2)
    N = 200
    y = rng.integers(0, 3, N)
    X = rng.normal(size=(N, 4))
    for bins in (2, 3, 5, 30):
        for width in (1, 3):
            T = np.tanh(X[:, :width] + 0.7 * y[:, None])   # partly informative about y
            d = info.layer_information(T, y, bins=bins, value_range=(-1, 1))
            I_XT, I_TY, H_Y = (float(d[k]) for k in ("I_XT", "I_TY", "H_Y"))
            assert -TOL <= I_TY <= min(I_XT, H_Y) + TOL, (bins, width, d)


def test_coarser_nested_bins_never_increase_entropy():
    rng = np.random.default_rng(3)
    T = rng.normal(size=(200, 3)) * np.array([1.0, 0.3, 2.0])
    y = rng.integers(0, 2, 200)
    for value_range in ((-2.5, 2.5), None):
        d = [info.layer_information(T, y, bins=2 ** k, value_range=value_range)
             for k in range(0, 8)]
        H = [float(x["I_XT"]) for x in d]
        assert H[0] == 0.0
        assert all(a <= b + TOL for a, b in zip(H, H[1:])), H
        assert H[-1] > H[1]
        # I(T;Y) is also monotone in nested bins (T_coarse is a function of T_fine).
        I = [float(x["I_TY"]) for x in d]
        assert all(a <= b + TOL for a, b in zip(I, I[1:])), I


@pytest.mark.parametrize("bins, width, value_range", [(3, 1, None), (30, 40, None),
                                                      (8, 5, (-1.0, 1.0)), (1000, 4, None)])
def test_agrees_with_numpy_unique(bins, width, value_range):
    # width 40 at 30 bins spans several packed integer codes (12 digits each under x64);
    # (-1, 1) clips the Gaussian tails into the end bins.
    rng = np.random.default_rng(bins + width)
    N = 200
    T = rng.normal(size=(N, width))
    if width > 1:
        T[N // 2:, :-1] = T[:N // 2, :-1]     # rows equal except in the last column
    y = rng.integers(0, 4, N)
    H_T, H_T_Y, H_Y = _numpy_reference(T, y, bins, value_range)
    d = info.layer_information(T, y, bins=bins, value_range=value_range)
    assert float(d["I_XT"]) == pytest.approx(H_T, abs=TOL)
    assert float(d["H_T_given_Y"]) == pytest.approx(H_T_Y, abs=TOL)
    assert float(d["I_TY"]) == pytest.approx(H_T - H_T_Y, abs=TOL)
    assert float(d["H_Y"]) == pytest.approx(H_Y, abs=TOL)


def test_chunked_equals_unchunked():
    rng = np.random.default_rng(4)
    N = 200
    T = np.round(rng.normal(size=(N, 3)), 1)   # many equal rows
    y = rng.integers(0, 3, N)
    full = info.layer_information(T, y, bins=6)
    for chunk in (1, 7, 64, 1000):
        part = info.layer_information(T, y, bins=6, chunk=chunk)
        for k in full:
            assert float(part[k]) == pytest.approx(float(full[k]), abs=1e-12), (chunk, k)


def test_checkpoints_vmap_matches_per_layer_calls():
    rng = np.random.default_rng(5)
    stack = np.tanh(rng.normal(size=(4, 200, 3)) * np.array([0.1, 1, 3, 10])[:, None, None])
    y = rng.integers(0, 2, 200)
    for value_range in (None, (-1, 1)):
        out = info.checkpoint_information(stack, y, bins=10, value_range=value_range)
        assert out["I_XT"].shape == (4,)
        for c in range(4):
            one = info.layer_information(stack[c], y, bins=10, value_range=value_range)
            for k in one:
                assert float(out[k][c]) == pytest.approx(float(one[k]), abs=1e-12)


def test_information_plane_per_layer():
    rng = np.random.default_rng(6)
    N = 200
    y = rng.integers(0, 2, N)
    layers = [np.tanh(rng.normal(size=(N, 3))), np.tanh(rng.normal(size=(N, 2))),
              np.tanh(y[:, None] - 0.5 + 0.01 * rng.normal(size=(N, 1)))]
    out = info.information_plane(layers, y, bins=30, ranges=(-1, 1))
    assert out["I_XT"].shape == (3,) and out["I_TY"].shape == (3,)
    for l, T in enumerate(layers):
        one = info.layer_information(T, y, bins=30, value_range=(-1, 1))
        assert float(out["I_XT"][l]) == pytest.approx(float(one["I_XT"]), abs=1e-12)
        assert float(out["I_TY"][l]) == pytest.approx(float(one["I_TY"]), abs=1e-12)
    assert float(out["I_TY"][2]) == pytest.approx(float(out["H_Y"]), abs=TOL)
    mixed = info.information_plane(layers, y, bins=30, ranges=[None, (-1, 1), None])
    assert float(mixed["I_XT"][1]) == pytest.approx(float(out["I_XT"][1]), abs=1e-12)
    assert float(mixed["I_XT"][0]) == pytest.approx(
        float(info.binned_entropy(layers[0], bins=30)), abs=1e-12)


def test_jittable_and_vmappable_inside_user_code():
    rng = np.random.default_rng(7)
    stack = rng.normal(size=(3, 200, 3))
    f = jax.jit(jax.vmap(lambda T: info.binned_entropy(T, bins=4)))
    expected = [float(info.binned_entropy(T, bins=4)) for T in stack]
    np.testing.assert_allclose(f(jnp.asarray(stack)), expected, atol=1e-12)


def test_bad_input_messages():
    rng = np.random.default_rng(8)
    T = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, 10)
    Tn = T.copy()
    Tn[[2, 6], 1] = np.nan
    with pytest.raises(ValueError, match=r"rows 2, 6; row 2, column 1"):
        info.binned_entropy(Tn)
    stack = np.stack([T, Tn])
    with pytest.raises(ValueError, match="checkpoint 1, rows 2, 6"):
        info.checkpoint_information(stack, y)
    with pytest.raises(ValueError, match=r"shape \(N, width\)"):
        info.binned_entropy(T[0])
    with pytest.raises(ValueError, match=r"shape \(C, N, width\)"):
        info.checkpoint_information(T, y)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        info.layer_information(T, y[:9])
    with pytest.raises(ValueError, match="labels has NaN or inf in rows 3"):
        info.layer_information(T, np.where(np.arange(10) == 3, np.nan, 1.0))
    with pytest.raises(ValueError, match="bins"):
        info.binned_entropy(T, bins=0)
    with pytest.raises(ValueError, match="bins"):
        info.binned_entropy(T, bins=2.5)
    with pytest.raises(ValueError, match="lo < hi"):
        info.binned_entropy(T, value_range=(1, -1))
    with pytest.raises(ValueError, match="pair"):
        info.binned_entropy(T, value_range=(0, 1, 2))
    with pytest.raises(ValueError, match="chunk"):
        info.binned_entropy(T, chunk=0)
    with pytest.raises(ValueError, match="unknown unit"):
        info.binned_entropy(T, unit="bans")
    with pytest.raises(ValueError, match="layer 1 has 9 rows"):
        info.information_plane([T, T[:9]], y)
    with pytest.raises(ValueError, match="layer 1 has NaN"):
        info.information_plane([T, Tn], y)
    with pytest.raises(ValueError, match="ranges has 1 entries but there are 2 layers"):
        info.information_plane([T, T], y, ranges=[(-1, 1)])
    with pytest.raises(ValueError, match=r"ranges\[1\] \(layer 1\)"):
        info.information_plane([T, T], y, ranges=[None, (2, 2)])
    with pytest.raises(ValueError, match="list of"):
        info.information_plane(np.stack([T, T]), y)
