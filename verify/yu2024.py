"""Claims of Yu, Gao, Zhang, Miao (NeurIPS 2024), "Generalizability of Memorization Neural
Networks": Theorem 7.3 (M1 memorizes, and generalizes once N >= S_D ln(S_D/delta)/eps),
Lemma H.4, Proposition 7.7 and Theorem 5.3. Theorem 5.1 (width >= d) is in verify/yu2024_width.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxmem.constructions import yu2024
from jaxmem.data import ball_annulus as ball_annulus_mod
from jaxmem.data import separated
from jaxmem.metrics import nearby
from jaxmem.claims import Claim, Probabilistic, Universal, register

CITATION = ("Yu, Gao, Zhang, Miao. Generalizability of Memorization Neural Networks. "
            "NeurIPS 2024 (arXiv 2411.00372).")
EPS, DELTA = 0.2, 0.2            # Theorem 7.3's accuracy and confidence in the quick grids


# ---------------------------------------------------------------------------------------
# Theorem 7.3: M1 memorizes (Lemmas H.1-H.3)


def memorize_dataset(key, data, N, n, **_):
    """cube: uniform in [0,1]^n with random labels; checkerboard: samples of the side-3
    lattice (repeated points); clusters: truncated Gaussian clusters. Both labels present."""
    k = jax.random.fold_in(key, 0)
    if data == "cube":
        X = jax.random.uniform(k, (N, n))
        y = jnp.where(jax.random.bernoulli(jax.random.fold_in(k, 1), 0.5, (N,)), 1.0, -1.0)
        return X, y.at[:2].set(jnp.array([1.0, -1.0]))
    if data == "checkerboard":
        P, labels = separated.checkerboard_support(n, 3)
        idx = separated.checkerboard_indices(k, N, P.shape[0]).at[:2].set(jnp.array([0, 1]))
        return P[idx], labels[idx]
    if data == "clusters":
        X, y = separated.gaussian_clusters(k, N, n, 2)
        return X, y
    raise ValueError(f"unknown data {data!r}")


def memorize_trial(key, data, N, n, split=yu2024.SPLIT):
    X, y = memorize_dataset(key, data, N, n)
    m1, info = yu2024.build(None, X, y, split=split)
    tm = yu2024.training_margins(m1)
    bm = yu2024.boundary_margins(m1)
    both = (info["n_pos"] > 0) & (info["n_neg"] > 0)
    return dict(ok=both & info["valid"] & jnp.all(tm["ok"]) & jnp.all(bm["ok"]),
                valid=info["valid"], margins_ok=jnp.all(tm["ok"]),
                boundary_ok=jnp.all(bm["ok"]),
                min_margin_over_r=jnp.min(tm["margin_over_r"]),
                max_margin_over_class_size=jnp.max(tm["margin_over_r"] / tm["class_size"]),
                boundary_points_inside=jnp.sum(bm["inside"]),
                min_boundary_margin_over_r=jnp.min(jnp.where(bm["inside"], bm["margin_over_r"],
                                                             jnp.inf)),
                margin_r=info["margin_r"])


MEMORIZES = Claim(
    id="yu2024.thm7_3.memorizes",
    citation=CITATION + " Theorem 7.3, App. H (Lemmas H.1-H.3).",
    statement=("M1 memorizes every dataset with distinct opposite-label points: y_i F(x_i) "
               "in [r, N_{y_i} r], r = 0.01 min ||x_i - x_j||^2; and sign F = y_i on the "
               "closed cell C_i, probed where it meets the nearest opposite point's segment."),
    trial=memorize_trial,
    grids=dict(
        quick=[dict(data="cube", N=64, n=2, datasets=32), dict(data="cube", N=96, n=20,
                                                                 datasets=32),
               dict(data="checkerboard", N=64, n=2, datasets=32),
               dict(data="clusters", N=64, n=3, datasets=32)],
        full=[dict(data=d, N=N, n=n, datasets=500) for d in ("cube", "clusters")
              for N, n in ((256, 2), (256, 50), (512, 10))]
        + [dict(data="checkerboard", N=256, n=n, datasets=500) for n in (2, 3)]),
    rule=Universal(),
    dataset=memorize_dataset,
)


# ---------------------------------------------------------------------------------------
# Theorem 7.3: generalization on checkerboards, where S_D = side^n exactly


def checkerboard_config(n, side, eps=EPS, delta=DELTA, datasets=64, samples=None):
    support = side ** n
    N = samples or nearby.theorem7_3_sample_size(support, eps, delta)
    return dict(n=n, side=side, N=N, eps=eps, delta=delta, datasets=datasets)


def generalize_dataset(key, n, side, N, **_):
    P, labels = separated.checkerboard_support(n, side)
    idx = separated.checkerboard_indices(jax.random.fold_in(key, 0), N, P.shape[0])
    return P[idx], labels[idx]


def generalize_trial(key, n, side, N, eps, delta):
    """Exact accuracy over the support (uniform weights), the mass of the support points
    the sample saw, and whether accuracy >= 1 - eps."""
    P, labels = separated.checkerboard_support(n, side)
    idx = separated.checkerboard_indices(jax.random.fold_in(key, 0), N, P.shape[0])
    X, y = P[idx], labels[idx]
    both = jnp.any(y > 0) & jnp.any(y < 0)
    # A one-label sample has no M1 (no opposite pairs); relabel one point so the build is
    # defined and count the dataset as failing (accuracy <= 1/2 for such a sample anyway).
    y = jnp.where(both, y, y.at[0].set(-y[0]))
    m1, _ = yu2024.build(None, X, y)
    accuracy = jnp.where(both, jnp.mean(jnp.sign(yu2024.apply(m1, P)) == labels), 0.0)
    seen = jnp.zeros(P.shape[0], bool).at[idx].set(True)
    coverage = jnp.mean(seen)
    return dict(ok=accuracy >= 1 - eps, accuracy=accuracy, coverage=coverage,
                coverage_ok=accuracy >= coverage, support_size=jnp.asarray(P.shape[0]))


_GEN_QUICK = [checkerboard_config(2, 3, datasets=96), checkerboard_config(3, 2, datasets=96),
              checkerboard_config(2, 4, datasets=96)]
_GEN_FULL = [checkerboard_config(n, side, eps, delta, datasets=1000)
             for n, side in ((2, 3), (2, 5), (3, 3), (4, 2), (2, 8))
             for eps, delta in ((0.2, 0.2), (0.1, 0.05))]

GENERALIZES = Claim(
    id="yu2024.thm7_3.generalizes",
    citation=CITATION + " Theorem 7.3.",
    statement=("With N >= S_D ln(S_D/delta)/eps samples, P(A_D(M1) >= 1 - eps) >= 1 - delta; "
               "on checkerboards S_D = side^n exactly (each nearby ball holds its centre alone)."),
    trial=generalize_trial,
    grids=dict(quick=_GEN_QUICK, full=_GEN_FULL),
    rule=Probabilistic(p=1 - DELTA),
    dataset=generalize_dataset,
)

COVERAGE = Claim(
    id="yu2024.thm7_3.coverage",
    citation=CITATION + " Theorem 7.3, proof (App. H.5).",
    statement=("In every run, A_D(M1) >= 1 - sum of the masses of nearby balls holding no "
               "training point; on a checkerboard, accuracy >= mass of the support seen."),
    trial=generalize_trial,
    grids=dict(quick=[checkerboard_config(2, 4, samples=s, datasets=64) for s in (8, 32)],
               full=[checkerboard_config(n, side, samples=s, datasets=500)
                     for n, side in ((2, 4), (3, 3)) for s in (4, 16, 64, 256)]),
    rule=Universal(passed="coverage_ok"),
    dataset=generalize_dataset,
)


# ---------------------------------------------------------------------------------------
# Lemma H.4, fuzzed near its worst case


def lemma_h4_trial(key, n, triples, split=yu2024.SPLIT):
    """`triples` (a, b, c) with ||b - a|| >= 3.1 ||a - c||; ok when every distance from a to
    the plane (b - c).(x - (split c + (1 - split) b)) = 0 exceeds ||b - a|| / 3.1.

    Half the triples are adversarial: c sits on the sphere ||a - c|| = ||b - a||/3.1 close to
    the direction a - (b - a), where the lemma is tightest (ratio 1.009 at split 0.51)."""
    k_a, k_b, k_len, k_dir, k_rad, k_mix = jax.random.split(key, 6)
    a = jax.random.normal(k_a, (triples, n))
    ba = jax.random.normal(k_b, (triples, n))
    ba = ba / jnp.linalg.norm(ba, axis=1, keepdims=True)
    length = jnp.exp(jax.random.uniform(k_len, (triples, 1), minval=-3.0, maxval=3.0))
    b = a + length * ba
    v = jax.random.normal(k_dir, (triples, n))
    v = v / jnp.linalg.norm(v, axis=1, keepdims=True)
    adversarial = jnp.arange(triples) % 2 == 0
    tilt = jnp.where(adversarial[:, None], 0.05, 10.0)
    w = -ba + tilt * v
    w = w / jnp.linalg.norm(w, axis=1, keepdims=True)
    frac = jnp.where(adversarial[:, None], 1.0,
                     jax.random.uniform(k_rad, (triples, 1)) ** (1 / n))
    c = a + frac * (length / nearby.NEARBY_CONSTANT) * w
    normal = b - c
    point = split * c + (1 - split) * b
    dist = jnp.abs(jnp.sum(normal * (a - point), axis=1)) / jnp.linalg.norm(normal, axis=1)
    ratio = dist / (jnp.linalg.norm(b - a, axis=1) / nearby.NEARBY_CONSTANT)
    return dict(ok=jnp.all(ratio > 1), min_ratio=jnp.min(ratio))


LEMMA_H4 = Claim(
    id="yu2024.lemma_h4",
    citation=CITATION + " Lemma H.4.",
    statement=("For a, b, c in R^n with ||b - a|| >= 3.1 ||a - c||, the distance from a to "
               "the plane (b - c).(x - (0.51 c + 0.49 b)) = 0 exceeds ||b - a||/3.1."),
    trial=lemma_h4_trial,
    grids=dict(quick=[dict(n=n, triples=2048, datasets=16) for n in (2, 10, 100)],
               full=[dict(n=n, triples=8192, datasets=256) for n in (2, 3, 10, 100, 1000)]),
    rule=Universal(),
)


# ---------------------------------------------------------------------------------------
# Proposition 7.7


def prop7_7_dataset(key, data, n, N, **_):
    k = jax.random.fold_in(key, 0)
    if data == "checkerboard":
        P, labels = separated.checkerboard_support(n, 3)
        idx = separated.checkerboard_indices(k, N, P.shape[0])
        return P[idx], labels[idx]
    X, y = separated.gaussian_clusters(k, N, n, 2)
    return X, y.at[:2].set(jnp.array([1.0, -1.0]))


def prop7_7_trial(key, data, n, N, grid_constant=6.2):
    """The greedy nearby-set size of a sample against ([6.2 n / c] + 1)^n with c the
    sample's measured separation (compared in logs: the bound overflows floats). On the
    checkerboard the greedy cover must also equal the number of distinct support points
    seen (each ball holds its centre alone: the estimate is exact there)."""
    X, y = prop7_7_dataset(key, data, n, N)
    both = jnp.any(y > 0) & jnp.any(y < 0)
    cover = nearby.greedy_nearby_set(X, y)
    c = separated.separation(X, y)
    log_bound = n * jnp.log(jnp.floor(grid_constant * n / c) + 1)
    within = jnp.log(cover["size"]) <= log_bound
    if data == "checkerboard":
        P, _ = separated.checkerboard_support(n, 3)
        idx = separated.checkerboard_indices(jax.random.fold_in(key, 0), N, P.shape[0])
        distinct = jnp.sum(jnp.zeros(P.shape[0], bool).at[idx].set(True))
        exact = cover["size"] == distinct
    else:
        exact = cover["lower_bound"] <= cover["size"]
    return dict(ok=both & within & exact, greedy_size=cover["size"],
                lower_bound=cover["lower_bound"], separation=c, log_bound=log_bound)


PROP7_7 = Claim(
    id="yu2024.prop7_7",
    citation=CITATION + " Proposition 7.7.",
    statement=("S_D <= ([6.2 n / c] + 1)^n for every D in D(n, c); checked on the greedy "
               "nearby set of samples (exact on checkerboards) with c measured exactly."),
    trial=prop7_7_trial,
    grids=dict(quick=[dict(data="checkerboard", n=2, N=90, datasets=16),
                      dict(data="clusters", n=3, N=128, datasets=16)],
               full=[dict(data=d, n=n, N=N, datasets=200) for d in ("checkerboard", "clusters")
                     for n, N in ((2, 200), (3, 400), (4, 800))]),
    rule=Universal(),
    dataset=prop7_7_dataset,
)


# ---------------------------------------------------------------------------------------
# Theorem 5.3


THM5_3_ALPHA = 1e-3        # per-dataset error level of the Hoeffding allowance
M1_CONTRAST_POINTS = 500   # test points M1 is measured on (vmapped, its branches all run)


def thm5_3_dataset(key, data, N, n, **_):
    k = jax.random.fold_in(key, 0)
    if data == "slabs":
        return separated.slabs(k, N, n)
    return ball_annulus_mod.ball_annulus(k, N, n)


def thm5_3_trial(key, data, N, n, test_points, memorizer="projection"):
    """The projection memorizer memorizes the sample; its accuracy on `test_points` fresh
    points must not exceed 0.51 beyond the Hoeffding allowance sqrt(ln(1/alpha)/(2T)),
    alpha = 1e-3 (a dataset fails only if the data show accuracy > 0.51 at 99.9%). M1 on
    the same sample is measured beside it on the first 500 test points (the contrast)."""
    X, y = thm5_3_dataset(key, data, N, n)
    T, yT = thm5_3_dataset(jax.random.fold_in(key, 7), data, test_points, n)
    net, info = yu2024.build_adversarial(jax.random.fold_in(key, 1), X, y)
    both = jnp.any(y > 0) & jnp.any(y < 0)
    y_m1 = jnp.where(both, y, y.at[0].set(-y[0]))
    m1, _ = yu2024.build(None, X, y_m1)
    # memorizer="m1" breaks the claim on purpose (M1 generalizes there), for the tests.
    predict = (lambda Z: jnp.sign(yu2024.apply(m1, Z))) if memorizer == "m1" else net.apply
    memorizes = jnp.all(predict(X) == y)
    accuracy = jnp.mean(predict(T) == yT)
    allowance = math.sqrt(math.log(1 / THM5_3_ALPHA) / (2 * test_points))
    contrast = min(test_points, M1_CONTRAST_POINTS)
    m1_accuracy = jnp.mean(jnp.sign(yu2024.apply(m1, T[:contrast])) == yT[:contrast])
    return dict(ok=info["valid"] & memorizes & (accuracy - allowance <= 0.51),
                accuracy=accuracy, memorizes=memorizes, m1_accuracy=m1_accuracy,
                min_gap=info["min_gap"])


THM5_3 = Claim(
    id="yu2024.thm5_3",
    citation=CITATION + " Theorem 5.3, App. E.",
    statement=("For D in D(n, c) with a density bound, some memorizer of D_tr with "
               "O(n + sqrt(N) ln(N n r / c)) parameters has A_D <= 0.51: its function (the "
               "encoded label only on training projections) is simulated and measured."),
    trial=thm5_3_trial,
    grids=dict(quick=[dict(data="slabs", N=128, n=5, test_points=4000, datasets=16),
                      dict(data="ball_annulus", N=128, n=10, test_points=4000, datasets=16)],
               full=[dict(data=d, N=N, n=n, test_points=20000, datasets=200)
                     for d in ("slabs", "ball_annulus") for N, n in ((256, 5), (1024, 20))]),
    rule=Universal(),
    dataset=thm5_3_dataset,
)

CLAIMS = [MEMORIZES, GENERALIZES, COVERAGE, LEMMA_H4, PROP7_7, THM5_3]

register(*CLAIMS)
