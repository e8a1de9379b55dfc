"""The statistics jaxmem reports, one copy each: binomial intervals (Clopper-Pearson for
verdicts and tables, Wilson for figure bands), the t-interval of a mean over draws, and the
log-log power-law fit (scaling claims,
experiments' slopes). Used by the claim rules, `jaxmem results show` and the experiments."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile, scipy.stats.norm.ppf(0.975)


def clopper_pearson(k: int, n: int, confidence: float, side: str = "two") -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials.

    side="two": central interval at `confidence`; "lower"/"upper": the one-sided bound at
    `confidence` (the other end is 0 or 1).
    """
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    tail = alpha / 2 if side == "two" else alpha
    from scipy import stats  # here: scipy.stats costs ~0.7 s of every CLI start

    lo = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    if side == "lower":
        hi = 1.0
    elif side == "upper":
        lo = 0.0
    return lo, hi


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (sensible at 0 and 1); (NaN, NaN)
    for no trials."""
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    denom = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (max(0.0, center - half), min(1.0, center + half))


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided t-interval of the mean of `values` (independent draws); (NaN, NaN) with
    fewer than two values, (mean, mean) when they are all equal."""
    v = np.asarray(values, np.float64)
    if v.size < 2:
        return (math.nan, math.nan)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return (float(v.mean()) - half, float(v.mean()) + half)


def fit_exponent(x, y, confidence: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope of log y on log x with its two-sided t-interval."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(np.unique(lx)) < 2:
        raise ValueError("a scaling fit needs at least two distinct x values")
    A = np.stack([lx, np.ones_like(lx)], 1)
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    resid = ly - A @ coef
    dof = len(lx) - 2
    s2 = float(resid @ resid) / max(dof, 1)
    se = np.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    from scipy import stats

    t = stats.t.ppf(0.5 + confidence / 2, max(dof, 1))
    return float(coef[0]), float(coef[0] - t * se), float(coef[0] + t * se)


def loglog_slope(xs, ys) -> float:
    """`fit_exponent`'s slope over the points with x, y > 0; NaN without two distinct such x."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    keep = (xs > 0) & (ys > 0)
    if len(np.unique(xs[keep])) < 2:
        return math.nan
    return fit_exponent(xs[keep], ys[keep])[0]


__all__ = ["Z95", "clopper_pearson", "fit_exponent", "loglog_slope", "wilson"]
