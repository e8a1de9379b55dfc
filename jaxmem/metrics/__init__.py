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
    X, y = jnp.asarray(X), None if y is None else jnp.asarray(y)  # lists, too
    X = jnp.asarray(X, jnp.result_type(X, dtype))
    if X.shape[-1] != net.layers[0].n_in:
        raise ValueError(
            f"the network reads {net.layers[0].n_in} inputs but X has {X.shape[-1]} columns"
        )
    return X, (None if y is None else jnp.asarray(y, jnp.result_type(y, X.dtype)))


def max_abs_error(net: Network, X, y) -> jax.Array:
    """max_i |f(x_i) - y_i| (inf if an output is not finite)."""
    X, y = _check(net, X, y)
    return _max_or_inf(jnp.abs(network.apply(net, X) - y))


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


# --------------------------------------------------------------------------------------------
# Three-valued decisions. A rounding bound that is large against the labels cannot tell a
# right network from a wrong one, so a fit is decided only where the bound is small.
# --------------------------------------------------------------------------------------------

FAILS, FITS, UNDECIDED = 0, 1, -1
DECISIONS = {FITS: "FITS", FAILS: "FAILS", UNDECIDED: "UNDECIDED"}

# rho: a decided fit certifies |f(x_i) - y_i| <= rho * max_j |y_j| for the network's exact
# function. sqrt(eps_float32) = 2^-11.5 ~ 3.5e-4: at least half of float32's mantissa bits of
# every label are certified, the same resolution `float32_report` asks of a float32 network.
FIT_RESOLUTION = float(np.sqrt(np.finfo(np.float32).eps))


def label_scale(y) -> jax.Array:
    """The labels' scale, max_i |y_i| (the scale a fit's resolution is relative to)."""
    return jnp.max(jnp.abs(y), initial=0)


def _finite_or_inf(bound):
    # A NaN bound (inf * 0 in a bound with overflowing weights) knows nothing: treat as inf.
    return jnp.where(jnp.isnan(bound), jnp.inf, bound)


def value_decisions(
    f, y, tolerance, *, bound=None, resolution: float = FIT_RESOLUTION, scale=None
) -> jax.Array:
    """Per-point three-valued decision of f(x_i) = y_i, as int8: FITS (1), FAILS (0) or
    UNDECIDED (-1).

    tolerance  what rounding (evaluation and construction) can explain of |f_i - y_i|;
    bound      a bound on |f_i - f*_i|, f* the network's exact output (default: tolerance).

      FAILS      f_i is not finite, or |f_i - y_i| > tolerance_i: more than rounding explains.
      FITS       |f_i - y_i| <= tolerance_i and |f_i - y_i| + bound_i <= resolution * s: the
                 exact output f*_i is certified within resolution * s of the label, where
                 s = max_j |y_j| (`label_scale`; pass `scale` to fix it).
      UNDECIDED  |f_i - y_i| <= tolerance_i but the bound is too large against the labels to
                 certify that: a wrong network could look the same. Never a pass.

    Without the labels' scale a tolerance that exceeds the labels would pass any network
    (weights of 1e15 give tolerances of units: the zero function then "fits" labels of +-1)."""
    f, y = jnp.asarray(f), jnp.asarray(y)
    tolerance = _finite_or_inf(jnp.asarray(tolerance, f.dtype))
    bound = tolerance if bound is None else _finite_or_inf(jnp.asarray(bound, f.dtype))
    s = label_scale(y) if scale is None else jnp.asarray(scale)
    err = jnp.abs(f - y)
    fails = ~jnp.isfinite(f) | ~(err <= tolerance)
    fits = ~fails & (err + bound <= resolution * s)
    return jnp.where(fails, FAILS, jnp.where(fits, FITS, UNDECIDED)).astype(jnp.int8)


def sign_decisions(f, y, bound) -> jax.Array:
    """Per-point three-valued decision of sign f(x_i) = y_i for +-1 labels (int8).

    `bound` bounds |fl(f_i) - f_i| (`network.rounding_bound`). Decided only where |f_i| >
    bound_i (the exact output then has the computed sign); an exactly computed 0 (bound 0) is a
    tie, which counts as an error; a non-finite output FAILS."""
    f, y = jnp.asarray(f), jnp.asarray(y)
    bound = _finite_or_inf(jnp.asarray(bound, f.dtype))
    finite = jnp.isfinite(f)
    decided = finite & (jnp.abs(f) > bound)
    right = jnp.sign(f) == jnp.sign(y)
    tie = finite & (f == 0) & (bound == 0)
    out = jnp.where(decided, jnp.where(right, FITS, FAILS), UNDECIDED)
    return jnp.where(~finite | tie, FAILS, out).astype(jnp.int8)


def margin_decisions(f, y, bound, margin) -> jax.Array:
    """Per-point three-valued decision of y_i f(x_i) >= margin (+-1 labels; int8): decided only
    where |y_i f_i - margin| > bound_i (or the bound is 0); a non-finite output FAILS."""
    f, y = jnp.asarray(f), jnp.asarray(y)
    bound = _finite_or_inf(jnp.asarray(bound, f.dtype))
    z = y * f - margin
    out = jnp.where(z > bound, FITS, jnp.where(z < -bound, FAILS, UNDECIDED))
    out = jnp.where((bound == 0) & (z == 0), FITS, out)
    return jnp.where(jnp.isfinite(f), out, FAILS).astype(jnp.int8)


def dataset_decision(decisions, axis=-1) -> jax.Array:
    """A dataset's decision from its points': FAILS if any point fails, else UNDECIDED if any
    is undecided, else FITS (an empty dataset FITS)."""
    decisions = jnp.asarray(decisions)
    any_fail = jnp.any(decisions == FAILS, axis=axis)
    any_open = jnp.any(decisions == UNDECIDED, axis=axis)
    return jnp.where(any_fail, FAILS, jnp.where(any_open, UNDECIDED, FITS)).astype(jnp.int8)


def _evaluate(net: Network, X, y, resolution: float):
    """(f, tolerance, bound): outputs, the a-priori tolerance 2 gamma_K M (evaluation and
    construction rounding) and a certified bound on |f - f*|: the tighter of the a-priori
    gamma_K M and the running bound (`network.running_bound`).

    On a CPU, one dataset at a time (sequential_vmap), the running bound is computed only
    when the a-priori bound leaves a value or sign decision open: a smaller bound can only
    turn UNDECIDED into FITS (FAILS does not depend on it), so every decision is the same,
    and the a-priori bound is O(n d) per point where the running bound makes three passes
    over the hidden layer (Bubeck's: 0.7 ms per dataset of n = 1000, d = 20). Batched, a
    cond would compute both branches, so accelerators compute both.
    """
    if jax.default_backend() != "cpu":
        f, running = network.running_bound(net, X)
        apriori = network.rounding_bound(net, X)
        return f, 2 * apriori, jnp.minimum(apriori, _finite_or_inf(running))

    def one_dataset(net, X, y):
        f = network.apply(net, X)
        apriori = network.rounding_bound(net, X)
        tol = 2 * apriori
        values = value_decisions(f, y, tol, bound=apriori, resolution=resolution)
        signs = sign_decisions(f, y, apriori)
        still_open = jnp.any(values == UNDECIDED) | jnp.any(signs == UNDECIDED)

        def tighter(_):
            # The running bound is about its own forward pass: take its outputs with it (the
            # a-priori bound holds for any evaluation order, so the minimum is valid for them).
            f_running, running = network._running_bound(net, X)
            return f_running, jnp.minimum(apriori, _finite_or_inf(running))

        f, bound = jax.lax.cond(still_open, tighter, lambda _: (f, apriori), None)
        return f, tol, bound

    @jax.custom_jvp
    def certified(net, X, y):
        return jax.custom_batching.sequential_vmap(one_dataset)(net, X, y)

    @certified.defjvp
    def certified_jvp(primals, tangents):
        # sequential_vmap has no derivative rule: the outputs' derivative is the forward
        # pass's (a counterexample search differentiates through fits); the bounds' is zero.
        (net, X, y), (net_dot, X_dot, _) = primals, tangents
        f, tol, bound = certified(net, X, y)
        _, f_dot = jax.jvp(network.apply, (net, X), (net_dot, X_dot))
        return (f, tol, bound), (f_dot, jnp.zeros_like(tol), jnp.zeros_like(bound))

    return certified(net, X, y)


def fit_decisions(net: Network, X, y, *, resolution: float = FIT_RESOLUTION) -> jax.Array:
    """Per-point `value_decisions` of the network against its labels: the tolerance is
    `interpolation_tolerance`, the certificate the tighter of `network.rounding_bound` and
    `network.running_bound`."""
    X, y = _check(net, X, y)
    f, tol, bound = _evaluate(net, X, y, resolution)
    return value_decisions(f, y, tol, bound=bound, resolution=resolution)


def interpolates(net: Network, X, y, *, resolution: float = FIT_RESOLUTION) -> jax.Array:
    """True iff the fit is decided and every point FITS (`fit_decisions`): a scalar bool.
    False covers both FAILS and UNDECIDED; `fit_report` tells them apart."""
    return dataset_decision(fit_decisions(net, X, y, resolution=resolution)) == FITS


def _max_or_inf(values):
    # max |error| where a non-finite entry is +inf; max() would lose NaNs on some backends
    # (an unoptimized XLA CPU max reduction returned -inf for all-NaN input).
    return jnp.max(jnp.where(jnp.isnan(values), jnp.inf, values), initial=0)


def fit_report(net: Network, X, y, *, resolution: float = FIT_RESOLUTION) -> dict:
    """One evaluation, every fit metric:

    decision            the dataset's FITS / FAILS / UNDECIDED (int8, `value_decisions`)
    interpolates        decision == FITS (decided and passing)
    undecided_points, failing_points   counts of points in each state
    sign_decision, sign_undecided_points   the same for sign f(x_i) = sign y_i (`sign_decisions`)
    max_abs_error       max |f - y| (inf if an output is not finite)
    error_over_tolerance, worst_point   max of |f - y| / tolerance, and where
    tolerance_over_scale  max tolerance / max |y|
    bound_over_scale    max certified evaluation bound / max |y|: a point with an error of 0
                        is decidable when this is at most the resolution
    sign_accuracy, tie_fraction, margin   as computed (margin -inf if an output is not finite)
    """
    X, y = _check(net, X, y)
    f, tol, bound = _evaluate(net, X, y, resolution)
    err = jnp.abs(f - y)
    scale = label_scale(y)
    points = value_decisions(f, y, tol, bound=bound, resolution=resolution, scale=scale)
    signs = sign_decisions(f, y, bound)
    ratio = err / jnp.maximum(tol, jnp.finfo(X.dtype).tiny)
    decision = dataset_decision(points)
    return dict(
        decision=decision,
        interpolates=decision == FITS,
        undecided_points=jnp.sum(points == UNDECIDED),
        failing_points=jnp.sum(points == FAILS),
        sign_decision=dataset_decision(signs),
        sign_undecided_points=jnp.sum(signs == UNDECIDED),
        max_abs_error=_max_or_inf(err),
        error_over_tolerance=_max_or_inf(ratio),
        worst_point=jnp.argmax(jnp.where(jnp.isnan(ratio), jnp.inf, ratio)),
        tolerance_over_scale=_max_or_inf(tol) / jnp.maximum(scale, jnp.finfo(X.dtype).tiny),
        bound_over_scale=_max_or_inf(bound) / jnp.maximum(scale, jnp.finfo(X.dtype).tiny),
        sign_accuracy=jnp.mean(jnp.sign(f) == jnp.sign(y)),
        tie_fraction=jnp.mean(f == 0),
        margin=jnp.min(jnp.where(jnp.isfinite(f), y * f, -jnp.inf)),
    )


def fit_outcome(report: dict, checks_ok) -> dict:
    """`ok`, `undecided` and `undecided_points` of a dataset whose pass is "the network fits,
    and checks_ok" (sizes, validity flags): ok only when the fit is decided and passes;
    undecided when the checks pass and no point fails but some point is undecided. `report`
    is `fit_report`'s (inside jit, arrays) or `exact_fit_report`'s (host, Python values)."""
    return dict(
        ok=checks_ok & report["interpolates"],
        undecided=checks_ok & (report["decision"] == UNDECIDED),
        undecided_points=report["undecided_points"],
    )


# --------------------------------------------------------------------------------------------
# Re-decision on the host, for what the plain forward pass's bound leaves UNDECIDED: first in
# twice the working precision with a proven bound (network.compensated_bound), then, for any
# point still open, exactly (a float network's weights are exact binary rationals).
# --------------------------------------------------------------------------------------------

# Optimized even where the caller lowered XLA's optimization level for fast compiles (verify
# --scale quick): the sequential twice-precision loop runs ~3x slower unoptimized.
_compensated = jax.jit(
    network.compensated_bound, compiler_options={"xla_backend_optimization_level": 2}
)


def _resolution_decisions(err, bound, threshold):
    """Decide |f* - y| <= threshold from a computed error and a bound on its distance from
    |f* - y| (the computed |f - y| carries one more rounding: 2 u err)."""
    return np.where(
        err + bound <= threshold, FITS, np.where(err - bound > threshold, FAILS, UNDECIDED)
    ).astype(np.int8)


def exact_fit_decisions(
    net: Network, X, y, decisions=None, *, resolution: float = FIT_RESOLUTION
) -> np.ndarray:
    """Per-point decisions with every UNDECIDED point re-decided (NumPy int8).

    A re-decided point FITS iff the network's exact output is within resolution * max_j |y_j|
    of its label (the certificate a float FITS gives), else it FAILS; points the float rule
    decided keep their decision. Two stages, each sound:
      1. `network.compensated_bound`: the forward pass in twice the working precision with a
         proven error bound, jit-compiled; decides every point whose exact error is not within
         that bound (~u^2 of the magnitudes) of the threshold;
      2. rational arithmetic (`jaxmem.exact`, each float weight and input at its exact binary
         value) for what stage 1 leaves open: no rounding at all.
    `decisions` defaults to `fit_decisions(net, X, y)`."""
    from fractions import Fraction

    from jaxmem import exact

    X, y = _check(net, X, y)
    if decisions is None:
        decisions = fit_decisions(net, X, y, resolution=resolution)
    out = np.array(decisions, dtype=np.int8)
    if not (out == UNDECIDED).any():
        return out
    yh = np.asarray(y, np.float64)
    scale = float(np.max(np.abs(yh), initial=0))
    threshold = resolution * scale
    f, bound = (np.asarray(v, np.float64) for v in _compensated(net, X))
    u = network.unit_roundoff(X.dtype)
    err = np.abs(f - yh)
    stage = _resolution_decisions(
        err, np.where(np.isnan(bound), np.inf, bound) + 2 * u * err, threshold
    )
    stage = np.where(np.isfinite(f), stage, UNDECIDED)
    rows = np.flatnonzero(out == UNDECIDED)
    out[rows] = stage[rows]
    rows = np.flatnonzero(out == UNDECIDED)
    if rows.size:
        Xh = np.asarray(X, np.float64)
        exact_f = exact.apply(
            exact.from_network(net, allow_float=True), Xh[rows].astype(object), allow_float=True
        )
        limit = Fraction(resolution) * Fraction(scale)
        for r, fi in zip(rows, np.atleast_1d(exact_f)):
            out[r] = FITS if abs(Fraction(fi) - Fraction(float(yh[r]))) <= limit else FAILS
    return out


def exact_fit_report(net: Network, X, y, *, resolution: float = FIT_RESOLUTION) -> dict:
    """`fit_report`'s decision fields after `exact_fit_decisions` (host, NumPy): decision,
    interpolates, undecided_points (0: everything is decided), failing_points,
    redecided_points (how many the re-decision decided)."""
    points = np.asarray(fit_decisions(net, X, y, resolution=resolution))
    exact_points = exact_fit_decisions(net, X, y, points, resolution=resolution)
    decision = int(dataset_decision(exact_points))
    return dict(
        decision=decision,
        interpolates=decision == FITS,
        undecided_points=int(np.sum(exact_points == UNDECIDED)),
        failing_points=int(np.sum(exact_points == FAILS)),
        redecided_points=int(np.sum(points == UNDECIDED)),
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
    finite = jnp.all(jnp.isfinite(f))  # a NaN or inf output is never deployable
    signs_ok = jnp.all(jnp.sign(f) == jnp.sign(y)) & jnp.all(f != 0)
    values_ok = _max_or_inf(err) <= value_rtol * jnp.maximum(1, jnp.max(jnp.abs(y)))
    return dict(
        deployable_f32=finite & jnp.where(binary, signs_ok, values_ok),
        max_abs_error_f32=_max_or_inf(err),
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
    return dict(
        max_abs_weight=mx, sum_abs_weight=total, path_norm=jnp.sum(paths), two_layer_path_norm=two
    )


__all__ = [
    "DECISIONS",
    "FAILS",
    "FITS",
    "FIT_RESOLUTION",
    "UNDECIDED",
    "dataset_decision",
    "exact_fit_decisions",
    "exact_fit_report",
    "fit_decisions",
    "fit_outcome",
    "label_scale",
    "margin_decisions",
    "sign_decisions",
    "value_decisions",
    "fit_report",
    "float32_deployable",
    "float32_report",
    "interpolates",
    "interpolation_tolerance",
    "margin",
    "max_abs_error",
    "sign_accuracy",
    "tie_fraction",
    "weight_stats",
]
