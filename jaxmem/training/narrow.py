"""MLPs whose first hidden layer has width w, trained with Adam on the logistic loss.

Yu et al. (NeurIPS 2024), Theorem 5.1 / Lemma D.2: such a network sees x only through W1 x, so
on the ball/annulus distribution its accuracy is capped by
`jaxmem.metrics.width_ceiling.projection_accuracy_ceiling(n, w)`, whatever the width of the
later layers and however it is trained. The architecture is n -> w -> hidden -> 1 (ReLU, scalar
output); a first width > n is the wide control.

Inputs are standardized with the training set's per-coordinate mean and standard deviation for
the optimizer's sake; the affine map is folded into the first layer afterwards, so the
returned `jaxmem.network.Network` reads raw x and still has first-layer width w (the folding
is a change of W1 and b1, not a new layer).

`fit` / `train_one` train one network from one key (they vmap: `verify.yu2024_width` runs one
per dataset); `train_narrow` runs `seeds` of them, vmapped over keys, in ONE jitted call.
Randomness: the key splits into the initialization and the minibatch order.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmem import network
from jaxmem.data.validate import positive_int, validate


def init(key, n: int, first_width: int, hidden: int, dtype, active_width=None) -> network.Network:
    """He-uniform ReLU layers n -> first_width -> hidden, then a LeCun-uniform scalar output;
    zero biases. active_width (an int, may be traced): only the first active_width units of
    the first layer are active (a padded layer, see jaxmem.network), so that networks of
    several first widths share one static shape and one compilation."""
    # He-uniform U(-sqrt(6/fan_in), sqrt(6/fan_in)) from ONE uniform draw (one threefry call
    # site: XLA's CPU compile time grows with each).
    shapes = ((n, first_width), (first_width, hidden), (hidden, 1))
    sizes = [a * b for a, b in shapes]
    U = 2 * jax.random.uniform(key, (sum(sizes),), dtype) - 1
    parts = jnp.split(U, [sizes[0], sizes[0] + sizes[1]])
    # The second layer's fan-in counts the first-layer units actually present.
    fans = (n, first_width if active_width is None else jnp.maximum(active_width, 1), hidden)
    gains = (6.0, 6.0, 3.0)  # ReLU layers: He; the linear output: LeCun
    acts = ("relu", "relu", "identity")
    net = network.Network(
        tuple(
            network.Layer(
                u.reshape(shape) * jnp.sqrt(g / fan).astype(dtype),
                jnp.zeros((shape[1],), dtype),
                activation=act,
            )
            for u, shape, fan, g, act in zip(parts, shapes, fans, gains, acts)
        )
    )
    return _with_mask(net, _first_mask(first_width, active_width))


def _first_mask(first_width, active_width):
    return None if active_width is None else jnp.arange(first_width) < active_width


def _with_mask(net: network.Network, mask) -> network.Network:
    first = dataclasses.replace(net.layers[0], mask=mask)
    return network.Network((first,) + net.layers[1:])


def _fold_standardization(net: network.Network, mean, std) -> network.Network:
    """The network on raw x of one trained on (x - mean) / std: W1 / std, b1 - (mean/std) W1."""
    first = net.layers[0]
    W = first.weight / std[:, None]
    b = first.bias - jnp.matmul(mean, W, precision=jax.lax.Precision.HIGHEST)
    return network.Network((dataclasses.replace(first, weight=W, bias=b),) + net.layers[1:])


def _logistic_loss(net, X, y):
    return jnp.mean(jax.nn.softplus(-y * network.apply(net, X)))


def _accuracy(net, X, y):
    """sign(f) = y; f = 0 counts as an error (docs/conventions.md §7)."""
    f = network.apply(net, X)
    return jnp.mean((jnp.sign(f) == y).astype(f.dtype))  # a bool mean would be float32


def fit(
    key,
    X,
    y,
    *,
    first_width: int,
    hidden: int = 64,
    steps: int = 1000,
    lr: float = 1e-2,
    batch_size: int | None = None,
    active_width=None,
    first_bias: str = "zero",
):
    """Trains one network on (X, y): Adam (cosine-decayed step size), logistic loss, `steps`
    updates on minibatches of `batch_size` (None: the full batch) drawn without replacement,
    reshuffled each epoch. Returns (net on raw inputs, final training loss). Pure; vmaps (also
    over a traced active_width <= first_width: masked first-layer units output exactly 0, get
    zero gradients, and Adam leaves them where they are).

    first_bias: "zero" (the usual initialization) or "active": each first-layer unit's bias
    starts at 1 - min over the training rows of its pre-activation, so every training point is
    on the unit's active side. With a very narrow first layer (w = 1, 2) a zero bias leaves a
    tenth of the points on the dead side of every unit, where they get no gradient and can
    never be separated; "active" starts from a first layer that is linear on the training set."""
    N, n = X.shape
    k_init, k_order = jax.random.split(key)
    mean = jnp.mean(X, axis=0)
    std = jnp.maximum(jnp.std(X, axis=0), jnp.finfo(X.dtype).tiny)
    Z = (X - mean) / std
    mask = _first_mask(first_width, active_width)
    # The mask is not a parameter: train the unmasked pytree, apply the mask in the loss.
    params = _with_mask(init(k_init, n, first_width, hidden, X.dtype, active_width), None)
    if first_bias == "active":
        first = params.layers[0]
        pre = jnp.matmul(Z, first.weight, precision=jax.lax.Precision.HIGHEST)
        first = dataclasses.replace(first, bias=1 - jnp.min(pre, axis=0))
        params = network.Network((first,) + params.layers[1:])
    elif first_bias != "zero":
        raise ValueError(f"first_bias must be 'zero' or 'active'; got {first_bias!r}")

    def loss_fn(p, Xb, yb):
        return _logistic_loss(_with_mask(p, mask), Xb, yb)

    opt = optax.adam(optax.cosine_decay_schedule(lr, steps))
    full = batch_size is None or batch_size >= N
    B = N if full else batch_size
    per_epoch = N // B
    epochs = -(-steps // per_epoch)
    # Every epoch's order up front (static shape (epochs, N)); full batch: no gathers at all.
    orders = (
        None
        if full
        else jax.vmap(lambda k: jax.random.permutation(k, N))(jax.random.split(k_order, epochs))
    )

    def step(carry, i):
        params, state = carry
        if full:
            Xb, yb = Z, y
        else:
            idx = jax.lax.dynamic_slice(orders[i // per_epoch], ((i % per_epoch) * B,), (B,))
            Xb, yb = Z[idx], y[idx]
        loss, grads = jax.value_and_grad(loss_fn)(params, Xb, yb)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
    net = _with_mask(params, mask)
    return _fold_standardization(net, mean, std), _logistic_loss(net, Z, y)


def train_one(
    key,
    X,
    y,
    X_test,
    y_test,
    *,
    first_width: int,
    hidden: int = 64,
    steps: int = 1000,
    lr: float = 1e-2,
    batch_size: int | None = None,
    active_width=None,
    first_bias: str = "zero",
) -> dict:
    """`fit`, then the train and test accuracy of the returned network, its final training
    loss and its first-layer width (active units, jaxmem.network.widths): scalars."""
    net, loss = fit(
        key,
        X,
        y,
        first_width=first_width,
        hidden=hidden,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        active_width=active_width,
        first_bias=first_bias,
    )
    return dict(
        train_accuracy=_accuracy(net, X, y),
        test_accuracy=_accuracy(net, X_test, y_test),
        final_loss=loss,
        first_width=network.widths(net)[0],
    )


@functools.partial(
    jax.jit, static_argnames=("first_width", "hidden", "steps", "batch_size", "seeds")
)
def _train_seeds(key, X, y, X_test, y_test, lr, *, first_width, hidden, steps, batch_size, seeds):
    one = functools.partial(
        train_one, first_width=first_width, hidden=hidden, steps=steps, batch_size=batch_size
    )
    return jax.vmap(lambda k: one(k, X, y, X_test, y_test, lr=lr))(jax.random.split(key, seeds))


def train_narrow(
    key,
    X,
    y,
    X_test,
    y_test,
    *,
    first_width: int,
    hidden: int = 64,
    steps: int = 1000,
    lr: float = 1e-2,
    seeds: int = 4,
    batch_size: int | None = None,
) -> dict:
    """Trains `seeds` networks n -> first_width -> hidden -> 1 on (X, y) in one jitted, vmapped
    call (seed s uses jax.random.split(key, seeds)[s] for its init and minibatch order).

    Returns dict of arrays of shape (seeds,): train_accuracy, test_accuracy (on X_test, y_test),
    final_loss, first_width. Labels are +-1; an output of exactly 0 counts as an error.
    """
    first_width, hidden = positive_int("first_width", first_width), positive_int("hidden", hidden)
    steps, seeds = positive_int("steps", steps), positive_int("seeds", seeds)
    if batch_size is not None:
        batch_size = positive_int("batch_size", batch_size)
    try:
        lr_ok = not isinstance(lr, (bool, str)) and math.isfinite(float(lr)) and float(lr) > 0
    except (TypeError, ValueError):
        lr_ok = False
    if not lr_ok:
        raise ValueError(f"lr must be a positive finite number; got {lr!r}")
    validate(X, y, task="binary", check_duplicates=False, name="X")
    validate(X_test, y_test, check_duplicates=False, name="X_test")
    bad = (np.asarray(y_test) != 1) & (np.asarray(y_test) != -1)
    if bad.any():
        raise ValueError(f"y_test must be -1 or +1; row {int(np.flatnonzero(bad)[0])} is not")
    if np.shape(X_test)[1] != np.shape(X)[1]:
        raise ValueError(
            f"the test set has {np.shape(X_test)[1]} features, the training set {np.shape(X)[1]}"
        )
    X = jnp.asarray(X)
    dtype = jnp.result_type(X.dtype, jnp.float32)
    X, X_test = X.astype(dtype), jnp.asarray(X_test, dtype)
    y, y_test = jnp.asarray(y, dtype), jnp.asarray(y_test, dtype)
    return _train_seeds(
        key,
        X,
        y,
        X_test,
        y_test,
        jnp.asarray(float(lr), dtype),
        first_width=first_width,
        hidden=hidden,
        steps=steps,
        batch_size=batch_size,
        seeds=seeds,
    )


__all__ = ["fit", "init", "train_narrow", "train_one"]
