"""Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017), Theorem 1 and its depth-k corollary.

Theorem 1: a two-layer ReLU network with 2n + d weights represents any function on n points
in R^d:
    c(x) = sum_j w_j relu(<a, x> - b_j),      a in R^d, b, w in R^n.
Proof recipe: a random a gives distinct projections t_i = <a, x_i>; knots b interleave the
sorted projections, b_1 < t_1 < b_2 < t_2 < ... < b_n < t_n; then A_ij = relu(t_i - b_j) is
lower-triangular with positive diagonal t_i - b_i (Lemma 1), and A w = y has a solution.

Here A w = y is solved by an O(n) recurrence instead of an n x n solve (see `_weights`), and
each knot sits just after the previous point, b_i = t_{i-1} + theta (t_i - t_{i-1}) with small
theta: midpoints (theta = 1/2) make the recurrence alternate and the weights 10-1000x larger
(docs/papers/zhang2017.md §2), which costs float32 exactness much earlier.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import network
from jaxmem.constructions.projection import best_direction
from jaxmem.constructions.protocol import Option, construction, in_open_interval, positive_int
from jaxmem.data.validate import float_data, is_traced
from jaxmem.data.validate import positive_int as check_positive_int


def _check_options(theta, directions):
    # theta may be traced (a sweep over it compiles once); then its range is checked by the
    # sweep's grid before compiling.
    if not is_traced(theta) and not 0 < theta < 1:
        raise ValueError(f"theta must lie in (0, 1) so that the knots interleave; got {theta}")
    check_positive_int("directions", directions)


def _knots(ts, theta):
    """b_1 = t_1 - mean gap (any b_1 < t_1 works), b_i = t_{i-1} + theta (t_i - t_{i-1})."""
    g = jnp.diff(ts)
    first_gap = jnp.mean(g) if g.size else jnp.ones((), ts.dtype)
    return jnp.concatenate([ts[:1] - first_gap, ts[:-1] + theta * g])


def _weights(ts, ys, b):
    """Forward substitution for A w = ys with A_ij = relu(t_i - b_j), by the O(n) recurrence.

    On [b_i, b_{i+1}] the network is the linear spline sum_{j<=i} w_j (t - b_j), whose slope
    is S_i = w_1 + ... + w_i. Then c(t_i) - c(t_{i-1}) = S_{i-1} (t_i - t_{i-1}) + w_i (t_i - b_i),
    so   w_i = (y_i - y_{i-1} - S_{i-1} (t_i - t_{i-1})) / (t_i - b_i),  w_1 = y_1 / (t_1 - b_1).
    Differences of y keep the cancellation small (the direct form t_i S - sum w_j b_j does not).
    """
    w1 = ys[0] / (ts[0] - b[0])

    def step(S, inputs):
        dy, dt, diag = inputs
        w = (dy - S * dt) / diag
        return S + w, w

    _, rest = jax.lax.scan(step, w1, (jnp.diff(ys), jnp.diff(ts), ts[1:] - b[1:]))
    return jnp.concatenate([w1[None], rest])


def _solve(key, X, y, theta, directions):
    a = best_direction(key, X, directions)
    t = X @ a
    order = jnp.argsort(t)
    ts, ys = t[order], y[order]
    b = _knots(ts, jnp.asarray(theta, X.dtype))
    w = _weights(ts, ys, b)
    min_gap = jnp.min(jnp.diff(ts), initial=jnp.inf)
    valid = (min_gap > 0) & jnp.all(jnp.isfinite(w))
    return a, b, w, ts, valid, min_gap


_THETA = Option(
    0.01, in_open_interval("theta", 0, 1, "so that the knots interleave (Thm 1)"), traced=True
)


@construction(
    "zhang2017",
    citation="Zhang et al. 2017, Thm 1: 2n + d weights, width n",
    example=dict(data="gaussian", axes=dict(n=8, d=2)),
    theta=_THETA,
    directions=Option(1, positive_int("directions")),
)
def build(key, X, y, *, theta: float = 0.01, directions: int = 1):
    """Theorem 1's network d -> n (relu, shared input weights a) -> 1 (identity, no bias).

    Returns (net, info). info:
      valid                 projections distinct and weights finite (a tie makes A singular)
      min_gap               smallest gap between sorted projections
      min_diagonal          min_i (t_i - b_i), Lemma 1's smallest eigenvalue of A
      shared_param_count    size(a) + size(b) + size(w), Theorem 1's 2n + d
      direction, knots, weights   a, b, w (knots and weights in sorted order)
    """
    _check_options(theta, directions)
    X, y = float_data(X, y, task=None)
    a, b, w, ts, valid, min_gap = _solve(key, X, y, theta, directions)
    net = network.Network(
        (
            network.Layer(a[:, None], -b, activation="relu", shared=True),
            network.Layer(w[:, None], jnp.zeros((1,), X.dtype), activation="identity"),
        )
    )
    info = dict(
        valid=valid,
        min_gap=min_gap,
        min_diagonal=jnp.min(ts - b),
        shared_param_count=jnp.asarray(a.size + b.size + w.size),
        direction=a,
        knots=b,
        weights=w,
    )
    return net, info


def exact_projections(direction, X, y):
    """(t, y) sorted by t = <a, x_i>, in rational arithmetic (host, Fractions; every float
    input at its exact binary value); None when two projections tie (the direction, not the
    data, failed)."""
    a = [Fraction(float(v)) for v in np.asarray(direction, np.float64)]
    rows = np.asarray(X, np.float64)
    labels = [Fraction(float(v)) for v in np.asarray(y, np.float64)]
    t = [sum(ai * Fraction(float(v)) for ai, v in zip(a, row)) for row in rows]
    order = sorted(range(len(t)), key=t.__getitem__)
    ts, ys = [t[i] for i in order], [labels[i] for i in order]
    if any(t1 == t0 for t0, t1 in zip(ts, ts[1:])):
        return None
    return ts, ys


def exact_spline_fits(ts, ys, knots) -> bool:
    """Theorem 1's weights for sorted projections `ts` and `knots` by `_weights`' recurrence, in
    rational arithmetic, and whether c(t_i) = sum_j w_j relu(t_i - b_j) equals y_i exactly. The
    recurrence assumes interleaving knots: where they do not interleave, the spline misses."""
    w, slope = [], Fraction(0)
    for i in range(len(ts)):
        rise = ys[0] if i == 0 else ys[i] - ys[i - 1] - slope * (ts[i] - ts[i - 1])
        w.append(rise / (ts[i] - knots[i]))
        slope += w[-1]
    return all(
        sum(wj * max(ti - bj, 0) for wj, bj in zip(w, knots)) == yi for ti, yi in zip(ts, ys)
    )


def lemma1_matrix(ts, b):
    """Lemma 1's matrix A_ij = relu(t_i - b_j) (n x n; for checks at small n only)."""
    return jnp.maximum(ts[:, None] - b[None, :], 0)


def depth_k_width(n: int, k: int) -> int:
    """The width of the depth-k variant: ceil(n/k) + 2."""
    return math.ceil(n / k) + 2


def _depth(value, config):
    positive_int("k")(value, config)
    if value > config["n"]:
        raise ValueError(f"option k = {value} hidden layers exceeds n = {config['n']} points")


@construction(
    "zhang2017.depth_k",
    citation="Zhang et al. 2017, App. C: k layers of width ceil(n/k) + 2",
    example=dict(data="sphere", axes=dict(n=8, d=3, k=3)),
    k=Option(2, _depth),
    theta=_THETA,
    directions=Option(1, positive_int("directions")),
)
def build_depth_k(key, X, y, *, k: int, theta: float = 0.01, directions: int = 1):
    """Zhang et al.'s depth-k corollary (Appendix C): k hidden layers of width ceil(n/k) + 2.

    Every unit relu(t - b_j) of Theorem 1 depends only on t = <a, x>, so t is carried through
    the layers and the n units are spread over k blocks (zhang2017.md §3, an exact construction with
    the corollary's width; the paper's own uses a multiplexer):
      layer 1:      s = relu(t - b0), p = relu(C), h_j = relu(t - b_j)           j in B_1
      layer l > 1:  s = relu(s),  p = relu(p + sum_{B_{l-1}} w_j h_j),
                    h_j = relu(s - (b_j - b0))                                   j in B_l
      output:       p + sum_{B_k} w_j h_j - C
    with b0 = b_1 - 1 (so relu(s - (b_j - b0)) = relu(t - b_j) for every x) and C large enough
    that the running sum p stays positive on the data, so every carry relu is the identity.
    Unused slots of the last block are masked.
    """
    _check_options(theta, directions)
    k = check_positive_int("k (the number of hidden layers)", k)
    X, y = float_data(X, y, task=None)
    n, d = X.shape
    if k > n:
        raise ValueError(f"k = {k} hidden layers exceeds n = {n} points: each block needs a unit")
    dt = X.dtype
    a, b, w, ts, valid, min_gap = _solve(key, X, y, theta, directions)
    m = math.ceil(n / k)
    pad = m * k - n
    b0 = b[0] - 1
    bp = jnp.concatenate([b, jnp.full((pad,), b[-1], dt)]).reshape(k, m)
    wp = jnp.concatenate([w, jnp.zeros((pad,), dt)]).reshape(k, m)
    active = (jnp.arange(m * k) < n).reshape(k, m)
    # Partial sums on the data after each block; C keeps all of them positive.
    contrib = jnp.maximum(ts[:, None] - bp.reshape(-1)[None, :], 0) * wp.reshape(-1)[None, :]
    prefixes = jnp.cumsum(contrib.reshape(n, k, m).sum(-1), axis=1)
    C = 1 + jnp.maximum(0, -jnp.min(prefixes))

    one, zero = jnp.ones((1,), dt), jnp.zeros((1,), dt)
    layers = []
    # Layer 1 reads x: columns [s, p, h_1..h_m].
    W = jnp.concatenate([a[:, None], jnp.zeros((d, 1), dt), jnp.tile(a[:, None], (1, m))], 1)
    bias = jnp.concatenate([-b0[None], C[None], -bp[0]])
    mask = jnp.concatenate([jnp.ones((2,), bool), active[0]])
    layers.append(network.Layer(W, bias, mask, activation="relu"))
    for blk in range(1, k):
        # Reads [s, p, h(B_{blk-1})]; writes [s, p, h(B_blk)].
        W = jnp.zeros((m + 2, m + 2), dt)
        W = W.at[0, 0].set(1).at[1, 1].set(1).at[2:, 1].set(wp[blk - 1])
        W = W.at[0, 2:].set(1)
        bias = jnp.concatenate([zero, zero, -(bp[blk] - b0)])
        mask = jnp.concatenate([jnp.ones((2,), bool), active[blk]])
        layers.append(network.Layer(W, bias, mask, activation="relu"))
    W_out = jnp.concatenate([zero, one, wp[k - 1]])[:, None]
    layers.append(network.Layer(W_out, -C[None], activation="identity"))
    info = dict(
        valid=valid,
        min_gap=min_gap,
        carry_offset=C,
        shared_param_count=jnp.asarray(a.size + b.size + w.size),
    )
    return network.make(layers), info
