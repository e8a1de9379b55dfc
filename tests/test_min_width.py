"""The minimum memorizing width: bisection logic on known curves, the logistic fit, one real
training round, the claims' trials, and the experiment through the store."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.store import Store
from jaxmem.training import min_width, mlp


def _threshold_evaluator(threshold, seeds=4, calls=None):
    def evaluate(widths):
        if calls is not None:
            calls.append(list(widths))
        return {w: np.full(seeds, w >= threshold) for w in widths}
    return evaluate


@pytest.mark.parametrize("threshold", [1, 2, 7, 37, 100, 128])
def test_bisection_finds_a_sharp_threshold_exactly(threshold):
    problem = min_width.Problem(n=128, d=8, seeds=4)     # n/d = 16: widths 1..128
    calls = []
    out = min_width.min_memorizing_width(problem, None, None,
                                         evaluate=_threshold_evaluator(threshold, calls=calls))
    assert out["m_star"] == threshold
    tried = [w for c in calls for w in c]
    assert len(tried) == len(set(tried))                 # no width trained twice
    assert len(calls) <= 4                               # a few parallel rounds, not a scan
    lo, hi = out["bracket"]
    assert hi == threshold and (lo is None or lo == threshold - 1)
    assert math.isclose(out["ratio"], threshold * 8 / 128)
    assert math.isclose(out["parameter_ratio"], mlp.param_count(8, threshold) / 128)


def test_no_width_memorizes():
    problem = min_width.Problem(n=64, d=4, seeds=2)
    out = min_width.min_memorizing_width(problem, None, None,
                                         evaluate=_threshold_evaluator(10 ** 6))
    assert out["m_star"] is None and math.isnan(out["ratio"])


def test_logistic_fit_recovers_a_known_transition():
    rng = np.random.default_rng(0)
    m_half, scale = 20.0, 0.15
    samples = []
    for w in (8, 12, 16, 18, 20, 22, 25, 30, 40, 60):
        p = 1 / (1 + np.exp(-(np.log(w) - np.log(m_half)) / scale))
        samples.append((w, rng.random(400) < p))
    fit = min_width.logistic_fit(samples)
    assert abs(fit["m_half"] / m_half - 1) < 0.03
    assert abs(fit["scale"] / scale - 1) < 0.15
    np.testing.assert_allclose(fit["w90_over_w10"], 81 ** fit["scale"])
    assert math.isnan(min_width.logistic_fit([(4, np.ones(5, bool))])["m_half"])


def test_transition_ratio_on_the_monotone_envelope():
    step = {1: 0.0, 2: 0.0, 4: 1.0, 8: 1.0}
    soft = {1: 0.0, 2: 0.3, 4: 0.6, 8: 1.0}
    assert min_width.transition_ratio(soft) > min_width.transition_ratio(step) >= 1
    # A dip (noise) above the first 0.9 does not move the crossing.
    assert min_width.transition_ratio({1: 0.0, 2: 0.3, 4: 0.6, 8: 1.0, 16: 0.8}) == \
        min_width.transition_ratio(soft)
    assert math.isnan(min_width.transition_ratio({1: 0.5, 2: 1.0}))


def test_first_round_is_geometric_in_units_of_n_over_d():
    problem = min_width.Problem(n=256, d=8)
    assert min_width.first_round(problem) == [2, 4, 8, 16, 32, 64, 128, 256]
    assert min_width.first_round(problem, max_ratio=4) == [2, 4, 8, 16, 32, 64, 128]
    assert min_width.padded_width([3, 5, 9]) == 16
    with pytest.raises(ValueError, match="labels"):
        min_width.Problem(n=8, d=2, labels="binary")


# The cell (n = 8, d = 2) of the experiment test's size and its first round of widths: the
# success-curve test and the experiment then share one compiled training program (16 lanes of
# width 16), instead of compiling one each.
CELL = dict(n=8, d=2, labels="sign", optimizer="adam", lr=3e-2, max_steps=200, seeds=2)
CELL_WIDTHS = [1, 2, 4, 8, 16]


@pytest.mark.slow
def test_success_curve_uses_the_same_data_and_init_at_every_width():
    problem = min_width.Problem(**CELL)
    data_key, init_key = jax.random.key(0), jax.random.key(1)
    res = min_width.success_curve(problem, CELL_WIDTHS, data_key, init_key)
    assert res["memorized"].shape == (5, 2) and res["lanes"] == 16   # padded to 8 widths
    assert res["memorized"][-1].all() and not res["memorized"][0].all()
    # The same call trains the widest width exactly as mlp.train does on the drawn data: here
    # 8 copies of every seed's dataset and initialization, all at width 16 (the lane count of
    # the call above, so the same program); every copy must match.
    X, y = min_width.draw(problem, data_key)
    lanes = res["lanes"] // problem.seeds
    direct = mlp.train(problem.trainer(16), jnp.tile(X, (lanes, 1, 1)),
                       jnp.tile(y, (lanes, 1)),
                       jnp.tile(min_width.init_keys(problem, init_key), lanes), width=16,
                       lr=problem.lr)
    for copy in range(lanes):
        lane = slice(copy * problem.seeds, (copy + 1) * problem.seeds)
        np.testing.assert_array_equal(direct.memorized[lane], res["memorized"][-1])
        np.testing.assert_array_equal(direct.steps_to_fit[lane], res["steps_to_fit"][-1])


# --- the claims' trials ----------------------------------------------------------------------

def test_counting_bound_widths_are_exactly_those_with_fewer_parameters_than_points():
    from jaxmem.verify import gd_width
    widths = gd_width.below_bound_widths(40, 4)
    assert widths == tuple(range(1, 7))       # 6 * 6 + 1 = 37 < 40 <= 7 * 6 + 1 = 43
    assert all(mlp.param_count(4, m) < 40 for m in widths)
    assert mlp.param_count(4, widths[-1] + 1) >= 40
    assert gd_width.candidate_widths(64, 4) == (4, 6, 8, 11, 16, 23, 32, 45, 64)


@pytest.mark.slow
def test_counting_claim_holds_and_flips_without_training_budget():
    import dataclasses

    from jaxmem.verify import gd_width
    from jaxmem.claims import run_claim
    claim = next(c for c in gd_width.CLAIMS if c.id == "gd_width.counting_bound")
    # At this size the two compilations, not the training, are the cost: compiled at the
    # tests' (lowered) optimization level instead of the claim's mlp.OPTIMIZED they take about
    # half as long, and the training loops (2 datasets, <= 1500 steps) stay short.
    claim = dataclasses.replace(claim, compiler_options=None)
    small = dict(n=12, d=2, steps=1500, datasets=2)
    ok = run_claim(dataclasses.replace(claim, grids={"quick": [small], "full": [small]}))
    assert ok.verdict == "HOLDS", ok.detail
    # Five steps cannot fit the control: the claim must not pass vacuously.
    starved = dict(small, steps=5)
    bad = run_claim(dataclasses.replace(claim, grids={"quick": [starved], "full": [starved]}))
    assert bad.verdict == "VIOLATED"


# --- the experiment --------------------------------------------------------------------------

@pytest.mark.slow
def test_experiment_is_resumable_and_renders_from_the_store(tmp_path):
    from jaxmem.experiments import gd_min_width as exp
    size = dict(dims=(2,), ratios=(2, 4), seeds=2, settings=(("sign", "adam", 3e-2, 200, 4),))
    with Store(tmp_path / "s.sqlite") as store:
        first = exp.run(store, "quick", size=size, progress=False)
        assert first["computed"] > 0 and first["skipped"] == 0
        again = exp.run(store, "quick", size=size, progress=False)
        assert again["computed"] == 0 and again["skipped"] == first["computed"]
        assert [c["m_star"] for c in again["cells"]] == [c["m_star"] for c in first["cells"]]
        paths = exp.render(store, {exp.NAME: again["run_id"]}, str(tmp_path / "out"))
    assert {p.rsplit("/", 1)[-1] for p in paths} == {
        "gd_min_width.csv", "gd_min_width.png", "gd_min_width_ratio.png", "gd_min_width.md"}
    md = (tmp_path / "out" / "gd_min_width.md").read_text()
    for cell in first["cells"]:
        assert f"| {cell['n']} | {cell['n'] // 2} | {cell['m_star']} |" in md


def test_bad_bisection_arguments_are_named():
    problem = min_width.Problem(n=8, d=2)
    evaluate = _threshold_evaluator(2, seeds=1)
    for kwargs, name in ((dict(per_round=0), "per_round"), (dict(first_widths=[2, 0]),
                                                           "first_widths"),
                         (dict(max_rounds=-1), "max_rounds")):
        with pytest.raises(ValueError, match=name):
            min_width.min_memorizing_width(problem, None, None, evaluate=evaluate, **kwargs)
