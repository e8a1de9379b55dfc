"""Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017), Sec. 2.1: the randomization tests, as
pure data transforms `(key, X, labels, ...) -> (X', labels')`.

X has shape (N, D), one flattened image per row (pixels = columns). Labels are class indices
0..k-1 (encoding="index", num_classes=k) or binary +-1 (encoding="sign", k = 2); the output
labels keep the input's dtype and encoding. Notes: docs/papers/zhang2017.md §4.3, "Randomization
variants". The paper's wording for each (Sec. 2.1):

  true_labels      "the original dataset without modification" (the control);
  partial_labels   "independently with probability p, the label of each image is corrupted as
                   a uniform random class": the new class is uniform over all k, so it can be
                   the old one and the expected fraction actually changed is p (k-1)/k (0.9 p
                   for CIFAR-10), not p;
  random_labels    "all the labels are replaced with random ones": p = 1, drawn once and then
                   fixed for the whole of training (a transform of the dataset, not a fresh
                   draw each epoch: the paper fits these fixed labels to zero training error);
  shuffled_pixels  "a random permutation of the pixels is chosen and then the same
                   permutation is applied to all the images in both training and test set":
                   `pixel_permutation(key, D)` draws it, `apply_pixel_permutation` applies a
                   given one, so train and test can share it;
  random_pixels    "a different random permutation is applied to each image independently";
  gaussian         "A Gaussian distribution (with matching mean and variance to the original
                   image dataset) is used to generate random pixels for each image".

The paper does not say whether "matching mean and variance" is per pixel or one scalar for the
whole dataset. The default, stats="per_pixel", matches each coordinate's mean and (population)
variance over the training set, which also matches the scalar mean and the average variance;
stats="scalar" draws every coordinate from one N(mean, var) of all training entries.

`randomize(kind, ...)` applies a kind to a train/test split the way the paper does. Labels:
only the training labels are randomized (test labels stay true: the test error measures what
the network learnt about the true labels, ~90% error at random labels, Fig. 1c). Pixels: the
paper states "both training and test set" only for shuffled pixels; we read random pixels and
Gaussian the same way (the input distribution is changed, so the test inputs are drawn from
the changed distribution too: fresh per-image permutations of the test images; Gaussian test
images from the *training* set's moments), while the test labels stay true.

Everything is pure: randomness comes only from the key (the same key gives the same output),
shapes are static, and each transform vmaps over a leading axis of keys (or of datasets, or of
p). Inputs are checked on the host before anything compiles (ValueError naming the offending
row or argument); inside jit/vmap the arrays are tracers and the checks are skipped, as in
`jaxmem.data.validate`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.synthetic import _float
from jaxmem.data.validate import _rows, is_traced, positive_int, validate

__all__ = [
    "ENCODINGS",
    "GAUSSIAN_STATS",
    "RANDOMIZATIONS",
    "Randomized",
    "apply_pixel_permutation",
    "corrupt_labels",
    "gaussian",
    "gaussian_moments",
    "partial_labels",
    "pixel_permutation",
    "random_labels",
    "random_pixels",
    "randomize",
    "shuffled_pixels",
    "true_labels",
]

ENCODINGS = ("index", "sign")
GAUSSIAN_STATS = ("per_pixel", "scalar")


# ---------------------------------------------------------------------------- input checks


def _check_X(X, name="X"):
    """(N, D), N, D >= 1, real and finite (rows with NaN/inf are named); returns an array."""
    validate(X, check_duplicates=False, name=name)
    return jnp.asarray(X)


def _classes(num_classes, encoding, *, required: bool):
    """num_classes as a Python int (it bounds randint, so no tracer), or None when not needed."""
    if encoding not in ENCODINGS:
        raise ValueError(
            f"unknown encoding {encoding!r}; expected one of {ENCODINGS} "
            f"('index': classes 0..k-1, 'sign': binary labels -1/+1)"
        )
    if encoding == "sign":
        if num_classes is not None and positive_int("num_classes", num_classes) != 2:
            raise ValueError(
                f"encoding='sign' means binary +-1 labels, so num_classes must be "
                f"2 (or omitted); got {num_classes!r}"
            )
        return 2
    if num_classes is None:
        if required:
            raise ValueError(
                "num_classes is required to redraw labels: a uniformly random "
                "class is uniform over 0..num_classes-1"
            )
        return None
    k = positive_int("num_classes", num_classes)
    if k < 2:
        raise ValueError(
            f"num_classes must be at least 2 (one class has nothing to randomize); got {k}"
        )
    return k


def _check_labels(labels, n, num_classes, encoding, name="labels"):
    """One label per row of X: -1/+1 (sign) or an integer in 0..num_classes-1 (index).

    Integral floats (e.g. 3.0) are accepted as classes; the output keeps their dtype."""
    if is_traced(labels):
        return jnp.asarray(labels)
    y = np.asarray(labels)
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        want = f"({n},), one label per row of X" if n is not None else "(N,)"
        raise ValueError(f"{name} must have shape {want}; got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers (class indices or +-1); got dtype {y.dtype}")
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{name} has NaN or inf in rows {_rows(rows)} (row {rows[0]} is {y[rows[0]]})"
        )
    if encoding == "sign":
        bad, want = (y != 1) & (y != -1), "-1 or +1 (encoding='sign')"
    else:
        bad = (y != np.round(y)) | (y < 0)
        want = "integer class indices >= 0"
        if num_classes is not None:
            bad |= y >= num_classes
            want = f"integer class indices in 0..{num_classes - 1} (num_classes={num_classes})"
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{name} must be {want}; rows {_rows(rows)} are not (row {rows[0]} is {y[rows[0]]})"
        )
    return jnp.asarray(y)


def _check_p(p, kind):
    """p in [0, 1] for partial_labels (a tracer is passed through: vmap over p works)."""
    if p is None:
        raise ValueError(f"{kind} needs p, the probability that each label is redrawn, in [0, 1]")
    if is_traced(p):
        return p
    arr = np.asarray(p) if not isinstance(p, (str, bytes)) else None
    if (
        isinstance(p, bool)
        or arr is None
        or arr.ndim != 0
        or arr.dtype == bool
        or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))
    ):
        raise ValueError(f"p must be one probability in [0, 1] (a real number); got {p!r}")
    value = float(arr)
    if not 0 <= value <= 1:  # also rejects NaN
        raise ValueError(f"p must lie in [0, 1]; got p={value!r}")
    return value


def _check_p_one(p):
    """random_labels is partial_labels at p = 1: p may be omitted or 1, nothing else."""
    if p is None:
        return 1.0
    if (
        not is_traced(p)
        and not isinstance(p, (bool, str, bytes))
        and np.ndim(p) == 0
        and float(p) == 1
    ):
        return 1.0
    raise ValueError(
        f"random_labels is partial_labels at p = 1; got p={p!r} (use partial_labels for p < 1)"
    )


def _no_p(p, kind):
    if p is not None:
        raise ValueError(
            f"p applies only to partial_labels (random_labels is p = 1); "
            f"{kind} takes no p, got p={p!r}"
        )


# ---------------------------------------------------------------------------------- labels


def _to_index(labels, encoding):
    return ((labels + 1) // 2 if encoding == "sign" else labels).astype(jnp.int32)


def _from_index(index, encoding, dtype):
    return (2 * index - 1 if encoding == "sign" else index).astype(dtype)


def _redraw(key, labels, p, num_classes, encoding):
    # Two subkeys: which rows are redrawn, and the fresh classes. bernoulli is uniform < p,
    # so p = 0 redraws nothing and p = 1 everything (uniform draws lie in [0, 1)).
    k_which, k_class = jax.random.split(key)
    redrawn = jax.random.bernoulli(k_which, p, labels.shape)
    # Uniform over all num_classes, the old class included (Zhang et al.: "corrupted as a
    # uniform random class"), so a redrawn label keeps its value with probability 1/k.
    fresh = jax.random.randint(k_class, labels.shape, 0, num_classes, dtype=jnp.int32)
    index = jnp.where(redrawn, fresh, _to_index(labels, encoding))
    return _from_index(index, encoding, labels.dtype), redrawn


# The transforms run as single compiled programs (eager op-by-op dispatch of the few small
# random ops costs more than compiling them once per shape).
_redraw_jit = jax.jit(_redraw, static_argnames=("num_classes", "encoding"))


def corrupt_labels(key, labels, *, p, num_classes: int | None = None, encoding: str = "index"):
    """Each label independently redrawn with probability p, uniformly over all classes.

    Returns (labels', redrawn): redrawn (N,) bool marks the rows whose label was redrawn
    (E = pN); `labels' != labels` marks those actually changed (E = pN (k-1)/k), a subset.
    p may be a tracer (vmap over p); num_classes is required for encoding="index"."""
    k = _classes(num_classes, encoding, required=True)
    labels = _check_labels(labels, None, k, encoding)
    p = _check_p(p, "corrupt_labels")
    return _redraw_jit(key, labels, p, k, encoding)


def true_labels(key, X, labels, *, num_classes: int | None = None, p=None, encoding: str = "index"):
    """The control: (X, labels) unchanged (checked like the others; the key is unused)."""
    del key
    _no_p(p, "true_labels")
    k = _classes(num_classes, encoding, required=False)
    X = _check_X(X)
    return X, _check_labels(labels, X.shape[0], k, encoding)


def partial_labels(
    key, X, labels, *, num_classes: int | None = None, p=None, encoding: str = "index"
):
    """Partially corrupted labels: (X, labels') with each label redrawn with probability p
    (see `corrupt_labels`, which also returns the mask of redrawn rows)."""
    k = _classes(num_classes, encoding, required=True)
    X = _check_X(X)
    labels = _check_labels(labels, X.shape[0], k, encoding)
    return X, _redraw_jit(key, labels, _check_p(p, "partial_labels"), k, encoding)[0]


def random_labels(
    key, X, labels, *, num_classes: int | None = None, p=None, encoding: str = "index"
):
    """Random labels: every label replaced by a uniform class (partial_labels at p = 1).
    The labels are drawn once, here: train on the returned dataset for every epoch."""
    return partial_labels(
        key, X, labels, num_classes=num_classes, p=_check_p_one(p), encoding=encoding
    )


# ---------------------------------------------------------------------------------- pixels

_permutation_jit = jax.jit(jax.random.permutation, static_argnums=1)


def pixel_permutation(key, num_pixels: int) -> jax.Array:
    """One uniformly random permutation of 0..num_pixels-1 (the shuffled-pixels test)."""
    return _permutation_jit(key, positive_int("num_pixels", num_pixels))


def apply_pixel_permutation(X, permutation) -> jax.Array:
    """X' with X'[:, j] = X[:, permutation[j]]: the same permutation for every row."""
    X = _check_X(X)
    if not is_traced(permutation):
        perm = np.asarray(permutation)
        D = X.shape[1]
        if perm.shape != (D,):
            raise ValueError(
                f"permutation must have shape ({D},), one entry per column of X; "
                f"got shape {perm.shape}"
            )
        if not np.issubdtype(perm.dtype, np.integer):
            raise ValueError(
                f"permutation must hold integer column indices; got dtype {perm.dtype}"
            )
        if not np.array_equal(np.sort(perm), np.arange(D)):
            missing = np.setdiff1d(np.arange(D), perm)
            raise ValueError(
                f"permutation is not a permutation of 0..{D - 1}: columns "
                f"{_rows(missing)} never appear (entries repeat or fall outside "
                f"0..{D - 1})"
            )
    return jnp.take(X, jnp.asarray(permutation), axis=1)


def shuffled_pixels(
    key,
    X,
    labels,
    *,
    num_classes: int | None = None,
    p=None,
    encoding: str = "index",
    permutation=None,
):
    """Shuffled pixels: (X[:, perm], labels), one perm for all rows.

    perm = `pixel_permutation(key, D)` unless `permutation` is given: pass the same key, or
    the same permutation, for the test set (the paper shuffles train and test alike)."""
    _no_p(p, "shuffled_pixels")
    k = _classes(num_classes, encoding, required=False)
    X = _check_X(X)
    labels = _check_labels(labels, X.shape[0], k, encoding)
    if permutation is None:
        permutation = pixel_permutation(key, X.shape[1])
    return apply_pixel_permutation(X, permutation), labels


def random_pixels(
    key, X, labels, *, num_classes: int | None = None, p=None, encoding: str = "index"
):
    """Random pixels: each row's entries permuted by its own independent uniform permutation
    (each row keeps its multiset of values; labels unchanged)."""
    _no_p(p, "random_pixels")
    k = _classes(num_classes, encoding, required=False)
    X = _check_X(X)
    labels = _check_labels(labels, X.shape[0], k, encoding)
    return _permute_rows(key, X), labels


@jax.jit
def _permute_rows(key, X):
    # independent=True: every row along axis 1 gets its own uniform permutation.
    return jax.random.permutation(key, X, axis=1, independent=True)


def gaussian_moments(X, stats: str = "per_pixel"):
    """(mean, std) of a dataset, as `gaussian` matches them: per column, shape (D,) each
    ("per_pixel"), or over all entries, shape () ("scalar"). std is the population std
    (ddof = 0): the variance of the empirical distribution the noise stands in for."""
    if stats not in GAUSSIAN_STATS:
        raise ValueError(f"unknown stats {stats!r}; expected one of {GAUSSIAN_STATS}")
    return _moments(_check_X(X), stats == "per_pixel")


def _moments(X, per_pixel):
    X = X.astype(jnp.result_type(X.dtype, _float()))
    return _moments_jit(X, 0 if per_pixel else None)


_moments_jit = jax.jit(
    lambda X, axis: (jnp.mean(X, axis=axis), jnp.std(X, axis=axis)), static_argnums=1
)


def gaussian(
    key,
    X,
    labels,
    *,
    num_classes: int | None = None,
    p=None,
    encoding: str = "index",
    stats: str = "per_pixel",
    moments=None,
):
    """Gaussian: every image replaced by noise mean + std * N(0, I), labels unchanged.

    (mean, std) = `gaussian_moments(X, stats)` unless `moments` is given: pass the training
    set's moments when transforming a test set. The output is floating (X's dtype if that
    is floating)."""
    _no_p(p, "gaussian")
    k = _classes(num_classes, encoding, required=False)
    X = _check_X(X)
    labels = _check_labels(labels, X.shape[0], k, encoding)
    if moments is None:
        moments = gaussian_moments(X, stats)
    mean, std = (jnp.asarray(m) for m in moments)
    if not is_traced(mean, std):
        for name, m in (("mean", mean), ("std", std)):
            if m.shape not in ((), (X.shape[1],)):
                raise ValueError(
                    f"moments' {name} must be a scalar or have shape "
                    f"({X.shape[1]},); got shape {m.shape}"
                )
            if not np.all(np.isfinite(np.asarray(m))):
                raise ValueError(f"moments' {name} has NaN or inf entries")
        if np.any(np.asarray(std) < 0):
            raise ValueError("moments' std must be >= 0")
    return _noise(key, mean, std, X.shape), labels


@functools.partial(jax.jit, static_argnums=3)
def _noise(key, mean, std, shape):
    dtype = jnp.result_type(mean.dtype, std.dtype, _float())
    return mean + std * jax.random.normal(key, shape, dtype)


RANDOMIZATIONS = {
    "true_labels": true_labels,
    "partial_labels": partial_labels,
    "random_labels": random_labels,
    "shuffled_pixels": shuffled_pixels,
    "random_pixels": random_pixels,
    "gaussian": gaussian,
}
"""kind -> transform `(key, X, labels, *, num_classes=None, p=None, encoding="index")
-> (X', labels')`; p only for partial_labels, num_classes required by the label kinds."""

_LABEL_KINDS = ("true_labels", "partial_labels", "random_labels")


class Randomized(NamedTuple):
    """A randomized train/test split (a pytree: it passes through jit and vmap).

    corrupted: (N_train,) bool, the training rows whose label was redrawn (all False for the
    pixel kinds and true_labels, all True for random_labels). permutation: the shared pixel
    permutation for shuffled_pixels, else None."""

    X_train: jax.Array
    labels_train: jax.Array
    X_test: jax.Array
    labels_test: jax.Array
    corrupted: jax.Array
    permutation: jax.Array | None


def randomize(
    kind: str,
    key,
    X_train,
    labels_train,
    X_test,
    labels_test,
    *,
    num_classes: int | None = None,
    p=None,
    encoding: str = "index",
    stats: str = "per_pixel",
) -> Randomized:
    """One of Zhang et al.'s randomization tests applied to a train/test split, the way the
    paper does (see the module docstring): label kinds randomize the training labels only;
    shuffled_pixels permutes train and test with one permutation; random_pixels and gaussian
    transform the test images too (gaussian from the training moments); test labels stay true.

    Keys: the training set uses jax.random.split(key)[0] (so the training part equals
    RANDOMIZATIONS[kind](that key, X_train, labels_train, ...)), the test set [1]; the shared
    permutation is drawn from the training key. num_classes: required for the label kinds
    (encoding="index"), and when given the labels are checked to lie in 0..num_classes-1."""
    if kind not in RANDOMIZATIONS:
        raise ValueError(f"unknown randomization {kind!r}; expected one of {tuple(RANDOMIZATIONS)}")
    if stats not in GAUSSIAN_STATS:
        raise ValueError(f"unknown stats {stats!r}; expected one of {GAUSSIAN_STATS}")
    k = _classes(num_classes, encoding, required=kind in ("partial_labels", "random_labels"))
    X_train = _check_X(X_train, "X_train")
    X_test = _check_X(X_test, "X_test")
    if X_test.shape[1] != X_train.shape[1]:
        raise ValueError(
            f"X_test has {X_test.shape[1]} columns but X_train has "
            f"{X_train.shape[1]}: train and test images must have the same pixels"
        )
    labels_train = _check_labels(labels_train, X_train.shape[0], k, encoding, "labels_train")
    labels_test = _check_labels(labels_test, X_test.shape[0], k, encoding, "labels_test")
    if kind == "partial_labels":
        p = _check_p(p, kind)
    elif kind == "random_labels":
        p = _check_p_one(p)
    else:
        _no_p(p, kind)
    k_train, k_test = jax.random.split(key)
    corrupted = jnp.zeros(X_train.shape[0], bool)
    permutation = None
    if kind in _LABEL_KINDS:
        if kind != "true_labels":
            labels_train, corrupted = _redraw_jit(k_train, labels_train, p, k, encoding)
    elif kind == "shuffled_pixels":
        permutation = pixel_permutation(k_train, X_train.shape[1])
        X_train = apply_pixel_permutation(X_train, permutation)
        X_test = apply_pixel_permutation(X_test, permutation)
    elif kind == "random_pixels":
        X_train = random_pixels(k_train, X_train, labels_train, encoding=encoding)[0]
        X_test = random_pixels(k_test, X_test, labels_test, encoding=encoding)[0]
    else:  # gaussian
        moments = gaussian_moments(X_train, stats)
        X_train = gaussian(k_train, X_train, labels_train, encoding=encoding, moments=moments)[0]
        X_test = gaussian(k_test, X_test, labels_test, encoding=encoding, moments=moments)[0]
    return Randomized(X_train, labels_train, X_test, labels_test, corrupted, permutation)
