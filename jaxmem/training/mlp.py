"""Gradient-trained MLPs, many at once: one compiled call trains L "lanes" (datasets x seeds x
init scales x widths x learning rates) with a per-lane "memorized" mask.

The question behind it (docs/papers/gd-width.md): how small a network can gradient descent make
memorize? Existence needs about n/d neurons (Bubeck et al. 2020); proofs for GD need width
Õ(n/d) (Daniely 2019) or N d >> n in the lazy regime (Montanari & Zhong 2020). Answering it
empirically means training thousands of small networks, so the unit of work is a batch of
lanes, not a model:

* A lane is one network: its own PRNG key (init and minibatch order), dataset (or a dataset
  shared by all lanes), active width, init scale and learning rate. Lanes are vmapped inside
  ONE `lax.while_loop`; the loop stops as soon as every lane has memorized its training set
  (`max_steps` otherwise).
* Memorized lanes are frozen: their parameters and optimizer state stop changing at the step
  they first fit, and `steps_to_fit` records that step. "Fit" is 100% training accuracy for
  classification (an output of 0 is an error, docs/conventions.md §7) and max |f(x_i) - y_i| <=
  `tol` * std(y) for regression (gd-width.md §3's protocol).
* Widths are padded: every hidden layer has the static width `Trainer.hidden[l]` and a lane's
  active width m masks the rest. Masked units output exactly 0, so they get zero gradients and
  optax's SGD / Adam leave them at 0 contribution; one compilation serves every width up to
  the padded one. The initializer's fan-in is corrected to the active width, so a padded lane
  is distributed exactly as an unpadded network of width m (tests check both).

Model: a flax.linen MLP d -> hidden[0] -> ... -> hidden[-1] -> outputs, activation relu or
tanh, biases initialized to 0, weights by He, LeCun or orthogonal initialization, times the
lane's init scale. Losses: logistic on +-1 labels (scalar output), softmax cross-entropy on
integer labels (k outputs), squared on real targets. Optimizers (optax): "gd" (full batch),
"sgd" (minibatches, optional momentum), "adam", with optional per-epoch learning-rate decay
(Zhang et al. 2017 use 0.95) and weight decay.

Entry points: `train(trainer, X, y, keys, ...)` -> `TrainResult`; `predict`, `accuracy`,
`hidden_activations`, `to_network` read a trained lane. `init_state` / `advance` run the
same loop in segments (the information plane and CSR-over-training experiments measure in
between). `param_count(d, width, ...)` gives the standard count (weights plus biases).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmem import network
from jaxmem.data.validate import positive_int

INITS = ("he", "lecun", "orthogonal")
LOSSES = ("logistic", "cross_entropy", "squared")
OPTIMIZERS = ("gd", "sgd", "adam")
ACTIVATIONS = ("relu", "tanh")
FIT_RULES = ("accuracy", "residual")
_HIGHEST = jax.lax.Precision.HIGHEST
# The training programs are compiled at XLA's default optimization level even where the quick
# scale (and the tests) lower it for fast compiles: a training loop's run time, not its
# compile time, dominates (measured ~15x slower unoptimized on CPU, for no faster compile).
OPTIMIZED = {"xla_backend_optimization_level": 2}


@dataclasses.dataclass(frozen=True)
class Trainer:
    """Everything static about a batch of training runs (hashable: one compilation each).

    hidden: padded width of each hidden layer, e.g. (512,) or (512, 512, 512).
    outputs: 1 for a scalar output (logistic, or squared on scalar targets), k for k classes.
    fit_rule: None picks "accuracy" for logistic / cross-entropy, "residual" for squared.
    tol: the regression fit tolerance, relative to std(y) (gd-width.md §3: 1e-3).
    batch_size: None = full batch (required for "gd").
    check_every: steps between fit checks for minibatch runs (a full forward pass each);
        full-batch runs check every step for free, from the forward pass of the gradient.
    lr_decay: learning rate multiplied by this factor once per epoch (1 = constant).
    train_output: False freezes the output layer at random signs / sqrt(m) (gd-width.md §3's "train
        only the first layer" variant; Daniely 2020).
    freeze: False keeps training memorized lanes (loss curves past the fit).
    """

    hidden: tuple[int, ...]
    outputs: int = 1
    activation: str = "relu"
    init: str = "he"
    loss: str = "logistic"
    optimizer: str = "gd"
    momentum: float = 0.0
    batch_size: int | None = None
    max_steps: int = 1000
    check_every: int = 1
    fit_rule: str | None = None
    tol: float = 1e-3
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    train_output: bool = True
    freeze: bool = True

    def __post_init__(self):
        hidden = tuple(self.hidden)
        if not hidden:
            raise ValueError(
                f"hidden must be a non-empty tuple of positive ints; got {self.hidden!r}"
            )
        hidden = tuple(positive_int(f"hidden[{i}]", w) for i, w in enumerate(hidden))
        object.__setattr__(self, "hidden", hidden)
        for name, value, allowed in (
            ("activation", self.activation, ACTIVATIONS),
            ("init", self.init, INITS),
            ("loss", self.loss, LOSSES),
            ("optimizer", self.optimizer, OPTIMIZERS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
        if self.fit_rule is not None and self.fit_rule not in FIT_RULES:
            raise ValueError(f"unknown fit_rule {self.fit_rule!r}; expected one of {FIT_RULES}")
        for name in ("outputs", "max_steps", "check_every"):
            positive_int(name, getattr(self, name))
        if self.batch_size is not None:
            positive_int("batch_size", self.batch_size)
        if self.optimizer == "gd" and self.batch_size is not None:
            raise ValueError(
                "optimizer 'gd' is full-batch gradient descent: batch_size must "
                "be None (use 'sgd' for minibatches)"
            )
        if self.loss == "logistic" and self.outputs != 1:
            raise ValueError(
                "the logistic loss needs outputs=1 (labels +-1); use 'cross_entropy' for k classes"
            )
        if self.loss == "cross_entropy" and self.outputs < 2:
            raise ValueError("cross_entropy needs outputs >= 2 (one logit per class)")
        if self.loss == "cross_entropy" and self.resolved_fit_rule == "residual":
            raise ValueError("fit_rule 'residual' needs the squared loss")
        for name, low in (("tol", 0.0), ("lr_decay", 0.0)):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > low):
                raise ValueError(f"{name} must be a finite number > {low}; got {v!r}")
        for name in ("momentum", "weight_decay"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")

    @property
    def resolved_fit_rule(self) -> str:
        if self.fit_rule is not None:
            return self.fit_rule
        return "residual" if self.loss == "squared" else "accuracy"

    @property
    def full_batch(self) -> bool:
        return self.batch_size is None


# --- the model -------------------------------------------------------------------------------


def _kernel_init(init: str, activation: str, last: bool):
    if last:  # a linear read-out: LeCun (variance 1 / fan-in) for every scheme
        return nn.initializers.lecun_normal()
    if init == "he":
        return nn.initializers.he_normal()
    if init == "lecun":
        return nn.initializers.lecun_normal()
    # Orthogonal rows/columns, gain sqrt(2) for ReLU so that a unit's pre-activation has the
    # variance He initialization gives it (orthogonal columns have norm 1, He's ~sqrt(2)).
    return nn.initializers.orthogonal(scale=math.sqrt(2.0) if activation == "relu" else 1.0)


class MLP(nn.Module):
    """d -> hidden[0] -> ... -> outputs. `masks[l]` (hidden[l],) zeroes padded units."""

    hidden: tuple[int, ...]
    outputs: int
    activation: str
    init_scheme: str  # not `init`: that is flax.linen.Module.init
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, masks, return_hidden: bool = False):
        act = jax.nn.relu if self.activation == "relu" else jnp.tanh
        layers = []
        for l, (width, mask) in enumerate(zip(self.hidden, masks)):
            x = nn.Dense(
                width,
                kernel_init=_kernel_init(self.init_scheme, self.activation, False),
                precision=_HIGHEST,
                param_dtype=self.param_dtype,
                name=f"hidden_{l}",
            )(x)
            x = jnp.where(mask, act(x), 0)
            layers.append(x)
        out = nn.Dense(
            self.outputs,
            kernel_init=_kernel_init(self.init_scheme, self.activation, True),
            precision=_HIGHEST,
            param_dtype=self.param_dtype,
            name="output",
        )(x)
        out = out[..., 0] if self.outputs == 1 else out
        return (out, layers) if return_hidden else out


def _model(trainer: Trainer, param_dtype=jnp.float32) -> MLP:
    return MLP(trainer.hidden, trainer.outputs, trainer.activation, trainer.init, param_dtype)


def _masks(trainer: Trainer, width):
    """Per hidden layer, the units a lane uses: width is a scalar (every layer) or (H,)."""
    width = jnp.broadcast_to(jnp.asarray(width), (len(trainer.hidden),))
    return tuple(jnp.arange(w) < m for w, m in zip(trainer.hidden, width))


def _active_widths(trainer: Trainer, width):
    width = jnp.broadcast_to(jnp.asarray(width), (len(trainer.hidden),))
    return [jnp.minimum(m, w) for w, m in zip(trainer.hidden, width)]


def init_params(trainer: Trainer, key, d: int, width, init_scale=1.0, dtype=jnp.float32):
    """One lane's parameters (pure; vmaps over key, width and init_scale).

    flax initializes the padded layers; weights after the first are rescaled by
    sqrt(padded / active fan-in) so their variance is 1 / (active fan-in) times the scheme's
    gain (He, LeCun); orthogonal layers keep unit-norm directions. Every weight matrix is
    multiplied by init_scale; biases start at 0. With train_output=False the read-out is fixed
    random signs / sqrt(m) (gd-width.md §3).
    """
    k_init, k_signs = jax.random.split(key)
    masks = _masks(trainer, width)
    params = _model(trainer, dtype).init(k_init, jnp.zeros((1, d), dtype), masks)["params"]
    fans = [d] + _active_widths(trainer, width)
    padded = [d] + list(trainer.hidden)
    names = [f"hidden_{l}" for l in range(len(trainer.hidden))] + ["output"]
    out = {}
    for l, name in enumerate(names):
        kernel = params[name]["kernel"]
        if l and (trainer.init != "orthogonal" or name == "output"):
            kernel = kernel * jnp.sqrt(padded[l] / fans[l]).astype(dtype)
        if name == "output" and not trainer.train_output:
            signs = jnp.where(jax.random.bernoulli(k_signs, 0.5, kernel.shape), 1.0, -1.0)
            kernel = (signs / jnp.sqrt(fans[l])).astype(dtype)
        # Padded rows (inputs from masked units) are zeroed so the lane's parameter vector
        # is exactly that of a width-m network (they would get no gradient anyway).
        if l:
            kernel = jnp.where(masks[l - 1][:, None], kernel, 0)
        if l < len(trainer.hidden):
            kernel = jnp.where(masks[l][None, :], kernel, 0)
        out[name] = dict(kernel=kernel * jnp.asarray(init_scale, dtype), bias=params[name]["bias"])
    return out


def predict(trainer: Trainer, params, X, width):
    """One lane's outputs on X (N, d): (N,) for a scalar output, else (N, k) logits."""
    return _model(trainer).apply({"params": params}, X, _masks(trainer, width))


def hidden_activations(trainer: Trainer, params, X, width) -> list:
    """One lane's hidden-layer activations on X: a list of (N, hidden[l]) arrays (padded
    units are exactly 0)."""
    # with return_hidden, the model returns (outputs, hidden): flax types apply's result loosely
    return cast(
        list,
        _model(trainer).apply({"params": params}, X, _masks(trainer, width), return_hidden=True)[1],
    )


def to_network(trainer: Trainer, params, width) -> network.Network:
    """One lane as a `jaxmem.network.Network` (padded units masked), so that every metric in
    jaxmem.metrics applies to trained networks too. Needs activation relu (tanh has no
    Network activation)."""
    if trainer.activation != "relu":
        raise ValueError("to_network needs activation 'relu'; jaxmem.network has no tanh")
    masks = _masks(trainer, width)
    layers = [
        network.Layer(
            params[f"hidden_{l}"]["kernel"],
            params[f"hidden_{l}"]["bias"],
            mask=masks[l],
            activation="relu",
        )
        for l in range(len(trainer.hidden))
    ]
    layers.append(
        network.Layer(params["output"]["kernel"], params["output"]["bias"], activation="identity")
    )
    return network.Network(tuple(layers))


def param_count(d: int, width, outputs: int = 1) -> int:
    """Weights plus biases of d -> width[0] -> ... -> outputs (docs/conventions.md §6):
    sum over layers of n_out (n_in + 1). width: an int (one hidden layer) or a sequence."""
    widths = [width] if isinstance(width, (int, np.integer)) else list(width)
    sizes = [int(d)] + [int(w) for w in widths] + [int(outputs)]
    return sum(b * (a + 1) for a, b in zip(sizes[:-1], sizes[1:]))


# --- losses and the fit criterion ------------------------------------------------------------


def _per_example_loss(trainer: Trainer, out, y):
    if trainer.loss == "logistic":
        return jax.nn.softplus(-y * out)
    if trainer.loss == "cross_entropy":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    err = out - y
    return 0.5 * (err * err if err.ndim == 1 else jnp.sum(err * err, axis=-1))


def _correct(trainer: Trainer, out, y):
    """Per-example correctness of the prediction (sign, or argmax; a 0 output is wrong)."""
    if trainer.loss == "cross_entropy":
        return jnp.argmax(out, axis=-1) == y
    if trainer.outputs == 1:
        return jnp.sign(out) == jnp.sign(y)
    return jnp.argmax(out, axis=-1) == jnp.argmax(y, axis=-1)


def _residual(out, y):
    err = jnp.abs(out - y)
    return err if err.ndim == 1 else jnp.max(err, axis=-1)


def _weighted_mean(values, weight):
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1)


def _fit_stats(trainer: Trainer, out, y, weight, y_scale):
    """(loss, accuracy, max residual / y_scale, fit) of one lane on its training set."""
    loss = _weighted_mean(_per_example_loss(trainer, out, y), weight)
    correct = _correct(trainer, out, y)
    accuracy = _weighted_mean(correct.astype(out.dtype), weight)
    if trainer.loss == "cross_entropy":
        residual = jnp.zeros((), out.dtype)
    else:
        residual = jnp.max(jnp.where(weight > 0, _residual(out, y), 0)) / y_scale
    if trainer.resolved_fit_rule == "accuracy":
        fit = jnp.all(correct | (weight == 0))
    else:
        fit = residual <= trainer.tol
    return loss, accuracy, residual, fit


# --- the optimizer -----------------------------------------------------------------------------


def _steps_per_epoch(trainer: Trainer, n: int) -> int:
    # trainer.full_batch: batch_size is None
    return 1 if trainer.batch_size is None else max(n // min(trainer.batch_size, n), 1)


def _optimizer(trainer: Trainer, lr, steps_per_epoch: int):
    """The optax transformation of one lane; lr may be traced (one compilation, many rates)."""
    if trainer.lr_decay == 1.0:
        schedule = lambda count: lr
    else:
        decay = trainer.lr_decay
        schedule = lambda count: lr * decay ** (count // steps_per_epoch)
    if trainer.optimizer == "adam":
        opt = optax.adam(schedule)
    else:
        opt = optax.sgd(schedule, momentum=trainer.momentum or None)
    if trainer.weight_decay:
        opt = optax.chain(optax.add_decayed_weights(trainer.weight_decay), opt)
    return opt


def _trainable_mask(trainer: Trainer, params):
    return {
        name: jax.tree.map(lambda _: trainer.train_output or name != "output", sub)  # noqa: B023
        for name, sub in params.items()
    }


# --- the state and the loop ------------------------------------------------------------------


class TrainState(NamedTuple):
    """Per-lane training state; every field has a leading lane axis."""

    params: Any
    opt_state: Any
    order_key: jax.Array
    order: jax.Array  # minibatch runs: the current epoch's permutation (lanes, N)
    width: jax.Array
    lr: jax.Array
    done: jax.Array  # memorized (frozen if trainer.freeze)
    steps_to_fit: jax.Array  # updates applied when the fit was first seen; -1: not yet
    step: jax.Array  # updates applied so far (shared by all lanes; scalar)
    history_loss: jax.Array  # (lanes, max_steps // check_every + 1), NaN where not reached
    history_accuracy: jax.Array


class TrainResult(NamedTuple):
    params: Any  # leading lane axis
    memorized: jax.Array  # (L,) bool: the final (or frozen) parameters fit
    steps_to_fit: jax.Array  # (L,) int; -1 where never
    steps_run: jax.Array  # (L,) updates applied to the lane
    loss: jax.Array  # (L,) final training loss
    train_accuracy: jax.Array
    max_residual: jax.Array  # (L,) max |f - y| / std(y) (0 for cross-entropy)
    history_loss: jax.Array  # (L, H): the training loss at each check (step i*check_every)
    history_accuracy: jax.Array


def _history_length(trainer: Trainer) -> int:
    return trainer.max_steps // trainer.check_every + 1


def _y_scale(trainer: Trainer, y, weight):
    """std(y) over the (weighted) training targets, pooled over outputs: the unit of the
    regression fit tolerance. A constant target (std 0) is measured in absolute terms."""
    if trainer.loss == "cross_entropy":
        return jnp.ones((), weight.dtype)
    w = jnp.broadcast_to(weight if y.ndim == 1 else weight[:, None], y.shape)
    count = jnp.maximum(jnp.sum(w), 1)
    mean = jnp.sum(w * y) / count
    var = jnp.sum(w * (y - mean) ** 2) / count
    return jnp.where(var > 0, jnp.sqrt(var), 1)


def _lane_init(trainer, key, X, width, init_scale, lr):
    k_init, k_order = jax.random.split(key)
    params = init_params(trainer, k_init, X.shape[-1], width, init_scale, X.dtype)
    opt = _optimizer(trainer, lr, _steps_per_epoch(trainer, X.shape[0]))
    return params, opt.init(params), k_order


def _lane_chunk(
    trainer, params, opt_state, order_key, order, width, lr, done, steps_to_fit, step, X, y, weight
):
    """One lane: `check_every` updates (none if frozen), then the fit check. Full batch:
    one update, checked on the forward pass of its own gradient (the parameters before it)."""
    n = X.shape[0]
    per_epoch = _steps_per_epoch(trainer, n)
    opt = _optimizer(trainer, lr, per_epoch)
    trainable = _trainable_mask(trainer, params)
    y_scale = _y_scale(trainer, y, weight)

    def objective(p, Xb, yb, wb):
        out = predict(trainer, p, Xb, width)
        return _weighted_mean(_per_example_loss(trainer, out, yb), wb), out

    def update(p, s, grads, frozen):
        grads = jax.tree.map(lambda g, t: g if t else jnp.zeros_like(g), grads, trainable)
        upd, s_new = opt.update(grads, s, p)
        p_new = optax.apply_updates(p, upd)
        keep = lambda old, new: jnp.where(frozen, old, new)
        return jax.tree.map(keep, p, p_new), jax.tree.map(keep, s, s_new)

    if trainer.full_batch:
        (_, out), grads = jax.value_and_grad(objective, has_aux=True)(params, X, y, weight)
        loss, acc, _, fit = _fit_stats(trainer, out, y, weight, y_scale)
        newly = fit & ~done
        steps_to_fit = jnp.where(newly, step, steps_to_fit)
        done = done | fit
        frozen = done & trainer.freeze
        params, opt_state = update(params, opt_state, grads, frozen)
        return params, opt_state, order, done, steps_to_fit, loss, acc

    B = min(trainer.batch_size, n)

    def one(carry, i):
        p, s, perm = carry
        t = step + i
        # A new order at each epoch start. t is shared by all lanes (not batched), so under
        # vmap this stays a real branch: the sort runs once an epoch, not once a step.
        perm = jax.lax.cond(
            t % per_epoch == 0,
            lambda: jax.random.permutation(jax.random.fold_in(order_key, t // per_epoch), n).astype(
                jnp.int32
            ),
            lambda: perm,
        )
        idx = jax.lax.dynamic_slice(perm, ((t % per_epoch) * B,), (B,))
        (_, _), grads = jax.value_and_grad(objective, has_aux=True)(p, X[idx], y[idx], weight[idx])
        p, s = update(p, s, grads, done & trainer.freeze)
        return (p, s, perm), None

    (params, opt_state, order), _ = jax.lax.scan(
        one, (params, opt_state, order), jnp.arange(trainer.check_every)
    )
    out = predict(trainer, params, X, width)
    loss, acc, _, fit = _fit_stats(trainer, out, y, weight, y_scale)
    newly = fit & ~done
    steps_to_fit = jnp.where(newly, step + trainer.check_every, steps_to_fit)
    return params, opt_state, order, done | fit, steps_to_fit, loss, acc


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=OPTIMIZED)
def _init_state(trainer, X, y, weight, keys, width, init_scale, lr):
    axes = (0 if X.ndim == 3 else None,)
    params, opt_state, order_key = jax.vmap(
        lambda k, Xl, m, s, r: _lane_init(trainer, k, Xl, m, s, r), in_axes=(0,) + axes + (0, 0, 0)
    )(keys, X, width, init_scale, lr)
    L = keys.shape[0]
    H = _history_length(trainer)
    nan = jnp.full((L, H), jnp.nan, X.dtype)
    order = jnp.zeros((L, 1 if trainer.full_batch else X.shape[-2]), jnp.int32)
    return TrainState(
        params,
        opt_state,
        order_key,
        order,
        width,
        lr,
        jnp.zeros((L,), bool),
        jnp.full((L,), -1, jnp.int32),
        jnp.zeros((), jnp.int32),
        nan,
        nan,
    )


def _advance(trainer, state: TrainState, X, y, weight, stop):
    """Runs chunks until step >= stop or every lane is done (frozen)."""
    x_ax, y_ax, w_ax = _lane_axes(trainer, X, y, weight)
    chunk = jax.vmap(
        functools.partial(_lane_chunk, trainer),
        in_axes=(0, 0, 0, 0, 0, 0, 0, 0, None, x_ax, y_ax, w_ax),
    )
    per_check = 1 if trainer.full_batch else trainer.check_every

    def cond(s: TrainState):
        running = s.step < stop
        return running & ~jnp.all(s.done) if trainer.freeze else running

    def body(s: TrainState):
        params, opt_state, order, done, steps_to_fit, loss, acc = chunk(
            s.params,
            s.opt_state,
            s.order_key,
            s.order,
            s.width,
            s.lr,
            s.done,
            s.steps_to_fit,
            s.step,
            X,
            y,
            weight,
        )
        # Full batch: the check at `step` saw the parameters before the update (index step);
        # minibatch: after check_every updates (index step / check_every + 1).
        slot = (s.step if trainer.full_batch else s.step // per_check + 1).astype(jnp.int32)
        hl = jax.lax.dynamic_update_slice(
            s.history_loss, loss[:, None].astype(s.history_loss.dtype), (jnp.int32(0), slot)
        )
        ha = jax.lax.dynamic_update_slice(
            s.history_accuracy, acc[:, None].astype(s.history_accuracy.dtype), (jnp.int32(0), slot)
        )
        return s._replace(
            params=params,
            opt_state=opt_state,
            order=order,
            done=done,
            steps_to_fit=steps_to_fit,
            step=s.step + per_check,
            history_loss=hl,
            history_accuracy=ha,
        )

    return jax.lax.while_loop(cond, body, state)


def _label_ndim(trainer: Trainer) -> int:
    """Dimensions of one dataset's labels: (N,) or, for vector targets, (N, k)."""
    return 2 if trainer.loss == "squared" and trainer.outputs > 1 else 1


def _lane_axes(trainer: Trainer, X, y, weight):
    """vmap in_axes of the data: a leading lane axis, or one array shared by every lane
    (seeds on one dataset; per-lane labels on shared inputs are allowed)."""
    return (
        0 if X.ndim == 3 else None,
        0 if y.ndim == _label_ndim(trainer) + 1 else None,
        0 if weight.ndim == 2 else None,
    )


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=OPTIMIZED)
def _advance_jit(trainer, state, X, y, weight, stop):
    return _advance(trainer, state, X, y, weight, stop)


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=OPTIMIZED)
def _finish(trainer, state: TrainState, X, y, weight) -> TrainResult:
    """The final fit check on the final parameters (a lane that fit on its last update)."""
    x_ax, y_ax, w_ax = _lane_axes(trainer, X, y, weight)

    def lane(params, width, Xl, yl, wl):
        out = predict(trainer, params, Xl, width)
        return _fit_stats(trainer, out, yl, wl, _y_scale(trainer, yl, wl))

    loss, acc, residual, fit = jax.vmap(lane, in_axes=(0, 0, x_ax, y_ax, w_ax))(
        state.params, state.width, X, y, weight
    )
    steps_to_fit = jnp.where((state.steps_to_fit < 0) & fit, state.step, state.steps_to_fit)
    memorized = fit if not trainer.freeze else (state.done | fit)
    steps_run = jnp.where(
        memorized & trainer.freeze & (steps_to_fit >= 0), steps_to_fit, state.step
    )
    H = state.history_loss.shape[1]
    slot = jnp.minimum(state.step // (1 if trainer.full_batch else trainer.check_every), H - 1)
    # The final check's entry (it is the state after the last update).
    hl = state.history_loss.at[:, slot].set(
        jnp.where(jnp.isnan(state.history_loss[:, slot]), loss, state.history_loss[:, slot])
    )
    ha = state.history_accuracy.at[:, slot].set(
        jnp.where(jnp.isnan(state.history_accuracy[:, slot]), acc, state.history_accuracy[:, slot])
    )
    return TrainResult(
        state.params, memorized, steps_to_fit, steps_run, loss, acc, residual, hl, ha
    )


# --- the public entry points: checked on the host, before anything compiles -----------------


def _lanes(keys) -> int:
    keys = jnp.asarray(keys) if not isinstance(keys, jax.Array) else keys
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        shape = keys.shape
    else:
        if keys.ndim != 2 or keys.shape[-1] != 2:
            raise ValueError(
                f"keys must be a batch of PRNG keys, shape (lanes,) typed or "
                f"(lanes, 2) uint32; got shape {tuple(keys.shape)}"
            )
        shape = keys.shape[:1]
    if len(shape) != 1 or shape[0] < 1:
        raise ValueError(f"keys must have one leading lane axis; got shape {tuple(shape)}")
    return int(shape[0])


def _lane_vector(name, value, lanes, dtype, *, positive=True, integer=False):
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full((lanes,), arr)
    if arr.ndim != 1 or arr.shape[0] != lanes:
        raise ValueError(
            f"{name} must be a scalar or one value per lane ({lanes}); got shape {arr.shape}"
        )
    if integer and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integers; got dtype {arr.dtype}")
    if not integer:
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"{name} must be real numbers; got dtype {arr.dtype}")
        bad = ~np.isfinite(arr.astype(float))
        if bad.any():
            raise ValueError(
                f"{name} must be finite; lane {int(np.flatnonzero(bad)[0])} is "
                f"{arr[np.flatnonzero(bad)[0]]}"
            )
    if positive:
        bad = arr <= 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} must be > 0; lane {i} has {arr[i]}")
    return jnp.asarray(arr, dtype)


def _check_data(trainer: Trainer, X, y, weight, lanes: int):
    X = np.asarray(X) if not isinstance(X, jax.Array) else X
    if X.ndim not in (2, 3) or (X.ndim == 3 and X.shape[0] != lanes):
        raise ValueError(
            f"X must be (N, d) shared by every lane or (lanes={lanes}, N, d); got "
            f"shape {tuple(X.shape)}"
        )
    N, d = X.shape[-2:]
    if N < 1 or d < 1:
        raise ValueError(f"X must have at least one row and one column; got {tuple(X.shape)}")
    Xh = np.asarray(X)
    if not np.issubdtype(Xh.dtype, np.floating):
        raise ValueError(f"X must be floating point; got dtype {Xh.dtype}")
    bad = ~np.isfinite(Xh).reshape(-1, N, d).all(axis=-1)
    if bad.any():
        lane, row = map(int, np.argwhere(bad)[0])
        where = f"lane {lane}, row {row}" if X.ndim == 3 else f"row {row}"
        raise ValueError(f"X has a NaN or inf ({where})")
    yh = np.asarray(y)
    base = _label_ndim(trainer)
    per_lane = yh.ndim == base + 1
    want = ((lanes,) if per_lane else ()) + (N,) + ((trainer.outputs,) if base == 2 else ())
    if X.ndim == 3 and not per_lane:
        raise ValueError(f"X has a lane axis, so y needs one too: shape {(lanes,) + want}")
    if yh.shape != want:
        raise ValueError(
            f"y has shape {yh.shape}; expected {want} (loss {trainer.loss!r}, "
            f"{trainer.outputs} output(s))"
        )
    flat = yh.reshape((lanes if per_lane else 1), N, -1)
    if trainer.loss == "cross_entropy":
        if not np.issubdtype(yh.dtype, np.integer):
            raise ValueError(f"cross_entropy needs integer class labels; got dtype {yh.dtype}")
        bad = ((flat < 0) | (flat >= trainer.outputs)).any(axis=-1)
        msg = f"labels must be in 0..{trainer.outputs - 1}"
    else:
        bad = ~np.isfinite(flat.astype(float)).all(axis=-1)
        msg = "y has a NaN or inf"
        if trainer.loss == "logistic" and not bad.any():
            bad = ((flat != 1) & (flat != -1)).any(axis=-1)
            msg = "logistic labels must be -1 or +1"
    if bad.any():
        lane, row = map(int, np.argwhere(bad)[0])
        where = f"lane {lane}, row {row}" if per_lane else f"row {row}"
        raise ValueError(f"{msg} ({where} is {flat[lane, row].tolist()})")
    if weight is None:
        weight = np.ones((N,), Xh.dtype)
    wh = np.asarray(weight)
    if wh.shape not in ((N,), (lanes, N)):
        raise ValueError(
            f"sample_weight must be (N,) or (lanes, N) = ({lanes}, {N}); got {wh.shape}"
        )
    bad = ~np.isfinite(wh.astype(float)) | (wh < 0)
    if bad.any():
        raise ValueError(
            f"sample_weight must be finite and >= 0; entry "
            f"{tuple(map(int, np.argwhere(bad)[0]))} is not"
        )
    dtype = jnp.result_type(Xh.dtype, jnp.float32)
    y_dtype = jnp.int32 if trainer.loss == "cross_entropy" else dtype
    return jnp.asarray(X, dtype), jnp.asarray(yh, y_dtype), jnp.asarray(wh, dtype)


def _check_width(trainer: Trainer, width, lanes: int):
    arr = np.asarray(trainer.hidden[0] if width is None else width)
    H = len(trainer.hidden)
    if arr.ndim == 0:
        arr = np.full((lanes,), arr)
    if arr.ndim == 1 and arr.shape[0] != lanes:
        raise ValueError(
            f"width must be a scalar, one value per lane ({lanes}) or (lanes, "
            f"{H}); got shape {arr.shape}"
        )
    if arr.ndim == 2 and arr.shape != (lanes, H):
        raise ValueError(f"width must be (lanes, {H}); got shape {arr.shape}")
    if arr.ndim > 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"width must be integers of shape (lanes,) or (lanes, {H}); got {arr.dtype} {arr.shape}"
        )
    full = np.broadcast_to(arr.reshape(lanes, -1), (lanes, H))
    padded = np.asarray(trainer.hidden)
    bad = (full < 1) | (full > padded)
    if bad.any():
        lane, layer = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"width of lane {lane} (hidden layer {layer}) is {full[lane, layer]}; "
            f"it must be in 1..{padded[layer]} (the padded width)"
        )
    return jnp.asarray(arr, jnp.int32)


def _checked(trainer: Trainer, X, y, keys, width, init_scale, lr, sample_weight) -> tuple:
    """Every input checked on the host and converted: (X, y, weight, keys, width,
    init_scale, lr), the arguments of the compiled programs."""
    lanes = _lanes(keys)
    X, y, weight = _check_data(trainer, X, y, sample_weight, lanes)
    width = _check_width(trainer, width, lanes)
    init_scale = _lane_vector("init_scale", init_scale, lanes, X.dtype)
    lr = _lane_vector("lr", lr, lanes, X.dtype)
    return X, y, weight, keys, width, init_scale, lr


def init_state(
    trainer: Trainer, X, y, keys, *, width=None, init_scale=1.0, lr=1e-2, sample_weight=None
) -> tuple[TrainState, tuple]:
    """Checks the inputs and initializes every lane. Returns (state, data), where data is the
    checked (X, y, sample_weight) to pass to `advance` / `finish`."""
    args = _checked(trainer, X, y, keys, width, init_scale, lr, sample_weight)
    return _init_state(trainer, *args), args[:3]


def advance(trainer: Trainer, state: TrainState, data, steps: int) -> TrainState:
    """Up to `steps` more updates (fewer if every lane memorizes and trainer.freeze), never
    past trainer.max_steps. For minibatch runs, a multiple of check_every."""
    positive_int("steps", steps)
    if not trainer.full_batch and steps % trainer.check_every:
        raise ValueError(
            f"steps ({steps}) must be a multiple of check_every "
            f"({trainer.check_every}) for minibatch training"
        )
    stop = jnp.minimum(state.step + steps, trainer.max_steps).astype(jnp.int32)
    return _advance_jit(trainer, state, *data, stop)


def finish(trainer: Trainer, state: TrainState, data) -> TrainResult:
    """The result of the lanes as they stand (a last fit check on the current parameters)."""
    return _finish(trainer, state, *data)


def train(
    trainer: Trainer, X, y, keys, *, width=None, init_scale=1.0, lr=1e-2, sample_weight=None
) -> TrainResult:
    """Trains one network per key, all in one compiled loop, and returns a TrainResult.

    X: (N, d) shared by every lane, or (lanes, N, d). y: labels matching the loss (+-1 for
    logistic, ints 0..k-1 for cross_entropy, reals (N,) or (N, k) for squared), shared or with a
    lane axis. keys: (lanes,) PRNG keys (init and minibatch order). width: active width per
    lane (scalar, (lanes,) or (lanes, n_hidden)); default the padded widths. init_scale, lr:
    scalars or one per lane. sample_weight: (N,) or (lanes, N) >= 0; rows of weight 0 are
    padding (they neither train nor count towards the fit), so datasets of several sizes share
    one compilation.
    """
    return _train_jit(trainer, *_checked(trainer, X, y, keys, width, init_scale, lr, sample_weight))


def train_lanes(trainer: Trainer, X, y, weight, keys, width, init_scale, lr) -> TrainResult:
    """`train` without the host-side checks: pure and traceable, for use inside jit / vmap
    (a claim's trial trains several widths per dataset with it). Every argument must already
    be an array of the right shape and dtype: weight (N,) or (lanes, N), width (lanes,) int32,
    init_scale and lr (lanes,)."""
    # init, loop and final check in ONE program: one compilation per (trainer, shapes).
    # (__wrapped__, the plain function under jax.jit, is missing from JAX's JitWrapped stub.)
    state = _init_state.__wrapped__(  # type: ignore[attr-defined]
        trainer, X, y, weight, keys, width, init_scale, lr
    )
    state = _advance(trainer, state, X, y, weight, jnp.asarray(trainer.max_steps, jnp.int32))
    return _finish.__wrapped__(trainer, state, X, y, weight)  # type: ignore[attr-defined]


_train_jit = jax.jit(train_lanes, static_argnames=("trainer",), compiler_options=OPTIMIZED)


def lane_params(params, lane: int):
    """One lane's parameters out of a batched pytree."""
    return jax.tree.map(lambda p: p[lane], params)


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=OPTIMIZED)
def accuracy(trainer: Trainer, params, X, y, width) -> jax.Array:
    """Per-lane accuracy of batched params on one shared (X, y) or per-lane (lanes, N, d):
    sign (a 0 output is wrong) or argmax. Returns (lanes,)."""
    x_ax = 0 if X.ndim == 3 else None
    y_ax = 0 if y.ndim == _label_ndim(trainer) + 1 else None

    def lane(p, m, Xl, yl):
        return jnp.mean(_correct(trainer, predict(trainer, p, Xl, m), yl).astype(jnp.float32))

    return jax.vmap(lane, in_axes=(0, 0, x_ax, y_ax))(params, width, X, y)


__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "MLP",
    "OPTIMIZED",
    "OPTIMIZERS",
    "TrainResult",
    "TrainState",
    "Trainer",
    "accuracy",
    "advance",
    "finish",
    "hidden_activations",
    "init_params",
    "init_state",
    "lane_params",
    "param_count",
    "predict",
    "to_network",
    "train",
    "train_lanes",
]
