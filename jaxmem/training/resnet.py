"""A ResNet-18-style CIFAR network trained with SGD on one binary task: the gradient-trained
baseline of Yu, Gao, Zhang, Miao (NeurIPS 2024), App. I, Table 3 (docs/papers/yu2024.md §4.1).

The paper states: ResNet-18, 20 epochs, learning rate 0.1, cross-entropy loss, the 3000 + 3000
training images of one CIFAR-10 class pair. Everything else is NOT STATED there (yu2024.md §4.2);
the choices made here, all arguments of `train_resnet_pair`, are the usual CIFAR recipe:

  architecture  the CIFAR variant of ResNet-18 (He et al. 2016, as in the widely used
                kuangliu/pytorch-cifar): a 3x3 stride-1 stem conv of widths[0] channels with
                batch norm and ReLU, no max-pool; 4 stages of `blocks` BasicBlocks (two 3x3
                convs, batch norm, identity shortcut or a 1x1 stride-2 conv + batch norm when
                the shape changes), widths 64-128-256-512, the first block of stages 2-4 with
                stride 2; global average pooling; a dense 2-way head (softmax cross-entropy).
                11.2M parameters at the default widths.
  optimizer     SGD with momentum 0.9 (heavy ball, not Nesterov), weight decay 5e-4 coupled as
                an L2 term added to every parameter's gradient (PyTorch's SGD weight_decay,
                biases and batch-norm scales included), learning rate 0.1.
  schedule      cosine decay of the learning rate from 0.1 to 0 over all steps
                (schedule="constant" keeps 0.1 throughout).
  batches       128 images, reshuffled every epoch; the last incomplete batch of an epoch is
                dropped (drop_last), so every step has the same shape (46 steps of 128 out of
                6000 images; a different remainder is left out each epoch).
  augmentation  random crop (zero padding of 4 pixels, then a random 32x32 window) and random
                horizontal flip, drawn independently per image and step (augment=False:
                none).
  input         pixels in [0, 1] standardized per channel with the training set's own mean and
                standard deviation (so no statistics of the test images are used).
  batch norm    batch statistics in training, running averages (momentum 0.9, eps 1e-5) for
                every accuracy reported.
  precision     float32 parameters and activations; matmul_precision (None: the process's
                jax_default_matmul_precision, which `jaxmem` sets to "highest") may be
                "default" to let convolutions use TF32 on GPUs, as PyTorch's cuDNN default
                does (and so, most likely, the paper's RTX 3090 run).

Everything is float32 and pure: the key fixes the initialization, the shuffles and the
augmentation, so the same key gives the same network. The epoch (shuffle + lax.scan over its
steps) and the evaluation are jit-compiled once per configuration (shapes, widths, optimizer
settings) and reused across calls: 45 class pairs compile once. Runs on CPU (tests use
widths=(8, 16), blocks=(1, 1)) and on accelerators.

`train_resnet_draws` trains several networks at once (one per draw of a pair), vmapping the
same epoch program over a leading axis of keys and training sets: on an accelerator a batch of
128 small images leaves most of the chip idle, and five draws per step fill it better.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmem.data.validate import positive_int

__all__ = ["BasicBlock", "ResNet", "param_count", "train_resnet_draws", "train_resnet_pair"]

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
CROP_PADDING = 4
EVAL_BATCH = 500
SCHEDULES = ("cosine", "constant")
MATMUL_PRECISIONS = (None, "default", "high", "highest", "bfloat16", "tensorfloat32", "float32")


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm; the shortcut is the identity, or a 1x1 conv with stride
    and batch norm when the width or the resolution changes (He et al. 2016, option B)."""

    width: int
    stride: int = 1

    @nn.compact
    def __call__(self, x, train: bool):
        norm = functools.partial(
            nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON
        )
        y = nn.Conv(
            self.width, (3, 3), strides=self.stride, padding=((1, 1), (1, 1)), use_bias=False
        )(x)
        y = nn.relu(norm()(y))
        y = nn.Conv(self.width, (3, 3), padding=((1, 1), (1, 1)), use_bias=False)(y)
        y = norm()(y)
        if self.stride != 1 or x.shape[-1] != self.width:
            x = nn.Conv(self.width, (1, 1), strides=self.stride, use_bias=False)(x)
            x = norm()(x)
        return nn.relu(x + y)


class ResNet(nn.Module):
    """The CIFAR ResNet: 3x3 stem, len(widths) stages of BasicBlocks, global average pooling,
    a dense head. Input (batch, height, width, channels); output (batch, num_classes) logits."""

    widths: Sequence[int] = (64, 128, 256, 512)
    blocks: Sequence[int] = (2, 2, 2, 2)
    num_classes: int = 2

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(self.widths[0], (3, 3), padding=((1, 1), (1, 1)), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)(x)
        x = nn.relu(x)
        for stage, (width, count) in enumerate(zip(self.widths, self.blocks)):
            for b in range(count):
                x = BasicBlock(width, stride=2 if stage > 0 and b == 0 else 1)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


def param_count(params) -> int:
    """Trainable parameters (batch-norm running statistics excluded)."""
    return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


# --- input checks ----------------------------------------------------------------------------


def _images(name: str, X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 4 and X.shape[0] >= 1:
        pass
    else:
        raise ValueError(
            f"{name} must be images of shape (N, height, width, channels); got shape {X.shape}"
        )
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"{name} must be floating pixels (e.g. in [0, 1]); got dtype {X.dtype}")
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has NaN or inf pixels (first in image {int(np.argmax(bad))})")
    return X.astype(np.float32)


def _labels(name: str, y, n: int) -> np.ndarray:
    """+-1 labels (jaxmem's convention) as the class index 0 (for -1) or 1 (for +1)."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name} must have one label per image, shape ({n},); got shape {y.shape}")
    bad = (y != 1) & (y != -1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be +1 or -1; row {i} is {y[i]!r}")
    return (y > 0).astype(np.int32)


# --- the compiled programs -------------------------------------------------------------------


def _augment(key, x):
    """Random crop (zero padding CROP_PADDING, a random window of the original size) and a
    random horizontal flip of one image (height, width, channels)."""
    k_crop, k_flip = jax.random.split(key)
    padded = jnp.pad(x, ((CROP_PADDING, CROP_PADDING), (CROP_PADDING, CROP_PADDING), (0, 0)))
    top, left = jax.random.randint(k_crop, (2,), 0, 2 * CROP_PADDING + 1)
    crop = jax.lax.dynamic_slice(padded, (top, left, 0), x.shape)
    flip = jax.random.bernoulli(k_flip)
    return jnp.where(flip, crop[:, ::-1, :], crop)


@functools.lru_cache(maxsize=32)
def _programs(
    widths: tuple,
    blocks: tuple,
    image_shape: tuple,
    n_train: int,
    batch_size: int,
    epochs: int,
    lr: float,
    momentum: float,
    weight_decay: float,
    schedule: str,
    augment: bool,
):
    """The programs of one configuration, each written for one network and vmapped over a
    leading draws axis, jit-compiled and cached, so a sweep over the class pairs (same shapes)
    compiles once: init(keys) -> states; epoch(states, keys, X, y) -> (states, mean loss,
    accuracy on the augmented batches); predict(states, images) -> classes."""
    model = ResNet(widths=widths, blocks=blocks, num_classes=2)
    steps = n_train // batch_size
    total = steps * epochs
    rate = (
        optax.cosine_decay_schedule(lr, decay_steps=max(total, 1))
        if schedule == "cosine"
        else optax.constant_schedule(lr)
    )
    # Coupled L2 weight decay (added to the gradient before momentum), as PyTorch's SGD.
    tx = optax.chain(
        optax.add_decayed_weights(weight_decay), optax.sgd(rate, momentum=momentum, nesterov=False)
    )

    def init(key):
        variables = model.init(key, jnp.zeros((1, *image_shape), jnp.float32), train=False)
        params, stats = variables["params"], variables["batch_stats"]
        return dict(params=params, batch_stats=stats, opt_state=tx.init(params))

    def loss_fn(params, stats, x, y):
        logits, updated = model.apply(
            {"params": params, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        correct = jnp.sum(jnp.argmax(logits, axis=-1) == y)
        return loss, (updated["batch_stats"], correct)

    def epoch(state, key, X, y):
        """One pass over a fresh shuffle: `steps` SGD steps in a lax.scan. Returns the new
        state, the mean training loss and the training accuracy on the augmented batches."""
        k_perm, k_aug = jax.random.split(key)
        order = jax.random.permutation(k_perm, n_train)[: steps * batch_size]
        order = order.reshape(steps, batch_size)

        def step(state, inputs):
            idx, k = inputs
            xb, yb = X[idx], y[idx]
            if augment:
                xb = jax.vmap(_augment)(jax.random.split(k, batch_size), xb)
            (loss, (stats, correct)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state["params"], state["batch_stats"], xb, yb
            )
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
            params = optax.apply_updates(state["params"], updates)
            return dict(params=params, batch_stats=stats, opt_state=opt_state), (loss, correct)

        state, (losses, correct) = jax.lax.scan(
            step, state, (order, jax.random.split(k_aug, steps))
        )
        return state, jnp.mean(losses), jnp.sum(correct) / (steps * batch_size)

    def predict(state, xb):
        """Class predictions for one chunk of images, with the running batch-norm statistics."""
        variables = {"params": state["params"], "batch_stats": state["batch_stats"]}
        return jnp.argmax(model.apply(variables, xb, train=False), axis=-1)

    # On a CPU, training is run time, not compile time: XLA's level-1 optimization makes a
    # convolution's gradient ~5x faster than the level 0 that `jaxmem --scale quick` and the
    # tests set process-wide to compile small programs fast (measured on one small epoch;
    # timings: experiments/results/TIMINGS.md; level 3 is no faster and compiles twice as
    # long).
    options = {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else None
    batched = lambda f, axes: jax.jit(jax.vmap(f, in_axes=axes), compiler_options=options)
    return dict(
        model=model,
        steps=steps,
        init=batched(init, 0),
        epoch=batched(epoch, (0, 0, 0, 0)),
        predict=batched(predict, (0, 0)),
    )


def _standardize(X_train: np.ndarray, X_test: np.ndarray):
    """Per-channel standardization with the training images' own statistics."""
    mean = X_train.mean(axis=(0, 1, 2), dtype=np.float64)
    std = X_train.std(axis=(0, 1, 2), dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    f = lambda X: ((X - mean) / std).astype(np.float32)
    return f(X_train), f(X_test)


def _accuracy(predict, state, sets, chunk: int) -> np.ndarray:
    """Per draw, the fraction of images whose predicted class is their label, predicted
    `chunk` images at a time by the compiled program (the last chunk padded with copies of
    the first image, whose predictions are dropped)."""
    X = np.stack([s[0] for s in sets])
    y = np.stack([s[1] for s in sets])
    n = X.shape[1]
    hits = np.zeros(len(sets), np.int64)
    for start in range(0, n, chunk):
        xb = X[:, start : start + chunk]
        real = xb.shape[1]
        if real < chunk:
            xb = np.concatenate([xb, np.repeat(xb[:, :1], chunk - real, axis=1)], axis=1)
        pred = np.asarray(predict(state, jnp.asarray(xb)))[:, :real]
        hits += np.sum(pred == y[:, start : start + real], axis=1)
    return hits / n


def train_resnet_draws(
    keys,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    epochs: int = 20,
    lr: float = 0.1,
    batch_size: int = 128,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    widths: Sequence[int] = (64, 128, 256, 512),
    blocks: Sequence[int] = (2, 2, 2, 2),
    schedule: str = "cosine",
    augment: bool = True,
    standardize: bool = True,
    matmul_precision: str | None = None,
) -> dict:
    """Trains one network per row of a leading "draws" axis, in one vmapped program.

    keys (D,) PRNG keys; X_train (D, N, H, W, C) floating pixels, y_train (D, N) +-1 labels;
    X_test (D, M, H, W, C), y_test (D, M). Every draw has the same N and M (the programs have
    static shapes). Returns a dict of (D,) NumPy arrays: test_accuracy, train_accuracy (the
    final network in evaluation mode, on the unaugmented training images),
    final_train_loss and final_batch_accuracy (the last epoch's mean loss and its accuracy on
    the augmented batches), plus param_count, epochs, steps_per_epoch, seconds (wall time of
    the whole call, compile included) as Python numbers. See the module docstring for what
    the paper does not state and what is chosen here."""
    t0 = time.perf_counter()
    keys = jnp.asarray(keys)
    if keys.ndim != 1 or not jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise ValueError(
            f"keys must be a 1-D array of typed PRNG keys (jax.random.key); got "
            f"dtype {keys.dtype}, shape {keys.shape}"
        )
    draws = keys.shape[0]
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    for name, X in (("X_train", X_train), ("X_test", X_test)):
        if X.ndim != 5 or X.shape[0] != draws:
            raise ValueError(
                f"{name} must have shape (draws={draws}, N, height, width, channels); got {X.shape}"
            )
    if X_test.shape[2:] != X_train.shape[2:]:
        raise ValueError(f"X_test images are {X_test.shape[2:]}, X_train's {X_train.shape[2:]}")
    n_train, n_test = X_train.shape[1], X_test.shape[1]
    epochs, batch_size = positive_int("epochs", epochs), positive_int("batch_size", batch_size)
    if batch_size > n_train:
        raise ValueError(f"batch_size={batch_size} exceeds the {n_train} training images")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if matmul_precision not in MATMUL_PRECISIONS:
        raise ValueError(
            f"matmul_precision must be one of {MATMUL_PRECISIONS}; got {matmul_precision!r}"
        )
    widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
    if len(widths) != len(blocks) or not widths or min(widths) < 1 or min(blocks) < 1:
        raise ValueError(
            f"widths and blocks must be equally long lists of positive integers; "
            f"got widths={widths}, blocks={blocks}"
        )
    train_sets, test_sets = [], []
    for d in range(draws):
        a = _images(f"X_train[{d}]", X_train[d])
        b = _images(f"X_test[{d}]", X_test[d])
        if standardize:
            a, b = _standardize(a, b)
        train_sets.append((a, _labels(f"y_train[{d}]", np.asarray(y_train)[d], n_train)))
        test_sets.append((b, _labels(f"y_test[{d}]", np.asarray(y_test)[d], n_test)))
    # One evaluation chunk size for both sets: one compiled prediction program.
    chunk = min(EVAL_BATCH, max(n_train, n_test))
    prog = _programs(
        widths,
        blocks,
        tuple(X_train.shape[2:]),
        n_train,
        int(batch_size),
        int(epochs),
        float(lr),
        float(momentum),
        float(weight_decay),
        schedule,
        bool(augment),
    )
    X = jnp.asarray(np.stack([s[0] for s in train_sets]))
    y = jnp.asarray(np.stack([s[1] for s in train_sets]))
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    precision = (
        contextlib.nullcontext()
        if matmul_precision is None
        else jax.default_matmul_precision(matmul_precision)
    )
    with precision:  # part of the compiled programs' cache key
        state = prog["init"](init_keys)
        loss = batch_acc = None
        for e in range(epochs):
            epoch_keys = jax.vmap(lambda k: jax.random.fold_in(k, e))(train_keys)  # noqa: B023
            state, loss, batch_acc = prog["epoch"](state, epoch_keys, X, y)
        test_acc = _accuracy(prog["predict"], state, test_sets, chunk)
        train_acc = _accuracy(prog["predict"], state, train_sets, chunk)
    one = jax.tree_util.tree_map(lambda p: p[0], state["params"])
    return dict(
        test_accuracy=test_acc,
        train_accuracy=train_acc,
        final_train_loss=np.asarray(loss, np.float64),
        final_batch_accuracy=np.asarray(batch_acc, np.float64),
        param_count=param_count(one),
        epochs=int(epochs),
        steps_per_epoch=int(prog["steps"]),
        seconds=time.perf_counter() - t0,
    )


def train_resnet_pair(
    key,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    epochs: int = 20,
    lr: float = 0.1,
    batch_size: int = 128,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    widths: Sequence[int] = (64, 128, 256, 512),
    blocks: Sequence[int] = (2, 2, 2, 2),
    schedule: str = "cosine",
    augment: bool = True,
    standardize: bool = True,
    matmul_precision: str | None = None,
) -> dict:
    """Trains the ResNet on one binary task and measures it.

    key: a typed PRNG key (jax.random.key). X_train (N, H, W, C) and X_test (M, H, W, C):
    floating pixels (CIFAR-10: in [0, 1], 32 x 32 x 3); y_train (N,), y_test (M,): +-1 labels
    (+1 is the network's class 1). Returns a dict: test_accuracy, train_accuracy (final
    network, evaluation mode, unaugmented training images), final_train_loss,
    final_batch_accuracy (last epoch, augmented batches), param_count, epochs,
    steps_per_epoch, seconds (compile included). Defaults: the paper's 20 epochs at learning
    rate 0.1 with cross-entropy, and this module's stated choices for the rest."""
    out = train_resnet_draws(
        jnp.asarray(key)[None],
        np.asarray(X_train)[None],
        np.asarray(y_train)[None],
        np.asarray(X_test)[None],
        np.asarray(y_test)[None],
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        widths=widths,
        blocks=blocks,
        schedule=schedule,
        augment=augment,
        standardize=standardize,
        matmul_precision=matmul_precision,
    )
    return {k: (float(v[0]) if isinstance(v, np.ndarray) else v) for k, v in out.items()}
