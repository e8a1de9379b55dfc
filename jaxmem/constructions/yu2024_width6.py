"""Yu, Gao, Zhang, Miao (NeurIPS 2024), Theorem 4.1: a width-6 memorizer with
O(sqrt(N) ln(N n / c)) parameters (App. B; their adaptation of Vardi, Yehudai, Shamir 2022).
This is the optimal-size memorizer "M3" of the paper's Table 4.

Read against the paper's App. B (full text; docs/papers/yu2024.md §3.2). Four parts:

1. Compression (Lemma B.1). c0 = min distance between opposite-label training points. A
   direction u, uniform on the sphere, is accepted when |<u, x - z>| >= (c0 / (4 N^2))
   sqrt(8 / (n pi)) for every opposite pair (x, z): by Lemma B.2 (Park et al.'s Lemma 13, T =
   4 N^2) and a union bound a draw passes with probability > 1/2. Then w = (16 sqrt(n) N^2 /
   c0) u and b = ||w|| sqrt(n) + 1 give 1 <= w.x + b = O(n N^2 / c) on [0, 1]^n and
   |w.(x - z)| >= 4 across labels. f1(x) = relu(w.x + b).
   Exactly: u is a Gaussian rounded to a dyadic rational; the acceptance test (it has pi and
   square roots in it) runs in float64; w = S u with S a rational upper bound of 16 sqrt(n)
   N^2 / (c0 ||u||), b an integer >= ||w|| sqrt(n) + 1, and the property the proof needs,
   |w.(x - z)| >= 4 on opposite pairs, is then checked in exact arithmetic (a draw that
   passes the float test but not the exact one is redrawn).
2. Relabel and encode (B.4, Part Two). Sort c_i = f1(x_i). Negatives get c'_i = c_p, the value
   of a positive (the paper takes c_1 and assumes y_1 = +1; any positive serves), so they never
   create a match. Blocks of s = [sqrt(N)] consecutive points; block k's register v_k is the
   decimal concatenation of the w-digit integers [c'_j] of its points (the last block is padded
   with [c_p]).
3. Projection (Lemma B.3, width 4 + the carried input): two layers per block boundary add
   (v_{i+1} - v_i) / (q/3) (relu(c - x_{t+1} + 2q/3) - relu(c - x_{t+1} + q/3)), 0 below the
   boundary and v_{i+1} - v_i above it (q = the gap at the boundary), so f2(c_i) = v_block(i).
4. Label determination (Lemmas B.4, B.5). For each slot: F_{2^q, p} o ... o F_{2^0, p}, with
   F_{a,b}(x) = relu(x) - (a/b) relu(x - a) + (a/b) relu(x - (a + b)), 2^q <= 10^(w+1) - 1 <
   2^(q+1) and p < 10^(-w m) (m blocks left in the register), strips the leading w-digit
   block a_1 from x = register / 10^(w (m-1)); then relu(1.1 - |c - a_1|) is added to an
   accumulator. F(x) = accumulator - 0.05: > 0 on positives (|c - [c]| < 1), = -0.05 on
   negatives (at distance >= 3 from every [c'_j]).

A finding, measured by this module (`ramp="paper"`): Lemma B.4's proof splits x <= 2^k /
x > 2^k + p, but when the register's remainder is 0 - the last slot of every block - x is an
integer and x = 2^k happens: F_{2^k, p} then keeps x instead of subtracting 2^k, and the
stripped remainder ends at 1 instead of 0 for every positive integer (lowest set bit). The last
slot is extracted as a_1 - 1, and its positive is matched only if c - [c] < 0.1. So the network
as printed misses the last positive of almost every block. `ramp="left"` (the default) moves the
ramp to [2^k - p, 2^k]: F(x) = x on [0, 2^k - p], x - 2^k on [2^k, 2^(k+1)], which integers and
x = a + f (f < 1 - p) never straddle; with it the construction memorizes (tests, claims).

Vardi et al.'s own construction differs in bookkeeping, not in kind: all pairs separated
(labels are stored, C classes), binary registers extracted with Telgarsky triangle maps,
sqrt(N log N) groups, width 12 (sublinear.md §3.2-3.3, unconfirmed beyond a restatement). For
binary labels Yu et al.'s version is the same three phases, so it stands in for M3 here.

Nothing is jit-compiled: registers have O(sqrt(N) log(n N / c)) digits (hundreds for an MNIST
pair), far past any float mantissa, so the network is an `exact.ExactNetwork` evaluated in
rational arithmetic (`exact.apply`); `exact.apply_float` shows what float64 makes of it.

Registered as the host construction "yu2024.width6" (`build(key, X, y, *, ramp, block_size)`).
Its sweep measurement (`measure`, through protocol.measure_host) is the theorem's:
Sgn F(x_i) = y_i, exactly, by a width-6 network whose size is `param_formula` and whose
stored integers have the O(log(n N^2 / c)) digits of Lemma B.1; a dataset outside the
hypotheses (one label only, a point outside [0, 1]^n, opposite labels on one point) is
recorded valid = ok = False.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from jaxmem import exact
from jaxmem.constructions.protocol import (
    HypothesisError,
    Option,
    construction,
    numpy_generator,
    one_of,
    optional,
    positive_int,
)
from jaxmem.data.validate import positive_int as check_positive_int

RAMPS = ("left", "paper")
OUTPUT_OFFSET = Fraction(1, 20)  # F = f3 - 0.05 (App. B.4)
MATCH_RADIUS = Fraction(11, 10)  # relu(1.1 - |c - a_k|) (Lemma B.5)
DIRECTION_BITS = 30  # dyadic precision of the random direction u


# HypothesisError (protocol): the data are outside Theorem 4.1's hypotheses (D(n, c): points in
# [0, 1]^n, opposite labels at distance c > 0; the construction also needs both labels).


# ----------------------------------------------------------------------------- affine algebra
class _Affine:
    """An affine expression sum_k coef_k unit_k + const over the units of the last layer."""

    __slots__ = ("coef", "const")

    def __init__(self, coef=None, const=0):
        self.coef = {k: Fraction(v) for k, v in (coef or {}).items() if v != 0}
        self.const = Fraction(const)

    @classmethod
    def _of_fractions(cls, coef: dict, const: Fraction) -> _Affine:
        """The expression of Fraction coefficients and constant as they are (zeros dropped):
        what __init__ makes of them, without converting every coefficient again (a sum of n
        terms re-converted O(n^2) coefficients: 11 s of a build at n = 3072)."""
        self = object.__new__(cls)
        self.coef = {k: v for k, v in coef.items() if v != 0}
        self.const = const
        return self

    def __add__(self, other):
        other = other if isinstance(other, _Affine) else _Affine(const=other)
        coef = dict(self.coef)
        for k, v in other.coef.items():
            coef[k] = coef.get(k, 0) + v
        return _Affine._of_fractions(coef, self.const + other.const)

    __radd__ = __add__

    def __neg__(self):
        return _Affine({k: -v for k, v in self.coef.items()}, -self.const)

    def __sub__(self, other):
        return self + (-other if isinstance(other, _Affine) else -Fraction(other))

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, scalar):
        s = Fraction(scalar)
        return _Affine({k: v * s for k, v in self.coef.items()}, self.const * s)

    __rmul__ = __mul__


def _affine_sum(terms, const=0) -> _Affine:
    """const + sum(terms) in one pass: the expression chained + gives, in linear time."""
    coef: dict = {}
    total = Fraction(const)
    for t in terms:
        for k, v in t.coef.items():
            coef[k] = coef.get(k, 0) + v
        total = total + t.const
    return _Affine._of_fractions(coef, total)


class _Builder:
    """Stacks exact layers whose units are relu(affine expression of the previous units)."""

    def __init__(self, n_inputs: int):
        self.layers: list[exact.ExactLayer] = []
        self.n_prev = n_inputs

    def inputs(self) -> list[_Affine]:
        return [_Affine({i: 1}) for i in range(self.n_prev)]

    def layer(self, units: list[_Affine], activation: str = "relu") -> list[_Affine]:
        W = np.zeros((self.n_prev, len(units)), dtype=object)
        b = np.zeros(len(units), dtype=object)
        for j, u in enumerate(units):
            for i, v in u.coef.items():
                W[i, j] = v
            b[j] = u.const
        for idx, v in np.ndenumerate(W):
            W[idx] = _plain(v)
        self.layers.append(
            exact.layer(W, [_plain(v) for v in b], activation, name=f"layer {len(self.layers)}")
        )
        self.n_prev = len(units)
        return [_Affine({j: 1}) for j in range(len(units))]

    def network(self) -> exact.ExactNetwork:
        return exact.make(self.layers)


def _plain(v):
    v = Fraction(v)
    return int(v) if v.denominator == 1 else v


# ------------------------------------------------------------------------------- the pieces
def _checked(X, y, denominator=None) -> tuple[np.ndarray, int, np.ndarray]:
    """(Xint, D, y) with X = Xint / D: one common denominator for every entry. Xint is int64
    where the Gram products below stay exact in float64 (pixels / 255), else Python ints."""
    if denominator is None:
        Xint, D = exact.common_denominator(X, allow_float=True)
    else:
        Xint, D = exact.integer_rows(X, denominator), int(denominator)
    y = np.asarray(y)
    if y.shape != (Xint.shape[0],):
        raise ValueError(f"y must have shape ({Xint.shape[0]},) to match X; got {y.shape}")
    bad = np.flatnonzero(~np.isin(y, (-1, 1)))
    if bad.size:
        raise ValueError(f"labels must be -1 or +1; row {int(bad[0])} has {y[bad[0]].item()!r}")
    if not (y == 1).any() or not (y == -1).any():
        raise HypothesisError(
            "Theorem 4.1's construction needs both labels (c0 is the distance "
            "between opposite labels); got one class only"
        )
    outside = np.flatnonzero(((Xint < 0) | (Xint > D)).any(axis=1))
    if outside.size:
        raise HypothesisError(
            f"row {int(outside[0])} of X leaves [0, 1]^n (Lemma B.1 bounds "
            f"w.x + b on the unit cube)"
        )
    biggest = int(np.max(np.abs(Xint))) if Xint.size else 0
    if (2 * biggest) ** 2 * Xint.shape[1] < 2**52:
        Xint = Xint.astype(np.int64)
    return Xint, D, y.astype(int)


def _gram(A: np.ndarray) -> np.ndarray:
    if A.dtype == object:
        return A.dot(A.T)
    Af = A.astype(np.float64)  # every partial sum is an integer < 2^52
    return np.rint(Af @ Af.T).astype(np.int64)


def _min_opposite_gap(values, y):
    """min |values_i - values_j| over opposite labels, by one sorted sweep (exact for exact
    values)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    best, last = None, {1: None, -1: None}
    for i in order:
        other = last[-int(y[i])]
        if other is not None:
            gap = values[i] - other
            best = gap if best is None or gap < best else best
        last[int(y[i])] = values[i]
    return best


def compress(X, y, rng: np.random.Generator, max_draws: int = 64, denominator=None) -> dict:
    """Lemma B.1: (w, b) with 1 <= w.x + b on [0, 1]^n and |w.(x - z)| >= 4 on opposite pairs.

    Returns w (object array), b (int), the projections c_i = w.x_i + b (Fractions), c0
    (float), the number of draws, and the acceptance threshold. Raises after max_draws
    rejected draws (probability < 2^-max_draws)."""
    Xint, D, y = _checked(X, y, denominator)
    return _compress(Xint, D, y, rng, max_draws)


def _compress(
    Xint: np.ndarray, D: int, y: np.ndarray, rng: np.random.Generator, max_draws: int = 64
) -> dict:
    """`compress` on checked input (X = Xint / D)."""
    N, n = Xint.shape
    G = _gram(Xint)
    sq_norms = np.diagonal(G)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == -1)
    sq = sq_norms[pos][:, None] + sq_norms[neg][None, :] - 2 * G[np.ix_(pos, neg)]
    c0_sq = Fraction(int(sq.min()), D * D)
    if c0_sq == 0:
        raise HypothesisError("a point appears with both labels: no network memorizes that")
    c0 = math.sqrt(c0_sq)
    threshold = c0 / (4 * N**2) * math.sqrt(8 / (n * math.pi))
    X_f = Xint.astype(np.float64) / D
    for draw in range(1, max_draws + 1):
        g = rng.standard_normal(n)
        u_int = np.rint(g / np.linalg.norm(g) * 2**DIRECTION_BITS).astype(np.int64)
        u = u_int / 2**DIRECTION_BITS
        if _min_opposite_gap(list(X_f @ u), y) < threshold * (1 + 1e-9):
            continue
        # S >= 16 sqrt(n) N^2 / (c0 ||u||): a float with a relative bump, taken exactly.
        S = Fraction(16 * math.sqrt(n) * N**2 / (c0 * float(np.linalg.norm(u))) * (1 + 1e-12))
        w = np.array([S * Fraction(int(v), 2**DIRECTION_BITS) for v in u_int], dtype=object)
        # w.x_i = S (u_int . Xint_i) / (2^bits D): the gaps are checked exactly, in integers.
        proj = [int(v) for v in Xint.astype(object).dot(u_int.astype(object))]
        gap = _min_opposite_gap(proj, y) * S / (2**DIRECTION_BITS * D)
        if gap < 4:  # the property Part Three uses
            continue
        w_sq_n = sum(v * v for v in w) * n  # b >= ||w|| sqrt(n) + 1, an integer
        b = math.isqrt(math.ceil(w_sq_n)) + 2
        c = [S * Fraction(p, 2**DIRECTION_BITS * D) + b for p in proj]
        return dict(w=w, b=b, c=c, c0=c0, draws=draw, threshold=threshold)
    raise RuntimeError(
        f"no direction passed Lemma B.1's test in {max_draws} draws "
        f"(each passes with probability > 1/2)"
    )


@dataclasses.dataclass(frozen=True)
class Encoding:
    """Parts one and two: the sorted projections, blocks, and registers."""

    c_sorted: tuple  # sorted distinct projections c (Fractions)
    labels_sorted: tuple  # their labels
    block_size: int  # s = [sqrt(N)]
    digits: int  # w: decimal digits per stored integer
    registers: tuple  # v_k (Python ints), one per block
    positive_value: Fraction  # c_p, the value every negative is relabelled to


def encode(c, y, block_size: int | None = None) -> Encoding:
    """Sorts, relabels negatives to a positive's value, and builds the block registers
    (blocks of `block_size` points, default [sqrt(N)])."""
    order = sorted(range(len(c)), key=lambda i: c[i])
    cs: list = []
    ys: list[int] = []
    for i in order:  # equal projections: the same label (|w.(x-z)| >= 4)
        if cs and cs[-1] == c[i]:
            continue
        cs.append(c[i])
        ys.append(int(y[i]))
    N = len(cs)
    s = max(1, math.isqrt(len(c))) if block_size is None else int(block_size)
    c_p = next(v for v, lab in zip(cs, ys) if lab == 1)
    stored = [math.floor(v if lab == 1 else c_p) for v, lab in zip(cs, ys)]
    digits = len(str(max(stored)))
    n_blocks = -(-N // s)
    stored += [math.floor(c_p)] * (n_blocks * s - N)
    registers = []
    for k in range(n_blocks):
        v = 0
        for a in stored[k * s : (k + 1) * s]:
            v = v * 10**digits + a
        registers.append(v)
    return Encoding(tuple(cs), tuple(ys), s, digits, tuple(registers), c_p)


def _strip_stage(x: _Affine, a: int, p: Fraction, ramp: str):
    """The three ramp units of F_{a,p} and F_{a,p}(x) as an affine expression of them."""
    if ramp == "paper":  # = x on [0, a], x - a on [a + p, 2a] (Lemma B.4 as printed)
        units = [x, x - a, x - a - p]
    else:  # = x on [0, a - p], x - a on [a, 2a]
        units = [x, x - a + p, x - a]
    slope = Fraction(a) / p
    return units, lambda r: r[0] - slope * r[1] + slope * r[2]


def memorizes(net: exact.ExactNetwork, X, y, denominator: int | None = None) -> np.ndarray:
    """Sgn(F(x_i)) == y_i for each training point, exactly (F = 0 counts as wrong)."""
    out = exact.apply(net, X, allow_float=True, denominator=denominator)
    y = np.asarray(y)
    return np.array([(v > 0 and lab == 1) or (v < 0 and lab == -1) for v, lab in zip(out, y)])


def digit_bound(n: int, N: int, c0: float) -> float:
    """Lemma B.1 (1): c <= 2 ||w|| sqrt(n) + 3 = 32 n N^2 / c0 + 3, so a stored integer has at
    most 1 + log10(32 n N^2 / c0 + 3) digits: the theorem's ln(N n / c) factor."""
    return 1 + math.log10(32 * n * N**2 / c0 * (1 + 1e-9) + 3)


def measure(net: exact.ExactNetwork, info: dict, X, y, denominator: int | None = None) -> dict:
    """What Theorem 4.1 states, on one built network, as scalars: memorizes (Sgn F(x_i) = y_i
    for every i, exactly), width 6, the dense count equal to `param_formula`, and digits within
    `digit_bound`; ok is all four. theorem_scale = sqrt(N) ln(N n / c0), the O(.) of the
    statement (params_over_scale should stay bounded as N grows)."""
    hit = memorizes(net, X, y, denominator=denominator)
    N, n, c0 = info["N"], info["n"], info["c0"]
    digits_ok = info["digits"] <= digit_bound(n, N, c0)
    sizes_ok = info["param_count"] == info["formula_param_count"]
    scale = math.sqrt(N) * math.log(N * n / c0)
    return dict(
        ok=bool(hit.all()) and info["width"] == 6 and sizes_ok and digits_ok,
        memorizes=bool(hit.all()),
        memorized_fraction=float(hit.mean()),
        sizes_ok=sizes_ok,
        digits_ok=digits_ok,
        param_count=int(info["param_count"]),
        nonzero_param_count=int(info["nonzero_param_count"]),
        formula_param_count=int(info["formula_param_count"]),
        theorem_scale=scale,
        params_over_scale=info["param_count"] / scale,
        width=int(info["width"]),
        depth=int(info["depth"]),
        blocks=int(info["blocks"]),
        block_points=int(info["block_size"]),
        digits=int(info["digits"]),
        strip_stages=int(info["strip_stages"]),
        register_digits=int(info["register_digits"]),
        max_bit_length=int(info["max_bit_length"]),
        draws=int(info["draws"]),
        c0=float(c0),
    )


# The record of a dataset outside the hypotheses: the same fields, nothing measured.
_INVALID = dict(
    ok=False,
    memorizes=False,
    memorized_fraction=math.nan,
    sizes_ok=False,
    digits_ok=False,
    param_count=0,
    nonzero_param_count=0,
    formula_param_count=0,
    theorem_scale=math.nan,
    params_over_scale=math.nan,
    width=0,
    depth=0,
    blocks=0,
    block_points=0,
    digits=0,
    strip_stages=0,
    register_digits=0,
    max_bit_length=0,
    draws=0,
    c0=math.nan,
)


@construction(
    "yu2024.width6",
    citation="Yu et al. 2024, Thm 4.1 (App. B): width 6, "
    "O(sqrt(N) ln(N n / c)) parameters, Sgn F(x_i) = y_i on [0, 1]^n",
    task="binary",
    host=True,
    measure=measure,
    invalid=_INVALID,
    example=dict(data="cube", labels="sign", axes=dict(n=12, d=3)),
    ramp=Option(
        "left", one_of("ramp", RAMPS), doc="left: the corrected Lemma B.4 ramp; paper: as printed"
    ),
    block_size=Option(
        None, optional(positive_int("block_size")), doc="points per register (default [sqrt(N)])"
    ),
)
def build(
    key, X, y, *, ramp: str = "left", denominator: int | None = None, block_size: int | None = None
) -> tuple:
    """The Theorem 4.1 network for X in [0, 1]^n (ints / Fractions, floats taken exactly; or,
    with `denominator`, integers X / denominator), y in {-1, +1}. key: a JAX PRNG key, an int
    seed or a numpy Generator (the direction u of Lemma B.1 is the only randomness). Returns
    (ExactNetwork, info). `block_size`: points per register (default the paper's [sqrt(N)],
    which balances the 2 layers per block boundary against the O(log) layers per slot).
    Raises HypothesisError (a ValueError) on data outside the theorem's hypotheses."""
    if ramp not in RAMPS:
        raise ValueError(f"ramp must be one of {RAMPS}; got {ramp!r}")
    if block_size is not None:
        block_size = check_positive_int("block_size", block_size)
    rng, seed = numpy_generator(key)
    Xint, D, y = _checked(X, y, denominator)
    N, n = Xint.shape
    comp = _compress(Xint, D, y, rng)
    enc = encode(comp["c"], y, block_size)
    s, wd, regs = enc.block_size, enc.digits, enc.registers
    cs = enc.c_sorted

    B = _Builder(n)
    x_in = B.inputs()
    (C,) = B.layer([_affine_sum((comp["w"][i] * x_in[i] for i in range(n)), comp["b"])])

    # Part two, Lemma B.3: V = v_0 + sum_i (v_{i+1} - v_i) step_i(c).
    V = _Affine(const=regs[0])
    for i in range(len(regs) - 1):
        last, first = cs[(i + 1) * s - 1], cs[(i + 1) * s]
        q = first - last
        A, Bu, V, C = B.layer([C - first + 2 * q / 3, C - first + q / 3, V, C])
        V, C = B.layer([V + Fraction(regs[i + 1] - regs[i]) / (q / 3) * (A - Bu), C])

    # Part three, Lemmas B.4-B.5: strip one w-digit integer per slot and test |c - a| < 1.
    R, Q = V, _Affine()
    top = (10 ** (wd + 1) - 1).bit_length() - 1  # 2^q <= 10^(w+1) - 1 < 2^(q+1)
    for slot in range(s):
        m = s - slot  # blocks left in the register
        scale = 10 ** (wd * (m - 1))
        p = Fraction(1, 2 * 10 ** (wd * m))  # p < 10^(-w m)
        x = R * Fraction(1, scale)
        for k in range(top, -1, -1):
            ramp_units, combine = _strip_stage(x, 2**k, p, ramp)
            C, R, Q, *r = B.layer([C, R, Q] + ramp_units)
            x = combine(r)
        a1 = R * Fraction(1, scale) - x  # the leading block, an integer
        rest = x * scale
        C, D1, D2, Q, R = B.layer([C, C - a1, a1 - C, Q, rest])
        C, G, Q, R = B.layer([C, MATCH_RADIUS - D1 - D2, Q, R])
        Q = Q + G
    B.layer([Q - OUTPUT_OFFSET], activation="identity")
    net = B.network()

    widths = [lay.n_out for lay in net.layers[:-1]]
    param_count = exact.param_count(net)
    info = dict(
        valid=True,
        N=N,
        n=n,
        c0=comp["c0"],
        draws=comp["draws"],
        seed=seed,
        block_size=s,
        blocks=len(regs),
        digits=wd,
        strip_stages=top + 1,
        ramp=ramp,
        width=max(widths),
        depth=len(net.layers),
        param_count=param_count,
        nonzero_param_count=exact.nonzero_param_count(net),
        formula_param_count=param_formula(n, len(regs), s, top + 1),
        register_digits=s * wd,
        max_bit_length=exact.max_bit_length(net),
        w=comp["w"],
        b=comp["b"],
    )
    return net, info


def param_formula(n: int, blocks: int, block_size: int, strip_stages: int) -> int:
    """The dense parameter count of `build`'s layout (weights + biases):
    first layer n + 1; per boundary 4*(w_prev + 1) + 2*5 (w_prev = 1 at the first, 2 after);
    per slot strip_stages layers of width 6 (the first reads the 2 or 5 carried units), the
    |c - a| layer (5 units) and the match layer (4 units); the output reads 4 units."""
    total = n + 1
    prev = 1
    for _ in range(blocks - 1):
        total += 4 * (prev + 1) + 2 * 5
        prev = 2
    for _ in range(block_size):
        total += 6 * (prev + 1) + (strip_stages - 1) * 6 * 7 + 5 * 7 + 4 * 6
        prev = 4
    return total + (prev + 1)


__all__ = [
    "HypothesisError",
    "RAMPS",
    "Encoding",
    "build",
    "compress",
    "digit_bound",
    "encode",
    "measure",
    "memorizes",
    "param_formula",
]
