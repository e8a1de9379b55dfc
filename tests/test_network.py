"""The network model (apply, masks, shared layers, counts, rounding bound) and the metrics,
checked against independent NumPy computations on small hand-built networks."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import metrics, network
from jaxmem.network import Layer

# benchmarks/device_check.py runs these on an accelerator
pytestmark = pytest.mark.device

jax.config.update("jax_enable_x64", True)

EPS64 = float(np.finfo(np.float64).eps)
# Rows of X in most tests. Every function here is dispatched op by op, and each op compiles for
# each new shape (a fit_report ~3 s on a new n, ~0.5 s on a seen one): shared shapes compile once.
N = 10
NP_ACT = {
    "relu": lambda z: np.maximum(z, 0),
    "threshold": lambda z: (z > 0).astype(z.dtype),
    "hardtanh": lambda z: np.clip(z, -1, 1),
    "identity": lambda z: z,
}


def np_apply(net, X):
    """Reference evaluation in float64 NumPy from the layer arrays (no jaxmem code)."""
    h = np.asarray(X, np.float64)
    for layer in net.layers:
        W = np.asarray(layer.weight, np.float64)
        b = np.asarray(layer.bias, np.float64)
        if layer.shared:
            W = np.repeat(W, b.shape[0], axis=1)
        h = NP_ACT[layer.activation](h @ W + b)
        if layer.mask is not None:
            h = h * np.asarray(layer.mask)
    return h[:, 0] if h.shape[1] == 1 else h


def np_magnitude(net, X):
    """sum over layers of |W|^T|h| + |b| magnitudes, activations dropped: a scale for tolerances."""
    M = np.abs(np.asarray(X, np.float64))
    for layer in net.layers:
        W = np.abs(np.asarray(layer.weight, np.float64))
        if layer.shared:
            W = np.repeat(W, layer.bias.shape[0], axis=1)
        M = M @ W + np.abs(np.asarray(layer.bias, np.float64))
    return M[:, 0] if M.shape[1] == 1 else M


# Host arrays go to the device with jax.device_put: jnp.asarray of a NumPy array stages it
# through a program compiled for each shape and dtype.
def rand_layer(rng, n_in, n_out, act="relu", mask=None, shared=False, scale=1.0):
    W = scale * rng.standard_normal((n_in, 1 if shared else n_out))
    b = scale * rng.standard_normal(n_out)
    mask = None if mask is None else jax.device_put(np.asarray(mask))
    return Layer(jax.device_put(W), jax.device_put(b), mask, activation=act, shared=shared)


def assert_close_to_reference(net, X, out):
    ref = np_apply(net, X)
    tol = 64 * EPS64 * np_magnitude(net, X)
    assert out.shape == ref.shape
    assert np.all(np.abs(np.asarray(out) - ref) <= tol)


# The counts, the rounding bound and the weight sizes compiled, one program per network shape:
# dispatched op by op, they compile every op again for every new shape (0.3-0.9 s a call,
# against 0.06-0.3 s for one compile). apply and the metrics' checks stay eager (the tests of
# evaluation, hand values, integer inputs and validation are about the eager calls too).
@jax.jit
def counts(net):
    return dict(widths=network.widths(net), param_count=network.param_count(net),
                nonzero=network.nonzero_param_count(net), shared=network.shared_param_count(net))


rounding_bound = jax.jit(network.rounding_bound)
weight_stats = jax.jit(metrics.weight_stats)


# ---- apply --------------------------------------------------------------------------------

@pytest.mark.parametrize("act", network.ACTIVATIONS)
def test_apply_matches_numpy_for_each_activation(act):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 3))
    # a hidden layer with the activation, a 2-output layer with it, and a 1-output readout
    net = network.make([rand_layer(rng, 3, 5, act), rand_layer(rng, 5, 2, act),
                        rand_layer(rng, 2, 1, "identity")])
    assert_close_to_reference(net, X, network.apply(net, X))
    # multi-output network: shape (n, k)
    net2 = network.make([rand_layer(rng, 3, 5, act), rand_layer(rng, 5, 4, act)])
    out2 = network.apply(net2, X)
    assert out2.shape == (N, 4)
    assert_close_to_reference(net2, X, out2)
    hid = network.hidden(net2, X)
    assert [h.shape for h in hid] == [(N, 5), (N, 4)]
    np.testing.assert_array_equal(hid[-1], out2)


def test_activation_ranges():
    rng = np.random.default_rng(1)
    X = 10 * rng.standard_normal((50, 2))
    for act, lo, hi in [("relu", 0, np.inf), ("threshold", 0, 1), ("hardtanh", -1, 1)]:
        net = network.make([rand_layer(rng, 2, 8, act, scale=3.0)])
        h = np.asarray(network.apply(net, X))
        assert h.min() >= lo and h.max() <= hi
        assert h.min() == lo and (hi == np.inf or h.max() == hi)  # saturation is reached
        if act == "threshold":
            assert set(np.unique(h).tolist()) == {0.0, 1.0}


def test_threshold_of_zero_is_zero():
    # One unit, weight 1, bias 0: the pre-activation is x itself.
    net = network.make([Layer(jnp.ones((1, 1)), jnp.zeros(1), activation="threshold")])
    # (N points: the shapes of the other one-input tests)
    X = jnp.array([[0.0], [-0.0], [1e-300], [-1e-300], [2.0], [-2.0], [0.5], [-0.5], [1e300],
                   [-1e300]])
    out = np.asarray(network.apply(net, X))
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    # an exact zero produced by cancellation in the affine map is also 0
    net2 = network.make([Layer(jnp.array([[1.0], [-1.0]]), jnp.zeros(1), activation="threshold")])
    assert network.apply(net2, jnp.array([[0.75, 0.75]]))[0] == 0


def test_hardtanh_and_relu_at_hand_values():
    X = jnp.array([[-3.0], [-1.0], [-0.25], [0.0], [0.5], [1.0], [7.0], [-0.75], [2.0], [-7.0]])
    eye = jnp.ones((1, 1))
    h = network.apply(network.make([Layer(eye, jnp.zeros(1), activation="hardtanh")]), X)
    np.testing.assert_array_equal(h, np.clip(np.asarray(X[:, 0]), -1, 1))
    r = network.apply(network.make([Layer(eye, jnp.zeros(1), activation="relu")]), X)
    np.testing.assert_array_equal(r, np.maximum(np.asarray(X[:, 0]), 0))
    i = network.apply(network.make([Layer(eye, jnp.zeros(1), activation="identity")]), X)
    np.testing.assert_array_equal(i, X[:, 0])


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match=r"unknown activation 'tanh'; expected one of"):
        Layer(jnp.ones((2, 2)), jnp.zeros(2), activation="tanh")


# ---- make ---------------------------------------------------------------------------------

def test_make_rejects_mismatched_layers():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match=r"layer 1 reads 4 inputs but layer 0 has 5 units"):
        network.make([rand_layer(rng, 3, 5), rand_layer(rng, 4, 1)])
    with pytest.raises(ValueError, match=r"at least one layer"):
        network.make([])
    with pytest.raises(ValueError, match=r"layer 0: weight has 4 columns, expected 5"):
        network.make([Layer(jnp.ones((3, 4)), jnp.zeros(5))])
    with pytest.raises(ValueError, match=r"layer 0: weight has 5 columns, expected 1 \(shared"):
        network.make([Layer(jnp.ones((3, 5)), jnp.zeros(5), shared=True)])
    with pytest.raises(ValueError, match=r"layer 1: mask has 3 entries, expected n_out = 2"):
        network.make([rand_layer(rng, 3, 5), rand_layer(rng, 5, 2, mask=[True, False, True])])


# ---- masks and counts -----------------------------------------------------------------------

def _masked_net(rng):
    m1 = np.array([True, False, True, True, False])
    m2 = np.array([False, True, True, False])
    # Large positive biases: the masked relu units would be active if not masked.
    l1 = rand_layer(rng, 3, 5, "relu", mask=m1)
    l1 = dataclasses.replace(l1, bias=jnp.abs(l1.bias) + 5)
    l2 = rand_layer(rng, 5, 4, "relu", mask=m2)
    l2 = dataclasses.replace(l2, bias=jnp.abs(l2.bias) + 5)
    return network.make([l1, l2, rand_layer(rng, 4, 1, "identity")]), (m1, m2)


def _delete_masked(net):
    """The same function with masked units removed from the arrays (reference for masks)."""
    layers, keep_in = [], None
    for layer in net.layers:
        W, b = np.asarray(layer.weight), np.asarray(layer.bias)
        if keep_in is not None:
            W = W[keep_in]
        keep = np.ones(b.shape, bool) if layer.mask is None else np.asarray(layer.mask)
        if not layer.shared:
            W = W[:, keep]
        layers.append(Layer(jax.device_put(W), jax.device_put(b[keep]), activation=layer.activation,
                            shared=layer.shared))
        keep_in = keep
    return network.make(layers)


def test_masked_units_output_zero_and_do_not_count():
    rng = np.random.default_rng(3)
    net, (m1, m2) = _masked_net(rng)
    X = rng.standard_normal((N, 3))
    h1, h2, _ = network.hidden(net, X)
    assert np.all(np.asarray(h1)[:, ~m1] == 0) and np.all(np.asarray(h2)[:, ~m2] == 0)
    # without the masks, the same units are active: the zeros come from the mask
    unmasked = network.Network(tuple(dataclasses.replace(l, mask=None) for l in net.layers))
    u1, u2, _ = network.hidden(unmasked, X)
    assert np.any(np.asarray(u1)[:, ~m1] > 0) and np.any(np.asarray(u2)[:, ~m2] > 0)
    np.testing.assert_array_equal(np.asarray(h1)[:, m1], np.asarray(u1)[:, m1])

    small = _delete_masked(net)
    assert_close_to_reference(small, X, network.apply(net, X))
    c, c_small = counts(net), counts(small)
    np.testing.assert_array_equal(c["widths"], [m1.sum(), m2.sum()])
    np.testing.assert_array_equal(c_small["widths"], [m1.sum(), m2.sum()])
    for name in ("param_count", "nonzero", "shared"):
        assert int(c[name]) == int(c_small[name]), name


def _independent_param_count(net):
    total, n_in = 0, net.layers[0].weight.shape[0]
    for layer in net.layers:
        n_out = layer.bias.shape[0] if layer.mask is None else int(np.sum(layer.mask))
        total += n_out * (n_in + 1)
        n_in = n_out
    return total


@pytest.mark.parametrize("sizes", [(4, 1), (3, 7, 1), (2, 5, 6, 3), (6, 2, 2, 2, 1)])
def test_param_count_equals_sum_of_layer_sizes(sizes):
    rng = np.random.default_rng(sum(sizes))
    net = network.make([rand_layer(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    expected = sum(b * (a + 1) for a, b in zip(sizes[:-1], sizes[1:]))
    c = counts(net)
    assert int(c["param_count"]) == expected == _independent_param_count(net)
    # no zeros planted: every parameter is nonzero
    assert int(c["nonzero"]) == expected
    assert int(c["shared"]) == expected  # no shared layers
    assert network.depth(net) == len(sizes) - 1
    np.testing.assert_array_equal(c["widths"], sizes[1:-1])


def test_param_count_with_masks_is_independent_count():
    net, _ = _masked_net(np.random.default_rng(4))
    assert int(counts(net)["param_count"]) == _independent_param_count(net)


def test_nonzero_param_count_counts_planted_zeros():
    rng = np.random.default_rng(5)
    W1 = rng.standard_normal((4, 6))
    b1 = rng.standard_normal(6)
    W2 = rng.standard_normal((6, 2))
    b2 = rng.standard_normal(2)
    W1[rng.random(W1.shape) < 0.4] = 0
    b1[[0, 3]] = 0
    W2[rng.random(W2.shape) < 0.4] = 0
    b2[1] = 0
    m1 = np.array([True, True, False, True, False, True])
    W2[2, :] = 7.0  # weights reading a masked unit are not parameters: never counted
    net = network.make([Layer(jax.device_put(W1), jax.device_put(b1), jax.device_put(m1)),
                        Layer(jax.device_put(W2), jax.device_put(b2), activation="identity")])
    expected = (np.count_nonzero(W1[:, m1]) + np.count_nonzero(b1[m1])
                + np.count_nonzero(W2[m1, :]) + np.count_nonzero(b2))
    c = counts(net)
    assert int(c["nonzero"]) == expected
    assert expected < c["param_count"]  # the planted zeros were not all masked out


# ---- shared layers ------------------------------------------------------------------------

@pytest.mark.parametrize("with_mask", [False, True])
def test_shared_layer_equals_its_dense_expansion(with_mask):
    rng = np.random.default_rng(6)
    d, n_hidden = 4, 7
    mask = rng.random(n_hidden) < 0.6 if with_mask else None
    if with_mask:
        mask[0] = True
    net = network.make([rand_layer(rng, d, n_hidden, "relu", mask=mask, shared=True),
                        rand_layer(rng, n_hidden, 1, "identity")])
    assert net.layers[0].weight.shape == (d, 1)
    X = rng.standard_normal((N, d))
    dense = network.dense(net)
    assert not any(layer.shared for layer in dense.layers)
    assert dense.layers[0].weight.shape == (d, n_hidden)
    np.testing.assert_array_equal(np.asarray(dense.layers[0].weight),
                                  np.repeat(np.asarray(net.layers[0].weight), n_hidden, axis=1))
    out, out_dense = network.apply(net, X), network.apply(dense, X)
    np.testing.assert_allclose(out, out_dense, rtol=0,
                               atol=64 * EPS64 * np.max(np_magnitude(net, X)))
    assert_close_to_reference(net, X, out)

    h = n_hidden if mask is None else int(mask.sum())
    c, c_dense = counts(net), counts(dense)
    assert int(c["shared"]) == (d + h) + (h + 1)
    assert int(c["param_count"]) == h * (d + 1) + (h + 1)
    assert int(c_dense["param_count"]) == int(c["param_count"])
    assert int(c_dense["shared"]) == int(c_dense["param_count"])
    assert int(c["nonzero"]) == int(c_dense["nonzero"])


# ---- astype -------------------------------------------------------------------------------

def test_astype_changes_dtypes_and_keeps_structure():
    rng = np.random.default_rng(7)
    net, _ = _masked_net(rng)
    f32 = network.astype(net, jnp.float32)
    for a, b in zip(net.layers, f32.layers):
        assert a.weight.dtype == jnp.float64 and b.weight.dtype == jnp.float32
        assert b.bias.dtype == jnp.float32
        assert (a.activation, a.shared) == (b.activation, b.shared)
        if a.mask is None:
            assert b.mask is None
        else:
            assert b.mask.dtype == jnp.bool_
            np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(b.weight, np.asarray(a.weight).astype(np.float32))
    X = rng.standard_normal((N, 3))
    assert network.apply(f32, X.astype(np.float32)).dtype == jnp.float32
    back = network.astype(f32, jnp.float64)
    assert back.layers[0].weight.dtype == jnp.float64
    assert network.describe(net) == "3 -> 5 relu (masked) -> 4 relu (masked) -> 1 identity"


# ---- jit and vmap -------------------------------------------------------------------------

def _stack(nets):
    # NumPy arrays as leaves (stacked on the host: jnp.stack would compile per leaf shape)
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *nets)


def test_apply_under_jit():
    rng = np.random.default_rng(8)
    net, _ = _masked_net(rng)
    X = rng.standard_normal((10, 3))
    out = jax.jit(network.apply)(net, X)
    assert_close_to_reference(net, X, out)
    assert int(jax.jit(network.param_count)(net)) == _independent_param_count(net)


@pytest.mark.slow
def test_vmap_over_a_batch_of_networks_equals_per_network():
    rng = np.random.default_rng(9)
    nets = []
    for _ in range(5):
        m = rng.random(6) < 0.7
        m[0] = True
        nets.append(network.make([rand_layer(rng, 3, 6, "relu", mask=m),
                                  rand_layer(rng, 6, 4, "hardtanh"),
                                  rand_layer(rng, 4, 1, "identity")]))
    batch = _stack(nets)
    X = rng.standard_normal((N, 3))
    # vmapped under one jit (dispatched op by op, the five cost seconds of compiles)
    out, widths, param_counts, nonzero, bounds = jax.jit(lambda batch, X: (
        jax.vmap(network.apply, in_axes=(0, None))(batch, X),
        jax.vmap(network.widths)(batch), jax.vmap(network.param_count)(batch),
        jax.vmap(network.nonzero_param_count)(batch),
        jax.vmap(network.rounding_bound, in_axes=(0, None))(batch, X)))(batch, X)
    assert out.shape == (5, N)
    # Per network: the same five functions without vmap (compiled once for the five nets).
    per_network = jax.jit(lambda net, X: (
        network.apply(net, X), network.widths(net), network.param_count(net),
        network.nonzero_param_count(net), network.rounding_bound(net, X)))
    for i, net in enumerate(nets):
        single, single_widths, single_count, single_nonzero, single_bound = per_network(net, X)
        np.testing.assert_allclose(out[i], single, rtol=0,
                                   atol=64 * EPS64 * np.max(np_magnitude(net, X)))
        assert_close_to_reference(net, X, out[i])
        np.testing.assert_array_equal(widths[i], single_widths)
        assert param_counts[i] == single_count == _independent_param_count(net)
        assert nonzero[i] == single_nonzero
        np.testing.assert_allclose(bounds[i], single_bound, rtol=1e-12)


# ---- rounding bound -------------------------------------------------------------------------

def test_unit_roundoff_and_gamma():
    for dtype in (np.float32, np.float64):
        one = dtype(1)
        assert network.unit_roundoff(dtype) == float(np.nextafter(one, dtype(2)) - one) / 2
    u = network.unit_roundoff(np.float64)
    assert float(network.gamma(10, u)) == pytest.approx(10 * u / (1 - 10 * u), rel=1e-15)
    assert float(network.gamma(10, u)) > 10 * u


def _random_relu_nets(rng, count, sizes, acts):
    nets = []
    for _ in range(count):
        layers = [rand_layer(rng, a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], acts)]
        # float32 copies rounded on the host (network.astype, dispatched op by op, compiles a
        # conversion per leaf shape; it has its own test above)
        nets.append(network.make([dataclasses.replace(
            layer, weight=jax.device_put(np.asarray(layer.weight, np.float32)),
            bias=jax.device_put(np.asarray(layer.bias, np.float32))) for layer in layers]))
    return nets


@pytest.mark.parametrize("sizes,acts", [
    ((4, 16, 1), ("relu", "identity")),
    ((3, 12, 8, 1), ("relu", "relu", "identity")),
    ((6, 10, 10, 10, 2), ("relu", "relu", "relu", "identity")),
    ((5, 20, 1), ("relu", "relu")),
    ((5, 9, 7, 1), ("hardtanh", "relu", "identity")),
])
@pytest.mark.slow
def test_rounding_bound_bounds_the_float32_error(sizes, acts):
    """fl32(apply) vs a float64 evaluation of the same float32 weights and inputs (float64
    rounding is ~2^29 times smaller than float32's, so it serves as the exact value)."""
    rng = np.random.default_rng(len(sizes) * 100 + sizes[1])
    nets = _random_relu_nets(rng, 60, sizes, acts)
    X = rng.standard_normal((40, sizes[0])).astype(np.float32)
    batch = _stack(nets)
    f32, bound = jax.jit(lambda batch, X: (
        jax.vmap(network.apply, in_axes=(0, None))(batch, X),
        jax.vmap(network.rounding_bound, in_axes=(0, None))(batch, X)))(batch, X)
    assert f32.dtype == jnp.float32 and bound.dtype == jnp.float32
    f32, bound = np.asarray(f32), np.asarray(bound)      # rows read on the host, not sliced
    worst = 0.0
    for i, net in enumerate(nets):
        exact = np_apply(net, X.astype(np.float64))  # weights are float32 values, cast exactly
        err = np.abs(np.asarray(f32[i], np.float64) - exact)
        b = np.asarray(bound[i], np.float64)
        assert np.all(b > 0)
        assert np.all(err <= b), f"network {i}: error {err.max()} exceeds bound at {np.argmax(err - b)}"
        worst = max(worst, float(np.max(err / b)))
    # The comparison is not vacuous: float32 rounding is visible in the outputs.
    assert worst > 0


def test_rounding_bound_also_bounds_jax_float32_single_networks():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    for net in _random_relu_nets(rng, 20, (3, 8, 8, 1), ("relu", "relu", "identity")):
        err = np.abs(np.asarray(network.apply(net, X), np.float64) - np_apply(net, X))
        assert np.all(err <= np.asarray(rounding_bound(net, X), np.float64))


@pytest.mark.parametrize("width,act", [(1, "relu"), (3, "relu"), (3, "identity")])
def test_rounding_bound_holds_where_rounding_errors_accumulate(width, act):
    """An adversarial ladder: L layers h <- h + c with c = 0.45 ulp(1) in float32. Each
    addition rounds back to 1 (c < half an ulp), so the float32 output stays 1 while the
    exact value is 1 + L c: the error grows linearly in the depth, a sizeable fraction of
    the bound rather than the tiny fraction random weights give."""
    L = 24
    c = 0.45 * float(np.finfo(np.float32).eps)
    eye = jnp.eye(width, dtype=jnp.float32)
    layers = [Layer(eye, jnp.full((width,), c, jnp.float32), activation=act) for _ in range(L)]
    net = network.make(layers)
    X = np.ones((2, width), np.float32)
    f32 = np.asarray(network.apply(net, X), np.float64)
    exact = np_apply(net, X.astype(np.float64))
    err = np.abs(f32 - exact)
    bound = np.asarray(network.rounding_bound(net, X), np.float64)
    assert np.all(err > 0)  # the rounding really happened
    assert np.all(err <= bound)


def test_rounding_bound_scales_with_weights_and_is_positive():
    rng = np.random.default_rng(11)
    W = rng.standard_normal((5, 1))
    b = rng.standard_normal(1)
    X = rng.standard_normal((N, 5))
    net = network.make([Layer(jax.device_put(W), jax.device_put(b), activation="identity")])
    net2 = network.make([Layer(jax.device_put(2 * W), jax.device_put(2 * b),
                               activation="identity")])
    bound, bound2 = rounding_bound(net, X), rounding_bound(net2, X)
    assert bound.shape == (N,) and np.all(np.asarray(bound) > 0)
    np.testing.assert_array_equal(bound2, 2 * np.asarray(bound))  # x2 is exact in binary
    # the bound is gamma_K times the magnitude |X||W| + |b| (K = d + 1 for one layer)
    u = network.unit_roundoff(X.dtype)
    K = 6
    np.testing.assert_allclose(bound, K * u / (1 - K * u) * (np.abs(X) @ np.abs(W) + np.abs(b))[:, 0],
                               rtol=1e-13)
    # float32 bound is ~2^29 times the float64 bound
    b32 = rounding_bound(network.astype(net, jnp.float32), X.astype(np.float32))
    np.testing.assert_allclose(np.asarray(b32) / np.asarray(bound), 2.0**29, rtol=1e-5)


def test_rounding_bound_restarts_after_threshold_and_ignores_masked_units():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((N, 2))
    net = network.make([rand_layer(rng, 2, 3, "threshold"), rand_layer(rng, 3, 1, "identity")])
    # after a threshold layer the inputs are exact 0/1: K = 3 + 1, M = sum |w| + |b|
    u = network.unit_roundoff(np.float64)
    M = np.sum(np.abs(np.asarray(net.layers[1].weight))) + np.abs(np.asarray(net.layers[1].bias[0]))
    np.testing.assert_allclose(rounding_bound(net, X), np.full(N, 4 * u / (1 - 4 * u) * M),
                               rtol=1e-13)
    # a single masked unit with a huge weight does not enter the bound
    big, _ = _masked_net(rng)
    l1 = big.layers[0]
    W1 = np.asarray(l1.weight).copy()
    W1[:, ~np.asarray(l1.mask)] = 1e12
    big2 = network.make([dataclasses.replace(l1, weight=jax.device_put(W1)), *big.layers[1:]])
    Xb = rng.standard_normal((N, 3))
    np.testing.assert_allclose(rounding_bound(big2, Xb), rounding_bound(big, Xb),
                               rtol=1e-13)


# ==== metrics ================================================================================

def _identity_net(w, b=0.0):
    w = jnp.asarray(w, jnp.float64).reshape(-1, 1)
    return network.make([Layer(w, jnp.asarray([b], jnp.float64), activation="identity")])


@pytest.mark.slow
def test_interpolates_exact_case_and_perturbed_labels():
    # Integer inputs and weights: every intermediate is an exactly representable integer.
    # (10 points, 3 -> 8 -> 1 as in the margin and jit/vmap tests: the metrics' dispatched
    # ops compile once for the three.)
    rng = np.random.default_rng(13)
    X = rng.integers(-5, 6, size=(10, 3)).astype(np.float64)
    W1 = rng.integers(-3, 4, size=(3, 8)).astype(np.float64)
    b1 = rng.integers(-3, 4, size=8).astype(np.float64)
    W2 = rng.integers(-3, 4, size=(8, 1)).astype(np.float64)
    net = network.make([Layer(jax.device_put(W1), jax.device_put(b1)),
                        Layer(jax.device_put(W2), jnp.zeros(1), activation="identity")])
    y = np.maximum(X @ W1 + b1, 0) @ W2[:, 0]
    assert bool(metrics.interpolates(net, X, y))
    assert float(metrics.max_abs_error(net, X, y)) == 0
    y_bad = y.copy()
    y_bad[4] += 1e-3
    assert not bool(metrics.interpolates(net, X, y_bad))
    assert float(metrics.max_abs_error(net, X, y_bad)) == pytest.approx(1e-3, rel=1e-6)
    rep = metrics.fit_report(net, X, y_bad)
    assert not bool(rep["interpolates"]) and int(rep["worst_point"]) == 4


@pytest.mark.slow
def test_interpolates_with_labels_from_an_independent_float64_evaluation():
    # NumPy's float64 evaluation differs from JAX's by rounding only: within the tolerance.
    rng = np.random.default_rng(14)
    X = rng.standard_normal((25, 4))
    net = network.make([rand_layer(rng, 4, 30), rand_layer(rng, 30, 10),
                        rand_layer(rng, 10, 1, "identity")])
    y = np_apply(net, X)
    # compiled: one program each instead of every op of the check dispatched on its own
    interpolates = jax.jit(metrics.interpolates)
    assert bool(interpolates(net, X, y))
    tol = np.asarray(jax.jit(metrics.interpolation_tolerance)(net, X))
    assert tol.shape == (25,) and np.all(tol > 0)
    y_bad = y + 1e-3
    assert not bool(interpolates(net, X, y_bad))


def test_sign_accuracy_counts_exact_zero_as_wrong_and_tie_fraction_counts_it():
    net = _identity_net([1.0])  # f(x) = x
    # five points, twice (N = 10 points: the other metric tests' shapes, compiled once)
    X = np.tile([[2.0], [-1.0], [0.0], [3.0], [-0.5]], (2, 1))
    y = np.tile([1.0, -1.0, 1.0, -1.0, -1.0], 2)
    # points 0, 1, 4 of each five have the right sign; point 2 is a tie (f = 0), 3 is wrong
    assert float(metrics.sign_accuracy(net, X, y)) == pytest.approx(3 / 5)
    assert float(metrics.tie_fraction(net, X)) == pytest.approx(1 / 5)
    # no zero: no tie, and flipping the wrong label gives full accuracy except the tie
    y2 = y.copy()
    y2[[3, 8]] = 1.0
    assert float(metrics.sign_accuracy(net, X, y2)) == pytest.approx(4 / 5)
    rep = metrics.fit_report(net, X, y2)
    assert float(rep["sign_accuracy"]) == pytest.approx(4 / 5)
    assert float(rep["tie_fraction"]) == pytest.approx(1 / 5)


def test_margin_is_min_y_times_f():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((N, 3))
    net = network.make([rand_layer(rng, 3, 8), rand_layer(rng, 8, 1, "identity")])
    y = np.where(rng.random(N) < 0.5, -1.0, 1.0)
    f = np_apply(net, X)
    expected = np.min(y * f)
    tol = 64 * EPS64 * np.max(np_magnitude(net, X))
    assert abs(float(metrics.margin(net, X, y)) - expected) <= tol
    assert abs(float(metrics.fit_report(net, X, y)["margin"]) - expected) <= tol
    # labels equal to the output signs: the margin is min |f| > 0
    ys = np.sign(f)
    assert abs(float(metrics.margin(net, X, ys)) - np.min(np.abs(f))) <= tol


def _cancellation_net(scale):
    """f(x) = relu(s x + 1) - relu(s x) = 1 for x >= 0, exactly in float64 for s = 1e9,
    x in [0.5, 1]; float32 (ulp 64 at 1e9) loses the +1 and returns 0."""
    l1 = Layer(jnp.array([[scale, scale]]), jnp.array([1.0, 0.0]))
    l2 = Layer(jnp.array([[1.0], [-1.0]]), jnp.zeros(1), activation="identity")
    return network.make([l1, l2])


@pytest.mark.slow
def test_float32_report_flags_a_network_that_breaks_in_float32():
    rng = np.random.default_rng(16)
    X = rng.uniform(0.5, 1.0, size=(N, 1))
    net = _cancellation_net(1e9)
    y = np.ones(N)
    assert float(metrics.max_abs_error(net, X, y)) == 0  # exact in float64
    rep = metrics.float32_report(net, X, y)
    assert not bool(rep["deployable_f32"])
    assert float(rep["max_abs_error_f32"]) >= 0.5
    assert not bool(metrics.float32_deployable(net, X, y))
    # As a regression task (f = 0 exactly for x < 0, so labels 0 and 1: not all |y| = 1),
    # the values are off by O(1) in float32. (N points again: the same compiled ops.)
    Xr = np.concatenate([X[:5], -X[:5]])
    yr = np.concatenate([np.ones(5), np.zeros(5)])
    assert float(metrics.max_abs_error(net, Xr, yr)) == 0
    rep_r = metrics.float32_report(net, Xr, yr)
    assert not bool(rep_r["deployable_f32"]) and float(rep_r["max_abs_error_f32"]) >= 0.5


def test_float32_report_accepts_a_benign_network():
    rng = np.random.default_rng(17)
    X = rng.uniform(0.5, 1.0, size=(N, 1))
    net = _cancellation_net(3.0)  # f = 1 with small weights
    y = np.ones(N)
    rep = metrics.float32_report(net, X, y)
    assert bool(rep["deployable_f32"])
    assert float(rep["max_abs_error_f32"]) <= 8 * float(np.finfo(np.float32).eps)
    Xr = np.concatenate([X[:5], -X[:5]])
    yr = np.concatenate([np.ones(5), np.zeros(5)])
    assert bool(metrics.float32_report(net, Xr, yr)["deployable_f32"])
    # real labels from a random small network evaluated in float64 (not all |y| = 1)
    X2 = rng.standard_normal((N, 3))
    net2 = network.make([rand_layer(rng, 3, 8), rand_layer(rng, 8, 1, "identity")])
    y2 = np_apply(net2, X2)
    rep2 = metrics.float32_report(net2, X2, y2)
    assert bool(rep2["deployable_f32"])
    assert float(rep2["max_abs_error_f32"]) > 0  # float32 rounding is visible, and tolerated


def test_float32_report_with_integer_binary_labels():
    # LIBRARY BUG (see report): float32_report casts f to y.dtype; with integer +-1 labels
    # (accepted by validate for task="binary") f = 0.5 is truncated to 0, a "tie".
    net = _identity_net([1.0])
    # N points (the shapes of the other metric tests)
    X = np.array([[0.5], [-0.5], [2.5], [1.5], [-1.5], [0.25], [-0.25], [3.5], [-2.5], [0.75]])
    y_int = np.array([1, -1, 1, 1, -1, 1, -1, 1, -1, 1])
    rep_int = metrics.float32_report(net, X, y_int)
    rep_float = metrics.float32_report(net, X, y_int.astype(np.float64))
    assert bool(rep_float["deployable_f32"])
    assert bool(rep_int["deployable_f32"]) == bool(rep_float["deployable_f32"])
    assert float(rep_int["max_abs_error_f32"]) == float(rep_float["max_abs_error_f32"])


def test_weight_stats_against_hand_computation():
    rng = np.random.default_rng(18)
    W1 = rng.standard_normal((3, 5))
    b1 = rng.standard_normal(5)
    W2 = rng.standard_normal((5, 1))
    b2 = rng.standard_normal(1)
    net = network.make([Layer(jax.device_put(W1), jax.device_put(b1)),
                        Layer(jax.device_put(W2), jax.device_put(b2), activation="identity")])
    s = weight_stats(net)
    params = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    assert float(s["max_abs_weight"]) == np.max(np.abs(params))
    assert float(s["sum_abs_weight"]) == pytest.approx(np.sum(np.abs(params)), rel=1e-14)
    assert float(s["path_norm"]) == pytest.approx(
        float(np.ones(3) @ np.abs(W1) @ np.abs(W2) @ np.ones(1)), rel=1e-14)
    two = sum(abs(W2[j, 0]) * np.linalg.norm(W1[:, j]) for j in range(5))
    assert float(s["two_layer_path_norm"]) == pytest.approx(two, rel=1e-14)


def test_weight_stats_three_layers_and_shared():
    rng = np.random.default_rng(19)
    net = network.make([rand_layer(rng, 2, 4), rand_layer(rng, 4, 3), rand_layer(rng, 3, 1)])
    s = weight_stats(net)
    assert np.isnan(float(s["two_layer_path_norm"]))
    Ws = [np.abs(np.asarray(layer.weight)) for layer in net.layers]
    assert float(s["path_norm"]) == pytest.approx(float(np.sum(np.ones(2) @ Ws[0] @ Ws[1] @ Ws[2])), rel=1e-14)
    # a shared layer counts its weight once per unit, like its dense expansion
    sh = network.make([rand_layer(rng, 3, 4, shared=True), rand_layer(rng, 4, 1, "identity")])
    s_sh, s_dense = weight_stats(sh), weight_stats(network.dense(sh))
    for k in s_sh:
        assert float(s_sh[k]) == pytest.approx(float(s_dense[k]), rel=1e-14), k


def test_weight_stats_exclude_masked_units():
    # LIBRARY BUG (see report): weights that read a masked unit are counted by weight_stats
    # (max_abs_weight, sum_abs_weight) although the unit is absent and nonzero_param_count /
    # param_count exclude them. A masked network must have the stats of its unmasked core.
    net, _ = _masked_net(np.random.default_rng(20))
    l2 = net.layers[1]
    W2 = np.asarray(l2.weight).copy()
    W2[~np.asarray(net.layers[0].mask), :] = 1e6  # rows read from masked units of layer 0
    net = network.make([net.layers[0], dataclasses.replace(l2, weight=jax.device_put(W2)),
                        net.layers[2]])
    s, s_core = weight_stats(net), weight_stats(_delete_masked(net))
    assert float(s["path_norm"]) == pytest.approx(float(s_core["path_norm"]), rel=1e-13)
    assert float(s["max_abs_weight"]) == float(s_core["max_abs_weight"])
    assert float(s["sum_abs_weight"]) == pytest.approx(float(s_core["sum_abs_weight"]), rel=1e-13)


def test_metrics_on_integer_inputs_agree_with_float_inputs():
    # LIBRARY BUG (see report): validate accepts integer X, but interpolation_tolerance takes
    # the unit roundoff of X.dtype and np.finfo(int64) raises.
    # (N points, one input: the shapes of the sign-accuracy test above, whose float metrics
    # have compiled already)
    net = _identity_net([2.0], 0.5)
    X = np.array([[1], [3], [-4], [0], [5], [-2], [7], [-6], [2], [-1]])
    y = (X @ np.array([2.0])) + 0.5
    assert bool(metrics.interpolates(net, X.astype(np.float64), y))
    assert bool(metrics.interpolates(net, X, y))
    assert bool(metrics.fit_report(net, X, y)["interpolates"])


@pytest.mark.parametrize("metric", ["max_abs_error", "sign_accuracy", "margin", "interpolates",
                                    "fit_report", "float32_report", "float32_deployable",
                                    "tie_fraction"])
def test_metrics_reject_wrong_number_of_columns(metric):
    rng = np.random.default_rng(21)
    net = network.make([rand_layer(rng, 3, 4), rand_layer(rng, 4, 1, "identity")])
    X = rng.standard_normal((6, 2))
    y = np.ones(6)
    args = (net, X) if metric == "tie_fraction" else (net, X, y)
    with pytest.raises(ValueError, match=r"the network reads 3 inputs but X has 2 columns"):
        getattr(metrics, metric)(*args)


def test_metrics_validate_their_data():
    rng = np.random.default_rng(22)
    net = network.make([rand_layer(rng, 2, 1, "identity")])
    X = rng.standard_normal((6, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in rows 3"):
        metrics.margin(net, X, np.ones(6))
    with pytest.raises(ValueError, match=r"y must have shape \(6,\)"):
        metrics.max_abs_error(net, rng.standard_normal((6, 2)), np.ones(5))


@pytest.mark.slow
def test_metrics_under_jit_and_vmap_over_datasets():
    rng = np.random.default_rng(23)
    net = network.make([rand_layer(rng, 3, 8), rand_layer(rng, 8, 1, "identity")])
    Xs = rng.standard_normal((4, 10, 3))
    ys = np.stack([np.sign(np_apply(net, X)) for X in Xs])
    ys[1, 2] *= -1  # one wrong sign in dataset 1
    # both vmapped under one jit: one compile
    acc, reps = jax.jit(lambda net, Xs, ys: (
        jax.vmap(metrics.sign_accuracy, in_axes=(None, 0, 0))(net, Xs, ys),
        jax.vmap(metrics.fit_report, in_axes=(None, 0, 0))(net, Xs, ys)))(net, Xs, ys)
    np.testing.assert_allclose(acc, [1.0, 0.9, 1.0, 1.0])
    for b in range(4):
        single = metrics.fit_report(net, Xs[b], ys[b])
        for k in ("interpolates", "worst_point", "sign_accuracy", "tie_fraction"):
            assert reps[k][b] == single[k], k
        np.testing.assert_allclose(reps["margin"][b], single["margin"], rtol=1e-12)
