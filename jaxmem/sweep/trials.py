"""What a sweep can run: the constructions, the data generators, and the per-dataset trial.

A trial draws dataset i from its key, builds the network and measures it; every output is a
scalar, one record per dataset. Options that fix shapes or branches (k, directions, shuffle)
are static; real-valued ones (theta) are traced, so a sweep over them compiles once
(ECOSYSTEM.md 2.3).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import data as data_mod
from jaxmem import metrics, network
from jaxmem.constructions import bubeck2020, genzel2023, zhang2017
from jaxmem.sweep import datasets

# Random data, a fresh dataset per index: (key, n, d, labels=, dtype=) -> (X, y).
GENERATORS = {"gaussian": data_mod.gaussian, "sphere": data_mod.sphere, "cube": data_mod.cube}
# Fixed data, the same points for every index (`jaxmem.sweep.datasets`).
FIXED = datasets.FIXED
DATA = (*GENERATORS, *FIXED)
LABELS = ("sign", "gaussian", "class")
DATA_KEYS = ("data_X", "data_y")  # a fixed dataset's arrays among a trial's arguments


def _positive(name):
    def check(value, config):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"option {name} must be a positive integer; got {value!r}")
    return check


def _boolean(name):
    def check(value, config):
        if not isinstance(value, bool):
            raise ValueError(f"option {name} must be true or false; got {value!r}")
    return check


def _theta(value, config):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"option theta must lie in (0, 1) so that the knots interleave "
                         f"(Zhang et al. 2017, Thm 1); got {value!r}")


def _depth(value, config):
    _positive("k")(value, config)
    if value > config["n"]:
        raise ValueError(f"option k = {value} hidden layers exceeds n = {config['n']} points")


def _nonnegative(name):
    def check(value, config):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ValueError(f"option {name} must be a finite number >= 0; got {value!r}")
    return check


def _one_of(name, choices):
    def check(value, config):
        if value not in choices:
            raise ValueError(f"option {name} must be one of {', '.join(choices)}; got {value!r}")
    return check


@dataclasses.dataclass(frozen=True)
class Construction:
    """A builder and its options: name -> (default, check(value, config))."""
    build: Callable
    citation: str
    task: str | None = None                 # "binary": +-1 labels only; "multiclass": class
    # (key, X, y, **options) -> dict of scalars, a construction's own measurements in place
    # of the generic build + forward-pass check (Genzel et al.: its bookkeeping is exact)
    trial: Callable | None = None
    static: dict = dataclasses.field(default_factory=dict)
    dynamic: dict = dataclasses.field(default_factory=dict)

    def options(self) -> dict:
        return {**self.static, **self.dynamic}


def _genzel_scalars(info) -> dict:
    return dict(ok=info["interpolated"], interpolated=info["interpolated"],
                second_layer_width=info["second_layer_width"], uncovered=info["uncovered"],
                candidates_tried=info["candidates_tried"],
                paper_param_count=info["paper_param_count"],
                first_layer_width=info["first_layer_width"])


def genzel_trial(key, X, y, **options) -> dict:
    """Algorithm 2 on one dataset, measured by its bookkeeping: exact for threshold features
    (tests/test_genzel2023.py checks it against forward passes), and it skips a forward pass
    through n_points padded second-layer slots. sign_accuracy = 1 - uncovered / n_points,
    since the -1 class is never misclassified."""
    _, info = genzel2023.build(key, X, y, **options)
    out = _genzel_scalars(info)
    out["sign_accuracy"] = 1 - info["uncovered"] / X.shape[0]
    return out


def genzel_multiclass_trial(key, X, labels, *, num_classes, **options) -> dict:
    """The one-vs-rest extension on one dataset (shared first layer), by its bookkeeping;
    accuracy counts a point right when its own class covers it (the strict criterion)."""
    *_, info = genzel2023.fit_multiclass(key, X, labels, num_classes=num_classes, **options)
    out = _genzel_scalars(info)
    out["accuracy"] = 1 - info["uncovered"] / X.shape[0]
    return out


def _classes(value, config):
    _positive("num_classes")(value, config)
    if config["data"] in FIXED and value != FIXED[config["data"]].num_classes:
        raise ValueError(f"data {config['data']} has {FIXED[config['data']].num_classes} "
                         f"classes; got num_classes = {value}")


_GENZEL_OPTIONS = dict(width=(100, _positive("width")),
                       activation=("threshold", _one_of("activation", genzel2023.ACTIVATIONS)))

CONSTRUCTIONS = {
    "zhang2017": Construction(
        zhang2017.build, "Zhang et al. 2017, Thm 1: 2n + d weights, width n",
        static=dict(directions=(1, _positive("directions"))), dynamic=dict(theta=(0.01, _theta))),
    "zhang2017.depth_k": Construction(
        zhang2017.build_depth_k, "Zhang et al. 2017, App. C: k layers of width ceil(n/k) + 2",
        static=dict(k=(2, _depth), directions=(1, _positive("directions"))),
        dynamic=dict(theta=(0.01, _theta))),
    "bubeck2020": Construction(
        bubeck2020.build, "Bubeck et al. 2020: 4 ceil(n/d) ReLU units, real labels",
        static=dict(shuffle=(False, _boolean("shuffle")))),
    "baum1988": Construction(
        bubeck2020.build_baum, "Baum 1988: threshold slabs, 2 ceil(m/d) units, +-1 labels",
        task="binary"),
    "genzel2023": Construction(
        genzel2023.build, "Dirksen, Finke, Genzel 2023, Alg. 2: random threshold layer of width "
        "n, greedy second layer, OR; +-1 labels (+1 is covered)", task="binary",
        trial=genzel_trial, static=dict(_GENZEL_OPTIONS),
        dynamic=dict(max_bias=(1.0, _nonnegative("max_bias")))),
    "genzel2023.multiclass": Construction(
        genzel2023.build_multiclass, "Dirksen, Finke, Genzel 2023: one-vs-rest with a shared "
        "first layer; class labels", task="multiclass", trial=genzel_multiclass_trial,
        static=dict(_GENZEL_OPTIONS, num_classes=(10, _classes)),
        dynamic=dict(max_bias=(1.0, _nonnegative("max_bias")))),
}


def dataset_bytes(config: dict) -> int:
    """A generous estimate of one dataset's working memory in a trial, in bytes (Python ints:
    no overflow for absurd grids such as d = 10^9): the points, and the hidden activations of
    every point, with 4x for XLA's temporaries. Hidden units per point: n (Zhang et al.'s
    width-n layer, and the depth-k variant's layers together), 4 ceil(n/d) (Bubeck et al.),
    2 ceil(n/d) (Baum); Dirksen et al.'s threshold features are `width` per point, held as
    bits and bytes (its second layer is bookkept, not evaluated)."""
    n, d = int(config["n"]), int(config["d"])
    itemsize = 8 if config.get("dtype", "float64") == "float64" else 4
    construction = config.get("construction", "")
    if construction.startswith("genzel2023"):
        width = int(config.get("width", CONSTRUCTIONS[construction].options()["width"][0]))
        return 4 * itemsize * (n * d + n) + 2 * n * width
    units = {"bubeck2020": 4 * -(-n // d), "baum1988": 2 * -(-n // d)}.get(construction, n)
    return 4 * itemsize * (n * d + n * units + n)


def check_config(config: dict) -> None:
    """ValueError naming the first bad entry of a config (before anything compiles)."""
    for axis in ("n", "d"):
        value = config.get(axis)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{axis} must be a positive integer (it fixes a shape); got {value!r}")
    entry = CONSTRUCTIONS[config["construction"]]
    data = config["data"]
    if data in FIXED:
        fixed = FIXED[data]
        if config["d"] != fixed.dim:
            raise ValueError(f"data {data} has dimension {fixed.dim}; got d = {config['d']}")
        if config["labels"] != fixed.labels:
            raise ValueError(f"data {data} has {fixed.labels} labels; got labels = "
                             f"{config['labels']!r}")
        datasets.fixed_dataset(data, config["n"], config["dtype"])  # n too large: an error
    elif config["labels"] == "class":
        raise ValueError(f"class labels come with a fixed dataset ({', '.join(FIXED)}); "
                         f"data {data} draws sign or gaussian labels")
    if (entry.task == "multiclass") != (config["labels"] == "class"):
        raise ValueError(f"construction {config['construction']} needs "
                         + ("class labels" if entry.task == "multiclass" else
                            "sign or gaussian labels") + f"; got labels = {config['labels']!r}")
    for name, (default, check) in entry.options().items():
        check(config.get(name, default), config)


def split_options(config: dict) -> tuple[tuple, dict]:
    """(static options as sorted (name, value) pairs, dynamic options as a dict of floats)."""
    entry = CONSTRUCTIONS[config["construction"]]
    static = tuple(sorted((k, config.get(k, default)) for k, (default, _) in entry.static.items()))
    dynamic = {k: float(config.get(k, default)) for k, (default, _) in entry.dynamic.items()}
    return static, dynamic


def data_arguments(config: dict) -> dict:
    """A fixed dataset's arrays, passed to the block program as arguments (DATA_KEYS); {}
    for random data, which each trial draws from its key."""
    if config["data"] not in FIXED:
        return {}
    X, y = datasets.fixed_dataset(config["data"], config["n"], config["dtype"])
    return dict(zip(DATA_KEYS, (X, y)))


def static_arguments(config: dict) -> dict:
    """The keyword arguments of `construction_trial` that fix the compiled program."""
    static, _ = split_options(config)
    return dict(construction=config["construction"], data=config["data"],
                labels=config["labels"], dtype=config["dtype"], n=config["n"], d=config["d"],
                options=static)


def _dataset_and_options(key, dynamic, *, data, labels, dtype, n, d, options):
    dt = jnp.dtype(dtype)
    if data in FIXED:  # the same points for every index; the key varies the construction
        X, y = dynamic["data_X"], dynamic["data_y"]
    else:
        X, y = GENERATORS[data](jax.random.fold_in(key, 0), n, d, labels=labels, dtype=dt)
    options = {**dict(options), **{k: jnp.asarray(v, dt) for k, v in dynamic.items()
                                   if k not in DATA_KEYS}}
    return X, y, options


def construction_network(key, dynamic, *, construction, **static):
    """(net, X, y, info) of one dataset, as `construction_trial` builds them (for re-deciding
    an undecided fit on the host, `redecide`)."""
    X, y, options = _dataset_and_options(key, dynamic, **static)
    net, info = CONSTRUCTIONS[construction].build(jax.random.fold_in(key, 1), X, y, **options)
    return net, X, y, info


@functools.lru_cache(maxsize=None)
def _network_program(static: tuple):
    return jax.jit(functools.partial(construction_network, **dict(static)))


def redecide(static: tuple, key, dynamic) -> dict:
    """An undecided dataset's fit re-decided on the host: the network rebuilt (one compiled
    program per config) and decided in twice the precision, then exactly
    (`metrics.exact_fit_report`). Returns the record fields it changes."""
    net, X, y, info = _network_program(static)(key, dynamic)
    report = metrics.exact_fit_report(net, X, y)
    valid = bool(np.asarray(info.get("valid", True)))
    return dict(metrics.fit_outcome(report, valid), interpolates=report["interpolates"],
                redecided=True)


def construction_trial(key, dynamic, *, construction, data, labels, dtype, n, d, options):
    """One dataset: draw it, build the network, measure it. Returns a dict of scalars."""
    entry = CONSTRUCTIONS[construction]
    if entry.trial is not None:
        X, y, opts = _dataset_and_options(key, dynamic, data=data, labels=labels, dtype=dtype,
                                          n=n, d=d, options=options)
        return entry.trial(jax.random.fold_in(key, 1), X, y, **opts)
    net, X, y, info = construction_network(key, dynamic, construction=construction, data=data,
                                           labels=labels, dtype=dtype, n=n, d=d,
                                           options=options)
    fit = metrics.fit_report(net, X, y)
    f32 = metrics.float32_report(net, X, y)
    weights = metrics.weight_stats(net)
    # Constructions without a degenerate case (Genzel et al.'s randomized one) report no flag.
    valid = jnp.asarray(info.get("valid", True))
    # ok: decided and fitting; undecided: valid, no failing point, but some point the
    # rounding bound cannot decide (metrics.value_decisions), never counted as a pass.
    out = dict(
        **metrics.fit_outcome(fit, valid),
        redecided=jnp.asarray(False),     # set by the sweep's host re-decision (`redecide`)
        valid=valid,
        interpolates=fit["interpolates"],
        max_abs_error=fit["max_abs_error"],
        tolerance_over_scale=fit["tolerance_over_scale"],
        error_over_tolerance=fit["error_over_tolerance"],
        sign_accuracy=fit["sign_accuracy"],
        tie_fraction=fit["tie_fraction"],
        margin=fit["margin"],
        deployable_f32=f32["deployable_f32"],
        max_abs_error_f32=f32["max_abs_error_f32"],
        sign_accuracy_f32=f32["sign_accuracy_f32"],
        param_count=network.param_count(net),
        nonzero_param_count=network.nonzero_param_count(net),
        hidden_units=jnp.sum(network.widths(net)),
        depth=jnp.asarray(network.depth(net)),
        max_abs_weight=weights["max_abs_weight"],
        path_norm=weights["path_norm"],
    )
    # The construction's own scalar diagnostics (min_gap, min_gamma, shared_param_count, ...).
    for name, value in info.items():
        if name not in out and jnp.ndim(value) == 0:
            out[name] = value
    return out
