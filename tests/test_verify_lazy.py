"""verify.lazy: breaking each claim's hypothesis on purpose (fewer parameters than points, too
few units, a nonzero GD start, a duplicated point with conflicting labels) flips its verdict to
VIOLATED with a counterexample that shows why, and --reproduce rebuilds a dataset.

That every claim HOLDS at quick scale (all datasets pass) is checked once, by CI's claims
step (.ci/check_claims.py: `jaxmem verify` at quick scale, every registered claim must HOLD),
not again here."""

import dataclasses

import jax
import numpy as np
import pytest

from jaxmem.training import kernels
from jaxmem import claims as C
from jaxmem.verify import lazy


# One OpenBLAS thread for the eigensolvers and SVDs (tests/conftest.py says why).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _broken(claim, config):
    """The claim with a one-config grid at both scales (a deliberately false instance)."""
    return dataclasses.replace(claim, grids=dict(quick=[config], full=[config]))


def test_claims_are_well_formed():
    ids = [c.id for c in lazy.CLAIMS]
    assert len(set(ids)) == len(ids) and "montanari2020.ntk_gram" in ids
    assert "zhang2017.min_norm_gd" in ids and "zhang2017.kernel_interpolation" in ids
    for claim in lazy.CLAIMS:
        assert isinstance(claim.rule, C.Universal) and claim.dataset is not None
        assert claim.citation and claim.statement
        assert len(claim.grids["full"]) >= len(claim.grids["quick"])
    # The NTK grids sit in the regime the statement names: N d >= 2n, N >= 32, d >= 6.
    for cfg in lazy.NTK_GRAM.grids["quick"] + lazy.NTK_GRAM.grids["full"]:
        width = kernels.ntk_width_for(cfg["n"], cfg["d"], cfg["factor"])
        assert width * cfg["d"] >= 2 * cfg["n"] and width >= 32 and cfg["d"] >= 6


@pytest.mark.slow
def test_ntk_claim_is_violated_with_fewer_parameters_than_points():
    broken = _broken(lazy.NTK_GRAM, dict(n=48, d=6, factor=0.5, datasets=4))   # N d = 24 < 48
    res = C.run_claim(broken, "quick")
    assert res.verdict == "VIOLATED" and res.n_passed == 0
    m = res.counterexample["metrics"]
    assert not m["nonsingular"] and m["rank"] <= m["param_count"] == 24
    assert m["max_residual"] > 0.1


@pytest.mark.slow
def test_ntk_claim_is_violated_when_few_units_leave_a_point_dead():
    # N d = 2n still, but N = 4: a point is dead for all 4 units with probability 1/16 each.
    broken = _broken(lazy.NTK_GRAM, dict(n=32, d=16, factor=2, datasets=4))
    res = C.run_claim(broken, "quick")
    assert res.verdict == "VIOLATED"
    m = res.counterexample["metrics"]
    assert m["width"] == 4 and m["dead_points"] >= 1 and m["singular_by_pattern"]
    assert not m["nonsingular"]


def test_min_norm_gd_claim_is_violated_from_a_random_start():
    broken = _broken(lazy.MIN_NORM_GD, dict(n=8, d=32, steps=300, init="random", datasets=4))
    res = C.run_claim(broken, "quick")
    assert res.verdict == "VIOLATED" and res.n_passed == 0
    m = res.counterexample["metrics"]
    # The null-space part of w0 survives GD unchanged, far above rounding.
    assert m["null_preserved"] and m["null_component"] > 1e6 * m["null_tolerance"]
    assert m["null_component"] == pytest.approx(m["initial_null_component"], rel=1e-9)


def test_kernel_claim_is_violated_on_a_duplicated_point():
    broken = _broken(lazy.KERNEL_INTERPOLATION,
                     dict(n=64, d=8, classes=2, duplicate=True, datasets=4))
    res = C.run_claim(broken, "quick")
    assert res.verdict == "VIOLATED" and res.n_passed == 0
    m = res.counterexample["metrics"]
    assert not m["nonsingular"] and m["train_accuracy"] < 1


def test_reproduce_rebuilds_a_dataset_and_its_verdict():
    # The dataset function jitted (one compilation instead of a dozen op by op); the same
    # claim otherwise: dataset 3's chunk of the quick grid's first config is recomputed.
    claim = dataclasses.replace(lazy.MIN_NORM_GD, dataset=jax.jit(
        lazy.linear_dataset, static_argnames=("n", "d", "steps")))
    out = C.reproduce(claim, 3, "quick")
    cfg = lazy.MIN_NORM_GD.grids["quick"][0]
    assert out["passed"] and out["X"].shape == (cfg["n"], cfg["d"])
    assert out["y"].shape == (cfg["n"],)
    # The rebuilt dataset gives the trial's minimum norm.
    w_star = np.linalg.pinv(out["X"]) @ out["y"]
    assert out["metrics"]["min_norm"] == pytest.approx(np.linalg.norm(w_star), rel=1e-10)
