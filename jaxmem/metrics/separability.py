"""Linear separability, decided exactly, and the narrow memorizers it governs.

Three things live here.

1. `linearly_separable(X, y, affine=True) -> (bool, certificate)`: an exact decision by one
   linear program (scipy.optimize.linprog, HiGHS). With z_i = y_i (x_i, 1) (affine) or
   z_i = y_i x_i (homogeneous, b = 0), the data are strictly separable iff some v has
   z_i . v > 0 for all i, and by scaling iff z_i . v >= 1 is feasible. The LP is

       minimize s   subject to   z_i . v + s >= 1 (all i),   0 <= s <= 1,   v free.

   Its optimum is 0 or exactly 1, never in between: if s* < 1 then v* / (1 - s*) satisfies
   z_i . v >= 1, so s* = 0. A decision read at s* < 1/2 therefore has a gap of 1/2 against
   HiGHS's 1e-7 tolerances. When separable, the certificate is the separator (w, b), checked
   in float64 with the a-priori rounding bound gamma_D sum_k |z_ik v_k| of each dot product
   (a proof in floating point) and, with exact=True, again in exact rationals (Fraction of
   each float weight and input). When not, it is a Farkas / Gordan certificate from the LP's
   duals: lambda >= 0, sum lambda = 1, sum_i lambda_i z_i ~ 0 (Gordan's theorem: exactly one
   of "Z v > 0 solvable" and "Z^T lambda = 0, lambda >= 0, lambda != 0 solvable" holds); with
   exact=True the support of lambda is re-solved in exact rationals, which makes
   sum mu_i z_i = 0 exact: a proof that no hyperplane separates.

2. A batched JAX screen for thousands of datasets of one shape (`screen`, jit/vmap-able):
   the minimum-norm point of conv{z_i} by pairwise Frank-Wolfe steps with exact line search.
   0 is outside the hull iff the data are strictly separable (Gordan), and any iterate x
   with min_i z_i . x > gamma_D sum_k |z_ik x_k| (the float64 rounding bound of that dot
   product) is a separator, so a "separable" verdict of the screen is a proof. The screen
   never proves non-separability (FW only approaches 0), so what it leaves undecided goes
   to the LP: `separable_batch` / `decide_batch` always return the LP-exact answer, and
   report how many datasets the screen decided.

3. The networks of Yu, Gao, Zhang, Miao (NeurIPS 2024), Appendix G.3:
   Lemma G.4: D has a memorization of width 1 iff D is linearly separable.
     `width1_memorizer` builds F(x) = relu(w.x + b + K) - K (and deeper width-1 chains) as
     an exact.ExactNetwork; the converse is testable as `monotone_along_projection`: every
     width-1 ReLU network is a monotone function of its first projection w1.x + b1 (each
     layer relu(a h + c) is monotone in h; the proof's Part 1), so it memorizes D only if a
     threshold on w1.x + b1 does, i.e. only if D is linearly separable.
   Lemma G.5: D in [0,1] x {-1,1} has a memorization of width 2 and depth 2 iff (c1) some
     closed interval contains every positive and no negative, or (c2) the same with the
     labels exchanged. `interval_condition` decides (c1) or (c2) combinatorially;
     `width2_depth2_memorizer_exists` decides the left-hand side independently, by an exact
     enumeration of the combinatorial types of F(t) = a1 relu(s1 t + b1) +
     a2 relu(s2 t + b2) + c (one block LP for all types, below); `interval_memorizer` is
     the 7-parameter network of the lemma's proof.

Checked against the paper text (MinerU extraction of the NeurIPS camera-ready, GitHub
deep-diver/neurips2024, content/posters/sABwo1ZTFi/content_list.json, commit 354dcfa9):
  * Section 3.1: hidden layers X_l = Relu(W_l X_{l-1} + b_l), output W_{L+1} X_L + b_{L+1};
    depth(F) = L + 1, width(F) = max_{i=1..L} n_i (hidden layers only). Definition 3.4:
    F memorizes D_tr if Sgn(F(x)) = y for every (x, y) in D_tr (Sgn(0) is not defined
    there; an output 0 counts as an error here, as everywhere in jaxmem).
  * Lemma G.4 verbatim: "Let D subset [0,1]^n x {-1,1}. Then D has a memorization with width
    1 if and only if D is linearly separable." (Proof: "obviously" for =>; the converse via
    the order of F_1(x) being kept or reversed by every layer.)
  * Lemma G.5 verbatim: "Let D = {(x_i, y_i)} subset [0,1] x {-1,1}. Then D has a
    memorization with width 2 and depth 2 if and only if at least one of the following
    conditions is valid. (c1): There is a closed interval I such that: if (x,1) in D then
    x in I and if (x,-1) in D then x not in I. (c2): [the same with the labels exchanged]."
  * The proof's network, Part 1 (for (c1), I = [a, b], negatives on both sides):
    F = Relu(x - (x_{-1} + a)/2) - T Relu(x - (x_1 + b)/2) - t with x_{-1} the largest
    negative below a, x_1 the smallest negative above b, T = 8/(x_1 - b) and
    t = (a - x_{-1})/4; if every negative lies on one side, D is linearly separable.
    The proof's bound on the right uses x <= 1 (F_1(x) < 1), i.e. D in [0,1]; for data
    outside [0,1] this module uses T = max(8/(x_1 - b), 1 + 2 (x_1 - c_1)/(x_1 - b)), which
    equals the paper's T whenever the data lie in [0,1] (derived; see `interval_memorizer`).
  * Part 2 of the proof of G.5 uses the slope structure derived independently here: with
    kinks u <= v, the slope on [u, v] is the sum of the outer slopes when the activation
    states are (-,+), (+,+), (+,-).
Not confirmed from the text: nothing this module relies on. The extraction garbles a few
inequalities of the G.5 proof ("F2(x) > x14-b"); the construction is checked here in exact
arithmetic rather than trusted.

The exact G.5 decision. By positive homogeneity a unit a relu(w t + b) with w != 0 equals
a|w| relu(sign(w) t + b/|w|), and w = 0 is a constant (absorbed by c). On the sorted distinct
inputs tau_0 < ... < tau_{M-1} a unit with kink k in the closed gap [tau_j, tau_{j+1}] is
0 on one side and the affine g(t) = alpha t + beta on the other (a suffix {tau > k} for
s = +1, a prefix for s = -1), where g vanishes in the gap. Conversely every (alpha, beta)
with g(tau_act) and g(tau_in) of opposite (weak) signs is such a unit (k = -beta/alpha; for
alpha = 0 it forces beta = 0, the zero unit). "Opposite signs" is the union of two convex
cones, sigma g(tau_act) >= 0 >= sigma g(tau_in), sigma = +-1. A unit whose kink lies outside
the data is 0 or an affine function of constant sign on the data, and with c free that is an
arbitrary affine function ("full"). So the types of one unit are: full, or (suffix | prefix,
gap j, sigma); for each pair of types F is linear in (alpha1, beta1, alpha2, beta2, c) and
memorization is the LP feasibility y_i F(tau_i) >= 1 with the cone rows. All pairs go into
ONE LP, block-diagonal with a slack s_b in [0, 1] per block and objective sum s_b: blocks are
independent, so each s_b is its block's optimum, which (as above) is exactly 0 or 1.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import scipy  # submodules load on first use (scipy.optimize alone is ~0.5 s of a CLI start)

from jaxmem import exact
from jaxmem.data.validate import positive_int

# The LP's optimum is 0 (separable / feasible) or 1: decide at the midpoint.
_SLACK_THRESHOLD = 0.5
# Pairwise Frank-Wolfe steps of the screen (the LP decides the rest).
SCREEN_ITERS = 400


# ------------------------------------------------------------------------------ validation


def _rows(rows, limit: int = 5) -> str:
    rows = [int(r) for r in rows]
    more = f" (and {len(rows) - limit} more)" if len(rows) > limit else ""
    return ", ".join(map(str, rows[:limit])) + more


def _check_labels(y, n: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one label per point; got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers (+1 / -1); got dtype {y.dtype}")
    bad = ~np.isin(y, (-1, 1))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"labels must be -1 or +1; {name} rows {_rows(rows)} are not (row "
            f"{rows[0]} is {y[rows[0]]})"
        )
    return y.astype(np.int64)


def _check_conflicts(X: np.ndarray, y: np.ndarray, name: str) -> None:
    """Two equal points with different labels: no function, so no network, memorizes them."""
    order = np.lexsort(X.T[::-1])
    same = np.all(X[order[1:]] == X[order[:-1]], axis=1) & (y[order[1:]] != y[order[:-1]])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        i, j = sorted((int(order[k]), int(order[k + 1])))
        raise ValueError(
            f"{name} rows {i} and {j} are the same point with different labels "
            f"({y[i]:+d} and {y[j]:+d}): no function separates or memorizes them"
        )


def check_dataset(X, y, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """(X float64 (n, d), y int (n,)) or ValueError naming the offending row.

    X: real, finite, shape (n, d) with n, d >= 1; y: +1 / -1, one per row; no two equal
    points with different labels. One class only is allowed: a constant labelling is
    separable, and Cover's count of separable dichotomies includes the two constant ones."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), one row per point; got shape {X.shape}")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(
            f"{name} has shape {X.shape}: a dataset needs n >= 1 points with d >= 1 coordinates"
        )
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {X.dtype}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has NaN or inf in rows {_rows(np.flatnonzero(bad.any(1)))} "
            f"(row {r}, column {c} is {X[r, c]})"
        )
    y = _check_labels(y, n)
    _check_conflicts(X, y, name)
    return X, y


def check_line(t, y, name: str = "t") -> tuple[np.ndarray, np.ndarray]:
    """A 1-D dataset: t of shape (n,) (or (n, 1)), checked as check_dataset."""
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"{name} must be one number per point, shape (n,); got shape {t.shape}")
    X, y = check_dataset(t[:, None], y, name)
    return X[:, 0], y


# ------------------------------------------------------------------------- small helpers


def signed_points(X, y, affine: bool = True):
    """z_i = y_i (x_i, 1) (affine) or y_i x_i (homogeneous): separable iff Z v > 0 solvable.
    Works on NumPy and JAX arrays, batched or not (leading axes)."""
    xp = jnp if isinstance(X, jax.Array) or isinstance(y, jax.Array) else np
    if affine:
        X = xp.concatenate([X, xp.ones(X.shape[:-1] + (1,), X.dtype)], axis=-1)
    return y[..., None].astype(X.dtype) * X


def _gamma(k: int, u: float) -> float:
    """gamma_k = k u / (1 - k u): the relative error bound of a k-term dot product."""
    return k * u / (1 - k * u)


def _float_margin_ok(Z: np.ndarray, v: np.ndarray) -> tuple[bool, float]:
    """Whether every z_i . v > 0 is proved by float64 arithmetic: the computed dot product
    exceeds its a-priori error bound gamma_D sum_k |z_ik v_k| (any summation order)."""
    dots = Z @ v
    bound = _gamma(Z.shape[1], np.finfo(np.float64).eps / 2) * (np.abs(Z) @ np.abs(v))
    return bool(np.all(dots > bound)), float(dots.min())


def _fractions(a) -> np.ndarray:
    """The exact rational value of every float (or int / Fraction) in a."""
    a = np.asarray(a, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = v if isinstance(v, Fraction) else Fraction(v)
    return out


def _exact_margins_positive(X: np.ndarray, y: np.ndarray, w, b) -> bool:
    """y_i (w . x_i + b) > 0 for every i, in exact rational arithmetic."""
    Xf, wf = _fractions(X), _fractions(w)
    values = Xf.dot(wf) + Fraction(b)
    return all((v > 0) if yi > 0 else (v < 0) for v, yi in zip(values, y))


def _exact_solve(A: np.ndarray, rhs: np.ndarray, free_values: np.ndarray):
    """A solution mu of A mu = rhs (object arrays of Fraction), or None if inconsistent.
    Gauss-Jordan elimination; columns without a pivot take the given free_values."""
    A = A.copy()
    rhs = rhs.copy()
    rows, cols = A.shape
    pivots, r = [], 0
    for c in range(cols):
        p = next((i for i in range(r, rows) if A[i, c] != 0), None)
        if p is None:
            continue
        if p != r:
            A[[r, p]] = A[[p, r]]
            rhs[[r, p]] = rhs[[p, r]]
        inv = 1 / A[r, c]
        A[r] = A[r] * inv
        rhs[r] = rhs[r] * inv
        for i in range(rows):
            if i != r and A[i, c] != 0:
                f = A[i, c]
                A[i] = A[i] - f * A[r]
                rhs[i] = rhs[i] - f * rhs[r]
        pivots.append(c)
        r += 1
        if r == rows:
            break
    if any(rhs[i] != 0 for i in range(r, rows)):
        return None
    mu = np.empty(cols, dtype=object)
    free = [c for c in range(cols) if c not in pivots]
    for c in free:
        mu[c] = Fraction(float(free_values[c]))
    for i, c in enumerate(pivots):
        mu[c] = rhs[i] - sum((A[i, f] * mu[f] for f in free), Fraction(0))
    return mu


def _exact_farkas(Z: np.ndarray, lam: np.ndarray):
    """mu >= 0 (Fractions) with sum mu = 1 and sum mu_i z_i = 0 exactly, supported where the
    float certificate lam is, or None when that support does not give one."""
    n, D = Z.shape
    scale = float(lam.max()) if lam.size else 0.0
    for tol in (1e-9, 1e-12, 0.0):
        support = np.flatnonzero(lam > tol * scale)
        if support.size == 0:
            continue
        A = np.empty((D + 1, support.size), dtype=object)
        A[:D] = _fractions(Z[support]).T
        A[D] = Fraction(1)
        rhs = np.array([Fraction(0)] * D + [Fraction(1)], dtype=object)
        mu = _exact_solve(A, rhs, lam[support] / lam[support].sum())
        if mu is None or any(m < 0 for m in mu):
            continue
        full = np.array([Fraction(0)] * n, dtype=object)
        full[support] = mu
        # Re-check the identity itself, independent of the elimination.
        Zf = _fractions(Z)
        if sum(full) == 1 and all(v == 0 for v in full.dot(Zf)):
            return full
    return None


# ----------------------------------------------------------------------- the exact decision


def _slack_lp(Z: np.ndarray):
    """min s s.t. Z v + s >= 1, 0 <= s <= 1: (s*, v*, lambda) with lambda the duals of the
    rows (>= 0), or raises RuntimeError if HiGHS does not report an optimum."""
    n, D = Z.shape
    c = np.zeros(D + 1)
    c[-1] = 1.0
    A = -np.hstack([Z, np.ones((n, 1))])
    res = scipy.optimize.linprog(
        c, A_ub=A, b_ub=-np.ones(n), bounds=[(None, None)] * D + [(0.0, 1.0)], method="highs"
    )
    if res.status != 0:
        raise RuntimeError(
            f"HiGHS did not solve the separability LP ({n} points, {D} "
            f"coordinates): status {res.status}, {res.message}"
        )
    lam = -np.asarray(res.ineqlin.marginals, np.float64)
    return float(res.x[-1]), np.asarray(res.x[:D]), np.maximum(lam, 0.0)


def _farkas_lp(Z: np.ndarray):
    """lambda >= 0, sum lambda = 1, Z^T lambda = 0, or None if HiGHS finds none."""
    n, D = Z.shape
    A_eq = np.vstack([Z.T, np.ones((1, n))])
    b_eq = np.zeros(D + 1)
    b_eq[-1] = 1.0
    res = scipy.optimize.linprog(
        np.zeros(n), A_eq=A_eq, b_eq=b_eq, bounds=[(0.0, None)] * n, method="highs"
    )
    return np.asarray(res.x) if res.status == 0 else None


def linearly_separable(X, y, affine: bool = True, *, exact: bool = True):
    """Whether some hyperplane strictly separates the labels: y_i (w . x_i + b) > 0 for all i
    (affine), or with b = 0 (affine=False). Returns (separable, certificate).

    Separable: certificate = dict(kind="separator", w (d,), b (0.0 if homogeneous), margin =
    min_i y_i (w . x_i + b) in float64 (about 1), float_proof (the float64 rounding-bound
    check), exact (the exact rational check; None when exact=False)).
    Not separable: certificate = dict(kind="farkas", lam (n,) >= 0 summing to 1, residual =
    max |sum_i lam_i z_i| (float64), exact (whether an exact rational certificate was found;
    None when exact=False), lam_exact (n,) object array of Fractions or None).

    The decision is the LP's (see the module docstring); RuntimeError if the LP's separator
    fails both checks (a numerical failure, never seen on Gaussian or uniform data)."""
    X, y = check_dataset(X, y)
    return _decide(X, y, affine, exact)


def _decide(X: np.ndarray, y: np.ndarray, affine: bool, exact_check: bool):
    Z = signed_points(X, y.astype(np.float64), affine)
    s, v, lam = _slack_lp(Z)
    if s < _SLACK_THRESHOLD:
        float_proof, margin = _float_margin_ok(Z, v)
        w, b = (v[:-1], float(v[-1])) if affine else (v, 0.0)
        exact_ok = _exact_margins_positive(X, y, w, b) if exact_check else None
        if not float_proof and not exact_ok:
            raise RuntimeError(
                f"the LP's separator (optimum s = {s:.3g}) has margin "
                f"{margin:.3g} and fails the float64 rounding-bound check"
                + (" and the exact check" if exact_check else "")
            )
        return True, dict(
            kind="separator", w=w, b=b, margin=margin, float_proof=float_proof, exact=exact_ok
        )
    total = lam.sum()
    if not total > 0 or np.max(np.abs(Z.T @ (lam / total))) > 1e-7 * max(1.0, np.abs(Z).max()):
        alt = _farkas_lp(Z)  # the duals were poor: ask for the certificate directly
        if alt is not None:
            lam, total = alt, alt.sum()
    lam = lam / total if total > 0 else lam
    residual = float(np.max(np.abs(Z.T @ lam))) if total > 0 else math.inf
    lam_exact = _exact_farkas(Z, lam) if exact_check and total > 0 else None
    return False, dict(
        kind="farkas",
        lam=lam,
        residual=residual,
        exact=(lam_exact is not None) if exact_check else None,
        lam_exact=lam_exact,
    )


# -------------------------------------------------------------------------- the JAX screen


def _screen_one(Z, mask, iters: int):
    """Pairwise Frank-Wolfe on min ||Z^T lam||^2 over the simplex of the valid rows; stops at
    the first iterate x with min_i z_i . x above the float rounding bound (a separator)."""
    dtype = Z.dtype
    u = jnp.finfo(dtype).eps / 2
    g = _gamma(Z.shape[-1], float(u))
    inf = jnp.asarray(jnp.inf, dtype)
    count = jnp.maximum(jnp.sum(mask), 1)
    lam0 = jnp.where(mask, 1.0, 0.0).astype(dtype) / count
    x0 = jnp.sum(lam0[:, None] * Z, axis=0)
    absZ = jnp.abs(Z)

    def certified(x):
        # Elementwise products and sums: no matmul, so no reduced-precision matmul path.
        dots = jnp.sum(Z * x, axis=-1)
        bound = g * jnp.sum(absZ * jnp.abs(x), axis=-1)
        ok = jnp.all(jnp.where(mask, dots > bound, True)) & jnp.any(mask)
        return ok, dots

    def cond(carry):
        i, _, _, found, _ = carry
        return (i < iters) & ~found

    def body(carry):
        i, lam, x, _, _ = carry
        ok, dots = certified(x)
        s = jnp.argmin(jnp.where(mask, dots, inf))
        a = jnp.argmax(jnp.where(mask & (lam > 0), dots, -inf))
        d = Z[s] - Z[a]
        dd = jnp.sum(d * d)
        step = jnp.where(dd > 0, -jnp.sum(x * d) / jnp.where(dd > 0, dd, 1), 0)
        step = jnp.where(ok, 0, jnp.clip(step, 0, lam[a]))
        lam = lam.at[s].add(step).at[a].add(-step)
        return i + 1, lam, x + step * d, ok, jnp.min(jnp.where(mask, dots, inf))

    init = (jnp.asarray(0), lam0, x0, jnp.asarray(False), jnp.asarray(-jnp.inf, dtype))
    steps, _, x, found, margin = jax.lax.while_loop(cond, body, init)
    # The loop exits with `found` for the x it certified (that x was not moved: step 0).
    return dict(decided=found, direction=x, margin=margin, steps=steps)


def screen(Z, mask=None, *, iters: int = SCREEN_ITERS) -> dict:
    """The screen on signed points Z (n, D) (see `signed_points`), with an optional mask
    (n,) of the valid rows (padding: datasets of different n in one compiled shape).
    Traceable: jit it, vmap it over a leading batch axis.

    Returns dict(decided: bool, a proof of strict separability when True; direction (D,):
    the separator v = (w, b) when decided; margin: min_i z_i . v of the last check; steps)."""
    if mask is None:
        mask = jnp.ones(Z.shape[:-1], bool)
    return _screen_one(Z, mask, iters)


_screen_batch = jax.jit(jax.vmap(_screen_one, in_axes=(0, 0, None)), static_argnums=2)


def _check_batch(Xs, ys, mask):
    Xs, ys = np.asarray(Xs), np.asarray(ys)
    if Xs.ndim != 3:
        raise ValueError(
            f"a batch of datasets must have shape (B, n, d); got Xs of shape {Xs.shape}"
        )
    if ys.shape != Xs.shape[:2]:
        raise ValueError(
            f"ys must have shape {Xs.shape[:2]} (one label per point of each "
            f"dataset); got {ys.shape}"
        )
    if mask is None:
        mask = np.ones(Xs.shape[:2], bool)
    mask = np.asarray(mask)
    if mask.shape != Xs.shape[:2] or mask.dtype != bool:
        raise ValueError(
            f"mask must be a bool array of shape {Xs.shape[:2]}; got {mask.dtype} {mask.shape}"
        )
    if not mask.any(axis=1).all():
        raise ValueError(f"datasets {_rows(np.flatnonzero(~mask.any(1)))} have no valid rows")
    checked = []
    for b in range(Xs.shape[0]):
        try:
            checked.append(check_dataset(Xs[b][mask[b]], ys[b][mask[b]]))
        except ValueError as err:
            raise ValueError(f"dataset {b}: {err}") from None
    return Xs.astype(np.float64), ys.astype(np.float64), mask, checked


def decide_batch(
    Xs,
    ys,
    affine: bool = True,
    *,
    mask=None,
    iters: int = SCREEN_ITERS,
    exact: bool = False,
    screen_out: dict | None = None,
) -> dict:
    """The exact decision for a batch of datasets: the screen first (one jitted, vmapped call;
    `screen_out` passes results a caller already computed, e.g. inside a vmapped trial), then
    the LP for every dataset the screen did not prove separable.

    Xs (B, n, d), ys (B, n), mask (B, n) of valid rows (default all). Returns dict(separable
    (B,) bool: the LP-exact answer; screen_decided (B,) bool; lp_calls int; certificates: the
    LP's certificate per LP-decided dataset (None where the screen decided))."""
    Xs, ys, mask, checked = _check_batch(Xs, ys, mask)
    if screen_out is None:
        Z = signed_points(jnp.asarray(Xs), jnp.asarray(ys), affine)
        screen_out = jax.device_get(_screen_batch(Z, jnp.asarray(mask), int(iters)))
    decided = np.asarray(screen_out["decided"], bool)
    separable = decided.copy()
    certificates = [None] * len(decided)
    for b in np.flatnonzero(~decided):
        X, y = checked[b]
        separable[b], certificates[b] = _decide(X, y, affine, exact)
    return dict(
        separable=separable,
        screen_decided=decided,
        lp_calls=int((~decided).sum()),
        certificates=certificates,
    )


def separable_batch(
    Xs, ys, affine: bool = True, *, mask=None, iters: int = SCREEN_ITERS
) -> np.ndarray:
    """(B,) bool: which datasets are strictly linearly separable (LP-exact; see decide_batch
    for the screen's share)."""
    return decide_batch(Xs, ys, affine, mask=mask, iters=iters)["separable"]


# ------------------------------------------------------------------------------ Cover 1965


def cover_count(n: int, D: int) -> int:
    """C(n, D) = 2 sum_{k=0}^{D-1} binom(n-1, k): the number of dichotomies of n points in
    general position in R^D separable by a hyperplane through the origin (Cover 1965,
    function counting theorem). C(n, D) = 2^n for n <= D."""
    if n < 1 or D < 1:
        raise ValueError(f"Cover's count needs n >= 1 and D >= 1; got n = {n}, D = {D}")
    return 2 * sum(math.comb(n - 1, k) for k in range(D))


def cover_probability(n: int, d: int, affine: bool = False) -> Fraction:
    """P(n points in general position in R^d with uniform random labels are strictly
    separable): C(n, d) / 2^n homogeneously, C(n, d + 1) / 2^n with a bias (the points
    (x_i, 1) are in general position in R^{d+1})."""
    return Fraction(cover_count(n, d + int(bool(affine))), 2**n)


# ------------------------------------------------------------------- exact network helpers


def hidden_widths(net: exact.ExactNetwork) -> tuple[int, ...]:
    """Widths of the hidden layers (the paper's width is their max)."""
    return tuple(lay.n_out for lay in net.layers[:-1])


def depth(net: exact.ExactNetwork) -> int:
    """The paper's depth: hidden layers + 1 (= number of affine layers)."""
    return len(net.layers)


def memorizes_exactly(net: exact.ExactNetwork, X, y) -> bool:
    """Sgn(F(x_i)) = y_i for every i, in exact arithmetic (an output 0 is an error)."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    out = exact.apply(net, X, allow_float=True)
    return all((v > 0) if yi > 0 else (v < 0) for v, yi in zip(out, np.asarray(y)))


# ---------------------------------------------------------------------------- Lemma G.4


def width1_memorizer(
    X, y, *, depth: int = 2, certificate: dict | None = None
) -> exact.ExactNetwork:
    """Lemma G.4, "=>": the width-1 memorizer of a linearly separable dataset.

    With a separator (w, b) (the LP's, or `certificate` from linearly_separable(X, y)) and
    K = max(0, -min_i (w . x_i + b)), F(x) = relu(w . x + b + K) - K equals w . x + b on
    every data point (the relu never clips there), so Sgn F(x_i) = y_i. The network has the
    paper's depth `depth`: depth - 1 hidden layers of width 1, the later ones relu(h) = h (h
    is already >= 0 on the data), and (d + 1) + 2 (depth - 1) parameters. The weights are
    the exact rational values of the float separator. ValueError if the data are not
    separable (then no width-1 memorizer exists)."""
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"depth must be an int >= 2 (one hidden layer at least); got {depth!r}")
    X, y = check_dataset(X, y)
    if certificate is None:
        separable, certificate = _decide(X, y, True, True)
        if not separable:
            raise ValueError(
                "the dataset is not linearly separable (exact Farkas certificate: "
                f"{certificate['exact']}); by Lemma G.4 no width-1 network "
                "memorizes it"
            )
    if certificate.get("kind") != "separator":
        raise ValueError("certificate must be a separator from linearly_separable(X, y)")
    w, b = _fractions(certificate["w"]), Fraction(certificate["b"])
    if w.shape != (X.shape[1],):
        raise ValueError(f"the certificate's w has shape {w.shape}; X has {X.shape[1]} columns")
    proj = _fractions(X).dot(w) + b
    if not all((p > 0) if yi > 0 else (p < 0) for p, yi in zip(proj, y)):
        raise ValueError("the certificate's (w, b) does not separate (X, y) exactly")
    K = max(Fraction(0), -min(proj))
    layers = [exact.layer(w[:, None], [b + K], "relu", name="layer 0")]
    for i in range(1, depth - 1):
        layers.append(exact.layer([[1]], [0], "relu", name=f"layer {i}"))
    layers.append(exact.layer([[1]], [-K], "identity", name=f"layer {depth - 1}"))
    return exact.make(layers)


def random_width_network(
    rng: np.random.Generator, d: int, depth: int, width: int = 1, scale: int = 4
) -> exact.ExactNetwork:
    """A random ReLU network d -> width -> ... -> width -> 1 (depth - 1 hidden layers) with
    exact dyadic weights k/2, |k| <= 2 scale: the objects of Lemma G.4's converse (width 1)."""
    if depth < 2:
        raise ValueError(f"need depth >= 2; got depth {depth}")
    width = positive_int("width", width)

    def draw(shape):
        return np.vectorize(lambda k: Fraction(int(k), 2), otypes=[object])(
            rng.integers(-2 * scale, 2 * scale + 1, shape)
        )

    sizes = [d] + [width] * (depth - 1) + [1]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        act = "identity" if i == len(sizes) - 2 else "relu"
        layers.append(exact.layer(draw((a, b)), draw((b,)), act, name=f"layer {i}"))
    return exact.make(layers)


def first_projection(net: exact.ExactNetwork, X) -> np.ndarray:
    """w1 . x + b1 of the first hidden unit, exactly (object array (n,))."""
    lay = net.layers[0]
    return _fractions(np.asarray(X, np.float64)).dot(lay.weight[:, 0]) + lay.bias[0]


def monotone_along_projection(net: exact.ExactNetwork, X) -> bool:
    """Lemma G.4's converse as a property: F is a monotone function of p = w1 . x + b1 (the
    first hidden unit's pre-activation) on the points X: sorted by p, the exact outputs are
    all non-decreasing or all non-increasing, and equal p gives equal F. True for every
    width-1 ReLU network (each relu(a h + c) is monotone in h); false in general for width 2."""
    p = first_projection(net, X)
    F = exact.apply(net, np.asarray(X, np.float64), allow_float=True)
    order = sorted(range(len(p)), key=lambda i: p[i])
    up = down = True
    for i, j in zip(order[:-1], order[1:]):
        if p[i] == p[j]:
            if F[i] != F[j]:
                return False
            continue
        up &= F[j] >= F[i]
        down &= F[j] <= F[i]
    return up or down


# ---------------------------------------------------------------------------- Lemma G.5


def label_runs(t, y) -> int:
    """Number of maximal runs of equal labels along the sorted distinct inputs."""
    tau, lab = _distinct_sorted(*check_line(t, y))
    return 1 + int(np.sum(lab[1:] != lab[:-1]))


def _distinct_sorted(t: np.ndarray, y: np.ndarray):
    """Sorted distinct inputs and their labels (conflicting duplicates were refused)."""
    tau, first = np.unique(t, return_index=True)
    return tau, y[first]


def interval_condition(t, y) -> bool:
    """Lemma G.5's right-hand side: (c1) a closed interval holds every positive and no
    negative, or (c2) every negative and no positive.

    Any closed interval containing all positives contains [min+, max+], and that one
    contains no negative iff any does; so (c1) iff no negative lies in [min+, max+] (true
    when there are no positives: a closed interval away from the data). Equivalently
    (derived): the labels along the sorted inputs form at most 3 runs (see `label_runs`)."""
    t, y = check_line(t, y)

    def holds(inside, outside):
        if inside.size == 0:
            return True
        lo, hi = inside.min(), inside.max()
        return not np.any((outside >= lo) & (outside <= hi))

    pos, neg = t[y > 0], t[y < 0]
    return bool(holds(pos, neg) or holds(neg, pos))


def _unit_network(units: list, tau: np.ndarray) -> tuple[list, list, list, Fraction]:
    """Hidden weights s (+-1), hidden biases b, output weights a and a constant to add to the
    output bias, exactly, from the LP's [(type, alpha, beta)]: unit u is a_u relu(s_u t + b_u)."""
    s_out, b_out, a_out, shift = [], [], [], Fraction(0)
    for kind, alpha, beta in units:
        alpha, beta = Fraction(alpha), Fraction(beta)
        if kind[0] == "full":
            # alpha t + beta = alpha (t - k0) + (beta + alpha k0), with k0 below every input:
            # relu(t - k0) = t - k0 on all data.
            k0 = Fraction(float(tau[0])) - 1
            unit = (1, -k0, alpha)
            shift += beta + alpha * k0
        elif alpha == 0:
            unit = (1, Fraction(0), Fraction(0))  # the cone forces beta = 0: a zero unit
        else:
            k = -beta / alpha  # g(k) = 0: the kink
            # suffix: alpha (t - k) = alpha relu(t - k) on its side, 0 on the other;
            # prefix: alpha (t - k) = -alpha relu(k - t).
            unit = (1, -k, alpha) if kind[0] == "suffix" else (-1, k, -alpha)
        s_out.append(unit[0])
        b_out.append(unit[1])
        a_out.append(unit[2])
    return s_out, b_out, a_out, shift


def _types(M: int) -> list[tuple]:
    """("full",) and (side, gap j, sigma) for side in suffix / prefix, j in 0..M-2."""
    out: list[tuple] = [("full",)]
    for side in ("suffix", "prefix"):
        for j in range(M - 1):
            for sigma in (1, -1):
                out.append((side, j, sigma))
    return out


def _active(kind: tuple, M: int) -> np.ndarray:
    if kind[0] == "full":
        return np.ones(M, bool)
    j = kind[1]
    idx = np.arange(M)
    return idx > j if kind[0] == "suffix" else idx <= j


def _type_combinations(M: int, units: int) -> list[tuple]:
    kinds = _types(M)
    nonfull = kinds[1:]
    if units == 1:
        return [(k,) for k in kinds]
    # full + anything covers every case with a unit whose kink is off the data (or zero);
    # two units of one type add to one unit of that type (the cone is convex): skipped.
    combos = [(kinds[0], k) for k in nonfull] or [(kinds[0], kinds[0])]
    combos += list(itertools.combinations(nonfull, 2))
    return combos


def width2_depth2_memorizer_exists(t, y, *, units: int = 2):
    """Whether some network F(t) = sum_{u <= units} a_u relu(w_u t + b_u) + c (depth 2, width
    `units`) has Sgn F(t_i) = y_i for all i: the exact enumeration of the module docstring,
    one block LP for all combinatorial types. Returns (exists, witness): the witness is an
    exact.ExactNetwork built from a feasible block and verified in exact arithmetic (it has
    3 units + 1 parameters: 7 for width 2), or None.

    units=1 asks the same for width 1 (then the answer is linear separability)."""
    if units not in (1, 2):
        raise ValueError(f"units must be 1 or 2; got {units!r}")
    t, y = check_line(t, y)
    tau, lab = _distinct_sorted(t, y)
    M = len(tau)
    combos = _type_combinations(M, units)
    nv = 2 * units + 2  # alpha_u, beta_u per unit, c, slack
    rows, cols, vals, rhs = [], [], [], []
    r = 0
    for bi, combo in enumerate(combos):
        base = bi * nv
        c_col, s_col = base + 2 * units, base + 2 * units + 1
        masks = [_active(k, M) for k in combo]
        for i in range(M):
            # -y_i (c + sum_active alpha_u tau_i + beta_u) - s <= -1
            yi = float(lab[i])
            rows += [r, r]
            cols += [c_col, s_col]
            vals += [-yi, -1.0]
            for u, m in enumerate(masks):
                if m[i]:
                    rows += [r, r]
                    cols += [base + 2 * u, base + 2 * u + 1]
                    vals += [-yi * tau[i], -yi]
            rhs.append(-1.0)
            r += 1
        for u, kind in enumerate(combo):
            if kind[0] == "full":
                continue
            side, j, sigma = kind
            act, inact = (tau[j + 1], tau[j]) if side == "suffix" else (tau[j], tau[j + 1])
            # -sigma g(tau_act) <= 0 and sigma g(tau_in) <= 0, g = alpha t + beta
            for point, sign in ((act, -sigma), (inact, sigma)):
                rows += [r, r]
                cols += [base + 2 * u, base + 2 * u + 1]
                vals += [sign * point, float(sign)]
                rhs.append(0.0)
                r += 1
    n_var = nv * len(combos)
    A = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(r, n_var))
    cost = np.zeros(n_var)
    cost[nv - 1 :: nv] = 1.0
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * n_var
    for bi in range(len(combos)):
        bounds[bi * nv + nv - 1] = (0.0, 1.0)
    res = scipy.optimize.linprog(cost, A_ub=A, b_ub=np.asarray(rhs), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(
            f"HiGHS did not solve the Lemma G.5 enumeration LP ({len(combos)} "
            f"types, {M} points): status {res.status}, {res.message}"
        )
    x = res.x
    slacks = x[nv - 1 :: nv]
    for hit in np.flatnonzero(slacks < _SLACK_THRESHOLD):
        v = x[hit * nv : (hit + 1) * nv]
        combo = combos[hit]
        units_lp = [(kind, float(v[2 * u]), float(v[2 * u + 1])) for u, kind in enumerate(combo)]
        s, b, a, shift = _unit_network(units_lp, tau)
        c = Fraction(float(v[2 * units])) + shift
        net = exact.make(
            [
                exact.layer([s], b, "relu", name="hidden"),
                exact.layer([[ai] for ai in a], [c], "identity", name="output"),
            ]
        )
        if memorizes_exactly(net, t[:, None], y):
            return True, net
    if (slacks < _SLACK_THRESHOLD).any():
        raise RuntimeError(
            "feasible Lemma G.5 types were found but none of their networks "
            "memorizes the data in exact arithmetic (numerical failure)"
        )
    return False, None


def interval_memorizer(t, y) -> exact.ExactNetwork:
    """The width-2, depth-2, 7-parameter memorizer of Lemma G.5's proof (Part 1), exact.

    Under (c1) with I = [a, b] = [min+, max+] and negatives on both sides (x_{-1} the largest
    below a, x_1 the smallest above b): F = relu(t - c1) - T relu(t - c2) - tau0, with
    c1 = (x_{-1} + a)/2, c2 = (x_1 + b)/2, tau0 = (a - x_{-1})/4 and (paper) T = 8/(x_1 - b).
    On I, F >= (a - x_{-1})/2 - tau0 > 0; left of a, F = -tau0 < 0; right of b the slope is
    1 - T <= 0 and F(x_1) < 0 needs T > 2 (x_1 - c1 - tau0)/(x_1 - b), which the paper's T
    gives for data in [0,1]; T = max(8/(x_1 - b), 1 + 2 (x_1 - c1)/(x_1 - b)) gives it for all
    real data and equals 8/(x_1 - b) on [0,1] (derived). Negatives on one side only: D is
    linearly separable and F = relu(t - m) - relu(m - t) = t - m (or m - t), m the midpoint
    of the gap. One class: F = +-1 with zero hidden weights. Under (c2) and not (c1): minus
    the (c1) network of the flipped labels. ValueError if neither holds."""
    t, y = check_line(t, y)
    if not interval_condition(t, y):
        raise ValueError(
            "neither (c1) nor (c2) holds: by Lemma G.5 no width-2 depth-2 "
            "network memorizes this dataset"
        )
    tf = _fractions(t)
    pos_first = _c1(tf, y)
    sign = 1
    if pos_first is None:
        pos_first, sign = _c1(tf, -y), -1
    s, b, a, c = pos_first
    a = [sign * ai for ai in a]
    c = sign * c
    return exact.make(
        [
            exact.layer([s], b, "relu", name="hidden"),
            exact.layer([[ai] for ai in a], [c], "identity", name="output"),
        ]
    )


def _c1(tf: np.ndarray, y: np.ndarray):
    """(s, b, a, c) of the (c1) construction for labels y, or None if (c1) fails."""
    pos = [v for v, yi in zip(tf, y) if yi > 0]
    neg = [v for v, yi in zip(tf, y) if yi < 0]
    if not pos:
        return [1, 1], [Fraction(0), Fraction(0)], [Fraction(0), Fraction(0)], Fraction(-1)
    lo, hi = min(pos), max(pos)
    if any(lo <= v <= hi for v in neg):
        return None
    left = [v for v in neg if v < lo]
    right = [v for v in neg if v > hi]
    if not left and not right:
        return [1, 1], [Fraction(0), Fraction(0)], [Fraction(0), Fraction(0)], Fraction(1)
    if not right:  # t - m: negatives all left of a
        m = (max(left) + lo) / 2
        return [1, -1], [-m, m], [Fraction(1), Fraction(-1)], Fraction(0)
    if not left:  # m - t: negatives all right of b
        m = (hi + min(right)) / 2
        return [1, -1], [-m, m], [Fraction(-1), Fraction(1)], Fraction(0)
    x_m1, x_1 = max(left), min(right)
    c1, c2 = (x_m1 + lo) / 2, (x_1 + hi) / 2
    tau0 = (lo - x_m1) / 4
    T = max(Fraction(8) / (x_1 - hi), 1 + 2 * (x_1 - c1) / (x_1 - hi))
    return [1, 1], [-c1, -c2], [Fraction(1), -T], -tau0


__all__ = [
    "SCREEN_ITERS",
    "check_dataset",
    "check_line",
    "cover_count",
    "cover_probability",
    "decide_batch",
    "depth",
    "first_projection",
    "hidden_widths",
    "interval_condition",
    "interval_memorizer",
    "label_runs",
    "linearly_separable",
    "memorizes_exactly",
    "monotone_along_projection",
    "random_width_network",
    "screen",
    "separable_batch",
    "signed_points",
    "width1_memorizer",
    "width2_depth2_memorizer_exists",
]
