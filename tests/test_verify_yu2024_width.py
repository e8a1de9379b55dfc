"""Claims of Yu et al. (2024), Theorem 5.1 (verify.yu2024_width): both hold on small grids,
and each flips to VIOLATED when broken on purpose (a first layer wider than the ceiling
assumes; a wrong closed-form bound)."""

import dataclasses
import functools

import numpy as np
import pytest

from jaxmem.metrics.width_ceiling import paper_min_dimension, projection_accuracy_ceiling
from jaxmem.sweep import dataset_keys
from jaxmem import claims as C
from jaxmem.verify import yu2024_width as Y

SMALL = dict(n_train=256, n_test=2000, steps=150, hidden=16, lr=1e-2, delta=1e-3)


def _with_grid(claim, grid, **trial_kwargs):
    trial = functools.partial(claim.trial, **trial_kwargs)   # a new trial: traced afresh
    return dataclasses.replace(claim, trial=trial, grids=dict(quick=grid, full=claim.grids["full"]))


@pytest.mark.slow
def test_width_claim_holds_and_reports_ceiling_and_bound():
    cfg = dict(n=10, widths=(1, 5), datasets=3, **SMALL)
    claim = _with_grid(Y.WIDTH, [cfg])
    res = C.run_claim(claim, "quick")
    assert res.verdict == "HOLDS", res.detail
    outs = C.run_config(claim, cfg, 0)                       # compiled above: cheap
    c = [projection_accuracy_ceiling(10, w) for w in (1, 5)]
    np.testing.assert_allclose(outs["ceiling"], np.broadcast_to(c, (3, 2)), rtol=0, atol=0)
    assert np.all(outs["ceiling"] <= outs["paper_bound"])
    assert np.all(outs["trained_first_width"] == [1, 5])
    assert np.all((outs["allowance"] > 0.02) & (outs["allowance"] < 0.04))   # ~3.1 sigma
    assert np.all(outs["test_accuracy"] <= outs["ceiling"] + outs["allowance"])
    # The Bayes rule on the test sample sits at the ceiling (within ~4 sigma at n_test = 2000).
    assert np.all(np.abs(outs["bayes_test_accuracy"] - outs["ceiling"]) < 0.05)
    X, y = claim.dataset(dataset_keys(0, C.stream_config(claim, cfg), [0])[0],
                         **C.trial_config(claim, cfg))
    assert X.shape == (256, 10) and set(np.unique(np.asarray(y))) == {-1.0, 1.0}


@pytest.mark.slow
def test_width_claim_catches_a_first_layer_wider_than_assumed():
    """Networks of first width 32 > n = 5 checked against the ceiling for w = 1 (0.60)."""
    cfg = dict(n=5, widths=(1,), datasets=2, **SMALL)
    res = C.run_claim(_with_grid(Y.WIDTH, [cfg], trained_widths=(32,)), "quick")
    assert res.verdict == "VIOLATED", res.detail
    m = res.counterexample["metrics"]
    assert m["test_accuracy"][0] > 0.8 and m["max_excess"] > 0.15 and m["widths_ok"] == [False]


def test_ceiling_claim_holds_and_catches_a_wrong_bound(monkeypatch):
    assert C.run_claim(Y.CEILING, "quick").verdict == "HOLDS"
    pairs = {(c["n"], c["w"]) for c in Y.CEILING.grids["quick"]}
    assert {(paper_min_dimension(w), w) for w in (1, 2, 3, 6)} <= pairs
    # A bound with w and n - w swapped in the exponent is below the true ceiling somewhere.
    monkeypatch.setattr(Y, "paper_width_bound",
                        lambda n, w: 1 - 0.5 * (3 ** (w / n) - 2 ** (w / n)))
    grid = [dict(n=10, w=1, datasets=1), dict(n=10, w=9, datasets=1)]
    res = C.run_claim(_with_grid(Y.CEILING, grid), "quick")
    assert res.verdict == "VIOLATED", res.detail


def test_grids_meet_the_hypothesis():
    for scale in C.SCALES:
        for cfg in Y.WIDTH.configs(scale):
            assert all(1 <= w < cfg["n"] for w in cfg["widths"]), cfg
            assert 0 < cfg["delta"] <= 1e-3 and cfg["n_test"] >= 4000
        for cfg in Y.CEILING.configs(scale):
            assert 1 <= cfg["w"] < cfg["n"] and cfg["datasets"] == 1
    assert [c.id for c in Y.CLAIMS] == ["yu2024.thm5_1.width", "yu2024.thm5_1.ceiling"]
    assert all(c.citation.startswith("Yu, Gao, Zhang, Miao") for c in Y.CLAIMS)
