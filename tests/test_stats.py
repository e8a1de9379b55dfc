"""jaxmem.stats, the one copy of the intervals and the log-log fit."""

import math

import numpy as np
import pytest

from jaxmem import stats


def test_wilson_and_clopper_pearson_agree_in_shape():
    for k, n in [(0, 20), (7, 20), (20, 20), (300, 1000)]:
        wl, wh = stats.wilson(k, n)
        cl, ch = stats.clopper_pearson(k, n, 0.95)
        assert 0 <= wl <= k / n <= wh <= 1 and 0 <= cl <= k / n <= ch <= 1
        assert abs(wl - cl) < 0.06 and abs(wh - ch) < 0.06
    # Wilson's interval at k = 0: [0, z^2 / (n + z^2)]
    assert stats.wilson(0, 20)[1] == pytest.approx(stats.Z95 ** 2 / (20 + stats.Z95 ** 2))
    assert all(math.isnan(v) for v in stats.wilson(0, 0))


def test_loglog_slope_is_the_fit_exponent_over_positive_points():
    x = np.array([1.0, 2.0, 4.0, 8.0, 0.0, 16.0])
    y = np.array([3.0, 3 * 2 ** 1.5, 3 * 4 ** 1.5, 3 * 8 ** 1.5, 5.0, -1.0])
    assert stats.loglog_slope(x, y) == pytest.approx(1.5, rel=1e-12)
    assert stats.fit_exponent(x[:4], y[:4])[0] == pytest.approx(1.5, rel=1e-12)
    assert math.isnan(stats.loglog_slope([1.0, 1.0], [2.0, 3.0]))


def test_mean_interval_is_the_t_interval_and_covers_at_its_level():
    from scipy import stats as scipy_stats

    from jaxmem.stats import mean_interval
    values = [0.9, 0.95, 0.92, 0.97, 0.91]
    expected = scipy_stats.t.interval(0.95, 4, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert mean_interval(values) == pytest.approx(expected, rel=1e-12)
    assert mean_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(np.isnan(mean_interval([0.5])))
    # Coverage: 95% intervals from 5 normal draws hold the true mean about 95% of the time.
    rng = np.random.default_rng(0)
    hits = [lo <= 1.0 <= hi for lo, hi in
            (mean_interval(rng.normal(1.0, 2.0, 5)) for _ in range(4000))]
    assert 0.935 < np.mean(hits) < 0.965
