"""Claims of Yu, Gao, Zhang, Miao (NeurIPS 2024), "Generalizability of Memorization Neural
Networks": the NP-hardness gadget of Theorem 6.5(2) (App. G.4, Lemma G.5) and Lemmas F.1 / F.2
(App. F), in exact arithmetic (jaxmem.constructions.yu2024_hardness; what was confirmed against
the paper text, and what was found wrong in it, is in that module's docstring).

Each trial only draws integers with jax.random (JAX-traceable, vmapped over dataset keys): a
64-bit seed per dataset, after checking the config at trace time (before anything compiles).
The host draws the instance (formula, assignments, first layer; c^2; k, eps, delta) from that
seed with NumPy and does the exact work -- formulas, D(phi) in Fractions, exact networks,
big-integer sums -- in the claim's `host` hook. One tiny compiled program per config: drawing
the formula in JAX (a sort-and-gather per shape) compiled ~5x slower on the 2-core CI machine,
and the exact work needs the host anyway.

  yu2024.gadget_witness    (universal) for a random complement-closed (so reversible) 6-CNF phi
      with a planted solution s, the n -> 1 -> 2 -> 1 network F1 = relu(3 s.(x - beta) + 3) +
      Lemma G.5's interval classifier memorizes D(phi) exactly, has n + 8 parameters (the
      unique fewest among width >= 2 networks for n >= 4), F1 = 19/10 or 41/10 on every
      negative and F1 in [2, 4] on every positive; D(phi) is not linearly separable.
      Flips: assignment="random" (an arbitrary s), clauses="satisfied" (clauses merely
      satisfied by s, reversibility dropped: an all-true clause puts F1 = 9/2 beyond 41/10).
  yu2024.gadget_separation (universal) D(phi) lies in [0, 1]^n and its opposite labels are >=
      1/30 apart (the minimum is exactly 1/30). Flips: separation="1/29", beta="1/3".
  yu2024.gadget_converse   (universal) for reversible phi: the witness first layer of an
      assignment t is completable (Lemma G.5's interval condition on its values) iff t
      satisfies phi, for t the planted solution and for a random t; and for random first layers
      relu(w.(x - beta) + b), w = 3 t o d (d_j in [1, 1.2), b in (0, 4]), completable implies
      Sgn(w) NAE-satisfies phi and 1.1 min|w| > max|w| (App. G.4, Part Two). Flip:
      clauses="satisfied".
  yu2024.lemma_f1          (universal) the 2^[n / ceil(c^2)] block points are distinct, in
      {0,1}^n, and pairwise >= c apart (squared distances exact integers >= c^2). Flip:
      block_offset=-1 (blocks of ceil(c^2) - 1 coordinates).
  yu2024.lemma_f2          (universal) 2^x sum_{j <= [k eps]} C(k - x, j) < 2^k (1 - delta) for
      every integer 1 <= x <= k (1 - 2 eps - delta), random k, eps, delta (exact integers).
      Flip: x_bound="no_delta" (x up to k (1 - 2 eps)).

Clauses have six distinct variables (Q_i has six nonzero entries), so n >= 6; the quick grids
use n in {6, 8, 10}.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import exact
from jaxmem.constructions import yu2024_hardness as gadget
from jaxmem.data.validate import positive_int
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Universal, register


CITATION = ("Yu, Gao, Zhang, Miao. Generalizability of Memorization Neural Networks. NeurIPS "
            "2024 (arXiv 2411.00372). Theorem 6.5(2), Definition 6.6, Lemmas G.4, G.5 (App. G.3-"
            "G.4); Lemmas F.1, F.2 (App. F).")
CLAUSE_MODES = ("reversible", "satisfied")
# One quick grid for the three gadget claims: their trial is the same seed draw, so the three
# share its three compiled programs.
GADGET_QUICK = [dict(n=6, pairs=3, datasets=16), dict(n=8, pairs=12, datasets=16),
                dict(n=10, pairs=6, datasets=16)]
ASSIGNMENTS = ("planted", "random")
SCALE_STEPS = 200      # d_j = 1 + r/1000, r in [0, 200): d in [1, 1.2), ratios past 1.1 too
BIAS_STEPS = 400       # b = r/100, r in [1, 400]: b in (0, 4]


# ---------------------------------------------------------------------------------------
# The draw shared by the gadget claims


def _seed(key):
    return dict(seed=jax.random.bits(key, (2,), jnp.uint32))


def gadget_trial(key, n, pairs, clauses="reversible", assignment="planted", beta="11/30",
                 separation="1/30"):
    """The JAX side of the three gadget claims: a 64-bit seed per dataset (jax.random.bits, so
    it vmaps and reproduces from the dataset key); the host draws the instance from it with
    NumPy (`instance`). The config is checked here, at trace time, before anything compiles;
    assignment, beta and separation are read by the hosts only."""
    if not isinstance(n, int) or n < gadget.CLAUSE_WIDTH:
        raise ValueError(f"n must be an integer >= {gadget.CLAUSE_WIDTH} (six distinct "
                         f"variables per clause); got {n!r}")
    if not isinstance(pairs, int) or pairs < 0:
        raise ValueError(f"pairs must be an integer >= 0; got {pairs!r}")
    if clauses not in CLAUSE_MODES or assignment not in ASSIGNMENTS:
        raise ValueError(f"clauses must be one of {CLAUSE_MODES} and assignment one of "
                         f"{ASSIGNMENTS}; got {clauses!r}, {assignment!r}")
    for name, v in (("beta", beta), ("separation", separation)):
        try:
            Fraction(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a rational written as a string such as '1/30'; "
                             f"got {v!r}") from None
    return _seed(key)


def _rng(seed) -> np.random.Generator:
    hi, lo = (int(v) for v in np.asarray(seed, dtype=np.uint64))
    return np.random.default_rng((hi << 32) | lo)


def instance(seed, n, pairs, clauses="reversible"):
    """(phi, s, t, rng) for one dataset: a random formula with planted solution s
    (gadget.random_planted_formula: "reversible" = complement-closed pairs of clauses NAE under
    s; "satisfied" = clauses s satisfies, all-true ones allowed, no negations), an independent
    uniform assignment t, and the generator for any further draws."""
    if clauses not in CLAUSE_MODES:
        raise ValueError(f"clauses must be one of {CLAUSE_MODES}; got {clauses!r}")
    rng = _rng(seed)
    f, s = gadget.random_planted_formula(rng, n, pairs, reversible=clauses == "reversible")
    t = rng.choice(np.array([-1, 1]), size=n)
    return f, s, t, rng


def gadget_dataset(key, n, pairs, clauses="reversible", beta="11/30", **_):
    """D(phi) of one dataset (object array of Fractions, labels): for --reproduce --save."""
    formula = instance(_seed(key)["seed"], n, pairs, clauses)[0]
    return gadget.dataset(formula, n, Fraction(beta))


# ---------------------------------------------------------------------------------------
# gadget_witness


def _architecture_ok(n: int) -> bool:
    """App. G.4, Part 1.1: among width >= 2 networks n + 8 is the fewest parameters, reached
    only by n -> 1 -> 2 -> 1 (depth 2 needs 2n + 5 > n + 8 for n >= 4, depth >= 4 n + 10)."""
    best = gadget.min_param_architectures(n)
    return (best[3] == (n + 8, [(1, 2)]) and best[2][0] == 2 * n + 5 > n + 8
            and all(best[d][0] >= n + 10 for d in best if d >= 4))


def _collinear_not_separable(X, y, n) -> bool:
    """Part 1.1: x_1, x_{n+1}, x_{2n+1}, x_{3n+1} differ only in coordinate 1 (offsets 1/3,
    11/30, -1/3, -11/30 from beta), so every affine map is affine in that coordinate on them;
    labels +, -, +, - there admit no threshold, so D(phi) is not linearly separable."""
    rows = [0, n, 2 * n, 3 * n]
    same = all(X[r, j] == X[0, j] for r in rows for j in range(1, n))
    return same and not gadget.threshold_separable([X[r, 0] for r in rows], y[rows])


def witness_host(outs, config):
    n, clauses = config["n"], config.get("clauses", "reversible")
    assignment = config.get("assignment", "planted")
    arch_ok = _architecture_ok(n)
    rows = []
    for seed in outs["seed"]:
        f, planted, t, _ = instance(seed, n, config["pairs"], clauses)
        s = planted if assignment == "planted" else t
        # What the generator promises: complement-closed (so reversible; confirmed by brute
        # force up to n = 12) with s a solution, or s a solution.
        hypothesis = gadget.satisfies(f, planted) and (
            clauses != "reversible" or (gadget.is_complement_closed(f)
                                        and (n > 12 or gadget.is_reversible(f, n))))
        r = dict(m=len(f), hypothesis=hypothesis, nae=gadget.nae_satisfies(f, s), built=False,
                 memorizes=False, param_count=0, f1_ok=False, min_margin=np.nan)
        try:
            net, info = gadget.build_witness(f, n, s)
        except ValueError:
            net = None
        if net is not None:
            X, y, F1 = info["X"], info["y"], info["F1"]
            F = exact.apply(net, X)
            margins = [yy * v for yy, v in zip(y, F)]
            pos_values, neg_values = set(F1[y == 1]), set(F1[y == -1])
            r.update(
                built=True, memorizes=all(v > 0 for v in margins),
                param_count=exact.param_count(net),
                widths_ok=tuple(lay.n_out for lay in net.layers) == (1, 2, 1),
                f1_ok=(neg_values <= {Fraction(19, 10), Fraction(41, 10)}
                       and all(2 <= v <= 4 for v in pos_values)),
                not_separable=_collinear_not_separable(X, y, n),
                min_margin=float(min(margins)))
        r["ok"] = bool(hypothesis and arch_ok and r["built"] and r["memorizes"]
                       and r["param_count"] == n + 8 and r.get("widths_ok", False)
                       and r["f1_ok"] and r.get("not_separable", False))
        rows.append(r)
    for name in ("ok", "m", "hypothesis", "nae", "built", "memorizes", "param_count", "f1_ok",
                 "min_margin"):
        outs[name] = np.array([r[name] for r in rows])
    outs["architecture_ok"] = np.full(len(rows), arch_ok)
    return outs


GADGET_WITNESS = Claim(
    id="yu2024.gadget_witness",
    citation=CITATION,
    statement=("For reversible (complement-closed) 6-CNF phi with solution s, the n -> 1 -> 2 -> 1 "
               "network F1 = relu(3 s.(x - beta) + 3), beta = 1.1/3, then Lemma G.5's interval "
               "classifier memorizes D(phi) exactly with n + 8 parameters (the unique minimum "
               "for width >= 2, n >= 4); F1 in {1.9, 4.1} on negatives, in [2, 4] on positives."),
    trial=gadget_trial,
    grids=dict(quick=GADGET_QUICK,
               full=expand(n=[6, 7, 8, 10, 12, 16], pairs=[1, 4, 16, 64], datasets=200)),
    rule=Universal(),
    host=witness_host,
    dataset=gadget_dataset,
)


# ---------------------------------------------------------------------------------------
# gadget_separation


def separation_host(outs, config):
    n, clauses = config["n"], config.get("clauses", "reversible")
    beta = Fraction(config.get("beta", "11/30"))
    c = Fraction(config.get("separation", "1/30"))
    in_cube, sq, points, exact_min = [], [], [], []
    for seed in outs["seed"]:
        f, *_ = instance(seed, n, config["pairs"], clauses)
        X, y = gadget.dataset(f, n, beta)
        d2, _ = gadget.min_opposite_sq_distance(X, y)
        in_cube.append(gadget.in_unit_cube(X))
        sq.append(d2)
        points.append(len(X) == 4 * n + len(f))
        exact_min.append(d2 == gadget.SEPARATION ** 2)
    outs["in_cube"] = np.array(in_cube)
    outs["min_sq_distance"] = np.array([float(v) for v in sq])
    outs["min_is_one_thirtieth"] = np.array(exact_min)
    outs["ok"] = outs["in_cube"] & np.array([v >= c * c for v in sq]) & np.array(points)
    return outs


GADGET_SEPARATION = Claim(
    id="yu2024.gadget_separation",
    citation=CITATION,
    statement=("D(phi) (4n + m points) lies in [0, 1]^n and opposite labels are >= 1/30 apart, "
               "so the uniform distribution on it is in D(n, 1/30); the minimum is exactly 1/30."),
    trial=gadget_trial,
    grids=dict(quick=GADGET_QUICK,
               full=expand(n=[6, 8, 12, 16], pairs=[1, 16, 64], datasets=200)),
    rule=Universal(),
    host=separation_host,
    dataset=gadget_dataset,
)


# ---------------------------------------------------------------------------------------
# gadget_converse


def converse_host(outs, config):
    n, clauses = config["n"], config.get("clauses", "reversible")
    rows = []
    for seed in outs["seed"]:
        f, planted, t, rng = instance(seed, n, config["pairs"], clauses)
        X, y = gadget.dataset(f, n)
        # (a) the witness first layer of t is completable iff t satisfies phi (phi reversible)
        iff = []
        for a in (planted, t):
            completable = gadget.first_layer_completable(gadget.witness_first_layer(a), X, y)
            iff.append(completable == gadget.satisfies(f, a))
        # (b) a random first layer relu(w.(x - beta) + b), w = 3 a o d: base a the planted
        # solution or t; d = 1 or d_j = 1 + r_j/1000 in [1, 1.2); b = 3 or r/100 in (0, 4].
        base = planted if rng.random() < 0.5 else t
        d = ([Fraction(1)] * n if rng.random() < 0.5
             else [1 + Fraction(int(r), 1000) for r in rng.integers(0, SCALE_STEPS, n)])
        w = [3 * int(sg) * dj for sg, dj in zip(base, d)]
        b = 3 if rng.random() < 0.5 else Fraction(int(rng.integers(1, BIAS_STEPS + 1)), 100)
        general = gadget.first_layer_completable(gadget.first_layer(w, b), X, y)
        abs_w = [abs(v) for v in w]
        implied = (gadget.nae_satisfies(f, [1 if v > 0 else -1 for v in w])
                   and 11 * min(abs_w) > 10 * max(abs_w))
        rows.append(dict(iff_planted=iff[0], iff_random=iff[1], general_completable=general,
                         general_ok=(not general) or implied,
                         random_satisfies=gadget.satisfies(f, t)))
    for name in ("iff_planted", "iff_random", "general_completable", "general_ok",
                 "random_satisfies"):
        outs[name] = np.array([r[name] for r in rows])
    outs["ok"] = outs["iff_planted"] & outs["iff_random"] & outs["general_ok"]
    return outs


GADGET_CONVERSE = Claim(
    id="yu2024.gadget_converse",
    citation=CITATION,
    statement=("For reversible phi: the first layer relu(3 t.(x - beta) + 3) extends to a "
               "memorizer of D(phi) (Lemma G.5's interval condition) iff t satisfies phi; any "
               "first layer relu(w.(x - beta) + b) that extends has Sgn(w) NAE-satisfying phi "
               "and 1.1 min|w_j| > max|w_j| (App. G.4, Part Two)."),
    trial=gadget_trial,
    grids=dict(quick=GADGET_QUICK,
               full=expand(n=[6, 8, 10, 12], pairs=[1, 4, 16, 64], datasets=300)),
    rule=Universal(),
    host=converse_host,
    dataset=gadget_dataset,
)


# ---------------------------------------------------------------------------------------
# Lemma F.1

C2_DENOMINATOR = 12    # c^2 = p / 12, p drawn uniformly


def lemma_f1_trial(key, n, c2_min, c2_max, block_offset=0):
    """A seed per dataset; the host draws c^2 from it (config checked at trace time)."""
    if not (isinstance(c2_min, int) and isinstance(c2_max, int) and 0 <= c2_min < c2_max):
        raise ValueError(f"need integers 0 <= c2_min < c2_max; got c2_min={c2_min!r}, "
                         f"c2_max={c2_max!r}")
    positive_int("n", n)
    if not isinstance(block_offset, int):
        raise ValueError(f"block_offset must be an integer; got {block_offset!r}")
    return _seed(key)


def lemma_f1_host(outs, config):
    """c^2 = p/12 drawn uniformly in (c2_min, c2_max] from each dataset's seed; the points are
    built exactly and their squared distances computed in integers."""
    n, offset = config["n"], config.get("block_offset", 0)
    lo, hi = config["c2_min"] * C2_DENOMINATOR + 1, config["c2_max"] * C2_DENOMINATOR
    rows = []
    for seed in outs["seed"]:
        p = int(_rng(seed).integers(lo, hi + 1))
        c2 = Fraction(p, C2_DENOMINATOR)
        block = math.ceil(c2) + offset
        P = gadget.block_points(n, c2, block)
        t = n // block
        d2 = gadget.min_pairwise_sq_distance(P)
        rows.append(dict(
            c2_numerator=p, points=len(P), blocks=t,
            count_ok=len(P) == 2 ** t and len(np.unique(P, axis=0)) == len(P),
            binary=bool(np.all((P == 0) | (P == 1))),
            min_sq_distance=-1 if d2 is None else d2,
            far_ok=d2 is None or d2 >= c2))
    for name in ("c2_numerator", "points", "blocks", "count_ok", "binary", "min_sq_distance",
                 "far_ok"):
        outs[name] = np.array([r[name] for r in rows])
    outs["ok"] = outs["count_ok"] & outs["binary"] & outs["far_ok"]
    return outs


LEMMA_F1 = Claim(
    id="yu2024.lemma_f1",
    citation=CITATION,
    statement=("[0,1]^n holds 2^[n / ceil(c^2)] points pairwise >= c apart: the blocks of "
               "ceil(c^2) coordinates all 0 or all 1 (squared distances >= c^2, exactly)."),
    trial=lemma_f1_trial,
    grids=dict(quick=expand(n=[4, 7, 10], c2_min=0, c2_max=3, datasets=32),
               full=expand(n=[2, 5, 10, 13, 16], c2_min=[0, 3], c2_max=[4, 10], datasets=200)),
    rule=Universal(),
    host=lemma_f1_host,
)


# ---------------------------------------------------------------------------------------
# Lemma F.2

X_BOUNDS = ("lemma", "no_delta")


def lemma_f2_trial(key, kmax, denominator, x_bound="lemma"):
    """A seed per dataset; the host draws k, eps, delta from it (config checked at trace
    time)."""
    if x_bound not in X_BOUNDS:
        raise ValueError(f"x_bound must be one of {X_BOUNDS}; got {x_bound!r}")
    positive_int("kmax", kmax)
    if not isinstance(denominator, int) or denominator < 4:
        raise ValueError(f"denominator must be an integer >= 4; got {denominator!r}")
    return _seed(key)


def lemma_f2_draw(seed, kmax, denominator):
    """(k, e, d) from a dataset's seed: k in [1, kmax], eps = e/D and delta = d/D with
    1 - 2 eps - delta >= 1/D > 0 (e in [1, (D - 2)//2], d in [1, D - 2e - 1]), D = denominator."""
    rng = _rng(seed)
    k = int(rng.integers(1, kmax + 1))
    e = int(rng.integers(1, (denominator - 2) // 2 + 1))
    return k, e, int(rng.integers(1, denominator - 2 * e))


def lemma_f2_host(outs, config):
    D, x_bound = config["denominator"], config.get("x_bound", "lemma")
    holds, cases, worst, draws = [], [], [], []
    for seed in outs["seed"]:
        k, e, d = lemma_f2_draw(seed, config["kmax"], D)
        draws.append((k, e, d))
        eps, delta = Fraction(e, D), Fraction(d, D)
        # "no_delta" breaks the lemma on purpose: x up to k (1 - 2 eps), ignoring delta.
        x_max = None if x_bound == "lemma" else math.floor(k * (1 - 2 * eps))
        r = gadget.lemma_f2_check(k, eps, delta, x_max)
        holds.append(r["holds"])
        cases.append(r["cases"])
        worst.append(float(r["worst_ratio"]))
    outs["k"], outs["eps_num"], outs["delta_num"] = (np.array(v) for v in zip(*draws))
    outs["ok"] = np.array(holds)
    outs["cases"] = np.array(cases)
    outs["worst_ratio"] = np.array(worst)
    return outs


LEMMA_F2 = Claim(
    id="yu2024.lemma_f2",
    citation=CITATION,
    statement=("For eps, delta in (0,1) and integers 1 <= x <= k(1 - 2 eps - delta): "
               "2^x sum_{j=0}^{[k eps]} C(k - x, j) < 2^k (1 - delta), exactly."),
    trial=lemma_f2_trial,
    grids=dict(quick=expand(kmax=[20, 200], denominator=40, datasets=128),
               full=expand(kmax=[50, 400, 1000], denominator=[40, 997], datasets=500)),
    rule=Universal(),
    host=lemma_f2_host,
)


CLAIMS = [GADGET_WITNESS, GADGET_SEPARATION, GADGET_CONVERSE, LEMMA_F1, LEMMA_F2]

register(*CLAIMS)
