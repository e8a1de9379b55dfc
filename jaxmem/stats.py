"""Confidence intervals shared by the claim rules (verify/) and `jaxmem results show`."""

from __future__ import annotations

from scipy import stats


def clopper_pearson(k: int, n: int, confidence: float, side: str = "two") -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials.

    side="two": central interval at `confidence`; "lower"/"upper": the one-sided bound at
    `confidence` (the other end is 0 or 1).
    """
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    tail = alpha / 2 if side == "two" else alpha
    lo = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    if side == "lower":
        hi = 1.0
    elif side == "upper":
        lo = 0.0
    return lo, hi


__all__ = ["clopper_pearson"]
