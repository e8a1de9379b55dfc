"""Yu, Gao, Zhang, Miao (NeurIPS 2024), Theorem 5.1 as an experiment: on the ball/annulus
distribution D(n, q, r1, 2^{1/n} r1, 3^{1/n} r1) (data.ball_annulus; docs/papers/yu2024.md §2.2
and §5.B), trained networks whose FIRST hidden layer has width w < n never beat the exact
projection ceiling acc*(n, w) (jaxmem.metrics.width_ceiling), while wide networks (first width
above n) and the Theorem 7.3 network M1 (first width 2 N+ N-, far above n) can, once N is large
enough for the dimension.

What is computed, per dimension n and training size N (one "group"):
    data     one training set of N points (shared by every width, seed and M1) and one fresh
             test sample of n_test points per n (shared by every N); drawn in the default float
             dtype (float64 under `jaxmem reproduce`), keys fold_in(fold_in(key(SEED), n), N)
             and fold_in(fold_in(key(SEED), n), 0) (DATA_RULE)
    narrow   for each w < n, `seeds` networks n -> w -> hidden -> 1 (jaxmem.training.narrow:
             Adam, cosine step size, logistic loss, minibatches), trained in float32
    wide     the same with first width `wide` > n: the control
    M1       yu2024.build on the same training set, evaluated on the test sample (float64),
             with 1-NN on the same training set beside it
Every width and seed of a group trains in ONE jitted, vmapped call: the first layer is padded
to `wide` units and masked to w (narrow.train_one's active_width), so a group compiles once.
Network s of a config has the key jaxmem.sweep.keys.dataset_keys(SEED, config, [s]): the key
depends on its own config only, not on which other widths the group holds. M1 runs in a Python
loop over the groups (one training set at a time), never under vmap.

    radial   (scale "paper") the radial memorizer, a ReLU network of first width 2 k n >= n
             built from the distribution (`radial_shape`): it memorizes every training set and
             labels every point of the support correctly, the contrast that shows width >= n
             can be enough where width < n is not

What is evidence and what is not. A network whose first layer has w units is a function of a
w-dimensional projection, so it cannot beat acc*(n, w): "no network above the ceiling" checks
the trainer, the masking and the ceiling's code, and cannot fail if they are right; it is a
consistency check, not evidence for the theorem. The evidence is at scale "paper": at n =
paper_min_dimension(1) = 1100, where the paper's own 0.51 applies, narrow networks that
memorize their training sets (100% training accuracy, required; a network that does not
memorize is reported and not counted) stay at 0.5 with intervals, while a memorizer of first
width >= n on the same data is perfect. A "narrow" network whose trained first width is not w,
or a narrow width >= n, is flagged (VIOLATED).

Verdict per network (as verify.yu2024_width's thm5_1.width): the test sample is independent of
the network, so its number of correct test points is Binomial(n_test, A) with A <= acc*(n, w) if
the theorem holds; a network is a violation when that count exceeds the (1 - DELTA)-quantile of
Binomial(n_test, acc*) (`verify.yu2024_width.allowed_correct`, DELTA = 1e-3). The report is
computed from the recorded accuracies, so a record above the ceiling shows as a violation.

Records: one store run (sweep name "yu2024_width", kind "experiment"); one config per (n, N,
kind, first width) with kind "narrow", "wide" or "m1"; its canonical JSON holds everything that
fixes the numbers (sizes, training settings, padding, dtypes, seed, data rule); dataset index =
the seed (M1: one dataset, index 0). The engine runs one host job per config
(`jaxmem.experiment.run_experiment`): a group's networks are trained in one call when any of its
network configs lacks records, each config stores the seeds it lacks, and M1 shares the group's
data; a rerun skips every complete config (resume), and a larger `seeds` reuses the stored ones.

Scales (the training settings, `SCALES`; timings: experiments/results/yu2024/README.md):
    quick  n in {5: w 1, 2, 3; 10: w 1, 2, 4, 8}, wide 32, hidden 32, N in {256, 1024}, 2 seeds,
           300 steps (lr 1e-2, batches of 256), 2000 test points: under a minute on a small
           CPU (compile-bound: 4 training programs, 4 M1 shapes)
    full   n in {5: 1, 2, 3; 10: 1, 2, 4, 6, 8; 30: 1, 2, 5, 10, 20, 28}, wide 64, hidden 64,
           N in {512, 2048, 8192}, 8 seeds, 2000 steps (lr 3e-3, batches of 256), 20,000 test
           points; M1 at N = 8192 has 2 N+ N- ~ 3.4e7 first-layer units (never materialized).
           417 records, minutes on a small CPU (compute-bound: the n = 30, N = 8192 group's 56
           networks and each M1 at N = 8192 take the most)
    paper  n = 1100 (the paper's minimum dimension for w = 1), w in {1, 2, 10, 100, 1000},
           wide 1200, hidden 64, N = 250, 8 seeds, 400 steps (lr 1e-2, full batches), 20,000
           test points; narrow widths trained unpadded, w < 1000 with an active first bias
           (narrow.fit's first_bias="active"; see SCALES); M1 and the radial memorizer on the
           same data. N = 250 < n: the points are in general position, so every width can
           memorize them. Outputs: experiments/results/yu2024/width_paper/.
What the full scale gave (2-core CPU, the default keys): no violation among 336 narrow networks;
the best narrow network stays 0.4 to 31 points below its ceiling (closest: n = 30, w = 1, where
the ceiling itself is 0.516). The wide control reaches 0.989 / 0.999 / 1.000 at n = 5 (N = 512 /
2048 / 8192), 0.66 / 0.89 / 0.96 at n = 10, but only 0.50 / 0.52 / 0.57 at n = 30; M1 tracks
1-NN (a point or two below it: ties, output 0, count as errors): 0.79 / 0.90 / 0.96 at n = 5,
0.55 to 0.60 at n = 10 and below 0.5 at n = 30 (ties ~10%). The separation c = r1 (2^{1/n} - 1)
shrinks like 1/n while the nearest-neighbour spacing of N points shrinks only like N^{-1/n}, so
"N large enough" grows exponentially with n for M1; at n = 30 N = 8192 is far too few.

`jaxmem reproduce yu2024_width`: `grids(scale)` returns no sweep grids; the registry's `compute`
hook computes what the store lacks (`run`); `render` draws everything from the store alone.

Outputs:
    yu2024_width.png   per n: test accuracy vs first width w (seed mean +- SD, and each seed),
                       the exact ceiling acc*(n, w) and the paper's closed-form bound
                       1 - 1/2 (3^{1-w/n} - 2^{1-w/n}); the wide control and M1 as horizontal
                       lines per N
    yu2024_width.csv   one row per config (CSV_COLUMNS): means, SDs, ceiling, bound, the
                       ceiling's empirical value on the test sample (the Bayes rule of the
                       projection), violations
    yu2024_width.md    the verdict, max over narrow nets of (accuracy - ceiling), wide and M1
                       accuracy per (n, N), the ceiling at the paper's dimension
                       n = paper_min_dimension(w) for w = 1, 2, 6
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments._records import RunStats, run_records, scale_size
from jaxmem.constructions import yu2024
from jaxmem.data.ball_annulus import ball_annulus, ball_annulus_radii
from jaxmem.metrics.width_ceiling import (bayes_projection_predict, paper_min_dimension,
                                          paper_width_bound, projection_accuracy_ceiling)
from jaxmem.stats import clopper_pearson, mean_interval
from jaxmem.sweep.keys import config_hash, dataset_keys
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.tables import markdown_table
from jaxmem.training import narrow

NAME = "yu2024_width"
REGENERATES = ("Yu, Gao, Zhang, Miao 2024, Theorem 5.1: trained networks of first width w < n "
               "against the exact projection ceiling on the ball/annulus, beside wide networks "
               "and M1")

SEED = 0
DATA_RULE = "yu2024_width.v1"   # how the data keys are derived (draw_train, draw_test)
TRAIN_DTYPE = "float32"
OPTIMIZER = "adam.cosine"       # narrow.fit: Adam with a cosine-decayed step size
LOSS = "logistic"
DELTA = 1e-3                    # level of the one-sided binomial allowance per network
PAPER_WIDTHS = (1, 2, 6)        # the md's ceiling at the paper's dimension
KINDS = ("narrow", "wide", "m1", "radial")

# dimensions: (n, first widths w < n) pairs; wide: the control's first width (> every n, and
# the padded first width every network of a group is trained with); train_sizes: N.
# narrow_padding: "wide" trains a group's narrow networks padded to `wide` units in the same
# call as the control (one compilation; fine at small n), "own" trains each width unpadded in
# its own call (at n = 1100 a padded width-1 network would cost as much as the control).
# radial: add the constructed width >= n memorizer (`radial_memorizer`) to every group.
# active_bias_below: first widths w below it start with every training point on the active
# side of every first-layer unit (narrow.fit's first_bias="active"): with zero biases a width-1
# layer leaves half the points dead, without gradient, and they are never fitted. Wider layers
# keep zero biases (a layer of 1000 all-active units starts with outputs too large for Adam's
# step size, and fits worse).
SCALES = {
    "quick": dict(dimensions=((5, (1, 2, 3)), (10, (1, 2, 4, 8))), wide=32, hidden=32,
                  train_sizes=(256, 1024), seeds=2, steps=300, lr=1e-2, batch_size=256,
                  n_test=2000, narrow_padding="wide", radial=False, active_bias_below=0),
    "full": dict(dimensions=((5, (1, 2, 3)), (10, (1, 2, 4, 6, 8)),
                             (30, (1, 2, 5, 10, 20, 28))), wide=64, hidden=64,
                 train_sizes=(512, 2048, 8192), seeds=8, steps=2000, lr=3e-3, batch_size=256,
                 n_test=20000, narrow_padding="wide", radial=False, active_bias_below=0),
    # Where the paper's 0.51 applies: n = paper_min_dimension(1) = 1100. N = 250 < n points
    # are in general position, so even a width-1 network can memorize them (a linear
    # separator exists); every narrow network must reach 100% training accuracy to count.
    "paper": dict(dimensions=((1100, (1, 2, 10, 100, 1000)),), wide=1200, hidden=64,
                  train_sizes=(250,), seeds=8, steps=400, lr=1e-2, batch_size=250,
                  n_test=20000, narrow_padding="own", radial=True, active_bias_below=1000),
}

CSV_COLUMNS = ("n", "n_train", "kind", "first_width", "seeds", "n_test", "test_accuracy_mean",
               "test_accuracy_sd", "test_accuracy_min", "test_accuracy_max",
               "train_accuracy_mean", "train_accuracy_sd", "ceiling", "paper_bound",
               "bayes_test_accuracy", "allowed_accuracy", "max_excess", "violations",
               "width_ok", "nn_accuracy", "tie_fraction", "first_layer_units", "hidden",
               "steps", "seconds_per_dataset", "memorized", "test_accuracy_ci_low",
               "test_accuracy_ci_high", "best_upper95", "paper_applies", "paper_violations",
               "min_margin")
PAPER_ACCURACY = 0.51   # Theorem 5.1's cap, for n >= paper_min_dimension(w)


# --- sizes -----------------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with tuples of ints, or ValueError: every w in [1, n), wide > every n."""
    keys = set(SCALES["quick"])
    if set(size) != keys:
        raise ValueError(f"a size has exactly the keys {sorted(keys)}; got {sorted(size)}")
    dims = tuple((int(n), tuple(int(w) for w in ws)) for n, ws in size["dimensions"])
    for n, ws in dims:
        if not ws or not all(1 <= w < n for w in ws) or len(set(ws)) != len(ws):
            raise ValueError(f"the narrow widths of n = {n} must be distinct ints in [1, n) "
                             f"(Theorem 5.1 is about w < n); got {ws}")
    if len({n for n, _ in dims}) != len(dims) or not dims:
        raise ValueError(f"each dimension n once; got {[n for n, _ in dims]}")
    if int(size["wide"]) <= max(n for n, _ in dims):
        raise ValueError(f"the wide control needs a first width above every n; got wide = "
                         f"{size['wide']}, n up to {max(n for n, _ in dims)}")
    out = dict(size, dimensions=dims, train_sizes=tuple(int(N) for N in size["train_sizes"]))
    for k in ("wide", "hidden", "seeds", "steps", "batch_size", "n_test"):
        out[k] = int(size[k])
    out["lr"] = float(size["lr"])
    if size["narrow_padding"] not in ("wide", "own"):
        raise ValueError(f"narrow_padding must be 'wide' or 'own'; got {size['narrow_padding']!r}")
    below = size["active_bias_below"]
    if isinstance(below, bool) or not isinstance(below, int) or below < 0:
        raise ValueError(f"active_bias_below must be an int >= 0 (first widths below it start "
                         f"with active first-layer biases; 0: none); got {below!r}")
    if not isinstance(size["radial"], bool):
        raise ValueError(f"radial must be True or False; got {size['radial']!r}")
    return out


def _grid(size: dict) -> dict:
    """The size as JSON (the run's grid)."""
    return dict(size, dimensions=[[n, list(ws)] for n, ws in size["dimensions"]],
                train_sizes=list(size["train_sizes"]))


def _data_dtype() -> str:
    return str(jnp.dtype(jnp.result_type(float)))


# --- configs ---------------------------------------------------------------------------------

def _common(n: int, N: int, size: dict) -> dict:
    return dict(experiment=NAME, n=n, n_train=N, n_test=size["n_test"], seed=SEED,
                data_rule=DATA_RULE, data_dtype=_data_dtype())


def padded_width(n: int, w: int, size: dict) -> int:
    """The first width network w is trained with (masked to w): `wide`, or w itself."""
    return w if size["narrow_padding"] == "own" and w < n else size["wide"]


def first_bias(w: int, size: dict) -> str:
    """How network w's first-layer biases start (narrow.fit's first_bias)."""
    return "active" if w < size["active_bias_below"] else "zero"


def net_config(n: int, N: int, w: int, size: dict) -> dict:
    """A trained network's config: narrow (w < n) or wide (w >= n)."""
    return dict(_common(n, N, size), kind="narrow" if w < n else "wide", first_width=w,
                padded_first_width=padded_width(n, w, size), hidden=size["hidden"],
                steps=size["steps"],
                lr=size["lr"], batch_size=size["batch_size"], optimizer=OPTIMIZER, loss=LOSS,
                dtype=TRAIN_DTYPE,
                # only when not the default: quick and full keep their configs (and records)
                **({} if first_bias(w, size) == "zero" else dict(first_bias="active")))


def m1_config(n: int, N: int, size: dict) -> dict:
    return dict(_common(n, N, size), kind="m1", construction="yu2024.m1", split=yu2024.SPLIT,
                evaluation="cells")


def radial_config(n: int, N: int, size: dict) -> dict:
    shape = radial_shape(n)
    return dict(_common(n, N, size), kind="radial", construction="radial_memorizer",
                first_width=shape["first_width"], knots=shape["knots"],
                knot_spacing=shape["knot_spacing"], threshold=shape["threshold"],
                evaluation="closed form, float64")


@dataclasses.dataclass
class Group:
    """One (n, N): its trained-network configs (narrow widths, then the wide control), M1 and
    (optionally) the radial memorizer."""
    n: int
    N: int
    widths: tuple
    nets: list          # [(config, hash)]
    m1: tuple           # (config, hash)
    radial: tuple | None = None


def groups(size: dict) -> list[Group]:
    out = []
    for n, ws in size["dimensions"]:
        for N in size["train_sizes"]:
            widths = tuple(ws) + (size["wide"],)
            nets = [(c, config_hash(c)) for c in (net_config(n, N, w, size) for w in widths)]
            m1 = m1_config(n, N, size)
            radial = radial_config(n, N, size) if size["radial"] else None
            out.append(Group(n, N, widths, nets, (m1, config_hash(m1)),
                             None if radial is None else (radial, config_hash(radial))))
    return out


# --- data ------------------------------------------------------------------------------------

def _data_key(n: int, tag: int):
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(SEED), n), tag)


def draw_train(n: int, N: int):
    """(X, y): the N training points of the group (n, N), in the default float dtype."""
    return ball_annulus(_data_key(n, N), N, n)


def draw_test(n: int, n_test: int):
    """(X_test, y_test): the test sample of dimension n (tag 0: independent of every N >= 1)."""
    return ball_annulus(_data_key(n, 0), n_test, n)


def exact_count(fraction, count: int) -> np.ndarray:
    """A float mean of `count` booleans as the integer number of hits."""
    return np.rint(np.asarray(fraction, np.float64) * count).astype(np.int64)


# --- training and M1 -------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("padded", "hidden", "steps", "batch_size",
                                             "first_bias"))
def _train_group(keys, widths, X, y, X_test, y_test, lr, *, padded, hidden, steps, batch_size,
                 first_bias="zero"):
    """Every (width, seed) network of a group: one vmapped call, first layer padded to
    `padded` units and masked to each network's width."""
    one = functools.partial(narrow.train_one, first_width=padded, hidden=hidden, steps=steps,
                            batch_size=batch_size, first_bias=first_bias)
    return jax.vmap(lambda k, w: one(k, X, y, X_test, y_test, lr=lr, active_width=w))(
        keys, widths)


def train_networks(group: Group, size: dict, train, test) -> list[dict]:
    """Trains every seed of every width of the group; one dict of record columns per config.
    Widths that share a padded first width and a first-bias rule train in one call
    (narrow_padding "wide": all of them; "own": each narrow width alone, the control alone)."""
    (X, y), (X_test, y_test) = train, test
    seeds, dtype = size["seeds"], jnp.dtype(TRAIN_DTYPE)
    data = (X.astype(dtype), y.astype(dtype), X_test.astype(dtype), y_test.astype(dtype),
            jnp.asarray(size["lr"], dtype))
    calls: dict[tuple, list[int]] = {}   # (padded width, first bias) -> indices of widths
    for i, w in enumerate(group.widths):
        calls.setdefault((padded_width(group.n, w, size), first_bias(w, size)), []).append(i)
    per_width: dict[int, tuple] = {}
    for (padded, bias), members in calls.items():
        keys = jnp.concatenate([dataset_keys(SEED, group.nets[i][0], np.arange(seeds))
                                for i in members])
        widths = jnp.asarray(np.repeat([group.widths[i] for i in members], seeds), jnp.int32)
        t0 = time.perf_counter()
        out = jax.device_get(_train_group(keys, widths, *data, padded=padded,
                                          hidden=size["hidden"], steps=size["steps"],
                                          batch_size=size["batch_size"],
                                          first_bias=bias))
        seconds = (time.perf_counter() - t0) / len(widths)
        for j, i in enumerate(members):
            rows = slice(j * seeds, (j + 1) * seeds)
            per_width[i] = ({k: v[rows] for k, v in out.items()}, seconds)
    n_test, N = len(y_test), len(y)
    columns = []
    for i, w in enumerate(group.widths):
        out, seconds = per_width[i]
        test_correct = exact_count(out["test_accuracy"], n_test)
        train_correct = exact_count(out["train_accuracy"], N)
        bayes = bayes_accuracy(X_test, y_test, w) if w < group.n else math.nan
        columns.append(dict(
            test_accuracy=test_correct / n_test, test_correct=test_correct,
            train_accuracy=train_correct / N, train_correct=train_correct,
            final_loss=np.asarray(out["final_loss"], np.float64),
            trained_first_width=np.asarray(out["first_width"], np.int64),
            bayes_test_accuracy=np.full(seeds, bayes), seconds=np.full(seeds, seconds)))
    return columns


def bayes_accuracy(X_test, y_test, w: int) -> float:
    """The accuracy of the projection's Bayes rule (the ceiling's rule) on this test sample:
    the ceiling as the test sample measures it."""
    pred = bayes_projection_predict(X_test, w)
    return int(jnp.sum(pred == y_test)) / len(y_test)


def measure_m1(train, test) -> dict:
    """M1 on the training set, evaluated on the test sample, 1-NN beside it: record columns
    (one dataset)."""
    (X, y), (X_test, y_test) = train, test
    t0 = time.perf_counter()
    m1, info = yu2024.build(None, X, y)
    ev = jax.device_get(yu2024.evaluate(m1, X_test, y_test))
    seconds = time.perf_counter() - t0
    n_test = len(y_test)
    one = lambda v, dt=np.float64: np.asarray([v], dt)  # noqa: E731
    correct = exact_count(ev["accuracy"], n_test)
    return dict(
        test_accuracy=one(correct / n_test), test_correct=one(correct, np.int64),
        tie_fraction=one(exact_count(ev["tie_fraction"], n_test) / n_test),
        nn_accuracy=one(exact_count(ev["nn_accuracy"], n_test) / n_test),
        in_cell_fraction=one(exact_count(ev["in_cell_fraction"], n_test) / n_test),
        certified_fraction=one(exact_count(ev["certified_fraction"], n_test) / n_test),
        agree_with_nn_in_cells=one(bool(ev["agree_with_nn_in_cells"]), bool),
        valid=one(bool(info["valid"]), bool), margin_r=one(float(info["margin_r"])),
        n_pos=one(int(info["n_pos"]), np.int64), n_neg=one(int(info["n_neg"]), np.int64),
        first_layer_units=one(int(info["pair_units"]), np.int64),
        dense_param_count=one(int(info["dense_param_count"]), np.int64),
        nonzero_param_count=one(int(info["sparse_param_count"]), np.int64),
        seconds=one(seconds))


# --- the radial memorizer: first width >= n, accuracy 1 ------------------------------------
#
# Theorem 5.1 says a first layer narrower than n caps the accuracy; it does not say a wider one
# helps. This network shows that on the same distribution a memorizer of first width >= n can be
# perfect: it computes a piecewise-linear S(x) ~ ||x - q||^2 and thresholds it. With z = x - q,
# u = |z_i| and knots j * step (j = 0..k-1), the units relu(z_i - j step) and relu(-z_i - j step)
# (2 k n of them, every one reading a single coordinate) give
#     h(u) = step * u + 2 step * sum_{j >= 1} relu(u - j step),
# the linear interpolant of u^2 at the knots (slope (2j + 1) step between j step and (j+1) step),
# so 0 <= h(u) - u^2 <= step^2 / 4 for u <= k step, and S = sum_i h(|z_i|) overestimates
# ||z||^2 by at most n step^2 / 4. With gap = r2^2 - r1^2, step = sqrt(2 gap / n) (so that the
# overestimate is at most gap / 2), k step >= r3 (every |z_i| <= ||z|| <= r3 is in range) and
# the output threshold - S with threshold = r1^2 + 3 gap / 4: a ball point has S <= r1^2 + gap/2
# and an annulus point S >= r2^2, each gap / 4 from the threshold. It labels every point of the
# support correctly, so it memorizes any training set and its test accuracy is 1; the
# experiment measures that in float64 (rounding ~1e-13 against a margin gap / 4 ~ 8e-5 at
# n = 1100).

CENTRE = 0.5   # every coordinate of the ball/annulus centre q (data.ball_annulus)


def radial_shape(n: int, step_factor: float = 1.0) -> dict:
    """The radial memorizer's sizes for dimension n: knot spacing, knots k, first width 2 k n,
    threshold, the margin gap / 4. step_factor > 1 coarsens the knots (a broken network whose
    overestimate can exceed the margin: the tests' negative control)."""
    if not (isinstance(step_factor, (int, float)) and math.isfinite(step_factor)
            and step_factor > 0) or isinstance(step_factor, bool):
        raise ValueError(f"step_factor must be a positive number (1: the proof's knots); "
                         f"got {step_factor!r}")
    r1, r2, r3 = ball_annulus_radii(n)
    gap = r1 * r1 * math.expm1(2 * math.log(2.0) / n)      # r2^2 - r1^2, no cancellation
    step = step_factor * math.sqrt(2 * gap / n)
    knots = math.ceil(r3 / step)
    return dict(knot_spacing=step, knots=knots, first_width=2 * knots * n,
                threshold=r1 * r1 + 0.75 * gap, margin=0.25 * gap)


@functools.partial(jax.jit, static_argnames=("knots",))
def radial_scores(X, step, threshold, *, knots: int):
    """threshold - S(x) on the rows of X: the radial memorizer's output, its sum of relus
    evaluated in closed form (h is the interpolant; j = the knot interval of u)."""
    u = jnp.abs(X - CENTRE)
    j = jnp.clip(jnp.floor(u / step), 0, knots - 1)
    h = j * step * (j * step) + (2 * j + 1) * step * (u - j * step)
    return threshold - jnp.sum(h, axis=1)


def radial_network(n: int, step_factor: float = 1.0):
    """The radial memorizer as a dense jaxmem.network.Network (2 k n units; small n only, the
    tests compare it with `radial_scores`)."""
    from jaxmem import network
    shape = radial_shape(n, step_factor)
    k, step = shape["knots"], shape["knot_spacing"]
    sign = np.tile(np.repeat([1.0, -1.0], k), n)              # unit order: (i, s, j)
    coord = np.repeat(np.arange(n), 2 * k)
    j = np.tile(np.arange(k), 2 * n)
    W1 = np.zeros((n, 2 * k * n))
    W1[coord, np.arange(2 * k * n)] = sign
    b1 = -sign * CENTRE - j * step                               # relu(s (x_i - q_i) - j step)
    w2 = -np.where(j == 0, step, 2 * step)[:, None]
    return network.make([network.Layer(jnp.asarray(W1), jnp.asarray(b1)),
                         network.Layer(jnp.asarray(w2), jnp.asarray([shape["threshold"]]),
                                       activation="identity")])


def measure_radial(n: int, train, test, step_factor: float = 1.0) -> dict:
    """The radial memorizer on the group's training set and test sample: record columns (one
    dataset). Exact zero output counts as an error (no tie-breaking in the network's favour)."""
    shape = radial_shape(n, step_factor)
    t0 = time.perf_counter()
    out = {}
    for name, (X, y) in (("train", train), ("test", test)):
        f = np.asarray(radial_scores(jnp.asarray(X, jnp.float64), shape["knot_spacing"],
                                     shape["threshold"], knots=shape["knots"]))
        y = np.asarray(y)
        out[f"{name}_correct"] = int(np.sum(np.sign(f) == y))
        out[f"{name}_margin"] = float(np.min(y * f)) / shape["margin"]
    seconds = time.perf_counter() - t0
    one = lambda v, dt=np.float64: np.asarray([v], dt)  # noqa: E731
    N, n_test = len(train[1]), len(test[1])
    return dict(
        test_accuracy=one(out["test_correct"] / n_test),
        test_correct=one(out["test_correct"], np.int64),
        train_accuracy=one(out["train_correct"] / N),
        train_correct=one(out["train_correct"], np.int64),
        # min over the points of y (threshold - S), in units of the margin gap / 4 (>= 1 proven)
        min_test_margin=one(out["test_margin"]), min_train_margin=one(out["train_margin"]),
        first_layer_units=one(shape["first_width"], np.int64),
        nonzero_param_count=one(3 * shape["first_width"] + 1, np.int64),
        seconds=one(seconds))


# --- the runner: records into the store ------------------------------------------------------

def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None) -> RunStats:
    """Computes every record the store lacks at `scale` (or at an explicit `size`, a dict
    with SCALES' keys), one job per config; prints one line as `jaxmem reproduce` does for a
    sweep. Returns what was computed and skipped."""
    size = check_size(scale_size(SCALES, scale) if size is None else size)
    seeds = size["seeds"]
    todo = groups(size)
    grid = dict(experiment=NAME, scale=scale, **_grid(size))
    # What a group's configs share is computed once: its training set, its n's test sample, and
    # one training call for all of its widths and seeds. The jobs keep the run's config order
    # (every group's networks, then every M1): a group's network jobs follow one another, so
    # one group's networks are cached, and the data wait for the M1 jobs.
    train = functools.cache(draw_train)
    test = functools.cache(lambda n: draw_test(n, size["n_test"]))

    @functools.lru_cache(maxsize=1)
    def trained(g: int) -> list[dict]:
        group = todo[g]
        return train_networks(group, size, train(group.n, group.N), test(group.n))

    def net_trial(g, i, keys, indices):
        # train_networks trains every seed with dataset_keys(SEED, config, seeds), the keys
        # the engine passes; the job keeps the seeds the store lacks.
        return {k: v[indices] for k, v in trained(g)[i].items()}

    def m1_trial(g, keys, indices):   # one dataset, index 0
        return measure_m1(train(todo[g].n, todo[g].N), test(todo[g].n))

    def radial_trial(g, keys, indices):   # one dataset, index 0
        return measure_radial(todo[g].n, train(todo[g].n, todo[g].N), test(todo[g].n))

    work = ([(c, seeds, functools.partial(net_trial, g, i))
             for g, group in enumerate(todo) for i, (c, _) in enumerate(group.nets)]
            + [(group.m1[0], 1, functools.partial(m1_trial, g)) for g, group in enumerate(todo)]
            + [(group.radial[0], 1, functools.partial(radial_trial, g))
               for g, group in enumerate(todo) if group.radial is not None])
    roots = root_key_datas(SEED, [c for c, *_ in work])
    jobs = [Job(config=c, datasets=d, root=root, trial=trial, program=(NAME, c["kind"]),
                host=True, block=True, chunk_size=d) for (c, d, trial), root in zip(work, roots)]
    stats = RunStats.from_engine(run_experiment(store, NAME, grid, jobs, progress=progress))
    stats.report(NAME, stream)
    return stats


# --- the registry hooks ----------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grids: the records are trained networks and M1 on shared data (`compute`)."""
    check_size(scale_size(SCALES, scale))
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: the missing records at `scale`; {NAME: run id}."""
    return {NAME: run(store, scale, progress=progress).run_id}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """The figure, CSV and Markdown from the store's records of the run `runs[NAME]` (default:
    the newest yu2024_width run). ValueError if there are none."""
    from jaxmem.experiments import _genzel2023 as g
    records = run_records(store, runs, NAME)
    rows = config_rows(records)
    paths = [write_csv(rows, g.out_path(out_dir, f"{NAME}.csv")),
             plot(rows, g.out_path(out_dir, f"{NAME}.png"))]
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(rows))
    return paths + [md]


# --- from records to rows --------------------------------------------------------------------

def allowed_accuracy(n_test: int, ceiling: float, delta: float = DELTA) -> float:
    """The largest test accuracy a network at the ceiling reaches with probability >= 1 -
    delta: the (1 - delta)-quantile of Binomial(n_test, ceiling) / n_test (1 without a ceiling)."""
    if ceiling >= 1:
        return 1.0
    from jaxmem.verify.yu2024_width import allowed_correct
    return allowed_correct(n_test, ceiling, delta) / n_test


def _mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else 0.0)


def config_rows(records: list[dict]) -> list[dict]:
    """One row per config (CSV_COLUMNS), sorted by n, N, kind (narrow, wide, m1), width.
    ceiling = projection_accuracy_ceiling(n, w) (1 for the wide control and M1, whose first
    widths exceed n); violations = networks whose recorded test accuracy, as a count of the
    n_test points, exceeds the allowance at level DELTA."""
    by_config: dict[str, list[dict]] = {}
    for r in records:
        by_config.setdefault(r["config_hash"], []).append(r)
    rows = []
    for group in by_config.values():
        r0 = group[0]
        n, N, kind, n_test = int(r0["n"]), int(r0["n_train"]), r0["kind"], int(r0["n_test"])
        acc = np.array([float(r["test_accuracy"]) for r in group])
        mean, sd = _mean_sd(acc)
        if kind in ("m1", "radial"):
            width = int(r0["first_layer_units"])
            ceiling = bound = 1.0
        else:
            width = int(r0["first_width"])
            ceiling = projection_accuracy_ceiling(n, width)
            bound = paper_width_bound(n, width)
        allowed = allowed_accuracy(n_test, ceiling)
        correct = exact_count(acc, n_test)
        violations = int(np.sum(correct > exact_count(allowed, n_test)))
        row = dict(n=n, n_train=N, kind=kind, first_width=width, seeds=len(group),
                   n_test=n_test, test_accuracy_mean=mean, test_accuracy_sd=sd,
                   test_accuracy_min=float(acc.min()), test_accuracy_max=float(acc.max()),
                   train_accuracy_mean=None, train_accuracy_sd=None, ceiling=ceiling,
                   paper_bound=bound, bayes_test_accuracy=None, allowed_accuracy=allowed,
                   max_excess=float(acc.max() - ceiling), violations=violations,
                   width_ok=None, nn_accuracy=None, tie_fraction=None,
                   first_layer_units=width, hidden=r0.get("hidden"), steps=r0.get("steps"),
                   seconds_per_dataset=float(np.mean([float(r["seconds"]) for r in group])),
                   accuracies=acc, memorized=None, test_accuracy_ci_low=None,
                   test_accuracy_ci_high=None, paper_applies=False, paper_violations=0,
                   min_margin=None)
        # The best network's 95% Clopper-Pearson upper bound on its (population) accuracy
        best = int(correct.max())
        row["best_upper95"] = clopper_pearson(best, n_test, 0.95)[1]
        if len(group) > 1:
            row["test_accuracy_ci_low"], row["test_accuracy_ci_high"] = mean_interval(acc)
        if kind == "m1":
            row.update(nn_accuracy=float(r0["nn_accuracy"]),
                       tie_fraction=float(r0["tie_fraction"]))
        elif kind == "radial":
            row.update(memorized=int(float(r0["train_accuracy"]) == 1.0),
                       train_accuracy_mean=float(r0["train_accuracy"]), train_accuracy_sd=0.0,
                       min_margin=min(float(r0["min_test_margin"]),
                                      float(r0["min_train_margin"])))
        else:
            tr, tr_sd = _mean_sd([float(r["train_accuracy"]) for r in group])
            bayes = float(r0["bayes_test_accuracy"])
            memorizing = np.array([float(r["train_accuracy"]) == 1.0 for r in group])
            row.update(train_accuracy_mean=tr, train_accuracy_sd=tr_sd,
                       bayes_test_accuracy=None if math.isnan(bayes) else bayes,
                       memorized=int(memorizing.sum()),
                       # a "narrow" network must have trained first width w, and w < n
                       width_ok=(all(int(r["trained_first_width"]) == width for r in group)
                                 and (kind == "wide") == (width >= n)))
            if kind == "narrow" and n >= paper_min_dimension(width):
                # Theorem 5.1's 0.51, about memorization networks: the memorizing ones count
                cap = exact_count(allowed_accuracy(n_test, PAPER_ACCURACY), n_test)
                row.update(paper_applies=True,
                           paper_violations=int(np.sum((correct > cap) & memorizing)))
        rows.append(row)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(rows, key=lambda r: (r["n"], r["n_train"], order[r["kind"]], r["first_width"]))


def _csv_value(v):
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    return f"{v:.10g}" if isinstance(v, float) else ("" if v is None else v)


def write_csv(rows: list[dict], path: str) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row[k]) for k in CSV_COLUMNS})
    return path


# --- the figure ------------------------------------------------------------------------------

def plot(rows: list[dict], path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    ns = sorted({r["n"] for r in rows})
    Ns = sorted({r["n_train"] for r in rows})
    fig = g.figure(max(8.0, 4.6 * len(ns)), 5.4)
    axes = fig.subplots(1, len(ns), squeeze=False)[0]
    colors = {N: f"C{i}" for i, N in enumerate(Ns)}
    low = min(0.45, min(float(r["accuracies"].min()) for r in rows) - 0.02)
    for ax, n in zip(axes, ns):
        here = [r for r in rows if r["n"] == n]
        # at n in the thousands: the ceiling on a log grid of widths, a log axis
        ws = (np.arange(1, n) if n <= 100 else
              np.unique(np.geomspace(1, n - 1, 200).round().astype(int)))
        ax.plot(ws, [projection_accuracy_ceiling(n, int(w)) for w in ws], "k-", lw=1.6,
                label="exact ceiling acc*(n, w)")
        ax.plot(ws, [paper_width_bound(n, int(w)) for w in ws], "--", color="0.45", lw=1.2,
                label=r"paper bound $1 - (3^{1-w/n} - 2^{1-w/n})/2$")
        offsets = np.linspace(-0.12, 0.12, len(Ns)) if len(Ns) > 1 else [0.0]
        for N, dx in zip(Ns, offsets):
            nar = [r for r in here if r["n_train"] == N and r["kind"] == "narrow"]
            if nar:
                x = np.array([r["first_width"] for r in nar], float) + dx
                ax.errorbar(x, [r["test_accuracy_mean"] for r in nar],
                            yerr=[r["test_accuracy_sd"] for r in nar], fmt="o", ms=4,
                            color=colors[N], capsize=2, label=f"first width w, N = {N}")
                for xi, r in zip(x, nar):
                    ax.plot(np.full(len(r["accuracies"]), xi), r["accuracies"], ".",
                            color=colors[N], ms=2, alpha=0.5)
            for kind, style in (("wide", ":"), ("m1", "-."), ("radial", "--")):
                for r in (r for r in here if r["n_train"] == N and r["kind"] == kind):
                    label = {"wide": f"wide control (w = {r['first_width']}), N = {N}",
                             "m1": f"M1 (w = 2 N+ N-), N = {N}",
                             "radial": f"radial memorizer (w = 2kn = {r['first_width']:,}), "
                                       f"N = {N}"}[kind]
                    ax.axhline(r["test_accuracy_mean"], ls=style, color=colors[N], lw=1.3,
                               label=label)
        if n > 100:
            ax.set_xscale("log")
            ax.set_xlim(0.8, n)
            ax.axhline(PAPER_ACCURACY, color="C3", lw=0.8, label="Theorem 5.1's 0.51")
        else:
            ax.set_xlim(0.5, n - 0.5)
        ax.set_ylim(low, 1.02)
        if n <= 100:
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("first hidden layer width w")
        ax.set_ylabel("test accuracy")
        memorized = [r for r in here if r["kind"] == "narrow"]
        ax.set_title(f"n = {n}: narrow networks memorized "
                     f"{sum(r['memorized'] for r in memorized)} of "
                     f"{sum(r['seeds'] for r in memorized)}", fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:   # a dimension may lack a kind or an N: every label once
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)),
               fontsize=7)
    trained = next((r for r in rows if r["kind"] in ("narrow", "wide")), rows[0])
    seeds = sorted({r["seeds"] for r in rows if r["kind"] == "narrow"})
    fig.suptitle("Yu et al. 2024, Thm 5.1: a first hidden layer of width w < n caps the "
                 "accuracy on the ball/annulus\n"
                 f"(our setting, the paper runs no experiment for it: n -> w -> "
                 f"{trained['hidden']} -> 1 ReLU, Adam, {trained['steps']} steps, "
                 f"N = {', '.join(f'{N:,}' for N in Ns)}, "
                 f"{'/'.join(map(str, seeds))} seeds per width)", fontsize=9)
    return g.save(fig, path)


# --- the summary -----------------------------------------------------------------------------

def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def summary(rows: list[dict]) -> dict:
    narrow_rows = [r for r in rows if r["kind"] == "narrow"]
    worst = max(narrow_rows, key=lambda r: r["max_excess"]) if narrow_rows else None
    paper = [r for r in narrow_rows if r["paper_applies"]]
    return dict(networks=sum(r["seeds"] for r in narrow_rows),
                configs=len(narrow_rows),
                memorized=sum(r["memorized"] for r in narrow_rows),
                violations=sum(r["violations"] for r in rows),
                width_mismatch=sum(r["width_ok"] is False for r in rows),
                max_excess=None if worst is None else worst["max_excess"], worst=worst,
                paper_networks=sum(r["seeds"] for r in paper),
                paper_memorized=sum(r["memorized"] for r in paper),
                paper_violations=sum(r["paper_violations"] for r in paper))


def _interval(r) -> str:
    if r["test_accuracy_ci_low"] is None:
        return _pct(r["test_accuracy_mean"])
    return (f"{_pct(r['test_accuracy_mean'])} [{_pct(r['test_accuracy_ci_low'])}, "
            f"{_pct(r['test_accuracy_ci_high'])}]")


def _bites(rows: list[dict], s: dict) -> list[str]:
    """The section on the groups where Theorem 5.1's 0.51 applies (n >= paper_min_dimension)."""
    paper = [r for r in rows if r["kind"] == "narrow" and r["paper_applies"]]
    if not paper:
        return []
    groups_here = sorted({(r["n"], r["n_train"]) for r in paper})
    # every narrow width of those groups; the 0.51 is checked where it applies
    narrow_here = [r for r in rows if r["kind"] == "narrow" and (r["n"], r["n_train"]) in
                   groups_here]
    lines = ["", "## Where the bound bites: n >= paper_min_dimension(w)", "",
             "Theorem 5.1 (Yu et al. 2024, Section 5): for a memorization algorithm whose "
             "networks have width at most w there is a distribution in D(n, c), n > w, on "
             "which every output has accuracy at most 0.51; the proof's distribution is this "
             "ball/annulus, and its 0.51 holds once 3^{w/n} < 1.001 (Lemma D.8), i.e. n >= "
             "paper_min_dimension(w) (1,100 for w = 1). It is a statement about memorization "
             "networks, so a narrow network counts only if it fits its whole training set.", ""]
    verdict = "VIOLATED" if s["paper_violations"] else (
        "HOLDS" if s["paper_memorized"] else "NOT TESTED (no narrow network memorized)")
    lines.append(f"- **{verdict}**: {s['paper_violations']} of {s['paper_memorized']} "
                 f"memorizing narrow networks above 0.51 (more correct test points than the "
                 f"(1 - {DELTA:g})-quantile of Binomial(n_test, 0.51)); "
                 f"{s['paper_memorized']} of {s['paper_networks']} narrow networks memorized "
                 "(100% training accuracy)"
                 + ("." if s["paper_memorized"] == s["paper_networks"] else
                    "; the others are not memorization networks and are not evidence."))
    top = max(paper, key=lambda r: r["best_upper95"])
    lines.append(f"- Highest 95% upper bound on a narrow network's accuracy: "
                 f"{_pct(top['best_upper95'])} (w = {top['first_width']}, best test accuracy "
                 f"{_pct(top['test_accuracy_max'])} of {top['n_test']:,} points).")
    half = 1.96 * math.sqrt(0.25 / top["n_test"])
    lines += ["", "Every network of a group is tested on the same sample of "
              f"{top['n_test']:,} points: the t-interval over seeds leaves out that sample's "
              f"own error (about +-{100 * half:.2f} points at 95%), which each network's "
              "Clopper-Pearson bound includes.", ""]
    lines += markdown_table(
        ["n", "N", "w", "memorized", "train acc", "test acc: mean over seeds [95% t-interval]",
         "best network", "its 95% upper bound", "paper's 0.51 applies (n >= n_min(w))",
         "exact ceiling acc*"],
        ([f"{r['n']:,}", f"{r['n_train']:,}", r["first_width"],
          f"{r['memorized']} of {r['seeds']}", _pct(r["train_accuracy_mean"]), _interval(r),
          _pct(r["test_accuracy_max"]), _pct(r["best_upper95"]),
          ("yes" if r["paper_applies"] else "no") +
          f" (n_min = {paper_min_dimension(r['first_width']):,})", _pct(r["ceiling"])]
         for r in narrow_here), "r")
    lines += ["", "The same training sets, first width >= n:", ""]
    body = []
    for n, N in groups_here:
        for r in rows:
            if (r["n"], r["n_train"]) != (n, N) or r["kind"] == "narrow":
                continue
            what = dict(wide=f"trained, w = {r['first_width']:,}",
                        m1=f"M1 (Theorem 7.3), 2 N+ N- = {r['first_layer_units']:,} units",
                        radial=f"radial memorizer (constructed), 2 k n = "
                               f"{r['first_layer_units']:,} units")[r["kind"]]
            extra = ("" if r["kind"] != "m1" else
                     f"1-NN {_pct(r['nn_accuracy'])}, ties {_pct(r['tie_fraction'])}")
            if r["kind"] == "radial":
                extra = f"min margin {r['min_margin']:.3f} x gap/4 (>= 1 proven)"
            body.append([f"{n:,}", f"{N:,}", what,
                         "" if r["memorized"] is None else f"{r['memorized']} of {r['seeds']}",
                         _pct(r["train_accuracy_mean"]), _interval(r), extra])
    lines += markdown_table(["n", "N", "network", "memorized", "train acc", "test acc",
                             "notes"], body, "r")
    lines += ["", "Width >= n is necessary (Theorem 5.1), not sufficient: trained wide networks "
              "and M1 see N points whose classes differ by r2 - r1 = r1 (2^{1/n} - 1) in radius "
              "(a 0.06% difference at n = 1,100) and have no reason to find the radius; the "
              "radial memorizer, built from the distribution, shows that a memorizer of first "
              "width >= n can be perfect on the same data."]
    return lines


def markdown(rows: list[dict]) -> str:
    s = summary(rows)
    r0 = next((r for r in rows if r["kind"] in ("narrow", "wide")), rows[0])
    n_test = sorted({r["n_test"] for r in rows})
    lines = ["# Yu, Gao, Zhang, Miao 2024, Theorem 5.1: first width w < n caps the accuracy", "",
             "Ball/annulus D(n, q, r1, 2^{1/n} r1, 3^{1/n} r1); networks n -> w -> "
             f"{r0['hidden']} -> 1 (ReLU, Adam, logistic loss, {r0['steps']} steps, first "
             "layer masked to w), trained on one training set per (n, N), tested on "
             f"a fresh sample of {', '.join(f'{k:,}' for k in n_test)} points per n; M1 "
             "(Theorem 7.3) and 1-NN on the same training sets. Ceiling acc*(n, w): the exact "
             "accuracy of the best function of a w-dimensional projection "
             "(jaxmem.metrics.width_ceiling). A network violates it when its number of correct "
             f"test points exceeds the (1 - {DELTA:g})-quantile of Binomial(n_test, acc*).", ""]
    verdict = "VIOLATED" if s["violations"] or s["width_mismatch"] else "HOLDS"
    lines.append(f"- **{verdict}**: {s['violations']} violation(s) among {s['networks']} "
                 f"narrow networks ({s['configs']} configs); networks whose trained first "
                 f"width is not w, or a \"narrow\" width >= n: {s['width_mismatch']}; "
                 f"narrow networks that memorized their training set: {s['memorized']} of "
                 f"{s['networks']}.")
    if s["worst"] is not None:
        w = s["worst"]
        lines.append(f"- Max over narrow networks of (test accuracy - ceiling): "
                     f"**{100 * s['max_excess']:+.2f} points** (n = {w['n']}, N = "
                     f"{w['n_train']}, w = {w['first_width']}: best seed "
                     f"{_pct(w['test_accuracy_max'])}, ceiling {_pct(w['ceiling'])}, allowance "
                     f"up to {_pct(w['allowed_accuracy'])}).")
    lines += _bites(rows, s)
    lines += ["", "## Consistency check: narrow networks against the exact ceiling", "",
              "A network whose first layer has w units computes a function of a w-dimensional "
              "projection, and no such function beats acc*(n, w): this comparison cannot fail "
              "if the trainer, the masking and the ceiling are right, so it checks the code, "
              "and is not evidence for the theorem.", ""]
    lines += markdown_table(
        ["n", "N", "w", "seeds", "test acc mean (SD)", "best seed", "ceiling acc*",
         "paper bound", "Bayes rule on this test sample", "best - ceiling", "train acc",
         "memorized", "violations"],
        ([r["n"], r["n_train"], r["first_width"], r["seeds"],
          f"{_pct(r['test_accuracy_mean'])} ({_pct(r['test_accuracy_sd'])})",
          _pct(r["test_accuracy_max"]), _pct(r["ceiling"]), _pct(r["paper_bound"]),
          _pct(r["bayes_test_accuracy"]), f"{100 * r['max_excess']:+.2f}",
          _pct(r["train_accuracy_mean"]), r["memorized"], r["violations"]]
         for r in rows if r["kind"] == "narrow"),
        "r")
    lines += ["", "## Wide control and M1 on the same training sets", ""]
    control = []
    for n, N in sorted({(r["n"], r["n_train"]) for r in rows}):
        here = [r for r in rows if (r["n"], r["n_train"]) == (n, N)]
        nar = [r for r in here if r["kind"] == "narrow"]
        best = max(nar, key=lambda r: r["test_accuracy_mean"]) if nar else None
        wide = next((r for r in here if r["kind"] == "wide"), None)
        m1 = next((r for r in here if r["kind"] == "m1"), None)
        cells = [str(n), str(N),
                 "" if best is None else f"{_pct(best['test_accuracy_mean'])} "
                 f"({best['first_width']})",
                 "" if best is None else _pct(best["ceiling"]),
                 "" if wide is None else f"{_pct(wide['test_accuracy_mean'])} "
                 f"({_pct(wide['test_accuracy_sd'])}), w = {wide['first_width']}",
                 "" if m1 is None else _pct(m1["test_accuracy_mean"]),
                 "" if m1 is None else _pct(m1["nn_accuracy"]),
                 "" if m1 is None else _pct(m1["tie_fraction"]),
                 "" if m1 is None else f"{m1['first_layer_units']:,}"]
        control.append(cells)
    lines += markdown_table(
        ["n", "N", "best narrow (w)", "its ceiling", "wide mean (SD)", "M1", "1-NN", "M1 ties",
         "M1 first-layer units 2 N+ N-"], control, "r")
    lines += ["", "## The ceiling at the paper's dimension (Lemma D.8: 3^{w/n} < 1.001)", ""]
    ceiling = []
    for w in PAPER_WIDTHS:
        n = paper_min_dimension(w)
        c = projection_accuracy_ceiling(n, w)
        ceiling.append([w, f"{n:,}", f"{c:.6f}", f"{paper_width_bound(n, w):.6f}",
                        "yes" if c <= 0.51 else "NO"])
    lines += markdown_table(
        ["w", "n = paper_min_dimension(w)", "exact ceiling acc*", "paper bound", "<= 0.51"],
        ceiling, "rrrrc")
    return "\n".join(lines) + "\n"

register_experiment(__name__)
