"""Yu et al. 2024, Theorem 4.1 (App. B): the width-6 memorizer, checked in exact arithmetic.

The strongest check is an exact model of the network's output at the training points: the
projection c = w.x + b, the block registers and the digit extraction determine F(x_i) =
sum_k relu(1.1 - |c_i - e_k|) - 0.05 over the extracted integers e_k of x_i's block, and the
network must equal it as a rational number (for the paper's Lemma B.4 too, whose last slot
comes out one less: see the module docstring)."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from jaxmem import exact
from jaxmem.constructions import yu2024_width6 as m3


def _pixels(seed, N, n):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(N, n))
    y = rng.choice([-1, 1], size=N)
    y[:2] = [-1, 1]                      # both labels
    return X, y


def _model_outputs(info, X, y, ramp):
    """F(x_i) predicted from the encoding alone (no network)."""
    c = [v for v in (X.astype(object).dot(info["w"]) / 255 + info["b"])]
    enc = m3.encode(c, y)
    s, wd = enc.block_size, enc.digits
    out = []
    for ci in c:
        k = enc.c_sorted.index(ci) // s
        digits = str(enc.registers[k]).zfill(s * wd)
        stored = [int(digits[j * wd:(j + 1) * wd]) for j in range(s)]
        if ramp == "paper":
            stored[-1] -= 1                 # Lemma B.4 as printed: the last slot's remainder is 1
        out.append(sum(max(0, m3.MATCH_RADIUS - abs(ci - e)) for e in stored) - m3.OUTPUT_OFFSET)
    return out


@pytest.mark.parametrize("N, n, seed", [(5, 2, 0), (17, 3, 1), (40, 4, 2)])
def test_memorizes_exactly_with_the_formula_sizes(N, n, seed):
    X, y = _pixels(seed, N, n)
    net, info = m3.build(seed, X, y, denominator=255)
    assert m3.memorizes(net, X, y, denominator=255).all()
    out = exact.apply(net, X, denominator=255)
    assert list(out) == _model_outputs(info, X, y, "left")
    assert info["width"] == 6 == max(lay.n_out for lay in net.layers[:-1])
    s, K = math.isqrt(N), info["blocks"]
    assert s == info["block_size"] and K == -(-N // s)
    assert info["depth"] == len(net.layers) == 1 + 2 * (K - 1) + s * (info["strip_stages"] + 2) + 1
    assert info["param_count"] == exact.param_count(net) == m3.param_formula(
        n, K, s, info["strip_stages"])
    # 2^q <= 10^(w+1) - 1 < 2^(q+1), q + 1 stages (Lemma B.4)
    q = info["strip_stages"] - 1
    assert 2 ** q <= 10 ** (info["digits"] + 1) - 1 < 2 ** (q + 1)


def test_the_paper_ramp_misses_exactly_what_the_off_by_one_predicts():
    X, y = _pixels(3, 40, 3)
    net, info = m3.build(3, X, y, ramp="paper", denominator=255)
    out = exact.apply(net, X, denominator=255)
    assert list(out) == _model_outputs(info, X, y, "paper")
    hits = m3.memorizes(net, X, y, denominator=255)
    assert not hits.all()                       # the printed construction does not memorize
    assert hits[y == -1].all()                  # it only loses positives


def test_lemma_b1_direction_properties_exactly():
    X, y = _pixels(4, 12, 3)
    comp = m3.compress(X, y, np.random.default_rng(0), denominator=255)
    w, b = comp["w"], comp["b"]
    corners = [sum(wi * ci for wi, ci in zip(w, corner)) + b
               for corner in itertools.product((0, 1), repeat=3)]
    assert min(corners) >= 1                    # w.x + b >= 1 on [0, 1]^n (its minimum: a corner)
    c = comp["c"]
    for i, j in itertools.product(range(12), repeat=2):
        if y[i] != y[j]:
            assert abs(c[i] - c[j]) >= 4
    assert c == [sum(wk * Fraction(int(v), 255) for wk, v in zip(w, row)) + b for row in X]
    assert comp["draws"] >= 1


def test_float64_fails_beyond_the_mantissa_while_exact_succeeds():
    """Registers of a few dozen digits and slopes 2^k / p ~ 10^(w m): float64 loses the digit
    extraction from N ~ 4 on, on every dataset at N = 16, while exact arithmetic memorizes."""
    float_ok = []
    for seed in range(3):
        X, y = _pixels(10 + seed, 16, 2)
        net, info = m3.build(seed, X, y, denominator=255)
        assert m3.memorizes(net, X, y, denominator=255).all()
        assert info["register_digits"] * math.log2(10) > 53
        float_ok.append(np.all(np.sign(exact.apply_float(net, X / 255)) == y))
    assert not any(float_ok)
    X, y = np.array([[10, 20], [200, 40]]), np.array([-1, 1])       # 2 points: few digits
    net, _ = m3.build(0, X, y, denominator=255)
    assert np.all(np.sign(exact.apply_float(net, X / 255)) == y)    # the float path itself is right


def test_fraction_and_denominator_inputs_agree():
    X, y = _pixels(5, 9, 2)
    Xf = np.array([[Fraction(int(v), 255) for v in row] for row in X], dtype=object)
    net_a, _ = m3.build(7, X, y, denominator=255)
    net_b, _ = m3.build(7, Xf, y)
    assert list(exact.apply(net_a, X, denominator=255)) == list(exact.apply(net_b, Xf))


@pytest.mark.parametrize("X, y, message", [
    ([[0, 1], [1, 0]], [1, 1], "both labels"),
    ([[0, 1], [1, 0]], [1, 0], "row 1 has 0"),
    ([[0, 1], [1, 2]], [1, -1], "row 1 of X leaves"),
    ([[0, 1], [0, 1]], [1, -1], "both labels: no network"),
    ([[0, 1], [1, 0]], [1, -1, 1], "shape"),
])
def test_bad_input_is_named(X, y, message):
    with pytest.raises(ValueError, match=message):
        m3.build(0, np.array(X), np.array(y), denominator=1)
    with pytest.raises(ValueError, match="ramp"):
        m3.build(0, np.array([[0], [1]]), np.array([1, -1]), ramp="right", denominator=1)


def test_the_key_fixes_the_network():
    """A JAX key (typed or raw uint32 data) gives the seed randint(key, int32); an int seed and
    a numpy Generator give the same network as before the key-first signature."""
    import jax
    X, y = _pixels(6, 10, 2)
    net, info = m3.build(jax.random.key(3), X, y, denominator=255)
    raw_net, raw = m3.build(jax.random.PRNGKey(3), X, y, denominator=255)
    seed_net, by_seed = m3.build(info["seed"], X, y, denominator=255)
    gen_net, _ = m3.build(np.random.default_rng(info["seed"]), X, y, denominator=255)
    assert info["seed"] == raw["seed"] == by_seed["seed"]
    outs = [list(exact.apply(n_, X, denominator=255)) for n_ in (net, raw_net, seed_net, gen_net)]
    assert outs[0] == outs[1] == outs[2] == outs[3]
    assert m3.build(jax.random.key(4), X, y, denominator=255)[1]["seed"] != info["seed"]
    with pytest.raises(TypeError, match="key"):
        m3.build(0.5, X, y, denominator=255)
    with pytest.raises(ValueError, match="seed"):
        m3.build(-1, X, y, denominator=255)


def test_hypothesis_failures_are_their_own_error():
    """What a sweep records as valid = False (HypothesisError) and what stays a plain
    ValueError (a label that is not +-1: bad input, not a dataset outside the theorem)."""
    for X, y in (([[0, 1], [1, 0]], [1, 1]), ([[0, 1], [1, 2]], [1, -1]),
                 ([[0, 1], [0, 1]], [1, -1])):
        with pytest.raises(m3.HypothesisError):
            m3.build(0, np.array(X), np.array(y), denominator=1)
    with pytest.raises(ValueError) as err:
        m3.build(0, np.array([[0, 1], [1, 0]]), np.array([1, 0]), denominator=1)
    assert not isinstance(err.value, m3.HypothesisError)
