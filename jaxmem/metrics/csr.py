"""Critical samples and the critical sample ratio (CSR) of Arpit et al. (ICML 2017), found by
LASS (Langevin Adversarial Sample Search). Notes: docs/papers/arpit2017.md §2.

A point x is *critical* for a classifier f at radius r if some x_hat with ||x_hat - x||_inf <= r
has a different **predicted** label (argmax f(x_hat) != argmax f(x)); the true label plays no
part. CSR = (number of critical points) / N.

LASS follows the authors' code (xingjunm/dimensionality-driven-learning, lass_tf.py, "Code from
Devansh Arpit"), not the paper's printed pseudo-code:

* the target label is the one-hot prediction at the ORIGINAL x (`Y_pred`, computed once before
  the loop); the gradient is that of the cross-entropy against it, evaluated at the current
  iterate x_tilde, and the step goes UP the loss (away from the predicted class);
* x_tilde += a * sign(grad) + b * eta, eta ~ N(0, I) per coordinate, fresh every iteration;
* coordinates with |x_tilde - x| > r are reset to x + r * sign(x_tilde - x) (the L_inf box),
  then x_tilde is clipped to [clip_min, clip_max] (default +-inf: no clip);
* a point is critical if its prediction differs from the original at ANY iteration;
* stop rule: after every iteration (the first included), if the total number of critical points
  grew by fewer than `converged_label_thres` = 20, the whole batch is declared converged and
  the loop ends; otherwise it runs to iter_max = 100. The count is over the whole X passed to
  `find`, not per 500-row minibatch, and it starts from 0, so a set that yields fewer than 20
  critical points in its first iteration stops after one iteration (e.g. any N < 20). The
  threshold is absolute, so on small sets the rule ends the search early: a set whose points
  all lie just inside the boundary (beyond the first step's reach, a ||grad f||_1) gets no
  flip at iteration 1 and stops with CSR 0 although every point is critical. min_new=0 runs
  all max_iter iterations;
* the model is evaluated in test mode (Keras learning phase 0): `apply_fn` must be the
  inference-mode function (running BatchNorm statistics, no dropout), so that every example's
  gradient depends on that example alone.

Differences from the code, none of which changes `critical` or the stop rule: the code keeps
moving x_tilde after a point flips and returns the final iterate, which need not flip any more;
here a point's iterate is frozen at its first flip (the paper's "stop for this x"), so the
returned x_tilde is a witness: inside the box, and its prediction differs. The code's loss is
Keras' categorical_crossentropy of softmax outputs, averaged over the minibatch; here it is the
softmax cross-entropy of logits, summed. Both have the same gradient sign per coordinate (the
average only rescales; the Keras call passes its arguments in the Keras-1 order, and even in
the Keras-2 order the gradient is a positive multiple of -d p_c/dx, whose sign is that of the
cross-entropy's), and only the sign enters the step. The code's rows beyond the last full
500-row batch are never searched; here every row is.

Binary models with scalar output f (shape (N,)) are read as the two-class logits [-f/2, f/2]:
the prediction is class 1 (positive) iff f > 0 (f = 0 is class 0, argmax's first-index tie
rule), and the cross-entropy is the logistic loss softplus(-y f), y = +-1.
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.validate import is_traced

__all__ = ["critical_sample_ratio", "lass_critical", "linear_critical_exact"]

# lass_tf.py defaults, for inputs in [0, 1] (0.3, 0.25, 0.2 on the 0-255 pixel scale).
DEFAULT_RADIUS = 0.3 / 255
DEFAULT_STEP = 0.25 / 255
DEFAULT_NOISE = 0.2 / 255
DEFAULT_MAX_ITER = 100
DEFAULT_MIN_NEW = 20  # lass_tf.py: converged_label_thres


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_real_scalar(name, value, *, positive=False, nonnegative=False):
    if is_traced(value):
        return
    v = np.asarray(value)
    if v.shape != () or not np.issubdtype(v.dtype, np.number) or np.iscomplexobj(v):
        raise ValueError(f"{name} must be a real scalar; got {value!r}")
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0; got {value!r}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{name} must be >= 0; got {value!r}")


def _check_inputs(X, name="X"):
    """X: (N, *features), N >= 1, at least one feature, real and finite. Returns a float array."""
    shape = np.shape(X)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must have shape (N, *features), one row per example; got shape {shape}"
        )
    if shape[0] == 0:
        raise ValueError(f"{name} has no rows (N = 0)")
    if int(np.prod(shape[1:])) == 0:
        raise ValueError(f"{name} has no features (shape {shape})")
    dtype = jnp.result_type(X)
    if not jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {dtype}")
    if not is_traced(X):
        bad = ~np.isfinite(np.asarray(X))
        if bad.any():
            rows = np.flatnonzero(bad.reshape(shape[0], -1).any(1))
            raise ValueError(
                f"{name} has NaN or inf in rows {rows[:5].tolist()}"
                + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
            )
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)  # integer pixels: search in the default float type
    return jnp.asarray(X, dtype)


def _check_params(params):
    if is_traced(params):
        return
    for leaf in jax.tree_util.tree_leaves(params):
        a = np.asarray(leaf)
        if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
            raise ValueError("params contain NaN or inf")


def _output_kind(apply_fn, params, X) -> int:
    """Number of classes k the outputs encode: 2 for (N,) scalar outputs, k for (N, k) logits.
    Shapes only (jax.eval_shape: traced, not compiled, nothing runs)."""
    struct = lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a))
    try:
        out = jax.eval_shape(apply_fn, jax.tree_util.tree_map(struct, params), struct(X))
    except (TypeError, ValueError) as err:  # e.g. a matmul whose shapes do not match
        raise ValueError(f"apply_fn(params, X) fails on X of shape {X.shape}: {err}") from err
    N = X.shape[0]
    if not hasattr(out, "shape"):
        raise ValueError(f"apply_fn must return one array; got {type(out).__name__}")
    if out.shape == (N,):
        return 2
    if len(out.shape) == 2 and out.shape[0] == N and out.shape[1] >= 2:
        return out.shape[1]
    raise ValueError(
        f"apply_fn(params, X) must return shape ({N},) (binary, prediction = sign) "
        f"or ({N}, k) logits with k >= 2; got shape {out.shape}"
        + (" (squeeze a single output column to shape (N,))" if out.shape == (N, 1) else "")
    )


def _logits(apply_fn, params, X):
    """(N, k) logits; a scalar output f becomes [-f/2, f/2], whose softmax is
    [sigmoid(-f), sigmoid(f)]."""
    out = apply_fn(params, X)
    if out.ndim == 1:
        return jnp.stack([-out / 2, out / 2], axis=-1)
    return out


def _per_row(mask, like):
    """Broadcast an (N,) mask against an (N, *features) array."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


@functools.partial(jax.jit, static_argnames=("apply_fn", "return_adversarial"))
def _lass(
    key,
    params,
    X,
    radius,
    step,
    noise,
    max_iter,
    min_new,
    clip_min,
    clip_max,
    *,
    apply_fn,
    return_adversarial,
):
    dtype = X.dtype
    radius, step, noise, clip_min, clip_max = (
        jnp.asarray(v, dtype) for v in (radius, step, noise, clip_min, clip_max)
    )
    # lass_tf.py: Y_pred is the one-hot argmax of the model at the ORIGINAL inputs, fixed.
    predicted = jnp.argmax(_logits(apply_fn, params, X), axis=-1)

    def ascent_loss(X_tilde):
        # Cross-entropy against the original prediction, summed: each example's gradient is its
        # own (inference mode), and the sum only rescales the code's mean (sign unchanged).
        logp = jax.nn.log_softmax(_logits(apply_fn, params, X_tilde), axis=-1)
        return -jnp.sum(jnp.take_along_axis(logp, predicted[:, None], axis=-1))

    grad_fn = jax.grad(ascent_loss)

    def cond(state):
        it, _, _, _, num_old, converged = state
        return (it < max_iter) & ~converged

    def body(state):
        it, X_tilde, critical, first_flip, num_old, _ = state
        eta = jax.random.normal(jax.random.fold_in(key, it), X.shape, dtype)
        # Step up the loss: a * sign(grad) + b * eta (lass_tf.py: self.a, self.b).
        X_new = X_tilde + step * jnp.sign(grad_fn(X_tilde)) + noise * eta
        # Projection onto the L_inf box, written as the code does it (reset only the
        # coordinates outside the box), so that coordinates inside keep their exact value.
        diff = X_new - X
        X_new = jnp.where(jnp.abs(diff) > radius, X + radius * jnp.sign(diff), X_new)
        X_new = jnp.clip(X_new, clip_min, clip_max)
        flipped = jnp.argmax(_logits(apply_fn, params, X_new), axis=-1) != predicted
        newly = flipped & ~critical
        # A point is critical if its prediction flips at ANY iteration (adv_ind |= ...).
        critical = critical | flipped
        first_flip = jnp.where(newly, it + 1, first_flip)
        # Freeze a flagged point at its first flipping iterate: the returned x_tilde is a
        # witness. Its later iterates cannot change any flag, so the code's result is unchanged.
        X_tilde = jnp.where(_per_row(critical & ~newly, X), X_tilde, X_new)
        num_new = jnp.sum(critical, dtype=jnp.int32)
        # lass_tf.py: `if adv_num_new - adv_num_old < converged_label_thres: converged = True`,
        # checked after every iteration including the first (adv_num_old starts at 0).
        converged = (num_new - num_old) < min_new
        return it + 1, X_tilde, critical, first_flip, num_new, converged

    N = X.shape[0]
    init = (
        jnp.asarray(0, jnp.int32),
        X,
        jnp.zeros(N, bool),
        jnp.full(N, -1, jnp.int32),
        jnp.asarray(0, jnp.int32),
        jnp.asarray(False),
    )
    iterations, X_tilde, critical, first_flip, num_critical, converged = jax.lax.while_loop(
        cond, body, init
    )
    out = dict(
        critical=critical,
        iterations_to_flip=first_flip,
        iterations_run=iterations,
        stopped_by_rule=converged,
        num_critical=num_critical,
        predicted_class=predicted,
    )
    if return_adversarial:
        out["x_tilde"] = X_tilde
    return out


def lass_critical(
    key,
    apply_fn,
    params,
    X,
    *,
    radius=DEFAULT_RADIUS,
    step=DEFAULT_STEP,
    noise=DEFAULT_NOISE,
    max_iter: int = DEFAULT_MAX_ITER,
    min_new: int = DEFAULT_MIN_NEW,
    clip_min=None,
    clip_max=None,
    return_adversarial: bool = False,
) -> dict:
    """LASS critical-sample search (Arpit et al. 2017, as in lass_tf.py; see the module doc).

    key: PRNG key for the Langevin noise (iteration i uses fold_in(key, i)).
    apply_fn(params, X) -> (N,) scalar outputs (prediction: f > 0) or (N, k) logits
        (prediction: argmax), in inference mode. Must be a hashable function (it is a static
        argument of the compiled search; pass the same object to reuse the compilation).
    X: (N, *features). radius r, step a, noise b on X's scale (defaults: 0.3, 0.25, 0.2 on the
        0-255 scale, for inputs in [0, 1]). max_iter >= 1. min_new >= 0: the batch stops after
        an iteration that adds fewer than min_new critical points; min_new=0 runs all max_iter.
    clip_min / clip_max: optional bounds the iterate is clipped to (default: none).
    return_adversarial: also return x_tilde (N, *features), a copy of X's size.

    Returns a dict of arrays:
      critical          (N,) bool: the prediction flipped at some iteration
      iterations_to_flip (N,) int32: the 1-based iteration of the first flip, -1 if never
      iterations_run    () int32: iterations actually run (<= max_iter)
      stopped_by_rule   () bool: the stop rule ended the loop (False: max_iter reached)
      num_critical      () int32
      predicted_class   (N,) int: argmax at x (binary: 1 iff f(x) > 0)
      x_tilde           (N, *features), if return_adversarial: for a critical point, the first
                        iterate whose prediction differs (inside the box and the clip range);
                        otherwise the last iterate.

    Pure and deterministic given key; radius, step, noise, max_iter, min_new and the clip
    bounds are traced (changing them does not recompile), so the search vmaps over models,
    keys, datasets or radii (validation is skipped for traced arguments). A while_loop over
    iterations; per iteration one forward+backward and one forward pass over X. Memory: the
    iterate (one copy of X) plus the model's activations for one pass; all N rows are searched
    at once (lass_tf.py loops over 500-row minibatches, with the same result since each row's
    gradient is its own), so split a very large X by vmapping or mapping over chunks (the
    stop rule then applies per chunk, not to the whole set).
    """
    X = _check_inputs(X)
    _check_params(params)
    _check_real_scalar("radius", radius, positive=True)
    _check_real_scalar("step", step, nonnegative=True)
    _check_real_scalar("noise", noise, nonnegative=True)
    if not is_traced(max_iter) and not (_is_int(max_iter) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1; got {max_iter!r}")
    if not is_traced(min_new) and not (_is_int(min_new) and min_new >= 0):
        raise ValueError(f"min_new must be an int >= 0 (0 runs all max_iter); got {min_new!r}")
    for name, v in (("clip_min", clip_min), ("clip_max", clip_max)):
        if v is not None and not is_traced(v):
            if np.shape(v) != () or np.isnan(v):
                raise ValueError(f"{name} must be a real scalar or None; got {v!r}")
    if (
        clip_min is not None
        and clip_max is not None
        and not is_traced(clip_min, clip_max)
        and not clip_min < clip_max
    ):
        raise ValueError(f"clip_min must be < clip_max; got {clip_min!r} >= {clip_max!r}")
    if not callable(apply_fn):
        raise ValueError("apply_fn must be a function apply_fn(params, X) -> outputs")
    _output_kind(apply_fn, params, X)
    return _lass(
        key,
        params,
        X,
        radius,
        step,
        noise,
        jnp.asarray(max_iter, jnp.int32),
        jnp.asarray(min_new, jnp.int32),
        -jnp.inf if clip_min is None else clip_min,
        jnp.inf if clip_max is None else clip_max,
        apply_fn=apply_fn,
        return_adversarial=bool(return_adversarial),
    )


def critical_sample_ratio(key, apply_fn, params, X, **lass_kwargs) -> jax.Array:
    """CSR = mean of `lass_critical(...)["critical"]` (a lower estimate: LASS can miss critical
    points, never invent them). Keyword arguments as in `lass_critical`."""
    lass_kwargs.pop("return_adversarial", None)
    return jnp.mean(lass_critical(key, apply_fn, params, X, **lass_kwargs)["critical"])


def linear_critical_exact(w, b, X, radius) -> jax.Array:
    """Exact critical mask (N,) for the linear binary model f(x) = <w, x> + b at L_inf radius r
    (no clipping), for reference and tests.

    Over the box ||x_hat - x||_inf <= r, f ranges over [f(x) - R, f(x) + R] with
    R = r ||w||_1 (attained at the corners x -+ r sign(w)). With the prediction rule of
    `lass_critical` (positive iff f > 0) the prediction can change iff
      f(x) > 0 and f(x) - R <= 0,   or   f(x) <= 0 and f(x) + R > 0;
    i.e. |f(x)| < R, plus the measure-zero tie f(x) = R. X: (N, d), w: (d,), b scalar.
    """
    X = _check_inputs(X)
    w = jnp.asarray(w, X.dtype)
    if X.ndim != 2 or w.shape != (X.shape[1],):
        raise ValueError(
            f"w must have shape (d,) matching X of shape (N, d); got w {w.shape}, X {X.shape}"
        )
    _check_real_scalar("b", b)
    _check_real_scalar("radius", radius, positive=True)
    f = X @ w + b
    R = radius * jnp.sum(jnp.abs(w))
    return jnp.where(f > 0, f - R <= 0, f + R > 0)
