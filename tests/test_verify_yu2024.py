"""Yu et al. (NeurIPS 2024) claims: they hold at quick scale (CI runs every claim through
.ci/check_claims.py), and each verdict flips when the statement is broken on purpose."""

import dataclasses

import pytest

from jaxmem.constructions import yu2024 as construction
from jaxmem.verify import yu2024
from jaxmem.claims import run_claim


def _with_grid(claim, configs):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs))


@pytest.mark.slow
def test_memorizes_flips_at_split_one_half():
    configs = [dict(data="cube", N=24, n=2, split=0.5, datasets=8)]
    res = run_claim(_with_grid(yu2024.MEMORIZES, configs))
    assert res.verdict == "VIOLATED" and res.counterexample["metrics"]["margins_ok"]
    assert not res.counterexample["metrics"]["boundary_ok"]
    ok = run_claim(_with_grid(yu2024.MEMORIZES, [dict(data="cube", N=24, n=2, datasets=8)]))
    assert ok.verdict == "HOLDS"


@pytest.mark.slow   # ~2.5 s: one claim program
def test_generalizes_flips_below_the_sample_size():
    """N = 8 samples of a 16-point checkerboard see about 40% of it: accuracy >= 0.8 is rare."""
    configs = [yu2024.checkerboard_config(2, 4, samples=8, datasets=48)]
    assert run_claim(_with_grid(yu2024.GENERALIZES, configs)).verdict == "VIOLATED"


@pytest.mark.slow   # ~2.8 s: one claim program
def test_coverage_flips_without_the_margin(monkeypatch):
    """r = 0 switches every second-layer unit off: F = 0 everywhere, accuracy 0 < coverage."""
    monkeypatch.setattr(construction, "MARGIN_FRACTION", 0.0)
    configs = [yu2024.checkerboard_config(2, 3, samples=20, datasets=4)]
    assert run_claim(_with_grid(yu2024.COVERAGE, configs)).verdict == "VIOLATED"


def test_lemma_h4_flips_at_split_052():
    """At 0.52 / 0.48 the plane passes within 0.48/1.52 < 1/3.1 of its worst case."""
    res = run_claim(_with_grid(yu2024.LEMMA_H4, [dict(n=3, triples=256, split=0.52,
                                                       datasets=2)]))
    assert res.verdict == "VIOLATED" and res.counterexample["metrics"]["min_ratio"] < 1


def test_prop7_7_flips_with_a_too_small_grid_constant():
    configs = [dict(data="checkerboard", n=2, N=90, grid_constant=0.3, datasets=4)]
    assert run_claim(_with_grid(yu2024.PROP7_7, configs)).verdict == "VIOLATED"


@pytest.mark.slow
def test_thm5_3_flips_when_m1_stands_in_for_the_projection_memorizer():
    configs = [dict(data="slabs", N=64, n=3, test_points=1000, memorizer="m1", datasets=2)]
    res = run_claim(_with_grid(yu2024.THM5_3, configs))
    assert res.verdict == "VIOLATED" and res.counterexample["metrics"]["accuracy"] > 0.8
