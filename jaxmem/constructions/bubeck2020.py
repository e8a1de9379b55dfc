"""Bubeck, Eldan, Lee, Mikulincer (NeurIPS 2020): 4 ceil(n/d) ReLU units fit arbitrary real
labels of n points in general position in R^d; and Baum's (1988) threshold network with about
ceil(n/d) units for binary labels, which their paper starts from.

Both split the points into groups of (at most) d. A group S spans an affine hyperplane
{<u, x> = c} that, in general position, contains no other data point.

* Baum: the slab 1{<u,x> - c > -eps} - 1{<u,x> - c > eps} is 1 on S and 0 on every other point
  when eps is below their distance to the hyperplane. Slabs over the smaller class, summed and
  mapped to +-1, fit binary labels with 2 ceil(n_minority / d) <= ceil(n/d) + 1 units.
* Bubeck et al.: the finite difference of a ReLU in its weight vector,
      [relu(g + delta h + eps) - relu(g + eps) - relu(g + delta h - eps) + relu(g - eps)] / delta,
  with g = <u,x> - c and h = <v,x>, equals h on S (where g = 0) and 0 off S (where
  |g| >= gamma > eps + delta |h|). Choosing v with <v, x_i> = y_i on S fits real labels with
  four units per group (docs/papers/bubeck2020.md §3; the exact version is derived there).
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import network
from jaxmem.constructions.protocol import Option, boolean, construction
from jaxmem.data.validate import float_data
from jaxmem.linalg import spd_solve


def _group_solves(Xg, valid, rhs, refinements: int = 1):
    """Min-norm solutions of <s, x_i> = rhs_i over each group's valid rows.

    Xg: (G, d, d) group rows (padded rows anywhere), valid: (G, d), rhs: (G, d, r).
    Returns (G, d, r): s = X_S^T alpha with (X_S X_S^T) alpha = rhs. Padded rows are zeroed and
    get a unit diagonal, so they decouple (alpha = 0 there) and a partial group still solves.
    The Gram matrix squares the condition number, so the solution is refined with the exact
    residual (fixed-precision iterative refinement): without it, fits at n = d missed the
    rounding tolerance by a factor ~cond(X_S).
    """
    Xv = jnp.where(valid[..., None], Xg, 0)
    rhs = jnp.where(valid[..., None], rhs, 0)
    gram = jnp.einsum("gid,gjd->gij", Xv, Xv, precision="highest")
    gram = gram + jnp.eye(Xg.shape[-1], dtype=Xg.dtype) * (~valid)[..., None]
    eye = jnp.broadcast_to(jnp.eye(Xg.shape[-1], dtype=Xg.dtype), gram.shape)
    gram_inv = spd_solve(gram, eye)

    def min_norm(r):
        alpha = jnp.einsum("gij,gjr->gir", gram_inv, r, precision="highest")
        return jnp.einsum("gid,gir->gdr", Xv, alpha, precision="highest")

    s = min_norm(rhs)
    for _ in range(refinements):
        s = s + min_norm(rhs - jnp.einsum("gid,gdr->gir", Xv, s, precision="highest"))
    return s


def _groups(X, members, size):
    """Groups of `size` consecutive entries of `members` (indices into X, -1 = padding).

    Returns the group rows (G, size, d), the valid mask (G, size), and each point's group
    (n,), -1 for points in no group."""
    n = X.shape[0]
    G = members.shape[0] // size
    idx = members.reshape(G, size)
    valid = idx >= 0
    group_of = (
        jnp.full((n,), -1)
        .at[jnp.where(members >= 0, members, n)]
        .set(jnp.arange(members.shape[0]) // size, mode="drop")
    )
    return X[jnp.maximum(idx, 0)], valid, group_of


def _hyperplanes(X, Xg, valid, group_of, labels=None):
    """For every group, the unit normal u and offset c of a hyperplane through its points,
    gamma = the smallest distance |<u, x_j> - c| of any point outside the group, and (when
    labels are given) v with <v, x_i> = y_i on the group and h = <v, x_j> for every point,
    from the same solve."""
    G = Xg.shape[0]
    rhs = jnp.ones(valid.shape + (1,), X.dtype)
    if labels is not None:
        rhs = jnp.concatenate([rhs, labels[..., None]], axis=-1)
    sol = _group_solves(Xg, valid, rhs)
    s = sol[..., 0]  # <s, x_i> = 1 on the group
    norm = jnp.linalg.norm(s, axis=-1, keepdims=True)
    u, c = s / norm, 1 / norm[..., 0]
    v = sol[..., 1] if labels is not None else jnp.zeros((0, X.shape[1]), X.dtype)
    proj = jnp.einsum("nd,gd->gn", X, jnp.concatenate([u, v]), precision="highest")
    z, h = proj[:G] - c[:, None], proj[G:]  # (G, n) each
    in_group = group_of[None, :] == jnp.arange(G)[:, None]
    gamma = jnp.min(jnp.where(in_group, jnp.inf, jnp.abs(z)), axis=1)
    return u, c, v, h, gamma


def hyperplane_offset(key, X):
    """The point o that every group's hyperplane is solved through: <s, x_i - o> = 1 on the
    group (`_hyperplanes` on X - o), which needs the group's affine hull to miss o. With
    o = 0 the construction failed on every group whose hull passes through the origin (two
    antipodal points in R^2; `jaxmem falsify bubeck2020.relu` found it), although such points
    are in general position. A Gaussian point at the data's scale (rms row norm) misses all
    hulls with probability 1. Drawn from fold_in(key, 1)."""
    d = X.shape[1]
    scale = jnp.sqrt(jnp.mean(jnp.sum(X * X, axis=1)))
    scale = jnp.where(scale > 0, scale, 1)
    direction = jax.random.normal(jax.random.fold_in(key, 1), (d,), X.dtype)
    return scale / math.sqrt(d) * direction


def relu_units(n: int, d: int) -> int:
    """Hidden units of the ReLU construction: 4 ceil(n/d)."""
    return 4 * math.ceil(n / d)


def _relu_memory(n, d, itemsize, options):
    return 4 * itemsize * (n * d + n * relu_units(n, d) + n)


@construction(
    "bubeck2020",
    citation="Bubeck et al. 2020: 4 ceil(n/d) ReLU units, real labels",
    memory=_relu_memory,
    example=dict(data="cube", axes=dict(n=9, d=3)),
    shuffle=Option(False, boolean("shuffle")),
)
def build(key, X, y, *, shuffle: bool = False):
    """The 4 ceil(n/d)-unit ReLU network d -> 4G (relu) -> 1 (identity) fitting real labels.

    Groups: consecutive rows, G = ceil(n/d) groups of at most d points (any partition works
    in general position); with shuffle=True, a random partition drawn from `key`. The
    hyperplanes are solved through a random point drawn from `key` (`hyperplane_offset`).
    info:
      valid         general position held: every group's hyperplane misses all other points
                    (gamma > 0) and all weights are finite
      gamma         per group, the distance of the nearest other point to its hyperplane
      min_gamma     the smallest gamma
      max_out_weight  max 1/delta, the size of the output weights (far from optimal, §4)
    """
    X, y = float_data(X, y, task=None)
    n, d = X.shape
    G = math.ceil(n / d)
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    members = jnp.concatenate([order, -jnp.ones(G * d - n, order.dtype)])
    offset = hyperplane_offset(key, X)
    Z = X - offset  # the construction in coordinates centred on the offset; folded back below
    Zg, valid, group_of = _groups(Z, members, d)
    yg = jnp.where(valid, y[jnp.maximum(members, 0)].reshape(G, d), 0)
    u, c, v, h, gamma = _hyperplanes(Z, Zg, valid, group_of, labels=yg)
    # gamma = inf when the group holds every point (n <= d): any eps works then.
    eps = jnp.where(jnp.isfinite(gamma), gamma / 2, 1)
    h_max = jnp.max(jnp.abs(h), axis=1)
    delta = 0.5 * eps / jnp.where(h_max > 0, h_max, 1)  # eps = gamma - eps
    ud = u + delta[:, None] * v
    # Units per group: (u + delta v, c - eps), (u, c - eps), (u + delta v, c + eps), (u, c + eps).
    rows = jnp.stack([ud, u, ud, u], axis=1).reshape(4 * G, d)
    offs = jnp.stack([c - eps, c - eps, c + eps, c + eps], axis=1).reshape(4 * G)
    out = (jnp.array([1.0, -1.0, -1.0, 1.0], X.dtype)[None, :] / delta[:, None]).reshape(4 * G)
    # <row, x - o> - off = <row, x> - (off + <row, o>)
    offs = offs + jnp.matmul(rows, offset, precision="highest")
    net = network.Network(
        (
            network.Layer(rows.T, -offs, activation="relu"),
            network.Layer(out[:, None], jnp.zeros((1,), X.dtype), activation="identity"),
        )
    )
    min_gamma = jnp.min(gamma)
    info = dict(
        valid=(min_gamma > 0) & jnp.all(jnp.isfinite(out)) & jnp.all(jnp.isfinite(rows)),
        gamma=gamma,
        min_gamma=min_gamma,
        max_out_weight=jnp.max(jnp.abs(out)),
    )
    return net, info


def _solve_exact(A: list[list[Fraction]], rhs: list[list[Fraction]]) -> list[list[Fraction]] | None:
    """A^-1 rhs for a nonsingular square A, by Gauss-Jordan elimination in Fractions; None
    when A is singular."""
    k = len(A)
    M = [list(A[i]) + list(rhs[i]) for i in range(k)]
    for col in range(k):
        pivot = next((r for r in range(col, k) if M[r][col] != 0), None)
        if pivot is None:
            return None
        M[col], M[pivot] = M[pivot], M[col]
        inv = 1 / M[col][col]
        M[col] = [v * inv for v in M[col]]
        for r in range(k):
            if r != col and M[r][col] != 0:
                f = M[r][col]
                M[r] = [a - f * b for a, b in zip(M[r], M[col])]
    return [row[k:] for row in M]


def _exact_plane(Zq, group: list[int], labels=None):
    """One group's hyperplane in rationals, on rows Zq = X - o: s with <s, z_i> = 1 on the
    group (the min-norm solution, as `_group_solves`), v with <v, z_i> = labels_i when labels
    are given (else None), and gamma = min |<s, z_j> - 1| over the other rows (None when
    there are none). None when the group solve is singular or gamma = 0 (not in general
    position)."""
    d = len(Zq[0])
    ZS = [list(Zq[i]) for i in group]
    gram = [[sum(a * b for a, b in zip(zi, zj)) for zj in ZS] for zi in ZS]
    rhs = [[Fraction(1)] + ([labels[r]] if labels is not None else []) for r in range(len(group))]
    alpha = _solve_exact(gram, rhs)
    if alpha is None:
        return None
    s_vec = [sum(alpha[r][0] * ZS[r][k] for r in range(len(group))) for k in range(d)]
    v_vec = (
        None
        if labels is None
        else [sum(alpha[r][1] * ZS[r][k] for r in range(len(group))) for k in range(d)]
    )
    members = set(group)
    g = [sum(a * b for a, b in zip(s_vec, Zq[j])) - 1 for j in range(len(Zq)) if j not in members]
    gamma = min((abs(v) for v in g), default=None)
    if gamma == 0:
        return None
    return s_vec, v_vec, gamma


def build_exact(X, y, order=None, offset=None):
    """`build` in rational arithmetic (host, Python Fractions): the same groups (consecutive
    rows of `order`, default 0..n-1), the hyperplanes solved through the same point `offset`
    (a float vector, `hyperplane_offset`; default the origin) and the same formulas, with each
    float input taken at its exact binary value. The hyperplane is left unnormalized,
    <s, x - o> = 1 on the group (a unit normal would need a square root; the construction
    only needs g = <s, x - o> - 1 to vanish on the group). Returns
    (jaxmem.exact.ExactNetwork or None, info) with info: valid (every
    group solve nonsingular and every other point off its hyperplane), min_gamma (Fraction).
    Exact interpolation, f(x_i) = y_i with no rounding anywhere, is what the theorem says; the
    float64 network can miss a label by up to ~u |x| / delta (its first-layer rows s + delta v
    are rounded, and the output divides their difference by delta)."""
    from jaxmem import exact

    Xq = exact.exact_array("X", np.asarray(X, np.float64).astype(object), allow_float=True, ndim=2)
    yq = exact.exact_array(
        "y", np.asarray(y, np.float64).astype(object)[None, :], allow_float=True, ndim=2
    )[0]
    n, d = Xq.shape
    order = list(range(n)) if order is None else [int(i) for i in order]
    o = (
        [Fraction(0)] * d
        if offset is None
        else [Fraction(float(v)) for v in np.asarray(offset, np.float64).reshape(d)]
    )
    Xq = [[a - b for a, b in zip(row, o)] for row in Xq]  # exact: X - o
    rows, biases, outs = [], [], []
    min_gamma = None
    for start in range(0, n, d):
        group = order[start : start + d]
        planes = _exact_plane(Xq, group, [yq[i] for i in group])
        if planes is None:
            return None, dict(valid=False, min_gamma=Fraction(0))
        s_vec, v_vec, gamma = planes
        assert v_vec is not None  # labels were given
        h = [sum(a * b for a, b in zip(v_vec, Xq[j])) for j in range(n)]
        min_gamma = (
            gamma if min_gamma is None or (gamma is not None and gamma < min_gamma) else min_gamma
        )
        eps = gamma / 2 if gamma is not None else Fraction(1)
        h_max = max(abs(v) for v in h)
        delta = eps / 2 / (h_max if h_max > 0 else 1)
        sd = [a + delta * b for a, b in zip(s_vec, v_vec)]
        # g + delta h + eps, g + eps, g + delta h - eps, g - eps; weights 1, -1, -1, 1 over delta
        for row, off, w in ((sd, eps, 1), (s_vec, eps, -1), (sd, -eps, -1), (s_vec, -eps, 1)):
            rows.append(row)
            biases.append(off - 1 - sum(a * b for a, b in zip(row, o)))
            outs.append(Fraction(w) / delta)
    W = np.array(rows, dtype=object).T
    net = exact.make(
        [
            exact.layer(W, np.array(biases, dtype=object), "relu"),
            exact.layer(
                np.array(outs, dtype=object)[:, None],
                np.array([Fraction(0)], dtype=object),
                "identity",
            ),
        ]
    )
    return net, dict(valid=True, min_gamma=min_gamma if min_gamma is not None else Fraction(0))


@construction(
    "bubeck2020.exact",
    citation="Bubeck et al. 2020 in rational arithmetic: "
    "4 ceil(n/d) ReLU units, f(x_i) = y_i exactly",
    host=True,
    example=dict(data="gaussian", axes=dict(n=6, d=3)),
    shuffle=Option(False, boolean("shuffle")),
)
def build_exact_from_key(key, X, y, *, shuffle: bool = False):
    """`build_exact` under the construction protocol: the same groups and offset as `build`
    with the same key (consecutive rows; with shuffle=True the permutation `build` draws)."""
    X64 = np.asarray(X, np.float64)
    order = np.asarray(jax.random.permutation(key, len(X64))) if shuffle else None
    offset = np.asarray(hyperplane_offset(key, jnp.asarray(X64)))
    return build_exact(X, y, order, offset)


def baum_max_units(n: int, d: int) -> int:
    """The static width of Baum's network: 2 ceil(floor(n/2) / d) slots (the minority class
    has at most n/2 points); the active count is 2 ceil(n_minority / d)."""
    return max(2 * math.ceil((n // 2) / d), 2)


def _baum_memory(n, d, itemsize, options):
    return 4 * itemsize * (n * d + n * 2 * -(-n // d) + n)


def _baum_groups(key, y, d: int):
    """Baum's slab class s (the smaller class, +1 on a tie), its size m, and the group
    members: slab-class points first, in a random order from `key`, in slots of d
    (baum_max_units(n, d) / 2 slots; positions >= m are padding, -1)."""
    n = y.shape[0]
    n_pos = jnp.sum(y > 0)
    s = jnp.where(n_pos <= n - n_pos, 1, -1).astype(y.dtype)
    m = jnp.where(s > 0, n_pos, n - n_pos)
    slots = baum_max_units(n, d) // 2
    score = jnp.where(y == s, 0, 1) * 2.0 + jax.random.uniform(key, (n,))
    order = jnp.argsort(score)
    pos = jnp.arange(slots * d)
    return s, m, jnp.where(pos < m, order[jnp.minimum(pos, n - 1)], -1)


@construction(
    "baum1988",
    citation="Baum 1988: threshold slabs, 2 ceil(m/d) units, +-1 labels",
    task="binary",
    memory=_baum_memory,
    example=dict(data="clusters", axes=dict(n=12, d=2)),
)
def build_baum(key, X, y):
    """Baum's threshold network d -> 2 ceil(m/d) (threshold) -> 1 (identity), m = minority size.

    The slab class s is the smaller class (+1 on a tie). Its points, in a random order from
    `key`, form groups of d; each group gets a slab of two threshold units (H(0) = 0). The output
    s (2 sum_slabs - 1) is exactly +1 or -1. Unused slab slots are masked.
    info: valid (general position, as for `build`), slab_class, hidden_units (active count),
    min_gamma, threshold_margin (the smallest |pre-activation| of a threshold unit on the data:
    positive means no unit sits on its threshold).
    """
    X, y = float_data(X, y, task="binary")
    n, d = X.shape
    s, m, members = _baum_groups(key, y, d)
    slots = baum_max_units(n, d) // 2
    offset = hyperplane_offset(key, X)  # as in `build`
    Z = X - offset
    Zg, valid, group_of = _groups(Z, members, d)
    used = valid.any(axis=1)
    u, c, _, _, gamma = _hyperplanes(Z, Zg, valid, group_of)
    u, c = jnp.where(used[:, None], u, 0), jnp.where(used, c, 0)  # empty slots: 0/0 otherwise
    eps = jnp.where(used & jnp.isfinite(gamma), gamma / 2, 1)
    gamma = jnp.where(used, gamma, jnp.inf)
    rows = jnp.stack([u, u], axis=1).reshape(2 * slots, d)
    offs = jnp.stack([c - eps, c + eps], axis=1).reshape(2 * slots)
    offs = offs + jnp.matmul(rows, offset, precision="highest")  # back to x: see `build`
    mask = jnp.stack([used, used], axis=1).reshape(2 * slots)
    out = jnp.tile(jnp.stack([2 * s, -2 * s]), slots)
    net = network.Network(
        (
            network.Layer(rows.T, -offs, mask, activation="threshold"),
            network.Layer(out[:, None], -s[None], activation="identity"),
        )
    )
    pre = jnp.einsum("nd,kd->kn", X, rows, precision="highest") - offs[:, None]
    margin = jnp.min(jnp.where(mask[:, None], jnp.abs(pre), jnp.inf))
    min_gamma = jnp.min(gamma)
    info = dict(
        valid=(min_gamma > 0) & jnp.all(jnp.isfinite(rows)),
        slab_class=s,
        hidden_units=2 * jnp.sum(used),
        minority_size=m,
        min_gamma=min_gamma,
        threshold_margin=margin,
    )
    return net, info


def build_baum_exact(X, y, groups, slab_class, offset=None):
    """`build_baum` in rational arithmetic (host, Python Fractions): slabs over the given
    `groups` (lists of row indices, all of class `slab_class`), each hyperplane solved through
    `offset` (default the origin) with each float input taken at its exact binary value:
    H(g + eps) - H(g - eps), g = <s, x - o> - 1, eps = gamma / 2, and the output
    slab_class (2 sum_slabs - 1). Returns (jaxmem.exact.ExactNetwork or None, info) with
    info: valid (every group solve nonsingular, every other point off its hyperplane),
    min_gamma (Fraction), hidden_units (2 per group)."""
    from jaxmem import exact

    Xq = exact.exact_array("X", np.asarray(X, np.float64).astype(object), allow_float=True, ndim=2)
    n, d = Xq.shape
    o = (
        [Fraction(0)] * d
        if offset is None
        else [Fraction(float(v)) for v in np.asarray(offset, np.float64).reshape(d)]
    )
    Zq = [[a - b for a, b in zip(row, o)] for row in Xq]
    s_class = Fraction(int(slab_class))
    rows, biases, min_gamma = [], [], None
    for group in groups:
        planes = _exact_plane(Zq, [int(i) for i in group])
        if planes is None:
            return None, dict(valid=False, min_gamma=Fraction(0), hidden_units=0)
        s_vec, _, gamma = planes
        min_gamma = (
            gamma if min_gamma is None or (gamma is not None and gamma < min_gamma) else min_gamma
        )
        eps = gamma / 2 if gamma is not None else Fraction(1)
        shift = sum(a * b for a, b in zip(s_vec, o))
        for off in (eps, -eps):  # H(<s, x> - <s, o> - 1 + eps), H(... - eps)
            rows.append(s_vec)
            biases.append(off - 1 - shift)
    if not rows:  # a slab class with no points: the constant s_class (-s_class (2*0 - 1))
        rows, biases = [[Fraction(0)] * d], [Fraction(-1)]
    W = np.array(rows, dtype=object).T
    out = [2 * s_class if i % 2 == 0 else -2 * s_class for i in range(len(rows))]
    net = exact.make(
        [
            exact.layer(W, np.array(biases, dtype=object), "threshold"),
            exact.layer(
                np.array(out, dtype=object)[:, None], np.array([-s_class], dtype=object), "identity"
            ),
        ]
    )
    return net, dict(
        valid=True,
        min_gamma=min_gamma if min_gamma is not None else Fraction(0),
        hidden_units=2 * len(groups),
    )


@construction(
    "baum1988.exact",
    citation="Baum 1988 in rational arithmetic: threshold slabs, 2 ceil(m/d) units, +-1 labels",
    task="binary",
    host=True,
    example=dict(data="clusters", axes=dict(n=12, d=2)),
)
def build_baum_exact_from_key(key, X, y):
    """`build_baum_exact` under the construction protocol: the slab class, the groups and the
    offset that `build_baum` draws from the same key."""
    X64 = np.asarray(X, np.float64)
    y64 = jnp.asarray(np.asarray(y, np.float64))
    n, d = X64.shape
    slab_class, m, members = _baum_groups(key, y64, d)
    members = np.asarray(members)[: int(m)]
    groups = [members[i : i + d].tolist() for i in range(0, len(members), d)]
    offset = np.asarray(hyperplane_offset(key, jnp.asarray(X64)))
    return build_baum_exact(X64, np.asarray(y64), groups, int(slab_class), offset)
