"""PLYS-R, the reconstruction of Park, Lee, Yun, Shin (COLT 2021) in exact arithmetic: it
memorizes exactly, its sizes equal the closed-form formulas, the proof's invariants hold layer
by layer, float64 loses the registers past its mantissa, bad input is refused by name, and the
two claims hold and flip when broken on purpose."""

import dataclasses
from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import exact, network
from jaxmem.constructions import park2021
from jaxmem.constructions.protocol import measure_host
from jaxmem.verify import park2021 as claims
from jaxmem.claims import Scaling, run_claim


def _pixels(rng, N, d):
    return np.array([[Fraction(int(p), 255) for p in row] for row in rng.integers(0, 256, (N, d))],
                    dtype=object)


# (inputs, labels, label bits c): labels are coded (y - min y) / gcd of the differences
CASES = {
    "one point": (lambda r: np.array([[3, -1]]), lambda r: [1], 1),
    "two points, 1-D": (lambda r: np.array([[0], [7]]), lambda r: [1, -1], 1),
    "pixels, binary": (lambda r: _pixels(r, 7, 3), lambda r: r.choice([-1, 1], 7), 1),
    "floats, binary": (lambda r: r.random((40, 3)), lambda r: r.choice([-1, 1], 40), 1),
    "pixels, 5 classes": (lambda r: _pixels(r, 30, 2), lambda r: np.arange(30) % 5, 3),
    "labels -3, 5, 13": (lambda r: r.random((25, 2)), lambda r: np.arange(25) % 3 * 8 - 3, 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_memorizes_exactly_and_sizes_equal_the_formulas(case):
    rng = np.random.default_rng(11)
    make_x, make_y, label_bits = CASES[case]
    X, y = make_x(rng), [int(v) for v in make_y(rng)]
    net, info = park2021.build(5, X, y)
    out = exact.apply(net, X, allow_float=True)
    assert [type(v) for v in out] == [int] * len(y) and list(out) == y

    G, m, c, d = info["groups"], info["table_size"], info["label_bits"], len(X[0])
    assert c == label_bits
    assert exact.param_count(net) == park2021.predicted_param_count(d, G, m, c)
    if c == 1 and G >= 2:                       # the docstring's closed form, written out
        assert exact.param_count(net) == d + 30 * G + 90 * m - 77
    assert len(net.layers) == G + c * m + 3
    w3 = 9 if c == 1 else 10
    assert ([lay.n_out for lay in net.layers[:-1]]
            == [1] + [5] * (G - 1) + [2] + [w3] * (c * m) + [2])
    assert sum(info["group_sizes"]) == len(y) and max(info["group_sizes"]) == info["max_group_size"]
    # every register is a c m-bit integer
    assert info["register_bits"] == c * m >= info["max_register_bit_length"]
    assert 0 < info["nonzero_param_count"] < info["param_count"]


def test_carried_units_stay_nonnegative_and_thresholds_clear_their_ramps():
    """The proof's invariants on the training inputs, layer by layer: every carried quantity
    (t; u and W in stage 2; u, register, output, s_k and the partial label in stage 3) enters
    its ReLU >= 0, so the ReLU is the identity; each point's u is >= 1/K from the integers."""
    rng = np.random.default_rng(3)
    X, y = rng.random((60, 3)), rng.choice([-1, 1, 3], 60)
    net, info = park2021.build(2, X, y)
    assert info["label_bits"] == 2 and info["groups"] >= 2
    assert info["min_margin"] >= Fraction(1, 1) / info["ramp_slope"]
    G = info["groups"]
    H = np.array([[Fraction(v) for v in row] for row in X], dtype=object)
    for li, lay in enumerate(net.layers[:-1]):
        Z = H.dot(lay.weight) + lay.bias
        if li == 0:
            carried = [0]                                     # t
        elif li < G:
            carried = [0, 1, 2]                               # t, u, W
        elif li == G:
            carried = [0, 1]                                  # u, W
        elif li < len(net.layers) - 2:
            carried = [0, 1, 2, 3, 9]                         # u, X, out, s_k, partial label
        else:
            carried = [0]                                     # out
        assert all(v >= 0 for v in Z[:, carried].ravel()), f"layer {li}"
        H = np.where(Z > 0, Z, 0)
        if G < li < len(net.layers) - 2:
            # stage 3: the register stays an integer, so P - Q is a bit, and the ramp pair
            # A1 - A2 is an exact threshold (no u inside a ramp)
            assert set((H[:, 4] - H[:, 5]).tolist()) <= {0, 1}, f"layer {li}"
            assert set((H[:, 7] - H[:, 8]).tolist()) <= {0, 1}, f"layer {li}"


def test_float64_loses_the_register_past_53_bits_where_exact_arithmetic_does_not():
    """x = 0, 1, L in one group: gaps 1 and L - 1 need L + 1 buckets, and the register
    2^L + 1 (labels +1 at both ends) has L + 1 bits. Up to 53 bits float64 holds it; at 61
    bits it rounds to 2^60 and the last point reads label -1."""
    y = [1, -1, 1]
    for L, float_ok in ((40, True), (60, False)):
        X = np.array([[0], [1], [L]])
        net, info = park2021.build(0, X, y, table_size=L + 2)
        assert info["groups"] == 1
        assert info["register_bits"] == info["max_register_bit_length"] == L + 1
        assert list(exact.apply(net, X)) == y
        err = np.max(np.abs(park2021.apply_float(net, X) - y))
        assert (err < 1e-9) if float_ok else (err >= 1)


def test_the_float_network_is_the_same_network():
    X, y = np.array([[0], [1], [5], [9], [10]]), [1, -1, 1, 1, -1]
    net, info = park2021.build(0, X, y)
    fnet = park2021.to_network(net)
    assert int(network.param_count(fnet)) == exact.param_count(net) == info["param_count"]
    # the same float64 weights, summed in another order: equal up to rounding, both near y
    jax_out = np.asarray(network.apply(fnet, jnp.asarray(X, float)))
    np.testing.assert_allclose(jax_out, park2021.apply_float(net, X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(jax_out, y, rtol=0, atol=1e-12)


def test_the_seed_fixes_the_network():
    rng = np.random.default_rng(0)
    X, y = _pixels(rng, 12, 4), rng.choice([-1, 1], 12)
    a_net, a = park2021.build(9, X, y)
    b_net, b = park2021.build(np.random.default_rng(9), X, y)
    assert a["direction"] == b["direction"] and a["seed"] == 9
    assert all(np.array_equal(p.weight, q.weight) and np.array_equal(p.bias, q.bias)
               for p, q in zip(a_net.layers, b_net.layers))
    assert park2021.build(10, X, y)[1]["direction"] != a["direction"]


def test_integer_pixels_over_a_denominator_are_the_fraction_inputs():
    rng = np.random.default_rng(4)
    P, y = rng.integers(0, 256, (20, 6)), [int(v) for v in rng.choice([-1, 1], 20)]
    a_net, a = park2021.build(1, P, y, denominator=255)
    b_net, b = park2021.build(1, np.array([[Fraction(int(p), 255) for p in row] for row in P],
                                          dtype=object), y)
    assert a["input_denominator"] == b["input_denominator"] == 255
    assert all(np.array_equal(p.weight, q.weight) and np.array_equal(p.bias, q.bias)
               for p, q in zip(a_net.layers, b_net.layers))
    assert list(exact.apply(a_net, P, denominator=255)) == y
    np.testing.assert_array_equal(park2021.apply_float(a_net, P, denominator=255),
                                  park2021.apply_float(b_net, P / 255))
    with pytest.raises(TypeError, match="integers"):
        park2021.build(1, P / 255, y, denominator=255)


def test_repeated_rows_with_one_label_are_merged():
    X = np.array([[1, 2], [3, 4], [1, 2]])
    net, info = park2021.build(0, X, [1, -1, 1])
    assert info["n_points"] == 2 and info["n_input_rows"] == 3
    assert list(exact.apply(net, X)) == [1, -1, 1]


@pytest.mark.parametrize("X, y, kw, err, match", [
    (np.array([[0.0], [np.nan]]), [1, -1], {}, ValueError, r"X\[1, 0\]"),
    (np.array([[1, 2], [3, 4], [1, 2]]), [1, -1, -1], {}, ValueError, r"rows 0 and 2"),
    (np.array([[0], [1]]), [1, 0.5], {}, ValueError, r"y\[1\]"),
    (np.array([0, 1]), [1, -1], {}, ValueError, r"2-D"),
    (np.array([[0], [1]]), [1, -1, 1], {}, ValueError, r"3 labels but X has 2 rows"),
    (np.array([[0], [1]]), [1, -1], dict(table_size=0), ValueError, r"table_size"),
    (np.array([[0], ["a"]], dtype=object), [1, -1], {}, TypeError, r"X\[1, 0\]"),
])
def test_bad_input_is_refused_by_name(X, y, kw, err, match):
    with pytest.raises(err, match=match):
        park2021.build(0, X, y, **kw)
    with pytest.raises(TypeError, match="key"):
        park2021.build(0.5, np.array([[0], [1]]), [1, -1])


def _with_grid(claim, configs):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs))


# Shapes shared by both claims' tests: one compiled trial per (data, N, d).
_SCALING = [dict(data="cube", N=N, d=4, datasets=2) for N in (64, 256, 1024)]


def test_memorizes_holds_and_flips_with_ramps_too_shallow_for_the_margin(monkeypatch):
    claim = _with_grid(claims.MEMORIZES, _SCALING[:1])
    assert run_claim(claim).verdict == "HOLDS"
    # slope q_max instead of 2 q_max: some u lie inside a ramp, the read-out is wrong
    monkeypatch.setattr(park2021, "RAMP_SLOPE_FACTOR", Fraction(1, 2))
    res = run_claim(claim)
    assert res.verdict == "VIOLATED"
    assert not res.counterexample["metrics"]["memorizes"]
    assert res.counterexample["metrics"]["sizes_ok"]


@pytest.mark.slow
def test_params_holds_and_flips_without_the_balance_or_at_exponent_one_half(monkeypatch):
    claim = _with_grid(claims.PARAMS, _SCALING)
    res = run_claim(claim)
    assert res.verdict == "HOLDS" and 0.6 < res.exponent < 0.8
    # the statement broken: Vardi et al.'s N^(1/2) is excluded by the measurement
    half = dataclasses.replace(claim, rule=Scaling(x="N", y="param_count", predicted=0.5,
                                                   band=(0.45, 0.55)))
    assert run_claim(half).verdict == "VIOLATED"
    # the construction broken: one table size for every N (no balance) grows ~linearly
    monkeypatch.setattr(park2021, "_table_candidates", lambda N: [4])
    res = run_claim(claim)
    assert res.verdict == "VIOLATED" and res.exponent > 0.8


def test_a_jax_key_fixes_the_network_through_its_seed():
    """A JAX key (typed or raw uint32 data) gives the seed randint(key, int32): the sweep's
    record holds it, and build(seed, ...) rebuilds the same network."""
    import jax
    rng = np.random.default_rng(1)
    X, y = rng.random((20, 3)), [int(v) for v in rng.choice([-1, 1], 20)]
    net, info = park2021.build(jax.random.key(2), X, y)
    _, raw = park2021.build(jax.random.PRNGKey(2), X, y)
    again, by_seed = park2021.build(info["seed"], X, y)
    assert info["valid"] and info["seed"] == raw["seed"] == by_seed["seed"]
    assert info["direction"] == raw["direction"] == by_seed["direction"]
    assert all(np.array_equal(p.weight, q.weight) for p, q in zip(net.layers, again.layers))
    record = measure_host(park2021.build.construction, jax.random.key(2), X, np.asarray(y, float))
    assert record["ok"] and record["valid"] and record["build_seed"] == info["seed"]
    assert record["param_count"] == info["param_count"] == park2021.predicted_param_count(
        3, record["groups"], record["buckets"], record["label_bits"])
    with pytest.raises(park2021.HypothesisError, match="rows 0 and 2"):
        park2021.build(0, np.array([[1, 2], [3, 4], [1, 2]]), [1, -1, -1])
