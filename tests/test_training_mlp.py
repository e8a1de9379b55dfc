"""The vmapped MLP trainer: lanes are independent, padding is invisible, memorized lanes freeze
at the step they fit, and the flags agree with an independent recomputation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import metrics, network
from jaxmem.training import mlp


# Data, keys and every slice of a result are made in NumPy: JAX op by op compiles each
# operation once per shape (~0.5 s per test here); the trainer's own programs are what is
# tested.


def _data(lanes, n, d, seed=0, labels="sign"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((lanes, n, d)) / np.sqrt(d)
    if labels == "sign":
        y = np.where(rng.random((lanes, n)) < 0.5, 1.0, -1.0)
    else:
        y = rng.standard_normal((lanes, n))
    return X, y


def _key_data(lanes, seed=1):
    """Raw threefry keys, (lanes, 2) uint32 (any 64 bits are a key)."""
    return np.random.default_rng([seed, 2**31]).integers(0, 2**32, (lanes, 2), dtype=np.uint32)


def _keys(lanes, seed=1):
    return jax.random.wrap_key_data(_key_data(lanes, seed))


def _host(tree):
    return jax.tree.map(np.asarray, tree)


ADAM = mlp.Trainer(hidden=(16,), loss="logistic", optimizer="adam", max_steps=400)


@pytest.mark.slow
def test_flags_agree_with_recomputed_accuracy_and_lanes_are_independent():
    X, y = _data(6, 24, 4)
    widths = np.array([1, 2, 4, 8, 16, 16])
    key_data = _key_data(6)
    res = mlp.train(ADAM, X, y, jax.random.wrap_key_data(key_data), width=widths, lr=3e-2)
    acc = mlp.accuracy(ADAM, res.params, X, y, jnp.asarray(widths))
    np.testing.assert_array_equal(np.asarray(res.memorized), np.asarray(acc) == 1)
    np.testing.assert_allclose(res.train_accuracy, acc, atol=1e-12)
    assert res.memorized[-2:].all() and not res.memorized[0]   # width 1 cannot fit 24 signs
    fit = np.asarray(res.memorized)
    assert (np.asarray(res.steps_to_fit)[fit] >= 0).all()
    assert (np.asarray(res.steps_to_fit)[~fit] == -1).all()
    # The lanes in reverse order (the same compiled program): every lane trains to the same
    # network wherever it sits in the batch and whoever its neighbours are.
    rev = mlp.train(ADAM, X[::-1], y[::-1], jax.random.wrap_key_data(key_data[::-1]),
                    width=widths[::-1], lr=3e-2)
    for a, b in zip(jax.tree.leaves(_host(res.params)), jax.tree.leaves(_host(rev.params))):
        np.testing.assert_allclose(a, b[::-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(res.steps_to_fit, np.asarray(rev.steps_to_fit)[::-1])


@pytest.mark.slow
def test_memorized_lanes_freeze_at_the_step_they_fit():
    X, y = _data(6, 24, 4, seed=2)
    keys = _keys(6, seed=3)
    res = mlp.train(ADAM, X, y, keys, width=16, lr=3e-2)
    steps = np.asarray(res.steps_to_fit)
    assert (steps > 0).all(), steps
    # The same lanes trained without freezing, advanced to exactly steps_to_fit[i] updates,
    # reach the frozen parameters of lane i: freezing stopped the updates at that step.
    free = mlp.Trainer(hidden=(16,), loss="logistic", optimizer="adam", max_steps=400,
                       freeze=False)
    # freeze plays no part in the initial state: the free loop starts from ADAM's.
    start, data = mlp.init_state(ADAM, X, y, keys, width=16, lr=3e-2)
    state = start
    done = 0
    for i in np.argsort(steps):
        state = mlp.advance(free, state, data, int(steps[i]) - done) if steps[i] > done \
            else state
        done = int(steps[i])
        assert int(state.step) == done
        for a, b in zip(jax.tree.leaves(mlp.lane_params(_host(res.params), i)),
                        jax.tree.leaves(mlp.lane_params(_host(state.params), i))):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # With freezing, the loop stops once every lane has fit: one step after the last fit
    # (the check sees the parameters before each update). Read off the run's loss history
    # (no second freezing loop to compile): the loop records the checks at steps 0 .. S - 1
    # of its S updates and the final check the one at step S, the rest stays NaN; so the
    # history is filled exactly up to step S = steps.max() + 1.
    last = steps.max() + 1
    assert last < ADAM.max_steps
    hist = np.asarray(res.history_loss)
    assert np.isfinite(hist[:, : last + 1]).all()
    assert np.isnan(hist[:, last + 1:]).all()


@pytest.mark.slow
def test_padding_is_invisible_to_training():
    """A lane of active width m in a padded layer trains exactly like an unpadded width-m
    network started from the same (sliced) parameters."""
    m, pad = 5, 12
    X, y = _data(1, 20, 3, seed=4, labels="real")
    t_pad = mlp.Trainer(hidden=(pad,), loss="squared", optimizer="adam", max_steps=50,
                        freeze=False)
    t_m = mlp.Trainer(hidden=(m,), loss="squared", optimizer="adam", max_steps=50,
                      freeze=False)
    state, data = mlp.init_state(t_pad, X, y, _keys(1), width=m, lr=1e-2)
    p = _host(state.params)
    assert float(np.abs(p["hidden_0"]["kernel"][..., m:]).max()) == 0
    assert float(np.abs(p["output"]["kernel"][:, m:]).max()) == 0
    sliced = dict(hidden_0=dict(kernel=p["hidden_0"]["kernel"][..., :m],
                                bias=p["hidden_0"]["bias"][..., :m]),
                  output=dict(kernel=p["output"]["kernel"][:, :m], bias=p["output"]["bias"]))
    # The rest of the state (key, active width m, lr, step, flags) is the same for both
    # trainers, and so are the checked data.
    s_m = state._replace(params=sliced, opt_state=jax.jit(jax.vmap(
        lambda q: mlp._optimizer(t_m, 1e-2, 1).init(q)))(sliced))
    r_pad = mlp.advance(t_pad, state, data, 50)
    r_m = mlp.advance(t_m, s_m, data, 50)
    pad_kernel = np.asarray(r_pad.params["hidden_0"]["kernel"])
    np.testing.assert_allclose(pad_kernel[..., :m], r_m.params["hidden_0"]["kernel"],
                               rtol=1e-10, atol=1e-13)
    assert float(np.abs(pad_kernel[..., m:]).max()) == 0
    # The training loss at every one of the 50 steps (the parameters before each update),
    # from the states (no `finish` programs to compile; finish is tested below).
    loss_pad, loss_m = np.asarray(r_pad.history_loss), np.asarray(r_m.history_loss)
    assert int(r_pad.step) == int(r_m.step) == 50 and np.isfinite(loss_pad[:, :50]).all()
    np.testing.assert_allclose(loss_pad[:, :50], loss_m[:, :50], rtol=1e-10)


@pytest.mark.slow
def test_initializations_match_their_schemes():
    d, pad, lanes = 8, 32, 256
    key_data = _key_data(lanes, seed=5)
    keys = jax.random.wrap_key_data(key_data)
    he = mlp.Trainer(hidden=(pad, pad), init="he")
    m = 8
    # Compiled, one program per call site instead of every op dispatched on its own; the
    # scale is an argument (one program for both scales).
    init = jax.jit(mlp.init_params, static_argnums=(0, 2, 5))
    init_he = jax.jit(jax.vmap(lambda k, scale: mlp.init_params(he, k, d, m, scale, jnp.float64),
                               (0, None)))
    params = _host(init_he(keys, 1.0))
    # He: Var = 2 / fan-in, with the fan-in of the ACTIVE width for the second layer.
    for name, fan, rows, cols in (("hidden_0", d, d, m), ("hidden_1", m, m, m),
                                  ("output", m, m, 1)):
        w = params[name]["kernel"][:, :rows, :cols].ravel()
        want = (1.0 if name == "output" else 2.0) / fan
        # The truncated normal of flax's variance scaling has exactly this variance.
        se = want * np.sqrt(2 / w.size) * 1.5
        assert abs(w.var() - want) < 4 * se, (name, w.var(), want)
    orth = mlp.Trainer(hidden=(pad,), init="orthogonal")
    W = np.asarray(init(orth, jax.random.wrap_key_data(key_data[0]), 64, 16, 1.0,
                        jnp.float64)["hidden_0"]["kernel"])[:, :16]
    np.testing.assert_allclose(W.T @ W, 2 * np.eye(16), atol=1e-12)   # gain sqrt(2), ReLU
    scaled = _host(init_he(keys, 0.25))   # every lane's hidden layer, scaled
    np.testing.assert_allclose(scaled["hidden_1"]["kernel"], 0.25 * params["hidden_1"]["kernel"])


@pytest.mark.slow
def test_regression_fit_rule_is_the_residual_relative_to_std():
    X, y = _data(3, 12, 6, seed=6, labels="real")
    tr = mlp.Trainer(hidden=(48,), loss="squared", optimizer="adam", max_steps=1500, tol=1e-3)
    res = mlp.train(tr, X, y, _keys(3), width=np.array([1, 48, 48]), lr=1e-2)
    # max |f(x) - y| / std(y) of one lane, recomputed (compiled once for the three lanes)
    residual = jax.jit(lambda params, X, y, width:
                       jnp.max(jnp.abs(mlp.predict(tr, params, X, width) - y)) / jnp.std(y))
    params = _host(res.params)
    for i in range(3):
        rel = float(residual(mlp.lane_params(params, i), X[i], y[i], [1, 48, 48][i]))
        np.testing.assert_allclose(float(res.max_residual[i]), rel, rtol=1e-9)
        assert bool(res.memorized[i]) == (rel <= 1e-3)
    assert not res.memorized[0] and res.memorized[1:].all()


@pytest.mark.slow
def test_minibatch_sgd_cross_entropy_and_a_shared_dataset():
    """Several seeds on one shared dataset, k classes, momentum SGD with per-epoch decay."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 5))
    labels = rng.integers(0, 3, 30)
    tr = mlp.Trainer(hidden=(32, 32), outputs=3, loss="cross_entropy", optimizer="sgd",
                     momentum=0.9, batch_size=10, check_every=3, lr_decay=0.95, max_steps=600)
    res = mlp.train(tr, X, labels, _keys(3, seed=9), lr=0.05)
    assert res.memorized.all()
    assert (np.asarray(res.steps_to_fit) % 3 == 0).all()
    logits = jax.jit(jax.vmap(lambda p: mlp.predict(tr, p, X, 32)))(res.params)
    np.testing.assert_array_equal(np.asarray(logits).argmax(-1),
                                  np.broadcast_to(labels, (3, 30)))


@pytest.mark.slow
def test_zero_weight_rows_are_padding():
    """Rows of weight 0 appended to every lane (far away, all labelled +1) change nothing:
    the loss, every parameter, the fit check and the step each lane froze at are those of the
    unpadded run (which is test_flags_...'s compiled program: ADAM on 6 lanes x 24 points)."""
    X, y = _data(6, 24, 4, seed=10)
    keys, widths = _keys(6, seed=11), np.array([1, 2, 4, 8, 16, 16])
    pad_X = np.concatenate([X, 5 + np.zeros((6, 4, 4))], axis=1)
    pad_y = np.concatenate([y, np.ones((6, 4))], axis=1)
    weight = np.concatenate([np.ones((6, 24)), np.zeros((6, 4))], axis=1)
    a = mlp.train(ADAM, X, y, keys, width=widths, lr=3e-2)
    b = mlp.train(ADAM, pad_X, pad_y, keys, width=widths, lr=3e-2, sample_weight=weight)
    assert a.memorized.any() and not a.memorized.all()   # frozen lanes and lanes to the end
    np.testing.assert_array_equal(a.memorized, b.memorized)
    np.testing.assert_array_equal(a.steps_to_fit, b.steps_to_fit)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
    for p, q in zip(jax.tree.leaves(_host(a.params)), jax.tree.leaves(_host(b.params))):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-14)


@pytest.mark.slow
def test_fixed_output_layer_and_network_export():
    X, y = _data(2, 16, 4, seed=11)
    tr = mlp.Trainer(hidden=(20,), loss="logistic", optimizer="gd", max_steps=30,
                     train_output=False, freeze=False)
    state, data = mlp.init_state(tr, X, y, _keys(2), width=np.array([10, 20]), lr=0.5)
    res = mlp.finish(tr, mlp.advance(tr, state, data, 30), data)
    out0 = np.asarray(state.params["output"]["kernel"])
    np.testing.assert_array_equal(out0, np.asarray(res.params["output"]["kernel"]))
    np.testing.assert_allclose(np.abs(out0[0, :10]), 1 / np.sqrt(10))
    assert (out0[0, 10:] == 0).all()
    params = mlp.lane_params(_host(res.params), 0)
    net = mlp.to_network(tr, params, 10)
    assert int(network.widths(net)[0]) == 10
    # compiled (one program each, not one per op)
    np.testing.assert_allclose(jax.jit(network.apply)(net, X[0]),
                               jax.jit(mlp.predict, static_argnums=0)(tr, params, X[0], 10),
                               rtol=1e-12, atol=1e-12)
    assert int(jax.jit(network.nonzero_param_count)(net)) <= mlp.param_count(4, 10)
    assert bool(jax.jit(metrics.sign_accuracy)(net, X[0], y[0]) == res.train_accuracy[0])


def test_param_count_is_the_standard_formula():
    # Zhang et al. 2017, Table 1's MLPs on 28x28x3 inputs.
    assert mlp.param_count(2352, 512, 10) == 1_209_866
    assert mlp.param_count(2352, (512, 512, 512), 10) == 1_735_178
    assert mlp.param_count(3, 4) == 4 * 4 + 5


@pytest.mark.parametrize("kwargs, message", [
    (dict(y=np.array([1.0, 0.0, 1.0, -1.0])), "row 1"),
    (dict(width=17), "padded width"),
    (dict(X=np.array([[0.0], [np.nan], [1.0], [2.0]])), "row 1"),
    (dict(lr=-1.0), "lr must be > 0"),
    (dict(init_scale=np.array([1.0, np.inf])), "lane 1"),
])
def test_bad_input_is_named_before_compiling(kwargs, message):
    args = dict(X=np.arange(4.0)[:, None], y=np.array([1.0, -1.0, 1.0, -1.0]), width=4,
                lr=0.1, init_scale=1.0)
    args.update(kwargs)
    tr = mlp.Trainer(hidden=(16,))
    with pytest.raises(ValueError, match=message):
        mlp.train(tr, args["X"], args["y"], _keys(2), width=args["width"], lr=args["lr"],
                  init_scale=args["init_scale"])


def test_bad_trainers_are_refused():
    with pytest.raises(ValueError, match="batch_size must be None"):
        mlp.Trainer(hidden=(4,), optimizer="gd", batch_size=8)
    with pytest.raises(ValueError, match="unknown init"):
        mlp.Trainer(hidden=(4,), init="xavier")
    with pytest.raises(ValueError, match="outputs=1"):
        mlp.Trainer(hidden=(4,), outputs=3, loss="logistic")
