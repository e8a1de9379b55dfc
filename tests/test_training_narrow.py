"""jaxmem.training.narrow: narrow first layers stay below the width ceiling of Yu et al.
(2024, Theorem 5.1), a wide first layer does not; the returned network is exactly the trained
one on raw inputs, masked units stay dead, and bad input is rejected before compiling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import network
from jaxmem.data.ball_annulus import ball_annulus
from jaxmem.metrics.width_ceiling import projection_accuracy_ceiling
from jaxmem.training import narrow
from jaxmem.verify.yu2024_width import allowed_correct

N, N_TEST, N_DIM = 512, 2000, 5


@pytest.fixture(scope="module")
def data():
    X, y = ball_annulus(jax.random.key(0), N, N_DIM)
    Xt, yt = ball_annulus(jax.random.key(1), N_TEST, N_DIM)
    return X, y, Xt, yt


@pytest.mark.slow
def test_narrow_respects_the_ceiling_and_the_wide_control_beats_it(data):
    X, y, Xt, yt = data
    out = narrow.train_narrow(jax.random.key(2), X, y, Xt, yt, first_width=1, hidden=32,
                              steps=300, seeds=2)
    assert all(v.shape == (2,) for v in out.values()) and np.all(out["first_width"] == 1)
    ceiling = projection_accuracy_ceiling(N_DIM, 1)
    allowed = allowed_correct(N_TEST, ceiling, 1e-3) / N_TEST       # exact binomial, level 1e-3
    assert np.all(out["test_accuracy"] <= allowed), (out["test_accuracy"], ceiling)
    assert out["test_accuracy"][0] != out["test_accuracy"][1]        # seeds differ
    # The wide control (first width 32 > n = 5, minibatches of 128) generalizes: above the
    # ceiling of every first width < n, the largest being w = n - 1.
    wide = narrow.train_narrow(jax.random.key(2), X, y, Xt, yt, first_width=32, hidden=32,
                               steps=300, seeds=2, batch_size=128)
    best_narrow = projection_accuracy_ceiling(N_DIM, N_DIM - 1)
    assert np.all(wide["test_accuracy"] >= 0.9) and best_narrow < 0.88
    assert np.all(wide["test_accuracy"] > allowed_correct(N_TEST, best_narrow, 1e-3) / N_TEST)
    assert np.all(wide["train_accuracy"] >= 0.99)


def test_fit_returns_the_trained_network_on_raw_inputs_and_masks_stay_dead(data):
    X, y, _, _ = data
    key = jax.random.key(3)

    @jax.jit
    def fit_and_init(k):
        net, loss = narrow.fit(k, X, y, first_width=4, hidden=8, steps=40, active_width=2)
        raw = jnp.mean(jax.nn.softplus(-y * network.apply(net, X)))
        W0 = narrow.init(jax.random.split(k)[0], N_DIM, 4, 8, X.dtype, 2).layers[0].weight
        return net, loss, raw, W0, network.widths(net)
    net, loss, raw, W0, widths = fit_and_init(key)
    assert widths.tolist() == [2, 8]
    # Standardization is folded into W1, b1: the loss of the returned net on raw X is the
    # training loss the optimizer saw.
    assert float(raw) == pytest.approx(float(loss), rel=1e-10)
    # Masked units got zero gradients: their (standardized) weights are still the init's.
    std = np.maximum(np.std(np.asarray(X), axis=0), np.finfo(np.float64).tiny)
    W = np.asarray(net.layers[0].weight) * std[:, None]
    np.testing.assert_allclose(W[:, 2:], W0[:, 2:], rtol=1e-12)
    assert not np.allclose(W[:, :2], W0[:, :2])


@pytest.mark.parametrize("kwargs, match", [
    (dict(first_width=0), "first_width must be a positive int"),
    (dict(first_width=2, lr=-1.0), "lr must be a positive"),
    (dict(first_width=2, steps=2.5), "steps must be a positive int"),
    (dict(first_width=2, batch_size=0), "batch_size must be"),
    (dict(first_width=2, y=np.zeros(4)), "binary labels must be -1 or \\+1"),
    (dict(first_width=2, y_test=np.full(3, 2.0)), "y_test must be -1 or \\+1"),
    (dict(first_width=2, X_test=np.zeros((3, 2))), "the test set has 2 features"),
    (dict(first_width=2, X=np.full((4, 3), np.nan)), "NaN or inf")])
def test_bad_input_is_rejected_before_compiling(kwargs, match):
    args = dict(X=np.random.default_rng(0).random((4, 3)), y=np.array([1.0, -1, 1, -1]),
                X_test=np.zeros((3, 3)), y_test=np.ones(3))
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(ValueError, match=match):
        narrow.train_narrow(jax.random.key(0), args["X"], args["y"], args["X_test"],
                            args["y_test"], **kwargs)


@pytest.mark.slow
def test_active_first_bias_starts_every_training_point_on_every_units_active_side():
    """first_bias="active": with a step size too small to move anything, every training row's
    first-layer pre-activation is >= 1 - (rounding) for every unit (zero biases leave about half
    of them negative at width 1, where the rows get no gradient); an unknown value is refused."""
    X, y = ball_annulus(jax.random.key(5), 200, 30)
    key = jax.random.key(6)
    for bias, check in (("active", lambda pre: pre.min() > 1 - 1e-6),
                        ("zero", lambda pre: 0.2 < (pre < 0).mean() < 0.8)):
        net, _ = narrow.fit(key, X, y, first_width=1, hidden=4, steps=1, lr=1e-12,
                            first_bias=bias)
        first = net.layers[0]
        pre = np.asarray(X @ first.weight + first.bias)
        assert check(pre), (bias, pre.min(), (pre < 0).mean())
    with pytest.raises(ValueError, match="first_bias"):
        narrow.fit(key, X, y, first_width=1, hidden=4, steps=1, first_bias="one")
