"""What a sweep can run: the constructions, the data generators, and the per-dataset trial.

A trial draws dataset i from its key, builds the network and measures it; every output is a
scalar, one record per dataset. Options that fix shapes or branches (k, directions, shuffle)
are static; real-valued ones (theta) are traced, so a sweep over them compiles once
(docs/jax-notes.md §2.3).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.constructions import protocol
from jaxmem.data import families
from jaxmem.data.validate import positive_int
from jaxmem.sweep import datasets

LABELS = families.LABELS
DATA_KEYS = ("data_X", "data_y")  # a fixed dataset's arrays among a trial's arguments
SHAPE_AXES = ("n", "d")


def construction_of(config: dict) -> protocol.Construction:
    """The config's construction (a registered name or package.module:function)."""
    return protocol.resolve(config["construction"])


def family_of(config: dict) -> families.DataFamily:
    """The config's data family (a registered name or file:PATH)."""
    return families.resolve(config["data"])


def dataset_bytes(config: dict) -> int:
    """A generous estimate of one dataset's working memory in a trial, in bytes (Python ints:
    no overflow for absurd grids such as d = 10^9): the construction's own estimate
    (`Construction.memory`), else the points and n hidden activations per point, with 4x for
    XLA's temporaries."""
    n, d = int(config["n"]), int(config["d"])
    itemsize = 8 if config.get("dtype", "float64") == "float64" else 4
    entry = construction_of(config)
    if entry.memory is not None:
        options = {k: config.get(k, o.default) for k, o in entry.options.items()}
        return int(entry.memory(n, d, itemsize, options))
    return 4 * itemsize * (n * d + n * n + n)


def check_config(config: dict) -> None:
    """ValueError naming the first bad entry of a config (before anything compiles)."""
    for axis in SHAPE_AXES:
        positive_int(axis, config.get(axis))  # it fixes a shape
    entry, family = construction_of(config), family_of(config)
    data, labels = config["data"], config["labels"]
    if family.dim is not None and config["d"] != family.dim:
        raise ValueError(f"data {data} has dimension {family.dim}; got d = {config['d']}")
    if labels not in family.labels:
        hint = ""
        if labels == "class":
            with_classes = [f.name for f in families.DATA_FAMILIES.all() if "class" in f.labels]
            hint = f" (class labels come with a fixed dataset: {', '.join(with_classes)})"
        raise ValueError(
            f"data {data} gives {' or '.join(family.labels)} labels; got labels = {labels!r}{hint}"
        )
    if family.fixed:
        datasets.fixed_dataset(data, config["n"], config["dtype"])  # n too large: an error
    needs = {"binary": ("sign",), "multiclass": ("class",), "real": ("sign", "gaussian")}
    if labels not in needs[entry.task]:
        raise ValueError(
            f"construction {config['construction']} needs "
            + " or ".join(needs[entry.task])
            + f" labels; got labels = {labels!r}"
        )
    if (
        entry.task == "multiclass"
        and "num_classes" in entry.options
        and config.get("num_classes", entry.options["num_classes"].default) != family.num_classes
    ):
        raise ValueError(
            f"data {data} has {family.num_classes} classes; got num_classes = "
            f"{config.get('num_classes', entry.options['num_classes'].default)}"
        )
    family.check(config)
    entry.check(config)


def split_options(config: dict) -> tuple[tuple, dict]:
    """(static options as sorted (name, value) pairs, dynamic options as a dict of floats)."""
    entry = construction_of(config)
    static = tuple(sorted((k, config.get(k, o.default)) for k, o in entry.static.items()))
    dynamic = {k: float(config.get(k, o.default)) for k, o in entry.dynamic.items()}
    return static, dynamic


def data_options(config: dict) -> tuple:
    """The data family's options as sorted (name, value) pairs (static)."""
    family = family_of(config)
    return tuple(sorted((k, config.get(k, o.default)) for k, o in family.options.items()))


def data_arguments(config: dict) -> dict:
    """A fixed dataset's arrays, passed to the block program as arguments (DATA_KEYS); {}
    for random data, which each trial draws from its key."""
    if not family_of(config).fixed:
        return {}
    X, y = datasets.fixed_dataset(config["data"], config["n"], config["dtype"])
    return dict(zip(DATA_KEYS, (X, y)))


def static_arguments(config: dict) -> dict:
    """The keyword arguments of `construction_trial` that fix the compiled program."""
    static, _ = split_options(config)
    return dict(
        construction=config["construction"],
        data=config["data"],
        labels=config["labels"],
        dtype=config["dtype"],
        n=config["n"],
        d=config["d"],
        options=static,
        data_options=data_options(config),
    )


def _dataset_and_options(key, dynamic, *, data, labels, dtype, n, d, options, data_options=()):
    dt = jnp.dtype(dtype)
    family = families.resolve(data)
    if family.fixed:  # the same points for every index; the key varies the construction
        X, y = dynamic["data_X"], dynamic["data_y"]
    else:
        X, y = family.draw(
            jax.random.fold_in(key, 0), n, d, labels=labels, dtype=dt, **dict(data_options)
        )
    options = {
        **dict(options),
        **{k: jnp.asarray(v, dt) for k, v in dynamic.items() if k not in DATA_KEYS},
    }
    return X, y, options


def construction_network(key, dynamic, *, construction, **static):
    """(net, X, y, info) of one dataset, as `construction_trial` builds them (for re-deciding
    an undecided fit on the host, `redecide`)."""
    X, y, options = _dataset_and_options(key, dynamic, **static)
    net, info = protocol.resolve(construction).build(jax.random.fold_in(key, 1), X, y, **options)
    return net, X, y, protocol.standard_info(net, info)


@functools.cache
def _network_program(static: tuple):
    return jax.jit(functools.partial(construction_network, **dict(static)))


def redecide(static: tuple, key, dynamic) -> dict:
    """An undecided dataset's fit re-decided on the host: the network rebuilt (one compiled
    program per config) and decided in twice the precision, then exactly
    (`metrics.exact_fit_report`). Returns the record fields it changes."""
    net, X, y, info = _network_program(static)(key, dynamic)
    report = metrics.exact_fit_report(net, X, y)
    valid = bool(np.asarray(info.get("valid", True)))
    return dict(
        metrics.fit_outcome(report, valid), interpolates=report["interpolates"], redecided=True
    )


def construction_trial(
    key, dynamic, *, construction, data, labels, dtype, n, d, options, data_options=()
):
    """One dataset: draw it, build the network, measure it. Returns a dict of scalars."""
    entry = protocol.resolve(construction)
    static = dict(
        data=data, labels=labels, dtype=dtype, n=n, d=d, options=options, data_options=data_options
    )
    if entry.trial is not None:
        X, y, opts = _dataset_and_options(key, dynamic, **static)
        return entry.trial(jax.random.fold_in(key, 1), X, y, **opts)
    net, X, y, info = construction_network(key, dynamic, construction=construction, **static)
    if not isinstance(net, network.Network):
        raise TypeError(
            f"construction {construction} returns a {type(net).__name__}, which "
            f"the sweep's generic measurement cannot bound (it needs a "
            f"jaxmem.network.Network); declare its own trial= in @construction"
        )
    fit = metrics.fit_report(net, X, y)
    f32 = metrics.float32_report(net, X, y)
    weights = metrics.weight_stats(net)
    # Constructions without a degenerate case (Genzel et al.'s randomized one) report no flag.
    valid = jnp.asarray(info.get("valid", True))
    # ok: decided and fitting; undecided: valid, no failing point, but some point the
    # rounding bound cannot decide (metrics.value_decisions), never counted as a pass.
    out = dict(
        **metrics.fit_outcome(fit, valid),
        redecided=jnp.asarray(False),  # set by the sweep's host re-decision (`redecide`)
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
        param_count=info["param_count"],
        nonzero_param_count=info["nonzero_param_count"],
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


def _host_dataset(key, dynamic, **static):
    X, y, _ = _dataset_and_options(key, dynamic, **static)
    return X, y


@functools.cache
def _host_dataset_program(static: tuple):
    return jax.jit(functools.partial(_host_dataset, **dict(static)))


def host_trial(key, dynamic, *, construction, **static) -> dict:
    """One dataset of a host construction (exact arithmetic, Python control flow): the same
    dataset as the compiled trials draw (one compiled draw per config), the builder run on the
    host with NumPy arrays, and its network measured exactly: an ExactNetwork's outputs are
    compared with the labels as rationals, so nothing is undecided. A construction's own
    `trial` replaces the measurement."""
    from jaxmem import exact

    entry = protocol.resolve(construction)
    X, y = _host_dataset_program(tuple(sorted(static.items())))(key, dynamic)
    X, y = np.asarray(X), np.asarray(y)
    # options as the grid gave them (a string or None stays one; traced floats as floats)
    options = {
        **dict(static["options"]),
        **{k: float(v) for k, v in dynamic.items() if k not in DATA_KEYS},
    }
    build_key = jax.random.fold_in(key, 1)
    if entry.trial is not None:
        return entry.trial(build_key, X, y, **options)
    if entry.measure is not None:
        return protocol.measure_host(entry, build_key, X, y, **options)
    net, info = entry.build(build_key, X, y, **options)
    if net is None:  # the construction's hypotheses failed before a network existed
        net, info = (
            exact.make([exact.layer(np.zeros((X.shape[1], 1), int), np.zeros(1, int), "identity")]),
            dict(info, valid=False, param_count=0, nonzero_param_count=0),
        )
    info = protocol.standard_info(net, info)
    if not isinstance(net, exact.ExactNetwork):
        raise TypeError(
            f"host construction {construction} returns a {type(net).__name__}; "
            f"the generic host measurement needs a jaxmem.exact.ExactNetwork "
            f"(declare its own trial= in @construction)"
        )
    outputs = exact.apply(net, X, allow_float=True)
    if outputs.ndim > 1:
        outputs = outputs[:, 0]
    labels = exact.exact_array("y", y, allow_float=True, ndim=1)
    fits = outputs == labels
    signs = np.array([(o > 0) - (o < 0) for o in outputs]) == np.sign(y)
    valid = bool(np.asarray(info["valid"]))
    out = dict(
        ok=valid and bool(fits.all()),
        undecided=False,
        redecided=False,
        valid=valid,
        interpolates=bool(fits.all()),
        sign_accuracy=float(signs.mean()),
        max_abs_error=float(max(abs(o - t) for o, t in zip(outputs, labels))),
        param_count=int(info["param_count"]),
        nonzero_param_count=int(info["nonzero_param_count"]),
        depth=len(net.layers),
        hidden_units=sum(lay.n_out for lay in net.layers[:-1]),
        max_bit_length=exact.max_bit_length(net),
    )
    for name, value in info.items():
        if name not in out and np.ndim(value) == 0:
            out[name] = float(value) if not isinstance(value, (bool, np.bool_)) else bool(value)
    return out
