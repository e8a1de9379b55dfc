"""Yu et al.'s efficient memorization sample complexity S_D (NeurIPS 2024, Definition 7.1)
and the bounds around it.

For (x, y) in the support of D, L(x) = distance to the nearest support point of the other
label and B(x) = the closed ball of radius L(x)/3.1 around x. A nearby set is a smallest set of
support points whose balls cover the support; S_D is its size. Theorem 7.3: M1 reaches accuracy
>= 1 - eps with probability >= 1 - delta once N >= S_D ln(S_D/delta)/eps.

`greedy_nearby_set` estimates S_D from a sample: the sample's points stand in for the support,
each with the ball its sample neighbours give. Two caveats, both stated where it is used: the
sample's L(x) is at least the support's (fewer opposite points), so the balls are no smaller
and the estimate can fall below S_D; greedy set cover is within a factor ln(N) + 1 of the
sample's own optimum. On a finite support that the sample covers (the checkerboard), both
are exact: every ball holds its centre alone.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxmem.data.validate import positive_int, validate

NEARBY_CONSTANT = 3.1  # Definition 7.1; Remark 7.2: any constant > 3 works

__all__ = [
    "NEARBY_CONSTANT",
    "greedy_nearby_set",
    "nearby_radii",
    "prop7_7_bound",
    "theorem7_3_sample_size",
]


def _sq_distances(X):
    diff = X[:, None, :] - X[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def nearby_radii(X, y, constant: float = NEARBY_CONSTANT) -> jax.Array:
    """L(x_i)/constant for every sample point, L from the sample's opposite-label points."""
    validate(X, y, task="binary", allow_duplicates=True)
    X = jnp.asarray(X)
    y = jnp.asarray(y)
    sq = _sq_distances(X)
    L = jnp.sqrt(jnp.min(jnp.where(y[:, None] != y[None, :], sq, jnp.inf), axis=1))
    return L / constant


def greedy_nearby_set(X, y, constant: float = NEARBY_CONSTANT) -> dict:
    """A nearby set of the sample by greedy set cover: repeatedly take the ball covering the
    most uncovered sample points. Returns size (the S_D estimate), chosen (N,) bool, and a
    lower bound on the sample's optimum: a greedy set of points no two of which share a
    ball (each needs its own ball). Jittable; O(N^2) memory, N steps at most."""
    if not constant > 3:
        raise ValueError(f"constant must exceed 3 (Remark 7.2); got {constant}")
    X = jnp.asarray(X)
    N = X.shape[0]
    radii = nearby_radii(X, y, constant)
    # covers[j, i]: ball j contains point i (a relative allowance keeps a centre's exact
    # lattice neighbours outside, since their distance is 3.1 radii, far beyond rounding)
    covers = _sq_distances(X) <= (radii[:, None] ** 2) * (1 + 1e-9)

    def step(state):
        uncovered, chosen, size = state
        gain = jnp.sum(covers & uncovered[None, :], axis=1)
        best = jnp.argmax(gain)
        return uncovered & ~covers[best], chosen.at[best].set(True), size + 1

    uncovered, chosen, size = jax.lax.while_loop(
        lambda s: jnp.any(s[0]), step, (jnp.ones(N, bool), jnp.zeros(N, bool), jnp.asarray(0))
    )
    # Packing lower bound: two points "conflict" when some ball holds both.
    share = jnp.matmul(covers.T.astype(jnp.float32), covers.astype(jnp.float32)) > 0

    def pack(i, state):
        free, count = state
        take = free[i]
        return free & ~(share[i] & take), count + take

    _, packing = jax.lax.fori_loop(0, N, pack, (jnp.ones(N, bool), jnp.asarray(0)))
    return dict(size=size, chosen=chosen, lower_bound=packing)


def prop7_7_bound(n: int, c: float) -> int:
    """Proposition 7.7: S_D <= ([6.2 n / c] + 1)^n for every D in D(n, c), [.] the integer
    part. An exact Python int (it overflows floats for moderate n)."""
    n = positive_int("n", n)
    if not c > 0:
        raise ValueError(f"c must be > 0 (the separation bound); got {c}")
    return (math.floor(6.2 * n / c) + 1) ** n


def theorem7_3_sample_size(S_D: int, eps: float, delta: float) -> int:
    """The smallest integer N >= S_D ln(S_D / delta) / eps (Theorem 7.3)."""
    S_D = positive_int("S_D", S_D)
    if not (0 < eps < 1 and 0 < delta < 1):
        raise ValueError(f"eps and delta must lie in (0, 1); got eps={eps}, delta={delta}")
    return math.ceil(S_D * math.log(S_D / delta) / eps)
