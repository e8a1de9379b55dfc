"""Zhang et al. (ICLR 2017) randomization tests (jaxmem.data.randomize).

Statistical checks use fixed keys and tolerances of several binomial / normal standard
deviations derived from the sample size, so they are deterministic and would catch a wrong
probability (e.g. changed fraction p instead of p (k-1)/k) by many standard deviations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.data import randomize as rz

K = 10
Z = 5.0   # standard deviations allowed in the sampling checks


def _data(n=200, d=12, seed=0, k=K):
    rng = np.random.default_rng(seed)
    # Continuous values: every entry distinct, so a permutation can be read off a row.
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def _key(i=0):
    return jax.random.key(i)


def _perm_of(row_out, row_in):
    """The column permutation q with row_out = row_in[q] (entries distinct)."""
    order = np.argsort(row_in)
    return order[np.searchsorted(row_in[order], row_out)]


# ------------------------------------------------------------------------------------ labels

def test_registry_names_and_signature():
    assert set(rz.RANDOMIZATIONS) == {"true_labels", "partial_labels", "random_labels",
                                      "shuffled_pixels", "random_pixels", "gaussian"}
    X, y = _data()
    for kind, fn in rz.RANDOMIZATIONS.items():
        p = 0.3 if kind == "partial_labels" else None
        Xo, yo = fn(_key(), X, y, num_classes=K, p=p)
        assert Xo.shape == X.shape and yo.shape == y.shape and yo.dtype == y.dtype


def test_true_labels_and_p0_are_identity():
    X, y = _data()
    Xo, yo = rz.true_labels(_key(), X, y, num_classes=K)
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, y)
    yo, redrawn = rz.corrupt_labels(_key(3), y, num_classes=K, p=0.0)
    np.testing.assert_array_equal(yo, y)
    assert not np.asarray(redrawn).any()
    Xo, yo = rz.partial_labels(_key(3), X, y, num_classes=K, p=0)
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, y)


def test_random_labels_are_uniform_and_ignore_the_originals():
    n = 20000
    y = np.zeros(n, np.int64)          # all class 0: uniform output must come from the draw
    yo = np.asarray(rz.random_labels(_key(1), np.zeros((n, 1)), y, num_classes=K)[1])
    assert yo.min() >= 0 and yo.max() < K
    counts = np.bincount(yo, minlength=K)
    expected = n / K
    sd = np.sqrt(n * (1 / K) * (1 - 1 / K))
    assert np.all(np.abs(counts - expected) <= Z * sd), counts
    # Pearson chi-square: mean k-1, sd sqrt(2(k-1)) under uniformity.
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 <= (K - 1) + Z * np.sqrt(2 * (K - 1)), chi2
    # Every row redrawn at p = 1.
    _, redrawn = rz.corrupt_labels(_key(1), y, num_classes=K, p=1.0)
    assert np.asarray(redrawn).all()
    # On non-constant labels, a fraction ~1/k keeps its value (independent of the original).
    _, y_true = _data(n, 1, seed=4)
    kept = np.mean(np.asarray(rz.random_labels(_key(2), np.zeros((n, 1)), y_true,
                                               num_classes=K)[1]) == y_true)
    assert abs(kept - 1 / K) <= Z * np.sqrt((1 / K) * (1 - 1 / K) / n)


def test_partial_labels_change_p_times_k_minus_1_over_k():
    n, p = 20000, 0.5
    _, y = _data(n, 1, seed=5)
    yo, redrawn = rz.corrupt_labels(_key(7), y, num_classes=K, p=p)
    yo, redrawn = np.asarray(yo), np.asarray(redrawn)
    changed = yo != y
    # Changes happen only on redrawn rows; a redrawn label can keep its class.
    assert not np.any(changed & ~redrawn)
    q = p * (K - 1) / K        # 0.45: the paper's "corrupted" labels are not all changed
    assert abs(changed.mean() - q) <= Z * np.sqrt(q * (1 - q) / n), changed.mean()
    assert abs(redrawn.mean() - p) <= Z * np.sqrt(p * (1 - p) / n), redrawn.mean()
    # 0.5 (the naive reading) lies far outside the interval.
    assert abs(changed.mean() - p) > Z * np.sqrt(q * (1 - q) / n)
    # randomize reports the same mask (training key = split(key)[0]).
    X = np.zeros((n, 1))
    r = rz.randomize("partial_labels", _key(7), X, y, X[:5], y[:5], num_classes=K, p=p)
    k_train = jax.random.split(_key(7))[0]
    y2, m2 = rz.corrupt_labels(k_train, y, num_classes=K, p=p)
    np.testing.assert_array_equal(r.labels_train, y2)
    np.testing.assert_array_equal(r.corrupted, m2)


def test_sign_labels_stay_plus_minus_one_with_their_dtype():
    n = 4000
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32)
    _, yo = rz.random_labels(_key(4), np.zeros((n, 1)), y, encoding="sign")
    assert yo.dtype == np.float32
    yo = np.asarray(yo)
    assert set(np.unique(yo)) <= {-1.0, 1.0}
    assert abs((yo == 1).mean() - 0.5) <= Z * np.sqrt(0.25 / n)
    yo, redrawn = rz.corrupt_labels(_key(5), y, p=0.0, encoding="sign")
    np.testing.assert_array_equal(yo, y)
    yo, redrawn = rz.corrupt_labels(_key(5), y, p=0.4, encoding="sign")
    changed = np.asarray(yo) != y
    assert abs(changed.mean() - 0.2) <= Z * np.sqrt(0.2 * 0.8 / n)   # p (k-1)/k, k = 2


@pytest.mark.slow
def test_label_transforms_vmap_over_keys_and_p():
    _, y = _data(20000, 1, seed=5)
    keys = jax.random.split(_key(9), 4)
    batched = jax.vmap(lambda k: rz.corrupt_labels(k, y, num_classes=K, p=0.5)[0])(keys)
    for b in range(4):
        np.testing.assert_array_equal(batched[b],
                                      rz.corrupt_labels(keys[b], y, num_classes=K, p=0.5)[0])
    ps = jnp.array([0.0, 0.25, 1.0])
    masks = jax.vmap(lambda p: rz.corrupt_labels(_key(2), y, num_classes=K, p=p)[1])(ps)
    assert not masks[0].any() and masks[2].all() and 0 < masks[1].mean() < 1


# ------------------------------------------------------------------------------------ pixels

def test_shuffled_pixels_one_permutation_for_all_rows_and_the_test_set():
    X, y = _data()
    X_test, y_test = _data(20, seed=1)
    r = rz.randomize("shuffled_pixels", _key(11), X, y, X_test, y_test, num_classes=K)
    perm = np.asarray(r.permutation)
    assert sorted(perm.tolist()) == list(range(12)) and not np.array_equal(perm, np.arange(12))
    Xo, Xt = np.asarray(r.X_train), np.asarray(r.X_test)
    # Every row's sorted values are the original row's (a per-row permutation)...
    np.testing.assert_array_equal(np.sort(Xo, 1), np.sort(X, 1))
    # ...and every row, train and test, uses the one permutation.
    for Xin, Xout in ((X, Xo), (X_test, Xt)):
        for i in range(len(Xin)):
            np.testing.assert_array_equal(_perm_of(Xout[i], Xin[i]), perm)
    np.testing.assert_array_equal(Xo, X[:, perm])
    np.testing.assert_array_equal(Xt, X_test[:, perm])
    # Columns are moved whole: the multiset of columns is unchanged.
    cols = lambda A: sorted(map(tuple, A.T))  # noqa: E731
    assert cols(Xo) == cols(X)
    np.testing.assert_array_equal(r.labels_train, y)
    np.testing.assert_array_equal(r.labels_test, y_test)
    # The standalone pieces agree: same key -> same permutation; apply_pixel_permutation.
    k_train = jax.random.split(_key(11))[0]
    np.testing.assert_array_equal(rz.pixel_permutation(k_train, 12), perm)
    np.testing.assert_array_equal(rz.shuffled_pixels(k_train, X_test, y_test)[0], Xt)
    np.testing.assert_array_equal(rz.apply_pixel_permutation(X_test, perm), Xt)


def test_random_pixels_permute_each_row_independently():
    X, y = _data()
    X_test, y_test = _data(20, seed=2)
    r = rz.randomize("random_pixels", _key(12), X, y, X_test, y_test, num_classes=K)
    for Xin, Xout in ((X, np.asarray(r.X_train)), (X_test, np.asarray(r.X_test))):
        np.testing.assert_array_equal(np.sort(Xout, 1), np.sort(Xin, 1))   # row multisets
        perms = {tuple(_perm_of(Xout[i], Xin[i])) for i in range(len(Xin))}
        # 12! = 4.8e8 permutations: 200 independent draws collide with probability < 1e-4.
        assert len(perms) >= len(Xin) - 1
    # Not one shared permutation: the column multiset is destroyed.
    assert sorted(map(tuple, np.asarray(r.X_train).T)) != sorted(map(tuple, X.T))
    np.testing.assert_array_equal(r.labels_train, y)
    np.testing.assert_array_equal(r.labels_test, y_test)


def test_gaussian_matches_per_pixel_mean_and_variance():
    n, d = 20000, 4
    rng = np.random.default_rng(3)
    mu, sd = np.array([0.0, 5.0, -2.0, 0.3]), np.array([1.0, 0.1, 3.0, 0.5])
    X = mu + sd * rng.uniform(-np.sqrt(3), np.sqrt(3), size=(n, d))   # not Gaussian itself
    y = rng.integers(0, K, n)
    m, s = (np.asarray(v) for v in rz.gaussian_moments(X))
    Xo, yo = rz.gaussian(_key(13), X, y, num_classes=K)
    Xo = np.asarray(Xo)
    np.testing.assert_array_equal(yo, y)
    # Sample mean within Z sd/sqrt(n); sample variance within Z var sqrt(2/(n-1)) (Gaussian).
    assert np.all(np.abs(Xo.mean(0) - m) <= Z * s / np.sqrt(n))
    assert np.all(np.abs(Xo.var(0) - s ** 2) <= Z * s ** 2 * np.sqrt(2 / (n - 1)))
    assert not np.any(np.isin(Xo, X))          # the images are replaced, not perturbed
    # Scalar mode: one mean and variance for every coordinate (the dataset's overall ones).
    ms, ss = rz.gaussian_moments(X, "scalar")
    assert np.shape(ms) == () and abs(float(ms) - X.mean()) < 1e-12
    Xs = np.asarray(rz.gaussian(_key(14), X, y, num_classes=K, stats="scalar")[0])
    assert np.all(np.abs(Xs.mean(0) - float(ms)) <= Z * float(ss) / np.sqrt(n))
    assert np.all(np.abs(Xs.var(0) - float(ss) ** 2)
                  <= Z * float(ss) ** 2 * np.sqrt(2 / (n - 1)))


def test_gaussian_test_set_uses_training_moments():
    rng = np.random.default_rng(8)
    X = 3.0 + 0.5 * rng.normal(size=(4000, 3))
    X_test = -10.0 + 7.0 * rng.normal(size=(4000, 3))    # very different moments
    y, y_test = rng.integers(0, K, 4000), rng.integers(0, K, 4000)
    r = rz.randomize("gaussian", _key(15), X, y, X_test, y_test, num_classes=K)
    Xt = np.asarray(r.X_test)
    m, s = (np.asarray(v) for v in rz.gaussian_moments(X))
    assert np.all(np.abs(Xt.mean(0) - m) <= Z * s / np.sqrt(len(Xt)))
    np.testing.assert_array_equal(r.labels_test, y_test)
    assert not np.allclose(np.asarray(r.X_train), Xt)   # independent draws for train and test


def test_label_kinds_leave_the_test_set_alone():
    X, y = _data()
    X_test, y_test = _data(20, seed=6)
    for kind in ("true_labels", "random_labels"):
        r = rz.randomize(kind, _key(16), X, y, X_test, y_test, num_classes=K)
        np.testing.assert_array_equal(r.X_train, X)
        np.testing.assert_array_equal(r.X_test, X_test)
        np.testing.assert_array_equal(r.labels_test, y_test)
        assert r.permutation is None
    assert not np.asarray(rz.randomize("true_labels", _key(16), X, y, X_test, y_test,
                                       num_classes=K).corrupted).any()


def test_determinism_given_the_key():
    X, y = _data()
    for kind, fn in rz.RANDOMIZATIONS.items():
        if kind == "true_labels":
            continue
        p = 0.5 if kind == "partial_labels" else None
        a = fn(_key(21), X, y, num_classes=K, p=p)
        b = fn(_key(21), X, y, num_classes=K, p=p)
        c = fn(_key(22), X, y, num_classes=K, p=p)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
        assert not all(np.array_equal(u, v) for u, v in zip(a, c)), kind


def test_jit_and_vmap_over_datasets():
    X, y = _data()
    Xs, ys = np.stack([X, X + 1]), np.stack([y, y])
    keys = jax.random.split(_key(23), 2)
    out = jax.jit(jax.vmap(lambda k, A, b: rz.random_pixels(k, A, b)))(keys, Xs, ys)
    for i in range(2):
        np.testing.assert_array_equal(out[0][i], rz.random_pixels(keys[i], Xs[i], ys[i])[0])


# ------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("p", [1.5, -0.1, float("nan"), "0.5", [0.1, 0.2], True])
def test_bad_p(p):
    X, y = _data(5, 2)
    with pytest.raises(ValueError, match="p "):
        rz.partial_labels(_key(), X, y, num_classes=K, p=p)


def test_bad_input_messages():
    X, y = _data(8, 3)
    with pytest.raises(ValueError, match=r"rows 2, 5 .*row 2 is 10"):
        rz.partial_labels(_key(), X, np.where(np.isin(np.arange(8), [2, 5]), 10, y),
                          num_classes=K, p=0.5)
    with pytest.raises(ValueError, match=r"rows 3 .*row 3 is 2.5"):
        rz.random_labels(_key(), X, np.where(np.arange(8) == 3, 2.5, y), num_classes=K)
    with pytest.raises(ValueError, match="row 1 .* -1"):
        rz.true_labels(_key(), X, np.where(np.arange(8) == 1, -1, y))
    Xn = X.copy()
    Xn[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in rows 4"):
        rz.random_pixels(_key(), Xn, y)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        rz.gaussian(_key(), X, y[:7])
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        rz.shuffled_pixels(_key(), X[0], y)
    with pytest.raises(ValueError, match="num_classes is required"):
        rz.partial_labels(_key(), X, y, p=0.5)
    with pytest.raises(ValueError, match="p applies only"):
        rz.shuffled_pixels(_key(), X, y, p=0.5)
    with pytest.raises(ValueError, match="p = 1"):
        rz.random_labels(_key(), X, y, num_classes=K, p=0.5)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        rz.random_labels(_key(), X, np.where(np.arange(8) == 0, 0, 1), encoding="sign")
    with pytest.raises(ValueError, match="num_classes must be 2"):
        rz.random_labels(_key(), X, np.ones(8), num_classes=3, encoding="sign")
    with pytest.raises(ValueError, match="unknown encoding"):
        rz.true_labels(_key(), X, y, encoding="onehot")
    with pytest.raises(ValueError, match="columns 1 never appear"):
        rz.apply_pixel_permutation(X, np.array([0, 0, 2]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        rz.apply_pixel_permutation(X, np.arange(4))
    with pytest.raises(ValueError, match="unknown randomization"):
        rz.randomize("random_noise", _key(), X, y, X, y, num_classes=K)
    with pytest.raises(ValueError, match="X_test has 2 columns"):
        rz.randomize("shuffled_pixels", _key(), X, y, X[:, :2], y, num_classes=K)
    with pytest.raises(ValueError, match="labels_test"):
        rz.randomize("random_labels", _key(), X, y, X, y + 10, num_classes=K)
    with pytest.raises(ValueError, match="unknown stats"):
        rz.gaussian_moments(X, "per_image")
    with pytest.raises(ValueError, match="num_pixels"):
        rz.pixel_permutation(_key(), 0)
