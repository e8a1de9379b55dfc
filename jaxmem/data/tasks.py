"""Binary tasks from labelled real data, NumPy in and NumPy out, pure and deterministic.

  pair_task        one class against another (MNIST 1 vs 8), optionally `per_class` points
                   of each, labels +-1;
  one_vs_rest      +1 for one class, -1 for all others;
  nested_subsets   nested, stratified index sets for 10%, 20%, ..., 100% of a data set (the
                   sample-size runs);
  normalize_max_norm  rescale to max norm 1 (R = 1) with `jaxmem.data.normalize`.

Randomness comes from `key_or_seed`: an int seed or a JAX key, turned into a NumPy Generator,
so the same seed gives the same subset on every machine.
"""

from __future__ import annotations

import operator

import jax
import numpy as np

from jaxmem.data.geometric import normalize
from jaxmem.data.validate import positive_int

__all__ = ["nested_subsets", "normalize_max_norm", "one_vs_rest", "pair_task"]

DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _rng(key_or_seed) -> np.random.Generator:
    """A NumPy Generator from an int seed (None = 0) or a JAX key (typed or raw uint32)."""
    if key_or_seed is None:
        return np.random.default_rng(0)
    if isinstance(key_or_seed, (jax.Array, np.ndarray)):
        if jax.dtypes.issubdtype(key_or_seed.dtype, jax.dtypes.prng_key):
            key_or_seed = jax.random.key_data(key_or_seed)
        return np.random.default_rng(np.asarray(key_or_seed, dtype=np.uint32).ravel().tolist())
    try:
        if isinstance(key_or_seed, bool):
            raise TypeError
        seed = operator.index(key_or_seed)
    except TypeError:
        raise ValueError(
            f"key_or_seed must be an int seed or a JAX key; got {key_or_seed!r}"
        ) from None
    if seed < 0:
        raise ValueError(f"a seed must be >= 0; got {seed}")
    return np.random.default_rng(seed)


def _labels(labels, n=None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be one label per point, shape (n,); got shape {labels.shape}"
        )
    if n is not None and len(labels) != n:
        raise ValueError(f"labels must have one entry per row of X ({n}); got {len(labels)}")
    return labels


def _present(labels, cls, role) -> np.ndarray:
    mask = labels == cls
    if not mask.any():
        present = np.unique(labels)
        raise ValueError(
            f"{role} class {cls!r} has no points; the labels present are {present.tolist()}"
        )
    return mask


def one_vs_rest(labels, cls, *, dtype=np.float32) -> np.ndarray:
    """+1 where labels == cls, -1 elsewhere (dtype float32 unless given)."""
    labels = _labels(labels)
    mask = _present(labels, cls, "the")
    if mask.all():
        raise ValueError(f"every point has label {cls!r}: the 'rest' class is empty")
    return np.where(mask, 1, -1).astype(dtype)


def pair_task(X, labels, positive, negative, *, per_class: int | None = None, key_or_seed=None):
    """The points of two classes as a +-1 task: (X_pair, y), label `positive` -> +1,
    `negative` -> -1, in the data's original order.

    per_class: keep this many points of each class, drawn without replacement with
    `key_or_seed` (an int seed or a JAX key; None = seed 0), so the same seed gives the same
    points. y has X's float dtype (float32 when X is not floating)."""
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"X must have one row per point, shape (n, ...); got shape {X.shape}")
    labels = _labels(labels, len(X))
    if positive == negative:
        raise ValueError(f"positive and negative must be different classes; both are {positive!r}")
    is_pos = _present(labels, positive, "positive")
    is_neg = _present(labels, negative, "negative")
    if per_class is None:
        keep = np.flatnonzero(is_pos | is_neg)
    else:
        per_class = positive_int("per_class", per_class)
        rng = _rng(key_or_seed)
        chosen = []
        for cls, mask in ((positive, is_pos), (negative, is_neg)):
            members = np.flatnonzero(mask)
            if per_class > len(members):
                raise ValueError(
                    f"per_class={per_class} but class {cls!r} has only {len(members)} points"
                )
            chosen.append(rng.choice(members, size=per_class, replace=False))
        keep = np.sort(np.concatenate(chosen))
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float32)
    y = np.where(labels[keep] == positive, 1, -1).astype(dtype)
    return X[keep], y


def nested_subsets(y, fractions=DECILES, seed=0) -> list[np.ndarray]:
    """Nested, stratified subsets of the points: one sorted index array per fraction f, with
    round(f * n) points, each class in (nearly) its share of the whole.

    Each class's points are shuffled (seed: an int or a JAX key) and point j of class c, of
    n_c, is given the position (j + 1/2) / n_c; every subset is a prefix of all points sorted
    by position. Prefixes make the subsets nested whatever the fractions; the prefixes of this
    order are Webster (Sainte-Lague) apportionments of the classes, which keep each class
    within one point of its exact share for two classes (and nearly always for more).
    fraction 1.0 gives every index."""
    y = _labels(y)
    n = len(y)
    if n == 0:
        raise ValueError("y is empty: there are no points to take subsets of")
    fractions = [float(f) for f in np.atleast_1d(np.asarray(fractions, dtype=float))]
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fractions must lie in (0, 1]; got {f}")
        if round(f * n) == 0:
            raise ValueError(f"fraction {f} of {n} points is no point at all")
    order = nested_order(y, seed)
    return [np.sort(order[: round(f * n)]) for f in fractions]


def nested_order(y, seed=0) -> np.ndarray:
    """Every index in the order whose prefixes are `nested_subsets`' subsets (see there)."""
    y = _labels(y)
    rng = _rng(seed)
    classes = np.unique(y)
    position = np.empty(len(y))
    class_rank = np.empty(len(y), dtype=np.int64)
    # Ties in position (equal class sizes) are broken by a random order of the classes.
    for rank, cls in zip(rng.permutation(len(classes)), classes):
        members = rng.permutation(np.flatnonzero(y == cls))
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
        class_rank[members] = rank
    return np.lexsort((class_rank, position))


def normalize_max_norm(X) -> np.ndarray:
    """X / max_i ||x_i||_2 as a NumPy array, so the largest point has norm 1 (R = 1): the
    rows of X are points (any trailing shape is flattened). Uses jaxmem.data.normalize, so the
    division follows JAX's dtypes (float32 input stays float32)."""
    X = np.asarray(X)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X must have at least one row of coordinates; got shape {X.shape}")
    flat = X.reshape(len(X), -1)
    if not np.all(np.isfinite(flat)):
        raise ValueError("X has NaN or inf entries; cannot normalize")
    if not flat.any():
        raise ValueError("every point of X is 0: there is no norm to divide by")
    return np.asarray(normalize(flat)).reshape(X.shape)
