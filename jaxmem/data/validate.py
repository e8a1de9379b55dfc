"""Input validation, run on the host before anything compiles.

Every public entry point (constructions' `build`, metrics, the CLI) calls `validate` on user
data. Each problem raises a ValueError that names it and the offending row(s). Inside jit or
vmap the arrays are tracers whose values are unknown; validation is then skipped, and the
caller is expected to have validated the concrete data (the sweep engine does, per chunk).
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import numpy as np

TASKS = ("binary", "regression")
_SHOW = 5  # rows listed in a message before it says "and N more"


def _rows(idx) -> str:
    idx = [int(i) for i in idx]
    head = ", ".join(map(str, idx[:_SHOW]))
    return head + (f" and {len(idx) - _SHOW} more" if len(idx) > _SHOW else "")


def is_traced(*trees) -> bool:
    """Whether any leaf of the arguments is a JAX tracer (inside jit or vmap): host-side
    checks, which need concrete values, are skipped then. The one copy of this test."""
    return any(
        isinstance(leaf, jax.core.Tracer)
        for tree in trees
        for leaf in jax.tree_util.tree_leaves(tree)
    )


def positive_int(name: str, value: Any) -> int:
    """`value` as a Python int, if it is a positive integer: a Python or NumPy integer (or
    anything else with `__index__`, such as a 0-d integer array), not a bool; otherwise a
    ValueError naming `name` and the value. The one copy of this check, for sizes, counts and
    options alike; a caller with its own error type converts the ValueError."""
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return number


def validate(
    X,
    y=None,
    *,
    task: str | None = None,
    allow_duplicates: bool = False,
    check_duplicates: bool = True,
    name: str = "X",
) -> None:
    """Checks one dataset: X of shape (n, d) with n >= 1, d >= 1; y of shape (n,).

    task="binary": labels must be exactly -1 or +1 and both classes present.
    task="regression": labels must be finite reals.
    Always: X finite; no two equal points with different labels; with
    allow_duplicates=False, no repeated points at all (the theorems are about n distinct
    points, and a repeated point makes every projection tie).
    """
    if is_traced(X, y):
        return
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) (one row per point); got shape {X.shape}")
    n, d = X.shape
    if n == 0:
        raise ValueError(f"{name} has no rows (n = 0): a dataset needs at least one point")
    if d == 0:
        raise ValueError(f"{name} has no columns (d = 0): points need at least one coordinate")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {X.dtype}")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has NaN or inf in rows {_rows(np.flatnonzero(bad.any(1)))} "
            f"(row {r}, column {c} is {X[r, c]})"
        )
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(
                f"y must have shape ({n},), one label per row of {name}; got shape {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
            raise ValueError(f"y must be real numbers; got dtype {y.dtype}")
        bad_y = ~np.isfinite(y)
        if bad_y.any():
            rows = np.flatnonzero(bad_y)
            raise ValueError(
                f"y has NaN or inf in rows {_rows(rows)} (row {rows[0]} is {y[rows[0]]})"
            )
        if task == "binary":
            bad_y = (y != 1) & (y != -1)
            if bad_y.any():
                rows = np.flatnonzero(bad_y)
                raise ValueError(
                    f"binary labels must be -1 or +1; rows {_rows(rows)} are not "
                    f"(row {rows[0]} is {y[rows[0]]})"
                )
            for cls in (1, -1):
                if not (y == cls).any():
                    raise ValueError(
                        f"the class {cls:+d} is empty: all {n} labels are {-cls:+d}; "
                        f"a binary task needs points of both classes"
                    )
    if not check_duplicates:
        return
    # Equal points: sort rows lexicographically, compare neighbours.
    order = np.lexsort(X.T[::-1])
    same = np.all(X[order[1:]] == X[order[:-1]], axis=1)
    if same.any():
        pairs = [
            (int(min(order[k], order[k + 1])), int(max(order[k], order[k + 1])))
            for k in np.flatnonzero(same)
        ]
        if y is not None:
            conflict = [(i, j) for i, j in pairs if y[i] != y[j]]
            if conflict:
                i, j = conflict[0]
                raise ValueError(
                    f"rows {i} and {j} of {name} are the same point with different labels "
                    f"({y[i]} and {y[j]}): no function can fit both"
                    + (f" ({len(conflict) - 1} more such pairs)" if len(conflict) > 1 else "")
                )
        if not allow_duplicates:
            i, j = pairs[0]
            raise ValueError(
                f"rows {i} and {j} of {name} are the same point; the constructions need n "
                f"distinct points (remove duplicates, or pass allow_duplicates=True)"
                + (f" ({len(pairs) - 1} more such pairs)" if len(pairs) > 1 else "")
            )


def float_data(X, y=None, **kwargs):
    """`validate(X, y, **kwargs)`, then X and y as JAX arrays of a float dtype: lists and
    integer arrays (pixels, say) are converted to the default float type (float64 under
    jax_enable_x64), float arrays keep theirs. What a construction takes, so that a list or
    an integer array gets a float network instead of a JAX error from deep inside."""
    import jax.numpy as jnp

    validate(X, y, **kwargs)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    if y is not None:
        y = jnp.asarray(y)
        y = y.astype(X.dtype) if not jnp.issubdtype(y.dtype, jnp.floating) else y
    return X, y


def validate_batch(X, y=None, **kwargs) -> None:
    """Validates a batch of datasets, X of shape (B, n, d), y of shape (B, n); messages name
    the dataset index as well as the row."""
    if is_traced(X, y):
        return
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"a batch of datasets must have shape (B, n, d); got shape {X.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.shape != X.shape[:2]:
            raise ValueError(f"batched labels must have shape {X.shape[:2]}; got {y.shape}")
    for b in range(X.shape[0]):
        try:
            validate(X[b], None if y is None else y[b], **kwargs)
        except ValueError as err:
            raise ValueError(f"dataset {b}: {err}") from None
