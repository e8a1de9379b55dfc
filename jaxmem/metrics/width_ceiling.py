"""The best accuracy a first layer of width w allows on Yu et al.'s hard distribution.

Yu, Gao, Zhang, Miao (NeurIPS 2024), Theorem 5.1 and App. D: a network whose first hidden layer
has w < n units depends on x only through W1 x, i.e. (Lemma D.2) through an orthogonal
projection onto a subspace of dimension <= w. On D(n, q, r1, r2, r3) (jaxmem.data.ball_annulus)
its accuracy is therefore at most the Bayes accuracy of that projection.

Derivation (radii unscaled, r1 = 1; everything here is scale-free). Both classes have the same
density lambda in R^n. Write x - q = (h, z), h the projection (|h| = rho), z in R^{n-w}. The
fibre over h meets the ball in an (n-w)-ball of radius (1 - rho^2)^{1/2} and the annulus in the
difference of two (n-w)-balls of radii (r3^2 - rho^2)^{1/2}, (r2^2 - rho^2)^{1/2} (the paper's
Lemma D.4), so the projected class densities are lambda V_{n-w} p_i(rho) with

    p1(rho) = (1 - rho^2)_+^m,  p2(rho) = (r3^2 - rho^2)_+^m - (r2^2 - rho^2)_+^m,  m = (n-w)/2.

The Bayes rule takes the larger; its error is the integral of the smaller over h in R^w (radial
weight rho^{w-1}), divided by the total mass, twice that of class +1:

    acc* = 1 - 1/2 int_0^inf min(p1, p2) rho^{w-1} drho / int_0^1 p1 rho^{w-1} drho.

Since p1 = 0 beyond rho = 1, only [0, 1] contributes to the numerator. With t = 1 - rho^2 the
ratio p2/p1 = (1 + e3/t)^m - (1 + e2/t)^m (e_k = r_k^2 - 1) increases as rho grows (for every
m > 0), from R(0) = 3^{1-w/n} - 2^{1-w/n} < 1 to infinity: ONE crossing rho*, below which
min = p2 and above which min = p1. Two consequences:

* min(p1, p2) >= R(0) p1, so acc* <= 1 - R(0)/2 = `paper_width_bound` (yu2024.md §5.B.3's bound,
  which this argument extends from w <= n - 2 to w = n - 1);
* the Bayes rule on the projection is "+1 iff |h| < r1 rho*" (`bayes_projection_predict`).

With s = rho^2 the pieces are incomplete Beta integrals (a = w/2, b = m + 1, r_k^n = k):

    acc* = 1 - 1/2 [3 I_{s*/r3^2}(a, b) - 2 I_{s*/r2^2}(a, b) + 1 - I_{s*}(a, b)],

I the regularized incomplete Beta function. The default method ("quadrature") integrates
the log-space integrands adaptively: split at rho*, around the peak of rho^{w-1} p1 and at
rho = 1, with rho = 1 - v^2 on the last piece to remove the (1 - rho)^m endpoint singularity.
The closed form ("beta") is an independent check; the two agree to 2e-12 up to n = 10^5, and
the quadrature matches 40-digit mpmath to 2e-16 where the Beta form (SciPy's betainc at
b ~ n/2) drifts by up to ~1e-12.
Host-side float64 NumPy/SciPy: not jitted, n and w are Python ints.
"""

from __future__ import annotations

import functools
import math
import warnings

import jax.numpy as jnp
import numpy as np
import scipy  # submodules load on first use (scipy.optimize alone is ~0.5 s of a CLI start)

from jaxmem.data.validate import positive_int

METHODS = ("quadrature", "beta")
_LN2, _LN3 = math.log(2.0), math.log(3.0)


def _check(n, w) -> tuple[int, int]:
    return positive_int("n", n), positive_int("w", w)


# ---------------------------------------------------------------------------------------------
# The paper's closed-form bound and dimension
# ---------------------------------------------------------------------------------------------


def paper_width_bound(n: int, w: int) -> float:
    """1 - 1/2 (3^{1-w/n} - 2^{1-w/n}): the general (n, w) bound of docs/papers/yu2024.md §5.B.3,
    from min(p1, p2) >= R(0) p1. Stated for w <= n - 2; the monotone ratio (module docstring)
    makes it valid for w = n - 1 too. 1 for w >= n (no bound)."""
    n, w = _check(n, w)
    if w >= n:
        return 1.0
    a = 1.0 - w / n
    return 1.0 - 0.5 * (3.0**a - 2.0**a)


def paper_min_dimension(w: int) -> int:
    """The smallest n with 3^{w/n} < 1.001 (Lemma D.8: then r3^{n-w} - r2^{n-w} > 0.99 r1^{n-w}
    and the accuracy is <= 0.51), i.e. the smallest n > w ln 3 / ln 1.001."""
    w = positive_int("w", w)
    n = int(w * _LN3 / math.log1p(0.001)) + 1
    while 3.0 ** (w / n) >= 1.001:  # guard the float rounding of the threshold
        n += 1
    while n > 1 and 3.0 ** (w / (n - 1)) < 1.001:
        n -= 1
    return n


# ---------------------------------------------------------------------------------------------
# The exact ceiling
# ---------------------------------------------------------------------------------------------


def _gaps(n: int) -> tuple[float, float]:
    """e2 = r2^2 - 1 and e3 = r3^2 - 1 (r1 = 1), without cancellation: ~ 1.39/n, 2.20/n."""
    return math.expm1(2 * _LN2 / n), math.expm1(2 * _LN3 / n)


def _log_ratio(t, n: int, w: int):
    """log(p2 / p1) at 1 - rho^2 = t > 0: m log1p(e3/t) + log(1 - ((t + e2)/(t + e3))^m).
    The difference of two nearly equal powers is taken as -expm1 of a log1p (no cancellation)."""
    m = 0.5 * (n - w)
    e2, e3 = _gaps(n)
    return m * np.log1p(e3 / t) + np.log(-np.expm1(m * np.log1p((e2 - e3) / (t + e3))))


def _crossing_s(n: int, w: int) -> float:
    """s* = rho*^2 in (0, 1), the one root of p1 = p2 (the ratio is monotone), found in the
    logit of s so that both s* ~ w/n (large n) and 1 - s* keep full relative precision."""

    def f(z):
        return _log_ratio(scipy.special.expit(-z), n, w)  # t = 1 - s = expit(-z)

    lo, hi = -700.0, 700.0
    if f(lo) >= 0:  # R(0) = 3^{1-w/n} - 2^{1-w/n} < 1 for w >= 1; guard against rounding
        return 0.0
    z = scipy.optimize.brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(scipy.special.expit(z))


def projection_crossing_radius(n: int, w: int) -> float:
    """rho* / r1: the Bayes rule on a w-dimensional projection predicts +1 iff the projected
    distance to q is below r1 rho*. For w >= n the full radius is seen; the threshold is then
    the middle of the gap, (1 + 2^{1/n}) / 2."""
    n, w = _check(n, w)
    if w >= n:
        return 0.5 * (1.0 + 2.0 ** (1.0 / n))
    return math.sqrt(_crossing_s(n, w))


def _ceiling_beta(n: int, w: int) -> float:
    a, b = 0.5 * w, 0.5 * (n - w) + 1.0
    s = _crossing_s(n, w)
    # s* / r_k^2 = s* exp(-2 ln k / n); r_k^n = k weighs each incomplete Beta term.
    i3 = scipy.special.betainc(a, b, s * math.exp(-2 * _LN3 / n))
    i2 = scipy.special.betainc(a, b, s * math.exp(-2 * _LN2 / n))
    below = 3.0 * i3 - 2.0 * i2  # int_0^{rho*} p2, over int p1
    above = scipy.special.betaincc(a, b, s)  # int_{rho*}^1 p1, over int p1
    return float(1.0 - 0.5 * (below + above))


def _log_p1(rho, delta, n, w):
    """log(rho^{w-1} p1) with delta = 1 - rho given separately (exact near rho = 1)."""
    return scipy.special.xlogy(w - 1, rho) + 0.5 * (n - w) * np.log(delta * (2 - delta))


def _log_p2(rho, delta, n, w):
    """log(rho^{w-1} p2) for rho < 1: log p1 + log(p2 / p1)."""
    return _log_p1(rho, delta, n, w) + _log_ratio(delta * (2 - delta), n, w)


def _quad(f, a, b, points):
    """Adaptive Gauss-Kronrod on [a, b] with breakpoints; the error estimate is checked here
    (QUADPACK's roundoff warnings are replaced by this check)."""
    if b <= a:
        return 0.0
    inner = sorted({p for p in points if a < p < b})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
        val, err = scipy.integrate.quad(
            f, a, b, points=inner or None, epsabs=0.0, epsrel=1e-13, limit=1000
        )
    if not err <= 1e-10 * abs(val) + 1e-300:
        raise RuntimeError(f"quadrature did not converge on [{a}, {b}]: {val} +- {err}")
    return val


def _marks(mode, sigma):
    """Breakpoints around the peak of rho^{w-1} p1, so that the adaptive rule sees it at n = 1e5."""
    return [mode + k * sigma for k in (-64, -16, -4, -1, 0, 1, 4, 16, 64)]


def _piece_to_one(logf, a, n, w, offset, mode, sigma):
    """int_a^1 exp(logf(rho, 1 - rho) - offset) drho with rho = 1 - v^2: (1 - rho)^m drho
    becomes 2 v^{2m+1} dv, smooth since 2m + 1 = n - w + 1 is an integer."""

    def g(v):
        return 2.0 * v * np.exp(logf(1.0 - v * v, v * v, n, w) - offset)

    v_marks = [math.sqrt(1.0 - p) for p in _marks(mode, sigma) if a < p < 1]
    return _quad(g, 0.0, math.sqrt(1.0 - a), v_marks)


def _piece_direct(logf, a, b, n, w, offset, mode, sigma):
    """int_a^b exp(logf(rho, 1 - rho) - offset) drho, for b < 1."""
    return _quad(lambda r: np.exp(logf(r, 1.0 - r, n, w) - offset), a, b, _marks(mode, sigma))


def _ceiling_quadrature(n: int, w: int) -> float:
    m = 0.5 * (n - w)
    mode = math.sqrt((w - 1) / (n - 1)) if n > 1 else 0.0  # argmax of rho^{w-1} p1
    curvature = (
        (w - 1) / mode**2 + 2 * m * (1 + mode**2) / (1 - mode**2) ** 2 if mode > 0 else 2 * m
    )
    sigma = 1.0 / math.sqrt(curvature)  # width of the peak
    offset = float(_log_p1(mode, 1.0 - mode, n, w)) if mode > 0 else 0.0
    r_star = math.sqrt(_crossing_s(n, w))
    # Below rho*: min = p2; above: min = p1. Normaliser: int_0^1 p1 (p1 and p2 have equal mass).
    below = _piece_direct(_log_p2, 0.0, r_star, n, w, offset, mode, sigma)
    above = _piece_to_one(_log_p1, r_star, n, w, offset, mode, sigma)
    total = _piece_direct(_log_p1, 0.0, r_star, n, w, offset, mode, sigma) + above
    return float(1.0 - 0.5 * (below + above) / total)


def projection_accuracy_ceiling(n: int, w: int, method: str = "quadrature") -> float:
    """The exact best accuracy of any function of a w-dimensional orthogonal projection of x
    on D(n, q, r1, 2^{1/n} r1, 3^{1/n} r1) (any r1, any projection: the distribution is
    rotation invariant about q). 1 for w >= n. method: "quadrature" (default) or "beta" (the
    incomplete-Beta closed form, an independent check); see the module docstring."""
    n, w = _check(n, w)  # before the cache: True == 1 would hit it
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    return _ceiling(n, w, method)


@functools.lru_cache(maxsize=4096)
def _ceiling(n: int, w: int, method: str) -> float:
    if w >= n:
        return 1.0
    return _ceiling_beta(n, w) if method == "beta" else _ceiling_quadrature(n, w)


def bayes_projection_predict(X, w: int, *, scale=None) -> jnp.ndarray:
    """The Bayes rule of the projection onto the first w coordinates: +1 iff the projected
    distance to q = (1/2, ..., 1/2) is below r1 rho*, else -1. Its accuracy on D is
    `projection_accuracy_ceiling(n, w)` (n = X.shape[-1]). Works under jit (w, scale static)."""
    from jaxmem.data.ball_annulus import ball_annulus_radii

    n = X.shape[-1]
    w = positive_int("w", w)
    r1, _, _ = ball_annulus_radii(n, scale)
    threshold = r1 * projection_crossing_radius(n, min(w, n))
    h = X[..., : min(w, n)] - 0.5
    return jnp.where(jnp.sum(h * h, axis=-1) < threshold**2, 1, -1).astype(X.dtype)


__all__ = [
    "METHODS",
    "bayes_projection_predict",
    "paper_min_dimension",
    "paper_width_bound",
    "projection_accuracy_ceiling",
    "projection_crossing_radius",
]
