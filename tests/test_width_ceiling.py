"""The exact width ceiling of Yu et al. (2024), Theorem 5.1: two independent computations agree
(and with 40-digit arithmetic where it converges), brute-force quadrature and Monte Carlo agree
with them, and it has the properties the theorem needs (<= the paper's bound, monotone in w,
-> 1/2 as n grows, 1 for w >= n)."""

import math
import warnings

import jax
import numpy as np
import pytest
from scipy import integrate, stats

from jaxmem.data.ball_annulus import ball_annulus
from jaxmem.metrics.width_ceiling import (bayes_projection_predict, paper_min_dimension,
                                          paper_width_bound, projection_accuracy_ceiling,
                                          projection_crossing_radius)

BIG = [(784, 6), (6595, 6), (10 ** 4, 100), (10 ** 5, 1), (10 ** 5, 6), (10 ** 5, 5 * 10 ** 4),
       (10 ** 5, 10 ** 5 - 1)]


def _naive(n, w):
    """acc* straight from its definition: p1, p2 with (.)_+ powers, min, quad. Small n only."""
    m = (n - w) / 2
    r2, r3 = 2 ** (1 / n), 3 ** (1 / n)
    p1 = lambda r: max(1 - r * r, 0.0) ** m
    p2 = lambda r: max(r3 ** 2 - r * r, 0.0) ** m - max(r2 ** 2 - r * r, 0.0) ** m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        num = integrate.quad(lambda r: min(p1(r), p2(r)) * r ** (w - 1), 0, r3, points=[1, r2],
                             limit=2000, epsabs=1e-14)[0]
        den = integrate.quad(lambda r: p1(r) * r ** (w - 1), 0, 1, limit=2000, epsabs=1e-14)[0]
        den2 = integrate.quad(lambda r: p2(r) * r ** (w - 1), 0, r3, points=[r2], limit=2000,
                              epsabs=1e-14)[0]
    assert den2 == pytest.approx(den, rel=1e-8)      # equal class masses (condition (c2))
    return 1 - 0.5 * num / den


@pytest.mark.parametrize("n, w", [(2, 1), (3, 1), (3, 2), (5, 2), (10, 1), (10, 5), (10, 9),
                                  (30, 5)])
def test_agrees_with_brute_force_quadrature(n, w):
    assert projection_accuracy_ceiling(n, w) == pytest.approx(_naive(n, w), abs=1e-8)


def test_two_methods_agree_up_to_n_1e5():
    for n, w in BIG + [(2, 1), (10, 3), (100, 50)]:
        q = projection_accuracy_ceiling(n, w)
        b = projection_accuracy_ceiling(n, w, "beta")
        assert abs(q - b) <= 3e-12, (n, w, q, b)
        assert 0.5 < q < 1


def test_mpmath_reference():
    """40 digits where mpmath's incomplete Beta converges (values computed once, offline with
    the same formula in mpmath at dps = 40)."""
    ref = {(10, 1): 0.548563899561328271, (784, 6): 0.501643352437408034,
           (10 ** 5, 6): 0.50001283490568862}
    for (n, w), v in ref.items():
        assert projection_accuracy_ceiling(n, w) == pytest.approx(v, abs=1e-15)


@pytest.mark.parametrize("n, w", [(3, 1), (5, 2), (10, 2)])
def test_monte_carlo_bayes_rule_reaches_the_ceiling(n, w):
    """Sample D, keep the first w coordinates, apply the Bayes rule on the projected radius:
    its accuracy is Binomial(N, acc*) / N. Exact two-sided binomial test at level 1e-6."""
    N = 40000
    X, y = ball_annulus(jax.random.key(n * 100 + w), N, n, scale=0.3)
    correct = int(np.sum(np.asarray(bayes_projection_predict(X, w, scale=0.3)) == np.asarray(y)))
    c = projection_accuracy_ceiling(n, w)
    assert stats.binomtest(correct, N, c).pvalue > 1e-6, (correct / N, c)
    # The rule is optimal: moving the threshold loses accuracy (expected gap >> sampling noise).
    for factor in (0.8, 1.25):
        h = np.asarray(X)[:, :w] - 0.5
        moved = np.where(np.sum(h * h, 1) < (0.3 * factor * projection_crossing_radius(n, w)) ** 2,
                         1, -1)
        assert np.sum(moved == np.asarray(y)) < correct


def test_crossing_is_where_the_fibre_volumes_meet():
    for n, w in [(3, 2), (10, 1), (30, 5)]:
        r = projection_crossing_radius(n, w)
        m = (n - w) / 2
        p1 = (1 - r * r) ** m
        p2 = (3 ** (2 / n) - r * r) ** m - (2 ** (2 / n) - r * r) ** m
        assert 0 < r < 1 and p1 == pytest.approx(p2, rel=1e-10)


def test_properties_monotone_limits_and_full_width():
    for n in (10, 200):
        c = [projection_accuracy_ceiling(n, w) for w in range(1, n)]
        assert np.all(np.diff(c) > 0) and c[0] > 0.5      # more projected dimensions help
    for w in (1, 5):
        c = [projection_accuracy_ceiling(n, w) for n in (10, 100, 1000, 10 ** 4, 10 ** 5)]
        assert np.all(np.diff(c) < 0) and 0.5 < c[-1] < 0.5 + 1e-4   # -> 1/2 as n grows
    for n, w in [(1, 1), (3, 3), (3, 7), (100, 100)]:
        assert projection_accuracy_ceiling(n, w) == 1.0
        assert projection_accuracy_ceiling(n, w, "beta") == 1.0


def test_below_the_papers_bound_everywhere():
    pairs = [(n, w) for n in range(2, 41) for w in range(1, n)] + BIG
    for n, w in pairs:
        assert projection_accuracy_ceiling(n, w) <= paper_width_bound(n, w) + 1e-12, (n, w)
    for w in (1, 2, 3, 6, 10):
        assert projection_accuracy_ceiling(paper_min_dimension(w), w) <= 0.51


def test_papers_table_and_dimension():
    """docs/papers/yu2024.md §5.B.3 (the table is the spec for these 4-decimal values) and §2.2."""
    table = {(3, 1): 0.7537, (5, 1): 0.6664, (10, 1): 0.5891, (20, 1): 0.5461, (50, 1): 0.5188,
             (100, 1): 0.5095, (1000, 1): 0.5010, (10, 2): 0.6664, (20, 2): 0.5891,
             (100, 5): 0.5461, (784, 6): 0.5073}
    for (n, w), v in table.items():
        assert round(paper_width_bound(n, w), 4) == v, (n, w)
    assert paper_width_bound(5, 5) == 1.0
    assert [paper_min_dimension(w) for w in (1, 2, 3, 6)] == [1100, 2199, 3298, 6595]
    for w in (1, 7, 50):
        n = paper_min_dimension(w)
        assert 3 ** (w / n) < 1.001 <= 3 ** (w / (n - 1)) and n > w * math.log(3) / math.log(1.001)


@pytest.mark.parametrize("call, match", [
    (lambda: projection_accuracy_ceiling(0, 1), "n must be a positive int"),
    (lambda: projection_accuracy_ceiling(5, 1.5), "w must be a positive int"),
    (lambda: projection_accuracy_ceiling(5, True), "w must be"),
    (lambda: projection_accuracy_ceiling(5, 1, "simpson"), "unknown method"),
    (lambda: paper_width_bound(-1, 1), "n must be"),
    (lambda: paper_min_dimension(0), "w must be")])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
