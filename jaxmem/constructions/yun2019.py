"""Yun, Sra, Jadbabaie (NeurIPS 2019): a 3-layer network with Theta(sqrt N) hidden neurons fits
arbitrary real labels of N distinct points.

What is implemented is YSJ-R, the exact reference construction of the paper note
(docs/papers/sublinear.md §5.4, [DERIVED], with its proof; the "block lines" idea of §5.6 there).
It is NOT the proof of the paper's Theorem 3.1, which could not be read (sublinear.md §5.3): it is a
stand-in with the same shape (two hidden layers, Theta(sqrt N) x Theta(sqrt N) widths,
Theta(N) middle-layer weights) that provably interpolates.

The construction, for q units per block and K = ceil(N / q) blocks:

1. Project: t_i = <u, x_i> for a random u (distinct projections: checked). Sort; cut into K
   blocks of at most q consecutive points each; every block is completed to q slots with
   virtual points (label 0) after its last point, V = Kq - N of them in all.
2. Scale: A = 2 max |y| (1 if every label is 0), c = y / A in [-1/2, 1/2].
3. Unit j of layer 2 (j = 0..q-1) owns the j-th slot s_{k,j} of every block k. Its
   pre-activation is, on block k, the line z_j(t) = e_j M_j t + o_{j,k} with e_j = (-1)^j,
   slope M_j = max_k 2 / delta_{k,j} (delta_{k,j} = distance from s_{k,j} to the nearest other
   slot of its block) and offset o_{j,k} chosen so that z_j(s_{k,j}) = c_{k,j}. At every other
   slot of the block |z_j - c_{k,j}| >= 2, so hardtanh(z_j) = +e_j after its own slot and -e_j
   before it.
4. The offsets change only between blocks, so layer 1 holds one linear feature
   h_0 = eps (t - tau) (eps, tau map the slots into [-1/2, 1/2]) and one hard-tanh ramp per gap
   between blocks, -1 before the gap and +1 after it (its kinks at 1/3 and 2/3 of the gap).
   Layer 2 reads z_j = (e_j M_j / eps) h_0 + sum_k W_{j,k} h_k + b_j with
   W_{j,k} = (o_{j,k+1} - o_{j,k}) / 2.
5. Output: f = A sum_j hardtanh(z_j) - A S. At slot l of any block the other units sum to
   S(l) = sum_{j<l} e_j - sum_{j>l} e_j = S(0), which is 0 for odd q and 1 for even q
   (S(l+1) - S(l) = e_l + e_{l+1} = 0), so f(s_{k,l}) = A c_{k,l} = y. The correction S is
   what makes even q work; `correct_parity=False` drops it (an ablation: the output is then
   off by exactly A at every point).

Two activations:

  hardtanh  d -> K (hardtanh) -> q (hardtanh) -> 1:  memorizes N <= Kq = d1 d2 points.
  relu      d -> 2K - 1 (relu) -> 2q (relu) -> 1:   hardtanh(a) = relu(a + 1) - relu(a - 1) - 1
            for every ramp and every layer-2 unit, and h_0 + 1 = relu(eps (t - tau) + 1) on the
            data; the constants fold into the next biases. Memorizes N <= Kq =
            ceil(d1 / 2) floor(d2 / 2) points.

Dense parameter counts (weights + biases, docs/conventions.md §6): `param_count`.

Relation to the paper. Confirmed in the paper's own text (its introduction, SPIQA copy of
arXiv 1810.07770): the definition of finite sample expressivity (for all distinct x_i and all
y_i in [-1, 1] there is a parameter that fits them) and the abstract's Theta(sqrt N) claim.
NOT confirmed (no copy of Section 3 could be read): Theorem 3.1's exact condition. The note's
form 4 floor(d1/2) floor(d2/2) >= N (hard-tanh) is certified by YSJ-R, since
4 floor(d1/2) floor(d2/2) <= d1 d2; the ReLU form 4 floor(d1/4) floor(d2/4) >= N is covered as
well (ceil(d1/2) >= 2 floor(d1/4), floor(d2/2) >= 2 floor(d2/4)); the form
N <= 4 ceil(d1/2) ceil(d2/2) of C. Hegde's lecture notes is about 4x more than YSJ-R's ReLU
capacity and is NOT covered.

Float precision. The slopes M_j are about 2 / (smallest gap), i.e. Theta(N^2) for random
projections, and layer-2 pre-activations cancel terms of size M_j (t_max - t_min); in the relu
network the ramp ReLUs also carry |a| up to 6 (t_max - t_min) / G_k (G_k the gap cut between
two blocks). Two choices the proof does not care about keep this in check (both in the note's
list of improvements, docs/papers/sublinear.md §5.6): the best of `directions` = 8 random directions
(largest minimum gap), and block boundaries moved, within the V = Kq - N spare slots, to
maximize the smallest gap cut at (`boundaries="gaps"`). Measured (64 Gaussian datasets,
d = 20; max over datasets of max_i |f(x_i) - y_i| / A, and of the derived tolerance
jaxmem.metrics.interpolation_tolerance / A; plain = 1 direction, even cuts):

  N = 1000 relu      error 1.1e-3 (plain) -> 2.8e-6,  tolerance 2.1 -> 0.013
  N = 2000 relu      error 4.7e-3 (plain) -> 2.2e-5,  tolerance 30  -> 0.19
  N = 2000 hardtanh  error 6.7e-8 (plain) -> 4.0e-9,  tolerance 4.2 -> 0.026

Beyond that the a-priori tolerance stops resolving the labels (relu, N = 3000: up to 1.2 A over
200 datasets) although the actual error stays small (1.2e-4 A). float32 (metrics.float32_report,
the float64 network cast): deployable on 91% (relu) / 100% (hardtanh) of datasets at N = 10,
12% / 100% at N = 20, 0% / 92% at N = 40 (d = 3), and on none at N >= 100. `build_exact` builds
the same network in rational arithmetic (jaxmem.exact), where f(x_i) = y_i holds exactly.

Sweepable (jaxmem.constructions.protocol): "yun2019" is `build` (jit/vmap, float), "yun2019.exact"
is `build_exact_from_key` (host, exact; with the same key, `build`'s direction and cuts).
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import exact, network
from jaxmem.constructions.projection import best_direction
from jaxmem.constructions.protocol import (
    Option,
    boolean,
    construction,
    one_of,
    optional,
    positive_int,
)
from jaxmem.data.validate import float_data
from jaxmem.data.validate import positive_int as check_positive_int

ACTIVATIONS = ("relu", "hardtanh")


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def _check_q(q, n: int | None = None) -> int:
    """q as a positive int; None -> `default_q(n)`."""
    if q is None:
        if n is None:
            raise ValueError("q is None and no number of points was given to choose it from")
        return default_q(n)
    return check_positive_int("q (units per block)", q)


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    return activation


def default_q(n: int) -> int:
    """The default units per block: the odd number 2 floor(floor(sqrt n) / 2) + 1 ~ sqrt(n)
    (11, 31, 101 for n = 100, 1000, 10^4, as docs/papers/sublinear.md §5.6's table). Odd, so the
    parity correction S is 0."""
    n = check_positive_int("n", n)
    return 2 * (math.isqrt(n) // 2) + 1


def blocks(n: int, q: int) -> int:
    """K = ceil(n / q), the number of blocks (layer-1 features of the hard-tanh network)."""
    return -(-operator.index(n) // _check_q(q))


def parity_correction(q: int) -> int:
    """S = sum_{j<l} e_j - sum_{j>l} e_j for e_j = (-1)^j: 0 for odd q, 1 for even q."""
    return 0 if _check_q(q) % 2 else 1


def widths(n: int, q: int | None = None, activation: str = "relu") -> tuple[int, int]:
    """Hidden widths (d1, d2): (2K - 1, 2q) for relu, (K, q) for hardtanh."""
    q = _check_q(q, n)
    K = blocks(n, q)
    return (2 * K - 1, 2 * q) if _check_activation(activation) == "relu" else (K, q)


def capacity(d1: int, d2: int, activation: str = "relu") -> int:
    """The most points the construction memorizes within hidden widths (d1, d2):
    ceil(d1 / 2) floor(d2 / 2) for relu (d1 = 2K - 1, d2 = 2q), d1 d2 for hardtanh."""
    d1, d2 = operator.index(d1), operator.index(d2)
    if d1 < 1 or d2 < 1:
        raise ValueError(f"widths must be positive; got d1 = {d1}, d2 = {d2}")
    if _check_activation(activation) == "relu":
        if d2 < 2:
            raise ValueError(f"the relu construction needs d2 >= 2 (two ReLUs per unit); got {d2}")
        return ((d1 + 1) // 2) * (d2 // 2)
    return d1 * d2


def param_count(n: int, d: int, q: int | None = None, activation: str = "relu") -> int:
    """Dense parameter count (docs/papers/sublinear.md §5.4's size table):
    relu      (d + 1)(2K - 1) + 2K * 2q + (2q + 1)
    hardtanh  (d + 1) K + (K + 1) q + (q + 1)."""
    q = _check_q(q, n)
    K = blocks(n, q)
    if _check_activation(activation) == "relu":
        return (d + 1) * (2 * K - 1) + 2 * K * 2 * q + (2 * q + 1)
    return (d + 1) * K + (K + 1) * q + (q + 1)


# --------------------------------------------------------------------------------------------
# The construction, once for both arithmetics: xp is jax.numpy (floats, jit/vmap) or numpy on
# object arrays of Fractions (exact). Every division has a Fraction or float numerator, so
# no int / int ever rounds.
# --------------------------------------------------------------------------------------------


def _signs(q: int, xp, like):
    """e_j = (-1)^j."""
    if xp is np:
        return np.array([1 if j % 2 == 0 else -1 for j in range(q)], dtype=object)
    return jnp.where(jnp.arange(q) % 2 == 0, 1, -1).astype(like.dtype)


def _block_parameters(s, c, xp):
    """From slots s (K, q) (sorted, real and virtual) and scaled labels c (K, q) to the
    hard-tanh network in the projected coordinate t:

      h_0 = eps (t - tau);  h_k = hardtanh(ramp_slope_k t + ramp_bias_k), k = 1..K-1;
      z_j = w0_j h_0 + sum_k W[k, j] h_k + b_j.
    """
    K, q = s.shape
    e = _signs(q, xp, s)
    s_min, s_max = s[0, 0], s[-1, -1]
    tau = (s_max + s_min) / 2
    # One slot (K q = 1): t - tau = 0 on it, any eps works.
    span = s_max - s_min if K * q > 1 else s_max * 0 + 1
    if q > 1:
        g = s[:, 1:] - s[:, :-1]
        # delta_{k,j}: distance to the nearest other slot of block k (one side at the ends).
        delta = xp.minimum(
            xp.concatenate([g[:, :1], g], axis=1), xp.concatenate([g, g[:, -1:]], axis=1)
        )
        M = 2 / xp.min(delta, axis=0)  # (q,)
    else:
        M = np.array([Fraction(1)], dtype=object) if xp is np else jnp.ones((1,), s.dtype)
    # Offsets in the centred coordinate t - tau (fewer large terms than in t):
    # z_j = e_j M_j (t - tau) + o[k, j] on block k, o[k, j] = c_kj - e_j M_j (s_kj - tau).
    o = c - e * M * (s - tau)
    W = (o[1:] - o[:-1]) / 2  # (K - 1, q)
    # On block k, h_{k'} = +1 for k' < k and -1 for k' >= k, so sum_k' W h_k' + b_j with
    # b_j = o[0, j] + sum_k' W[k', j] equals o[0, j] + 2 sum_{k'<k} W = o[k, j].
    b = o[0] + W.sum(axis=0)
    last, first = s[:-1, -1], s[1:, 0]
    G = first - last  # gaps between blocks
    # Ramp (2t - L - R) / (R - L) with L, R at 1/3 and 2/3 of the gap: (6 / G)(t - last) - 3,
    # which is -3 at the block's last slot and +3 at the next block's first.
    ramp_slope = 6 / G
    ramp_bias = -ramp_slope * last - 3
    return dict(
        eps=1 / span,
        tau=tau,
        span=span,
        slopes=M,
        signs=e,
        offsets=o,
        W=W,
        b=b,
        w0=e * M * span,
        ramp_slope=ramp_slope,
        ramp_bias=ramp_bias,
        gaps=G,
    )


def _layer_arrays(p, u, A, S, q: int, activation: str, xp):
    """(weight, bias) of the three layers, input direction u (d,)."""
    cat = xp.concatenate
    if xp is np:

        def scalar(v):
            return np.array([v], dtype=object)
    else:

        def scalar(v):
            return jnp.reshape(v, (1,))

    eps, tau, W, b, w0 = p["eps"], p["tau"], p["W"], p["b"], p["w0"]
    rs, rb = p["ramp_slope"], p["ramp_bias"]
    ones = np.array([1] * q, dtype=object) if xp is np else jnp.ones((q,), W.dtype)
    if activation == "hardtanh":
        slope1 = cat([scalar(eps), rs])
        bias1 = cat([scalar(-eps * tau), rb])
        W2 = cat([w0[None, :], W], axis=0)  # (K, q)
        b2 = b
        W3 = (A * ones)[:, None]
        b3 = scalar(-A * S)
    else:
        # Layer 1: [h_0 + 1, ramp + 1 (K - 1), ramp - 1 (K - 1)], all relu:
        # h_0 = relu(h_0 + 1) - 1 on the slots (h_0 >= -1/2), and
        # hardtanh(a) = relu(a + 1) - relu(a - 1) - 1.
        slope1 = cat([scalar(eps), rs, rs])
        bias1 = cat([scalar(-eps * tau + 1), rb + 1, rb - 1])
        Wz = cat([w0[None, :], W, -W], axis=0)  # (2K - 1, q)
        bz = b - w0 - W.sum(axis=0)
        # Layer 2: relu(z + 1), relu(z - 1); hardtanh(z) = their difference - 1.
        W2 = cat([Wz, Wz], axis=1)
        b2 = cat([bz + 1, bz - 1])
        W3 = cat([A * ones, -A * ones])[:, None]
        b3 = scalar(-A * (q + S))
    W1 = u[:, None] * slope1[None, :]
    return [(W1, bias1), (W2, b2), (W3, b3)]


# --------------------------------------------------------------------------------------------
# Block boundaries
# --------------------------------------------------------------------------------------------
#
# Blocks hold at most q real points each (virtual points fill the rest), so with V = Kq - N
# spare slots the K - 1 cuts between blocks can move: cut k (the number of points in blocks
# 1..k) may be any p_k with p_k - p_{k-1} <= q and p_k >= lo_k = kq - V (so that the remaining
# points still fit). Since p_{k-1} <= (k-1) q, every window [lo_k, p_{k-1} + q] has at most
# V + 1 positions. "gaps" picks the cuts that maximize the smallest gap cut at (the note's
# "place block boundaries at large gaps", sublinear.md §5.6): the ramps between blocks have
# slope 6 / G_k, and in the relu network relu(a + 1) - relu(a - 1) carries |a| up to
# 6 (t_max - t_min) / G_k, so a small cut gap costs float precision (not exactness).
# Max-min by bisection over the sorted gaps; for a threshold theta, the greedy that takes the
# LARGEST admissible cut with gap >= theta in each window is feasible whenever any choice is
# (by induction its p_k is never below another feasible sequence's, so its windows contain
# theirs). "even" is the plain rule p_k = kq.

BOUNDARIES = ("gaps", "even")


def _check_boundaries(boundaries: str) -> str:
    if boundaries not in BOUNDARIES:
        raise ValueError(f"unknown boundaries {boundaries!r}; expected one of {BOUNDARIES}")
    return boundaries


def _cuts_jax(ts, K: int, q: int, boundaries: str):
    """Cuts p_1 < ... < p_{K-1} (int32, (K - 1,)) for sorted projections ts."""
    n = ts.shape[0]
    V = K * q - n
    lo = jnp.arange(1, K, dtype=jnp.int32) * q - V
    if K == 1 or V == 0 or boundaries == "even":
        return jnp.arange(1, K, dtype=jnp.int32) * q
    g = jnp.diff(ts)  # g[p - 1] is the gap cut by p
    window = jnp.arange(V + 1, dtype=jnp.int32)

    def greedy(theta):
        def step(prev, lo_k):
            cand = lo_k + window
            gap = jax.lax.dynamic_slice(g, (lo_k - 1,), (V + 1,))
            ok = (cand <= prev + q) & (gap >= theta)
            best = jnp.max(jnp.where(ok, cand, -1))
            cut = jnp.where(best >= 0, best, lo_k)
            return cut, (best >= 0, cut)

        _, (found, cuts) = jax.lax.scan(step, jnp.asarray(0, jnp.int32), lo)
        return jnp.all(found), cuts

    order = jnp.sort(g)

    # Invariant: `cuts` is greedy(order[lo_i]), a feasible choice. It starts as the even cuts
    # kq, which are greedy(order[0]): with every gap admissible the greedy takes the top of
    # each window, min(p_{k-1} + q, lo_k + V) = kq.
    def bisect(_, carry):
        lo_i, hi_i, cuts = carry
        mid = (lo_i + hi_i) // 2
        ok, trial = greedy(order[mid])
        return (jnp.where(ok, mid, lo_i), jnp.where(ok, hi_i, mid), jnp.where(ok, trial, cuts))

    steps = max(1, math.ceil(math.log2(n)))
    even = jnp.arange(1, K, dtype=jnp.int32) * q
    _, _, cuts = jax.lax.fori_loop(0, steps, bisect, (jnp.asarray(0), jnp.asarray(n - 1), even))
    return cuts


def _cuts_exact(ts, K: int, q: int, boundaries: str) -> list[int]:
    """`_cuts_jax` in exact arithmetic (the same rule, Python lists of Fractions)."""
    n = len(ts)
    V = K * q - n
    lo = [k * q - V for k in range(1, K)]
    if K == 1 or V == 0 or boundaries == "even":
        return [k * q for k in range(1, K)]
    g = [b - a for a, b in zip(ts, ts[1:])]

    def greedy(theta):
        prev, cuts, feasible = 0, [], True
        for lo_k in lo:
            ok = [p for p in range(lo_k, lo_k + V + 1) if p <= prev + q and g[p - 1] >= theta]
            cut = max(ok) if ok else lo_k
            feasible &= bool(ok)
            cuts.append(cut)
            prev = cut
        return feasible, cuts

    order = sorted(g)
    lo_i, hi_i, cuts = 0, n - 1, [k * q for k in range(1, K)]  # as `_cuts_jax`
    for _ in range(max(1, math.ceil(math.log2(n)))):
        mid = (lo_i + hi_i) // 2
        ok, trial = greedy(order[mid])
        if ok:
            lo_i, cuts = mid, trial
        else:
            hi_i = mid
    return cuts


# --------------------------------------------------------------------------------------------
# Float path (JAX)
# --------------------------------------------------------------------------------------------


def _slots_jax(ts, cuts, K: int, q: int):
    """Slots (K, q), which of them are real, and the real ones' indices into ts. Block k holds
    its n_k real points, then v_k = q - n_k virtual points (label 0) spaced G_k / (4 (v_k + 1))
    after its last real point, i.e. within the first quarter of the gap G_k to the next block
    (the ramp keeps at least 3/4 of it); in the last block they are spaced by the mean gap of
    the real points."""
    n = ts.shape[0]
    bounds = jnp.concatenate(
        [jnp.zeros((1,), jnp.int32), cuts.astype(jnp.int32), jnp.full((1,), n, jnp.int32)]
    )
    start, size = bounds[:-1], jnp.diff(bounds)  # (K,)
    j = jnp.arange(q)
    real = j[None, :] < size[:, None]
    idx = jnp.clip(start[:, None] + j[None, :], 0, n - 1)
    last = ts[start + size - 1]  # last real point of block k
    nxt = ts[jnp.clip(start + size, 0, n - 1)]
    mean_gap = (ts[-1] - ts[0]) / (n - 1) if n > 1 else jnp.ones((), ts.dtype)
    v = q - size
    spacing = jnp.where(jnp.arange(K) < K - 1, (nxt - last) / (4 * (v + 1)), mean_gap)
    m = (j[None, :] - size[:, None] + 1).astype(ts.dtype)
    s = jnp.where(real, ts[idx], last[:, None] + spacing[:, None] * m)
    return s, real, idx


# The options both registrations share (build's and build_exact's keyword defaults). All are
# static: q, activation and boundaries fix shapes and branches, directions a draw's shape.
# `build` traces correct_parity (below): it only scales one bias, so a sweep over it compiles
# once; the host build keeps it static.
_OPTIONS: dict[str, Any] = dict(
    q=Option(
        None,
        optional(positive_int("q")),
        doc="units per block; unset: default_q(n), the odd number nearest sqrt(n)",
    ),
    activation=Option("relu", one_of("activation", ACTIVATIONS)),
    boundaries=Option("gaps", one_of("boundaries", BOUNDARIES)),
    correct_parity=Option(
        True, boolean("correct_parity"), doc="False: an ablation, every output y + A for even q"
    ),
)


@construction(
    "yun2019",
    citation="Yun, Sra, Jadbabaie 2019 stand-in YSJ-R (docs/papers/"
    "sublinear.md §5.4): 3 layers, Theta(sqrt N) hidden units, real labels",
    example=dict(
        data="gaussian", labels="gaussian", axes=dict(n=12, d=3, activation=["relu", "hardtanh"])
    ),
    directions=Option(8, positive_int("directions")),
    **dict(
        _OPTIONS,
        correct_parity=Option(
            True,
            boolean("correct_parity"),
            traced=True,
            doc="False: an ablation, every output y + A for even q",
        ),
    ),
)
def build(
    key,
    X,
    y,
    q: int | None = None,
    activation: str = "relu",
    *,
    directions: int = 8,
    boundaries: str = "gaps",
    correct_parity: bool = True,
):
    """YSJ-R as a float network (X's dtype; float64 under x64), jit- and vmap-friendly: all
    shapes are fixed by (N, d, q, activation).

    q: units per block (default `default_q(N)`, odd); K = ceil(N / q) blocks.
    activation "relu": d -> 2K - 1 (relu) -> 2q (relu) -> 1 (identity);
               "hardtanh": d -> K (hardtanh) -> q (hardtanh) -> 1 (identity).
    directions: draw this many directions from `key`, keep the one with the largest minimum
      gap of the projections. The slopes M_j ~ 2 / min gap set the float error, and the
      minimum gap of N random projections has a heavy lower tail (P(min gap < x) ~ N^2 x / range)
      that the best of 8 cuts off (numbers in the module docstring). With d = 1 every
      direction gives the same gaps.
    boundaries: "gaps" (default) moves the cuts between blocks, within the V = Kq - N spare
      slots, to maximize the smallest gap cut at; "even" cuts every q points.
    correct_parity: subtract A S (S = `parity_correction(q)`, 1 for even q). False is an
      ablation that breaks the construction for even q (every output is then y + A). May be
      traced (a sweep passes it as 1.0 / 0.0): it only sets S, no shape.

    Returns (net, info):
      valid        distinct projections (min_gap > 0) and finite weights
      min_gap      smallest gap between sorted projections of the real points
      min_cut_gap  smallest gap between consecutive blocks (inf when K = 1)
      direction    u;  cuts  p_1..p_{K-1}, the number of real points in blocks 1..k
      blocks, units_per_block, virtual_points, parity_correction   K, q, V = Kq - N, S used
      label_scale  A = 2 max |y|
      max_slope    max_j M_j
      max_abs_weight  the largest |weight| or |bias|
      table_param_count  `param_count(N, d, q, activation)`, the size table of
                   docs/papers/sublinear.md §5.4 (the paper's own count is unconfirmed, §5.3)
    """
    activation = _check_activation(activation)
    boundaries = _check_boundaries(boundaries)
    X, y = float_data(X, y, task=None)
    n, d = X.shape
    q = _check_q(q, n)
    directions = check_positive_int("directions", directions)
    K = blocks(n, q)
    V = K * q - n
    X = jnp.asarray(X)
    dt = jnp.result_type(X.dtype, jnp.float32)
    X, y = X.astype(dt), jnp.asarray(y).astype(dt)
    u = best_direction(key, X, directions)
    t = jnp.matmul(X, u, precision=jax.lax.Precision.HIGHEST)
    order = jnp.argsort(t)
    ts, ys = t[order], y[order]
    ymax = jnp.max(jnp.abs(ys))
    A = jnp.where(ymax > 0, 2 * ymax, 1)
    cuts = _cuts_jax(ts, K, q, boundaries)
    s, real, idx = _slots_jax(ts, cuts, K, q)
    c = jnp.where(real, ys[idx] / A, 0)
    p = _block_parameters(s, c, jnp)
    S = jnp.where(jnp.asarray(correct_parity) != 0, parity_correction(q), 0)
    arrays = _layer_arrays(p, u, A, S.astype(dt), q, activation, jnp)
    acts = (activation, activation, "identity")
    net = network.make([network.Layer(Wl, bl, activation=a) for (Wl, bl), a in zip(arrays, acts)])
    min_gap = jnp.min(jnp.diff(ts), initial=jnp.inf)
    # NaN and inf propagate through max |.|, so one finiteness test covers every weight.
    max_abs_weight = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for pair in arrays for a in pair]))
    info = dict(
        valid=(min_gap > 0) & jnp.isfinite(max_abs_weight),
        min_gap=min_gap,
        min_cut_gap=jnp.min(p["gaps"], initial=jnp.inf),
        direction=u,
        cuts=cuts,
        blocks=jnp.asarray(K),
        units_per_block=jnp.asarray(q),
        virtual_points=jnp.asarray(V),
        parity_correction=S,
        label_scale=A,
        max_slope=jnp.max(p["slopes"]),
        max_abs_weight=max_abs_weight,
        table_param_count=jnp.asarray(param_count(n, d, q, activation)),
    )
    return net, info


# --------------------------------------------------------------------------------------------
# Exact path (rational arithmetic, jaxmem.exact)
# --------------------------------------------------------------------------------------------


def _fractions(arr: np.ndarray) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):
        out[idx] = Fraction(v)
    return out


def _exact_direction(X, seed: int, tries: int = 100):
    """A random integer direction in [-2^16, 2^16]^d with distinct projections (a pair of
    distinct points ties for at most a 2^-17 fraction of the draws, so retries are rare)."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        u = np.array([int(v) for v in rng.integers(-(2**16), 2**16 + 1, X.shape[1])], dtype=object)
        if any(u) and _first_tie(X.dot(u)) is None:
            return u
    raise ValueError(
        f"no integer direction with distinct projections in {tries} draws "
        f"(seed {seed}); are the points distinct?"
    )


def _first_tie(t):
    """(i, j) of the first pair of rows with equal projections, or None."""
    order = sorted(range(len(t)), key=lambda i: t[i])
    for a, b in zip(order, order[1:]):
        if t[a] == t[b]:
            return min(a, b), max(a, b)
    return None


def _check_cuts(cuts, n: int, K: int, q: int) -> list[int]:
    """Explicit cuts (e.g. `build`'s info["cuts"]): K - 1 ints, blocks of 1..q points."""
    try:
        cuts = [operator.index(c) for c in np.asarray(cuts).reshape(-1).tolist()]
    except TypeError:
        raise ValueError(f"cuts must be integers; got {cuts!r}") from None
    if len(cuts) != K - 1:
        raise ValueError(
            f"cuts must have K - 1 = {K - 1} entries (K = ceil({n}/{q})); got {len(cuts)}"
        )
    bounds = [0] + cuts + [n]
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if not 1 <= b - a <= q:
            raise ValueError(
                f"cuts give block {k} {b - a} points; each block needs 1..q = 1..{q} (cuts {cuts})"
            )
    return cuts


def build_exact(
    X,
    y,
    q: int | None = None,
    activation: str = "relu",
    *,
    direction=None,
    cuts=None,
    seed: int = 0,
    boundaries: str = "gaps",
    allow_float: bool = False,
    correct_parity: bool = True,
):
    """YSJ-R in rational arithmetic: a jaxmem.exact.ExactNetwork with
    exact.apply(net, X) == y exactly (Fractions), same layers and sizes as `build`.

    X (N, d), y (N,): int / Fraction entries; floats are refused unless allow_float=True,
      which takes each float at its exact binary value (as jaxmem.exact does).
    direction: the projection u (d,), e.g. `build`'s info["direction"] with allow_float=True;
      default a random integer vector from `seed`, redrawn until the projections are distinct.
    cuts: explicit block boundaries (e.g. `build`'s info["cuts"]: then, with its direction, the
      two networks are the same construction, one rounded, one exact); default chosen by
      `boundaries` as in `build`.
    correct_parity: as in `build`.

    Returns (net, info) with info: blocks K, units_per_block q, virtual_points V,
    parity_correction S, label_scale A, direction u, cuts, slopes M (q,), min_gap,
    min_cut_gap (exact; None where undefined).
    """
    activation = _check_activation(activation)
    boundaries = _check_boundaries(boundaries)
    X = _fractions(exact.exact_array("X", X, allow_float=allow_float, ndim=2))
    y = _fractions(exact.exact_array("y", y, allow_float=allow_float, ndim=1))
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"X must have at least one row and one column; got shape {X.shape}")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one label per row of X; got {y.shape}")
    rows: dict[tuple, int] = {}
    for i in range(n):
        key = tuple(X[i])
        if key in rows:
            raise ValueError(
                f"rows {rows[key]} and {i} of X are the same point; the "
                f"construction needs N distinct points"
            )
        rows[key] = i
    q = _check_q(q, n)
    K = blocks(n, q)
    V = K * q - n
    if direction is None:
        u = _exact_direction(X, seed)
    else:
        u = _fractions(exact.exact_array("direction", direction, allow_float=allow_float, ndim=1))
        if u.shape != (d,):
            raise ValueError(f"direction must have shape ({d},); got {u.shape}")
    t = [Fraction(v) for v in X.dot(u)]
    tie = _first_tie(t)
    if tie is not None:
        raise ValueError(
            f"rows {tie[0]} and {tie[1]} of X have the same projection "
            f"{t[tie[0]]} on the direction; pick another direction or seed"
        )
    order = sorted(range(n), key=lambda i: t[i])
    ts, ys = [t[i] for i in order], [y[i] for i in order]
    ymax = max(abs(v) for v in ys)
    A = 2 * ymax if ymax > 0 else Fraction(1)
    cuts = _cuts_exact(ts, K, q, boundaries) if cuts is None else _check_cuts(cuts, n, K, q)
    # Slots as `_slots_jax`.
    mean_gap = (ts[-1] - ts[0]) / (n - 1) if n > 1 else Fraction(1)
    bounds = [0] + cuts + [n]
    s_rows, c_rows = [], []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        v = q - (b - a)
        spacing = (ts[b] - ts[b - 1]) / (4 * (v + 1)) if k < K - 1 else mean_gap
        s_rows.append(ts[a:b] + [ts[b - 1] + spacing * m for m in range(1, v + 1)])
        c_rows.append([yy / A for yy in ys[a:b]] + [Fraction(0)] * v)
    s, c = np.array(s_rows, dtype=object), np.array(c_rows, dtype=object)
    p = _block_parameters(s, c, np)
    S = parity_correction(q) if correct_parity else 0
    arrays = _layer_arrays(p, u, A, S, q, activation, np)
    acts = (activation, activation, "identity")
    net = exact.make(
        [
            exact.layer(Wl, bl, a, name=f"layer {i}")
            for i, ((Wl, bl), a) in enumerate(zip(arrays, acts))
        ]
    )
    info = dict(
        blocks=K,
        units_per_block=q,
        virtual_points=V,
        parity_correction=S,
        label_scale=A,
        direction=u,
        cuts=cuts,
        slopes=p["slopes"],
        min_gap=min((b - a for a, b in zip(ts, ts[1:])), default=None),
        min_cut_gap=min(p["gaps"], default=None),
    )
    return net, info


DIRECTIONS = ("best", "integer")


def _record_scalar(v):
    """An info value as a record holds it: Fractions as floats, None (undefined) as NaN."""
    return math.nan if v is None else float(v)


@construction(
    "yun2019.exact",
    citation="Yun, Sra, Jadbabaie 2019 stand-in YSJ-R in rational "
    "arithmetic: f(x_i) = y_i exactly (docs/papers/sublinear.md §5.4)",
    host=True,
    example=dict(data="gaussian", labels="gaussian", axes=dict(n=8, d=2, q=[3, 4])),
    direction=Option(
        "best",
        one_of("direction", DIRECTIONS),
        doc="best: build's float direction; integer: a random integer one",
    ),
    directions=Option(8, positive_int("directions")),
    **_OPTIONS,
)
def build_exact_from_key(
    key,
    X,
    y,
    *,
    q: int | None = None,
    activation: str = "relu",
    direction: str = "best",
    directions: int = 8,
    boundaries: str = "gaps",
    correct_parity: bool = True,
):
    """`build_exact` under the construction protocol, for float data (each float taken at its
    exact binary value). direction="best": `build`'s direction for the same key (the best of
    `directions` Gaussian draws, a float vector taken exactly) and the same cut rule, so the
    network is `build`'s network without rounding (the exact path picks the same max-min cuts,
    checked by verify/yun2019.py's cuts_agree); "integer": a random integer direction from a
    seed drawn from the key (smaller numbers: `max_bit_length`).

    info: valid (the points are distinct with distinct projections; False, with no network,
    otherwise), table_param_count (`param_count`), and build_exact's sizes and gaps as floats.
    """
    X, y = np.asarray(X), np.asarray(y)
    n, d = X.shape
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    qq = _check_q(q, n)
    if direction == "best":
        # X's float type, as `build` draws it (exact entries: their float64 values; any
        # direction with distinct projections will do, and build_exact checks that exactly).
        Xf = X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)
        u = np.asarray(best_direction(key, jnp.asarray(Xf), directions))
        kwargs: dict[str, Any] = dict(direction=u)
    else:
        kwargs = dict(seed=int(jax.random.randint(key, (), 0, 2**31 - 1)))
    info = dict(
        valid=False,
        table_param_count=param_count(n, d, qq, activation),
        blocks=blocks(n, qq),
        units_per_block=qq,
        virtual_points=blocks(n, qq) * qq - n,
        parity_correction=parity_correction(qq) if correct_parity else 0,
        label_scale=math.nan,
        min_gap=math.nan,
        min_cut_gap=math.nan,
    )
    try:
        net, own = build_exact(
            X,
            y,
            qq,
            activation,
            allow_float=True,
            boundaries=boundaries,
            correct_parity=correct_parity,
            **kwargs,
        )
    except ValueError as err:  # a repeated point or a tie in the projections
        if (
            "same point" in str(err)
            or "same projection" in str(err)
            or "distinct projections" in str(err)
        ):
            return None, dict(info, param_count=0, nonzero_param_count=0)
        raise
    info.update(
        valid=True,
        label_scale=_record_scalar(own["label_scale"]),
        min_gap=_record_scalar(own["min_gap"]),
        min_cut_gap=_record_scalar(own["min_cut_gap"]),
    )
    return net, info


__all__ = [
    "ACTIVATIONS",
    "BOUNDARIES",
    "DIRECTIONS",
    "blocks",
    "build",
    "build_exact",
    "build_exact_from_key",
    "capacity",
    "default_q",
    "param_count",
    "parity_correction",
    "widths",
]
