"""Yu, Gao, Zhang, Miao (NeurIPS 2024), "Generalizability of Memorization Neural Networks":
the efficient generalizable memorizer of Theorem 7.3 ("M1" in the experiments, App. H), and the
function computed by Theorem 5.3's adversarial optimal-size memorizer (App. E).

M1 (App. H.2-H.5; docs/papers/yu2024.md §3.1). For every ordered pair (i, j) of opposite labels,
    S_ij(x) = (x_i - x_j) . (x - (0.51 x_i + 0.49 x_j)),
a hyperplane between x_i and x_j slightly on x_i's side; S_ij(x_i) = 0.49 ||x_i - x_j||^2 > 0.
    hidden layer 1:  a_ij(x) = relu(-S_ij(x))                  (2 N+ N- units)
    hidden layer 2:  F1_i(x) = relu(r - sum_{j: y_j != y_i} a_ij(x))   (N units)
    output:          F(x) = sum_i y_i F1_i(x),       r = 0.01 min_{y_i != y_j} ||x_i - x_j||^2.
On the cell C_i = {x : S_ij(x) >= 0 for every opposite j} unit i outputs r and every unit of
the other label outputs 0 (Lemma H.2: there u_k >= a_ki >= 0.02 ||x_i - x_k||^2 >= 2r), so F
has the sign of y_i (Lemma H.3); training points lie in their own cells, so F memorizes.

Never built (docs/conventions.md §4): the first layer of one CIFAR-10 pair has 18 million units of
3073 parameters. With g = X t and s_i = ||x_i||^2,
    S_ij(t) = g_i - g_j - c_ij,   c_ij = 0.51 s_i - 0.02 <x_i, x_j> - 0.49 s_j,
so the network is evaluated from the N x N matrix c (the first layer's biases) and one
cross-Gram row per test point, in blocks of test points (`apply`). A second, exact shortcut
skips most of the N^2 work per point: F1_i(t) > 0 needs a_ij(t) < r for every opposite j, and
a_ij(t) = relu((d_i - d_j)/2 + 0.01 D_ij) with d the squared distances to t, so
    F1_i(t) > 0  =>  d_i < min_{j: y_j != y_i} d_j + 2r.
Only the few training points nearest to t can pass. A block of test points evaluates exactly
the units that pass when there are at most K of them at every point (certified), else with 8K,
else in full, so the result is always the full network's. Where only signs matter (accuracy,
`evaluate`), Lemma H.2 decides most points in O(N n + N): in the cell of its nearest training
point of either class, F has that point's sign; the band between cells gets the full network.
On well-separated data many same-label cells overlap, so many units fire: the exact outputs
of `apply` then cost close to N^2 per point, while `evaluate` stays cheap.

`materialize` builds the same function as a `jaxmem.network.Network` (small N only); the
tests check that both agree, and `param_count` / `nonzero_param_count` count it without
building it. `split` (default 0.51) exists to break the construction on purpose: at 0.5 the
cells of the closest opposite pair touch and F = 0 on their boundary; below 0.01 a training
point's opposite units need not vanish (a_ki(x_i) = split ||x_i - x_k||^2 < r), so it can
be misclassified. The shortcuts above hold only for some splits (the pruning test for
split >= 1/2, the cells for split >= 0.51); outside, the full network is evaluated (the
paths then agree up to the summation order of F, which can decide an exact tie).

Registered constructions (jaxmem.constructions.protocol; swept with their own trials, the
networks being implicit): "yu2024.m1" (`build`, option split) and "yu2024.thm5_3"
(`build_adversarial`, option tries).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import network
from jaxmem.constructions.protocol import (
    Option,
    construction,
    in_open_interval,
    optional,
    positive_int,
)
from jaxmem.data.validate import is_traced, validate
from jaxmem.data.validate import positive_int as check_positive_int

_HIGHEST = jax.lax.Precision.HIGHEST
SPLIT = 0.51  # the paper's 0.51 / 0.49 (App. H.2)
MARGIN_FRACTION = 0.01  # r = 0.01 min ||x_i - x_j||^2 over opposite pairs (App. H.2)
CANDIDATES = 16  # units per test point the pruned path evaluates exactly
BLOCK_BYTES = 64 * 2**20  # working memory of one block of test points
METHODS = ("pruned", "full")


@dataclasses.dataclass(frozen=True)
class M1:
    """The Theorem 7.3 network, held implicitly by its training set.

    X (N, n), y (N,) in {-1, +1}, sq_norms (N,) = ||x_i||^2, offsets (N, N) = c_ij, the bias
    of first-layer unit (i, j) (only opposite-label entries are used), margin_r () = r,
    split () = the hyperplanes' split (the evaluation's shortcuts hold only for some splits).
    A pytree: vmaps over a leading batch axis of datasets and jit-compiles once per shape.
    """

    X: jax.Array
    y: jax.Array
    sq_norms: jax.Array
    offsets: jax.Array
    margin_r: jax.Array
    split: jax.Array | float = SPLIT

    def apply(self, T, **options):
        return apply(self, T, **options)

    def param_count(self):
        """Weights plus biases of the materialized network (`materialize`, layer 2 dense)."""
        return param_count(self)

    def nonzero_param_count(self):
        """Nonzero weights and biases of the materialized network, without building it."""
        return nonzero_param_count(self)


jax.tree_util.register_dataclass(
    M1, data_fields=["X", "y", "sq_norms", "offsets", "margin_r", "split"], meta_fields=[]
)


def _check_split(split):
    if not is_traced(split) and not 0 < split < 1:
        raise ValueError(
            f"split must lie in (0, 1): the hyperplane passes through "
            f"split x_i + (1 - split) x_j; got {split}"
        )


def param_counts(n_pos: int, n_neg: int, n: int) -> dict:
    """Exact parameter counts of M1 (Python ints; they exceed int32 on CIFAR-10 pairs).

    M = 2 N+ N- first-layer units, N = N+ + N- second-layer units, depth 3.
      dense:  M (n + 1) + N (M + 1) + (N + 1)   (layer 2 as a full M x N matrix)
      sparse: M (n + 2) + 2N + 1                (layer 2 as the paper builds it: each unit
              reads only its own N_{-y} pair units; the paper's O(N^2 n))
    """
    return _size_formulas(
        check_positive_int("n_pos", n_pos),
        check_positive_int("n_neg", n_neg),
        check_positive_int("n", n),
    )


def _size_formulas(n_pos, n_neg, n):
    """`param_counts` for Python ints or (traced) integer arrays alike."""
    pairs, points = 2 * n_pos * n_neg, n_pos + n_neg
    return dict(
        pair_units=pairs,
        point_units=points,
        depth=3,
        dense_param_count=pairs * (n + 1) + points * (pairs + 1) + points + 1,
        sparse_param_count=pairs * (n + 2) + 2 * points + 1,
    )


def _count_dtype():
    # Counts pass 2^31 at N ~ 1000 for n = 784 (a CIFAR-10 pair has 5.5e10 parameters).
    return jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32


def _class_sizes(y):
    dtype = _count_dtype()
    return jnp.sum(y > 0, dtype=dtype), jnp.sum(y < 0, dtype=dtype)


def param_count(m1: M1):
    """The materialized network's weights plus biases (`param_counts`' dense count), as an
    integer array (traceable)."""
    n_pos, n_neg = _class_sizes(m1.y)
    return _size_formulas(n_pos, n_neg, m1.X.shape[1])["dense_param_count"]


def _equal_opposite_coordinates(X, y):
    """#{(i, j, k): y_i != y_j, x_ik == x_jk} over ordered pairs: the zero first-layer
    weights of the materialized network. Per coordinate, each point of label +1 counts the
    points of label -1 with its value by two binary searches (O(n N log N), no N x N x n
    array: a CIFAR-10 pair would have 10^11 entries)."""
    pos = y > 0

    def per_coordinate(column):
        others = jnp.sort(jnp.where(pos, jnp.inf, column))  # label -1 values, then inf
        equal = jnp.searchsorted(others, column, side="right") - jnp.searchsorted(
            others, column, side="left"
        )
        return jnp.sum(jnp.where(pos, equal, 0), dtype=_count_dtype())

    return 2 * jnp.sum(jax.vmap(per_coordinate)(X.T))


def nonzero_param_count(m1: M1):
    """The materialized network's nonzero weights and biases (`materialize`; what
    `network.nonzero_param_count` of it gives), without building it: first-layer weights
    x_j - x_i (zero where two opposite points share a coordinate) and biases c_ij, the M
    weights -1 and N biases r of layer 2, the N output weights y_i; the output bias is 0.
    On data in general position this is the paper's sparse count minus 1."""
    n_pos, n_neg = _class_sizes(m1.y)
    pairs, points = 2 * n_pos * n_neg, n_pos + n_neg
    n = m1.X.shape[1]
    w1 = pairs * n - _equal_opposite_coordinates(m1.X, m1.y)
    b1 = jnp.sum(_opposite(m1.y) & (m1.offsets != 0), dtype=_count_dtype())
    return w1 + b1 + pairs + points * (m1.margin_r != 0) + points


def _opposite(y):
    return y[:, None] != y[None, :]


def _memory(n, d, itemsize, options):
    # The Gram matrix, c_ij and the distances (N x N each), and one block of the training
    # points' evaluation (at most BLOCK_BYTES per branch; under vmap every branch runs).
    return 4 * itemsize * (n * d + 4 * n * n + n) + 3 * min(BLOCK_BYTES, itemsize * n**3)


def sweep_trial(key, X, y, *, split=SPLIT) -> dict:
    """M1 on one dataset (the sweep's measurement): ok = valid and sign F(x_i) = y_i on every
    training point (Definition 3.4), F evaluated exactly by `apply` (`training_margins`).
    Also the exact margin claim y_i F(x_i) / r in [1, N_{y_i}] (margins_ok, yu2024.md §5.A.1)
    and Lemma H.3 on the cell boundaries (boundary_ok), which a split of 0.5 breaks although
    every training point is still memorized. Sizes: the materialized network's counts
    (param_count: layer 2 dense; nonzero_param_count) and the paper's count
    (paper_param_count = M (n + 2) + 2N + 1, layer 2 sparse), M = 2 N+ N- and N."""
    m1, info = build(key, X, y, split=split)
    F, bound = apply_with_error_bound(m1, m1.X)
    right = jnp.sign(F) == m1.y
    tm = _margins(m1, F, bound)
    bm = boundary_margins(m1)
    valid = jnp.asarray(info["valid"])
    # the sign is decided where |F| exceeds its rounding bound
    sign_undecided = jnp.any(jnp.abs(F) <= bound)
    return dict(
        ok=valid & jnp.all(right) & ~sign_undecided,
        undecided=valid & sign_undecided,
        margins_undecided=jnp.any(tm["undecided"]) | jnp.any(bm["undecided"]),
        valid=valid,
        sign_accuracy=jnp.mean(right.astype(X.dtype)),
        margins_ok=jnp.all(tm["ok"]),
        min_margin_over_r=jnp.min(tm["margin_over_r"]),
        boundary_ok=jnp.all(bm["ok"]),
        margin_r=info["margin_r"],
        min_opposite_sq_distance=info["min_opposite_sq_distance"],
        n_pos=info["n_pos"],
        n_neg=info["n_neg"],
        param_count=info["param_count"],
        nonzero_param_count=info["nonzero_param_count"],
        paper_param_count=info["paper_param_count"],
        hidden_units=info["hidden_units"],
        depth=jnp.asarray(3),
    )


@construction(
    "yu2024.m1",
    citation="Yu, Gao, Zhang, Miao 2024, Thm 7.3 (App. H.2-H.5): M1, "
    "2 N+ N- + N ReLU units, memorizes +-1 labels",
    task="binary",
    trial=sweep_trial,
    memory=_memory,
    example=dict(data="cube", axes=dict(n=12, d=3, split=[0.51, 0.75])),
    split=Option(
        SPLIT,
        in_open_interval(
            "split", 0, 1, "(the hyperplane passes through split x_i + (1 - split) x_j)"
        ),
        traced=True,
    ),
)
def build(key, X, y, *, split=SPLIT):
    """M1 for the training set (X, y): (net, info). Deterministic; `key` is unused (the
    common `build(key, X, y)` signature). Labels +-1, both classes present, no point with
    both labels (the paper's D(n, c) has c > 0); duplicates of one label are allowed.

    info: margin_r, min_opposite_sq_distance, n_pos, n_neg, valid (both classes present and
    every opposite pair distinct), param_count and nonzero_param_count (of the materialized
    network, `materialize`), paper_param_count (the paper's layer-2-sparse count),
    hidden_units (M + N); when the labels are concrete these are Python ints and
    `param_counts` is merged in.
    """
    del key
    validate(X, y, task="binary", allow_duplicates=True)
    _check_split(split)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    y = jnp.asarray(y, X.dtype)
    split = jnp.asarray(split, X.dtype)
    gram = jnp.matmul(X, X.T, precision=_HIGHEST)
    s = jnp.diagonal(gram)
    # c_ij = (x_i - x_j) . (split x_i + (1 - split) x_j)
    offsets = split * s[:, None] - (2 * split - 1) * gram - (1 - split) * s[None, :]
    opposite = _opposite(y)
    sq_dist = jnp.maximum(s[:, None] + s[None, :] - 2 * gram, 0)
    min_sq = jnp.min(jnp.where(opposite, sq_dist, jnp.inf))
    r = MARGIN_FRACTION * min_sq
    n_pos, n_neg = _class_sizes(y)
    m1 = M1(X=X, y=y, sq_norms=s, offsets=offsets, margin_r=r, split=split)
    sizes = _size_formulas(n_pos, n_neg, X.shape[1])
    info = dict(
        margin_r=r,
        min_opposite_sq_distance=min_sq,
        n_pos=n_pos,
        n_neg=n_neg,
        valid=(n_pos > 0) & (n_neg > 0) & (min_sq > 0) & jnp.isfinite(min_sq),
        param_count=sizes["dense_param_count"],
        nonzero_param_count=nonzero_param_count(m1),
        paper_param_count=sizes["sparse_param_count"],
        hidden_units=sizes["pair_units"] + sizes["point_units"],
    )
    if not is_traced(y, X):
        exact = param_counts(int(n_pos), int(n_neg), X.shape[1])  # Python ints: no overflow
        info.update(
            exact,
            param_count=exact["dense_param_count"],
            nonzero_param_count=int(info["nonzero_param_count"]),
            paper_param_count=exact["sparse_param_count"],
            hidden_units=exact["pair_units"] + exact["point_units"],
        )
    return m1, info


# ---------------------------------------------------------------------------------------
# Implicit evaluation


def _pre_bound(m1: M1, tt):
    """A bound on |fl(-S_ij(t)) + S_ij(t)| for every pair, per test point (B,): the first
    layer's rounding against the same first layer in exact arithmetic (from the data, the
    split and t as stored; c_ij exact, not its rounded value). With H = (|t|^2 + max s) / 2
    >= |t.x_i|: the two dot products err by gamma_n H each, c_ij (three terms <= max s, each
    from a dot product) by 3 gamma_(n+4) max s, and the two additions by gamma_2 (2 max s +
    2 H); 8 gamma_(n+6) (|t|^2 + max s) covers the sum. Each operation may also lose up to
    the smallest normal number (XLA's CPU backend flushes subnormals to zero): data near
    1e-150 have products there."""
    n = m1.X.shape[1]
    u = network.unit_roundoff(m1.X.dtype)
    tiny = jnp.finfo(m1.X.dtype).tiny
    return 8 * network.gamma(n + 6, u) * (tt + jnp.max(m1.sq_norms)) + 4 * (n + 6) * tiny


def _units_and_bounds(m1: M1, pre, opposite, delta):
    """F1 = relu(r - sum_j relu(-S_ij)) from the pre-activations -S_ij (B, U, N) (pairs not
    of opposite labels masked out), and a bound on each unit's distance to the unit in exact
    arithmetic, given `delta` (B,) from `_pre_bound`. A term whose computed -S_ij <= -delta
    is 0 both ways; the others err by <= delta. The sum of nonnegative terms loses <=
    gamma_N of itself (Higham). A unit whose sum exceeds r by more than its error is 0 both
    ways; the others are <= r + error, and `r - sum` rounds by u of that (plus the smallest
    normal number per operation, flushed subnormals)."""
    u = network.unit_roundoff(pre.dtype)
    tiny = jnp.finfo(pre.dtype).tiny
    r = m1.margin_r
    a = jnp.where(opposite, jnp.maximum(pre, 0), 0)
    total = jnp.sum(a, axis=-1)  # (B, U)
    units = jnp.maximum(r - total, 0)
    if delta is None:  # no bound asked for (evaluate): zeros, nothing computed
        return units, jnp.zeros_like(units)
    near = jnp.sum(opposite & (pre > -delta[:, None, None]), axis=-1)
    g = network.gamma(pre.shape[-1], u)
    err_total = near * delta[:, None] + g / (1 - g) * total + pre.shape[-1] * tiny
    clamped = total - err_total > r
    err_units = jnp.where(clamped, 0, err_total + u * (r + err_total) + tiny)
    return units, err_units


def _output_and_bound(units, labels, err_units):
    """F = sum_k y_k F1_k and a bound on its distance to F in exact arithmetic: the units'
    errors plus the rounding of the sum (gamma_U of the sum of the |terms|)."""
    u = network.unit_roundoff(units.dtype)
    tiny = jnp.finfo(units.dtype).tiny
    out = jnp.sum(units * labels, axis=-1)
    bound = (
        jnp.sum(err_units, axis=-1)
        + network.gamma(units.shape[-1] + 1, u) * jnp.sum(units, axis=-1)
        + units.shape[-1] * tiny
    )
    return out, bound


def _output(m1: M1, units, labels, err_units):
    """(F, in a cell (some unit at r), F's bound) from the units of a block."""
    out, bound = _output_and_bound(units, labels, err_units)
    return out, jnp.any(units == m1.margin_r, axis=-1), bound


def _full_output(m1: M1, g, tt, with_bound: bool):
    """`_output` of the whole network (`_full_block_chunked`): the fallback of the pruned
    paths when a point has too many possible units."""
    units, err_units = _full_block_chunked(m1, g, tt, with_bound)
    return _output(m1, units, m1.y[None], err_units)


def _full_block(m1: M1, g, tt, with_bound: bool):
    """Every unit of the network for a block of test points, from their cross-Gram rows g
    (B, N): S_ij = g_i - g_j - c_ij, then the two ReLU layers. Work B N^2. Also each unit's
    rounding bound (`_units_and_bounds`; zeros unless `with_bound`), given the points'
    squared norms `tt`."""
    pre = m1.offsets[None] - g[:, :, None] + g[:, None, :]  # -S_ij, (B, N, N)
    delta = _pre_bound(m1, tt) if with_bound else None
    return _units_and_bounds(m1, pre, _opposite(m1.y)[None], delta)  # F1 (B, N), bounds


def _full_block_chunked(m1: M1, g, tt, with_bound: bool):
    """`_full_block` (units and their bounds) over sub-blocks whose (rows, N, N) working set
    fits BLOCK_BYTES, so a fallback inside a block sized for a cheaper path keeps the same
    memory bound."""
    B, N = g.shape
    rows = int(max(1, min(B, BLOCK_BYTES // (N * N * g.dtype.itemsize))))
    if rows >= B:
        return _full_block(m1, g, tt, with_bound)
    chunks = -(-B // rows)
    gs = jnp.pad(g, ((0, chunks * rows - B), (0, 0))).reshape(chunks, rows, N)
    ts = jnp.pad(tt, (0, chunks * rows - B)).reshape(chunks, rows)
    units, err = jax.lax.map(lambda a: _full_block(m1, a[0], a[1], with_bound), (gs, ts))
    return units.reshape(chunks * rows, N)[:B], err.reshape(chunks * rows, N)[:B]


def _candidates(m1: M1, g, d, tt):
    """Which units can be nonzero at each test point: d_i < min_{y_j != y_i} d_j + 2r (module
    docstring), plus a rounding allowance: d = |t|^2 - 2 t.x_i + s_i errs by at most
    2 gamma_(n+2) (|t|^2 + max s), so a difference of two by twice that (the allowance is
    8 gamma_(n+4) (|t|^2 + max s), and never below the 64 eps (max s + max |d|) of before).
    A unit left out is then 0 in exact arithmetic too. Returns the (B, N) mask and its row
    counts."""
    pos = m1.y > 0
    nearest_pos = jnp.min(jnp.where(pos[None], d, jnp.inf), axis=-1, keepdims=True)
    nearest_neg = jnp.min(jnp.where(pos[None], jnp.inf, d), axis=-1, keepdims=True)
    nearest_other = jnp.where(pos[None], nearest_neg, nearest_pos)
    u = jnp.finfo(g.dtype).eps
    s_max = jnp.max(m1.sq_norms)
    allowance = jnp.maximum(
        64 * u * (s_max + jnp.max(jnp.abs(d), axis=-1, keepdims=True)),
        8
        * network.gamma(m1.X.shape[1] + 4, network.unit_roundoff(g.dtype))
        * (tt[:, None] + s_max),
    )
    # In general -S_ij = (d_i - d_j)/2 + (split - 1/2) ||x_i - x_j||^2: the test is
    # necessary only for split >= 1/2; below, every unit passes (the full network).
    passing = (d < nearest_other + 2 * m1.margin_r + allowance) | (m1.split < 0.5)
    return passing, jnp.sum(passing, axis=-1)


def _pruned_block(m1: M1, g, tt, passing, count, candidates: int, with_bound: bool):
    """F1 of the (at most `candidates`) units that pass the test, found without sorting, and
    their rounding bounds; a point is certified when no more than `candidates` pass. Work
    O(candidates N) per point."""
    K = min(candidates, m1.y.shape[0])
    idx = jax.vmap(lambda p: jnp.nonzero(p, size=K, fill_value=0)[0])(passing)  # (B, K)
    keep = jnp.arange(K)[None, :] < count[:, None]
    g_cand = jnp.take_along_axis(g, idx, axis=1)  # (B, K)
    pre = m1.offsets[idx] - g_cand[..., None] + g[:, None, :]  # -S_ij, (B, K, N)
    opposite = m1.y[idx][..., None] != m1.y[None, None, :]
    delta = _pre_bound(m1, tt) if with_bound else None
    units, err = _units_and_bounds(m1, pre, opposite, delta)
    units = jnp.where(keep, units, 0)
    return units, m1.y[idx], count <= K, jnp.where(keep, err, 0)


def _cells_block(m1: M1, g, d, tt, is_real, with_bound: bool):
    """Exact signs and ties without the N^2 work where Lemma H.2 allows: if t lies in the
    cell C_i of the nearest point of either class (u_i(t) = 0), every unit of the other label
    is 0 and F(t) >= r has the sign of y_i. Only the remaining points (the band between
    cells) get the full network, gathered B/8 at a time; a block with more runs in full.
    Returns (F where computed, else y_i r: the sign and |F| >= r; in_cell; certified =
    decided by a cell; F's rounding bound where computed, inf where a cell decided)."""
    B = g.shape[0]
    pos = m1.y > 0
    rows = jnp.arange(B)

    def cell_test(i):  # u_i(t) == 0 for the chosen i of every test point
        pre = m1.offsets[i] - g[rows, i][:, None] + g  # -S_ij(t), (B, N)
        a = jnp.where(m1.y[i][:, None] != m1.y[None, :], jnp.maximum(pre, 0), 0)
        return jnp.sum(a, axis=-1) == 0

    nearest_pos = jnp.argmin(jnp.where(pos[None], d, jnp.inf), axis=-1)
    nearest_neg = jnp.argmin(jnp.where(pos[None], jnp.inf, d), axis=-1)
    # In C_i a unit k of the other label has a_ki >= (2 split - 1) ||x_i - x_k||^2, which is
    # 2r at the paper's split (Lemma H.2). Below it the lemma's room shrinks (and is gone at
    # split = 0.505): then no point is decided by a cell, all get the network.
    lemma_h2 = m1.split >= SPLIT
    in_pos = cell_test(nearest_pos) & lemma_h2
    in_neg = cell_test(nearest_neg) & lemma_h2
    decided = in_pos | in_neg
    out = jnp.where(in_pos, m1.margin_r, jnp.where(in_neg, -m1.margin_r, 0)).astype(g.dtype)
    need = ~decided & is_real
    count = jnp.sum(need)
    band = jnp.nonzero(need, size=B, fill_value=0)[0]  # band points first
    K = 8 * CANDIDATES
    C = int(max(1, min(B, BLOCK_BYTES // (K * g.shape[1] * g.dtype.itemsize))))
    chunks = -(-B // C)
    band = jnp.pad(band, (0, chunks * C - B))

    def chunk(c, state):
        """C band points: the pruned network (module docstring), or the full one when a
        point there has more than K possible units."""
        F, cell, bound = state
        pos_in_band = c * C + jnp.arange(C)
        idx = jax.lax.dynamic_slice(band, (c * C,), (C,))
        live = pos_in_band < count
        g_c, d_c, tt_c = g[idx], d[idx], tt[idx]
        passing, n_pass = _candidates(m1, g_c, d_c, tt_c)
        units, labels, ok, err_units = _pruned_block(m1, g_c, tt_c, passing, n_pass, K, with_bound)

        F_c, cell_c, bound_c = jax.lax.cond(
            jnp.all(ok | ~live),
            lambda _: _output(m1, units, labels, err_units),
            lambda _: _full_output(m1, g_c, tt_c, with_bound),
            None,
        )
        target = jnp.where(live, idx, B)  # B: dropped
        return (
            F.at[target].set(F_c, mode="drop"),
            cell.at[target].set(cell_c, mode="drop"),
            bound.at[target].set(bound_c, mode="drop"),
        )

    # A dynamic trip count: blocks with no band point do no band work (under vmap over
    # datasets the loop runs to the largest count of the batch).
    no_bound = jnp.full(B, jnp.inf, g.dtype)
    F, in_cell, bound = jax.lax.fori_loop(0, (count + C - 1) // C, chunk, (out, decided, no_bound))
    return F, in_cell, decided | ~is_real, bound


def _block_size(N: int, n: int, method: str, candidates: int, itemsize: int) -> int:
    per_point = n + {"full": N * N, "pruned": 8 * candidates * N + 4 * N, "cells": 6 * N}[method]
    return int(max(1, min(4096, BLOCK_BYTES // (per_point * itemsize))))


def _evaluate_blocks(m1: M1, T, method: str, candidates: int, block_size, with_bound=False):
    """(outputs F, 1-NN labels, in-cell flags, certified flags, F's rounding bounds) for every
    row of T. The bound is on |F - F in exact arithmetic| (`_units_and_bounds`); "cells"
    gives it only where it computed F (inf where a cell decided the sign); all zeros unless
    `with_bound` (the bound costs about as much as the evaluation)."""
    if method not in METHODS + ("cells",):
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    candidates = check_positive_int("candidates", candidates)
    T = jnp.asarray(T, m1.X.dtype)
    if T.ndim != 2 or T.shape[1] != m1.X.shape[1]:
        raise ValueError(
            f"T must have shape (points, {m1.X.shape[1]}) to match the training "
            f"points; got shape {T.shape}"
        )
    if not is_traced(T):
        bad = ~np.isfinite(np.asarray(T))
        if bad.any():
            raise ValueError(f"T has NaN or inf in row {int(np.argwhere(bad)[0][0])}")
    N, n = m1.X.shape
    points = T.shape[0]
    B = check_positive_int(
        "block_size", block_size or _block_size(N, n, method, candidates, T.dtype.itemsize)
    )
    return _evaluate_core(m1, T, method, candidates, min(B, max(points, 1)), with_bound)


@functools.partial(jax.jit, static_argnames=("method", "candidates", "B", "with_bound"))
def _evaluate_core(m1: M1, T, method: str, candidates: int, B: int, with_bound: bool):
    N, n = m1.X.shape
    points = T.shape[0]
    blocks = -(-points // B)
    pad = blocks * B - points
    Tb = jnp.pad(T, ((0, pad), (0, 0))).reshape(blocks, B, n)
    real = (jnp.arange(blocks * B) < points).reshape(blocks, B)

    def one_block(args):
        t, is_real = args
        g = jnp.matmul(t, m1.X.T, precision=_HIGHEST)  # (B, N)
        tt = jnp.sum(t * t, axis=-1)
        d = tt[:, None] - 2 * g + m1.sq_norms[None]
        nn_label = m1.y[jnp.argmin(d, axis=-1)]
        if method == "cells":
            return _cells_block(m1, g, d, tt, is_real, with_bound) + (nn_label,)

        if method == "full":
            units, err_units = _full_block(m1, g, tt, with_bound)
            out, in_cell, bound = _output(m1, units, m1.y[None], err_units)
            return out, nn_label, in_cell, jnp.ones(t.shape[0], bool), bound
        passing, count = _candidates(m1, g, d, tt)
        cert = (count <= candidates) | ~is_real

        def small(_):
            units, labels, _, err_units = _pruned_block(
                m1, g, tt, passing, count, candidates, with_bound
            )
            return _output(m1, units, labels, err_units)

        def large(_):  # a few crowded points: 8x the candidates before the N^2 path
            units, labels, ok, err_units = _pruned_block(
                m1, g, tt, passing, count, 8 * candidates, with_bound
            )
            return jax.lax.cond(
                jnp.all(ok | ~is_real),
                lambda _: _output(m1, units, labels, err_units),
                lambda _: _full_output(m1, g, tt, with_bound),
                None,
            )

        # Unbatched, these are real branches: the costlier paths run only for blocks holding
        # an uncertified point. Under vmap over datasets every branch runs (still exact).
        out, in_cell, bound = jax.lax.cond(jnp.all(cert), small, large, None)
        return out, nn_label, in_cell, cert, bound

    if method == "cells":  # (out, in_cell, cert, bound, nn_label): reorder to the common tuple
        out, in_cell, cert, bound, nn_label = jax.lax.map(one_block, (Tb, real))
    else:
        out, nn_label, in_cell, cert, bound = jax.lax.map(one_block, (Tb, real))
    flat = lambda a: a.reshape(-1)[:points]
    return flat(out), flat(nn_label), flat(in_cell), flat(cert), flat(bound)


def apply(
    m1: M1,
    T,
    *,
    method: str = "pruned",
    candidates: int = CANDIDATES,
    block_size: int | None = None,
) -> jax.Array:
    """F(t) for every row of T, shape (points,), evaluated implicitly.

    method="pruned" (default): exact, O(N n + K N) per point for K = `candidates`; a block of
    `block_size` points holding a point with more than K possible units is redone with 8K,
    then in full. "full": every unit, O(N^2) per point. Memory is set by the block (default:
    a 64 MiB working set). Jittable and vmappable; under vmap prefer a Python loop over datasets of
    large N, since a vmapped branch computes both sides.
    """
    return _evaluate_blocks(m1, T, method, candidates, block_size)[0]


def apply_with_error_bound(
    m1: M1,
    T,
    *,
    method: str = "pruned",
    candidates: int = CANDIDATES,
    block_size: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """(F(t), bound) for every row of T: `apply`, and a rigorous bound on |F(t) - F*(t)|,
    where F* is M1 in exact arithmetic on the same stored data, split and margin r (every
    pair's c_ij exact). It covers the first layer's rounding (`_pre_bound`), the sums of both
    ReLU layers, and units the pruned path leaves out (0 in exact arithmetic too)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    out = _evaluate_blocks(m1, T, method, candidates, block_size, with_bound=True)
    return out[0], out[4]


def evaluate(
    m1: M1,
    T,
    yT,
    *,
    valid=None,
    method: str = "cells",
    candidates: int = CANDIDATES,
    block_size: int | None = None,
) -> dict:
    """Accuracy of M1 on labelled test points, next to 1-nearest-neighbour on the same
    training set. An output of exactly 0 (the band between cells) counts as an error.

    method="cells" (default) needs only signs: a point in the cell of its nearest training
    point of either class is decided by Lemma H.2 in O(N n + N) work; the others (the band)
    get the full network. "pruned" and "full" compute every output as `apply` does; all three
    give the same metrics (tested).

    accuracy, tie_fraction (F = 0), nn_accuracy, in_cell_fraction (t in some cell C_i, where
    F1_i(t) = r), agree_with_nn_in_cells (inside a cell M1 predicts the 1-NN label: the
    nearest opposite point is farther than x_i), certified_fraction (the points the fast
    path decided: by a cell for "cells", with at most `candidates` units for "pruned").

    valid (points,) bool, optional: average over these rows only, so that test sets of
    different sizes padded to one shape share one compilation (padded labels are ignored)."""
    yT = jnp.asarray(yT, m1.X.dtype)
    valid = jnp.ones(yT.shape, bool) if valid is None else jnp.asarray(valid, bool)
    if not is_traced(yT, valid):
        if valid.shape != yT.shape:
            raise ValueError(f"valid must have yT's shape {yT.shape}; got {valid.shape}")
        bad = np.flatnonzero(np.asarray(valid) & (np.abs(np.asarray(yT)) != 1))
        if bad.size:
            raise ValueError(
                f"test labels must be -1 or +1; row {bad[0]} is "
                f"{np.asarray(yT)[bad[0]]} ({bad.size} such rows)"
            )
    out, nn_label, in_cell, cert, _ = _evaluate_blocks(m1, T, method, candidates, block_size)
    if yT.shape != out.shape:
        raise ValueError(f"yT must have one label per row of T, shape {out.shape}; got {yT.shape}")
    pred = jnp.sign(out)
    agree = jnp.where(in_cell & valid, pred == nn_label, True)
    count = jnp.maximum(jnp.sum(valid), 1).astype(m1.X.dtype)
    mean = lambda a: jnp.sum(a & valid, dtype=m1.X.dtype) / count
    return dict(
        accuracy=mean(pred == yT),
        tie_fraction=mean(out == 0),
        nn_accuracy=mean(nn_label == yT),
        in_cell_fraction=mean(in_cell),
        agree_with_nn_in_cells=jnp.all(agree),
        certified_fraction=mean(cert),
    )


def training_margins(
    m1: M1, *, method: str = "pruned", candidates: int = CANDIDATES, block_size: int | None = None
) -> dict:
    """y_i F(x_i) / r for every training point, which the construction puts in [1, N_{y_i}]
    (F1_i(x_i) = r, units of the other label are 0, units of the same label in [0, r]), as a
    three-valued check (`_margins`)."""
    out, bound = apply_with_error_bound(
        m1, m1.X, method=method, candidates=candidates, block_size=block_size
    )
    return _margins(m1, out, bound)


def margin_is_faithful(m1: M1) -> jax.Array:
    """Whether the stored r = 0.01 fl(min ||x_i - x_j||^2) is at most twice the r of exact
    arithmetic: the squared distance s_i + s_j - 2 x_i.x_j errs by at most
    4 gamma_(n+2) max s. Lemma H.2 needs 2r <= (2 split - 1) ||x_i - x_k||^2 (0.02 of it at
    the paper's split): a stored r up to twice too large still leaves every unit of the other
    label at 0 on x_i. Beyond that (opposite points closer than about sqrt(n u) max |x|) the
    float64 M1 is not the paper's M1, and no check of it decides the theorem."""
    n = m1.X.shape[1]
    u = network.unit_roundoff(m1.X.dtype)
    tiny = jnp.finfo(m1.X.dtype).tiny
    err = 4 * network.gamma(n + 2, u) * jnp.max(m1.sq_norms) + 4 * (n + 2) * tiny
    return err <= 0.5 * m1.margin_r / MARGIN_FRACTION


def _margins(m1: M1, out, bound) -> dict:
    """`training_margins` from the outputs F(x_i) and their rounding bounds: with tolerance
    t_i = bound_i / r + gamma_4 (N_y + 1) (the ratio's own rounding), ok where y_i F(x_i) / r
    lies in [1 - t_i, N_y + t_i] (the exact margins' interval, widened by the rounding),
    decided where t_i <= 1/2 and r is faithful
    (`margin_is_faithful`); a wider tolerance could pass a network whose margins are all 0.
    `ok` is False where undecided."""
    same = jnp.where(m1.y > 0, jnp.sum(m1.y > 0), jnp.sum(m1.y < 0))
    u = network.unit_roundoff(m1.X.dtype)
    tol = bound / m1.margin_r + network.gamma(4, u) * (same + 1)
    ratio = m1.y * out / m1.margin_r
    decided = (tol <= 0.5) & margin_is_faithful(m1) & jnp.isfinite(ratio)
    within = (ratio >= 1 - tol) & (ratio <= same + tol)
    return dict(
        margin_over_r=ratio,
        class_size=same,
        ok=decided & within,
        undecided=~decided,
        tolerance=tol,
    )


def cell_boundary_points(m1: M1):
    """For each training point x_i, the point p_i where the segment to its nearest opposite
    point x_j crosses S_ij = 0 (p_i = 0.51 x_i + 0.49 x_j for the paper's split): a point on
    the boundary of the closed cell C_i. Returns (points (N, n), inside (N,)): inside says p_i
    meets every other constraint of C_i with room far above rounding, so Lemma H.3 gives
    sign F(p_i) = y_i there, and Lemma H.2 gives y_i F(p_i) >= r.

    p_i is found from the network's own biases (S_ij is affine along the segment), so a
    wrongly built first layer moves p_i with it instead of being checked against itself."""
    P, inside, _ = _cell_boundary(m1)
    return P, inside


def _cell_boundary(m1: M1):
    """`cell_boundary_points` and, per point, a bound e_i >= |S_ij(p_i)| in exact arithmetic
    (p_i, as stored, lies within e_i of the hyperplane S_ij = 0). "Room far above rounding"
    is at least twice the first layer's bound at p_i (`_pre_bound`), so S_ik(p_i) > 0 holds
    in exact arithmetic for the other constraints."""
    X, y, s = m1.X, m1.y, m1.sq_norms
    rows = jnp.arange(y.shape[0])
    gram = jnp.matmul(X, X.T, precision=_HIGHEST)
    sq_dist = jnp.maximum(s[:, None] + s[None, :] - 2 * gram, 0)
    opposite = _opposite(y)
    j = jnp.argmin(jnp.where(opposite, sq_dist, jnp.inf), axis=1)
    # S_ij(x_i + t (x_j - x_i)) = S_ij(x_i) - t ||x_i - x_j||^2 = 0.
    s_at_i = gram[rows, rows] - gram[rows, j] - m1.offsets[rows, j]
    t = s_at_i / sq_dist[rows, j]
    P = X + t[:, None] * (X[j] - X)
    g = jnp.matmul(P, X.T, precision=_HIGHEST)  # <p_i, x_k>, (N, N)
    S_all = g[rows, rows][:, None] - g - m1.offsets  # S_ik(p_i)
    delta = _pre_bound(m1, jnp.sum(P * P, axis=-1))
    room = jnp.maximum(1e3 * jnp.finfo(X.dtype).eps * (jnp.max(s) + 1), 2 * delta)
    others = opposite & (rows[None, :] != j[:, None])
    inside = jnp.all(jnp.where(others, S_all >= room[:, None], True), axis=1)
    return P, inside, jnp.abs(S_all[rows, j]) + delta


def boundary_margins(m1: M1, **options) -> dict:
    """Lemma H.3 at the edge of each cell: y_i F(p_i) / r at the boundary points of
    `cell_boundary_points`, `ok` where >= 1/2 (or p_i not inside C_i's other constraints).

    Three-valued: p_i lies within e_i of the edge S_ij = 0, where exact M1 has y_i F >= r -
    e_i (F1_i >= r - e_i; the units of x_j's label are 0 there, as S_ij + S_ji = -(2 split -
    1) ||x_i - x_j||^2 <= -2r), and the computed F errs by at most b_i
    (`apply_with_error_bound`). With (e_i + b_i) / r <= 1/2 a correct M1 passes, and a
    failure is a real one; otherwise the point is undecided (`ok` False there)."""
    P, inside, edge = _cell_boundary(m1)
    out, bound = apply_with_error_bound(m1, P, **options)
    ratio = m1.y * out / m1.margin_r
    decided = ((edge + bound) / m1.margin_r <= 0.5) & margin_is_faithful(m1)
    undecided = inside & ~decided
    return dict(
        margin_over_r=ratio,
        inside=inside,
        ok=jnp.where(inside, decided & (ratio >= 0.5), True),
        undecided=undecided,
    )


def exact_margins(X, y, split=SPLIT) -> dict:
    """M1 in exact rational arithmetic (host; O(N^3 n) Fractions: small N only): the
    construction of the paper on the binary values of X and split, with r = MARGIN_FRACTION
    min ||x_i - x_j||^2 over opposite pairs and every c_ij exact. Decides what `training_margins`
    and `boundary_margins` check, with no tolerance: y_i F(x_i) in [r, N_{y_i} r] for every
    training point, and y_i F(p_i) >= r at each cell's boundary point p_i (the exact point of
    the segment to the nearest opposite point where S_ij = 0) wherever p_i meets C_i's other
    constraints (Lemmas H.2-H.3). Returns ok, margins_ok, boundary_ok, boundary_points_inside,
    min_margin_over_r (a float)."""
    from fractions import Fraction

    validate(X, y, task="binary", allow_duplicates=True)  # both labels; no point with both
    Xq = [[Fraction(float(v)) for v in row] for row in np.asarray(X, np.float64)]
    labels = [float(v) for v in np.asarray(y, np.float64)]
    sp = Fraction(float(split))
    N = len(Xq)
    dot = lambda a, b: sum(p * q for p, q in zip(a, b))
    diff = lambda a, b: [p - q for p, q in zip(a, b)]
    opposite = [[labels[i] != labels[j] for j in range(N)] for i in range(N)]
    sq = [[dot(diff(Xq[i], Xq[j]), diff(Xq[i], Xq[j])) for j in range(N)] for i in range(N)]
    r = Fraction(str(MARGIN_FRACTION)) * min(
        sq[i][j] for i in range(N) for j in range(N) if opposite[i][j]
    )
    c = [
        [
            dot(diff(Xq[i], Xq[j]), [sp * a + (1 - sp) * b for a, b in zip(Xq[i], Xq[j])])
            if opposite[i][j]
            else Fraction(0)
            for j in range(N)
        ]
        for i in range(N)
    ]

    def S(i, j, t):  # S_ij(t) = <t, x_i - x_j> - c_ij
        return dot(t, diff(Xq[i], Xq[j])) - c[i][j]

    def F(t):
        total = Fraction(0)
        for k in range(N):
            unit = r
            for j in range(N):  # the unit is 0 once its sum reaches r: stop there
                if opposite[k][j]:
                    unit -= max(-S(k, j, t), 0)
                    if unit <= 0:
                        break
            if unit > 0:
                total += Fraction(labels[k]) * unit
        return total

    same = {lab: labels.count(lab) for lab in set(labels)}
    ratios = [Fraction(labels[i]) * F(Xq[i]) / r for i in range(N)]
    margins_ok = all(1 <= q <= same[labels[i]] for i, q in enumerate(ratios))
    boundary_ok, inside_count = True, 0
    for i in range(N):
        j = min((k for k in range(N) if opposite[i][k]), key=lambda k: sq[i][k])
        t = S(i, j, Xq[i]) / sq[i][j]
        p = [a + t * (b - a) for a, b in zip(Xq[i], Xq[j])]
        if all(S(i, k, p) >= 0 for k in range(N) if opposite[i][k] and k != j):
            inside_count += 1
            boundary_ok &= Fraction(labels[i]) * F(p) >= r
    return dict(
        ok=margins_ok and boundary_ok,
        margins_ok=margins_ok,
        boundary_ok=boundary_ok,
        boundary_points_inside=inside_count,
        min_margin_over_r=float(min(ratios)),
    )


# ---------------------------------------------------------------------------------------
# The same network, written out


def materialize(m1: M1) -> network.Network:
    """M1 as an explicit three-layer `Network` (host-side; small N only: the first layer has
    2 N+ N- units of n + 1 parameters). Units are ordered pair (i, j) by i, then j."""
    if is_traced(m1.X):
        raise ValueError(
            "materialize needs concrete arrays (it is not jittable: the layer "
            "sizes depend on the labels)"
        )
    X = np.asarray(m1.X)
    y = np.asarray(m1.y)
    N, n = X.shape
    i_idx, j_idx = np.nonzero(y[:, None] != y[None, :])  # row-major: by i, then j
    M = len(i_idx)
    if M * (n + N) > 2**28:
        raise ValueError(
            f"materializing M1 needs {M} first-layer units x {n + N} weights; "
            f"use the implicit `apply` for N = {N}"
        )
    dtype = m1.X.dtype
    W1 = -(X[i_idx] - X[j_idx]).T  # (n, M): relu(-S_ij)
    b1 = np.asarray(m1.offsets)[i_idx, j_idx]
    W2 = np.zeros((M, N))
    W2[np.arange(M), i_idx] = -1.0
    b2 = np.full(N, float(m1.margin_r))
    W3 = y[:, None].astype(float)
    b3 = np.zeros(1)
    cast = lambda a: jnp.asarray(a, dtype)
    return network.make(
        [
            network.Layer(cast(W1), cast(b1), activation="relu"),
            network.Layer(cast(W2), cast(b2), activation="relu"),
            network.Layer(cast(W3), cast(b3), activation="identity"),
        ]
    )


# ---------------------------------------------------------------------------------------
# Theorem 5.3: an optimal-size memorizer that does not generalize (App. E)


@dataclasses.dataclass(frozen=True)
class ProjectionMemorizer:
    """The function computed by the App. E network: project onto one direction w, answer
    the encoded label only where w.x lands within `tolerance` of a training projection of
    that label, the other label elsewhere. It memorizes (opposite projections are more than
    3 tolerance apart), yet a fresh point of a distribution with a density bound almost never
    lands on a training projection (Lemma E.2(3)), so it gets the other label: accuracy ~ the
    other label's mass. App. E encodes the label whose mass is >= 1/2 (WLOG y = 1 there);
    here, the more frequent training label."""

    direction: jax.Array  # (n,)
    encoded: jax.Array  # (N,) projections of the encoded label's points; +inf elsewhere
    tolerance: jax.Array  # ()
    label: jax.Array  # () the encoded label, +1 or -1

    def apply(self, T):
        proj = jnp.matmul(jnp.asarray(T, self.direction.dtype), self.direction, precision=_HIGHEST)
        near = jnp.min(jnp.abs(proj[:, None] - self.encoded[None, :]), axis=1)
        return jnp.where(near <= self.tolerance, self.label, -self.label).astype(proj.dtype)

    def param_count(self):
        return network.param_count(materialize_projection(self))

    def nonzero_param_count(self):
        return network.nonzero_param_count(materialize_projection(self))


jax.tree_util.register_dataclass(
    ProjectionMemorizer, data_fields=["direction", "encoded", "tolerance", "label"], meta_fields=[]
)


def projection_param_count(encoded_points, n):
    """Weights plus biases of `materialize_projection`'s network for K = encoded_points and
    input dimension n: (n + 1) + 2K * 2 + (2K + 1) + 2 = n + 6K + 4. Not the App. E
    network's count, which the paper gives only as O(n + sqrt(N) ln(N n r / c)) (its
    bit-extraction layers pack sqrt(N) points per block; not built here)."""
    return n + 6 * encoded_points + 4


def materialize_projection(net: ProjectionMemorizer) -> network.Network:
    """The memorizer's function as an explicit threshold network (H(z) = 1[z > 0]), one unit
    slot per training point, masked to the K encoded ones (jittable, vmappable):

        z = w.x                                     1 unit, identity (the paper's f_1)
        u_k = H(e_k - tol - z), v_k = H(z - e_k - tol)   2K threshold units
        s = H(K - sum_k (u_k + v_k))                 1 threshold unit: some |z - e_k| <= tol
        out = label (2 s - 1)                        identity

    1 - u_k - v_k is the indicator of the closed interval |z - e_k| <= tol, as in `apply`;
    the two may differ only by rounding at the interval ends (tol from any training point)."""
    dtype = net.direction.dtype
    active = jnp.isfinite(net.encoded)
    e = jnp.where(active, net.encoded, 0)
    slots = e.shape[0]
    K = jnp.sum(active).astype(dtype)
    mask2 = jnp.concatenate([active, active])
    return network.Network(
        (
            network.Layer(net.direction[:, None], jnp.zeros((1,), dtype), activation="identity"),
            network.Layer(
                jnp.concatenate(
                    [-jnp.ones((1, slots), dtype), jnp.ones((1, slots), dtype)], axis=1
                ),
                jnp.where(mask2, jnp.concatenate([e - net.tolerance, -e - net.tolerance]), 0),
                mask2,
                activation="threshold",
            ),
            network.Layer(
                jnp.where(mask2, -1, 0).astype(dtype)[:, None], K[None], activation="threshold"
            ),
            network.Layer(
                (2 * net.label)[None, None].astype(dtype),
                (-net.label)[None].astype(dtype),
                activation="identity",
            ),
        )
    )


def adversarial_trial(key, X, y, *, tries: int = 8, density=None) -> dict:
    """Theorem 5.3's memorizer on one dataset (the sweep's measurement): ok = valid and
    every training point gets its label from `apply` (Definition 3.4). The theorem's other
    half, accuracy <= 0.51 on fresh points, needs the distribution: the claim
    yu2024.thm5_3 (verify/yu2024.py) measures it; here encoded_fraction, at most 2 K tol
    over the range of the training projections, bounds the part of that range labelled with
    the encoded label (small: fresh points of that label are mostly misclassified). Sizes:
    those of `materialize_projection`'s network (param_count = projection_param_count(K, n)),
    K = encoded_points."""
    net, info = build_adversarial(key, X, y, tries=tries, density=density)
    right = net.apply(X) == y
    valid = jnp.asarray(info["valid"])
    proj = jnp.matmul(X, net.direction, precision=_HIGHEST)
    span = jnp.max(proj) - jnp.min(proj)
    covered = 2 * info["encoded_points"] * net.tolerance
    return dict(
        ok=valid & jnp.all(right),
        valid=valid,
        sign_accuracy=jnp.mean(right.astype(X.dtype)),
        encoded_fraction=jnp.where(span > 0, jnp.minimum(covered / span, 1), 1),
        min_gap=info["min_gap"],
        tolerance=net.tolerance,
        encoded_label=info["encoded_label"],
        encoded_points=info["encoded_points"],
        param_count=info["param_count"],
        nonzero_param_count=info["nonzero_param_count"],
        hidden_units=info["hidden_units"],
        depth=jnp.asarray(4),
    )


def _adversarial_memory(n, d, itemsize, options):
    # the opposite-pair projection gaps of every try (N x N x tries), then N x N in apply
    return 4 * itemsize * (n * d + n * n * (options["tries"] + 1) + n)


@construction(
    "yu2024.thm5_3",
    citation="Yu, Gao, Zhang, Miao 2024, Thm 5.3 (App. E): a "
    "memorizer through one projection that labels fresh points wrongly (its "
    "function, as a threshold network of n + 6K + 4 parameters)",
    task="binary",
    trial=adversarial_trial,
    memory=_adversarial_memory,
    example=dict(data="slabs", axes=dict(n=16, d=3, tries=8)),
    tries=Option(8, positive_int("tries")),
    density=Option(None, optional(in_open_interval("density", 0, math.inf))),
)
def build_adversarial(key, X, y, *, tries: int = 8, density=None):
    """Theorem 5.3's memorizer as the function it computes (yu2024.md §3.3): a random unit
    direction (the best of `tries` by the smallest opposite-label projection gap, as Lemma
    B.1 redraws until the gap is large), tolerance = a third of that gap. With `density`, a
    bound r on the density of D (supported in [0, 1]^n), the tolerance is at most
    0.01 / (2 sqrt(2) r K), K the encoded points: a hyperplane section of the unit cube has
    volume at most sqrt(2) (K. Ball's cube slicing bound), so w.x has density at most
    sqrt(2) r, and a fresh point lands within the tolerance of one of the K encoded
    projections with probability at most 0.01 (the role of Lemma E.2's choice of w: fresh
    points almost never land near a training projection). Without it, gap / 3 can cover a
    fair share of D, and the memorizer then labels that share right. info: min_gap,
    encoded_label, encoded_points K, valid (the gap is positive, so the training set is
    memorized), and the sizes of `materialize_projection`'s network (param_count,
    nonzero_param_count, hidden_units = 2K + 2). Only the function is simulated; the App. E
    network's bit-extraction layers are not built."""
    validate(X, y, task="binary", allow_duplicates=True)
    tries = check_positive_int("tries", tries)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    y = jnp.asarray(y, X.dtype)
    dirs = jax.random.normal(key, (tries, X.shape[1]), X.dtype)
    dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)
    proj = jnp.matmul(X, dirs.T, precision=_HIGHEST)  # (N, tries)
    opposite = _opposite(y)
    gaps = jnp.min(
        jnp.where(opposite[..., None], jnp.abs(proj[:, None] - proj[None, :]), jnp.inf), axis=(0, 1)
    )
    best = jnp.argmax(gaps)
    gap = gaps[best]
    label = jnp.where(jnp.sum(y > 0) >= jnp.sum(y < 0), 1.0, -1.0).astype(X.dtype)
    K = jnp.sum(y == label, dtype=_count_dtype())
    tolerance = gap / 3
    if density is not None:
        cap = 0.01 / (2 * math.sqrt(2) * float(density) * jnp.maximum(K, 1).astype(X.dtype))
        tolerance = jnp.minimum(tolerance, cap)
    net = ProjectionMemorizer(
        direction=dirs[best],
        encoded=jnp.where(y == label, proj[:, best], jnp.inf),
        tolerance=tolerance,
        label=label,
    )
    explicit = materialize_projection(net)
    info = dict(
        min_gap=gap,
        encoded_label=label,
        encoded_points=K,
        # gap = inf without opposite pairs (one label): nothing to separate
        valid=(gap > 0) & jnp.isfinite(gap),
        param_count=network.param_count(explicit).astype(_count_dtype()),
        nonzero_param_count=network.nonzero_param_count(explicit).astype(_count_dtype()),
        hidden_units=2 * K + 2,
    )
    return net, info


__all__ = [
    "CANDIDATES",
    "M1",
    "METHODS",
    "ProjectionMemorizer",
    "SPLIT",
    "adversarial_trial",
    "apply",
    "apply_with_error_bound",
    "boundary_margins",
    "build",
    "build_adversarial",
    "cell_boundary_points",
    "evaluate",
    "exact_margins",
    "margin_is_faithful",
    "materialize",
    "materialize_projection",
    "nonzero_param_count",
    "param_count",
    "param_counts",
    "projection_param_count",
    "sweep_trial",
    "training_margins",
]
