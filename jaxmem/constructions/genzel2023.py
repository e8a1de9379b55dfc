"""Dirksen, Finke, Genzel, "Memorization with neural nets: going beyond the worst case"
(JMLR 25(347), 2024; arXiv 2310.00327): Algorithm 2, the randomized three-layer threshold network.

    layer 1  n random hyperplanes: H(x) = 1[W x + b > 0],  W ~ N(0, 1)^{n x d},  b ~ U[-lam, lam]^n
    layer 2  greedy: pick a random uncovered candidate c of the covered class, u = 1 - H(c) (the
             hyperplanes where c is inactive), D(x) = <u, H(x)> (how many of those x is active on),
             m = min of D over the other class; if m > 0, a neuron 1[m - <u, H(x)> > 0] accepts
             every x with D(x) < m (always c itself, never a point of the other class)
    output   the OR of the layer-2 neurons

(docs/papers/genzel2023.md §2.1, read from the authors' code). Labels follow jaxmem's +-1
convention: the class labelled +1 is the one the second layer covers (the paper's X-, y = 1 in
the authors' code); the output is +1 where some neuron fires, -1 elsewhere. So a point labelled
-1 is never misclassified, and the network interpolates iff every +1 point is covered.

Vmappable: choosing a uniformly random remaining candidate at every step has the same
distribution as drawing one random priority per point and always taking the remaining candidate
of smallest priority (genzel2023.md §2.6), so the greedy loop is a `lax.while_loop` over fixed-shape
masks. The second layer is padded to a static maximum (default: n_points) with a mask and a
count. All comparisons are strict, as in the paper: H(0) = 0 in layer 1, D < m to fire.

The ReLU variant (genzel2023.md §2.4) makes every threshold a ReLU: u = 1[H(c) <= 0] and D is the
weighted one-sided distance sum_{u_i = 1} relu(<w_i, x> + b_i).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import network
from jaxmem.constructions.protocol import Option, construction, nonnegative, one_of, positive_int
from jaxmem.data.validate import float_data, is_traced, validate
from jaxmem.data.validate import positive_int as check_positive_int

ACTIVATIONS = ("threshold", "relu")


def first_layer(key, d: int, width: int, max_bias, dtype):
    """W ~ N(0, 1)^{width x d} (no 1/sqrt(d) scaling, as in the paper), b ~ U[-max_bias,
    max_bias]^width."""
    kw, kb = jax.random.split(key)
    W = jax.random.normal(kw, (width, d), dtype)
    b = (2 * jax.random.uniform(kb, (width,), dtype) - 1) * max_bias
    return W, b


def features(X, W, b, activation: str = "threshold"):
    """The first layer's outputs H (n_points x width): 1[Wx + b > 0] (strict) or relu."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    pre = jnp.matmul(X, W.T, precision="highest") + b
    return (pre > 0).astype(X.dtype) if activation == "threshold" else jnp.maximum(pre, 0)


def _check(width, max_bias, activation, max_neurons, n_points):
    check_positive_int("width (first-layer hyperplanes n)", width)
    if not is_traced(max_bias) and not max_bias >= 0:
        raise ValueError(f"max_bias (lambda) must be >= 0; got {max_bias!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    if max_neurons is not None and (
        not isinstance(max_neurons, int) or not 1 <= max_neurons <= n_points
    ):
        raise ValueError(f"max_neurons must be an int in [1, {n_points}]; got {max_neurons!r}")


def relu_margin(width: int, dtype) -> float:
    """The ReLU variant's relative rounding margin 4 gamma_n (gamma_n = n u / (1 - n u), Higham).

    With threshold features every D is a sum of 0/1 values, exact in floating point, so the
    paper's strict comparisons are exact. With ReLU features D is a real sum whose rounding
    depends on the order of summation, which differs between this construction and the
    network's forward pass; the point of the other class where D = m is then a tie that
    rounding can break either way (measured: forward passes fired on it). So a ReLU neuron's
    threshold is m (1 - margin), below every other-class D in any summation order, and the
    bookkeeping counts x as covered only when D(x) < m (1 - margin) (1 - 2 margin), so that
    every forward pass fires on it. Points in between count as uncovered (a later neuron may
    take them).
    """
    u = float(jnp.finfo(dtype).eps) / 2
    gamma = width * u / (1 - width * u)
    return 4 * gamma


def _pack_rows(values):
    """Rows i of `values` (width x n_points) with values > 0 packed into uint32 words, returned
    as (words x n_points): row j * words + w is bit j of word w, words = ceil(width / 32),
    missing rows are 0 bits. Hyperplane order does not matter to a distance that sums over all
    of them, so contiguous row blocks are used: the packing is 32 fused elementwise ORs over
    whole rows, vectorized along the points (the interleaved layout needs a short reduction
    that XLA's CPU backend runs ~4x slower), and a distance is a sum over the leading axis."""
    width, n_points = values.shape
    words = -(-width // 32)
    values = jnp.pad(values, ((0, 32 * words - width), (0, 0)))
    packed = jnp.zeros((words, n_points), jnp.uint32)
    for j in range(32):
        packed = packed | ((values[j * words : (j + 1) * words] > 0).astype(jnp.uint32) << j)
    return packed


def pack_bits(H):
    """The rows of a 0/1 feature matrix H (n_points x width) as packed uint32 words
    (words x n_points; see `_pack_rows`)."""
    return _pack_rows(H.T)


def preactivations_by_row(X, W, b):
    """W X^T + b: the first layer's pre-activations as (width x n_points), so that packing
    reads whole rows. Rounded exactly as the network's X W^T + b (tested, bit for bit; a fused
    multiply-add form is 2x faster but rounds 16% of the entries differently, and a bit that
    flips near 0 makes the bookkeeping disagree with the forward pass)."""
    return jnp.matmul(W, X.T, precision="highest") + b[:, None]


# Pre-activations held at once: W X^T is width x n_points floats, 8 GB at the size
# experiment's n = 2000, N = 10^6, so the points go through in blocks of about this many.
BITS_BLOCK_ELEMENTS = 2**22


def _threshold_bits(X, W, b):
    n_points, d = X.shape
    block = max(32, BITS_BLOCK_ELEMENTS // W.shape[0])
    if n_points <= block:
        return _pack_rows(preactivations_by_row(X, W, b))
    blocks = -(-n_points // block)
    X_blocks = jnp.pad(X, ((0, blocks * block - n_points), (0, 0))).reshape(blocks, block, d)
    packed = jax.lax.map(lambda Xb: _pack_rows(preactivations_by_row(Xb, W, b)), X_blocks)
    return packed.transpose(1, 0, 2).reshape(packed.shape[1], blocks * block)[:, :n_points]


_threshold_bits_one_at_a_time = jax.custom_batching.sequential_vmap(_threshold_bits)


def threshold_bits(X, W, b):
    """The threshold features 1[W x + b > 0] of every row of X, packed (see `pack_bits`),
    without keeping the float pre-activations. On a CPU, vmap runs this one dataset at a time
    (sequential_vmap): one dataset's pre-activations (n_points x width floats) stay in cache,
    where a batch of them goes to memory (measured 7x faster at n = 500 on a 2-core CPU).
    Accelerators take the whole batch at once."""
    if jax.default_backend() == "cpu":
        return _threshold_bits_one_at_a_time(X, W, b)
    return _threshold_bits(X, W, b)


def one_sided_distances(packed, c):
    """D(x) = #{i : H_i(c) = 0, H_i(x) = 1} for every point x, from packed bits (words x
    n_points): one AND-NOT and a popcount per 32 hyperplanes instead of 32 multiply-adds
    (exact, int32)."""
    inactive_at_c = ~packed[:, c]  # padding bits become 1 here but are 0 in every row
    hits = jax.lax.population_count(packed & inactive_at_c[:, None])
    return jnp.sum(hits, axis=0, dtype=jnp.int32)


def candidate_priority(key, n_points: int):
    """The uniformly random candidate choice of Algorithm 2, line 4, as random priorities
    (genzel2023.md §2.6): the candidate taken at each step is the remaining one of smallest priority
    (ties, which float32 uniforms allow: smallest index, as argmin takes them). No sort: a
    batch of argsorts costs more than the whole greedy loop on a CPU."""
    return jax.random.uniform(key, (n_points,))


def _failing(packed, other):
    """fail[c]: some point x of the other class has H(x) <= H(c) coordinatewise (active only
    where c is active), so D_c(x) = 0 and m = 0: candidate c would be discarded (line 6)."""

    def block(packed_c):  # (words, B) candidates at once
        inside = (
            jax.lax.reduce(
                packed[:, None, :] & ~packed_c[:, :, None], np.uint32(0), jax.lax.bitwise_or, (0,)
            )
            == 0
        )  # (B, n_points)
        return jnp.any(inside & other[None, :], axis=1)

    n_points = packed.shape[1]
    size = min(SCREEN_BLOCK, n_points)
    blocks = -(-n_points // size)
    padded = jnp.pad(packed, ((0, 0), (0, blocks * size - n_points)))
    out = jax.lax.map(block, padded.reshape(packed.shape[0], blocks, size).transpose(1, 0, 2))
    return out.reshape(-1)[:n_points]


_failing_one_at_a_time = jax.custom_batching.sequential_vmap(_failing)
SCREEN_BLOCK = 128
# Screen out failing candidates first when the all-pairs subset test (n_points^2 words
# ops) is cheap next to a long greedy loop. On a 2-core CPU it paid (20-30% on the moons grid)
# only up to 4 words per point; on an accelerator, where each loop step is a round of
# kernel launches, cutting the loop from |X-| steps to k is the bigger win (not measured:
# no GPU was lent when this was written).
SCREEN_MAX_WORDS, SCREEN_MAX_POINTS = 4, 4096
SCREEN_MAX_POINTS_ACCELERATOR = 8192


def failing_candidates(packed, other):
    """`_failing` for packed threshold features; one dataset at a time under vmap on CPU."""
    if jax.default_backend() == "cpu":
        return _failing_one_at_a_time(packed, other)
    return _failing(packed, other)


def _greedy(key, distances, covered, max_neurons, margin, big, dtype, viable=None):
    """Algorithm 2, lines 2-11, given D(., c) for a candidate c as `distances(c)`.

    viable (optional): the candidates that will not be discarded (`failing_candidates`).
    Trying only those gives the same network: a discarded candidate changes nothing but the
    candidate set (line 6), so skipping it is invisible except in the number of candidates
    tried, which is recovered exactly from the priorities (a point is tried iff no neuron
    covered it before its turn and the loop had not stopped). Every step then adds a neuron,
    so the loop runs k times instead of up to |X-|; under vmap that is the batch's largest k.
    """
    n_points = covered.shape[0]
    priority = candidate_priority(key, n_points)
    index = jnp.arange(n_points, dtype=jnp.int32)
    slots = jnp.arange(max_neurons, dtype=jnp.int32)
    other = ~covered
    exact = margin == 0.0
    never = jnp.int32(n_points)  # "no step": covered_at of a point no neuron covers
    first = covered if viable is None else covered & viable

    def turn_not_after(x, c):
        """Point x's turn comes no later than candidate c's in the (priority, index) order;
        c = never is after everything."""
        c_ = jnp.minimum(c, n_points - 1)
        before = (priority[x] < priority[c_]) | ((priority[x] == priority[c_]) & (x <= c_))
        return before | (c == never)

    def keep_going(state):
        remaining, uncovered, *_ = state
        return jnp.any(remaining < jnp.inf) & jnp.any(uncovered)

    def step(state):
        remaining, uncovered, covered_at, centers, thresholds, k, last = state
        # Line 4: the first index of the smallest priority. Two min-reductions, not argmin
        # (a variadic reduction that XLA's CPU backend runs ~8x slower).
        c = jnp.min(jnp.where(remaining == jnp.min(remaining), index, never))
        D = distances(c)  # line 5: u = 1[H(c) <= 0]
        m = jnp.min(jnp.where(other, D, big))  # over the whole other class
        accept = m > 0  # line 6
        if exact:
            newly = covered & (D < m) & accept  # lines 7-8 (strict)
        else:
            m = m * (1 - margin)
            newly = covered & (D < m * (1 - 2 * margin)) & accept
        # Masks, not scatters (a batched scatter costs ~10x a fused elementwise pass here).
        slot = slots == jnp.where(accept, k, max_neurons)  # no slot if rejected
        centers = jnp.where(slot, c, centers)
        thresholds = jnp.where(slot, m.astype(dtype), thresholds)
        covered_at = jnp.where(newly & uncovered, c, covered_at)
        return (
            jnp.where(newly | (index == c), jnp.inf, remaining),
            uncovered & ~newly,
            covered_at,
            centers,
            thresholds,
            k + accept.astype(jnp.int32),
            c,
        )

    state = (
        jnp.where(first, priority, jnp.inf),
        covered,
        jnp.full((n_points,), never),
        jnp.full((max_neurons,), -1, jnp.int32),
        jnp.zeros((max_neurons,), dtype),
        jnp.zeros((), jnp.int32),
        never,
    )
    _, uncovered, covered_at, centers, thresholds, k, last = jax.lax.while_loop(
        keep_going, step, state
    )
    stop = jnp.where(jnp.any(uncovered), never, last)  # the loop's last turn, if all covered
    tried = covered & turn_not_after(index, covered_at) & turn_not_after(index, stop)
    return centers, thresholds, k, jnp.sum(tried, dtype=jnp.int32), uncovered


def greedy_on_bits(
    key, packed, covered, max_neurons: int, dtype=jnp.float32, *, screen: bool | None = None
):
    """Algorithm 2, lines 2-11, on packed threshold features (`threshold_bits`); exact.
    screen: skip the candidates line 6 would discard, found up front by an all-pairs subset
    test (same result; default: see SCREEN_MAX_WORDS)."""
    words, n_points = packed.shape
    if screen is None:
        screen = (
            words <= SCREEN_MAX_WORDS and n_points <= SCREEN_MAX_POINTS
            if jax.default_backend() == "cpu"
            else n_points <= SCREEN_MAX_POINTS_ACCELERATOR
        )
    viable = ~failing_candidates(packed, ~covered) if screen else None
    return _greedy(
        key,
        lambda c: one_sided_distances(packed, c),
        covered,
        max_neurons,
        0.0,
        jnp.iinfo(jnp.int32).max,
        dtype,
        viable,
    )


def greedy_second_layer(
    key, H, covered, max_neurons: int, margin: float = 0.0, *, binary: bool = False
):
    """Algorithm 2, lines 2-11, on the feature matrix H (n_points x width, nonnegative).

    covered: bool (n_points,), the class the neurons cover (jaxmem's +1 class); the rest is the
    class no neuron may fire on. margin: 0 for threshold features (exact), relu_margin for
    ReLU features. binary=True promises H is 0/1 (threshold features): the distances are then
    counted on packed bits (exact integers). The candidate chosen at each step is the
    remaining one of smallest priority (`candidate_priority(key, n_points)`).
    Returns centers (max_neurons,) int32 (-1 = unused), thresholds
    m (1 - margin) (max_neurons,) (as H's dtype; integers for threshold features), the count
    k, the number of candidates tried, and the uncovered mask at exit.
    """
    if binary:
        return greedy_on_bits(key, pack_bits(H), covered, max_neurons, H.dtype)

    def distances(c):
        return jnp.matmul(H, (H[c] <= 0).astype(H.dtype), precision="highest")

    return _greedy(
        key, distances, covered, max_neurons, margin, jnp.asarray(jnp.inf, H.dtype), H.dtype
    )


def _second_layer_fitter(X, W, b, activation: str, max_neurons: int):
    """(key, covered) -> Algorithm 2's greedy second layer on this first layer's features:
    exact counts on packed bits for threshold features, the float path with its rounding
    margin for ReLU. The features are computed once, whatever class is covered."""
    dtype = X.dtype
    if activation == "threshold":
        bits = threshold_bits(X, W, b)
        return lambda key, covered: greedy_on_bits(key, bits, covered, max_neurons, dtype)
    H = features(X, W, b, activation)
    margin = relu_margin(W.shape[0], dtype)
    return lambda key, covered: greedy_second_layer(key, H, covered, max_neurons, margin)


def _first_layer_and_fitter(key, X, width, max_bias, activation, max_neurons):
    """What build and fit_multiclass share: the options checked, the first layer drawn from
    key's first half, and the greedy fitter on its features. Returns (W, b, max_neurons,
    fit, the key for the candidate priorities)."""
    n_points, d = X.shape
    _check(width, max_bias, activation, max_neurons, n_points)
    max_neurons = max_neurons or n_points
    k_layer, k_order = jax.random.split(key)
    W, b = first_layer(k_layer, d, width, jnp.asarray(max_bias, X.dtype), X.dtype)
    return W, b, max_neurons, _second_layer_fitter(X, W, b, activation, max_neurons), k_order


def _second_layer(X, W, b, centers, thresholds, active, activation: str):
    """The second layer as a masked Layer: neuron j is act(m_j - <u_j, H(x)>) with
    u_j = 1[H(c_j) <= 0]. Only the centers' feature rows are computed (XLA drops all this
    when only the info is used)."""
    H_centers = features(X[jnp.maximum(centers, 0)], W, b, activation)
    U = jnp.where(active[None, :], (H_centers <= 0).astype(W.dtype).T, 0)  # (width, slots)
    return network.Layer(-U, jnp.where(active, thresholds, 0), active, activation=activation)


def _scalars(info) -> dict:
    return dict(
        ok=info["interpolated"],
        interpolated=info["interpolated"],
        second_layer_width=info["second_layer_width"],
        uncovered=info["uncovered"],
        candidates_tried=info["candidates_tried"],
        paper_param_count=info["paper_param_count"],
        first_layer_width=info["first_layer_width"],
    )


def sweep_trial(key, X, y, **options) -> dict:
    """Algorithm 2 on one dataset, measured by its bookkeeping: exact for threshold features
    (tests/test_genzel2023.py checks it against forward passes), and it skips a forward pass
    through n_points padded second-layer slots. sign_accuracy = 1 - uncovered / n_points,
    since the -1 class is never misclassified."""
    _, info = build(key, X, y, **options)
    out = _scalars(info)
    out["sign_accuracy"] = 1 - info["uncovered"] / X.shape[0]
    return out


def sweep_trial_multiclass(key, X, labels, *, num_classes, **options) -> dict:
    """The one-vs-rest extension on one dataset (shared first layer), by its bookkeeping;
    accuracy counts a point right when its own class covers it (the strict criterion)."""
    *_, info = fit_multiclass(key, X, labels, num_classes=num_classes, **options)
    out = _scalars(info)
    out["accuracy"] = 1 - info["uncovered"] / X.shape[0]
    return out


def _memory(n, d, itemsize, options):
    # the points, and `width` threshold features per point held as bits and bytes (the
    # second layer is bookkept, not evaluated)
    return 4 * itemsize * (n * d + n) + 2 * n * options["width"]


# The decorators below spell out host=False, measure=None and invalid=None, so that **_OPTIONS
# can only fill `**options` (the type checker would otherwise match its Option values
# against those keywords).
_OPTIONS = dict(
    width=Option(100, positive_int("width")),
    activation=Option("threshold", one_of("activation", ACTIVATIONS)),
    max_bias=Option(1.0, nonnegative("max_bias"), traced=True),
)


@construction(
    "genzel2023",
    citation="Dirksen, Finke, Genzel 2023, Alg. 2: random threshold "
    "layer of width n, greedy second layer, OR; +-1 labels (+1 is covered)",
    task="binary",
    trial=sweep_trial,
    memory=_memory,
    host=False,
    measure=None,
    invalid=None,
    example=dict(data="moons", axes=dict(n=40, width=32)),
    **_OPTIONS,
)
def build(
    key,
    X,
    y,
    *,
    width: int,
    max_bias=1.0,
    activation: str = "threshold",
    max_neurons: int | None = None,
):
    """Algorithm 2's network for +-1 labels: d -> width -> k -> 1 (OR) -> 1 (the {0, 1} -> +-1
    label map 2s - 1; not a layer of the paper's network).

    The second layer has max_neurons slots (default n_points, the most Algorithm 2 can add),
    of which the first k are active. info:
      interpolated         every +1 point is covered (the -1 class is never misclassified)
      second_layer_width   k
      uncovered            the number of +1 points no neuron accepts
      candidates_tried     greedy iterations (T <= number of +1 points)
      centers, thresholds  c_j and m_j of the neurons (-1 / 0 in unused slots)
      paper_param_count    n(d + 1) + k(n + 1) + (k + 1), the count of the paper's three layers
    """
    X, y = float_data(X, y, task="binary", allow_duplicates=True)
    W, b, max_neurons, fit, k_order = _first_layer_and_fitter(
        key, X, width, max_bias, activation, max_neurons
    )
    dtype, d = X.dtype, X.shape[1]
    centers, thresholds, k, tries, uncovered = fit(k_order, y > 0)
    active = jnp.arange(max_neurons) < k
    net = network.Network(
        (
            network.Layer(W.T, b, activation=activation),
            _second_layer(X, W, b, centers, thresholds, active, activation),
            network.Layer(
                jnp.ones((max_neurons, 1), dtype), jnp.zeros((1,), dtype), activation="threshold"
            ),  # OR: 1[sum_j z_j > 0]
            network.Layer(
                jnp.full((1, 1), 2, dtype), jnp.full((1,), -1, dtype), activation="identity"
            ),  # {0, 1} -> {-1, +1}
        )
    )
    n_uncovered = jnp.sum(uncovered)
    info = dict(
        interpolated=n_uncovered == 0,
        second_layer_width=k,
        uncovered=n_uncovered,
        candidates_tried=tries,
        centers=centers,
        thresholds=thresholds,
        paper_param_count=width * (d + 1) + k * (width + 1) + (k + 1),
        first_layer_width=jnp.asarray(width),
    )
    return net, info


def _check_classes(labels, num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2; got {num_classes!r}")
    if is_traced(labels):
        return
    labels = np.asarray(labels)
    if (
        labels.ndim == 1
        and labels.size
        and not np.issubdtype(labels.dtype, np.integer)
        and np.all(labels == np.round(labels))
    ):
        labels = labels.astype(np.int64)  # float class indices (0., 1., ...) are accepted
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D integer array of class indices; got shape "
            f"{labels.shape} and dtype {labels.dtype}"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise ValueError(
            f"labels must lie in [0, {num_classes}); rows {bad[:5].tolist()} "
            f"have {labels[bad[:5]].tolist()}"
        )


def fit_multiclass(
    key,
    X,
    labels,
    *,
    num_classes: int,
    width: int,
    max_bias=1.0,
    activation: str = "threshold",
    max_neurons: int | None = None,
):
    """The one-vs-rest extension (genzel2023.md §2.3, the authors' OneVsRestClassifier): one shared
    first layer, then Algorithm 2's greedy second layer once per class c with X- = class c
    and X+ = every other class. Returns (first layer (W, b), per-class centers, thresholds,
    info) without materializing the network, so it scales to MNIST and CIFAR-10.

    Every class's greedy loop uses the same candidate priorities (the authors' classes start
    from the same generator state); the classes' points are disjoint, so their orders are
    still independent. max_neurons (default n_points) is the per-class slot count. info:
      interpolated         every point is covered by its own class's neurons (strict: the
                           authors' score == 1 can hide uncovered points of the class
                           sklearn's argmax tie-break picks; docs/papers/genzel2023.md §2.3)
      second_layer_width   sum over classes of k_c (the authors' second_dim_out)
      class_widths         k_c per class
      uncovered            points not covered by their own class
      candidates_tried     greedy iterations, summed over classes
      paper_param_count    n(d + 1) + sum_c [k_c (n + 1) + (k_c + 1)]
    """
    X = jnp.asarray(X)
    if not is_traced(X):
        validate(X, allow_duplicates=True, check_duplicates=False)
    _check_classes(labels, num_classes)
    W, b, max_neurons, fit, k_order = _first_layer_and_fitter(
        key, X, width, max_bias, activation, max_neurons
    )
    members = jnp.asarray(labels)[None, :] == jnp.arange(num_classes)[:, None]
    centers, thresholds, k, tries, uncovered = jax.vmap(lambda covered: fit(k_order, covered))(
        members
    )
    n_uncovered = jnp.sum(uncovered)
    info = dict(
        interpolated=n_uncovered == 0,
        second_layer_width=jnp.sum(k),
        class_widths=k,
        uncovered=n_uncovered,
        candidates_tried=jnp.sum(tries),
        paper_param_count=width * (X.shape[1] + 1) + jnp.sum(k * (width + 1) + k + 1),
        first_layer_width=jnp.asarray(width),
    )
    return (W, b), centers, thresholds, info


@construction(
    "genzel2023.multiclass",
    citation="Dirksen, Finke, Genzel 2023: one-vs-rest with a shared first layer; class labels",
    task="multiclass",
    trial=sweep_trial_multiclass,
    memory=_memory,
    host=False,
    measure=None,
    invalid=None,
    example=dict(data="digits", axes=dict(n=60, width=32)),
    num_classes=Option(10, positive_int("num_classes")),
    **_OPTIONS,
)
def build_multiclass(
    key,
    X,
    labels,
    *,
    num_classes: int,
    width: int,
    max_bias=1.0,
    activation: str = "threshold",
    max_neurons: int | None = None,
):
    """`fit_multiclass` as a Network d -> width -> C * max_neurons -> C: output c is the OR of
    class c's neurons, so a covered point's output is the one-hot vector of its class (no
    neuron of class c fires outside class c) and an uncovered point's is all zeros; the
    prediction is the argmax. The second layer has C * max_neurons slots, so keep max_neurons
    small for large data (or use fit_multiclass, which never builds it)."""
    (W, b), centers, thresholds, info = fit_multiclass(
        key,
        X,
        labels,
        num_classes=num_classes,
        width=width,
        max_bias=max_bias,
        activation=activation,
        max_neurons=max_neurons,
    )
    dtype = W.dtype
    num_slots = centers.shape[1]
    active = (jnp.arange(num_slots)[None, :] < info["class_widths"][:, None]).reshape(-1)
    # Output c sums class c's slots: a block-diagonal 0/1 matrix (C * max_neurons, C).
    owner = jnp.repeat(jnp.arange(num_classes), num_slots)
    OR = (owner[:, None] == jnp.arange(num_classes)[None, :]).astype(dtype)
    net = network.Network(
        (
            network.Layer(W.T, b, activation=activation),
            _second_layer(
                jnp.asarray(X),
                W,
                b,
                centers.reshape(-1),
                thresholds.reshape(-1),
                active,
                activation,
            ),
            network.Layer(OR, jnp.zeros((num_classes,), dtype), activation="threshold"),
        )
    )
    return net, info
