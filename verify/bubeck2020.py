"""Claims of Bubeck, Eldan, Lee, Mikulincer (NeurIPS 2020), "Network size and size of the
weights in memorization with two-layers neural networks", and of Baum (1988), whose threshold
network their paper starts from."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.constructions import bubeck2020
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Universal, exact_fit, fit_outcome, pairs, register
from jaxmem.falsify import Domain, Falsifiable, construction_key

CITATION = ("Bubeck, Eldan, Lee, Mikulincer. Network size and size of the weights in "
            "memorization with two-layers neural networks. NeurIPS 2020.")
BAUM = ("Baum. On the capabilities of multilayer perceptrons. J. Complexity 4(3):193-215, "
        "1988 (as stated in Bubeck et al. 2020).")


def relu_dataset(key, n, d, **_):
    """Gaussian points (in general position almost surely), real Gaussian labels."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def binary_dataset(key, n, d, **_):
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="sign")


# --------------------------------------------------------------------------------------------
# The theorems' hypothesis: n points in general position
# --------------------------------------------------------------------------------------------

MAX_SUBSETS = 4096  # general position is decided over every subset up to this many


def _subsets(n: int, d: int):
    """The subsets whose affine independence is general position (every min(n, d + 1) points
    affinely independent: no d + 1 on a hyperplane), or None when there are too many."""
    k = min(n, d + 1)
    if k < 2 or math.comb(n, k) > MAX_SUBSETS:
        return None
    return list(itertools.combinations(range(n), k))


def distinct_rows(X):
    """No two rows equal (traceable: neighbours after a lexicographic sort)."""
    X = jnp.asarray(X)
    Xs = X[jnp.lexsort(X.T[::-1])]
    return jnp.all(jnp.any(Xs[1:] != Xs[:-1], axis=1))


def general_position(X):
    """The theorems' hypothesis on (X, y), in float64 (for `jaxmem falsify`): every subset of
    min(n, d + 1) points affinely independent (the Gram determinant of its differences, each
    subset scaled to its largest entry, is positive). With more than MAX_SUBSETS subsets only
    distinct points are checked (a necessary condition). Rounding can call a degenerate set
    independent; the exact step (`general_position_exact`) decides those."""
    X = jnp.asarray(X)
    n, d = X.shape
    subsets = _subsets(n, d)
    if subsets is None:
        return distinct_rows(X)
    S = X[jnp.asarray(subsets)]
    D = S[:, 1:] - S[:, :1]
    top = jnp.max(jnp.abs(D), axis=(1, 2), keepdims=True)
    D = D / jnp.where(top > 0, top, 1)
    return jnp.all(jnp.linalg.det(D @ jnp.swapaxes(D, 1, 2)) > 0)


def _rank(M: list[list[Fraction]]) -> int:
    M, rank = [row[:] for row in M], 0
    for c in range(len(M[0]) if M else 0):
        pivot = next((i for i in range(rank, len(M)) if M[i][c] != 0), None)
        if pivot is None:
            continue
        M[rank], M[pivot] = M[pivot], M[rank]
        for i in range(rank + 1, len(M)):
            f = M[i][c] / M[rank][c]
            if f:
                M[i] = [a - f * b for a, b in zip(M[i], M[rank])]
        rank += 1
    return rank


def general_position_exact(X) -> bool:
    """`general_position` in rational arithmetic (each float at its exact binary value)."""
    rows = [[Fraction(float(v)) for v in row] for row in np.asarray(X, np.float64)]
    n, d = len(rows), len(rows[0]) if rows else 0
    subsets = _subsets(n, d)
    if subsets is None:
        return len(set(map(tuple, rows))) == n
    return all(_rank([[a - b for a, b in zip(rows[i], rows[s[0]])] for i in s[1:]]) == len(s) - 1
               for s in subsets)


# --------------------------------------------------------------------------------------------
# Bubeck et al.: 4 ceil(n/d) ReLU units, real labels
# --------------------------------------------------------------------------------------------

def relu_network(build_key, X, y, n, d):
    """The construction on (X, y) and whether its sizes are the theorem's: 4 ceil(n/d) units,
    dense count units (d + 1) + units + 1."""
    net, info = bubeck2020.build(build_key, X, y)
    units = network.widths(net)[0]
    units_ok = units == 4 * math.ceil(n / d)
    count_ok = network.param_count(net) == units * (d + 1) + units + 1
    return net, info["valid"] & units_ok & count_ok, info


def relu_parts(key, n, d):
    X, y = relu_dataset(key, n, d)
    net, checks_ok, info = relu_network(construction_key(key), X, y, n, d)
    return net, X, y, checks_ok, info


def _relu_fits_exact(build_key, X, y, n, d) -> bool:
    """The construction rebuilt in rationals (`bubeck2020.build_exact_from_key`: the groups and
    the offset of `build` with the same key) interpolates exactly with 4 ceil(n/d) units and
    the dense count."""
    from jaxmem import exact
    net, info = bubeck2020.build_exact_from_key(build_key, X, y)
    if net is None:
        return False
    units = net.layers[0].n_out
    f = exact.apply(net, np.asarray(X, np.float64).astype(object), allow_float=True)
    return (units == 4 * math.ceil(n / d)
            and exact.param_count(net) == units * (d + 1) + units + 1
            and all(fi == Fraction(float(yi)) for fi, yi in zip(f, np.asarray(y, np.float64))))


def relu_rebuild(key, n, d) -> bool:
    """Theorem check in exact arithmetic on dataset `key` (`_relu_fits_exact`)."""
    return _relu_fits_exact(construction_key(key), *relu_dataset(key, n, d), n, d)


def relu_check(build_key, X, y, n, d):
    """The theorem on a given dataset. score (for `jaxmem falsify`): log10 of the largest
    output weight 1/delta, which grows as a point nears another group's hyperplane (delta is
    a fraction of that distance gamma); the float network misses by ~u |x| / delta."""
    net, checks_ok, info = relu_network(build_key, X, y, n, d)
    fit = metrics.fit_report(net, X, y)
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], valid=info["valid"],
                hidden_units=network.widths(net)[0],
                param_count=network.param_count(net), max_abs_error=fit["max_abs_error"],
                error_over_tolerance=fit["error_over_tolerance"],
                tolerance_over_scale=fit["tolerance_over_scale"],
                min_gamma=info["min_gamma"], max_out_weight=info["max_out_weight"],
                hypothesis=general_position(X),
                score=jnp.log10(jnp.maximum(info["max_out_weight"], jnp.finfo(X.dtype).tiny)))


def relu_trial(key, n, d):
    return relu_check(construction_key(key), *relu_dataset(key, n, d), n=n, d=d)


def relu_exact(build_key, X, y, n, d):
    """`relu_check` in rational arithmetic: general position decided exactly (a dataset that
    breaks it is no counterexample: undecided), then `_relu_fits_exact`."""
    if not general_position_exact(X):
        return dict(ok=False, undecided=True)
    return dict(ok=_relu_fits_exact(build_key, X, y, n, d), undecided=False)


# --------------------------------------------------------------------------------------------
# Baum: threshold slabs, +-1 labels
# --------------------------------------------------------------------------------------------

def baum_network(build_key, X, y, n, d):
    """Baum's network on (X, y) and whether its units are 2 ceil(m/d) <= ceil(n/d) + 1."""
    net, info = bubeck2020.build_baum(build_key, X, y)
    units = network.widths(net)[0]
    minority = info["minority_size"]
    units_ok = (units == 2 * ((minority + d - 1) // d)) & (units <= math.ceil(n / d) + 1)
    return net, info["valid"] & units_ok, info


def baum_parts(key, n, d):
    X, y = binary_dataset(key, n, d)
    net, checks_ok, info = baum_network(construction_key(key), X, y, n, d)
    return net, X, y, checks_ok, info


def baum_check(build_key, X, y, n, d):
    """Baum's theorem on a given dataset. score (for `jaxmem falsify`): -log10 of the
    threshold margin relative to the data's scale: a unit whose pre-activation reaches 0 on
    a point (H(0) = 0) or a point inside another group's slab breaks the fit. Not
    differentiable in the network's output (thresholds); the margin is."""
    net, checks_ok, info = baum_network(build_key, X, y, n, d)
    fit = metrics.fit_report(net, X, y)
    # A tie (output exactly 0) is an error even where the value fit is undecided.
    checks_ok = checks_ok & (fit["tie_fraction"] == 0)
    tiny = jnp.finfo(X.dtype).tiny
    scale = jnp.maximum(jnp.max(jnp.abs(X)), tiny)
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], valid=info["valid"],
                hidden_units=network.widths(net)[0],
                minority_size=info["minority_size"], sign_accuracy=fit["sign_accuracy"],
                tie_fraction=fit["tie_fraction"], threshold_margin=info["threshold_margin"],
                max_abs_error=fit["max_abs_error"],
                hypothesis=general_position(X),
                score=-jnp.log10(jnp.maximum(info["threshold_margin"], tiny) / scale))


def baum_exact(build_key, X, y, n, d):
    """`baum_check` in rational arithmetic: general position decided exactly (a dataset that
    breaks it is no counterexample: undecided), then Baum's network rebuilt in rationals
    (`bubeck2020.build_baum_exact_from_key`: the groups and the offset of the float build)
    labels every point exactly with 2 ceil(m/d) <= ceil(n/d) + 1 units."""
    from jaxmem import exact
    if not general_position_exact(X):
        return dict(ok=False, undecided=True)
    net, info = bubeck2020.build_baum_exact_from_key(build_key, X, y)
    if net is None:
        return dict(ok=False, undecided=False)
    minority = int(min(np.sum(np.asarray(y) > 0), np.sum(np.asarray(y) < 0)))
    units_ok = (info["hidden_units"] == 2 * -(-minority // d)
                and info["hidden_units"] <= math.ceil(n / d) + 1)
    f = exact.apply(net, np.asarray(X, np.float64).astype(object), allow_float=True)
    fits = all(fi == Fraction(float(yi)) for fi, yi in zip(f, np.asarray(y, np.float64)))
    return dict(ok=bool(units_ok and fits), undecided=False)


def baum_trial(key, n, d):
    return baum_check(construction_key(key), *binary_dataset(key, n, d), n=n, d=d)


RELU = Claim(
    id="bubeck2020.relu",
    citation=CITATION,
    statement=("4 ceil(n/d) ReLU units (two layers) fit arbitrary real labels of n points in "
               "general position in R^d exactly."),
    trial=relu_trial,
    grids=dict(quick=pairs([(1, 10), (50, 1), (20, 20), (500, 10)], datasets=96),
               full=expand(n=[1, 50, 500, 2000, 4000], d=[1, 2, 10, 50], datasets=1000)),
    rule=Universal(),
    dataset=relu_dataset,
    exact=exact_fit(relu_parts, rebuild=relu_rebuild),
    falsify=Falsifiable(check=relu_check, domain=Domain(points="real", labels="real"),
                        score="score", exact=relu_exact),
)

BAUM1988 = Claim(
    id="baum1988.threshold",
    citation=BAUM,
    statement=("A two-layer threshold network with 2 ceil(m/d) <= ceil(n/d) + 1 units (m the "
               "smaller class) fits any +-1 labels of n points in general position in R^d."),
    trial=baum_trial,
    grids=dict(quick=pairs([(2, 1), (50, 10), (500, 1), (500, 10)], datasets=96),
               full=expand(n=[2, 50, 500, 2000, 4000], d=[1, 2, 10, 50], datasets=1000)),
    rule=Universal(),
    dataset=binary_dataset,
    falsify=Falsifiable(check=baum_check, domain=Domain(points="real", labels="sign"),
                        score="score", exact=baum_exact),
)

CLAIMS = [RELU, BAUM1988]

register(*CLAIMS)
