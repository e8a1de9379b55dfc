"""The exact (rational) evaluator: agrees with the float path where floats are exact, stays
within the a-priori rounding bound of it elsewhere, and succeeds where float64 cannot."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import exact, network


def _float_net(rng, sizes, activations):
    layers = [network.Layer(jnp.asarray(rng.normal(size=(a, b))), jnp.asarray(rng.normal(size=b)),
                            activation=act)
              for a, b, act in zip(sizes[:-1], sizes[1:], activations)]
    return network.make(layers)


def test_small_integer_networks_agree_with_float64_exactly():
    rng = np.random.default_rng(0)
    W1, b1 = rng.integers(-5, 6, (3, 7)), rng.integers(-5, 6, 7)
    W2, b2 = rng.integers(-5, 6, (7, 2)), rng.integers(-5, 6, 2)
    X = rng.integers(-4, 5, (20, 3))
    for act in exact.ACTIVATIONS:
        net = exact.make([exact.layer(W1, b1, act), exact.layer(W2, b2, "identity")])
        fnet = network.make([
            network.Layer(jnp.asarray(W1, jnp.float64), jnp.asarray(b1, jnp.float64),
                          activation=act),
            network.Layer(jnp.asarray(W2, jnp.float64), jnp.asarray(b2, jnp.float64),
                          activation="identity")])
        out = exact.apply(net, X)
        assert all(isinstance(v, (int, Fraction)) for v in out.ravel())
        # Every intermediate is a small integer: float64 is exact here, so equality is exact.
        np.testing.assert_array_equal(exact.to_float(out),
                                      np.asarray(network.apply(fnet, jnp.asarray(X, jnp.float64))))


@pytest.mark.slow
def test_float_networks_are_within_their_rounding_bound_of_the_exact_value():
    rng = np.random.default_rng(1)
    fnet = _float_net(rng, (4, 16, 16, 1), ("relu", "hardtanh", "identity"))
    X = rng.normal(size=(30, 4))
    exact_out = exact.apply(exact.from_network(fnet, allow_float=True), X, allow_float=True)
    fl = np.asarray(network.apply(fnet, jnp.asarray(X)))
    err = np.abs(exact.to_float([Fraction(float(a)) - b for a, b in zip(fl, exact_out)]))
    bound = np.asarray(network.rounding_bound(fnet, jnp.asarray(X)))
    assert (err <= bound).all()
    assert err.max() > 0              # the float path did round: the comparison is not vacuous


def test_bits_beyond_the_mantissa_survive_only_in_exact_arithmetic():
    """f(x) = relu((2^k + 1) x) - 2^k x: the +1 is bit 0 of a (k+1)-bit weight. float64 keeps
    53 bits, so for k >= 53 the float network answers 0 at x = 1; the exact one answers 1."""
    for k in (20, 52, 53, 60, 200):
        big = 2 ** k
        net = exact.make([exact.layer([[big + 1, big]], [0, 0], "relu"),
                          exact.layer([[1], [-1]], [0], "identity")])
        assert exact.apply(net, [[1]])[0] == 1
        assert exact.max_bit_length(net) == k + 1
        fnet = network.make([
            network.Layer(jnp.asarray([[big + 1.0, float(big)]]), jnp.zeros(2), activation="relu"),
            network.Layer(jnp.asarray([[1.0], [-1.0]]), jnp.zeros(1), activation="identity")])
        float_out = float(network.apply(fnet, jnp.ones((1, 1)))[0])
        assert float_out == (1.0 if k < 53 else 0.0), (k, float_out)


def test_fractions_thresholds_and_masks():
    third = Fraction(1, 3)
    net = exact.make([exact.layer([[third, -third, 1]], [0, 0, -third], "threshold",
                                  mask=[True, True, False]),
                      exact.layer([[1], [2], [100]], [Fraction(1, 7)], "identity")])
    out = exact.apply(net, [[3], [0], [-3]])
    # Threshold H(0) = 0: x = 0 fires nothing; the masked third unit never contributes.
    assert list(out) == [1 + Fraction(1, 7), Fraction(1, 7), 2 + Fraction(1, 7)]
    assert exact.param_count(net) == 2 * 2 + 1 * 3


def test_floats_are_refused_where_exactness_was_asked_for():
    with pytest.raises(TypeError, match=r"layer\.weight\[0, 1\] is a float \(0\.1\)"):
        exact.layer([[1, 0.1]], [0, 0])
    net = exact.make([exact.layer([[1]], [0], "identity")])
    with pytest.raises(TypeError, match=r"X\[1, 0\] is a float"):
        exact.apply(net, [[1], [0.5]])
    with pytest.raises(TypeError, match="is a float"):
        exact.from_network(network.make([network.Layer(jnp.ones((1, 1)), jnp.zeros(1))]))
    # allow_float: the float's exact binary value, not the decimal it was written as.
    assert exact.apply(net, [[0.1]], allow_float=True)[0] == Fraction(0.1) != Fraction(1, 10)
    with pytest.raises(ValueError, match="reads 2 inputs"):
        exact.make([exact.layer([[1]], [0]), exact.layer([[1], [1]], [0])])
    with pytest.raises(ValueError, match="not a finite number"):
        exact.layer([[float("nan")]], [0], allow_float=True)


def _random_fraction_net(rng, sizes, activations, sparsity=0.4):
    layers = []
    for i, (a, b, act) in enumerate(zip(sizes[:-1], sizes[1:], activations)):
        W = np.empty((a, b), dtype=object)
        for idx in np.ndindex(a, b):
            W[idx] = (0 if rng.random() < sparsity
                      else Fraction(int(rng.integers(-9, 10)), int(rng.integers(1, 7))))
        W[:, 0] = W[:, 1] if b > 1 else W[:, 0]          # two units sharing a weight column
        bias = [Fraction(int(rng.integers(-9, 10)), int(rng.integers(1, 5))) for _ in range(b)]
        mask = rng.random(b) > 0.2 if i % 2 else None
        layers.append(exact.layer(W, bias, act, mask))
    return exact.make(layers)


def test_column_evaluator_equals_the_dense_fraction_reference():
    """`apply` (integer columns over a common denominator, zero weights skipped, shared
    weight columns computed once, gcd reduction) against plain Fraction products."""
    rng = np.random.default_rng(5)
    for trial in range(6):
        acts = [exact.ACTIVATIONS[(trial + k) % 4] for k in range(4)]
        net = _random_fraction_net(rng, [3, 6, 5, 4, 2], acts)
        X = [[Fraction(int(rng.integers(-20, 21)), int(rng.integers(1, 9))) for _ in range(3)]
             for _ in range(15)]
        fast, ref = exact.apply(net, X), exact.apply_reference(net, X)
        assert fast.shape == ref.shape == (15, 2)
        assert all(a == b for a, b in zip(fast.ravel(), ref.ravel()))
        assert all(type(v) is int or v.denominator > 1 for v in fast.ravel())


def test_the_reduction_keeps_integral_columns_integral(monkeypatch):
    """A huge common denominator over a batch of integers reduces to 1 (the register case)."""
    big = 3 ** 200
    net = exact.make([exact.layer([[Fraction(big, big + 1)], [Fraction(1, big + 1)]], [0],
                                  "identity")])
    out = exact.apply(net, [[1, 1], [2, 2], [5, 5]])     # (big + 1) / (big + 1) x: integers
    assert list(out) == [1, 2, 5] and all(type(v) is int for v in out)


def test_denominator_inputs():
    net = exact.make([exact.layer([[2], [Fraction(1, 3)]], [Fraction(1, 2)], "relu")])
    X = np.array([[255, 0], [3, 51]])
    expected = exact.apply(net, [[Fraction(int(a), 255), Fraction(int(b), 255)] for a, b in X])
    assert list(exact.apply(net, X, denominator=255)) == list(expected)
    with pytest.raises(TypeError, match="integers"):
        exact.apply(net, X / 255, denominator=255)
    with pytest.raises(ValueError, match="positive"):
        exact.apply(net, X, denominator=0)
    with pytest.raises(TypeError, match="positive int"):
        exact.apply(net, X, denominator=2.5)


def test_apply_float_is_the_float64_network_and_overflows_to_inf():
    rng = np.random.default_rng(1)
    fnet = _float_net(rng, [3, 5, 1], ["relu", "identity"])
    X = rng.normal(size=(8, 3))
    np.testing.assert_array_equal(exact.apply_float(exact.from_network(fnet, allow_float=True), X),
                                  np.asarray(network.apply(fnet, jnp.asarray(X))))
    assert list(exact.to_float([10 ** 400, -10 ** 400, Fraction(1, 10 ** 400)])) == [
        np.inf, -np.inf, 0.0]


def test_common_denominator():
    Xint, D = exact.common_denominator([[Fraction(1, 2), Fraction(1, 3)], [2, 0]])
    assert D == 6 and Xint.tolist() == [[3, 2], [12, 0]]
    with pytest.raises(TypeError, match=r"X\[0, 1\] is a float"):
        exact.common_denominator([[1, 0.5]])
    assert exact.common_denominator([[1, 0.5]], allow_float=True)[1] == 2
