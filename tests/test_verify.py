"""Verdict rules: each flips when a claim is broken on purpose, and a VIOLATED verdict's
seed and index rebuild the failing dataset."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmem.claims
from jaxmem import metrics, network
from jaxmem.constructions import zhang2017
from jaxmem.data import gaussian
from jaxmem.network import Layer, Network
from jaxmem.sweep import expand
from jaxmem import claims as C
from jaxmem.verify import zhang2017 as zhang_claims


def _data(key, n, d):
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


# The test claims' `dataset` (what --reproduce rebuilds): _data compiled once per shape
# instead of run op by op.
_dataset = jax.jit(_data, static_argnames=("n", "d"))


def perturbed_trial(key, n, d, rel=1e-6):
    """Theorem 1's network with one output weight changed by a relative 1e-6."""
    X, y = _data(key, n, d)
    net, _ = zhang2017.build(jax.random.fold_in(key, 1), X, y)
    out = net.layers[1]
    W = out.weight.at[n // 2, 0].multiply(1 + rel)
    net = Network((net.layers[0], dataclasses.replace(out, weight=W)))
    return dict(ok=metrics.interpolates(net, X, y), err=metrics.max_abs_error(net, X, y))


def non_interleaving_trial(key, n, d):
    """Knots placed after their own point (theta = 1.5): A is no longer triangular."""
    X, y = _data(key, n, d)
    a = jax.random.normal(jax.random.fold_in(key, 1), (d,))
    t = X @ a
    order = jnp.argsort(t)
    ts, ys = t[order], y[order]
    b = zhang2017._knots(ts, 1.5)
    w = zhang2017._weights(ts, ys, b)
    net = Network((Layer(a[:, None], -b, shared=True),
                   Layer(w[:, None], jnp.zeros(1), activation="identity")))
    return dict(ok=metrics.interpolates(net, X, y))


def coin_trial(key, n, d, p_fail=0.5):
    """Correct on most datasets, broken (perturbed) on a random fraction p_fail of them: one
    network per dataset, Theorem 1's, with its output weight changed by a relative 1e-3 where
    broken and by 0 (exactly: the construction itself) elsewhere."""
    broken = jax.random.uniform(jax.random.fold_in(key, 7)) < p_fail
    return dict(ok=perturbed_trial(key, n, d, rel=jnp.where(broken, 1e-3, 0.0))["ok"])


def _claim(trial, rule, datasets=24, **axes):
    grid = expand(datasets=datasets, **axes)
    return C.Claim(id="test." + trial.__name__, citation="test", statement="test",
                   trial=trial, grids=dict(quick=grid, full=grid), rule=rule,
                   dataset=_dataset)


# Theorem 1's trial (zhang2017.thm1_trial, shared by THM1 and WEIGHT_GROWTH) at the shapes of
# the scaling test: the engine caches a compiled block program per (trial, config, block
# size), so the tests below that run THM1 reuse its compilations instead of adding their own.
THM1_GRID = expand(n=[32, 512], d=[10], datasets=24)


@pytest.mark.slow
def test_universal_holds_for_the_real_construction():
    claim = dataclasses.replace(zhang_claims.THM1,
                                grids=dict(quick=THM1_GRID,
                                           full=expand(n=[5], d=[2], datasets=1)))
    res = C.run_claim(claim)
    assert res.verdict == "HOLDS" and res.n_datasets == 48 and res.pass_rate == 1.0
    assert res.ci_low < 1.0 == res.ci_high


@pytest.mark.slow
@pytest.mark.parametrize("trial", [perturbed_trial, non_interleaving_trial])
def test_universal_flips_and_counterexample_reproduces(trial):
    # One config: the failure is at global index 0 (a second config would only compile
    # another program; indices across configs: test_counterexample_index_points_at_the_
    # failing_dataset).
    claim = _claim(trial, C.Universal(), n=[30], d=[3])
    res = C.run_claim(claim, seed=5)
    assert res.verdict == "VIOLATED"
    cex = res.counterexample
    assert cex["global_index"] == 0 and cex["seed"] == 5   # it fails on the very first dataset
    # not registered: the hint is the Python call that rebuilds it
    assert f"reproduce(claim, {cex['global_index']}, scale='quick', seed=5)" in res.detail
    again = C.reproduce(claim, cex["global_index"], seed=5)
    assert again["passed"] is False
    assert again["metrics"] == cex["metrics"]               # bit-for-bit the same failure
    X, y = again["X"], again["y"]
    X_ref, y_ref = _dataset(C.dataset_keys(5, C.stream_config(claim, cex["config"]), [0])[0],
                            n=30, d=3)
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)


@pytest.mark.slow
def test_counterexample_index_points_at_the_failing_dataset():
    """Only the second config breaks: the global index must land inside it."""
    def second_config_breaks(key, n, d):
        # The second config is perturbed_trial at test_universal_flips_and_counterexample_
        # reproduces' shapes (n = 30, d = 3, 24 datasets): the same program, which XLA's cache
        # holds when that test ran first. The first config passes without a network.
        if n < 30:
            return dict(ok=jnp.asarray(True), err=jnp.zeros(()))
        return perturbed_trial(key, n, d)
    grid = [dict(n=3, d=1, datasets=24), dict(n=30, d=3, datasets=24)]
    claim = dataclasses.replace(_claim(second_config_breaks, C.Universal()),
                                grids=dict(quick=grid, full=grid))
    res = C.run_claim(claim)
    assert res.verdict == "VIOLATED" and res.counterexample["global_index"] == 24
    assert C.locate(claim, "quick", 24) == (claim.grids["quick"][1], 0)
    assert C.reproduce(claim, 24)["passed"] is False
    assert C.reproduce(claim, 23)["passed"] is True


@pytest.mark.slow
def test_probabilistic_rule_flips():
    # Blocks of 10 datasets throughout: the 200-dataset runs and the 10-dataset one share one
    # compiled program (datasets do not depend on the block size).
    claim = _claim(coin_trial, C.Probabilistic(p=0.99), datasets=200, n=[20], d=[2])
    res = C.run_claim(claim, chunk_size=10)
    assert res.verdict == "VIOLATED" and 0.3 < res.pass_rate < 0.7
    assert res.ci_high < 0.99
    holds = C.run_claim(dataclasses.replace(claim, rule=C.Probabilistic(p=0.3)), chunk_size=10)
    assert holds.verdict == "HOLDS" and holds.ci_low >= 0.3
    few = dataclasses.replace(claim, grids=dict(quick=expand(n=[20], d=[2], datasets=10),
                                                full=claim.grids["full"]),
                              rule=C.Probabilistic(p=0.5))
    assert C.run_claim(few, chunk_size=10).verdict == "INCONCLUSIVE"


@pytest.mark.slow
def test_scaling_rule_flips():
    # The two ends of n = 32..512: a middle n (at the mean of log n) would not move the
    # fitted slope, only add a compilation; the same datasets as THM1_GRID's.
    growth = dataclasses.replace(zhang_claims.WEIGHT_GROWTH,
                                 grids=dict(quick=THM1_GRID,
                                            full=expand(n=[32], d=[10], datasets=1)))
    res = C.run_claim(growth)
    assert res.verdict == "HOLDS" and 1.5 <= res.ci_low <= res.exponent <= res.ci_high <= 2.5
    flat = dataclasses.replace(growth, rule=C.Scaling(x="n", y="max_abs_weight", predicted=0.0,
                                                      band=(-0.25, 0.25)))
    assert C.run_claim(flat).verdict == "VIOLATED"


def noisy_power_trial(key, n, alpha=1.0, noise=0.3):
    """y = n^alpha times log-normal noise: a scaling fit with a wide interval."""
    return dict(y=n ** alpha * jnp.exp(noise * jax.random.normal(key)))


def test_scaling_needs_the_whole_interval_in_the_band():
    """The band is set so that the point estimate lies inside it but the interval does not:
    INCONCLUSIVE (a rule that looked at the point estimate would say HOLDS); the interval
    wholly outside: VIOLATED; wholly inside: HOLDS."""
    claim = _claim(noisy_power_trial, C.Scaling(x="n", y="y", predicted=1.0, band=(0, 2)),
                   datasets=6, n=[10, 40])          # two n: a slope and its interval
    fit = C.run_claim(claim)
    alpha, lo, hi = fit.exponent, fit.ci_low, fit.ci_high
    assert fit.verdict == "HOLDS" and lo < alpha < hi and hi - lo > 0.1
    straddles = dataclasses.replace(claim, rule=C.Scaling(
        x="n", y="y", predicted=alpha, band=((lo + alpha) / 2, hi + 1)))
    assert C.run_claim(straddles).verdict == "INCONCLUSIVE"
    outside = dataclasses.replace(claim, rule=C.Scaling(x="n", y="y", predicted=hi + 1,
                                                        band=(hi + 0.5, hi + 2)))
    assert C.run_claim(outside).verdict == "VIOLATED"


def test_scaling_names_the_first_dataset_left_out_of_the_fit():
    def sometimes_nan(key, n):
        y = noisy_power_trial(key, n)["y"]
        return dict(y=jnp.where(jax.random.uniform(jax.random.fold_in(key, 3)) < 0.3, jnp.nan, y))
    claim = dataclasses.replace(_claim(sometimes_nan, C.Scaling(x="n", y="y", predicted=1.0,
                                                                band=(0, 2)),
                                       datasets=8, n=[10, 40]), dataset=None)
    res = C.run_claim(claim)
    cex = res.counterexample
    assert cex is not None and np.isnan(cex["metrics"]["y"])
    assert f"reproduce(claim, {cex['global_index']}," in res.detail
    assert "non-positive values dropped" in res.detail
    assert np.isnan(C.reproduce(claim, cex["global_index"])["metrics"]["y"])


def fraction_fails_trial(key, n, d, p_fail=0.42):
    """Passes on about 58% of datasets, fails on the rest."""
    return dict(ok=jax.random.uniform(key) >= p_fail)


def test_universal_is_violated_by_a_minority_of_failures():
    """A trial failing ~42% of its datasets (not all of them) is VIOLATED, and so is one
    failing a single dataset out of 40."""
    res = C.run_claim(_claim(fraction_fails_trial, C.Universal(), datasets=40, n=[3], d=[1]))
    assert res.verdict == "VIOLATED" and 0.2 < 1 - res.pass_rate < 0.7
    assert f"{res.n_datasets - res.n_passed} of 40 datasets fail" in res.detail

    def one_failure(key, n, d):
        return dict(ok=jax.random.uniform(key) < 0.975)
    res = C.run_claim(_claim(one_failure, C.Universal(), datasets=40, n=[3], d=[1]))
    assert res.n_datasets - res.n_passed >= 1 and res.verdict == "VIOLATED"


def undecided_trial(key, n, d, p_open=0.3, p_fail=0.0):
    """Every dataset passes, fails or is undecided (ok must then be ignored: it says True)."""
    r = jax.random.uniform(key)
    undecided = r < p_open
    return dict(ok=(r >= p_open + p_fail) | undecided, undecided=undecided)


def test_undecided_datasets_are_never_passes():
    claim = _claim(undecided_trial, C.Universal(), datasets=40, n=[3], d=[1])
    res = C.run_claim(claim)
    assert res.verdict == "INCONCLUSIVE" and res.n_undecided > 0
    assert res.n_passed == 40 - res.n_undecided
    assert f"{res.n_undecided} of 40 datasets undecided" in res.detail
    assert "jaxmem.claims.reproduce(claim, " in res.detail and "not registered" in res.detail
    again = C.reproduce(claim, res.counterexample["global_index"])
    assert again["undecided"] and again["passed"] is False
    # A decided failure outranks the undecided ones.
    failing = _claim(lambda key, n, d: undecided_trial(key, n, d, p_fail=0.3), C.Universal(),
                     datasets=40, n=[3], d=[1])
    assert C.run_claim(failing).verdict == "VIOLATED"


def test_probabilistic_counts_undecided_against_the_claim_in_the_lower_bound():
    """70% pass and 30% are undecided: counted as passes the lower bound would clear 0.75;
    counted soundly (failures for the lower bound, passes for the upper), it cannot."""
    claim = _claim(undecided_trial, C.Probabilistic(p=0.75), datasets=300, n=[3], d=[1])
    res = C.run_claim(claim)
    k, u, n = res.n_passed, res.n_undecided, res.n_datasets
    assert u > 50 and C.clopper_pearson(k + u, n, 0.95, "lower")[0] >= 0.75
    assert res.verdict == "INCONCLUSIVE" and res.ci_low < 0.75 <= res.ci_high
    assert f"{u} undecided" in res.detail


def test_exact_step_decides_within_its_budget():
    """A claim whose trial leaves datasets undecided and whose exact step decides them:
    HOLDS with a budget, INCONCLUSIVE with none (what the budget leaves stays undecided)."""
    def decide(key, n, d, **_):
        return dict(ok=True, undecided=False)
    claim = dataclasses.replace(_claim(undecided_trial, C.Universal(), datasets=20, n=[3],
                                       d=[1]), exact=decide)
    res = C.run_claim(claim)
    assert res.verdict == "HOLDS" and res.n_redecided > 0 and res.n_undecided == 0
    starved = C.run_claim(claim, exact_budget=0)
    assert starved.verdict == "INCONCLUSIVE" and starved.n_redecided == 0


@pytest.mark.slow
def test_theorem1_count_is_read_off_the_network(monkeypatch):
    """The same function with a dense, unshared first layer reports the same 2n + d through
    the construction's info; the claim counts the network's own parameters and fails."""
    real_build = zhang2017.build

    def dense_build(key, X, y, **options):
        net, info = real_build(key, X, y, **options)
        return network.dense(net), info

    def trial(key, n, d):     # a new function: compiled afresh, with the patch in place
        return zhang_claims.thm1_trial(key, n, d)

    grid = THM1_GRID[:1]      # n = 32, d = 10
    claim = dataclasses.replace(zhang_claims.THM1, trial=trial, grids=dict(quick=grid, full=grid))
    monkeypatch.setattr(zhang_claims.zhang2017, "build", dense_build)
    res = C.run_claim(claim)
    assert res.verdict == "VIOLATED"
    # the dense network's distinct parameters: 32 (10 + 1) + 32 + 1, less the output bias slot
    assert res.counterexample["metrics"]["shared_param_count"] == 32 * 11 + 32
    monkeypatch.setattr(zhang_claims.zhang2017, "build", real_build)
    # The same grid with the real build, through Theorem 1's own trial (never traced with the
    # patch: the patched runs went through `trial`): HOLDS.
    assert C.run_claim(dataclasses.replace(claim, trial=zhang_claims.thm1_trial)).verdict == \
        "HOLDS"


def test_lemma1_smallest_eigenvalue_is_checked_against_the_knots():
    """A wrong prediction of Lemma 1's smallest eigenvalue (the smallest gap t_i - t_{i-1}
    instead of min_i (t_i - b_i)) must fail the host's comparison with the eigensolver."""
    def wrong_prediction(outs, config):
        # A_i1 = t_i - b_1 (b_1 < t_1 <= t_i): its successive differences are the gaps
        # t_i - t_(i-1). Put in before the host's comparison, so the trial is LEMMA1's own
        # (its program is compiled once, for both runs).
        gaps = np.diff(outs["A"][:, :, 0], axis=1)
        return zhang_claims.lemma1_host(dict(outs, min_t_minus_b=np.min(gaps, axis=1)), config)

    grid = expand(n=[8], d=[3], datasets=4)
    lemma = dataclasses.replace(zhang_claims.LEMMA1, grids=dict(quick=grid, full=grid))
    assert C.run_claim(lemma).verdict == "HOLDS"
    broken = dataclasses.replace(lemma, host=wrong_prediction)
    res = C.run_claim(broken)
    assert res.verdict == "VIOLATED"
    assert not res.counterexample["metrics"]["min_eigenvalue_is_min_gap"]


def test_ci_expects_holds_from_every_claim_with_a_verdict_rule():
    """The CI claims step compares each verdict with the one its rule can give: a run where
    every claim says INFO fails, as does any INCONCLUSIVE."""
    registry = jaxmem.claims.all_claims()
    good = [dict(id=c.id, verdict=C.expected_verdict(c)) for c in registry]
    assert C.ci_failures(good, registry) == []
    all_info = [dict(id=c.id, verdict="INFO") for c in registry]
    failures = C.ci_failures(all_info, registry)
    assert "zhang2017.thm1" in failures and len(failures) == sum(
        not isinstance(c.rule, C.Informational) for c in registry)
    assert C.ci_failures(good[1:], registry) == [registry[0].id]       # missing
    one_open = [dict(r, verdict="INCONCLUSIVE") if r["id"] == "bubeck2020.relu" else r
                for r in good]
    assert C.ci_failures(one_open, registry) == ["bubeck2020.relu"]


def test_clopper_pearson_closed_forms():
    # k = n: the one-sided lower bound solves p^n = alpha; k = 0: (1 - p)^n = alpha.
    lo, hi = C.clopper_pearson(50, 50, 0.95, "lower")
    assert lo == pytest.approx(0.05 ** (1 / 50), rel=1e-12) and hi == 1.0
    lo, hi = C.clopper_pearson(0, 50, 0.95, "upper")
    assert hi == pytest.approx(1 - 0.05 ** (1 / 50), rel=1e-12) and lo == 0.0
    lo, hi = C.clopper_pearson(30, 60, 0.95)
    assert lo < 0.5 < hi and lo == pytest.approx(1 - hi, rel=1e-12)   # symmetric at k = n/2


def test_fit_exponent_recovers_a_power_law():
    x = np.repeat([10.0, 20.0, 40.0, 80.0], 5)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.01, x.size))
    alpha, lo, hi = C.fit_exponent(x, 3 * x ** 1.7 * noise)
    assert lo < 1.7 < hi and hi - lo < 0.05
    with pytest.raises(ValueError, match="two distinct"):
        C.fit_exponent([5.0, 5.0], [1.0, 2.0])


@pytest.mark.slow
def test_datasets_do_not_depend_on_chunk_size_or_count():
    claim = zhang_claims.THM1
    cfg = dict(THM1_GRID[0], datasets=10)            # n = 32, d = 10
    a = C.run_config(claim, cfg, seed=1, chunk_size=3)
    b = C.run_config(claim, dict(cfg, datasets=24), seed=1, chunk_size=24)
    for k in ("shared_param_count", "param_count", "ok"):
        assert np.array_equal(a[k], b[k][:10])
    np.testing.assert_allclose(a["min_gap"], b["min_gap"][:10], rtol=0, atol=0)


def test_registry_has_the_issue_claims_with_both_scales():
    ids = [c.id for c in jaxmem.claims.all_claims()]
    for required in ("zhang2017.thm1", "zhang2017.lemma1", "zhang2017.depth_k",
                     "bubeck2020.relu", "baum1988.threshold", "precision.float32"):
        assert required in ids
    assert len(ids) == len(set(ids))
    for claim in jaxmem.claims.all_claims():
        assert claim.configs("quick") and claim.configs("full")
    with pytest.raises(KeyError, match="unknown claim"):
        jaxmem.claims.get("nope.claim")


def test_claim_grid_validation():
    with pytest.raises(ValueError, match="datasets"):
        C.Claim(id="x", citation="", statement="", trial=perturbed_trial,
                grids=dict(quick=[dict(n=3, d=1)], full=[dict(n=3, d=1, datasets=1)]),
                rule=C.Universal())
    with pytest.raises(ValueError, match="out of range"):
        C.locate(zhang_claims.THM1, "quick", 10 ** 6)
