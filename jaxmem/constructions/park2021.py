"""Park, Lee, Yun, Shin (COLT 2021), "Provable memorization via deep neural networks using
sub-linear parameters": O(N^(2/3)) parameters memorize N labelled points. The "M2" of Yu et
al.'s Table 4 (NeurIPS 2024).

READ THIS FIRST: what is the paper's and what is reconstructed
-----------------------------------------------------------------
The paper's construction could NOT be read. Sources tried, through the project's search tool
(about 20 look-ups): the ar5iv page https://ar5iv.labs.arxiv.org/html/2010.13363, the ICLR
2021 submission text (.../iclr_2021/txt_data/Hrtbm8u0RXu.txt and its .one_page.txt),
https://openreview.net/forum?id=Hrtbm8u0RXu,
https://chulheeyun.github.io/publication/park2021provable,
https://www.scholarfeed.org/paper/2010.13363v2 and
https://catalyzex.com/paper/provable-memorization-via-deep-neural;
the stored copies of these pages return only their opening (title, abstract, the first
paragraph of the introduction); queries for the theorem statements, the lemmas, "width 3",
"bit extraction" and the appendix returned the same openings. No code repository, lecture note
or later paper in the index restates the construction (C. Hegde's notes, chinmayhegde/fodl
`_posts/2022-01-16-representation03.md`, cite it in one sentence; Kim-Moon-Yun 2025 cite it
in their bibliography only).

What was read in the paper's own text (abstract and first paragraphs of the introduction, ar5iv
and the ICLR text):
  * O(N) parameters were known to suffice to memorize arbitrary N input-label pairs; "by
    exploiting depth", O(N^(2/3)) parameters suffice "under a mild condition on the separation
    of input points" (arXiv, ICLR text; the OpenReview abstract writes Theta(N), Theta(N^(2/3)));
  * "deeper networks (even with width 3) are shown to memorize more pairs than shallow
    networks"; empirical results support the theory.
What was read in another paper's text: Yu et al. 2024, App. B.1 (GitHub deep-diver/neurips2024,
content/posters/sABwo1ZTFi/content_list.json, offset ~77,000) state as their Lemma B.2, "This is
Lemma 13 in [49]" ([49] = Park et al.): for any v in R^n and T >= 1, u uniform on S^(n-1),
P(|<u, v>| < (||v||_2 / T) sqrt(8/(n pi))) < 2/T. Used here for the projection (stage 1).
NOT known (so nothing below encodes it): Park et al.'s theorem statements, hypotheses with
their constants, the sub-networks, widths, depths, bit complexities, the label encoding, the
width-3 theorem and the experiments.

So this module is PLYS-R, a reconstruction (docs/papers/sublinear.md §4.4 allows one
only if it is not the Vardi-type VYS-R relabelled, and it is not): a construction with the
paper's advertised shape (deep, constant width, labels bit-packed into a few high-precision
weights, one-dimensional compression by a random projection, O(N^(2/3)) parameters) whose
2/3 exponent comes from its own mechanism, proved below. Its width is 9 (10 for labels of
more than one bit), NOT the paper's 3; its sizes are this construction's formulas, not the
paper's.

The construction (every step is exact on the training inputs; proofs inline)
---------------------------------------------------------------------------
Input: distinct rational x_1..x_N in Q^d (repeated rows with one label are merged; repeated
rows with two labels are an error), integer labels. Labels are coded
l_i = (y_i - y_min) / g_y in {0..2^c - 1}, g_y the gcd of the label differences, so the
output y_min + g_y * l is exact; binary labels {-1, +1} take c = 1 bit.

Stage 1, projection (layer 1, width 1). Draw u: a Gaussian rounded to 30 fractional bits
(dyadic, so u.x is exact). Redraw until the projections are distinct and (optional,
`separation_test`) pass Lemma 13's union bound with T = 2N^2: every pair has
|<u, x_i - x_j>| >= ||u|| delta sqrt(8/(d pi)) / (2N^2), delta = min ||x_i - x_j||: each pair
fails with probability < 2/T = 1/N^2, so a draw passes with probability > 1/2 and fewer than
two draws are needed on average. The test is run in float64: exactness never depends on it
(only distinct projections matter); it bounds the range of the first-layer weights.
Layer 1 is t = relu((p(x) - p_min) / g + 1), g the smallest projected gap: t_i >= 1, gaps >= 1.

Stage 2, group selection (layers 2..G+1, width 5). Sort the t_i; cut them greedily into G runs
of consecutive points ("groups"), closing a group before the point that would push its bucket
count (below) past the table size m. For a group with first point f, smallest internal gap
gamma and points r_k = (t_k - f) / gamma (consecutive r's >= 1 apart), choose
beta in [0, 1) so that every r_k + beta stays >= 1/(2q) away from the integers (q = the group's
size): the points -r_k mod 1 cut the circle into q arcs, the longest is >= 1/q, beta is its
midpoint. Then the bucket of point k is floor(r_k + beta): distinct within the group (the
r's are >= 1 apart) and the group needs floor(r_last + beta) + 1 <= floor(span/gamma) + 2
buckets. The group's table register is

    W_j = sum over its points of  l_k * 2^(c (m - 1 - bucket_k)),   m = max bucket count,

(empty buckets hold 0). The group's affine map is u_j(t) = (t - f)/gamma + beta = a_j t + b_j.
One layer per gap between groups j and j+1 (L = last + gap/3, R = last + 2 gap/3,
D = R - L) computes P = relu(t - L), Q = relu(t - R); on training inputs (none lies in (L, R))
(P - Q)/D = 1{t >= R} and (R P - L Q)/D = t 1{t >= R}, so

    u <- u + (a_{j+1} - a_j)(R P - L Q)/D + (b_{j+1} - b_j)(P - Q)/D,
    W <- W + (W_{j+1} - W_j)(P - Q)/D

telescope (sublinear.md §2.7) to u = u_j(t) and W = W_j on group j. Every partial sum is >= 0 at
training inputs (after the first i updates a point of a later group sees u_{i+1}(t) >= beta >= 0,
its t lying to the right of group i+1's first point; W sees some W_i >= 0), so ReLUs carry them.

Stage 3, table read (c m layers, width 9 for c = 1, 10 otherwise). Scan the m buckets of the
selected register, most significant first. For bucket k: c bit-extraction layers (sublinear.md
§2.3: with X < 2^(e+1), relu(X - 2^e + 1) - relu(X - 2^e) = 1{X >= 2^e}, subtracted
from X and accumulated into the label in the next layer's affine map) recover l_{j,k}; the
last of them also computes the threshold s_{k+1} = 1{u >= k + 1} as
relu(K(u - k - 1) + 1) - relu(K(u - k - 1)) with K = 2 q_max, q_max the largest group
(exact: every u is >= 1/(2q) >= 1/K away from the integers). The first layer of bucket k + 1
gates the label, G_k = relu(l_{j,k} + 2^c (s_k - s_{k+1}) - 2^c) = l_{j,k} 1{k <= u < k + 1}
(sublinear.md §2.9), and the layer after adds G_k to the output register. A final layer gates the
last bucket; the affine output is y_min + g_y sum_k G_k = y_min + g_y l_{j, bucket(x)} = y on
every training x.

Why N^(2/3) (the balance). Stage 2 costs 30 parameters per group, stage 3 90 per bucket for
c = 1 (110 c for c >= 2): P_dense = d + 30 G + 90 m - 77 for c = 1 and G >= 2, exactly
(`predicted_param_count`). The table stores no identities, only labels at positions, so a
group of q points needs about span/min-gap buckets, typically Theta(q^2) for q consecutive
points of a random projection (the smallest of q - 1 spacings is ~ 1/q of their mean: the
birthday effect; the greedy cut puts the rare tiny gaps between groups). With groups of q
points, G ~ N/q and m ~ q^2: P ~ N/q + q^2 is smallest at q ~ N^(1/3), P = Theta(N^(2/3)).
(Storing each point's identity, log R bits, instead of a position table is what takes Vardi et
al. to O~(sqrt N).) `build` picks m by minimizing the exact dense count over a grid, so the
exponent is measured, not imposed: 0.71 over N = 64..8192 (uniform data in [0, 1)^4), the
finite-size approach to 2/3 from above. Sub-linearity is asymptotic: P_dense / N is about 8 at
N = 1000 and 4 at N = 8192 (P_nz about 3x smaller); extrapolated, P_dense < N from
N ~ 10^5 - 10^6.

Precision. Registers hold c m bits (m = 26 at N = 1000, 119 at N = 8192). Float64 evaluation of
the same weights (`apply_float`, `to_network`) is exact only while every intermediate product
is: the bit layers form 2^e P with P up to the remaining register, and stage 2 forms
(W_{j+1} - W_j)/D * P with P ~ t (t up to ~2^20 at N = 1000). So float64 already misreads a
point at N = 1000 with 26-bit registers, and it certainly fails once a register passes 53 bits,
where the register itself is not representable (the tests isolate that case: one group, the
register 2^L + 1); `jaxmem.exact.apply` is exact throughout.

Sizes, asserted by the tests against the built object: depth (affine maps) G + c m + 3;
widths [1] + [5] * (G - 1) + [2] + [w3] * (c m) + [2] (w3 = 9 for c = 1, 10 otherwise; for
G = 1 stage 2 is the single layer [u, W]); dense parameters `predicted_param_count`.

Registered as the host construction "park2021" (binary labels in a sweep; `build` itself takes
any integer labels). Its sweep measurement (`measure`, through protocol.measure_host):
f(x_i) = y_i exactly for every row, and the built sizes equal the formulas above (PLYS-R's,
not the paper's, which could not be read); two equal rows with different labels are recorded
valid = ok = False.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from jaxmem import exact
from jaxmem.constructions.protocol import (
    HypothesisError,
    Option,
    boolean,
    construction,
    numpy_generator,
    optional,
    positive_int,
)
from jaxmem.data.validate import positive_int as check_positive_int

DIRECTION_BITS = 30  # fractional bits of the rounded Gaussian direction (sublinear.md §2.10)
MAX_DRAWS = 64  # projection draws before giving up (each passes with prob. > 1/2)
PREDICTED_EXPONENT = 2 / 3
# Threshold ramps have slope K = RAMP_SLOPE_FACTOR * q_max: every u is at least 1/(2 q) away from
# the integers (q its group's size), so 2 is the smallest factor that keeps them exact. A smaller
# value is the ablation the tests use to break the construction on purpose.
RAMP_SLOPE_FACTOR = 2


# HypothesisError (protocol): no function memorizes the data (two equal rows, different labels).


# Stage-3 neuron slots (the layout every stage-3 layer shares).
_U, _X, _OUT, _S, _P, _Q, _G, _A1, _A2, _A = range(10)


# --- sizes -----------------------------------------------------------------------------------


def stage3_width(label_bits: int) -> int:
    """Units of every stage-3 layer: u, register, output, s_k, P, Q, gate, two threshold
    ReLUs, plus the partial label when a label has more than one bit."""
    return 9 if check_positive_int("label_bits", label_bits) == 1 else 10


def predicted_depth(groups: int, table_size: int, label_bits: int) -> int:
    """Affine maps: projection, G stage-2 layers, c m table layers, the last gate, output."""
    return groups + label_bits * table_size + 3


def predicted_widths(groups: int, table_size: int, label_bits: int) -> list[int]:
    """Hidden-layer widths, input side first."""
    w3 = stage3_width(label_bits)
    stage2 = [5] * (groups - 1) + [2]
    return [1] + stage2 + [w3] * (label_bits * table_size) + [2]


def predicted_param_count(d: int, groups: int, table_size: int, label_bits: int) -> int:
    """Dense parameters (docs/conventions.md §6) of the layout in the module docstring,
    summed by hand: projection d + 1; stage 2: 5 x 2 (first gap layer) + 30 per further gap
    layer + 2 x 6 (the layer that keeps [u, W]) = 30 G - 38 for G >= 2, 2 x 2 = 4 for G = 1;
    stage 3: w3 x 3 (reads [u, W]) + w3 (w3 + 1) for each of the other c m - 1 layers; the last
    gate layer 2 (w3 + 1); the output 3. For c = 1: d + 30 G + 90 m - 77."""
    for name, v in (("d", d), ("groups", groups), ("table_size", table_size)):
        check_positive_int(name, v)
    w3 = stage3_width(label_bits)
    stage2 = 30 * groups - 38 if groups >= 2 else 4
    stage3 = 3 * w3 + (label_bits * table_size - 1) * w3 * (w3 + 1)
    return (d + 1) + stage2 + stage3 + 2 * (w3 + 1) + 3


# --- input checks ----------------------------------------------------------------------------


def _rational(name: str, v):
    """An exact value (int or Fraction) from int / Fraction / float (a float at its exact
    binary value); None for NaN / inf; TypeError for anything else."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} is a bool ({v}); use 0 / 1")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Fraction):
        return v
    if isinstance(v, numbers.Real):
        f = float(v)
        return Fraction(f) if math.isfinite(f) else None
    raise TypeError(f"{name} is a {type(v).__name__} ({v!r}); expected a real number")


def _integer_rows(X) -> tuple[list[tuple[int, ...]], int]:
    """X (N, d) as integer numerator rows over one common denominator D (exact)."""
    A = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if A.ndim != 2:
        raise ValueError(f"X must be 2-D (N, d); got shape {np.shape(A)}")
    N, d = A.shape
    if N < 1 or d < 1:
        raise ValueError(f"X must have at least one row and one column; got shape {A.shape}")
    if A.dtype.kind in "iu":
        return [tuple(int(v) for v in row) for row in A.tolist()], 1
    if A.dtype.kind == "f":
        bad = ~np.isfinite(A)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            raise ValueError(f"X[{i}, {j}] is {A[i, j]}: every entry must be finite")
        A = A.astype(object)
    elif A.dtype.kind == "b":
        raise TypeError("X is a bool array; use 0 / 1 integers")
    elif A.dtype != object:
        raise TypeError(f"X has dtype {A.dtype}; expected numbers")
    # One pass: (numerator, denominator) per entry, then one common denominator. Fractions
    # and ints take the fast path (timing: experiments/results/TIMINGS.md, Library).
    pairs = []
    for i, row in enumerate(A.tolist()):
        out = []
        for j, v in enumerate(row):
            tv = type(v)
            if tv is Fraction:
                out.append((v.numerator, v.denominator))
            elif tv is int:
                out.append((v, 1))
            else:
                q = _rational(f"X[{i}, {j}]", v)
                if q is None:
                    raise ValueError(f"X[{i}, {j}] is {v}: every entry must be finite")
                q = Fraction(q)
                out.append((q.numerator, q.denominator))
        pairs.append(out)
    D = math.lcm(*{den for row in pairs for _, den in row})
    if D == 1:
        return [tuple(num for num, _ in row) for row in pairs], 1
    rows = [tuple(num * (D // den) if den != D else num for num, den in row) for row in pairs]
    return rows, D


def _integer_labels(y, N: int) -> list[int]:
    arr = np.asarray(y, dtype=object).reshape(-1) if np.ndim(y) else None
    if arr is None or np.ndim(y) != 1:
        raise ValueError(f"y must be 1-D with one label per row of X; got shape {np.shape(y)}")
    if arr.shape[0] != N:
        raise ValueError(f"y has {arr.shape[0]} labels but X has {N} rows")
    out = []
    for i, v in enumerate(arr.tolist()):
        q = _rational(f"y[{i}]", v)
        if q is None:
            raise ValueError(f"y[{i}] is {v}: labels must be finite")
        if Fraction(q).denominator != 1:
            raise ValueError(
                f"y[{i}] = {v} is not an integer: this construction stores integer "
                f"labels (e.g. -1 / +1, or classes 0..C-1)"
            )
        out.append(int(q))
    return out


# --- stage 1: projection ---------------------------------------------------------------------


def _min_distance(rows: list[tuple[int, ...]], D: int) -> float:
    """min_{i != j} ||x_i - x_j||_2 in float64 (Gram form, in row blocks)."""
    Xf = np.array([[float(v) for v in r] for r in rows], dtype=np.float64) / D
    sq = np.einsum("ij,ij->i", Xf, Xf)
    best = np.inf
    for s in range(0, len(Xf), 512):
        blk = sq[s : s + 512, None] + sq[None, :] - 2 * Xf[s : s + 512] @ Xf.T
        idx = np.arange(s, min(s + 512, len(Xf)))
        blk[idx - s, idx] = np.inf
        best = min(best, float(np.min(blk)))
    return math.sqrt(max(best, 0.0))


def _project(rows, U: list[int]) -> list[int]:
    """Exact integer projections sum_k U_k x_k (x in numerator units)."""
    A = np.array(rows, dtype=object)
    return [int(v) for v in A.dot(np.array(U, dtype=object))]


def _draw_direction(rng, rows, D, separation_test: bool, max_draws: int):
    N, d = len(rows), len(rows[0])
    delta = _min_distance(rows, D) if (separation_test and N > 1) else None
    for draw in range(1, max_draws + 1):
        U = [int(v) for v in np.rint(rng.standard_normal(d) * 2.0**DIRECTION_BITS)]
        if not any(U):
            continue
        P = _project(rows, U)
        sP = sorted(P)
        gaps = [b - a for a, b in zip(sP, sP[1:])]
        if gaps and min(gaps) == 0:
            continue
        if delta is not None:
            # Lemma 13 (Park et al., as quoted by Yu et al. Lemma B.2), T = 2 N^2, for the
            # direction u / ||u||; the projections here are P / (D 2^B).
            norm_u = math.sqrt(sum(float(v) ** 2 for v in U)) / 2.0**DIRECTION_BITS
            bound = norm_u * delta * math.sqrt(8 / (d * math.pi)) / (2 * N * N)
            if min(gaps) / (D * 2.0**DIRECTION_BITS) < bound * (1 + 1e-9):
                continue
        return U, P, draw, delta
    raise RuntimeError(
        f"no projection direction out of {max_draws} draws gave distinct "
        f"projections{' passing the separation test' if delta else ''}; "
        f"each draw should pass with probability > 1/2"
    )


# --- stage 2: grouping -----------------------------------------------------------------------


def _greedy_groups(gaps: np.ndarray, table_size: int) -> list[tuple[int, int]]:
    """Runs [start, end) of the sorted points, from their consecutive gaps (float, each >= 1:
    the gaps in t units): a group is closed before the point that would make
    floor(span / min gap) + 2 exceed the table size. Floats only steer the cut (the exact
    bucket counts are computed afterwards), so rounding cannot break exactness."""
    groups, start, span, mg = [], 0, 0.0, math.inf
    for i, gap in enumerate(gaps.tolist(), start=1):
        new_mg = min(mg, gap)
        if (span + gap) / new_mg < table_size - 1:
            span, mg = span + gap, new_mg
        else:
            groups.append((start, i))
            start, span, mg = i, 0.0, math.inf
    groups.append((start, len(gaps) + 1))
    return groups


def _group_map(Z: list[int], s: int, e: int):
    """(gmin, beta, buckets) of the group Z[s:e] (integer projection offsets, gmin its
    smallest gap in those units):
    r_k = (Z_k - Z_s) / gmin, beta = midpoint of the longest arc between the points -r_k mod 1,
    bucket_k = floor(r_k + beta)."""
    q = e - s
    if q == 1:
        return 1, Fraction(1, 2), [0]
    gmin = min(Z[k + 1] - Z[k] for k in range(s, e - 1))
    offs = [Z[k] - Z[s] for k in range(s, e)]
    centers = sorted({(-o) % gmin for o in offs})  # -r_k mod 1, in units of 1/gmin
    arcs = [
        (centers[(i + 1) % len(centers)] - centers[i]) % gmin or gmin for i in range(len(centers))
    ]
    i = max(range(len(arcs)), key=arcs.__getitem__)
    beta = (Fraction(2 * centers[i] + arcs[i], 2 * gmin)) % 1
    buckets = [math.floor(Fraction(o, gmin) + beta) for o in offs]
    return gmin, beta, buckets


def _table_candidates(N: int) -> list[int]:
    hi = max(8, 6 * math.ceil(N ** (2 / 3)))
    out, m = set(), 1.0
    while m <= hi:
        out.add(int(round(m)))
        m *= 1.06
    return sorted(out)


def _choose_table(gaps: np.ndarray, d: int, c: int, table_size):
    """The table size m (given, or the one minimizing the dense count) and its groups."""
    if table_size is not None:
        m = check_positive_int("table_size", table_size)
        return m, _greedy_groups(gaps, m), None
    best = None
    for m in _table_candidates(len(gaps) + 1):
        groups = _greedy_groups(gaps, m)
        cost = predicted_param_count(d, len(groups), m, c)
        if best is None or cost < best[0]:
            best = (cost, m, groups)
    assert best is not None  # _table_candidates always offers at least one size
    return best[1], best[2], best[0]


# --- assembly --------------------------------------------------------------------------------


def _zeros(n_in: int, n_out: int):
    return np.zeros((n_in, n_out), dtype=object), np.zeros(n_out, dtype=object)


def _stage2_layers(t_first, t_last, a, b, W):
    """Layers 2..G+1 on the input [t]. t_first/t_last: each group's first/last t (Fraction);
    a, b: each group's affine map u = a t + b; W: its register."""
    G = len(W)
    layers = []
    if G == 1:
        Wt, bs = _zeros(1, 2)
        Wt[0, 0], bs[0], bs[1] = a[0], b[0], W[0]
        return [exact.layer(Wt, bs, name="stage2[0]")]

    def step(j):
        gap = t_first[j + 1] - t_last[j]
        return t_last[j] + gap / 3, t_last[j] + 2 * gap / 3, gap / 3

    L, R, _ = step(0)
    Wt, bs = _zeros(1, 5)  # [t, u, W, P_1, Q_1]
    Wt[0, 0], Wt[0, 1], bs[1], bs[2] = 1, a[0], b[0], W[0]
    Wt[0, 3], bs[3], Wt[0, 4], bs[4] = 1, -L, 1, -R
    layers.append(exact.layer(Wt, bs, name="stage2[0]"))
    for j in range(G - 1):  # the gap between groups j and j+1
        L, R, Dl = step(j)
        da, db, dW = a[j + 1] - a[j], b[j + 1] - b[j], W[j + 1] - W[j]
        last = j == G - 2
        Wt, bs = _zeros(5, 2 if last else 5)
        o = 0 if last else 1  # output index of u ([u, W] or [t, u, W, ..])
        Wt[1, o] = 1  # u + da (R P - L Q)/D + db (P - Q)/D
        Wt[3, o] = (da * R + db) / Dl
        Wt[4, o] = -(da * L + db) / Dl
        Wt[2, o + 1] = 1  # W + dW (P - Q)/D
        Wt[3, o + 1] = Fraction(dW) / Dl
        Wt[4, o + 1] = -Fraction(dW) / Dl
        if not last:
            L2, R2, _ = step(j + 1)
            Wt[0, 0] = 1  # t
            Wt[0, 3], bs[3], Wt[0, 4], bs[4] = 1, -L2, 1, -R2
        layers.append(exact.layer(Wt, bs, name=f"stage2[{j + 1}]"))
    return layers


def _put(Wt: np.ndarray, bs: np.ndarray, col: int, expr: dict, const=0) -> None:
    """Unit `col` computes relu(sum_r expr[r] h_r + const) of the previous layer's h."""
    for r, v in expr.items():
        Wt[r, col] = v
    bs[col] = const


def _stage3_layers(m: int, c: int, K):
    """The table read on [u, W]: c m layers of width w3, then the last gate [out, G].

    Layer (k, i) extracts bit i (most significant first) of bucket k, at register position
    e = c (m - k) - i - 1. Its units, as affine expressions of the previous layer (k', i'):
    u; the remaining register X - 2^e' (P - Q); the output out + G; s_k (= A1 - A2 at a new
    bucket, else carried); the partial label 2a + P - Q (c >= 2; reset at a new bucket);
    P, Q on the remaining register; at a new bucket the gate of bucket k - 1; at the last bit
    of a bucket the threshold pair of s_{k+1}."""
    w3 = stage3_width(c)
    big = 2**c
    label = {_P: 1, _Q: -1, **({_A: 2} if c > 1 else {})}  # l = 2a + P - Q after the last bit
    layers = []
    for k in range(m):
        for i in range(c):
            e = c * (m - k) - i - 1
            first = k == 0 and i == 0
            Wt, bs = _zeros(2 if first else w3, w3)
            if first:  # the input is stage 2's [u, W]
                u, x = {0: 1}, {1: 1}
                _put(Wt, bs, _S, {}, 1)  # s_0 = 1{u >= 0} = 1
            else:
                pe = e + 1  # the bit the previous layer extracted
                u, x = {_U: 1}, {_X: 1, _P: -(2**pe), _Q: 2**pe}
                _put(Wt, bs, _OUT, {_OUT: 1, _G: 1})
                if i == 0:  # a new bucket: s_k = A1 - A2, gate k - 1
                    _put(Wt, bs, _S, {_A1: 1, _A2: -1})
                    # G_{k-1} = relu(l + 2^c (s_{k-1} - s_k) - 2^c)
                    _put(Wt, bs, _G, {**label, _S: big, _A1: -big, _A2: big}, -big)
                else:
                    _put(Wt, bs, _S, {_S: 1})
                    _put(Wt, bs, _A, label)
            _put(Wt, bs, _U, u)
            _put(Wt, bs, _X, x)
            _put(Wt, bs, _P, x, -(2**e) + 1)
            _put(Wt, bs, _Q, x, -(2**e))
            if i == c - 1 and k < m - 1:  # s_{k+1} = 1{u >= k + 1}
                _put(Wt, bs, _A1, {r: K * v for r, v in u.items()}, -K * (k + 1) + 1)
                _put(Wt, bs, _A2, {r: K * v for r, v in u.items()}, -K * (k + 1))
            layers.append(exact.layer(Wt, bs, name=f"stage3[{k}, {i}]"))
    # The last gate: [out, G_{m-1}], with s_m = 0 (the last layer's threshold units are zero).
    Wt, bs = _zeros(w3, 2)
    _put(Wt, bs, 0, {_OUT: 1, _G: 1})
    _put(Wt, bs, 1, {**label, _S: big}, -big)
    layers.append(exact.layer(Wt, bs, name="last gate"))
    return layers


def sizes_ok(info: dict) -> bool:
    """The built depth, widths and dense parameter count equal the formulas."""
    return (
        info["param_count"] == info["predicted_param_count"]
        and info["depth"] == info["predicted_depth"]
        and info["widths"] == info["predicted_widths"]
    )


def measure(net: exact.ExactNetwork, info: dict, X, y, denominator: int | None = None) -> dict:
    """What the construction promises, on one built network, as scalars: memorizes (f(x_i) =
    y_i for every row, in rational arithmetic), sizes_ok (`sizes_ok`); ok is both. Also the
    float64 path of the same weights (`apply_float`; reported, not part of ok: rounding to the
    integer labels recovers y while float64_max_error < 0.5)."""
    out = exact.apply(net, X, allow_float=True, denominator=denominator)
    labels = [int(v) for v in np.asarray(y).tolist()]
    hits = [o == v for o, v in zip(out, labels)]
    memo = all(hits)
    fl = apply_float(net, X, denominator=denominator)
    err = float(np.max(np.abs(fl - np.asarray(labels, float))))
    sizes = sizes_ok(info)
    return dict(
        ok=memo and sizes,
        memorizes=memo,
        sizes_ok=sizes,
        fit_fraction=float(np.mean(hits)),
        param_count=int(info["param_count"]),
        nonzero_param_count=int(info["nonzero_param_count"]),
        predicted_param_count=int(info["predicted_param_count"]),
        depth=int(info["depth"]),
        width=int(info["width"]),
        groups=int(info["groups"]),
        buckets=int(info["table_size"]),
        max_group_size=int(info["max_group_size"]),
        label_bits=int(info["label_bits"]),
        register_bits=int(info["register_bits"]),
        max_weight_bits=int(info["max_weight_bits"]),
        draws=int(info["draws"]),
        n_points=int(info["n_points"]),
        min_margin=float(info["min_margin"]),
        float64_max_error=err,
        float64_ok=bool(np.isfinite(err) and err < 0.5),
    )


# The record of a dataset no function memorizes: the same fields, nothing measured.
_INVALID = dict(
    ok=False,
    memorizes=False,
    sizes_ok=False,
    fit_fraction=math.nan,
    param_count=0,
    nonzero_param_count=0,
    predicted_param_count=0,
    depth=0,
    width=0,
    groups=0,
    buckets=0,
    max_group_size=0,
    label_bits=0,
    register_bits=0,
    max_weight_bits=0,
    draws=0,
    n_points=0,
    min_margin=math.nan,
    float64_max_error=math.nan,
    float64_ok=False,
)


@construction(
    "park2021",
    citation="Park et al. 2021 (M2 of Yu et al. 2024), reconstructed as "
    "PLYS-R: O(N^(2/3)) parameters, width 9, f(x_i) = y_i exactly",
    task="binary",
    host=True,
    measure=measure,
    invalid=_INVALID,
    example=dict(data="cube", labels="sign", axes=dict(n=40, d=3)),
    table_size=Option(
        None,
        optional(positive_int("table_size")),
        doc="buckets per group (default: the count-minimizing one)",
    ),
    separation_test=Option(
        True, boolean("separation_test"), doc="redraw directions failing Lemma 13's bound"
    ),
    max_draws=Option(MAX_DRAWS, positive_int("max_draws")),
)
def build(
    key,
    X,
    y,
    *,
    table_size: int | None = None,
    denominator: int | None = None,
    separation_test: bool = True,
    max_draws: int = MAX_DRAWS,
):
    """PLYS-R (module docstring): an exact ReLU network f with f(x_i) = y_i for every row.

    key: a JAX PRNG key, an int seed or a numpy.random.Generator (the projection direction's
    only randomness).
    X: (N, d) ints / Fractions / floats (a float is taken at its exact binary value); with
    `denominator`, X holds integers and the inputs are X / denominator (pixels / 255: no
    Fraction per entry). y: N integer labels. table_size: buckets per group (default: the one
    minimizing the dense parameter count). Returns (net, info): net a jaxmem.exact.ExactNetwork
    (evaluate with jaxmem.exact.apply), info the sizes and the quantities the formulas
    predict."""
    rng, int_seed = numpy_generator(key)
    # the caller's own Generator has no seed to record
    seed: object = "numpy.random.Generator (caller's)" if int_seed is None else int_seed
    if denominator is None:
        rows, D = _integer_rows(X)
    else:
        D = check_positive_int("denominator", denominator)
        A = np.asarray(X)
        if A.dtype.kind not in "iu" and A.dtype != object:
            raise TypeError(
                f"with a denominator, X must hold integers (numerators); got dtype {A.dtype}"
            )
        rows, one = _integer_rows(A)
        if one != 1:
            raise TypeError(
                "with a denominator, X must hold integers (numerators); got fractional entries"
            )
    labels = _integer_labels(y, len(rows))
    if table_size is not None:
        check_positive_int("table_size", table_size)
    check_positive_int("max_draws", max_draws)
    n_rows = len(rows)
    first: dict[tuple, int] = {}
    keep = []
    for i, (r, lab) in enumerate(zip(rows, labels)):
        if r in first:
            j = first[r]
            if labels[j] != lab:
                raise HypothesisError(
                    f"rows {j} and {i} of X are equal but their labels "
                    f"differ ({labels[j]} vs {lab}): no function "
                    f"memorizes them"
                )
            continue
        first[r] = i
        keep.append(i)
    rows = [rows[i] for i in keep]
    labels = [labels[i] for i in keep]
    N, d = len(rows), len(rows[0])

    y_min = min(labels)
    g_y = math.gcd(*(v - y_min for v in labels)) or 1
    codes = [(v - y_min) // g_y for v in labels]
    c = max(1, max(codes).bit_length())

    U, P, draws, delta = _draw_direction(rng, rows, D, separation_test, max_draws)
    order = sorted(range(N), key=P.__getitem__)
    p_min = P[order[0]]
    Z = [P[i] - p_min for i in order]  # sorted integer offsets, Z[0] = 0
    g = min((b - a for a, b in zip(Z, Z[1:])), default=1)
    gaps = np.array([float(Fraction(b - a, g)) for a, b in zip(Z, Z[1:])], dtype=np.float64)

    m_target, groups, _ = _choose_table(gaps, d, c, table_size)

    # exact per-group maps, buckets and registers
    maps = [_group_map(Z, s, e) for s, e in groups]
    m = max(bk[-1] + 1 for _, _, bk in maps)
    q_max = max(e - s for s, e in groups)
    K = Fraction(RAMP_SLOPE_FACTOR) * q_max
    K = int(K) if K.denominator == 1 else K
    t_first, t_last, a, b, W, margins = [], [], [], [], [], []
    for (s, e), (gmin, beta, buckets) in zip(groups, maps):
        tf = Fraction(Z[s], g) + 1
        t_first.append(tf)
        t_last.append(Fraction(Z[e - 1], g) + 1)
        a.append(Fraction(g, gmin))  # u = (t - t_first) g / gmin + beta
        b.append(beta - Fraction(g, gmin) * tf)
        reg = 0
        for k, bk in zip(range(s, e), buckets):
            reg += codes[order[k]] << (c * (m - 1 - bk))
            r = Fraction(Z[k] - Z[s], gmin) + beta
            margins.append(min(r - math.floor(r), math.ceil(r) - r))
        W.append(reg)

    lay1_w = np.array([[Fraction(D * u_k, g)] for u_k in U], dtype=object)
    lay1_b = np.array([Fraction(g - p_min, g)], dtype=object)
    layers = [exact.layer(lay1_w, lay1_b, name="projection")]
    layers += _stage2_layers(t_first, t_last, a, b, W)
    layers += _stage3_layers(m, c, K)
    out_w = np.array([[g_y], [g_y]], dtype=object)
    layers.append(exact.layer(out_w, np.array([y_min], dtype=object), "identity", name="output"))
    net = exact.make(layers)

    G = len(groups)
    sizes = [e - s for s, e in groups]
    info = dict(
        valid=True,
        construction="PLYS-R (reconstruction; see jaxmem.constructions.park2021)",
        n_points=N,
        n_input_rows=n_rows,
        d=d,
        label_min=y_min,
        label_step=g_y,
        label_bits=c,
        classes=len(set(labels)),
        seed=seed,
        draws=draws,
        direction=U,
        direction_bits=DIRECTION_BITS,
        min_distance=delta,
        separation_test=separation_test,
        input_denominator=D,
        min_projected_gap=Fraction(g, D * 2**DIRECTION_BITS),
        groups=G,
        group_sizes=sizes,
        max_group_size=q_max,
        table_size=m,
        table_size_target=m_target,
        ramp_slope=K,
        min_margin=min(margins),
        register_bits=c * m,
        max_register_bit_length=max(w.bit_length() for w in W),
        param_count=exact.param_count(net),
        predicted_param_count=predicted_param_count(d, G, m, c),
        nonzero_param_count=nonzero_param_count(net),
        depth=len(net.layers),
        predicted_depth=predicted_depth(G, m, c),
        widths=[lay.n_out for lay in net.layers[:-1]],
        predicted_widths=predicted_widths(G, m, c),
        width=max(lay.n_out for lay in net.layers[:-1]),
        max_weight_bits=exact.max_bit_length(net),
        predicted_exponent=PREDICTED_EXPONENT,
    )
    return net, info


# The float path of the same weights is jaxmem.exact's: exact.apply_float (NumPy, any dtype)
# and exact.to_network (a jaxmem.network.Network for jit / vmap).
apply_float = exact.apply_float
to_network = exact.to_network
nonzero_param_count = exact.nonzero_param_count


__all__ = [
    "DIRECTION_BITS",
    "HypothesisError",
    "PREDICTED_EXPONENT",
    "apply_float",
    "build",
    "measure",
    "nonzero_param_count",
    "predicted_depth",
    "predicted_param_count",
    "predicted_widths",
    "sizes_ok",
    "stage3_width",
    "to_network",
]
