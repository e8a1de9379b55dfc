"""Claims of Bubeck, Eldan, Lee, Mikulincer (NeurIPS 2020), "Network size and size of the
weights in memorization with two-layers neural networks", and of Baum (1988), whose threshold
network their paper starts from."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.constructions import bubeck2020
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Universal, exact_fit, fit_outcome, pairs, register

CITATION = ("Bubeck, Eldan, Lee, Mikulincer. Network size and size of the weights in "
            "memorization with two-layers neural networks. NeurIPS 2020.")
BAUM = ("Baum. On the capabilities of multilayer perceptrons. J. Complexity 4(3):193-215, "
        "1988 (as stated in Bubeck et al. 2020).")


def relu_dataset(key, n, d, **_):
    """Gaussian points (in general position almost surely), real Gaussian labels."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def binary_dataset(key, n, d, **_):
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="sign")


def relu_parts(key, n, d):
    X, y = relu_dataset(key, n, d)
    net, info = bubeck2020.build(jax.random.fold_in(key, 1), X, y)
    units = network.widths(net)[0]
    units_ok = units == 4 * math.ceil(n / d)
    count_ok = network.param_count(net) == units * (d + 1) + units + 1
    return net, X, y, info["valid"] & units_ok & count_ok, info


def relu_rebuild(key, n, d) -> bool:
    """Theorem check in exact arithmetic: the construction rebuilt in rationals
    (`bubeck2020.build_exact`, same groups) interpolates exactly with 4 ceil(n/d) units and
    the dense count."""
    from fractions import Fraction

    from jaxmem import exact
    X, y = relu_dataset(key, n, d)
    net, info = bubeck2020.build_exact(X, y)
    if net is None:
        return False
    units = net.layers[0].n_out
    f = exact.apply(net, np.asarray(X, np.float64).astype(object), allow_float=True)
    return (units == 4 * math.ceil(n / d)
            and exact.param_count(net) == units * (d + 1) + units + 1
            and all(fi == Fraction(float(yi)) for fi, yi in zip(f, np.asarray(y, np.float64))))


def relu_trial(key, n, d):
    net, X, y, checks_ok, info = relu_parts(key, n, d)
    fit = metrics.fit_report(net, X, y)
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], valid=info["valid"],
                hidden_units=network.widths(net)[0],
                param_count=network.param_count(net), max_abs_error=fit["max_abs_error"],
                error_over_tolerance=fit["error_over_tolerance"],
                tolerance_over_scale=fit["tolerance_over_scale"],
                min_gamma=info["min_gamma"], max_out_weight=info["max_out_weight"])


def baum_parts(key, n, d):
    X, y = binary_dataset(key, n, d)
    net, info = bubeck2020.build_baum(jax.random.fold_in(key, 1), X, y)
    units = network.widths(net)[0]
    minority = info["minority_size"]
    units_ok = (units == 2 * ((minority + d - 1) // d)) & (units <= math.ceil(n / d) + 1)
    return net, X, y, info["valid"] & units_ok, info


def baum_trial(key, n, d):
    net, X, y, checks_ok, info = baum_parts(key, n, d)
    fit = metrics.fit_report(net, X, y)
    # A tie (output exactly 0) is an error even where the value fit is undecided.
    checks_ok = checks_ok & (fit["tie_fraction"] == 0)
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], valid=info["valid"],
                hidden_units=network.widths(net)[0],
                minority_size=info["minority_size"], sign_accuracy=fit["sign_accuracy"],
                tie_fraction=fit["tie_fraction"], threshold_margin=info["threshold_margin"],
                max_abs_error=fit["max_abs_error"])


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
)

CLAIMS = [RELU, BAUM1988]

register(*CLAIMS)
