"""Input validation: every bad input raises a ValueError that names the problem and the
offending row(s); valid data passes silently; traced arrays skip validation."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem.data import TASKS, validate, validate_batch

jax.config.update("jax_enable_x64", True)

N, D = 12, 3


def _data(seed=0, n=N, d=D):
    """Distinct Gaussian points and alternating +-1 labels (both classes present)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return X, y


# ---- valid data ---------------------------------------------------------------------------

@pytest.mark.parametrize("task", [None, *TASKS])
def test_valid_dataset_passes_silently(task):
    X, y = _data()
    if task == "regression":
        y = np.random.default_rng(1).standard_normal(N)
    assert validate(X, y, task=task) is None
    assert validate(X) is None
    # JAX arrays and integer-valued points are accepted too.
    assert validate(jnp.asarray(X), jnp.asarray(y), task=task) is None
    assert validate(np.arange(N * D).reshape(N, D), y, task=task) is None


def test_regression_labels_need_not_be_pm1_but_binary_labels_must():
    X, _ = _data()
    y = np.linspace(-2.0, 2.0, N)  # no label is exactly +-1
    validate(X, y, task="regression")
    with pytest.raises(ValueError, match=r"binary labels must be -1 or \+1"):
        validate(X, y, task="binary")


# ---- shapes -------------------------------------------------------------------------------

def test_one_dimensional_X_is_rejected():
    X = np.arange(5.0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, d\).*got shape \(5,\)"):
        validate(X)


def test_three_dimensional_X_is_rejected():
    X = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"X must have shape \(n, d\).*got shape \(2, 3, 4\)"):
        validate(X)


@pytest.mark.parametrize("y_shape", [(N - 1,), (N + 1,), (N, 1), (1, N), ()])
def test_y_of_wrong_shape_is_rejected(y_shape):
    X, _ = _data()
    y = np.ones(y_shape)
    expected = re.escape(f"y must have shape ({N},)") + r".*" + re.escape(f"got shape {y_shape}")
    with pytest.raises(ValueError, match=expected):
        validate(X, y)


def test_no_rows_is_rejected():
    with pytest.raises(ValueError, match=r"X has no rows \(n = 0\)"):
        validate(np.zeros((0, D)))


def test_no_columns_is_rejected():
    with pytest.raises(ValueError, match=r"X has no columns \(d = 0\)"):
        validate(np.zeros((4, 0)))


# ---- non-finite values --------------------------------------------------------------------

def test_nan_in_X_names_the_rows():
    X, y = _data()
    X[7, 2] = np.nan
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"X has NaN or inf in rows 3, 7 \(row 3, column 0 is nan\)"):
        validate(X, y)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_in_X_names_the_row(value):
    X, y = _data()
    X[5, 1] = value
    with pytest.raises(ValueError, match=rf"X has NaN or inf in rows 5 \(row 5, column 1 is {value}\)"):
        validate(X, y)


def test_many_bad_rows_are_summarized():
    X, _ = _data()
    X[1:9, 0] = np.nan  # rows 1..8: the first five are listed, then "and 3 more"
    with pytest.raises(ValueError, match=r"rows 1, 2, 3, 4, 5 and 3 more \(row 1,"):
        validate(X)


def test_nan_in_y_names_the_row():
    X, y = _data()
    y[4] = np.nan
    with pytest.raises(ValueError, match=r"y has NaN or inf in rows 4 \(row 4 is nan\)"):
        validate(X, y)


def test_inf_in_y_names_the_rows():
    X, y = _data()
    y[[2, 10]] = np.inf
    with pytest.raises(ValueError, match=r"y has NaN or inf in rows 2, 10\b"):
        validate(X, y, task="regression")


# ---- labels -------------------------------------------------------------------------------

def test_binary_labels_outside_pm1_name_the_rows():
    X, y = _data()
    y[2] = 0.0
    y[9] = 2.0
    with pytest.raises(ValueError, match=r"binary labels must be -1 or \+1; rows 2, 9 are not "
                                         r"\(row 2 is 0\.0\)"):
        validate(X, y, task="binary")


@pytest.mark.parametrize("present", [1.0, -1.0])
def test_empty_class_is_rejected_for_binary_task(present):
    X, _ = _data()
    y = np.full(N, present)
    missing = -int(present)
    expected = re.escape(f"class {missing:+d} is empty: all {N} labels are {int(present):+d}")
    with pytest.raises(ValueError, match=expected):
        validate(X, y, task="binary")
    validate(X, y, task="regression")  # one class is fine without the binary task


# ---- duplicates ---------------------------------------------------------------------------

def test_equal_points_with_different_labels_name_both_rows():
    X, y = _data()
    X[8] = X[3]
    y[3], y[8] = 1.0, -1.0
    pattern = r"rows 3 and 8 of X are the same point with different labels"
    with pytest.raises(ValueError, match=pattern):
        validate(X, y)
    # No flag makes a contradiction acceptable.
    with pytest.raises(ValueError, match=pattern):
        validate(X, y, allow_duplicates=True)


def test_duplicate_points_with_equal_labels_rejected_by_default():
    X, y = _data()
    X[10] = X[2]
    y[10] = y[2]
    with pytest.raises(ValueError, match=r"rows 2 and 10 of X are the same point.*allow_duplicates=True"):
        validate(X, y)
    with pytest.raises(ValueError, match=r"rows 2 and 10 of X are the same point"):
        validate(X)  # without labels too
    assert validate(X, y, allow_duplicates=True) is None
    assert validate(X, y, check_duplicates=False) is None


def test_duplicate_detection_finds_non_adjacent_rows_and_signed_zero():
    X, _ = _data()
    X[0] = [0.0, 1.0, 2.0]
    X[11] = [-0.0, 1.0, 2.0]  # the same point: -0.0 == 0.0
    with pytest.raises(ValueError, match=r"rows 0 and 11 of X are the same point"):
        validate(X)


def test_conflict_inside_a_group_of_three_equal_points():
    X, y = _data()
    X[4] = X[1]
    X[9] = X[1]
    y[1], y[4], y[9] = 1.0, 1.0, -1.0
    with pytest.raises(ValueError, match=r"rows 4 and 9 of X are the same point with different"):
        validate(X, y, allow_duplicates=True)


# ---- dtypes, task, name -------------------------------------------------------------------

@pytest.mark.parametrize("X", [np.array([["a", "b"], ["c", "d"]]),
                               np.array([[1 + 1j, 2], [3, 4]]),
                               np.array([[object(), 1.0], [2.0, 3.0]], dtype=object)])
def test_non_numeric_X_dtype_is_rejected(X):
    with pytest.raises(ValueError, match=rf"X must be real numbers; got dtype {re.escape(str(X.dtype))}"):
        validate(X)


def test_non_numeric_y_dtype_is_rejected():
    X, _ = _data(n=2)
    with pytest.raises(ValueError, match=r"y must be real numbers; got dtype <U3"):
        validate(X, np.array(["yes", "no"]))


def test_unknown_task_is_rejected():
    X, y = _data()
    with pytest.raises(ValueError, match=r"unknown task 'classification'; expected one of"):
        validate(X, y, task="classification")


def test_name_appears_in_messages():
    X, _ = _data()
    X[6, 0] = np.nan
    with pytest.raises(ValueError, match=r"X_test has NaN or inf in rows 6"):
        validate(X, name="X_test")


# ---- batches ------------------------------------------------------------------------------

def test_validate_batch_names_dataset_and_row():
    Xs = np.stack([_data(seed)[0] for seed in range(4)])
    ys = np.stack([_data(seed)[1] for seed in range(4)])
    validate_batch(Xs, ys, task="binary")
    Xs[2, 6, 1] = np.nan
    with pytest.raises(ValueError, match=r"^dataset 2: X has NaN or inf in rows 6\b"):
        validate_batch(Xs, ys, task="binary")


def test_validate_batch_passes_options_through():
    Xs = np.stack([_data(seed)[0] for seed in range(3)])
    ys = np.stack([_data(seed)[1] for seed in range(3)])
    ys[1, 5] = 0.5
    validate_batch(Xs, ys, task="regression")
    with pytest.raises(ValueError, match=r"^dataset 1: binary labels must be -1 or \+1; rows 5 are not"):
        validate_batch(Xs, ys, task="binary")


def test_validate_batch_rejects_bad_shapes():
    Xs = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match=r"shape \(B, n, d\); got shape \(4, 3\)"):
        validate_batch(Xs[0])
    with pytest.raises(ValueError, match=r"batched labels must have shape \(2, 4\); got \(2, 5\)"):
        validate_batch(Xs, np.ones((2, 5)))


# ---- traced arrays ------------------------------------------------------------------------

def test_validation_is_skipped_for_traced_arrays_under_jit():
    X, y = _data()
    X[7, 0] = np.nan  # concrete validation fails ...
    with pytest.raises(ValueError, match=r"rows 7"):
        validate(X, y, task="binary")

    @jax.jit
    def f(X, y):
        validate(X, y, task="binary")  # ... but a tracer's values are unknown: skipped
        return X.sum()

    out = f(jnp.asarray(X), jnp.asarray(y))
    assert np.isnan(out)
    X_ok, y_ok = _data()
    np.testing.assert_allclose(f(jnp.asarray(X_ok), jnp.asarray(y_ok)), X_ok.sum(), rtol=1e-13)


def test_validate_batch_is_skipped_under_vmap_and_jit():
    Xs = np.stack([_data(seed)[0] for seed in range(3)])
    Xs[1, 2, 2] = np.inf

    def g(X):
        validate_batch(X[None])
        validate(X)
        return X.max()

    out = jax.jit(jax.vmap(g))(jnp.asarray(Xs))
    assert np.isinf(out[1]) and np.isfinite(out[0]) and np.isfinite(out[2])
