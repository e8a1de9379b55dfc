"""Loss sensitivity of Arpit et al. (ICML 2017, section 4) and its Gini coefficient.
Notes: docs/papers/arpit2017.md §3.

g_x^t = ||dL_t / dx||_1, where L_t is the loss at the parameters after t SGD updates; the
loss sensitivity of x is the average of g_x^t over the steps. x influences L_t through the
updates it took part in and, through those, every later update; the gradient is taken through
the unrolled SGD steps (Maclaurin et al. 2015), while training itself is unchanged.

Assumed for implementation (not in the paper; docs/papers/arpit2017.md §3): L_t is the full training
loss, the mean of the per-example losses over all N rows, at theta_t:

    g^t = row norms of  jax.grad(lambda X: L(sgd_unroll(theta_0, X, Y, t), X, Y))(X).

X then also enters L_t directly (the final evaluation), not only through the updates; `path`
selects "full" (both, the default, = the formula above), "direct" (stop_gradient through the
updates: the plain input gradient of L at theta_t) or "indirect" (only through the updates, the
reading of "the gradient reaches x only indirectly"). full = direct + indirect exactly. The
path is a traced 0/1 multiplier, so all three cost the same (one compilation, and "direct"
still sweeps back through the updates, with zero cotangent for X there).

SGD: plain steps theta <- theta - lr * grad(mean loss over the minibatch). The minibatch order
is fixed by the key before differentiation (epochs of random permutations, the last partial
batch of each epoch dropped), so L_t is a differentiable function of X.

Cost: one forward unroll of T = max(checkpoints) steps under lax.scan, each step wrapped in
jax.checkpoint (only the parameters of each step are stored: T copies; the step is
recomputed on the way back), then one reverse sweep over all T steps for EACH requested
gradient: len(checkpoints) sweeps (times k for the class-specific matrix). Each sweep
differentiates a gradient step, i.e. costs a few minibatch Hessian-vector products. So the
default, every t in 1..T, is O(T^2) step-costs; pass fewer checkpoints to make it cheaper.
Reverse mode has no cheaper way to get separate dL_t/dX for many t (forward mode would cost
one sweep per input coordinate). `backward_batch` trades memory for speed: the sweeps run
`backward_batch` at a time (None: all at once, vmapped).
"""

from __future__ import annotations

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.validate import is_traced, positive_int
from jaxmem.metrics.csr import _check_inputs, _check_params, _check_real_scalar

__all__ = [
    "class_loss_sensitivity",
    "gini",
    "logistic_loss",
    "loss_sensitivity",
    "sgd_batch_indices",
    "sgd_unroll",
    "softmax_cross_entropy",
]

PATHS = ("full", "direct", "indirect")


def softmax_cross_entropy(logits, labels):
    """Per-example -log softmax(logits)[label]; logits (n, k), integer labels (n,)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, jnp.asarray(labels)[:, None].astype(jnp.int32), -1)[:, 0]


def logistic_loss(outputs, labels):
    """Per-example softplus(-y f) for scalar outputs f (n,) and labels y = +-1 (n,)."""
    return jax.nn.softplus(-labels * outputs)


@functools.partial(jax.jit, static_argnames=("n", "batch_size", "steps"))
def sgd_batch_indices(key, n: int, batch_size: int, steps: int) -> jax.Array:
    """(steps, batch_size) int32 row indices: epoch e is the permutation of fold_in(key, e),
    cut into n // batch_size minibatches (the remainder dropped). Integers, so nothing is
    differentiated through the order."""
    per_epoch = n // batch_size
    epochs = max(1, math.ceil(steps / per_epoch))
    perms = jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(key, e), n))(
        jnp.arange(epochs)
    )
    batches = perms[:, : per_epoch * batch_size].reshape(epochs * per_epoch, batch_size)
    return batches[:steps].astype(jnp.int32)


def _mean_loss(apply_fn, loss_fn, params, X, Y):
    return jnp.mean(loss_fn(apply_fn(params, X), Y))


def _sgd_step(apply_fn, loss_fn, lr, params, X, Y, idx):
    grads = jax.grad(_mean_loss, argnums=2)(
        apply_fn, loss_fn, params, X[idx], jax.tree_util.tree_map(lambda y: y[idx], Y)
    )
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def sgd_unroll(apply_fn, loss_fn, params0, X, Y, batch_indices, lr):
    """The parameters after len(batch_indices) plain SGD steps on the given minibatches
    (lax.scan, each step under jax.checkpoint); differentiable in X, Y, params0 and lr."""
    step = jax.checkpoint(functools.partial(_sgd_step, apply_fn, loss_fn), prevent_cse=False)

    def body(params, idx):
        return step(lr, params, X, Y, idx), None

    params, _ = jax.lax.scan(body, params0, batch_indices)
    return params


def _weighted_losses_at(
    apply_fn,
    loss_fn,
    params0,
    X,
    Y,
    batch_indices,
    lr,
    weights,
    checkpoints,
    through_updates,
    through_loss,
):
    """(len(checkpoints), q) matrix: weights @ per-example losses at theta_t, t in checkpoints.

    One scan over T = max(checkpoints) steps; the loss is evaluated (under lax.cond, so only at
    checkpoint steps) at theta_t before step t+1, and at theta_T after the scan.
    through_updates / through_loss are 0 or 1 (traced, so the three `path`s share one
    compilation): u X + (1 - u) stop_gradient(X) equals X exactly for u in {0, 1} and passes
    u times the cotangent back, i.e. it is X or stop_gradient(X)."""
    X_updates = through_updates * X + (1 - through_updates) * jax.lax.stop_gradient(X)
    X_loss = through_loss * X + (1 - through_loss) * jax.lax.stop_gradient(X)
    T = batch_indices.shape[0]
    step = jax.checkpoint(functools.partial(_sgd_step, apply_fn, loss_fn), prevent_cse=False)

    @functools.partial(jax.checkpoint, prevent_cse=False)  # store only theta_t, not the pass
    def weighted(params):
        return weights @ loss_fn(apply_fn(params, X_loss), Y)

    q = weights.shape[0]
    is_checkpoint = np.zeros(T + 1, bool)
    is_checkpoint[list(checkpoints)] = True

    def body(params, xs):
        idx, evaluate = xs
        value = jax.lax.cond(evaluate, weighted, lambda p: jnp.zeros((q,), weights.dtype), params)
        return step(lr, params, X_updates, Y, idx), value

    params_T, values = jax.lax.scan(body, params0, (batch_indices, jnp.asarray(is_checkpoint[:T])))
    values = jnp.concatenate([values, weighted(params_T)[None]], axis=0)  # (T + 1, q)
    return values[np.asarray(checkpoints)]


ORDS = (1, 2, "inf")


def _row_norms(grads):
    """(3, N): the l1, l2 and l_inf norms of each example's gradient (all three are cheap
    reductions, so `ord` is a traced index and does not recompile)."""
    flat = jnp.abs(grads.reshape(grads.shape[0], -1))  # (N, features)
    return jnp.stack([jnp.sum(flat, -1), jnp.sqrt(jnp.sum(flat * flat, -1)), jnp.max(flat, -1)])


def _sensitivity(
    key,
    params0,
    X,
    Y,
    lr,
    weights,
    ord_index,
    through_updates,
    through_loss,
    *,
    apply_fn,
    loss_fn,
    checkpoints,
    backward_batch,
    batch_size,
    return_gradients,
):
    # The minibatch order is drawn by its own compiled function (shared by every call with
    # the same N, batch size and T), then the unroll is compiled once per model and settings.
    batch_indices = sgd_batch_indices(
        key, n=X.shape[0], batch_size=batch_size, steps=max(checkpoints)
    )
    return _sensitivity_given_order(
        params0,
        X,
        Y,
        lr,
        weights,
        ord_index,
        through_updates,
        through_loss,
        batch_indices,
        apply_fn=apply_fn,
        loss_fn=loss_fn,
        checkpoints=checkpoints,
        backward_batch=backward_batch,
        return_gradients=return_gradients,
    )


@functools.partial(
    jax.jit,
    static_argnames=("apply_fn", "loss_fn", "checkpoints", "backward_batch", "return_gradients"),
)
def _sensitivity_given_order(
    params0,
    X,
    Y,
    lr,
    weights,
    ord_index,
    through_updates,
    through_loss,
    batch_indices,
    *,
    apply_fn,
    loss_fn,
    checkpoints,
    backward_batch,
    return_gradients,
):
    f = lambda X_: _weighted_losses_at(
        apply_fn,
        loss_fn,
        params0,
        X_,
        Y,
        batch_indices,
        lr,
        weights,
        checkpoints,
        through_updates,
        through_loss,
    )
    losses, vjp = jax.vjp(f, X)  # losses: (m, q); forward unroll once
    m, q = losses.shape
    basis = jnp.eye(m * q, dtype=losses.dtype).reshape(m * q, m, q)

    def one(cotangent):
        (g,) = vjp(cotangent)  # one reverse sweep: d(losses . ct)/dX
        norms = _row_norms(g)[ord_index]
        return (norms, g) if return_gradients else (norms, None)

    if backward_batch is None:
        norms, grads = jax.vmap(one)(basis)
    else:
        norms, grads = jax.lax.map(one, basis, batch_size=backward_batch)
    out = dict(losses=losses, norms=norms.reshape(m, q, X.shape[0]), batch_indices=batch_indices)
    if return_gradients:
        out["gradients"] = grads.reshape((m, q) + X.shape)
    return out


def _dynamic(ord, path):
    """The traced arguments that select the norm and the gradient path."""
    through_updates = float(path in ("full", "indirect"))
    through_loss = float(path in ("full", "direct"))
    return dict(
        ord_index=jnp.asarray(ORDS.index(ord), jnp.int32),
        through_updates=through_updates,
        through_loss=through_loss,
    )


def _check_common(
    apply_fn, loss_fn, params0, X, Y, lr, steps, batch_size, checkpoints, ord, path, backward_batch
):
    X = _check_inputs(X)
    _check_params(params0)
    N = X.shape[0]
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if not (isinstance(v, numbers.Integral) and not isinstance(v, bool)):
            raise ValueError(f"{name} must be an int; got {v!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    if not 1 <= batch_size <= N:
        raise ValueError(f"batch_size must lie in [1, N = {N}]; got {batch_size}")
    _check_real_scalar("lr", lr, positive=True)
    if checkpoints is None:
        if steps < 1:
            raise ValueError("with checkpoints=None (every t in 1..steps) steps must be >= 1")
        checkpoints = tuple(range(1, steps + 1))
    try:
        checkpoints = tuple(
            int(t) if isinstance(t, numbers.Integral) and not isinstance(t, bool) else None
            for t in np.atleast_1d(np.asarray(checkpoints)).tolist()
        )
    except TypeError:
        raise ValueError(f"checkpoints must be a sequence of ints; got {checkpoints!r}") from None
    if not checkpoints or None in checkpoints:
        raise ValueError(f"checkpoints must be a non-empty sequence of ints; got {checkpoints!r}")
    if min(checkpoints) < 0 or max(checkpoints) > steps:
        raise ValueError(f"checkpoints must lie in [0, steps = {steps}]; got {checkpoints}")
    if ord in ("inf", float("inf")):
        ord = "inf"
    elif ord not in (1, 2):
        raise ValueError(f"ord must be 1, 2 or inf; got {ord!r}")
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    if backward_batch is not None:
        positive_int("backward_batch", backward_batch)
    for leaf in jax.tree_util.tree_leaves(Y):
        if np.shape(leaf)[:1] != (N,):
            raise ValueError(f"Y must have N = {N} rows (leading axis); got shape {np.shape(leaf)}")
        if (
            not is_traced(leaf)
            and jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
            and not np.isfinite(np.asarray(leaf)).all()
        ):
            raise ValueError("Y has NaN or inf")
    if not (callable(apply_fn) and callable(loss_fn)):
        raise ValueError("apply_fn(params, X) and loss_fn(outputs, Y) must be functions")
    struct = lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a))
    out = jax.eval_shape(
        lambda p, X_, Y_: loss_fn(apply_fn(p, X_), Y_),
        *jax.tree_util.tree_map(struct, (params0, X, Y)),
    )
    if getattr(out, "shape", None) != (N,):
        raise ValueError(
            f"loss_fn(apply_fn(params, X), Y) must return per-example losses of "
            f"shape ({N},); got {getattr(out, 'shape', type(out).__name__)}"
        )
    return X, checkpoints, ord


def loss_sensitivity(
    key,
    apply_fn,
    loss_fn,
    params0,
    X,
    Y,
    *,
    lr,
    steps: int,
    batch_size: int,
    checkpoints=None,
    ord=1,
    path: str = "full",
    backward_batch: int | None = None,
    return_gradients: bool = False,
) -> dict:
    """Per-example loss sensitivity g_x^t = ||dL_t/dx|| (Arpit et al. 2017; module doc).

    key: fixes the SGD minibatch order (`sgd_batch_indices`).
    apply_fn(params, X) -> outputs; loss_fn(outputs, Y) -> per-example losses (n,) (e.g.
        `softmax_cross_entropy`, `logistic_loss`); L_t = their mean over all N rows. Both must
        be hashable functions (static arguments of the compiled computation).
    params0: initial parameters (pytree). X: (N, *features). Y: pytree of arrays with N rows.
    lr: SGD learning rate; steps: the training length T; batch_size in [1, N].
    checkpoints: the t at which g^t is taken, each in [0, steps], any order (default every t
        in 1..steps); t = 0 gives the plain input gradient at params0. Rows of the outputs
        follow this order.
    ord: 1 (default, the paper's), 2 or inf, over all feature coordinates of an example.
    path: "full" | "direct" | "indirect" (module doc).
    return_gradients: also return the raw dL_t/dX, shape (len(checkpoints), N, *features).

    Returns dict: g (m, N) per checkpoint, g_mean (N,) their average (the loss sensitivity
    g-bar_x), losses (m,) L_t, checkpoints (m,), batch_indices (T, batch_size) and, if asked,
    gradients.
    """
    X, checkpoints, ord = _check_common(
        apply_fn,
        loss_fn,
        params0,
        X,
        Y,
        lr,
        steps,
        batch_size,
        checkpoints,
        ord,
        path,
        backward_batch,
    )
    N = X.shape[0]
    weights = jnp.full((1, N), 1.0 / N, X.dtype)  # L_t: the mean per-example loss
    out = _sensitivity(
        key,
        params0,
        X,
        Y,
        lr,
        weights,
        **_dynamic(ord, path),
        apply_fn=apply_fn,
        loss_fn=loss_fn,
        checkpoints=checkpoints,
        backward_batch=backward_batch,
        batch_size=batch_size,
        return_gradients=bool(return_gradients),
    )
    g = out["norms"][:, 0]
    result = dict(
        g=g,
        g_mean=jnp.mean(g, axis=0),
        losses=out["losses"][:, 0],
        checkpoints=jnp.asarray(checkpoints),
        batch_indices=out["batch_indices"],
    )
    if return_gradients:
        result["gradients"] = out["gradients"][:, 0]
    return result


def class_loss_sensitivity(
    key,
    apply_fn,
    loss_fn,
    params0,
    X,
    Y,
    classes,
    *,
    num_classes: int,
    lr,
    steps: int,
    batch_size: int,
    checkpoints=None,
    ord=1,
    path: str = "full",
    backward_batch: int | None = None,
    return_gradients: bool = False,
) -> dict:
    """The class-specific loss sensitivity g-bar_{i,j} (docs/papers/arpit2017.md §3):
    the mean over examples x of class j of (1/m) sum_t ||dL_t(y=i)/dx||, where L_t(y=i) is the
    class-i term of the training loss, (1/N) sum over rows of class i of their loss (so
    sum_i L_t(y=i) = L_t). Row i: whose loss; column j: whose inputs. At t = 0 only the
    diagonal is nonzero (x reaches other classes' losses only through the updates).

    classes: (N,) ints in [0, num_classes). Other arguments as in `loss_sensitivity`.
    Costs num_classes times `loss_sensitivity`'s reverse sweeps.

    Returns dict: matrix (k, k) averaged over checkpoints, per_checkpoint (m, k, k),
    class_counts (k,), losses (m, k) the L_t(y=i) and, if asked, gradients (m, k, N, ...).
    A class with no examples gives a NaN column (an empty mean).
    """
    X, checkpoints, ord = _check_common(
        apply_fn,
        loss_fn,
        params0,
        X,
        Y,
        lr,
        steps,
        batch_size,
        checkpoints,
        ord,
        path,
        backward_batch,
    )
    N = X.shape[0]
    num_classes = positive_int("num_classes", num_classes)
    if np.shape(classes) != (N,):
        raise ValueError(f"classes must have shape ({N},); got {np.shape(classes)}")
    if not jnp.issubdtype(jnp.result_type(classes), jnp.integer):
        raise ValueError(f"classes must be integers; got dtype {jnp.result_type(classes)}")
    if not is_traced(classes):
        c = np.asarray(classes)
        if c.min() < 0 or c.max() >= num_classes:
            raise ValueError(
                f"classes must lie in [0, num_classes = {num_classes}); got values "
                f"in [{c.min()}, {c.max()}]"
            )
    onehot = jax.nn.one_hot(jnp.asarray(classes), num_classes, dtype=X.dtype)  # (N, k)
    weights = onehot.T / N  # (k, N)
    out = _sensitivity(
        key,
        params0,
        X,
        Y,
        lr,
        weights,
        **_dynamic(ord, path),
        apply_fn=apply_fn,
        loss_fn=loss_fn,
        checkpoints=checkpoints,
        backward_batch=backward_batch,
        batch_size=batch_size,
        return_gradients=bool(return_gradients),
    )
    counts = jnp.sum(onehot, axis=0)
    per_checkpoint = (out["norms"] @ onehot) / counts  # (m, k_loss, k_inputs)
    result = dict(
        matrix=jnp.mean(per_checkpoint, axis=0),
        per_checkpoint=per_checkpoint,
        class_counts=counts,
        losses=out["losses"],
        checkpoints=jnp.asarray(checkpoints),
        batch_indices=out["batch_indices"],
    )
    if return_gradients:
        result["gradients"] = out["gradients"]
    return result


def gini(values, axis: int = -1) -> jax.Array:
    """Gini coefficient G = sum_i sum_j |g_i - g_j| / (2 n^2 mean g) along `axis`, in
    O(n log n): with g sorted ascending, sum_i sum_j |g_i - g_j| = 2 sum_i (2i - n - 1) g_(i)
    (i = 1..n), so G = sum_i (2i - n - 1) g_(i) / (n sum_i g_i).

    values must be >= 0 (norms); G lies in [0, (n-1)/n]: 0 when all are equal (all zero
    included, where the formula is 0/0), (n-1)/n when exactly one is nonzero. Other axes are
    batch axes (one coefficient each); jittable and vmappable.
    """
    if np.ndim(values) == 0:
        raise ValueError("values must have at least one axis")
    dtype = jnp.result_type(values)
    if not jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"values must be real numbers; got dtype {dtype}")
    if np.shape(values)[axis] == 0:
        raise ValueError("values is empty along axis: the Gini coefficient needs n >= 1")
    if not is_traced(values):
        host = np.asarray(values)
        if not np.isfinite(host).all():
            raise ValueError("values contain NaN or inf")
        if (host < 0).any():
            raise ValueError(
                f"values must be >= 0 (the Gini coefficient of norms); the smallest is {host.min()}"
            )
    v = jnp.asarray(values)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.result_type(float))
    return _gini_last_axis(jnp.moveaxis(v, axis, -1))


@jax.jit
def _gini_last_axis(v):
    s = jnp.sort(v, axis=-1)
    n = s.shape[-1]
    rank_weight = 2 * jnp.arange(1, n + 1, dtype=s.dtype) - n - 1
    total = jnp.sum(s, axis=-1)
    numerator = jnp.sum(rank_weight * s, axis=-1)
    safe = jnp.where(total > 0, total, 1)
    return jnp.where(total > 0, numerator / (n * safe), 0)
