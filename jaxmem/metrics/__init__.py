"""Metrics of a network on a dataset: fit, margins, precision, weight sizes.

Every function is pure and works under jit and vmap (one dataset per call; vmap over a batch).
Binary labels are +-1; an output of exactly 0 is an error and is counted separately
(`tie_fraction`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import network
from jaxmem.data.validate import validate
from jaxmem.network import Network

_HIGHEST = jax.lax.Precision.HIGHEST


def _check(net: Network, X, y=None):
    """Shapes and finiteness, before anything compiles (skipped for traced arrays).

    Returns X and y as arrays in the network's floating dtype (integer data are promoted,
    so that unit roundoff and finfo refer to the arithmetic actually performed)."""
    validate(X, y, check_duplicates=False)
    dtype = jnp.result_type(net.layers[0].weight.dtype, jnp.float32)
    X = jnp.asarray(X, jnp.result_type(X, dtype))
    if X.shape[-1] != net.layers[0].n_in:
        raise ValueError(f"the network reads {net.layers[0].n_in} inputs but X has "
                         f"{X.shape[-1]} columns")
    return X, (None if y is None else jnp.asarray(y, jnp.result_type(y, X.dtype)))


def max_abs_error(net: Network, X, y) -> jax.Array:
    """max_i |f(x_i) - y_i|."""
    X, y = _check(net, X, y)
    return jnp.max(jnp.abs(network.apply(net, X) - y))


def sign_accuracy(net: Network, X, y) -> jax.Array:
    """Fraction of points with sign(f(x_i)) = y_i; f(x_i) = 0 counts as wrong."""
    X, y = _check(net, X, y)
    f = network.apply(net, X)
    return jnp.mean(jnp.sign(f) == jnp.sign(y))


def tie_fraction(net: Network, X) -> jax.Array:
    """Fraction of points whose output is exactly 0 (neither class)."""
    X, _ = _check(net, X)
    return jnp.mean(network.apply(net, X) == 0)


def margin(net: Network, X, y) -> jax.Array:
    """min_i y_i f(x_i): positive iff every point is classified correctly (binary labels)."""
    X, y = _check(net, X, y)
    return jnp.min(y * network.apply(net, X))


def interpolation_tolerance(net: Network, X) -> jax.Array:
    """Per-point tolerance for "f(x_i) = y_i up to rounding", shape (n,).

    2 gamma_K M_i (see `network.rounding_bound`): one gamma_K M_i for evaluating the network
    in X's dtype, and one for the rounding in the construction's own solve, whose backward
    error for a triangular substitution is bounded by the same quantity (Higham, Thm 8.5).
    Derived from the network's weights and the dtype's unit roundoff, not a fixed constant.
    """
    X, _ = _check(net, X)
    return _tolerance(net, X)


def _tolerance(net: Network, X) -> jax.Array:
    return 2 * network.rounding_bound(net, X)


def interpolates(net: Network, X, y) -> jax.Array:
    """True iff |f(x_i) - y_i| <= `interpolation_tolerance` at every point (a scalar bool)."""
    X, y = _check(net, X, y)
    err = jnp.abs(network.apply(net, X) - y)
    return jnp.all(err <= _tolerance(net, X))


def fit_report(net: Network, X, y) -> dict:
    """One evaluation, every fit metric: interpolates, max_abs_error, worst_point (argmax of
    error / tolerance), error_over_tolerance, sign_accuracy, tie_fraction, margin."""
    X, y = _check(net, X, y)
    f = network.apply(net, X)
    err = jnp.abs(f - y)
    tol = _tolerance(net, X)
    ratio = err / jnp.maximum(tol, jnp.finfo(X.dtype).tiny)
    return dict(
        interpolates=jnp.all(err <= tol),
        max_abs_error=jnp.max(err),
        error_over_tolerance=jnp.max(ratio),
        worst_point=jnp.argmax(ratio),
        sign_accuracy=jnp.mean(jnp.sign(f) == jnp.sign(y)),
        tie_fraction=jnp.mean(f == 0),
        margin=jnp.min(y * f),
    )


def float32_report(net: Network, X, y, *, value_rtol: float | None = None) -> dict:
    """Casts weights, inputs and arithmetic to float32 and re-checks the fit.

    deployable_f32 is the criterion a user of the float32 network cares about:
      binary labels (all |y| = 1): every point has the right sign, no output exactly 0;
      real labels: max |f32(x_i) - y_i| <= value_rtol * max(1, max |y|), by default
        sqrt(eps_32) ~ 3.5e-4, i.e. at least half of float32's mantissa bits of each label
        survive (a well-conditioned float32 evaluation loses only O(u_32)).
    The float64 rounding tolerance is deliberately not reused: scaled to float32 it grows
    with the weights and would call almost any network "exact".
    """
    X, y = _check(net, X, y)
    if value_rtol is None:
        value_rtol = float(np.sqrt(np.finfo(np.float32).eps))
    f = network.apply(network.astype(net, jnp.float32), X.astype(jnp.float32))
    err = jnp.abs(f.astype(y.dtype) - y)
    binary = jnp.all(jnp.abs(y) == 1)
    signs_ok = jnp.all(jnp.sign(f) == jnp.sign(y)) & jnp.all(f != 0)
    values_ok = jnp.max(err) <= value_rtol * jnp.maximum(1, jnp.max(jnp.abs(y)))
    return dict(
        deployable_f32=jnp.where(binary, signs_ok, values_ok),
        max_abs_error_f32=jnp.max(err),
        sign_accuracy_f32=jnp.mean(jnp.sign(f) == jnp.sign(y)),
    )


def float32_deployable(net: Network, X, y) -> jax.Array:
    """`float32_report(...)["deployable_f32"]`."""
    return float32_report(net, X, y)["deployable_f32"]


def weight_stats(net: Network) -> dict:
    """Sizes of the weights (masked units excluded; shared weights counted per unit):

    max_abs_weight   max |parameter| over all weights and biases
    sum_abs_weight   sum |parameter|
    path_norm        l1 path norm 1^T |W_L| ... |W_1| 1: the sum over input-output paths of
                     the product of |weights| (biases excluded)
    two_layer_path_norm  sum_j |a_j| ||w_j||_2 over hidden units (Bubeck et al. 2020's
                     weight size); NaN for networks that are not two-layer
    """
    mx = jnp.asarray(0.0, net.layers[0].weight.dtype)
    total = jnp.asarray(0.0, mx.dtype)
    paths = jnp.ones((net.layers[0].n_in,), mx.dtype)
    params = network.masked_params(net)
    for W, b in params:
        mx = jnp.maximum(mx, jnp.maximum(jnp.max(jnp.abs(W)), jnp.max(jnp.abs(b))))
        total = total + jnp.sum(jnp.abs(W)) + jnp.sum(jnp.abs(b))
        paths = jnp.matmul(paths, jnp.abs(W), precision=_HIGHEST)
    if len(net.layers) == 2:
        (W1, _), (W2, _) = params
        two = jnp.sum(jnp.abs(W2).sum(-1) * jnp.linalg.norm(W1, axis=0))
    else:
        two = jnp.asarray(jnp.nan, mx.dtype)
    return dict(max_abs_weight=mx, sum_abs_weight=total, path_norm=jnp.sum(paths),
                two_layer_path_norm=two)


__all__ = [
    "fit_report", "float32_deployable", "float32_report", "interpolates",
    "interpolation_tolerance", "margin", "max_abs_error", "sign_accuracy", "tie_fraction",
    "weight_stats",
]
