"""Claims of Bubeck, Eldan, Lee, Mikulincer (NeurIPS 2020), "Network size and size of the
weights in memorization with two-layers neural networks", and of Baum (1988), whose threshold
network their paper starts from."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxmem import metrics, network
from jaxmem.constructions import bubeck2020
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from verify.claims import Claim, Universal, pairs

CITATION = ("Bubeck, Eldan, Lee, Mikulincer. Network size and size of the weights in "
            "memorization with two-layers neural networks. NeurIPS 2020.")
BAUM = ("Baum. On the capabilities of multilayer perceptrons. J. Complexity 4(3):193-215, "
        "1988 (as stated in Bubeck et al. 2020).")


def relu_dataset(key, n, d, **_):
    """Gaussian points (in general position almost surely), real Gaussian labels."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def binary_dataset(key, n, d, **_):
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="sign")


def relu_trial(key, n, d):
    X, y = relu_dataset(key, n, d)
    net, info = bubeck2020.build(jax.random.fold_in(key, 1), X, y)
    fit = metrics.fit_report(net, X, y)
    units = network.widths(net)[0]
    units_ok = units == 4 * math.ceil(n / d)
    count_ok = network.param_count(net) == units * (d + 1) + units + 1
    return dict(ok=info["valid"] & fit["interpolates"] & units_ok & count_ok,
                interpolates=fit["interpolates"], valid=info["valid"], hidden_units=units,
                param_count=network.param_count(net), max_abs_error=fit["max_abs_error"],
                error_over_tolerance=fit["error_over_tolerance"],
                min_gamma=info["min_gamma"], max_out_weight=info["max_out_weight"])


def baum_trial(key, n, d):
    X, y = binary_dataset(key, n, d)
    net, info = bubeck2020.build_baum(jax.random.fold_in(key, 1), X, y)
    fit = metrics.fit_report(net, X, y)
    units = network.widths(net)[0]
    minority = info["minority_size"]
    units_ok = (units == 2 * ((minority + d - 1) // d)) & (units <= math.ceil(n / d) + 1)
    return dict(ok=info["valid"] & fit["interpolates"] & units_ok & (fit["tie_fraction"] == 0),
                interpolates=fit["interpolates"], valid=info["valid"], hidden_units=units,
                minority_size=minority, sign_accuracy=fit["sign_accuracy"],
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
