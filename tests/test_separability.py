"""Linear separability (jaxmem.metrics.separability) and its claims (verify.separability):
exact certificates both ways, known cases, Cover's count on every labelling of a point set,
the screen against the LP, Lemma G.4 and G.5 in both directions, and each claim HOLDS at a tiny
size and turns VIOLATED when its statement is broken on purpose."""

import dataclasses
import itertools
from fractions import Fraction

import numpy as np
import pytest

from jaxmem import exact
from jaxmem.metrics import separability as sep
from jaxmem.verify import separability as vsep
from jaxmem.claims import run_claim


def _exact_separates(X, y, w, b) -> bool:
    X = np.asarray(X, np.float64)
    return all((Fraction(float(b)) + sum(Fraction(float(wk)) * Fraction(float(xk))
                                         for wk, xk in zip(w, x))) * int(yi) > 0
               for x, yi in zip(X, y))


def _exact_farkas_ok(X, y, lam_exact, affine=True) -> bool:
    """lam >= 0, sum lam = 1 and sum lam_i y_i (x_i, 1) = 0, all in exact rationals."""
    X = np.asarray(X, np.float64)
    rows = [[Fraction(float(v)) for v in x] + ([Fraction(1)] if affine else []) for x in X]
    total = [sum(l * int(yi) * r[k] for l, yi, r in zip(lam_exact, y, rows))
             for k in range(len(rows[0]))]
    return (all(l >= 0 for l in lam_exact) and sum(lam_exact) == 1
            and all(v == 0 for v in total))


# --- the exact decision ----------------------------------------------------------------------

def test_xor_is_not_separable_with_an_exact_farkas_certificate():
    X = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], float)
    y = np.array([1, 1, -1, -1])
    separable, cert = sep.linearly_separable(X, y)
    assert not separable and cert["kind"] == "farkas" and cert["exact"]
    assert _exact_farkas_ok(X, y, cert["lam_exact"])
    assert cert["lam"].min() >= 0 and abs(cert["lam"].sum() - 1) < 1e-12
    assert cert["residual"] < 1e-9
    # Flip one label: separable, and the separator is exact.
    y2 = np.array([1, -1, -1, -1])
    separable, cert = sep.linearly_separable(X, y2)
    assert separable and cert["exact"] and cert["float_proof"]
    assert _exact_separates(X, y2, cert["w"], cert["b"])


def test_two_distinct_points_are_always_separable():
    rng = np.random.default_rng(0)
    for _ in range(10):
        X = rng.normal(size=(2, 3))
        for y in ([1, -1], [-1, 1], [1, 1]):
            separable, cert = sep.linearly_separable(X, np.array(y))
            assert separable and _exact_separates(X, y, cert["w"], cert["b"])


def test_homogeneous_general_position_n_le_d_is_always_separable():
    """n <= d Gaussian points are linearly independent: every labelling is separable through
    the origin (Cover: C(n, d) = 2^n)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 3))
    for y in itertools.product((-1, 1), repeat=3):
        separable, cert = sep.linearly_separable(X, np.array(y), affine=False)
        assert separable and cert["b"] == 0.0 and _exact_separates(X, y, cert["w"], 0)


def test_homogeneous_differs_from_affine():
    """x = 1 (+1) and x = 2 (-1) lie on one ray from the origin: a threshold separates them,
    no hyperplane through the origin does (exact certificate: 2/3 z_1 + 1/3 z_2 = 0)."""
    X, y = np.array([[1.0], [2.0]]), np.array([1, -1])
    assert sep.linearly_separable(X, y, affine=True)[0]
    separable, cert = sep.linearly_separable(X, y, affine=False)
    assert not separable and cert["exact"]
    assert list(cert["lam_exact"]) == [Fraction(2, 3), Fraction(1, 3)]
    assert _exact_farkas_ok(X, y, cert["lam_exact"], affine=False)
    # The origin itself is never strictly separated through the origin.
    assert not sep.linearly_separable(np.zeros((1, 2)), np.array([1]), affine=False)[0]


def test_random_datasets_carry_exact_certificates_both_ways():
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(12):
        X, y = rng.uniform(size=(7, 2)), rng.choice([-1, 1], 7)
        separable, cert = sep.linearly_separable(X, y)
        seen.add(separable)
        if separable:
            assert _exact_separates(X, y, cert["w"], cert["b"])
        else:
            assert cert["exact"] and _exact_farkas_ok(X, y, cert["lam_exact"])
    assert seen == {True, False}


def test_bad_input_names_the_row():
    X = np.zeros((3, 2))
    X[1] = [0.5, 0.5]
    X[2] = [1.0, 0.0]
    with pytest.raises(ValueError, match=r"rows 1 .*row 1 is 0"):
        sep.linearly_separable(X, np.array([1, 0, -1]))
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2, column 1"):
        sep.linearly_separable(bad, np.array([1, -1, 1]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        sep.linearly_separable(X, np.array([1, -1]))
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        sep.linearly_separable(np.zeros(3), np.array([1, -1, 1]))
    dup = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="rows 0 and 2 are the same point"):
        sep.linearly_separable(dup, np.array([1, 1, -1]))
    with pytest.raises(ValueError, match="dataset 1: .*rows 0 and 2"):
        sep.separable_batch(np.stack([X, dup]), np.array([[1, -1, 1], [1, 1, -1]]))
    with pytest.raises(ValueError, match="ys must have shape"):
        sep.separable_batch(np.stack([X, X]), np.ones((2, 2)))


# --- Cover's count, the screen and the LP ----------------------------------------------------

def test_cover_count_formula():
    assert [sep.cover_count(n, 1) for n in (1, 2, 5)] == [2, 2, 2]
    assert sep.cover_count(4, 2) == 2 * (1 + 3)
    assert sep.cover_count(10, 5) == 2 ** 9          # n = 2D: exactly half
    assert all(sep.cover_count(n, D) == 2 ** n for n in range(1, 7) for D in range(n, 9))
    assert sep.cover_probability(10, 5) == Fraction(1, 2)
    assert sep.cover_probability(10, 4, affine=True) == Fraction(1, 2)
    with pytest.raises(ValueError, match="n >= 1"):
        sep.cover_count(0, 2)


@pytest.fixture(scope="module")
def labellings():
    """All 64 labellings of 6 fixed points: in R^3 (through the origin) and in R^2 (with a
    bias). Both are signed points of shape (64, 6, 3): one compiled screen for both."""
    rng = np.random.default_rng(3)
    y = np.array(list(itertools.product((-1.0, 1.0), repeat=6)))
    out = {}
    for affine, d in ((False, 3), (True, 2)):
        X = np.broadcast_to(rng.normal(size=(6, d)), (64, 6, d)).copy()
        out[affine] = (X, y, sep.decide_batch(X, y, affine))
    return out


@pytest.mark.parametrize("affine", [False, True])
def test_cover_count_is_exact_on_every_labelling(labellings, affine):
    """Cover's function counting theorem, exactly: C(6, 3) = 32 of the 64 labellings of 6
    points in general position are separable in R^3 through the origin, and in R^2 with a
    bias (D = d + 1 = 3). The LP-exact batch decision agrees with one LP per labelling."""
    X, y, res = labellings[affine]
    assert int(res["separable"].sum()) == sep.cover_count(6, 3) == 32
    single = [sep.linearly_separable(X[k], y[k], affine, exact=False)[0] for k in range(64)]
    np.testing.assert_array_equal(res["separable"], single)
    # The screen only ever proves separability, and leaves the rest to the LP.
    assert not (res["screen_decided"] & ~res["separable"]).any()
    assert res["screen_decided"].sum() > 0
    assert res["lp_calls"] == int((~res["screen_decided"]).sum())


def test_screen_directions_separate_exactly(labellings):
    import jax.numpy as jnp
    X, y, res = labellings[True]
    Z = sep.signed_points(jnp.asarray(X), jnp.asarray(y), True)
    out = sep._screen_batch(Z, jnp.ones((64, 6), bool), sep.SCREEN_ITERS)
    decided = np.asarray(out["decided"])
    np.testing.assert_array_equal(decided, res["screen_decided"])
    for k in np.flatnonzero(decided):
        v = np.asarray(out["direction"][k])
        assert _exact_separates(X[k], y[k], v[:-1], v[-1])


# --- Lemma G.4 -------------------------------------------------------------------------------

def test_width1_memorizer_is_exact_with_the_formula_count():
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(9, 3))
    y = np.where(X @ np.array([1.0, -2.0, 0.5]) > 0.0, 1, -1)
    y[0], y[1] = 1, -1
    for depth in (2, 4):
        net = sep.width1_memorizer(X, y, depth=depth)
        assert sep.memorizes_exactly(net, X, y)
        assert sep.hidden_widths(net) == (1,) * (depth - 1) and sep.depth(net) == depth
        assert exact.param_count(net) == (3 + 1) + 2 * (depth - 1)
        assert sep.monotone_along_projection(net, X)
    with pytest.raises(ValueError, match="not linearly separable"):
        sep.width1_memorizer(np.array([[0, 0], [1, 1], [0, 1], [1, 0]], float),
                             np.array([1, 1, -1, -1]))
    with pytest.raises(ValueError, match="depth"):
        sep.width1_memorizer(X, y, depth=1)


def test_width1_networks_are_monotone_and_never_memorize_xor():
    """Lemma G.4's converse: every width-1 network (any depth) is monotone along its first
    projection, so none of them memorizes a non-separable dataset; width 2 is not monotone."""
    rng = np.random.default_rng(5)
    X = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [0.5, 0.25]], float)
    y = np.array([1, 1, -1, -1, 1])
    assert not sep.linearly_separable(X, y)[0]
    for _ in range(150):
        net = sep.random_width_network(rng, 2, int(rng.integers(2, 6)), width=1)
        assert sep.monotone_along_projection(net, X)
        assert not sep.memorizes_exactly(net, X, y)
    wide = [sep.monotone_along_projection(sep.random_width_network(rng, 2, 2, width=2), X)
            for _ in range(40)]
    assert not all(wide)
    # A width-2 network does memorize 1-D data that no width-1 network can: + - + on a line.
    t, y3 = np.array([0.0, 0.5, 1.0]), np.array([1, -1, 1])
    assert not sep.linearly_separable(t[:, None], y3)[0]
    net = sep.interval_memorizer(t, y3)
    assert sep.memorizes_exactly(net, t, y3)
    assert not sep.monotone_along_projection(net, t[:, None])


# --- Lemma G.5 -------------------------------------------------------------------------------

def test_interval_condition_known_cases():
    t = np.array([0.3, 0.1, 0.2, 0.4])            # unsorted on purpose
    assert sep.interval_condition(t, np.array([1, 1, -1, 1]))      # sorted: + - + +
    assert sep.interval_condition(t, np.array([-1, -1, 1, -1]))
    assert not sep.interval_condition(t, np.array([1, 1, -1, -1]))  # sorted: + - + -
    assert sep.interval_condition(t, np.array([-1, 1, -1, 1]))      # sorted: + - - +
    assert sep.interval_condition(t, np.ones(4))
    assert sep.label_runs(t, np.array([1, 1, -1, -1])) == 4
    with pytest.raises(ValueError, match="same point with different labels"):
        sep.interval_condition(np.array([0.1, 0.2, 0.1]), np.array([1, -1, -1]))


def test_interval_condition_is_at_most_three_runs():
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.125])
    for y in itertools.product((-1, 1), repeat=6):
        y = np.array(y)
        assert sep.interval_condition(t, y) == (sep.label_runs(t, y) <= 3)


def test_lemma_g5_both_directions_on_every_labelling():
    """On all 32 labellings of 5 points: the exact enumeration of width-2 depth-2 networks
    agrees with the interval condition (and its width-1 version with linear separability);
    every witness and every interval network memorizes exactly with 7 parameters."""
    t = np.array([0.5, 0.0, 0.875, 0.25, 0.625])
    both = set()
    for y in itertools.product((-1, 1), repeat=5):
        y = np.array(y)
        cond = sep.interval_condition(t, y)
        exists, witness = sep.width2_depth2_memorizer_exists(t, y)
        assert exists == cond
        both.add(cond)
        assert sep.width2_depth2_memorizer_exists(t, y, units=1)[0] == \
            sep.linearly_separable(t[:, None], y, exact=False)[0]
        if exists:
            assert sep.memorizes_exactly(witness, t, y) and exact.param_count(witness) == 7
            net = sep.interval_memorizer(t, y)
            assert sep.memorizes_exactly(net, t, y)
            assert exact.param_count(net) == 7 and sep.hidden_widths(net) == (2,)
        else:
            with pytest.raises(ValueError, match="neither"):
                sep.interval_memorizer(t, y)
    assert both == {True, False}


def test_interval_memorizer_uses_the_papers_constants_on_unit_data():
    """- + + - on [0,1]: the proof's network, with T = 8/(x_1 - b) and t = (a - x_{-1})/4."""
    t, y = np.array([0.0, 0.25, 0.5, 0.75]), np.array([-1, 1, 1, -1])
    net = sep.interval_memorizer(t, y)
    a, b, x_m1, x_1 = Fraction(1, 4), Fraction(1, 2), Fraction(0), Fraction(3, 4)
    assert list(net.layers[0].bias) == [-(x_m1 + a) / 2, -(x_1 + b) / 2]
    assert net.layers[1].weight[1, 0] == -8 / (x_1 - b)
    assert net.layers[1].bias[0] == -(a - x_m1) / 4
    assert sep.memorizes_exactly(net, t, y)
    # Off [0,1] the paper's T = 8/(x_1 - b) is too small (its proof uses x <= 1): at x = 30
    # its network is positive. The derived T memorizes exactly.
    far = np.array([-10.0, 0.0, 1.0, 30.0])
    a, b, x_m1, x_1 = Fraction(0), Fraction(1), Fraction(-10), Fraction(30)
    paper = exact.make([
        exact.layer([[1, 1]], [-(x_m1 + a) / 2, -(x_1 + b) / 2], "relu"),
        exact.layer([[1], [-8 / (x_1 - b)]], [-(a - x_m1) / 4], "identity")])
    assert not sep.memorizes_exactly(paper, far, y)
    net = sep.interval_memorizer(far, y)
    assert sep.memorizes_exactly(net, far, y) and exact.param_count(net) == 7


# --- the claims: HOLD at a tiny size, flip when broken ---------------------------------------

def _tiny(claim, configs, host=None):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs),
                               host=host or claim.host)


@pytest.mark.slow
def test_lemma_g4_claim_holds_and_flips():
    configs = [dict(n=6, d=2, datasets=8)]
    res = run_claim(_tiny(vsep.LEMMA_G4, configs))
    assert res.verdict == "HOLDS", res.detail
    wide = run_claim(_tiny(vsep.LEMMA_G4, configs, vsep.lemma_g4_host(random_width=2)))
    assert wide.verdict == "VIOLATED"
    assert wide.counterexample["metrics"]["nets_monotone"] < vsep.RANDOM_NETS
    unconditional = run_claim(_tiny(vsep.LEMMA_G4, configs, vsep.lemma_g4_host(premise=False)))
    assert unconditional.verdict == "VIOLATED"
    assert not unconditional.counterexample["metrics"]["separable"]


@pytest.mark.slow
def test_lemma_g5_claim_holds_and_flips():
    configs = [dict(N=6, datasets=12)]
    res = run_claim(_tiny(vsep.LEMMA_G5, configs))
    assert res.verdict == "HOLDS", res.detail
    width1 = run_claim(_tiny(vsep.LEMMA_G5, configs, vsep.lemma_g5_host(units=1)))
    assert width1.verdict == "VIOLATED"
    assert width1.counterexample["metrics"]["runs"] == 3
    linear = run_claim(_tiny(vsep.LEMMA_G5, configs, vsep.lemma_g5_host(
        condition=lambda t, y: sep.linearly_separable(t[:, None], y, exact=False)[0])))
    assert linear.verdict == "VIOLATED"


@pytest.mark.slow
def test_cover_claim_holds_and_flips():
    configs = [dict(n=6, d=3, affine=False, datasets=200)]
    res = run_claim(_tiny(vsep.COVER_CAPACITY, configs))
    assert res.verdict == "HOLDS", res.detail
    for shift in (1, -1):
        broken = run_claim(_tiny(vsep.COVER_CAPACITY, configs, vsep.cover_host(shift=shift)))
        assert broken.verdict == "VIOLATED"
        m = broken.counterexample["metrics"]
        assert not m["ci_low"] <= m["cover_probability"] <= m["ci_high"]
