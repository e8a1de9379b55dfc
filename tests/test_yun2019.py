"""Yun, Sra, Jadbabaie (NeurIPS 2019) via YSJ-R (docs/papers/sublinear.md §5.4): exact memorization
in rational arithmetic for every size, the size table, the max-min block boundaries, the float
network as the rounded twin of the exact one, input errors, and the claims: each flips when
broken on purpose (capacity also HOLDS here; memorizes and neurons HOLD at quick scale in CI,
.ci/check_claims.py, and their quick grids cost ~10 s each, too much to repeat here)."""

import dataclasses
import itertools
import math
import random
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import exact, metrics, network
from jaxmem.constructions import yun2019
from jaxmem.verify import yun2019 as claims
from jaxmem.claims import run_claim, run_config


def _rational_data(rng, n, d, bound=40):
    """n distinct rational points and rational labels (some repeated, some 0)."""
    rows = set()
    while len(rows) < n:
        rows.add(tuple(Fraction(rng.randint(-bound, bound), rng.randint(1, 7)) for _ in range(d)))
    X = [list(r) for r in sorted(rows)]
    rng.shuffle(X)
    y = [Fraction(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(n)]
    return X, y


def _table_count(n, d, q, activation):
    """docs/papers/sublinear.md §5.4's size table, written out."""
    K = math.ceil(n / q)
    if activation == "relu":
        return (d + 1) * (2 * K - 1) + 2 * K * 2 * q + (2 * q + 1)
    return (d + 1) * K + (K + 1) * q + (q + 1)


# ---- exact construction ---------------------------------------------------------------------

SIZES = [(1, 2, None), (1, 1, 3), (2, 1, None), (5, 2, 1), (7, 3, None), (9, 2, 3),
         (10, 2, 4), (13, 3, 2), (16, 2, 16), (23, 4, 6)]


@pytest.mark.parametrize("activation", yun2019.ACTIVATIONS)
def test_exact_network_memorizes_every_size(activation):
    """f(x_i) = y_i exactly for N <= Kq with q odd, even, 1, > N, Kq = N and Kq > N; widths and
    the dense parameter count are the table's."""
    rng = random.Random(7)
    for n, d, q in SIZES:
        for boundaries in yun2019.BOUNDARIES:
            X, y = _rational_data(rng, n, d)
            net, info = yun2019.build_exact(X, y, q, activation, boundaries=boundaries)
            qq = yun2019.default_q(n) if q is None else q
            f = exact.apply(net, X)
            assert list(f) == y, (n, q, boundaries)
            K = math.ceil(n / qq)
            assert info["blocks"] == K and info["virtual_points"] == K * qq - n
            expected = (2 * K - 1, 2 * qq) if activation == "relu" else (K, qq)
            assert tuple(lay.n_out for lay in net.layers[:-1]) == expected
            assert yun2019.widths(n, q, activation) == expected
            assert exact.param_count(net) == _table_count(n, d, qq, activation)
            assert yun2019.param_count(n, d, q, activation) == _table_count(n, d, qq, activation)


@pytest.mark.parametrize("activation", yun2019.ACTIVATIONS)
def test_parity_correction_is_what_makes_even_q_exact(activation):
    """Without S the other units of a block sum to S = 1 for even q: every output is y + A
    exactly (A = 2 max |y|); for odd q, S = 0 and dropping it changes nothing."""
    rng = random.Random(3)
    for n, q in [(10, 4), (13, 2), (9, 3)]:
        X, y = _rational_data(rng, n, 2)
        net, info = yun2019.build_exact(X, y, q, activation, correct_parity=False)
        A = 2 * max(abs(v) for v in y)
        assert info["label_scale"] == A
        assert [fv - yv for fv, yv in zip(exact.apply(net, X), y)] == [A * (1 - q % 2)] * n


def test_default_q_blocks_and_capacity():
    assert [yun2019.default_q(n) for n in (1, 3, 4, 100, 1000, 10_000)] == [1, 1, 3, 11, 31, 101]
    for K, q in itertools.product(range(1, 7), range(1, 7)):
        n = K * q
        assert yun2019.blocks(n, q) == K and yun2019.blocks(n + 1, q) == K + 1
        d1, d2 = yun2019.widths(n, q, "relu")
        assert yun2019.capacity(d1, d2, "relu") == n
        assert yun2019.capacity(*yun2019.widths(n, q, "hardtanh"), "hardtanh") == n
        assert yun2019.parity_correction(q) == (q + 1) % 2
    for d1, d2 in itertools.product(range(1, 20), range(2, 20)):
        # YSJ-R covers the note's (unconfirmed) forms of Theorem 3.1 at every width pair ...
        assert yun2019.capacity(d1, d2, "relu") >= 4 * (d1 // 4) * (d2 // 4)
        assert yun2019.capacity(d1, d2, "hardtanh") >= 4 * (d1 // 2) * (d2 // 2)
    # ... but not Hegde's N <= 4 ceil(d1/2) ceil(d2/2) (documented as not covered).
    assert yun2019.capacity(4, 4, "relu") == 4 < 4 * 2 * 2


def _feasible_cuts(n, K, q):
    """Every cut sequence with blocks of 1..q points (brute force)."""
    for cuts in itertools.combinations(range(1, n), K - 1):
        bounds = (0,) + cuts + (n,)
        if all(1 <= b - a <= q for a, b in zip(bounds, bounds[1:])):
            yield list(cuts)


def test_gap_boundaries_maximize_the_smallest_cut_gap():
    rng = random.Random(11)
    for n, q in [(10, 4), (11, 3), (14, 5), (9, 2)]:
        K = math.ceil(n / q)
        for _ in range(5):
            ts = sorted(Fraction(rng.randint(0, 10 ** 6), 997) for _ in range(n))
            if len(set(ts)) < n:
                continue
            gap = [b - a for a, b in zip(ts, ts[1:])]
            cuts = yun2019._cuts_exact(ts, K, q, "gaps")
            best = max(min(gap[p - 1] for p in c) for c in _feasible_cuts(n, K, q))
            assert cuts in list(_feasible_cuts(n, K, q))
            assert min(gap[p - 1] for p in cuts) == best
            assert yun2019._cuts_exact(ts, K, q, "even") == [k * q for k in range(1, K)]


# ---- bad input --------------------------------------------------------------------------------

def test_bad_input_is_named_before_anything_compiles():
    X, y = [[Fraction(1)], [Fraction(2)]], [Fraction(1), Fraction(-1)]
    key = jax.random.PRNGKey(0)
    Xf, yf = np.array([[1.0], [2.0]]), np.array([1.0, -1.0])
    for q in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="q \\(units per block\\)"):
            yun2019.build_exact(X, y, q)
        with pytest.raises(ValueError, match="q \\(units per block\\)"):
            yun2019.build(key, Xf, yf, q)
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        yun2019.build(key, Xf, yf, activation="tanh")
    with pytest.raises(ValueError, match="unknown boundaries"):
        yun2019.build_exact(X, y, boundaries="random")
    with pytest.raises(ValueError, match="directions must be a positive int"):
        yun2019.build(key, Xf, yf, directions=0)
    with pytest.raises(ValueError, match="NaN or inf in rows 1"):
        yun2019.build(key, np.array([[1.0], [np.nan]]), yf)
    with pytest.raises(TypeError, match="X\\[0, 0\\] is a float"):
        yun2019.build_exact([[0.5], [2]], y)
    with pytest.raises(ValueError, match="rows 0 and 2 of X are the same point"):
        yun2019.build_exact([[1, 2], [3, 4], [1, 2]], [1, 2, 3])
    with pytest.raises(ValueError, match="rows 0 and 1 of X have the same projection"):
        yun2019.build_exact([[1, 0], [1, 5]], [1, 2], direction=[1, 0])
    with pytest.raises(ValueError, match="cuts must have K - 1 = 1 entries"):
        yun2019.build_exact([[1], [2], [3]], [1, 2, 3], 2, cuts=[])
    with pytest.raises(ValueError, match="cuts give block 1 0 points"):
        yun2019.build_exact([[v] for v in range(7)], list(range(7)), 3, cuts=[3, 3])
    with pytest.raises(ValueError, match="cuts give block 0 3 points"):
        yun2019.build_exact([[1], [2], [3], [4]], [1, 2, 3, 4], 2, cuts=[3])


# ---- claims ---------------------------------------------------------------------------------

def _with_grid(claim, configs):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs))


@pytest.mark.slow
def test_memorizes_flips_in_float32():
    """Asked in float32 (metrics.float32_report's criterion), the claim is VIOLATED on a dataset
    that the float64 network fits within its tolerance and the exact network fits exactly.
    (The claim HOLDS at quick scale: CI runs it through .ci/check_claims.py.)"""
    config = dict(N=40, d=3, activation="relu", q=4, exact_check=True, precision="float32",
                  datasets=3)
    claim = _with_grid(claims.MEMORIZES, [config])
    bad = run_claim(claim)
    assert bad.verdict == "VIOLATED"
    m = bad.counterexample["metrics"]
    assert m["interpolates"] and m["exact_ok"] and m["sizes_ok"] and not m["deployable_f32"]
    # Every dataset (the compiled trial is reused): the jit/vmap float64 network is the exact
    # network rounded (same direction and cuts), and the exact path picks the same cuts.
    outs = run_config(claim, config, seed=0)
    assert outs["exact_ok"].all() and outs["interpolates"].all() and outs["cuts_agree"].all()
    assert outs["twin_relative_difference"].max() < 1e-10
    assert (outs["param_count"] == _table_count(40, 3, 4, "relu")).all()


@pytest.mark.slow   # ~4 s, most of it exact_fit_report's op-by-op fit_decisions (~2.4 s)
def test_a_tolerance_that_accepts_the_zero_network_does_not_count():
    """The zero function, written with cancelling 1e16 weights: within its a-priori rounding
    tolerance of y (which exceeds max |y|), so the float check cannot decide it; the
    re-decision (twice the precision, then exact) finds that it fails."""
    X, y = jnp.array([[1.0], [2.0]]), jnp.array([0.5, -0.5])
    net = network.make([
        network.Layer(jnp.array([[1e16, -1e16]]), jnp.zeros(2), activation="identity"),
        network.Layer(jnp.ones((2, 1)), jnp.zeros(1), activation="identity")])
    f, fit = jax.jit(lambda net: (network.apply(net, X), metrics.fit_report(net, X, y)))(net)
    assert float(jnp.max(jnp.abs(f))) == 0.0
    assert float(fit["tolerance_over_scale"]) > 1
    assert int(fit["decision"]) == metrics.UNDECIDED and not bool(fit["interpolates"])
    report = metrics.exact_fit_report(net, X, y)
    assert report["decision"] == metrics.FAILS and report["failing_points"] == 2


@pytest.mark.slow
def test_neurons_flip_with_one_unit_per_block():
    """q = 1 (K = N blocks of one point) fits too, with 2N + 1 hidden neurons: exponent
    log(129 / 33) / log(4) ~ 0.98, outside the band around 1/2."""
    configs = [dict(N=16, d=3, q=1, datasets=2), dict(N=64, d=3, q=1, datasets=2)]
    bad = run_claim(_with_grid(claims.NEURONS, configs))
    assert bad.verdict == "VIOLATED" and abs(bad.exponent - math.log(129 / 33, 4)) < 1e-9, \
        bad.detail


@pytest.mark.slow
def test_capacity_holds_and_flips_one_point_over_or_without_parity():
    pairs = [dict(d1=3, d2=4, d=2, activation="relu", datasets=3),
             dict(d1=2, d2=3, d=2, activation="hardtanh", datasets=3)]
    ok = run_claim(_with_grid(claims.CAPACITY, pairs))
    assert ok.verdict == "HOLDS", ok.detail
    over = run_claim(_with_grid(claims.CAPACITY, [dict(pairs[0], extra=1)]))
    assert over.verdict == "VIOLATED"
    m = over.counterexample["metrics"]
    # N = Kq + 1 = 5 points need a third block: d1 = 2K + 1 = 5 > 3.
    assert m["N"] == 5 and m["d1_used"] == 5 and m["exact_ok"] and not m["fits_widths"]
    no_parity = run_claim(_with_grid(claims.CAPACITY, [dict(pairs[0], correct_parity=False)]))
    assert no_parity.verdict == "VIOLATED"
    m = no_parity.counterexample["metrics"]
    assert m["fits_widths"] and not m["exact_ok"]


# ---- the construction protocol ---------------------------------------------------------------

@pytest.mark.slow
def test_registered_with_options_and_build_is_jit_and_vmap_traceable():
    from jaxmem.constructions import protocol
    entry = protocol.CONSTRUCTIONS.get("yun2019")
    assert entry.build is yun2019.build and not entry.host
    assert set(entry.options) == {"q", "activation", "directions", "boundaries",
                                  "correct_parity"}
    # Every option fixes a shape but correct_parity (one bias): a sweep traces it.
    assert set(entry.dynamic) == {"correct_parity"}
    with pytest.raises(ValueError, match="option q must be a positive integer"):
        entry.check(dict(q=0))
    with pytest.raises(ValueError, match="option activation must be one of relu, hardtanh"):
        entry.check(dict(activation="tanh"))
    exact_entry = protocol.CONSTRUCTIONS.get("yun2019.exact")
    assert exact_entry.build is yun2019.build_exact_from_key and exact_entry.host
    assert not exact_entry.dynamic and set(exact_entry.options) >= set(entry.options)
    n, d, q = 10, 3, 4
    keys = jax.random.split(jax.random.key(0), 3)
    X = jax.random.normal(keys[0], (3, n, d))
    y = jax.random.normal(keys[1], (3, n))

    def one(key, X, y):
        net, info = yun2019.build(key, X, y, q=q, activation="hardtanh")
        info = protocol.standard_info(net, info)
        return network.apply(net, X), info["param_count"], info["table_param_count"]

    f, count, table = jax.jit(jax.vmap(one))(keys, X, y)
    assert np.allclose(np.asarray(f), np.asarray(y), atol=1e-9)
    assert (np.asarray(count) == yun2019.param_count(n, d, q, "hardtanh")).all()
    assert (np.asarray(table) == np.asarray(count)).all()


_jit_build = jax.jit(yun2019.build, static_argnames=("q", "activation"))


@pytest.mark.slow
@pytest.mark.parametrize("activation", yun2019.ACTIVATIONS)
def test_exact_from_key_is_the_float_network_without_rounding(activation):
    """direction="best": the same key gives build's direction and cuts, so the exact network is
    the float64 one without rounding; "integer" fits exactly too; a repeated point is no
    dataset of the theorem (valid False, no network)."""
    key = jax.random.key(5)
    X = np.asarray(jax.random.normal(jax.random.key(1), (23, 3)), np.float64)
    y = np.asarray(jax.random.normal(jax.random.key(2), (23,)), np.float64)
    # Compiled: op by op, build's first call dispatches ~170 small programs (~7 s).
    net_f, info_f = _jit_build(key, X, y, q=4, activation=activation)
    net, info = yun2019.build_exact_from_key(key, X, y, q=4, activation=activation)
    assert info["valid"] and info["table_param_count"] == exact.param_count(net)
    _, own = yun2019.build_exact(X, y, 4, activation, direction=np.asarray(info_f["direction"]),
                                 allow_float=True)
    assert own["cuts"] == np.asarray(info_f["cuts"]).tolist()
    for lay_f, lay in zip(net_f.layers, net.layers):
        for got, want in ((lay_f.weight, lay.weight), (lay_f.bias, lay.bias)):
            want = exact.to_float(want)
            assert np.max(np.abs(np.asarray(got) - want)) <= 1e-9 * np.max(np.abs(want))
    labels = [Fraction(float(v)) for v in y]
    assert list(exact.apply(net, X, allow_float=True)) == labels
    net_i, info_i = yun2019.build_exact_from_key(key, X, y, q=4, activation=activation,
                                                 direction="integer")
    assert info_i["valid"] and list(exact.apply(net_i, X, allow_float=True)) == labels
    Xd = X.copy()
    Xd[3] = Xd[7]
    none, bad = yun2019.build_exact_from_key(key, Xd, y, q=4, activation=activation)
    assert none is None and not bad["valid"] and bad["param_count"] == 0
