"""Claims of Yun, Sra, Jadbabaie (NeurIPS 2019), "Small ReLU networks are powerful memorizers:
a tight analysis of memorization capacity": a 3-layer network (two hidden layers) with
Theta(sqrt N) hidden neurons memorizes N points with arbitrary real labels (Theorem 3.1).

The network checked is YSJ-R, the paper note's exact reference construction
(docs/papers/sublinear.md §5.4, [DERIVED], proved there; jaxmem.constructions.yun2019): the same
Theta(sqrt N) x Theta(sqrt N) widths as the theorem, not the paper's own proof.

What was confirmed in the paper's text (its introduction, SPIQA copy of arXiv 1810.07770):
the definition of finite sample expressivity (for all distinct x_i and all y_i in [-1, 1] a
parameter fits them) and the abstract's claims (Theta(sqrt N) hidden nodes suffice and are
necessary for 3-layer ReLU networks). NOT confirmed (Section 3 could not be read): Theorem
3.1's exact width condition. Note §5.3 gives 4 floor(d1/2) floor(d2/2) >= N for hard-tanh and
4 floor(d1/4) floor(d2/4) >= N for ReLU (secondary sources), C. Hegde's notes
N <= 4 ceil(d1/2) ceil(d2/2) for ReLU. So no claim here encodes those constants: the capacity
claim checks YSJ-R's own, proved capacity (N <= ceil(d1/2) floor(d2/2) for ReLU, N <= d1 d2 for
hard-tanh), which covers the note's two forms (it reports them per width pair) but not
Hegde's, and the neuron count is a scaling claim (exponent 1/2).

Claims (each flips when broken on purpose; tests/test_yun2019.py):
  yun2019.memorizes  Universal. Gaussian data, real labels, N up to 2000: the float64 network's
                     fit is decided (jaxmem.metrics: within the derived tolerance, certified to
                     the labels' resolution; what the float bound leaves open is re-decided
                     in twice the precision, then exactly);
                     widths and parameter count as the table; for small N (exact_check) the
                     same network rebuilt in rational arithmetic fits exactly. Flips:
                     precision="float32" (the float32 criterion), correct_parity=False at even q.
  yun2019.neurons    Scaling of d1 + d2 (counted where the network memorizes) with N, band
                     [0.4, 0.6] around 1/2. Flips: q = 1 (2N + 1 neurons, exponent ~1).
  yun2019.capacity   Universal, exact: at each width pair the network built with those widths
                     memorizes its capacity N exactly. Flips: extra = 1 (N = Kq + 1 needs a
                     (K + 1)-th block: d1 + 2 units), correct_parity=False at even q.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import exact, metrics, network
from jaxmem.constructions import yun2019
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Scaling, Universal, exact_fit, fit_outcome, register
from jaxmem.falsify import Domain, Falsifiable, construction_key

CITATION = ("Yun, Sra, Jadbabaie. Small ReLU networks are powerful memorizers: a tight analysis "
            "of memorization capacity. NeurIPS 2019 (arXiv 1810.07770), Theorem 3.1. Network: "
            "docs/papers/sublinear.md §5.4, construction YSJ-R (derived, exact), not the "
            "paper's proof.")

PRECISIONS = ("float64", "float32")


def dataset(key, N, d, **_):
    """Gaussian points x_i ~ N(0, I/d), real Gaussian labels: 'arbitrary real labels'."""
    return gaussian(jax.random.fold_in(key, 0), N, d, labels="gaussian")


def _sizes_ok(net, N, d, q, activation):
    """Widths and the dense parameter count equal the size table of sublinear.md §5.4."""
    d1, d2 = yun2019.widths(N, q, activation)
    w = network.widths(net)
    return ((w[0] == d1) & (w[1] == d2)
            & (network.param_count(net) == yun2019.param_count(N, d, q, activation)))


# --------------------------------------------------------------------------------------------
# 1. The float64 network interpolates; small N also exactly, in rational arithmetic
# --------------------------------------------------------------------------------------------

def _network(build_key, X, y, N, d, activation, q=None, correct_parity=True):
    """The float64 network on (X, y), its info, and whether its sizes and validity are the
    table's (the checks besides the fit)."""
    net, info = yun2019.build(build_key, X, y, q, activation, correct_parity=correct_parity)
    checks_ok = info["valid"] & _sizes_ok(net, N, d, q, activation)
    return net, checks_ok, info


def _parts(key, N, d, activation, q=None, correct_parity=True):
    """`_network` on dataset `key`: (net, X, y, checks_ok, info)."""
    X, y = dataset(key, N, d)
    net, checks_ok, info = _network(construction_key(key), X, y, N, d, activation, q,
                                    correct_parity)
    return net, X, y, checks_ok, info


def distinct_rows(X):
    """The theorem's hypothesis, N distinct points (traceable: neighbours after a
    lexicographic sort)."""
    X = jnp.asarray(X)
    Xs = X[jnp.lexsort(X.T[::-1])]
    return jnp.all(jnp.any(Xs[1:] != Xs[:-1], axis=1))


def memorizes_check(build_key, X, y, N, d, activation, q=None, exact_check=False,
                    precision="float64", correct_parity=True):
    """The claim on a given dataset. precision="float64": the fit must be decided and hold
    (jaxmem.metrics.fit_report: within the derived rounding tolerance, certified to the
    labels' resolution); a fit the float bound cannot decide is undecided, re-decided on the
    host (`MEMORIZES.exact`). "float32" (a deliberately broken claim) asks for the float32
    criterion instead, `float32_report`'s deployable_f32 (the float64 network cast to
    float32). score (for `jaxmem falsify`): log10 of the largest weight, the slopes
    M_j ~ 2 / (gap between projections) that set the float error."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    net, checks_ok, info = _network(build_key, X, y, N, d, activation, q, correct_parity)
    fit = metrics.fit_report(net, X, y)
    f32 = metrics.float32_report(net, X, y)
    if precision == "float64":
        outcome = fit_outcome(fit, checks_ok)
    else:
        outcome = dict(ok=checks_ok & f32["deployable_f32"], undecided=jnp.asarray(False),
                       undecided_points=jnp.asarray(0))
    out = dict(**outcome, interpolates=fit["interpolates"],
               valid=info["valid"], sizes_ok=_sizes_ok(net, N, d, q, activation),
               hidden_neurons=jnp.sum(network.widths(net)),
               param_count=network.param_count(net),
               max_abs_error=fit["max_abs_error"],
               error_over_tolerance=fit["error_over_tolerance"],
               tolerance_over_scale=fit["tolerance_over_scale"],
               bound_over_scale=fit["bound_over_scale"],
               deployable_f32=f32["deployable_f32"], max_abs_error_f32=f32["max_abs_error_f32"],
               label_scale=info["label_scale"],
               min_gap=info["min_gap"], min_cut_gap=info["min_cut_gap"],
               max_abs_weight=info["max_abs_weight"],
               hypothesis=distinct_rows(X),
               score=jnp.log10(jnp.maximum(info["max_abs_weight"], jnp.finfo(X.dtype).tiny)))
    if exact_check:
        out.update(X=X, y=y, direction=info["direction"], cuts=info["cuts"],
                   float_params=[(lay.weight, lay.bias) for lay in net.layers])
    return out


def memorizes_trial(key, N, d, activation, q=None, exact_check=False, precision="float64",
                    correct_parity=True):
    return memorizes_check(construction_key(key), *dataset(key, N, d), N=N, d=d,
                           activation=activation, q=q, exact_check=exact_check,
                           precision=precision, correct_parity=correct_parity)


_compiled_networks: dict = {}


def _exact_twin(X, y, q, activation, direction, cuts, parity):
    """The network rebuilt in rational arithmetic with the float network's own direction and
    cuts (the same construction without rounding): (net, fits exactly)."""
    net, _ = yun2019.build_exact(X, y, q, activation, direction=direction, cuts=cuts,
                                 allow_float=True, correct_parity=parity)
    f = exact.apply(net, X, allow_float=True)
    return net, all(fv == Fraction(float(yv)) for fv, yv in zip(f, y))


def memorizes_exact(build_key, X, y, N, d, activation, q=None, exact_check=False,
                    precision="float64", correct_parity=True):
    """`memorizes_check` in rational arithmetic: the float build's direction and cuts, the
    network rebuilt exactly (`_exact_twin`), its fit and parameter count. Undecided where the
    exact projections tie on that direction (the construction's random direction failing,
    not the data) or rows coincide (outside the theorem)."""
    items = (N, d, activation, q, correct_parity)
    if items not in _compiled_networks:  # one program per config, not one per operation
        _compiled_networks[items] = jax.jit(functools.partial(
            _network, N=N, d=d, activation=activation, q=q, correct_parity=correct_parity))
    _, _, info = _compiled_networks[items](build_key, jnp.asarray(X), jnp.asarray(y))
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    try:
        net, fits = _exact_twin(X, y, q, activation, np.asarray(info["direction"]),
                                np.asarray(info["cuts"]), correct_parity)
    except ValueError:  # a tie along the direction, or repeated rows
        return dict(ok=False, undecided=True)
    count_ok = exact.param_count(net) == yun2019.param_count(N, d, q, activation)
    return dict(ok=fits and count_ok, undecided=False)


def _memorizes_parts(key, N, d, activation, q=None, exact_check=False, precision="float64",
                     correct_parity=True):
    return _parts(key, N, d, activation, q, correct_parity)


def _relative_difference(float_params, net) -> float:
    """max over layers of max |float - exact| / max |exact|, weights and biases separately."""
    worst = 0.0
    for (W, b), lay in zip(float_params, net.layers):
        for got, want in ((W, lay.weight), (b, lay.bias)):
            want = exact.to_float(want)
            worst = max(worst, float(np.max(np.abs(np.asarray(got) - want))
                                     / max(np.max(np.abs(want)), np.finfo(np.float64).tiny)))
    return worst


def memorizes_host(outs, config):
    """With exact_check: rebuild every dataset's network in rational arithmetic with the float
    network's own direction and cuts (so it is the same construction without rounding) and
    require exact.apply(net, X) == y exactly, and the exact parameter count. Also reported:
    twin_relative_difference, how far the float64 weights are from the exact ones (relative
    to each layer's largest), and cuts_agree, whether the exact path picks the same max-min
    cuts as the jit path on its own (both are information, not part of the verdict)."""
    if not config.get("exact_check"):
        return outs
    X, y = outs.pop("X"), outs.pop("y")
    direction, cuts = outs.pop("direction"), outs.pop("cuts")
    float_params = outs.pop("float_params")
    N, d, activation = config["N"], config["d"], config["activation"]
    q = config.get("q")
    parity = config.get("correct_parity", True)
    exact_ok, bits, twin, agree = [], [], [], []
    for i, (Xi, yi, ui, ci) in enumerate(zip(X, y, direction, cuts)):
        net, fits = _exact_twin(Xi, yi, q, activation, ui, ci, parity)
        exact_ok.append(fits
                        and exact.param_count(net) == yun2019.param_count(N, d, q, activation))
        bits.append(exact.max_bit_length(net))
        twin.append(_relative_difference([(W[i], b[i]) for W, b in float_params], net))
        _, own = yun2019.build_exact(Xi, yi, q, activation, direction=ui, allow_float=True,
                                     correct_parity=parity)
        agree.append(own["cuts"] == ci.tolist())
    outs["exact_ok"] = np.array(exact_ok)
    outs["exact_max_bit_length"] = np.array(bits)
    outs["twin_relative_difference"] = np.array(twin)
    outs["cuts_agree"] = np.array(agree)
    outs["ok"] = outs["ok"] & outs["exact_ok"]
    return outs


def _memorizes_config(N, d, activation, datasets, **extra):
    return dict(N=N, d=d, activation=activation, **extra, datasets=datasets)


MEMORIZES = Claim(
    id="yun2019.memorizes",
    citation=CITATION,
    statement=("A 3-layer network with widths (2K - 1, 2q) (ReLU) or (K, q) (hard-tanh), "
               "K = ceil(N/q), q ~ sqrt(N), fits arbitrary real labels on N distinct points: "
               "in float64 within the derived rounding tolerance (itself below max |y|), and "
               "exactly in rational arithmetic (small N); widths and parameter count as the "
               "size table."),
    trial=memorizes_trial,
    grids=dict(
        quick=[_memorizes_config(1, 3, "relu", 8, exact_check=True),
               _memorizes_config(60, 4, "hardtanh", 16, q=4, exact_check=True),
               _memorizes_config(2000, 20, "relu", 32)],
        full=([_memorizes_config(N, 5, act, 64, exact_check=True, **({"q": q} if q else {}))
               for N, q in [(1, None), (7, None), (40, 4), (150, None), (300, 8)]
               for act in yun2019.ACTIVATIONS]
              # The a-priori tolerance is loose here (largest tolerance / A over 500 datasets
              # 0.22 for relu at N = 2000, d = 20): most relu fits are undecided in float64
              # and re-decided on the host in twice the precision (the slow part of this grid;
              # timings: experiments/results/TIMINGS.md), then exactly for whatever that
              # leaves open.
              + expand(N=[100, 500, 1000, 2000], d=[20], activation=["relu", "hardtanh"],
                       datasets=500)
              + expand(N=[100, 200], d=[1], activation=["relu", "hardtanh"], datasets=500))),
    rule=Universal(),
    host=memorizes_host,
    exact=exact_fit(_memorizes_parts),
    dataset=dataset,
    # real labels on distinct points (`hypothesis`); a float64 miss that the same network
    # rebuilt in rationals fits is a float artefact (`memorizes_exact`)
    falsify=Falsifiable(check=memorizes_check, domain=Domain(points="real", labels="real"),
                        score="score", exact=memorizes_exact, sizes=("N", "d")),
)


# --------------------------------------------------------------------------------------------
# 2. Theta(sqrt N) hidden neurons
# --------------------------------------------------------------------------------------------

def neurons_trial(key, N, d, activation="relu", q=None):
    """Hidden neurons d1 + d2 of the built network, counted only where it verifiably
    memorizes (a decided float64 fit, sizes as the table; NaN, i.e. dropped from the fit,
    elsewhere; undecided fits are re-decided on the host, `NEURONS.exact`). q = 1 (K = N
    blocks of one point: a Zhang-like wide network with 2N + 1 neurons) is a deliberately
    broken variant."""
    net, X, y, checks_ok, _ = _parts(key, N, d, activation, q)
    fit = metrics.fit_report(net, X, y)
    outcome = fit_outcome(fit, checks_ok)
    neurons = jnp.sum(network.widths(net)).astype(X.dtype)
    return dict(hidden_neurons=jnp.where(outcome["ok"], neurons, jnp.nan),
                memorizes=outcome["ok"], undecided=outcome["undecided"],
                param_count=network.param_count(net), max_abs_error=fit["max_abs_error"])


def _neurons_exact(key, N, d, activation="relu", q=None):
    net, X, y, checks_ok, _ = _parts(key, N, d, activation, q)
    decided = exact_fit(lambda *_: (net, X, y, checks_ok))(key)
    neurons = float(np.sum(np.asarray(network.widths(net))))
    return dict(hidden_neurons=neurons if decided["ok"] else np.nan, memorizes=decided["ok"],
                undecided=decided["undecided"])


NEURONS = Claim(
    id="yun2019.neurons",
    citation=CITATION,
    statement=("The memorizing 3-layer network needs Theta(sqrt N) hidden neurons: "
               "d1 + d2 = 2 ceil(N/q) - 1 + 2q ~ 4 sqrt(N) with q ~ sqrt(N) (exponent 1/2)."),
    trial=neurons_trial,
    grids=dict(quick=expand(N=[64, 256, 1024], d=[10], datasets=4),
               full=expand(N=[16, 64, 256, 1024, 2048], d=[10], activation=["relu", "hardtanh"],
                           datasets=16)),
    rule=Scaling(x="N", y="hidden_neurons", predicted=0.5, band=(0.4, 0.6)),
    dataset=dataset,
    exact=_neurons_exact,
)


# --------------------------------------------------------------------------------------------
# 3. Capacity per width pair, exactly
# --------------------------------------------------------------------------------------------

def capacity_points(d1, d2, activation="relu", extra=0) -> int:
    """N = the construction's capacity at widths (d1, d2) plus `extra` (extra = 1: one point
    too many, a deliberately broken claim)."""
    return yun2019.capacity(d1, d2, activation) + extra


def capacity_dataset(key, d1, d2, d, activation="relu", extra=0, **_):
    return dataset(key, capacity_points(d1, d2, activation, extra), d)


def capacity_trial(key, d1, d2, d, activation="relu", extra=0, correct_parity=True):
    """Draws the dataset; everything else is exact, on the host (`capacity_host`)."""
    X, y = capacity_dataset(key, d1, d2, d, activation, extra)
    return dict(X=X, y=y)


def capacity_decide(X, y, d1, d2, d, activation="relu", correct_parity=True):
    """One dataset, exactly: K and q read off the widths (relu: d1 = 2K - 1, d2 = 2q;
    hard-tanh: d1 = K, d2 = q), the exact network built with that q, and required: its hidden
    widths fit in (d1, d2), exact.apply(net, X) == y exactly, and its parameter count is the
    formula's. Returns (fits_widths, exact_ok, (d1_used, d2_used))."""
    q = d2 // 2 if activation == "relu" else d2
    N = X.shape[0]
    # seed 0: one fixed integer direction (redrawn only on a tie), so a dataset rebuilds the
    # same network whatever its position in a chunk.
    net, _ = yun2019.build_exact(X, y, q, activation, seed=0, allow_float=True,
                                 correct_parity=correct_parity)
    w = [lay.n_out for lay in net.layers[:-1]]
    f = exact.apply(net, X, allow_float=True)
    exact_ok = (all(fv == Fraction(float(yv)) for fv, yv in zip(f, y))
                and exact.param_count(net) == yun2019.param_count(N, d, q, activation))
    return w[0] <= d1 and w[1] <= d2, exact_ok, w


def capacity_host(outs, config):
    """Every dataset decided by `capacity_decide`."""
    d1, d2, d = config["d1"], config["d2"], config["d"]
    activation = config.get("activation", "relu")
    X, y = outs.pop("X"), outs.pop("y")
    N = X.shape[1]
    fits, exact_ok, used = [], [], []
    for Xi, yi in zip(X, y):
        fits_i, exact_i, w = capacity_decide(Xi, yi, d1, d2, d, activation,
                                             config.get("correct_parity", True))
        fits.append(fits_i)
        exact_ok.append(exact_i)
        used.append(w)
    size = len(fits)
    outs["fits_widths"], outs["exact_ok"] = np.array(fits), np.array(exact_ok)
    outs["ok"] = outs["fits_widths"] & outs["exact_ok"]
    outs["N"] = np.full(size, N)
    outs["d1_used"], outs["d2_used"] = (np.array([w[k] for w in used]) for k in (0, 1))
    # The theorem's conditions per sublinear.md §5.3 [UNCONFIRMED], for comparison: YSJ-R's
    # capacity covers both (ceil(d1/2) floor(d2/2) >= 4 floor(d1/4) floor(d2/4) and
    # d1 d2 >= 4 floor(d1/2) floor(d2/2)).
    outs["unconfirmed_hardtanh_N"] = np.full(size, 4 * (d1 // 2) * (d2 // 2))
    outs["unconfirmed_relu_N"] = np.full(size, 4 * (d1 // 4) * (d2 // 4))
    return outs


def capacity_check(build_key, X, y, d1, d2, d, activation="relu", extra=0, correct_parity=True,
                   N=None):
    """The claim on a given dataset (for `jaxmem falsify`): `capacity_host`'s decision of this
    one dataset, run on the host through a callback (exact arithmetic has no JAX form), with
    the same outputs as its record. N (the dataset's row count, a config entry only so the
    search can shrink it) is read off X. build_key is unused: the exact build's direction is
    seed 0. hypothesis: distinct points. score: -log10 of the smallest distance between
    points relative to their scale, the degeneracy where the exact network's weights (and
    any flaw of the construction on near-ties) grow; differentiable, unlike the decision."""
    del build_key, extra, N

    def decide(X, y):
        try:
            fits, exact_ok, w = capacity_decide(np.asarray(X), np.asarray(y), d1, d2, d,
                                                activation, correct_parity)
        except ValueError:  # repeated rows: outside the theorem (hypothesis False)
            fits, exact_ok, w = False, False, (0, 0)
        return np.bool_(fits), np.bool_(exact_ok), np.int64(w[0]), np.int64(w[1])

    shapes = (jax.ShapeDtypeStruct((), jnp.bool_),) * 2 + (jax.ShapeDtypeStruct((), jnp.int64),) * 2
    fits, exact_ok, d1_used, d2_used = jax.pure_callback(
        decide, shapes, jax.lax.stop_gradient(X), jax.lax.stop_gradient(y),
        vmap_method="sequential")
    n = X.shape[0]
    diff = X[:, None, :] - X[None, :, :]
    dist2 = jnp.sum(diff * diff, axis=-1) + jnp.where(jnp.eye(n, dtype=bool), jnp.inf, 0)
    tiny = jnp.finfo(X.dtype).tiny
    closest = jnp.sqrt(jnp.maximum(jnp.min(dist2, initial=jnp.inf), tiny))
    scale = jnp.maximum(jnp.max(jnp.abs(X)), tiny)
    return dict(fits_widths=fits, exact_ok=exact_ok, ok=fits & exact_ok,
                N=jnp.asarray(n), d1_used=d1_used, d2_used=d2_used,
                unconfirmed_hardtanh_N=jnp.asarray(4 * (d1 // 2) * (d2 // 2)),
                unconfirmed_relu_N=jnp.asarray(4 * (d1 // 4) * (d2 // 4)),
                hypothesis=distinct_rows(X), score=-jnp.log10(closest / scale))


def capacity_exact(build_key, X, y, d1, d2, d, activation="relu", extra=0,
                   correct_parity=True, N=None):
    """`capacity_check`'s decision itself (it is exact), so that `jaxmem falsify` reports a
    failure as one in exact arithmetic; repeated rows are undecided (outside the theorem)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    try:
        fits, exact_ok, _ = capacity_decide(X, y, d1, d2, d, activation, correct_parity)
    except ValueError:
        return dict(ok=False, undecided=True)
    return dict(ok=fits and exact_ok, undecided=False)


def _capacity_configs(pairs, activation, datasets, **extra):
    return [dict(d1=d1, d2=d2, d=3, activation=activation, **extra, datasets=datasets)
            for d1, d2 in pairs]


CAPACITY = Claim(
    id="yun2019.capacity",
    citation=CITATION,
    statement=("For every width pair (d1, d2), the 3-layer network with hidden widths at most "
               "(d1, d2) memorizes N = floor(d1/2 + 1/2) floor(d2/2) points (ReLU; N = d1 d2 "
               "for hard-tanh) with arbitrary real labels exactly (rational arithmetic)."),
    trial=capacity_trial,
    grids=dict(
        quick=(_capacity_configs([(1, 2), (3, 4), (9, 10)], "relu", 6)
               + _capacity_configs([(3, 2), (5, 5)], "hardtanh", 6)),
        full=(_capacity_configs([(d1, d2) for d1 in (1, 2, 3, 4, 7, 15) for d2 in (2, 3, 4, 9, 16)],
                                "relu", 32)
              + _capacity_configs([(d1, d2) for d1 in (1, 2, 5, 8) for d2 in (1, 2, 5, 8)],
                                  "hardtanh", 32))),
    rule=Universal(),
    host=capacity_host,
    dataset=capacity_dataset,
    # The check is already the host's exact decision (`capacity_exact` repeats it for the
    # confirmation). The search needs the row count as a config entry:
    # --config d1=3,d2=4,d=3,N=6 (N = the capacity, `capacity_points`).
    falsify=Falsifiable(check=capacity_check, domain=Domain(points="real", labels="real"),
                        score="score", exact=capacity_exact, sizes=("N", "d")),
)

CLAIMS = [MEMORIZES, NEURONS, CAPACITY]

register(*CLAIMS)
