"""Linear separability claims: Lemmas G.4 and G.5 of Yu, Gao, Zhang, Miao (NeurIPS 2024),
and Cover's (1965) count of linearly separable dichotomies.

yu2024.lemma_g4     a dataset in [0,1]^d has a width-1 memorizer iff it is linearly separable.
                    "=>"-side: the LP decides separability with an exact certificate either
                    way; for separable data the explicit width-1 network (random depth 2..4)
                    memorizes in exact arithmetic, with (d + 1) + 2 (depth - 1) parameters.
                    "<="-side as a property: random width-1 ReLU networks (random depth) are
                    monotone along their first projection (exactly), and every one of them
                    that memorizes a dataset memorizes an LP-separable one.
yu2024.lemma_g5     a dataset in [0,1] has a width-2, depth-2 memorizer iff (c1) or (c2): the
                    exact enumeration of all width-2 depth-2 types (one block LP) agrees with
                    the interval condition on every dataset, and the lemma's 7-parameter
                    network memorizes exactly whenever the condition holds.
cover1965.capacity  n Gaussian points in R^d with uniform labels are separable with
                    probability C(n, D)/2^n, C(n, D) = 2 sum_{k<D} binom(n-1, k), D = d
                    (homogeneous) or d + 1 (affine): per config, the exact value must lie in
                    the two-sided 99.9% Clopper-Pearson interval of the LP-exact count.

Each host takes a deliberately broken variant (for the tests: the verdict must flip):
lemma_g4_host(random_width=2) (width-2 networks are not monotone along a projection) and
lemma_g4_host(premise=False) (every dataset has a width-1 memorizer); lemma_g5_host(units=1)
(width 1 instead of 2) and lemma_g5_host(condition=<linear separability>); cover_host(shift=1)
(C(n, D + 1) in place of C(n, D)).

The statements were checked against the paper text (see jaxmem.metrics.separability's
docstring for what was confirmed, verbatim, and where). Cover's count is the standard function
counting theorem (T. M. Cover, IEEE Trans. Electronic Computers EC-14(3), 1965); its
statement here was not checked against Cover's paper text (it is not in the stored corpus),
but tests/test_separability.py checks the count exactly: all 2^6 labellings of a fixed point
set in general position, each decided by the LP.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import itertools
from fractions import Fraction

from jaxmem import exact
from jaxmem.data import gaussian
from jaxmem.falsify import Domain, Falsifiable
from jaxmem.metrics import separability as sep
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Universal, clopper_pearson, pairs, register

CITATION_YU = ("Yu, Gao, Zhang, Miao. Generalizability of Memorization Neural Networks. "
               "NeurIPS 2024 (arXiv 2411.00372), Appendix G.3, Lemmas G.4 and G.5.")
CITATION_COVER = ("Cover. Geometrical and statistical properties of systems of linear "
                  "inequalities with applications in pattern recognition. IEEE Trans. "
                  "Electronic Computers EC-14(3), 1965 (function counting theorem).")

RANDOM_NETS = 8          # random networks per dataset in the G.4 converse
MAX_RUNS = 5             # G.5 label patterns: 1..5 runs, so ~3/5 meet the condition
COVER_CONFIDENCE = 0.999  # two-sided, per config


# --------------------------------------------------------------------------- Lemma G.4

def g4_dataset(key, n, d, **_):
    """X uniform in [0,1]^d (the lemma's domain). With probability 1/2 the labels are a random
    halfspace's, sign(w.x - theta) with w Gaussian and theta uniform between the smallest and
    largest w.x_i (separable by construction); else uniform random (mostly not separable once
    n > d + 1). Returns (X, y, halfspace)."""
    kx, kh, kw, kt, ky = jax.random.split(jax.random.fold_in(key, 0), 5)
    X = jax.random.uniform(kx, (n, d))
    w = jax.random.normal(kw, (d,))
    p = X @ w
    theta = jax.random.uniform(kt, (), minval=jnp.min(p), maxval=jnp.max(p))
    halfspace = jax.random.bernoulli(kh)
    y = jnp.where(halfspace, jnp.where(p > theta, 1.0, -1.0),
                  jax.random.rademacher(ky, (n,), jnp.int32).astype(X.dtype))
    return X, y, halfspace


def g4_trial(key, n, d):
    X, y, halfspace = g4_dataset(key, n, d)
    seed = jax.random.bits(jax.random.fold_in(key, 1), (), jnp.uint32)
    return dict(X=X, y=y, halfspace=halfspace, net_seed=seed)


G4_OUTPUTS = ("separable", "exact_certificate", "built_memorizes", "built_monotone",
              "nets_monotone", "nets_memorizing", "converse_ok")


def g4_decide(X, y, seed, d, random_width: int = 1, premise: bool = True) -> dict:
    """Lemma G.4 on one dataset, on the host in exact arithmetic: the LP decides separability
    with an exact certificate; a separable dataset gets the explicit width-1 memorizer
    (random depth 2..4, drawn from `seed`); RANDOM_NETS random width-`random_width` networks
    must be monotone along their first projection, and none may memorize a non-separable
    dataset. `ok` here is without the sampler's halfspace check (lemma_g4_host adds it)."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y).astype(np.int64)
    rng = np.random.default_rng(int(seed))
    separable, cert = sep.linearly_separable(X, y, affine=True, exact=True)
    built, built_monotone = True, True
    if separable or not premise:
        depth = int(rng.integers(2, 5))
        try:
            net = sep.width1_memorizer(X, y, depth=depth,
                                       certificate=cert if separable else None)
            built = (sep.memorizes_exactly(net, X, y)
                     and sep.hidden_widths(net) == (1,) * (depth - 1)
                     and sep.depth(net) == depth
                     and exact.param_count(net) == (d + 1) + 2 * (depth - 1))
            built_monotone = sep.monotone_along_projection(net, X)
        except ValueError:       # not separable: no width-1 memorizer was built
            built = False
    monotone, memorizing = 0, 0
    for _ in range(RANDOM_NETS):
        net = sep.random_width_network(rng, d, int(rng.integers(2, 6)), random_width)
        monotone += sep.monotone_along_projection(net, X)
        memorizing += sep.memorizes_exactly(net, X, y)
    converse_ok = separable or memorizing == 0
    out = dict(separable=separable, exact_certificate=bool(cert["exact"]),
               built_memorizes=built, built_monotone=built_monotone, nets_monotone=monotone,
               nets_memorizing=memorizing, converse_ok=converse_ok)
    out["ok"] = (bool(cert["exact"]) and built and built_monotone
                 and monotone == RANDOM_NETS and converse_ok)
    # No exact certificate either way (the LP's float decision could not be proved: labels
    # that flip between rows ~1e-8 apart): the lemma's premise is undecided, not failed.
    out["undecided"] = not bool(cert["exact"])
    return out


def lemma_g4_host(random_width: int = 1, premise: bool = True):
    """The host for yu2024.lemma_g4; random_width=2 or premise=False break the statement."""

    def host(outs, config):
        rows = [g4_decide(X, y, seed, config["d"], random_width, premise)
                for X, y, seed in zip(outs["X"], outs["y"], outs["net_seed"])]
        for k in G4_OUTPUTS:
            outs[k] = np.asarray([r[k] for r in rows])
        # a halfspace's labels must come out separable (the sampler's own check on the LP)
        outs["ok"] = np.asarray([r["ok"] and (r["separable"] or not bool(h))
                                 for r, h in zip(rows, outs["halfspace"])])
        outs["undecided"] = np.asarray([r["undecided"] for r in rows])
        return outs

    return host


def _g4_host_row(X, y, seed, d):
    """g4_decide for pure_callback: fixed dtypes, and a dataset outside the lemma's (a point
    outside [0,1]^d, labels not +-1, or one point with both labels) comes back as hypothesis
    False instead of an error."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    inside = bool(np.all((X >= 0) & (X <= 1)) and np.all(np.abs(y) == 1))
    try:
        r = g4_decide(X, y, seed, d) if inside else None
    except ValueError:       # sep.check_dataset: the same point with both labels
        r = None
    hypothesis = r is not None
    if r is None:
        r = dict.fromkeys(G4_OUTPUTS + ("ok",), False)
        r["nets_monotone"] = r["nets_memorizing"] = 0
    failures = ((not r["built_memorizes"]) + (not r["built_monotone"])
                + (RANDOM_NETS - r["nets_monotone"])
                + (0 if r["separable"] else r["nets_memorizing"]))
    return (np.bool_(hypothesis),
            *(np.asarray(r[k], np.int32 if k.startswith("nets") else np.bool_)
              for k in G4_OUTPUTS), np.bool_(r["ok"]), np.float64(failures))


def g4_check(build_key, X, y, n, d):
    """Lemma G.4 on a given dataset (exact, on the host through jax.pure_callback, one dataset
    at a time): the trial's outputs (X, y, net_seed) and the host's decision. The random
    networks' seed is drawn from `build_key` as the trial draws it.

    For `jaxmem falsify`: hypothesis = the dataset is one of the lemma's (X in [0,1]^d, labels
    +-1, no point with both labels); score = the number of failed sub-checks (not built, not
    monotone, a random network memorizing a non-separable dataset): exact counts, no gradient
    (the evolution strategy searches it)."""
    seed = jax.random.bits(build_key, (), jnp.uint32)
    shapes = ((jax.ShapeDtypeStruct((), jnp.bool_),)
              + tuple(jax.ShapeDtypeStruct((), jnp.int32 if k.startswith("nets") else jnp.bool_)
                      for k in G4_OUTPUTS)
              + (jax.ShapeDtypeStruct((), jnp.bool_), jax.ShapeDtypeStruct((), jnp.float64)))
    hyp, *values, ok, failures = jax.pure_callback(
        lambda X, y, seed: _g4_host_row(X, y, seed, d), shapes,
        jax.lax.stop_gradient(X), jax.lax.stop_gradient(y), seed, vmap_method="sequential")
    inside = jnp.all((X >= 0) & (X <= 1))
    outs = dict(zip(G4_OUTPUTS, values))
    # no exact certificate of (non-)separability: undecided (g4_decide)
    return dict(X=X, y=y, net_seed=seed, **outs, ok=ok, undecided=hyp & ~outs["exact_certificate"],
                hypothesis=hyp & inside, score=failures)


LEMMA_G4 = Claim(
    id="yu2024.lemma_g4",
    citation=CITATION_YU,
    statement=("D in [0,1]^d x {-1,1} has a memorization of width 1 iff D is linearly "
               "separable: the explicit width-1 network memorizes every LP-separable dataset "
               "exactly, and every width-1 ReLU network is monotone along w1.x + b1 (so none "
               "memorizes a non-separable dataset); both decisions carry exact certificates."),
    trial=g4_trial,
    grids=dict(quick=pairs([(4, 1), (6, 2), (12, 3)], datasets=24),
               full=expand(n=[3, 5, 8, 16, 32], d=[1, 2, 3, 5], datasets=200)),
    rule=Universal(),
    host=lemma_g4_host(),
    dataset=lambda key, n, d, **_: g4_dataset(key, n, d)[:2],
    # the lemma's domain is [0,1]^d x {-1,1}
    falsify=Falsifiable(check=g4_check, domain=Domain(points="cube", scale=1.0, labels="sign")),
)


# --------------------------------------------------------------------------- Lemma G.5

def g5_dataset(key, N, **_):
    """A dataset of N_i points, N_i uniform in 3..N (one compiled shape for every size: the
    arrays have N rows, the first N_i valid): distinct points of the grid {0, 1/64, ..., 1} in
    random order; labels along the sorted points form r runs, r uniform in 1..min(N_i, 5),
    with random run boundaries and a random first label, so that about half of the datasets
    meet the interval condition (r <= 3). Returns (t (N,), y (N,), N_i, r)."""
    if N < 3:
        raise ValueError(f"N must be >= 3 (datasets have 3..N points); got {N}")
    kn, kt, kr, kc, ks = jax.random.split(jax.random.fold_in(key, 0), 5)
    points = jax.random.randint(kn, (), 3, N + 1)
    t = jnp.argsort(jax.random.uniform(kt, (65,)))[:N] / 64.0
    valid = jnp.arange(N) < points
    runs = jax.random.randint(kr, (), 1, jnp.minimum(points, MAX_RUNS) + 1)
    # run boundaries: the runs - 1 lowest-ranked of the points - 1 gaps between sorted points
    gap_keys = jnp.where(jnp.arange(N - 1) < points - 1, jax.random.uniform(kc, (N - 1,)),
                         jnp.inf)
    cut = jnp.argsort(jnp.argsort(gap_keys)) < runs - 1
    parity = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(cut.astype(jnp.int32))])
    pattern = jax.random.rademacher(ks, (), jnp.int32) * (1 - 2 * (parity % 2))
    rank = jnp.argsort(jnp.argsort(jnp.where(valid, t, jnp.inf)))
    y = pattern[rank].astype(t.dtype)
    return t, y, points, runs


def _g5_points(key, N, **_):
    """(t as an (N_i, 1) column, y): the dataset as `jaxmem verify --reproduce --save` stores it."""
    t, y, points, _ = g5_dataset(key, N)
    return t[:int(points), None], y[:int(points)]


def g5_trial(key, N):
    t, y, points, runs = g5_dataset(key, N)
    return dict(t=t, y=y, points=points, runs_drawn=runs)


def lemma_g5_host(units: int = 2, condition=None):
    """The host for yu2024.lemma_g5; units=1 or another `condition(t, y) -> bool` break it."""
    condition = sep.interval_condition if condition is None else condition

    def host(outs, config):
        keys = ("condition", "memorizer_exists", "interval_memorizes", "witness_params",
                "runs", "ok")
        cols = {k: [] for k in keys}
        for t, y, points in zip(outs["t"], outs["y"], outs["points"]):
            t = np.asarray(t[:points], np.float64)
            y = np.asarray(y[:points]).astype(np.int64)
            cond = bool(condition(t, y))
            exists, witness = sep.width2_depth2_memorizer_exists(t, y, units=units)
            interval_ok = True
            if sep.interval_condition(t, y):
                net = sep.interval_memorizer(t, y)
                interval_ok = (sep.memorizes_exactly(net, t, y)
                               and exact.param_count(net) == 7
                               and sep.hidden_widths(net) == (2,) and sep.depth(net) == 2)
            witness_params = exact.param_count(witness) if exists else 0
            cols["condition"].append(cond)
            cols["memorizer_exists"].append(exists)
            cols["interval_memorizes"].append(interval_ok)
            cols["witness_params"].append(witness_params)
            cols["runs"].append(sep.label_runs(t, y))
            cols["ok"].append(cond == exists and interval_ok
                              and (not exists or witness_params == 3 * units + 1))
        outs.update({k: np.asarray(v) for k, v in cols.items()})
        return outs

    return host


LEMMA_G5 = Claim(
    id="yu2024.lemma_g5",
    citation=CITATION_YU,
    statement=("D in [0,1] x {-1,1} has a memorization of width 2 and depth 2 iff some closed "
               "interval holds all positives and no negative, or vice versa: an exact "
               "enumeration of every width-2 depth-2 type (LP) agrees with the interval "
               "condition, and the lemma's 7-parameter network memorizes exactly."),
    trial=g5_trial,
    grids=dict(quick=[dict(N=8, datasets=40)],
               full=[dict(N=8, datasets=1000), dict(N=12, datasets=500)]),
    rule=Universal(),
    host=lemma_g5_host(),
    dataset=_g5_points,
)


# ------------------------------------------------------------------------- Cover 1965

def cover_dataset(key, n, d, **_):
    """n points N(0, I/d) in R^d (in general position with probability 1), Rademacher labels."""
    return gaussian(jax.random.fold_in(key, 0), n, d)


def cover_trial(key, n, d, affine):
    X, y = cover_dataset(key, n, d)
    screened = sep.screen(sep.signed_points(X, y, affine))
    return dict(X=X, y=y, screen_decided=screened["decided"])


def cover_host(shift: int = 0, confidence: float = COVER_CONFIDENCE):
    """The host for cover1965.capacity: the LP-exact count of separable datasets of the config
    against Cover's probability with D + shift in place of D (shift != 0 breaks it).

    The verdict is one per config (every dataset of a config carries the same `ok`), so a
    failure names dataset 0 of the failing config; `jaxmem verify --reproduce` recomputes one
    chunk only, and its `ok` then refers to that chunk's count, not the config's."""

    def host(outs, config):
        n, d, affine = config["n"], config["d"], bool(config["affine"])
        X, y = outs.pop("X"), outs.pop("y")
        res = sep.decide_batch(X, y, affine, screen_out={"decided": outs["screen_decided"]})
        k, m = int(res["separable"].sum()), len(res["separable"])
        p = float(sep.cover_probability(n, d + shift, affine))
        lo, hi = clopper_pearson(k, m, confidence)
        ok = lo <= p <= hi
        outs["separable"] = res["separable"]
        for name, value in (("separable_count", k), ("cover_probability", p),
                            ("ci_low", lo), ("ci_high", hi)):
            outs[name] = np.full(m, value)
        outs["ok"] = np.full(m, ok)
        return outs

    return host


COVER_CAPACITY = Claim(
    id="cover1965.capacity",
    citation=CITATION_COVER,
    statement=("n points in general position in R^d with uniform random labels are strictly "
               "linearly separable with probability C(n, D)/2^n, C(n, D) = 2 sum_{k=0}^{D-1} "
               "binom(n-1, k), D = d through the origin and d + 1 with a bias: the exact value "
               "lies in the 99.9% Clopper-Pearson interval of every config's LP-exact count."),
    trial=cover_trial,
    grids=dict(quick=[dict(n=6, d=3, affine=False, datasets=300),
                      dict(n=9, d=3, affine=False, datasets=300),
                      dict(n=6, d=2, affine=True, datasets=300),
                      dict(n=9, d=2, affine=True, datasets=300)],
               full=expand(n=[5, 10, 15, 20, 30, 40], d=[5, 10], affine=[False, True],
                           datasets=4000)),
    rule=Universal(),
    host=cover_host(),
    dataset=lambda key, n, d, **_: cover_dataset(key, n, d),
)


CLAIMS = [LEMMA_G4, LEMMA_G5, COVER_CAPACITY]

__all__ = ["CLAIMS", "COVER_CAPACITY", "LEMMA_G4", "LEMMA_G5", "cover_host", "cover_trial",
           "g4_dataset", "g4_trial", "g5_dataset", "g5_trial", "lemma_g4_host",
           "lemma_g5_host"]

register(*CLAIMS)
