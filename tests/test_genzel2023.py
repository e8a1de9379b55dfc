"""Dirksen, Finke, Genzel (2023), Algorithm 2: the JAX construction equals a per-trial NumPy
reference written from the paper's pseudocode, its network's forward pass agrees with its
bookkeeping, the -1 class is never misclassified, and breaking strictness is caught."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import network
from jaxmem.constructions import genzel2023
from jaxmem.data import gaussian


# One compile per shape instead of eager op-by-op dispatch (max_bias is traced).
_build = jax.jit(genzel2023.build, static_argnames=("width", "activation", "max_neurons"))
apply = jax.jit(network.apply)


def build(key, X, y, *, width, max_bias, activation="threshold", max_neurons=None):
    """The compiled build, every static option passed: jit keys its cache on the keywords
    given, so a call leaving out activation="threshold" would compile the same build again."""
    return _build(key, X, y, width=width, max_bias=max_bias, activation=activation,
                  max_neurons=max_neurons)


# Most tests build on N = 80 points in d = 3 at the widths 20 (mostly failing to interpolate)
# and 400 (mostly interpolating), so that they share the compiled builds (one per width and
# activation, ~2 s each here) instead of compiling their own shapes.
N, D, WIDTHS = 80, 3, (20, 400)


@functools.partial(jax.jit, static_argnums=(1, 2))
def unit_ball(key, n, d):
    """Gaussian points scaled to max norm 1 (R = 1, as in every experiment of the paper);
    compiled once per shape (op by op, each shape cost ~1 s of small compiles)."""
    X, y = gaussian(key, n, d, labels="sign")
    return X / jnp.max(jnp.linalg.norm(X, axis=1)), y


def reference(H, covered, priority, margin=0.0):
    """Algorithm 2, lines 2-11 (docs/papers/genzel2023.md §2.1), one candidate at a time in NumPy.
    The uniformly random candidate of each step is the remaining one of smallest priority;
    margin is the ReLU variant's rounding margin (0 for threshold features)."""
    H = np.asarray(H)
    cand, univ = covered.copy(), covered.copy()
    centers, ms = [], []
    tries = 0
    while cand.any() and univ.any():
        c = int(np.flatnonzero(cand)[np.argmin(priority[cand])])
        cand[c] = False
        tries += 1
        u = (H[c] <= 0).astype(H.dtype)
        D = H @ u
        m = D[~covered].min()
        if m > 0:
            m = m * (1 - margin)
            newly = covered & (D < m * (1 - 2 * margin))
            cand &= ~newly
            univ &= ~newly
            centers.append(c)
            ms.append(m)
    return centers, ms, univ, tries


@functools.partial(jax.jit, static_argnames=("n", "d", "width"))
def paper_draws(key, *, n, d, width):
    """The same random draws as build, written here from the paper (not the module's
    first_layer / features): W ~ N(0, 1)^{width x d}, b ~ U[-lambda, lambda], lambda = 1, and
    the candidates' priorities; with the module's first_layer beside them. Compiled once per
    shape (op by op, every shape compiled each op on its own)."""
    k_layer, k_order = jax.random.split(key)
    k_w, k_b = jax.random.split(k_layer)
    W = jax.random.normal(k_w, (width, d), jnp.float64)
    b = 2 * jax.random.uniform(k_b, (width,), jnp.float64) - 1
    W_mod, b_mod = genzel2023.first_layer(k_layer, d, width, jnp.asarray(1.0, jnp.float64),
                                          jnp.float64)
    return W, b, W_mod, b_mod, jax.random.uniform(k_order, (n,))


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["threshold", "relu"])
def test_matches_the_numpy_reference(activation):
    for seed in range(6):
        X, y = unit_ball(jax.random.key(seed), N, D)
        assert X.dtype == jnp.float64
        key = jax.random.key(100 + seed)
        for width in WIDTHS:   # both regimes: most builds at 20 leave points uncovered
            net, info = build(key, X, y, width=width, max_bias=1.0, activation=activation)
            W, b, W_mod, b_mod, priority = map(np.asarray, paper_draws(key, n=N, d=D,
                                                                       width=width))
            assert np.array_equal(np.asarray(W_mod), W) and np.allclose(np.asarray(b_mod), b,
                                                                        rtol=0, atol=1e-15)
            # H = 1[W x + b > 0] or relu(W x + b), in NumPy.
            pre = np.asarray(X) @ W.T + b
            H = (pre > 0).astype(float) if activation == "threshold" else np.maximum(pre, 0)
            margin = genzel2023.relu_margin(width, X.dtype) if activation == "relu" else 0.0
            centers, ms, univ, tries = reference(H, np.asarray(y) > 0, priority, margin)
            assert int(info["candidates_tried"]) == tries
            k = int(info["second_layer_width"])
            assert k == len(centers)
            # sliced in NumPy: a device slice [:k] would compile once per k
            info_centers = np.asarray(info["centers"])
            info_thresholds = np.asarray(info["thresholds"])
            assert info_centers[:k].tolist() == centers
            if activation == "threshold":  # integer counts: exact
                assert np.array_equal(info_thresholds[:k], np.asarray(ms))
            else:                          # real sums: NumPy and XLA may round differently
                np.testing.assert_allclose(info_thresholds[:k], ms, rtol=1e-12)
            assert int(info["uncovered"]) == int(univ.sum())
            assert bool(info["interpolated"]) == (not univ.any())
            assert np.all(info_centers[k:] == -1)


def forward_checks(net, info, X, y):
    f = np.asarray(apply(net, X))
    y = np.asarray(y)
    assert set(np.unique(f)) <= {-1.0, 1.0}
    assert np.all(f[y < 0] == -1)                       # the -1 class is never misclassified
    # Every point the bookkeeping covers is covered by the network (ReLU: the forward pass
    # may also fire within the rounding margin of a threshold, never against a label).
    uncovered = int(np.sum(f[y > 0] < 0))
    assert uncovered <= int(info["uncovered"])
    if bool(info["interpolated"]):
        assert np.all(f == y)
    return uncovered


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["threshold", "relu"])
def test_forward_pass_agrees_and_errors_are_one_sided(activation):
    outcomes = set()
    for seed in range(8):
        X, y = unit_ball(jax.random.key(seed), N, D)
        for width in WIDTHS:
            net, info = build(jax.random.key(seed), X, y, width=width, max_bias=0.8,
                              activation=activation)
            uncovered = forward_checks(net, info, X, y)
            if activation == "threshold":  # exact integer arithmetic: the counts agree
                assert uncovered == int(info["uncovered"])
            outcomes.add(bool(info["interpolated"]))
            k, d = int(info["second_layer_width"]), D
            assert int(network.widths(net)[1]) == k
            assert int(info["paper_param_count"]) == width * (d + 1) + k * (width + 1) + k + 1
            assert int(info["candidates_tried"]) <= int(np.sum(np.asarray(y) > 0))
    assert outcomes == {True, False}  # both regimes were exercised


def test_non_strict_firing_is_caught():
    """Firing on D <= m instead of D < m (bias m + 1) lets neurons fire on the other class;
    the one-sided check must see it on some dataset."""
    caught = 0
    for seed in range(10):
        X, y = unit_ball(jax.random.key(seed), 20, 2)
        # the shapes and options of the parallel lines' test below: the same compiled build
        # and forward pass (both in the fast tier)
        net, info = build(jax.random.key(seed), X, y, width=2000, max_bias=0.8,
                          activation="threshold")
        second = net.layers[1]
        broken = network.Network((net.layers[0],
                                  network.Layer(second.weight, second.bias + 1, second.mask,
                                                activation="threshold"),
                                  *net.layers[2:]))
        f = np.asarray(apply(broken, X))
        caught += bool(np.any(f[np.asarray(y) < 0] > 0))
    assert caught > 0


@pytest.mark.slow
def test_vmapped_equals_per_dataset():
    """build under vmap (as the sweep runs it) on four data sets equals build on each alone
    (the per-dataset build is the one the tests above compiled)."""
    keys = jax.random.split(jax.random.key(7), 4)
    data_keys, build_keys = (jax.vmap(jax.random.fold_in, (0, None))(keys, i) for i in (0, 1))
    data = [unit_ball(key, N, D) for key in data_keys]
    Xs, ys = (np.stack(v) for v in zip(*data))

    def trial(key, X, y):
        _, info = genzel2023.build(key, X, y, width=WIDTHS[1], max_bias=1.0)
        return info["second_layer_width"], info["uncovered"], info["centers"]

    batched = [np.asarray(a) for a in jax.jit(jax.vmap(trial))(build_keys, Xs, ys)]
    widths = set()
    for i, (X, y) in enumerate(data):
        _, info = build(build_keys[i], X, y, width=WIDTHS[1], max_bias=1.0)
        single = info["second_layer_width"], info["uncovered"], info["centers"]
        for a, b in zip(batched, single):
            assert np.array_equal(a[i], np.asarray(b))
        widths.add(int(single[0]))
    assert len(widths) > 1   # the data sets' networks differ: the lanes are not all alike


def test_parallel_lines_need_about_one_neuron_per_point():
    """genzel2023.md §4.6, §5.8: two lines 0.1 apart with in-line spacing 0.22, the worst case: each
    acceptance region holds about its own center, so k is close to the 10 points."""
    xs = np.linspace(-1, 1, 10)
    X = jnp.asarray(np.concatenate([np.stack([xs, np.full(10, -0.05)], 1),
                                    np.stack([xs, np.full(10, 0.05)], 1)]))
    y = jnp.asarray(np.concatenate([np.ones(10), -np.ones(10)]))
    widths = []
    for seed in range(10):
        net, info = build(jax.random.key(seed), X, y, width=2000, max_bias=1.0)
        forward_checks(net, info, X, y)
        assert bool(info["interpolated"])
        widths.append(int(info["second_layer_width"]))
    assert np.mean(widths) >= 9 and max(widths) == 10


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0), "width"), (dict(width=10, max_bias=-1.0), "max_bias"),
    (dict(width=10, activation="sigmoid"), "activation"),
    (dict(width=10, max_neurons=0), "max_neurons"),
])
def test_bad_options(kwargs, message):
    X, y = unit_ball(jax.random.key(0), 10, 2)
    with pytest.raises(ValueError, match=message):
        genzel2023.build(jax.random.key(0), X, y, **kwargs)


def test_conflicting_duplicates_are_refused():
    X = jnp.array([[0.1, 0.2], [0.1, 0.2], [0.5, 0.5]])
    y = jnp.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="rows 0 and 1|rows 0, 1"):
        genzel2023.build(jax.random.key(0), X, y, width=10)


@functools.partial(jax.jit, static_argnames=("num_classes", "width"))
def build_and_fit_multiclass(key, X, labels, *, num_classes, width, max_bias):
    """build_multiclass and fit_multiclass on the same arguments, compiled as one program
    (one compile instead of two: the fit inside the build is the same computation)."""
    kwargs = dict(num_classes=num_classes, width=width, max_bias=max_bias)
    return (genzel2023.build_multiclass(key, X, labels, **kwargs),
            genzel2023.fit_multiclass(key, X, labels, **kwargs))


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_multiclass_is_one_binary_run_per_class_and_its_network_agrees(width):
    """One-vs-rest, shared first layer (genzel2023.md §2.3): class c's neurons are exactly those
    of the binary construction with +1 = class c under the same key, and the network outputs
    the one-hot vector of a covered point's class and zeros for an uncovered one. Width 20
    leaves points uncovered, width 400 interpolates (the binary builds are those compiled
    above)."""
    X, _ = unit_ball(jax.random.key(3), N, D)
    labels = jnp.asarray(np.random.default_rng(4).integers(0, 3, N))
    key = jax.random.key(5)
    (net, info), ((W, b), centers, thresholds, _) = build_and_fit_multiclass(
        key, X, labels, num_classes=3, width=width, max_bias=1.0)
    widths = np.asarray(info["class_widths"])
    uncovered = 0
    centers, thresholds = np.asarray(centers), np.asarray(thresholds)
    for c in range(3):
        # float64 +-1 labels as unit_ball draws them (a weakly typed y would compile anew)
        y = jnp.asarray(np.where(np.asarray(labels) == c, 1.0, -1.0))
        _, binary = build(key, X, y, width=width, max_bias=1.0)
        assert int(binary["second_layer_width"]) == widths[c]
        assert np.array_equal(np.asarray(binary["centers"]), centers[c])
        assert np.array_equal(np.asarray(binary["thresholds"]), thresholds[c])
        uncovered += int(binary["uncovered"])
    assert int(info["uncovered"]) == uncovered
    assert int(info["second_layer_width"]) == widths.sum()
    d = X.shape[1]
    assert int(info["paper_param_count"]) == (width * (d + 1) + widths.sum() * (width + 1)
                                              + widths.sum() + 3)
    out = np.asarray(apply(net, X))
    own = out[np.arange(N), np.asarray(labels)]
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.all(out.sum(axis=1) == own)          # no class fires outside its own points
    assert int(np.sum(own == 0)) == uncovered      # the bookkeeping's uncovered points
    assert bool(info["interpolated"]) == (uncovered == 0)
    assert (uncovered == 0) == (width == WIDTHS[1])   # both cases below are exercised
    if uncovered == 0:
        assert np.array_equal(out.argmax(axis=1), np.asarray(labels))


def test_multiclass_rejects_bad_labels():
    X, _ = unit_ball(jax.random.key(3), 20, 2)
    with pytest.raises(ValueError, match="rows \\[3\\]"):
        genzel2023.fit_multiclass(jax.random.key(0), X, np.array([0, 1, 2, 5] + [0] * 16),
                                  num_classes=3, width=10)
    with pytest.raises(ValueError, match="num_classes"):
        genzel2023.fit_multiclass(jax.random.key(0), X, np.zeros(20, int), num_classes=1,
                                  width=10)


@pytest.mark.parametrize("d,width,block", [(2, 45, None), (2, 500, None), (3, 64, 2 ** 12),
                                           (30, 100, None), (2, 40, 2 ** 12)])
@pytest.mark.slow
def test_packed_bits_are_the_forward_pass_features(d, width, block, monkeypatch):
    """threshold_bits (W X^T, packed by rows, one dataset at a time under vmap on CPU, in
    blocks of points when given a small block budget: 64 and 102 points a block here) holds
    exactly the first layer's features as the network computes them (X W^T), bit for bit,
    and a distance counted on the words equals the float count on H."""
    if block is not None:
        monkeypatch.setattr(genzel2023, "BITS_BLOCK_ELEMENTS", block)
    keys = jax.random.split(jax.random.key(d * width), 3)

    def draw_and_pack(keys):   # three datasets and first layers, packed under vmap
        X = jax.vmap(lambda k: unit_ball(k, 300, d)[0])(keys)
        W, b = jax.vmap(lambda k: genzel2023.first_layer(k, d, width, jnp.asarray(0.7, X.dtype),
                                                         X.dtype))(keys)
        return X, W, b, jax.vmap(genzel2023.threshold_bits)(X, W, b)

    # one compile; indexed in NumPy (a device index compiles a slice per shape)
    X, W, b, packed = map(np.asarray, jax.jit(draw_and_pack)(keys))
    assert packed.shape == (3, -(-width // 32), 300) and packed.dtype == jnp.uint32
    centers = np.array([0, 17, 299])

    @jax.jit
    def on_the_words(X, W, b, H, words):   # one compile for the three datasets, not one per op
        return (genzel2023.preactivations_by_row(X, W, b), genzel2023.pack_bits(H),
                jax.vmap(lambda c: genzel2023.one_sided_distances(words, c))(
                    jnp.asarray(centers)))

    for i in range(3):
        pre = network.Network((network.Layer(W[i].T, b[i], activation="identity"),))
        net = network.Network((network.Layer(W[i].T, b[i], activation="threshold"),))
        H = apply(net, X[i])                                  # the network's own first layer
        # the network's pre-activations from their own program (the module's apply): one
        # program holding both products could simplify them into one
        by_row, repacked, counted = map(np.asarray,
                                        on_the_words(X[i], W[i], b[i], H, packed[i]))
        assert np.array_equal(by_row, np.asarray(apply(pre, X[i])).T)
        assert np.array_equal(packed[i], repacked)
        H = np.asarray(H)
        for j, c in enumerate(centers):
            expected = H @ (H[c] <= 0)
            assert np.array_equal(counted[j], expected.astype(np.int64))


@pytest.mark.slow
def test_screening_failing_candidates_changes_nothing():
    """Skipping the candidates line 6 would discard (found by the all-pairs subset test)
    gives the same neurons, thresholds, uncovered points and number of candidates tried."""
    X, y = unit_ball(jax.random.key(11), N, D)

    def run(key, lam, screen):
        return genzel2023.greedy_on_bits(
            key, genzel2023.threshold_bits(X, *genzel2023.first_layer(key, D, 40, lam, X.dtype)),
            y > 0, N, screen=screen)

    # both variants in one program: one compile instead of two
    both = jax.jit(lambda key, lam: (run(key, lam, False), run(key, lam, True)))
    discarded = 0
    for seed in range(6):
        for lam in (0.0, 0.5):
            plain, screened = both(jax.random.key(seed), lam)
            for a, b in zip(plain, screened):
                assert np.array_equal(np.asarray(a), np.asarray(b))
            discarded += int(plain[3]) - int(plain[2])
    assert discarded > 0  # the screen had something to skip
