"""A threshold staircase, checked with jaxmem: a construction, a true claim, a false variant.

Project the n points on a random direction a. If the projections t_i are distinct, n threshold
units 1{t - b_j > 0}, with b_1 below the smallest t and b_j between consecutive ones, and
output weights y_(j) - y_(j-1) (sorted order) interpolate: f(x_(i)) = y_(1) + ... steps = y_(i).

    jaxmem verify --include examples/staircase.py --claim staircase.interpolates
    jaxmem sweep --include examples/staircase.py examples/staircase.toml
    jaxmem falsify --include examples/staircase.py staircase.one_unit_fewer --config n=8,d=3
"""

import jax
import jax.numpy as jnp

from jaxmem import metrics
from jaxmem.claims import Universal, claim
from jaxmem.constructions.protocol import Option, construction, nonnegative_int
from jaxmem.data import gaussian
from jaxmem.falsify import Domain, Falsifiable
from jaxmem.network import Layer, Network


@construction("staircase", citation="n threshold steps along a random projection",
              example=dict(data="gaussian", axes=dict(n=8, d=3)),
              drop=Option(0, nonnegative_int("drop"), traced=True,
                          doc="top steps left out (breaks it)"))
def staircase(key, X, y, *, drop=0):
    a = jax.random.normal(key, (X.shape[1],), X.dtype)
    t = jnp.matmul(X, a, precision="highest")
    order = jnp.argsort(t)
    ts, ys = t[order], y[order]
    # below the first point by more than its own size (t - 1 rounds to t for |t| > 2^53)
    thresholds = jnp.concatenate([ts[:1] - (jnp.abs(ts[:1]) + 1), (ts[1:] + ts[:-1]) / 2])
    steps = jnp.diff(ys, prepend=0.0)
    keep = jnp.arange(len(ts)) < len(ts) - drop          # masks, not branches: jit-friendly
    net = Network((Layer(a[:, None], -thresholds, keep, activation="threshold", shared=True),
                   Layer(steps[:, None], jnp.zeros(1, X.dtype), activation="identity")))
    # room: a float threshold lies strictly between every two consecutive projections (two
    # projections a few ulps apart leave none: precision, not the theorem, stops the build)
    room = jnp.all((ts[:-1] < thresholds[1:]) & (thresholds[1:] < ts[1:])) & (
        thresholds[0] < ts[0])
    return net, dict(valid=jnp.min(jnp.diff(ts)) > 0, room=room)  # valid: the hypothesis


GRID = [dict(n=n, d=3, datasets=64) for n in (4, 16, 64)]


def points(key, n, d):
    """The dataset a trial sees (also what `--reproduce ... --save` writes)."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def check(build_key, X, y, n, d, drop=0):
    """The claim on a given dataset: what `jaxmem falsify` searches over. score: how far the
    worst point's error is past its rounding tolerance (log10; above 0 it fails)."""
    net, info = staircase(build_key, X, y, drop=drop)
    fit = metrics.fit_report(net, X, y)  # FITS / FAILS / UNDECIDED against a derived bound
    score = jnp.log10(fit["error_over_tolerance"] + 1e-300)
    out = metrics.fit_outcome(fit, info["valid"])
    # no room for a threshold: the float network cannot be built, so nothing is decided
    return dict(out, ok=out["ok"] & info["room"], undecided=out["undecided"] | ~info["room"],
                score=score)


def fits(key, n, d, drop=0):
    return check(jax.random.fold_in(key, 1), *points(key, n, d), n, d, drop)


# falsify=...: `jaxmem falsify` may search all of R^d and real labels for a counterexample
@claim("staircase.interpolates", statement="n threshold units interpolate any n points",
       grids=dict(quick=GRID, full=GRID), rule=Universal(), dataset=points,
       falsify=Falsifiable(check=check, domain=Domain(points="real", labels="real")))
def interpolates(key, n, d):
    return fits(key, n, d)


def check_one_fewer(build_key, X, y, n, d):
    return check(build_key, X, y, n, d, drop=1)


@claim("staircase.one_unit_fewer", statement="n - 1 threshold units interpolate n points "
       "(false on purpose: jaxmem must catch it)", grids=dict(quick=GRID, full=GRID),
       rule=Universal(), dataset=points, falsify=Falsifiable(check=check_one_fewer))
def one_unit_fewer(key, n, d):
    return fits(key, n, d, drop=1)
