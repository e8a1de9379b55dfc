"""Claims of Yu, Gao, Zhang, Miao (NeurIPS 2024), Theorem 4.1 and its lemmas (App. B): the width-6
memorizer with O(sqrt(N) ln(N n / c)) parameters (`jaxmem.constructions.yu2024_width6`), checked
in exact rational arithmetic.

Data: pixel-like points X = integers in [0, 255]^n / 255 with uniform random labels (both
labels present), drawn in JAX; the construction and its exact evaluation run on the host (the
`host` hook): registers of hundreds of digits are no JAX dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.constructions import yu2024_width6 as m3
from jaxmem.sweep import expand
from jaxmem.claims import (Claim, Informational, Probabilistic, Scaling, Universal,
                           register)
from jaxmem.falsify import Domain, Falsifiable

CITATION = ("Yu, Gao, Zhang, Miao. Generalizability of Memorization Neural Networks. "
            "NeurIPS 2024 (arXiv 2411.00372), Theorem 4.1 and App. B.")
LEVELS = 255


def dataset(key, N, n, **_):
    """(X, y): X in {0, 1/255, ..., 1}^n uniform, y uniform in {-1, +1} with both present."""
    X = jax.random.randint(jax.random.fold_in(key, 0), (N, n), 0, LEVELS + 1)
    y = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 1), 0.5, (N,)), 1, -1)
    return X / LEVELS, y.at[:2].set(jnp.array([-1, 1]))


def pixels_inputs(build_key, X, y):
    """The device half of a trial on a given dataset: integer pixels, labels and the build
    seed (drawn from `build_key`) for the host, which builds and evaluates exactly."""
    return dict(pixels=jnp.rint(X * LEVELS).astype(jnp.int32), labels=y,
                seed=jax.random.randint(build_key, (), 0, 2 ** 31 - 1))


def _pixels_trial(key, N, n, **_):
    # the build seed has always come from fold_in(key, 2), not construction_key(key)
    return pixels_inputs(jax.random.fold_in(key, 2), *dataset(key, N, n))


def _datasets(outs):
    """The drawn datasets (integer pixels, labels, build seed), removed from the outputs."""
    return list(zip(outs.pop("pixels"), outs.pop("labels"), outs.pop("seed")))


# -------------------------------------------------------------------------- Theorem 4.1
def memorizes_host(outs, config):
    """Builds each dataset's network and checks, exactly (`m3.measure`, the sweep's
    measurement too): Sgn F(x_i) = y_i for all i, width 6, the parameter count of the layout
    (`param_formula`) and the digits of Lemma B.1's bound."""
    rows = {k: [] for k in _MEASURED}
    for X, y, seed in _datasets(outs):
        for k, v in _measure(X, y, seed, config).items():
            rows[k].append(v)
    outs.update({k: np.array(v) for k, v in rows.items()})
    return outs


# The host's measurements of one dataset, with their dtypes (the check's callback declares them).
_MEASURED = dict(ok=np.bool_, memorized_fraction=np.float64, width=np.int64, params=np.int64,
                 formula_params=np.int64, digits_ok=np.bool_, depth=np.int64,
                 register_digits=np.int64, max_bit_length=np.int64, draws=np.int64)


def _measure(pixels, labels, seed, config):
    """`m3.build` and `m3.measure` on one dataset of integer pixels: the host's row."""
    renamed = dict(params="param_count", formula_params="formula_param_count")
    net, info = m3.build(int(seed), pixels, labels, ramp=config.get("ramp", "left"),
                         denominator=LEVELS, block_size=config.get("block_size"))
    measured = m3.measure(net, info, pixels, labels, denominator=LEVELS)
    return {k: measured[renamed.get(k, k)] for k in _MEASURED}


def _hypothesis(X, y):
    """Theorem 4.1's dataset, as the construction takes it (pixels with denominator 255): X
    in [0, 1]^n on the 1/255 grid, labels +-1 with both present, no point with both labels."""
    on_grid = jnp.all((X >= 0) & (X <= 1) & (jnp.rint(X * LEVELS) / LEVELS == X))
    same_point = jnp.all(X[:, None, :] == X[None, :, :], axis=-1)
    opposite = y[:, None] != y[None, :]
    return (on_grid & jnp.all(jnp.abs(y) == 1) & jnp.any(y > 0) & jnp.any(y < 0)
            & ~jnp.any(same_point & opposite))


def thm4_1_check(build_key, X, y, N=None, n=None, **config):
    """Theorem 4.1 on a given dataset: `pixels_inputs` (what the trial returns) and the host's
    exact build and evaluation (`_measure`, the host step's own code) through a callback.
    `build_key` is the trial's fold_in(key, 2). hypothesis: `_hypothesis`; off it nothing is
    built (ok False, measurements zero). score (for `jaxmem falsify`): -log10 of the smallest
    distance c0 between opposite-label points: Lemma B.1's projection gap and the registers'
    digits grow as c0 shrinks."""
    inputs = pixels_inputs(build_key, X, y)
    hypothesis = _hypothesis(X, y)

    def host(pixels, labels, seed, holds):
        if not holds:
            return {k: np.zeros((), t) for k, t in _MEASURED.items()}
        return {k: np.asarray(v, _MEASURED[k])
                for k, v in _measure(np.asarray(pixels), np.asarray(labels), seed,
                                     config).items()}

    shapes = {k: jax.ShapeDtypeStruct((), t) for k, t in _MEASURED.items()}
    measured = jax.pure_callback(host, shapes, inputs["pixels"], inputs["labels"],
                                 inputs["seed"], hypothesis, vmap_method="sequential")
    diff = X[:, None, :] - X[None, :, :]
    sq = jnp.sum(diff * diff, axis=-1)
    opposite = y[:, None] != y[None, :]
    c0 = jnp.sqrt(jnp.min(jnp.where(opposite, sq, jnp.inf)))
    score = -jnp.log10(jnp.clip(c0, jnp.finfo(X.dtype).tiny, jnp.finfo(X.dtype).max))
    return dict(inputs, **measured, hypothesis=hypothesis, score=score.astype(X.dtype))


THM4_1 = Claim(
    id="yu2024.thm4_1",
    citation=CITATION,
    statement=("For any dataset in [0,1]^n x {-1,1} with distinct opposite-label points, the "
               "width-6 network of App. B (compression, block registers, Lemma B.3 "
               "projection, Lemma B.4-B.5 digit extraction) memorizes it, exactly."),
    trial=_pixels_trial,
    grids=dict(quick=[dict(N=4, n=2, datasets=8), dict(N=16, n=3, datasets=8),
                      dict(N=60, n=8, datasets=4)],
               full=expand(N=[4, 16, 64, 256, 1000], n=[2, 10, 784], datasets=32)),
    rule=Universal(),
    host=memorizes_host,
    dataset=dataset,
    # The construction is exact (rational registers): every decision is already in exact
    # arithmetic, so there is no separate exact step. Pixels on the 1/255 grid of [0, 1]^n,
    # the search's domain (and `hypothesis`).
    falsify=Falsifiable(check=thm4_1_check,
                        domain=Domain(points="cube", grid=1 / 255, labels="sign"),
                        sizes=("N", "n")),
)


def lemma_b4_summary(runs) -> str:
    parts = []
    for cfg, outs in runs:
        frac = np.asarray(outs["memorized_fraction"])
        parts.append(f"N={cfg['N']}: {int(np.sum(frac == 1))}/{len(frac)} datasets memorized, "
                     f"{np.mean(frac):.1%} of points")
    return ("Lemma B.4 as printed (ramp on [2^k, 2^k + p]) extracts each block's last slot as "
            "a - 1 and loses its positive unless c - [c] < 0.1 (or another stored value of the "
            "block lies within 1.1): " + "; ".join(parts)
            + " (with the ramp on [2^k - p, 2^k], yu2024.thm4_1: all)")


LEMMA_B4_AS_PRINTED = Claim(
    id="yu2024.lemma_b4_as_printed",
    citation=CITATION,
    statement=("Measured: the network with Lemma B.4's F_{a,b} exactly as printed (x kept on "
               "[0, a], so x = 2^k is never reduced): how often it still memorizes."),
    trial=_pixels_trial,
    grids=dict(quick=[dict(N=16, n=3, ramp="paper", datasets=8),
                      dict(N=60, n=8, ramp="paper", datasets=4)],
               full=expand(N=[16, 64, 256, 1000], n=[3], ramp=["paper"], datasets=32)),
    rule=Informational(lemma_b4_summary),
    host=memorizes_host,
    dataset=dataset,
)


def params_host(outs, config):
    """Builds (no evaluation): the parameter count per digit-extraction stage. Theorem 4.1's
    O(sqrt(N) ln(N n / c)) is sqrt(N) slots times O(ln(n N^2 / c)) stages each (the digits
    bound is checked exactly in yu2024.thm4_1), so params / stages should grow like N^(1/2).
    (params / ln(N n / c0) itself has a fitted exponent of ~0.44 on N = 16..1024: the stage
    count 3.3 (w + 1) and ln(N n / c0) differ by constants that only wash out slowly.)
    Config block_fraction (tests) replaces the [sqrt(N)] blocks by blocks of that fraction of N:
    a linear layout, which the rule must reject."""
    params, stages, per_stage = [], [], []
    for X, y, seed in _datasets(outs):
        block = config.get("block_fraction")
        _, info = m3.build(int(seed), X, y, denominator=LEVELS,
                           block_size=None if block is None else max(1, int(len(y) * block)))
        params.append(info["param_count"])
        stages.append(info["strip_stages"])
        per_stage.append(info["param_count"] / info["strip_stages"])
    outs.update(params=np.array(params), strip_stages=np.array(stages),
                params_per_stage=np.array(per_stage))
    return outs


PARAMS = Claim(
    id="yu2024.thm4_1.params",
    citation=CITATION,
    statement=("The width-6 memorizer has O(sqrt(N) ln(N n / c)) parameters: per digit-"
               "extraction stage (of which there are O(ln(n N^2 / c))) its parameter count "
               "grows like N^(1/2)."),
    trial=_pixels_trial,
    grids=dict(quick=expand(N=[16, 64, 256, 1024], n=[4], datasets=2),
               full=expand(N=[16, 64, 256, 1024, 4096], n=[4, 784], datasets=8)),
    rule=Scaling(x="N", y="params_per_stage", predicted=0.5, band=(0.45, 0.55)),
    host=params_host,
    dataset=dataset,
)


# ----------------------------------------------------------------------- Lemmas B.2, B.1
def _sphere(key, n):
    g = jax.random.normal(key, (n,))
    return g / jnp.linalg.norm(g)


def lemma_b2_trial(key, n, T):
    """One (u, v): u uniform on S^(n-1), v Gaussian. Passes when |<u, v>| >= ||v|| / T
    sqrt(8 / (n pi)); Lemma B.2 says that fails with probability < 2 / T."""
    u = _sphere(jax.random.fold_in(key, 0), n)
    v = jax.random.normal(jax.random.fold_in(key, 1), (n,))
    bound = jnp.linalg.norm(v) / T * jnp.sqrt(8 / (n * jnp.pi))
    return dict(ok=jnp.abs(u @ v) >= bound, ratio=jnp.abs(u @ v) / bound)


T_QUICK = 4
LEMMA_B2 = Claim(
    id="yu2024.lemma_b2",
    citation=CITATION + " Lemma B.2 (Park et al. 2021, Lemma 13).",
    statement=(f"For u uniform on S^(n-1) and any v, P(|<u,v>| < ||v||/T sqrt(8/(n pi))) < 2/T "
               f"(here T = {T_QUICK}: a draw passes with probability > {1 - 2 / T_QUICK})."),
    trial=lemma_b2_trial,
    grids=dict(quick=expand(n=[3, 20, 784], T=[T_QUICK], datasets=3000),
               full=expand(n=[3, 5, 20, 100, 784], T=[T_QUICK], datasets=100000)),
    rule=Probabilistic(p=1 - 2 / T_QUICK),
)


def acceptance_trial(key, N, n, threshold_scale=1.0):
    """Lemma B.1's test on one dataset and one direction: |<u, x - z>| >= c0 / (4 N^2)
    sqrt(8 / (n pi)) for every opposite pair (x, z); passes with probability > 1/2.
    threshold_scale != 1 breaks the statement on purpose (tests)."""
    X, y = dataset(key, N, n)
    u = _sphere(jax.random.fold_in(key, 3), n)
    opposite = y[:, None] != y[None, :]
    sq = jnp.sum(X * X, axis=1)
    dist = jnp.sqrt(jnp.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0))
    c0 = jnp.min(jnp.where(opposite, dist, jnp.inf))
    proj = X @ u
    gaps = jnp.abs(proj[:, None] - proj[None, :])
    threshold = threshold_scale * c0 / (4 * N ** 2) * jnp.sqrt(8 / (n * jnp.pi))
    margin = jnp.min(jnp.where(opposite, gaps, jnp.inf)) / threshold
    return dict(ok=margin >= 1, margin=margin)


ACCEPTANCE = Claim(
    id="yu2024.lemma_b1.acceptance",
    citation=CITATION + " Lemma B.1, Result R1.",
    statement=("A uniformly random direction passes Lemma B.1's acceptance test with "
               "probability > 1/2, for any dataset."),
    trial=acceptance_trial,
    grids=dict(quick=expand(N=[8, 64], n=[3, 50], datasets=300),
               full=expand(N=[8, 64, 512], n=[3, 50, 784], datasets=5000)),
    rule=Probabilistic(p=0.5),
    dataset=dataset,
)

CLAIMS = [THM4_1, LEMMA_B4_AS_PRINTED, PARAMS, LEMMA_B2, ACCEPTANCE]

__all__ = ["CLAIMS", "THM4_1", "LEMMA_B4_AS_PRINTED", "PARAMS", "LEMMA_B2", "ACCEPTANCE"]

register(*CLAIMS)
