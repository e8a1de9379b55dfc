"""Claims about closed-form ("lazy") training: the neural-tangent model of a two-layer ReLU
network (Montanari & Zhong 2020), and the minimum-norm / kernel interpolants of Zhang et al.
(2017), Section 5. The models are `jaxmem.training.kernels`; every trial draws one dataset
from its key and fits it in closed form (or by full-batch GD), in float64.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxmem import metrics
from jaxmem.data import gaussian, sphere
from jaxmem.falsify import Domain, Falsifiable, trial_from_check
from jaxmem.sweep import expand
from jaxmem.training import kernels
from jaxmem.claims import Claim, Universal, pairs, register

MONTANARI = ("Montanari, Zhong. The interpolation phase transition in neural networks: "
             "memorization and generalization under lazy training. Ann. Statist. 50(5), 2022 "
             "(arXiv 2007.12826); as summarized in docs/papers/montanari2020.md §1.")
ZHANG = ("Zhang, Bengio, Hardt, Recht, Vinyals. Understanding deep learning requires "
         "rethinking generalization. ICLR 2017. Section 5 (implicit regularization: the linear "
         "case; kernel interpolation K alpha = y).")

# The parameter budget of the NTK claim: N d >= NTK_FACTOR n trained parameters. Measured
# (float64, matrix_rank rule): at N d = 2n all of ~2,500 sphere datasets at (n, d) = (96, 6),
# (128, 8), (256, 8), (256, 16), (512, 16), (512, 32) -- d >= 6 and N >= 32 -- had a
# non-singular Gram matrix, lambda_min / lambda_max >= 1.6e-5. At N d = n (the counting bound
# rank K <= N d) K was still non-singular for n >= 128 but lambda_min / lambda_max fell to
# 1e-13. Below d = 6 or N = 32 K can be singular by an activation pattern
# (kernels.ntk_pattern_report): at d = 4 about 1 dataset in 1000 has more than d points in one
# activation cell; at N = 16 about n 2^-N of them have a point dead for all N units.
NTK_FACTOR = 2


def ntk_dataset(key, n, d, **_):
    """n points uniform on S^{d-1}, real Gaussian labels (Montanari-Zhong's isotropic setting)."""
    return sphere(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def ntk_check(build_key, X, y, n, d, factor=NTK_FACTOR):
    """The lazy model with N = ceil(factor n / d) units, w_j ~ N(0, I/d) from `build_key`, on a
    given dataset: is the Gram matrix non-singular (matrix_rank rule), and does the min-norm fit
    interpolate?

    For `jaxmem falsify`: score = log10 cond(K) (K turns singular as points crowd together or
    share an activation pattern); hypothesis = the data is not singular by pattern (no point
    dead for all N units, at most d points per activation cell). Those patterns make K singular
    whatever N d is (kernels.ntk_pattern_report): the theorem excludes them by drawing the
    points at random (probability ~ n 2^-N), so a dataset built to have them is no
    counterexample."""
    width = kernels.ntk_width_for(n, d, factor)
    fit = kernels.ntk_min_norm_fit(build_key, X, y, width)
    # The failure modes at small N or small d (kernels.ntk_pattern_report): a point inactive
    # for every unit (probability 1 - (1 - 2^-N)^n on the sphere), or more than d points with
    # one activation pattern, make K singular whatever N d is.
    patterns = kernels.ntk_pattern_report(fit["W"], X)
    # Singular for certain: by a pattern, or by rank (rank K <= N d). Otherwise a computed
    # lambda_min below the eigensolver's error (n eps lambda_max) cannot tell a singular K from
    # an ill-conditioned one: UNDECIDED, not a failure (found by `jaxmem falsify`: two points
    # 1e-6 apart on the sphere give cond(K) ~ 1e14 while the exact K is nonsingular).
    surely_singular = patterns["singular_by_pattern"] | (width * d < n)
    return dict(ok=fit["nonsingular"] & fit["interpolates"],   # interpolates => nonsingular
                undecided=(fit["nonsingular"] & (fit["decision"] == metrics.UNDECIDED))
                | (~fit["nonsingular"] & ~surely_singular),
                undecided_points=fit["undecided_points"],
                nonsingular=fit["nonsingular"], interpolates=fit["interpolates"],
                lambda_min=fit["lambda_min"], lambda_max=fit["lambda_max"],
                condition_number=fit["condition_number"], rank=fit["rank"],
                max_residual=fit["max_residual"],
                residual_over_tolerance=fit["residual_over_tolerance"],
                width=jnp.asarray(width), param_count=jnp.asarray(width * d),
                dead_points=patterns["dead_points"],
                max_shared_pattern=patterns["max_shared_pattern"],
                singular_by_pattern=patterns["singular_by_pattern"],
                weight_norm=fit["weight_norm"],
                hypothesis=~patterns["singular_by_pattern"],
                score=_log10_ratio(fit["lambda_max"], fit["lambda_min"]))


def _log10_ratio(big, small):
    """log10(big / small), finite for small = 0 (a singular matrix scores high, not NaN)."""
    tiny = jnp.finfo(jnp.result_type(big)).tiny
    return jnp.log10(jnp.maximum(jnp.abs(big), tiny)) - jnp.log10(jnp.maximum(jnp.abs(small), tiny))


# The dataset from fold_in(key, 0), W from fold_in(key, 1) (jaxmem.falsify.construction_key).
ntk_trial = trial_from_check(ntk_dataset, ntk_check)


def linear_dataset(key, n, d, **_):
    """x_i ~ N(0, I_d / d), real Gaussian labels: an over-parameterized regression (d > n)."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def gd_check(build_key, X, y, n, d, steps, init="zero"):
    """Full-batch GD with lr = 1/lambda_max(X^T X / n) on a given dataset, from w0 = 0
    (init="zero") or from a random w0 ~ N(0, I/d) drawn from `build_key` (init="random": the
    control whose null-space part must persist).

    For `jaxmem falsify`: score = log10 of the larger of ||w_T - w*|| over its allowance
    (contraction bound + rounding) and the null-space part over its rounding bound: > 0 is a
    violation. No hypothesis: the statement holds for every X (a rank-deficient X only slows
    the contraction, which the bound (1 - mu_min/mu_max)^T accounts for)."""
    if init == "zero":
        w0 = None
    elif init == "random":
        w0 = jax.random.normal(build_key, (d,), X.dtype) / math.sqrt(d)
    else:
        raise ValueError(f"init must be 'zero' or 'random'; got {init!r}")
    rep = kernels.gd_min_norm_report(X, y, steps, w0=w0)
    keys = ("converged", "distance", "relative_distance", "null_component",
            "initial_null_component", "null_tolerance", "distance_tolerance",
            "contraction_factor", "contraction_bound", "null_preserved", "min_norm", "mu_min",
            "mu_max", "rank")
    over = jnp.maximum(
        _log10_ratio(rep["distance"], rep["contraction_bound"] + rep["distance_tolerance"]),
        _log10_ratio(rep["null_component"], rep["null_tolerance"]))
    return dict(ok=rep["converged"], **{k: rep[k] for k in keys}, score=over)


gd_trial = trial_from_check(linear_dataset, gd_check)


def kernel_dataset(key, n, d, classes, duplicate=False, **_):
    """Gaussian points and random labels: +-1 when classes == 2, else integer classes in
    [0, classes). duplicate=True (the broken control) makes x_1 = x_0 with a different label,
    which no function fits (K then has two equal rows)."""
    X, _ = gaussian(jax.random.fold_in(key, 0), n, d)
    k_lab = jax.random.fold_in(key, 1)
    if classes == 2:
        y = jax.random.rademacher(k_lab, (n,), dtype=jnp.int32).astype(X.dtype)
    else:
        y = jax.random.randint(k_lab, (n,), 0, classes)
    if duplicate:
        X = X.at[1].set(X[0])
        y = y.at[1].set(-y[0] if classes == 2 else (y[0] + 1) % classes)
    return X, y


def kernel_check(build_key, X, y, n, d, classes, duplicate=False):
    """Gaussian-kernel interpolation with the median bandwidth on a given dataset: exact fit of
    the targets (+-1, or one-hot for classes > 2) and 100% train accuracy (sign / argmax).
    Deterministic: `build_key` is unused.

    For `jaxmem falsify`: score = log10 cond(K), which blows up as points approach each other
    (K gets two near-equal rows) or the bandwidth outgrows the data; hypothesis = the points
    are distinct and, for classes > 2, the labels are classes in [0, classes) (Gaussian K is
    positive definite on distinct points: the statement's premise)."""
    del build_key, duplicate   # `duplicate` is the sampler's (kernel_dataset)
    Y = y if classes == 2 else kernels.one_hot(y, classes, X.dtype)
    fit = kernels.kernel_interpolate(X, Y)
    pred = kernels.kernel_classify(X, fit["alpha"], X, fit["bandwidth"])
    accuracy = jnp.mean(pred == y)
    diff = X[:, None, :] - X[None, :, :]
    same = jnp.all(diff == 0, axis=-1) & ~jnp.eye(X.shape[0], dtype=bool)
    distinct = ~jnp.any(same)
    # On distinct points K is positive definite, so the exact interpolant exists and fits
    # (100% accuracy follows from the fit). A K singular to working precision (points 1e-7
    # apart; Gaussian kernels in low dimension are ill-conditioned anyway) or a fit that
    # rounding leaves open is undecided there; only duplicate points make a singular K a
    # failure (the sampler's `duplicate` control).
    return dict(ok=fit["interpolates"] & (accuracy == 1),
                undecided=distinct & (~fit["nonsingular"]
                                      | (fit["decision"] == metrics.UNDECIDED)),
                undecided_points=fit["undecided_points"],
                interpolates=fit["interpolates"], nonsingular=fit["nonsingular"],
                train_accuracy=accuracy, max_residual=fit["max_residual"],
                residual_over_tolerance=fit["residual_over_tolerance"],
                lambda_min=fit["lambda_min"], condition_number=fit["condition_number"],
                bandwidth=fit["bandwidth"],
                hypothesis=distinct,
                score=_log10_ratio(fit["lambda_max"], fit["lambda_min"]))


def kernel_trial(key, n, d, classes, duplicate=False):
    X, y = kernel_dataset(key, n, d, classes, duplicate)
    return kernel_check(jax.random.fold_in(key, 1), X, y, n=n, d=d, classes=classes,
                        duplicate=duplicate)


NTK_GRAM = Claim(
    id="montanari2020.ntk_gram",
    citation=MONTANARI,
    statement=("For n points uniform on S^{d-1}, the Gram matrix of the lazy (NTK) two-layer "
               "ReLU model with N units, K_ik = (1/(N d)) sum_j relu'(<w_j,x_i>) "
               "relu'(<w_j,x_k>) <x_i,x_k>, w_j ~ N(0, I/d), is non-singular once N d >= 2n "
               "(here d >= 6 and N >= 32), so the min-norm lazy network interpolates "
               "arbitrary labels exactly. The theorem's N d >> n, at a measured factor 2."),
    trial=ntk_trial,
    # Every config has N = 2n/d >= 32 and d >= 6 (see NTK_FACTOR).
    grids=dict(quick=pairs([(96, 6), (128, 8)], factor=NTK_FACTOR, datasets=32),
               full=pairs([(96, 6), (128, 8), (256, 8), (256, 16), (512, 16), (512, 32)],
                          factor=NTK_FACTOR, datasets=300)),
    rule=Universal(),
    dataset=ntk_dataset,
    # Montanari-Zhong's points lie on the unit sphere; the labels are arbitrary reals.
    falsify=Falsifiable(check=ntk_check, domain=Domain(points="sphere", labels="real")),
)

MIN_NORM_GD = Claim(
    id="zhang2017.min_norm_gd",
    citation=ZHANG,
    statement=("Gradient descent from w0 = 0 on the least-squares loss of an over-parameterized "
               "linear model (d > n) stays in the row space of X and converges to the "
               "minimum-norm interpolant w* = X^T (X X^T)^{-1} y: the null-space part of w_T "
               "is 0 up to rounding and ||w_T - w*|| <= (1 - mu_min/mu_max)^T ||w*||."),
    trial=gd_trial,
    grids=dict(quick=pairs([(8, 32), (32, 128)], steps=300, datasets=32),
               full=pairs([(8, 32), (32, 128), (64, 256), (128, 512), (100, 1000)],
                          steps=600, datasets=500)),
    rule=Universal(),
    dataset=linear_dataset,
    # Any X and any real labels (Section 5: the linear case, d > n from the config).
    falsify=Falsifiable(check=gd_check, domain=Domain(points="real", labels="real")),
)

KERNEL_INTERPOLATION = Claim(
    id="zhang2017.kernel_interpolation",
    citation=ZHANG,
    statement=("Solving K alpha = y exactly with a Gaussian kernel (median-distance bandwidth) "
               "fits arbitrary labels of n distinct points exactly, +-1 or one-hot multi-class: "
               "the Gaussian kernel matrix is positive definite on distinct points (here "
               "numerically so: d >= 8, lambda_min > n eps lambda_max)."),
    trial=kernel_trial,
    grids=dict(quick=[dict(n=64, d=8, classes=2, datasets=32),
                      dict(n=128, d=16, classes=10, datasets=32)],
               # n = 1024 costs ~1e10 flops per dataset (the eigendecomposition): fewer of them.
               full=(expand(n=[64, 256], d=[8, 16, 64], classes=[2, 10], datasets=200)
                     + expand(n=[1024], d=[16, 64], classes=[2, 10], datasets=20))),
    rule=Universal(),
    dataset=kernel_dataset,
    # Any distinct points; the labels stay the sampler's (+-1 or integer classes: the one-hot
    # targets are built from them, so real-valued search labels would not be labels).
    falsify=Falsifiable(check=kernel_check, domain=Domain(points="real", labels="fixed")),
)

CLAIMS = [NTK_GRAM, MIN_NORM_GD, KERNEL_INTERPOLATION]

register(*CLAIMS)
