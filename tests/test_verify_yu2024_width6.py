"""Theorem 4.1 claims (verify/yu2024_width6.py): each verdict flips when the statement is broken
on purpose. (They HOLD at quick scale: CI runs every claim through .ci/check_claims.py.)"""

import dataclasses

import pytest

from jaxmem.verify import yu2024_width6 as claims
from jaxmem.claims import Probabilistic, run_claim


def _with_grid(claim, configs, **changes):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs), **changes)


@pytest.mark.slow
def test_thm4_1_flips_with_lemma_b4_as_printed():
    ok = run_claim(_with_grid(claims.THM4_1, [dict(N=16, n=3, datasets=3)]))
    bad = run_claim(_with_grid(claims.THM4_1, [dict(N=16, n=3, ramp="paper", datasets=3)]))
    assert ok.verdict == "HOLDS"
    assert bad.verdict == "VIOLATED" and bad.counterexample["metrics"]["memorized_fraction"] < 1


@pytest.mark.slow
def test_params_flip_with_linear_blocks():
    """Blocks of N/2 points: two registers, each with N/2 slots: params per stage ~ N."""
    configs = [dict(N=N, n=2, block_fraction=0.5, datasets=1) for N in (8, 16, 32)]
    res = run_claim(_with_grid(claims.PARAMS, configs))
    assert res.verdict == "VIOLATED" and res.exponent > 0.8


@pytest.mark.slow
def test_lemma_b2_flips_with_half_the_failure_bound():
    """The failure rate is ~1.27 / T (Gaussian limit), under 2 / T but over 1 / T."""
    configs = [dict(n=20, T=claims.T_QUICK, datasets=3000)]
    half = Probabilistic(p=1 - 1 / claims.T_QUICK)
    assert run_claim(_with_grid(claims.LEMMA_B2, configs, rule=half)).verdict == "VIOLATED"


def test_acceptance_flips_with_a_larger_threshold():
    configs = [dict(N=16, n=3, threshold_scale=64.0, datasets=200)]
    assert run_claim(_with_grid(claims.ACCEPTANCE, configs)).verdict == "VIOLATED"
