"""The information plane of a small trained network (Shwartz-Ziv & Tishby 2017, "Opening the
black box of deep neural networks via information"; Saxe et al., ICLR 2018, "On the
information bottleneck theory of deep learning"; docs/papers/README.md item 4): where each layer T
of a 12-10-7-5-4-3-2 network sits in the plane (I(X;T), I(T;Y)) as training goes on, with
tanh (Shwartz-Ziv & Tishby's setting) and ReLU (Saxe et al.'s comparison), estimated by
binning every activation into 30 equal intervals.

What Shwartz-Ziv & Tishby claimed and Saxe et al. disputed: training has a short "fitting"
phase (I(T;Y) and I(X;T) grow) and a long "compression" phase (I(X;T) falls while I(T;Y)
stays); Saxe et al. found the compression with tanh but not with ReLU, and traced it to the
saturation of double-sided nonlinearities seen through the binning, not to SGD. This
experiment measures both and says what it saw; it does not decide the dispute.

The data (DATA_RULE, reproducible offline; Shwartz-Ziv & Tishby's own rule is not published
as code, so this is an analogue, not their data set):
    X        all 4096 vectors x in {-1, +1}^12: pattern i has x_k = +1 iff bit (11 - k) of i
             is set (k = 0..11), i.e. the rows in binary order
    the rule the 12 inputs sit on the 12 vertices v_0..v_11 of a regular icosahedron
             (unit vectors; `icosahedron()`: v = (0, a, b phi), (a, b phi, 0), (b phi, 0, a)
             normalized, for (a, b) = (-1, -1), (-1, 1), (1, -1), (1, 1) in that order, phi the
             golden ratio); the pattern's dipole is m(x) = sum_k x_k v_k and
                 y = 1  iff  |m(x)|^2 > 10   (else y = 0).
             |m(x)|^2 is spherically symmetric in Shwartz-Ziv & Tishby's sense: invariant under
             the rotations and reflections of the sphere that map the 12 points onto
             themselves, and under x -> -x. It takes 20 values; 10 lies in the gap between
             8.845 and 11.578, which splits the patterns 2060 (y = 0) / 2036 (y = 1): H(Y) =
             0.99998 bits.
    split    a fixed permutation of the 4096 patterns (jax.random.permutation with the key
             fold_in(key(SEED), SPLIT_TAG)); its first round(0.85 * 4096) = 3482 train, the
             other 614 are the test set (Shwartz-Ziv & Tishby trained on 85%).
The network: 12 -> 10 -> 7 -> 5 -> 4 -> 3 -> 2 (jaxmem.training.mlp: tanh with LeCun-normal
init, ReLU with He-normal init, biases 0, the read-out LeCun-normal), softmax cross-entropy,
Adam (lr 3e-3) on minibatches of 256 (13 steps an epoch, reshuffled each epoch, the last 154
rows of an epoch's order unused), float32. Every seed of one activation is one lane of ONE
compiled, vmapped training loop (`mlp.init_state` / `mlp.advance` in segments between
checkpoints); seed s has the key dataset_keys(SEED, net_config, [s]), so its network does not
depend on the number of seeds or checkpoints.

The layers T_1..T_6: the five hidden layers (widths 10, 7, 5, 4, 3) and the softmax output
(2 probabilities), measured on ALL 4096 inputs (X uniform over them, as in the papers) at
log-spaced checkpoints (epoch 0 = initialization, then geomspace(1, epochs)). Binning (BINS =
30 equal intervals, jaxmem.metrics.information.bin_activations):
    tanh hidden layers    the fixed range [-1, 1] (Shwartz-Ziv & Tishby, Saxe et al.)
    ReLU hidden layers    the layer's own [0, max] at that checkpoint and seed (as Saxe et al.;
                          [0, 1] for a dead layer, all zeros)
    softmax output        [0, 1] for both
Then, T deterministic in X and X uniform over 4096 distinct inputs,
    I(X;T) = H(T_binned) <= 12 bits,   I(T;Y) = H(T_binned) + H(Y) - H(T_binned, Y) <= H(Y),
the plug-in entropies of the empirical distribution of the binned rows. They are counted on
the host from the library's bin indices by sorting (np.unique, O(N log N)): the same numbers
as `jaxmem.metrics.information.layer_information` (the tests check it), whose O(N^2)
pairwise count at N = 4096 would add minutes over the hundreds of layers one run measures
(timings: experiments/results/training/README.md). Beside them, H_T_unbinned = log2 of the number of
distinct (unbinned, float32) activation rows: the I(X;T) of the network itself, which the
data processing inequality makes non-increasing in depth and which is log2 4096 = 12 bits
while the rows stay distinct (Saxe et al.'s point: on distinct inputs a deterministic
network does not compress at all; only the binned estimate does).

Checks in the report: I(T;Y) <= H(Y); the data processing inequality along the chain
Y - X - T_1 - ... - T_6, I(X;T_1) >= I(X;T_2) >= ... and I(T_1;Y) >= I(T_2;Y) >= ..., which
the exact quantities obey but the binned estimates need not (binned T_{l+1} is not a function
of binned T_l): the report counts how often the estimate breaks it and by how much.
"Compression" of a layer: its seed-mean I(X;T) ends at least COMPRESSION_BITS below its
maximum over the checkpoints.

Records: one store run (sweep name "information_plane", kind "experiment"); one config per
(activation, checkpoint epoch, layer), its canonical JSON holding the training config (every
setting that fixes the network), the epoch, the layer and its binning; dataset index = the
seed. The records are computed by the engine (jaxmem.experiment.run_experiment): one host job
per config, one block of all seeds each. A rerun trains an activation again only when one of
its checkpoints lacks records (the trajectory is recomputed from initialization,
deterministically, up to the last missing checkpoint; only missing records are measured out
and written).

Scales (`SCALES`; timings: experiments/results/training/README.md):
    quick  tanh and ReLU, 3 seeds, Adam lr 3e-3, batches of 256 reshuffled each epoch, 85%
           training, 300 epochs (3,900 steps), 12 checkpoints (epochs 0 .. 300), 30 bins as
           above: a minute or two on a small CPU
    full   (also named "authors") Shwartz-Ziv & Tishby's setting, below: tanh, 50 runs, 10^4
           epochs (70,000 steps), 279 checkpoints; ~25 minutes on a loaded 2-core CPU

The authors' setting (setting "idnns"; from their public code, ravidziv/IDNNs at commit
e53f054, files under idnns/: the numbers are the code's; the paper's abstract names SGD, and
Saxe et al. 2018, Section 2, describe the same network and 30 bins over [-1, 1] in their
replication with this code):
    network   12-10-7-5-4-3-2, tanh hidden layers, softmax output (networks/model.py;
              network_paramters.py -net '1' = hidden 10, 7, 5, 4, 3); weights from a normal
              of sd 1/sqrt(fan_in) truncated at 2 sd, biases 0 (model.py initilizae_layer)
    training  Adam (model.py: tf.train.AdamOptimizer), lr 0.0004, batches of 512
              (network_paramters.py defaults), the mean cross-entropy of each batch; each
              epoch walks the training rows in one fixed order, the last batch holding the
              remainder (network.py train_network; utils.data_shuffle does not shuffle by
              default): 3277 rows = 80% (-inds [80]), 7 steps an epoch
    epochs    10^4, as the run names in plots/plot_figures.py (nEpoch=10000,
              LastEpochsInds=9998; the parser's default is 8000); measured at the distinct
              int(logspace(0, log2(10^4), 400, base 2)) - 1 epochs (information_network.py's
              epochs_indexes, -num_samples 400): 279 checkpoints, 0 .. 9998, each before that
              epoch's training
    binning   np.digitize against linspace(-1, 1, 30) (30 edges: 29 intervals and exactly
              1.0 on its own) for every layer, the softmax output included
              (information/information_process.py get_information)
    runs      50 independent initializations, one vmapped, jitted training loop (the issue
              asks for 20 or more; their saved runs have nRepeats 20 and 40)
  What differs, in every output's title: the task is this module's generated rule, not their
  data file (its licence forbids redistribution); the 80% are a random fixed subset (theirs:
  the file's first 80%); optax's Adam (epsilon 1e-8 added to the root of the bias-corrected
  second moment; TensorFlow 1 adds it to the uncorrected one, which differs only while that
  moment is tiny) and the log-softmax cross-entropy (theirs: the log of the softmax clipped at
  1e-50, the same wherever the softmax does not underflow).
  The report (render_authors): for each layer, from its I(X;T) in every run, the checkpoint
  k* where the run mean peaks, each run's rise (k* minus the first checkpoint: the fitting
  phase) and fall (k* minus the last: the compression phase) with 95% t-intervals
  (`phase_statistics`; a phase is seen when its interval lies above MIN_BITS = 0.1 bit), the
  largest rise of the run mean after an early fall (a fitting phase that does not start at
  initialization), the fall after the fit (from the first checkpoint where the mean training
  error is <= FIT_ERROR = 1% to the last), the training error at k* (the paper: compression
  begins when the training error becomes small), the share of epochs after k* (the paper:
  most epochs are spent compressing), and the unbinned I(X;T) (Saxe et al.: is the fall the
  network's or the binning's?).
What the authors' setting gave (50 runs; information_plane_authors.md): every layer's binned
I(X;T) falls, by 0.53 (T1) to 6.88 (T5) bits from its peak, and further after the fit (epoch
670) in all six; a rise from initialization only in the softmax T6, after an early fall in T4
and T5 (epochs ~200 -> ~330), none possible in T1-T3 (at the 12-bit ceiling); the deep
layers' peaks (epochs 319-327) come at 15-16% training error, before the error is small; the
unbinned I(X;T) stays 12 bits in T1-T4 and falls in T5 (11.71) and T6 (10.93).
What the quick scale gave (default keys; seed means, first -> last checkpoint, bits):
    tanh  I(X;T) T1..T6 12.00/12.00/11.96/11.44/8.20/2.21 -> 11.70/10.95/10.18/8.56/3.40/1.00;
          I(T;Y) -> >= 0.997 in every layer (train 100%, test 99.8%). Every layer's I(X;T)
          falls after the fit (epoch 31), by 0.3 (T1) to 3.4 (T5) bits, as the end-bin share
          grows (T5: 0% -> 72%): compression in the binned estimate, while the unbinned
          I(X;T) stays 12.00 bits in T1-T5.
    relu  I(X;T) 11.97/10.75/6.81/5.00/4.49/2.67 -> 11.15/10.71/8.83/5.81/3.80/1.02: T2-T4 rise
          (fitting) to a peak at epochs 31-54 and then lose 0.05-0.23 bits after the fit while
          their [0, max] range keeps widening (T5: max 4.5 -> 33); the unbinned I(X;T) of T5
          falls 9.40 -> 6.69 bits (inputs mapped to exact zeros). The binned estimate breaks
          the data processing ordering of I(X;T) at 5 of 36 (seed, checkpoint) points (up to
          0.72 bits); under tanh it never does. I(T;Y) <= H(Y) = 0.99998 everywhere.

Outputs (from the store alone; the authors' setting writes information_plane_authors.csv
(per checkpoint and layer: run means with 95% intervals), information_plane_authors_phases.csv
(per layer: the phase statistics), .png (the information plane of the run means; I(X;T),
I(T;Y) and the unbinned I(X;T) against the epoch with intervals; the errors) and .md (the
setting and its differences, the papers' sentences, the per-layer table, where the picture
agrees and where not); the quick scale:
    information_plane.png  top: one information plane per activation (I(X;T) across, I(T;Y)
                           up; one line colour and marker per layer, the points coloured by
                           epoch); bottom: the seed-mean I(X;T) of every layer against the
                           epoch, with the training accuracy
    information_plane.csv  one row per (activation, epoch, layer): seed means and SDs
    information_plane.md   the setting, per activation and layer the start / peak / end of
                           I(X;T) and I(T;Y), whether compression appeared, the data
                           processing checks and I(T;Y) <= H(Y)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmem import tables
from jaxmem.data.validate import positive_int
from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments._records import RunStats, run_records, scale_size
from jaxmem.metrics import information
from jaxmem.sweep.keys import dataset_keys
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.training import mlp

NAME = "information_plane"
REGENERATES = ("Shwartz-Ziv & Tishby 2017 (and Saxe et al. 2018's ReLU comparison): the "
               "information plane I(X;T), I(T;Y) of a 12-10-7-5-4-3-2 network's layers over "
               "training, 30-bin estimates, tanh and ReLU")

SEED = 0
SPLIT_TAG = 1                    # the split's key: fold_in(key(SEED), SPLIT_TAG)
DATA_RULE = "icosahedron_dipole.v1"
N_BITS = 12
THRESHOLD = 10.0                 # y = 1 iff |m(x)|^2 > THRESHOLD
HIDDEN = (10, 7, 5, 4, 3)
OUTPUTS = 2
LAYERS = len(HIDDEN) + 1         # the hidden layers and the softmax output
LAYER_WIDTHS = HIDDEN + (OUTPUTS,)
PAD_WIDTH = max(LAYER_WIDTHS)    # every layer is binned at this width (one compilation)
BINS = 30
TRAIN_DTYPE = "float32"
INITS = {"tanh": "lecun", "relu": "he"}
ACTIVATIONS = ("tanh", "relu")
COMPRESSION_BITS = 0.1           # a layer "compresses" when I(X;T) ends this far below its peak
TOL = 1e-9                       # slack of the exact (float64, plug-in) inequality checks

SETTINGS = ("jaxmem", "idnns")   # the quick scale's training and binning; the authors' (below)
SCALES = {
    "quick": dict(activations=ACTIVATIONS, seeds=3, epochs=300, checkpoints=12,
                  optimizer="adam", lr=3e-3, batch_size=256, train_fraction=0.85),
    # The authors' setting, from Shwartz-Ziv & Tishby's public code (ravidziv/IDNNs, commit
    # e53f054; files under idnns/): see "The authors' setting" in the module docstring.
    "full": dict(activations=("tanh",),  # network_paramters.py -activation_function 0: tanh
                 seeds=50,               # independent runs (the issue asks for >= 20)
                 epochs=10_000,          # plot_figures.py's run names: nEpoch=10000
                 checkpoints=400,        # network_paramters.py -num_samples 400 (log2-spaced)
                 optimizer="adam",       # networks/model.py: tf.train.AdamOptimizer
                 lr=4e-4,                # network_paramters.py -learning_rate 0.0004
                 batch_size=512,         # network_paramters.py -batch_size 512
                 train_fraction=0.80,    # network_paramters.py -inds [80] (percent)
                 setting="idnns"),
}
SCALES["authors"] = SCALES["full"]   # the same size under the name the issue uses
IDNNS_EDGES = 30                 # get_information: bins = np.linspace(-1, 1, num_of_bins = 30)
MIN_BITS = 0.1                   # a phase is seen when its 95% interval lies above this
FIT_ERROR = 0.01                 # "the training error becomes small": the run mean <= 1%
IDNNS_INIT = "truncated_normal(2 sd, sd 1/sqrt(fan_in)), biases 0"      # networks/model.py
IDNNS_BINNING = "idnns: digitize by linspace(-1,1,30) edges"         # every layer, softmax too

CSV_COLUMNS = ("activation", "epoch", "layer", "layer_name", "width", "binning", "seeds",
               "I_XT_mean", "I_XT_sd", "I_XT_min", "I_XT_max", "I_TY_mean", "I_TY_sd",
               "I_TY_min", "I_TY_max", "H_Y", "H_T_unbinned_mean", "edge_fraction_mean",
               "bin_hi_mean", "train_accuracy_mean", "test_accuracy_mean", "loss_mean")


# --- sizes -----------------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with plain types (and its setting, "jaxmem" unless named), or ValueError
    naming what is wrong."""
    keys = set(SCALES["quick"])
    if not keys <= set(size) <= keys | {"setting"}:
        raise ValueError(f"a size has exactly the keys {sorted(keys)} (and optionally "
                         f"'setting'); got {sorted(size)}")
    setting = size.get("setting", "jaxmem")
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}; got {setting!r}")
    acts = tuple(size["activations"])
    if not acts or len(set(acts)) != len(acts) or not set(acts) <= set(ACTIVATIONS):
        raise ValueError(f"activations must be distinct entries of {ACTIVATIONS}; got {acts}")
    out = dict(size, activations=acts, setting=setting)
    for k in ("seeds", "epochs", "checkpoints"):
        out[k] = positive_int(k, size[k])
    if out["checkpoints"] < 2:
        raise ValueError(f"checkpoints must be >= 2 (initialization and the end); got "
                         f"{out['checkpoints']}")
    if size["optimizer"] not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {size['optimizer']!r}")
    out["lr"] = float(size["lr"])
    out["train_fraction"] = float(size["train_fraction"])
    if not (math.isfinite(out["lr"]) and out["lr"] > 0):
        raise ValueError(f"lr must be a finite number > 0; got {size['lr']!r}")
    if not 0 < out["train_fraction"] < 1:
        raise ValueError(f"train_fraction must be in (0, 1); got {size['train_fraction']!r}")
    n_train = n_train_of(out)
    if not 1 <= n_train < 2 ** N_BITS:
        raise ValueError(f"train_fraction {out['train_fraction']} leaves {n_train} training "
                         f"and {2 ** N_BITS - n_train} test patterns; both must be >= 1")
    b = size["batch_size"]
    if b is None:
        if size["optimizer"] != "adam" or setting == "idnns":
            raise ValueError("batch_size None (full batch) needs optimizer 'adam' and the "
                             "'jaxmem' setting (mlp's 'sgd' is minibatch SGD)")
    elif not isinstance(b, (int, np.integer)) or isinstance(b, bool) or not 1 <= b <= n_train:
        raise ValueError(f"batch_size must be None (full batch) or an int in 1..{n_train} (the "
                         f"training set); got {b!r}")
    out["batch_size"] = None if b is None else int(b)
    if setting == "idnns":
        # Their binning is over tanh's [-1, 1] and their optimizer Adam (module docstring).
        if acts != ("tanh",) or out["optimizer"] != "adam":
            raise ValueError("the 'idnns' setting is tanh networks trained by Adam; got "
                             f"activations {acts}, optimizer {out['optimizer']!r}")
        if len(checkpoint_epochs(out)) < 2:
            raise ValueError(f"{out['checkpoints']} log2-spaced checkpoints over "
                             f"{out['epochs']} epochs leave fewer than 2 distinct epochs")
    return out


def n_train_of(size: dict) -> int:
    return int(round(size["train_fraction"] * 2 ** N_BITS))


def steps_per_epoch(size: dict) -> int:
    """mlp's minibatch epochs: n_train // batch_size steps (the remainder unused); a
    full-batch epoch (batch_size None) is one step. The authors' epochs (setting "idnns") go
    through the training rows in a fixed order, the last batch holding the remainder
    (network.py train_network's batch_points): ceil(n_train / batch_size) steps."""
    if size["batch_size"] is None:
        return 1
    if size.get("setting", "jaxmem") == "idnns":
        return -(-n_train_of(size) // size["batch_size"])
    return n_train_of(size) // size["batch_size"]


def checkpoint_epochs(size: dict) -> list[int]:
    """Epoch 0 (initialization), then round(geomspace(1, epochs, checkpoints - 1)) without
    repeats: at most `checkpoints` epochs, always 0 and `epochs`. The authors' schedule
    (setting "idnns"; information_network.py's epochs_indexes): the distinct values of
    int(logspace(0, log2(epochs), checkpoints, base 2)) - 1, measured before that epoch's
    training, i.e. after that many epochs (0 .. epochs - 2 for 10,000: 9998 last)."""
    e = size["epochs"]
    if size.get("setting", "jaxmem") == "idnns":
        logs = np.logspace(np.log2(1), np.log2(e), size["checkpoints"], dtype=int, base=2)
        return [int(v) for v in np.unique(logs) - 1]
    k = size["checkpoints"] - 1
    logs = np.rint(np.geomspace(1, e, k)).astype(int) if k > 1 else np.array([e])
    return [0] + sorted({int(v) for v in logs} | {e})


def _grid(size: dict) -> dict:
    return dict(size, activations=list(size["activations"]))


# --- data ------------------------------------------------------------------------------------

def icosahedron() -> np.ndarray:
    """(12, 3) unit vertices of a regular icosahedron, in DATA_RULE's fixed order."""
    phi = (1 + math.sqrt(5)) / 2
    V = []
    for a, b in itertools.product((-1, 1), (-1, 1)):
        V += [(0, a, b * phi), (a, b * phi, 0), (b * phi, 0, a)]
    V = np.asarray(V, np.float64)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def dipole(X) -> np.ndarray:
    """|m(x)|^2 = |sum_k x_k v_k|^2 of every row of X (N, 12) in {-1, +1}."""
    return np.sum((np.asarray(X, np.float64) @ icosahedron()) ** 2, axis=1)


def dataset() -> tuple[np.ndarray, np.ndarray]:
    """(X (4096, 12) float64 in {-1, +1}, y (4096,) int32 in {0, 1}): every 12-bit pattern in
    binary order and its label by DATA_RULE."""
    i = np.arange(2 ** N_BITS)[:, None]
    bits = (i >> np.arange(N_BITS - 1, -1, -1)) & 1
    X = 2.0 * bits - 1.0
    y = (dipole(X) > THRESHOLD).astype(np.int32)
    return X, y


def split(size: dict) -> np.ndarray:
    """Boolean (4096,) mask of the training patterns (the rest are the test set)."""
    perm = np.asarray(jax.random.permutation(
        jax.random.fold_in(jax.random.key(SEED), SPLIT_TAG), 2 ** N_BITS))
    mask = np.zeros(2 ** N_BITS, bool)
    mask[perm[:n_train_of(size)]] = True
    return mask


# --- configs ---------------------------------------------------------------------------------

def net_config(activation: str, size: dict) -> dict:
    """Everything that fixes one seed's network trajectory (not its length: the epochs and
    checkpoints only decide where it is measured). The quick scale's configs carry no
    `setting` key (their hashes, and so their stored records, predate it)."""
    idnns = size.get("setting", "jaxmem") == "idnns"
    out = dict(experiment=NAME, activation=activation, hidden=list(HIDDEN), outputs=OUTPUTS,
               init=IDNNS_INIT if idnns else INITS[activation], loss="cross_entropy",
               optimizer=size["optimizer"], lr=size["lr"], batch_size=size["batch_size"],
               train_fraction=size["train_fraction"], n_train=n_train_of(size),
               data_rule=DATA_RULE, seed=SEED, split_tag=SPLIT_TAG, dtype=TRAIN_DTYPE)
    if idnns:
        out.update(setting="idnns", batches="fixed order, remainder batch",
                   checkpoint_rule="idnns log2")
    return out


def layer_name(layer: int) -> str:
    return "softmax" if layer == LAYERS else f"hidden {layer}"


def binning_rule(activation: str, layer: int, setting: str = "jaxmem") -> str:
    if setting == "idnns":
        return IDNNS_BINNING
    if layer == LAYERS:
        return "fixed[0,1]"
    return "fixed[-1,1]" if activation == "tanh" else "own[0,max]"


def record_config(net: dict, epoch: int, layer: int) -> dict:
    """One (activation, checkpoint, layer): the training config plus where and how it is
    measured. layer is 1..6 (6: the softmax output)."""
    setting = net.get("setting", "jaxmem")
    return dict(net, epoch=int(epoch), layer=int(layer), layer_name=layer_name(layer),
                width=LAYER_WIDTHS[layer - 1],
                bins=IDNNS_EDGES - 1 if setting == "idnns" else BINS,
                binning=binning_rule(net["activation"], layer, setting),
                samples=2 ** N_BITS, estimator="plugin.binned")


@dataclasses.dataclass
class Plan:
    """One activation: its training config and, per checkpoint epoch, its layers' configs."""
    activation: str
    net: dict
    epochs: list
    configs: list       # configs[c][l - 1]: checkpoint c's layer l


def plans(size: dict) -> list[Plan]:
    epochs = checkpoint_epochs(size)
    out = []
    for act in size["activations"]:
        net = net_config(act, size)
        configs = [[record_config(net, e, l) for l in range(1, LAYERS + 1)] for e in epochs]
        out.append(Plan(act, net, epochs, configs))
    return out


# --- training and measuring ------------------------------------------------------------------

def make_trainer(activation: str, size: dict) -> mlp.Trainer:
    spe = steps_per_epoch(size)
    return mlp.Trainer(hidden=HIDDEN, outputs=OUTPUTS, activation=activation,
                       init=INITS[activation], loss="cross_entropy", optimizer=size["optimizer"],
                       batch_size=size["batch_size"],
                       check_every=1 if size["batch_size"] is None else spe,
                       max_steps=size["epochs"] * spe, freeze=False)


def start(activation: str, size: dict, X, y, train_mask, seeds: int):
    """(trainer, state, data): every seed of one activation initialized as lanes."""
    if size.get("setting", "jaxmem") == "idnns":
        return idnns_start(activation, size, X, y, train_mask, seeds)
    trainer = make_trainer(activation, size)
    keys = dataset_keys(SEED, net_config(activation, size), np.arange(seeds))
    width = np.tile(np.asarray(HIDDEN, np.int32), (seeds, 1))
    state, data = mlp.init_state(trainer, np.asarray(X[train_mask], np.float32),
                                 y[train_mask], keys, width=width, lr=size["lr"])
    return trainer, state, data


def train_segment(trainer, state, data, steps: int):
    """`steps` more updates of every lane (one compiled loop; steps is traced)."""
    if isinstance(trainer, IdnnsTrainer):
        return idnns_advance(trainer, state, data, steps)
    return mlp.advance(trainer, state, data, steps)


# --- the authors' training (setting "idnns") ------------------------------------------------
# Shwartz-Ziv & Tishby's code (ravidziv/IDNNs, idnns/networks/model.py and network.py): tanh
# hidden layers and a softmax output, weights drawn from a normal of sd 1/sqrt(fan_in)
# truncated at 2 sd (tf.truncated_normal_initializer), biases 0; the mean cross-entropy of
# each batch; Adam; each epoch walks the training rows in one fixed order (data_shuffle keeps
# the order; no reshuffling), in batches of batch_size and a last batch of the remainder.

@dataclasses.dataclass(frozen=True)
class IdnnsTrainer:
    """The static part of the authors' training (hashable: one compilation)."""
    hidden: tuple
    outputs: int
    lr: float
    n_batches: int
    batch_size: int
    activation: str = "tanh"


class IdnnsState(NamedTuple):
    params: list        # [(W, b)] per layer, leading lane axis
    opt_state: object
    step: jax.Array     # updates applied so far (shared by the lanes)


def idnns_batches(n_train: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(index (n_batches, batch_size) int32, weight (n_batches, batch_size) float32) of the
    authors' epoch: rows [0, B), [B, 2B), ..., and the remainder; weight 1/len(batch) on a
    batch's rows and 0 on the padding, so sum(weight * loss) is the batch mean."""
    points = list(range(0, n_train + 1, batch_size))
    if points[-1] != n_train:
        points.append(n_train)
    nb = len(points) - 1
    index = np.zeros((nb, batch_size), np.int32)
    weight = np.zeros((nb, batch_size), np.float32)
    for b, (lo, hi) in enumerate(zip(points, points[1:])):
        index[b, :hi - lo] = np.arange(lo, hi)
        weight[b, :hi - lo] = 1.0 / (hi - lo)
    return index, weight


def idnns_init(key, dims: tuple) -> list:
    """[(W, b)] of a dims[0] -> ... -> dims[-1] network, W ~ N(0, 1/fan_in) truncated at 2 sd."""
    keys = jax.random.split(key, len(dims) - 1)
    return [(jax.random.truncated_normal(k, -2.0, 2.0, (a, b), jnp.float32) / math.sqrt(a),
             jnp.zeros((b,), jnp.float32)) for k, a, b in zip(keys, dims, dims[1:])]


def idnns_layers(params: list, X) -> tuple[list, jax.Array]:
    """(the tanh hidden layers, the output logits) of one network on X."""
    hidden, h = [], X
    for W, b in params[:-1]:
        h = jnp.tanh(h @ W + b)
        hidden.append(h)
    W, b = params[-1]
    return hidden, h @ W + b


def idnns_start(activation: str, size: dict, X, y, train_mask, seeds: int):
    index, weight = idnns_batches(n_train_of(size), size["batch_size"])
    trainer = IdnnsTrainer(hidden=HIDDEN, outputs=OUTPUTS, lr=size["lr"],
                           n_batches=len(index), batch_size=size["batch_size"],
                           activation=activation)
    keys = dataset_keys(SEED, net_config(activation, size), np.arange(seeds))
    dims = (N_BITS,) + HIDDEN + (OUTPUTS,)
    params = jax.vmap(lambda k: idnns_init(k, dims))(keys)
    opt_state = jax.vmap(optax.adam(trainer.lr).init)(params)
    data = (jnp.asarray(X[train_mask], jnp.float32), jnp.asarray(y[train_mask], jnp.int32),
            jnp.asarray(index), jnp.asarray(weight))
    return trainer, IdnnsState(params, opt_state, jnp.zeros((), jnp.int32)), data


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=mlp.OPTIMIZED)
def _idnns_advance(trainer, state, X, y, index, weight, steps):
    opt = optax.adam(trainer.lr)

    def batch_loss(p, Xb, yb, wb):
        _, logits = idnns_layers(p, Xb)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], 1)[:, 0]
        return jnp.sum(wb * nll)

    def lane(p, s, Xb, yb, wb):
        updates, s = opt.update(jax.grad(batch_loss)(p, Xb, yb, wb), s, p)
        return optax.apply_updates(p, updates), s

    def body(i, carry):
        p, s = carry
        b = (state.step + i) % trainer.n_batches       # the fixed batch order
        idx = index[b]
        return jax.vmap(lane, in_axes=(0, 0, None, None, None))(p, s, X[idx], y[idx], weight[b])

    p, s = jax.lax.fori_loop(0, steps, body, (state.params, state.opt_state))
    return IdnnsState(p, s, state.step + steps)


def idnns_advance(trainer: IdnnsTrainer, state: IdnnsState, data, steps: int) -> IdnnsState:
    """`steps` more updates of every lane (one compiled loop; steps is traced)."""
    X, y, index, weight = data
    return _idnns_advance(trainer, state, X, y, index, weight, jnp.int32(steps))


@functools.partial(jax.jit, compiler_options=mlp.OPTIMIZED)
def _idnns_forward(params, X, y, train_mask):
    """Per lane, as _forward: the hidden layers and the softmax output on every pattern, the
    training accuracy, test accuracy and training loss."""
    def lane(p):
        hidden, logits = idnns_layers(p, X)
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)
        w = train_mask.astype(jnp.float32)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), y[:, None], 1)[:, 0]
        return (hidden + [jax.nn.softmax(logits, axis=-1)], jnp.sum(correct * w) / jnp.sum(w),
                jnp.sum(correct * (1 - w)) / jnp.sum(1 - w), jnp.sum(nll * w) / jnp.sum(w))
    return jax.vmap(lane)(params)


def idnns_codes(T) -> np.ndarray:
    """The authors' bin of every activation (get_information / calc_information_for_layer):
    np.digitize against the float32 edges linspace(-1, 1, 30), so 29 intervals over [-1, 1)
    and a bin of its own for exactly 1.0, for every layer (the softmax output too)."""
    edges = np.linspace(-1, 1, IDNNS_EDGES).astype(np.float32)
    return np.digitize(np.asarray(T, np.float32), edges)


def _row_counts(codes: np.ndarray, base: int) -> np.ndarray:
    """The multiplicities of the distinct rows of a small-integer matrix (entries < base),
    by packing each row into one int64 (base ** width < 2 ** 63 here)."""
    codes = np.asarray(codes, np.int64)
    assert base ** codes.shape[1] < 2 ** 62
    packed = codes @ (base ** np.arange(codes.shape[1], dtype=np.int64))
    return np.unique(packed, return_counts=True)[1]


def idnns_information(T, labels) -> dict:
    """binned_information's point under the authors' binning (idnns_codes)."""
    T = np.asarray(T, np.float32)
    labels = np.asarray(labels, np.int64)
    b = idnns_codes(T)
    base = IDNNS_EDGES + 1
    c_t = _row_counts(b, base)
    c_ty = _row_counts(np.column_stack([b, labels]), base)
    c_y = np.unique(labels, return_counts=True)[1]
    raw = np.ascontiguousarray(T).view(np.dtype((np.void, T.dtype.itemsize * T.shape[1])))
    c_raw = np.unique(raw.ravel(), return_counts=True)[1]
    return _point(c_t, c_ty, c_y, c_raw, (b <= 1) | (b >= IDNNS_EDGES - 1))


def idnns_measure(state: IdnnsState, X, y, train_mask) -> list[dict]:
    outputs = _idnns_forward(
        state.params, jnp.asarray(X, jnp.float32), jnp.asarray(y), jnp.asarray(train_mask))
    return _layer_columns(*outputs, lambda l, T: dict(idnns_information(T, y), bin_lo=-1.0,
                                                      bin_hi=1.0))


@functools.partial(jax.jit, static_argnames=("trainer",), compiler_options=mlp.OPTIMIZED)
def _forward(trainer, params, width, X, y, train_mask):
    """Per lane: the hidden layers and softmax output on every pattern, and the training
    accuracy, test accuracy and training loss."""
    def lane(p, m):
        hidden = mlp.hidden_activations(trainer, p, X, m)
        logits = mlp.predict(trainer, p, X, m)
        probs = jax.nn.softmax(logits, axis=-1)
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)
        w = train_mask.astype(jnp.float32)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), y[:, None], 1)[:, 0]
        return (hidden + [probs], jnp.sum(correct * w) / jnp.sum(w),
                jnp.sum(correct * (1 - w)) / jnp.sum(1 - w), jnp.sum(nll * w) / jnp.sum(w))
    return jax.vmap(lane)(params, width)


def _entropy_bits(counts) -> float:
    p = np.asarray(counts, np.float64) / np.sum(counts)
    return float(-np.sum(p * np.log2(p)))


def _point(c_t, c_ty, c_y, c_raw, at_edge) -> dict:
    """One layer's point from the multiplicities of the binned rows (c_t), of (row, label)
    (c_ty), of the labels (c_y) and of the raw rows (c_raw), and the activations in an edge bin."""
    h_t, h_y = _entropy_bits(c_t), _entropy_bits(c_y)
    return dict(I_XT=h_t, I_TY=h_t + h_y - _entropy_bits(c_ty), H_Y=h_y,
                H_T_unbinned=_entropy_bits(c_raw), edge_fraction=float(np.mean(at_edge)))


def _layer_columns(layers, train_acc, test_acc, loss, point_of) -> list[dict]:
    """Per layer 1..L: the record columns of a checkpoint, one value per lane (seed);
    point_of(layer, T) is one lane's point with its bin range (bin_lo, bin_hi)."""
    out = []
    for l, T in enumerate((np.asarray(T) for T in layers), start=1):
        cols: dict[str, list] = {}
        for s in range(T.shape[0]):
            for k, v in point_of(l, T[s]).items():
                cols.setdefault(k, []).append(v)
        cols.update(train_accuracy=np.asarray(train_acc, np.float64),
                    test_accuracy=np.asarray(test_acc, np.float64),
                    train_loss=np.asarray(loss, np.float64))
        out.append({k: np.asarray(v, np.float64) for k, v in cols.items()})
    return out


def binned_information(T, labels, value_range, bins: int = BINS) -> dict:
    """One layer's point: I_XT = H(T_binned), I_TY = H(T_binned) + H(Y) - H(T_binned, Y),
    H_Y, all in bits, of the rows of T (N, width) as N equally likely samples, binned by
    jaxmem.metrics.information.bin_activations; H_T_unbinned = H of the distinct raw rows;
    edge_fraction = the share of activations in the first or last bin. The same I_XT, I_TY
    and H_Y as information.layer_information, counted by sorting instead of pairwise.

    Narrow layers are padded with zero columns to PAD_WIDTH before binning (one compiled
    binning for every layer; a constant column changes no row's identity) and the padding
    is dropped from the bin indices."""
    T = np.asarray(T)
    w = T.shape[1]
    if w < PAD_WIDTH:
        T = np.pad(T, ((0, 0), (0, PAD_WIDTH - w)))
    b = np.asarray(information.bin_activations(T, bins, value_range))[:, :w]
    T = T[:, :w]
    labels = np.asarray(labels)
    _, c_t = np.unique(b, axis=0, return_counts=True)
    _, c_ty = np.unique(np.column_stack([b, labels]), axis=0, return_counts=True)
    _, c_y = np.unique(labels, return_counts=True)
    _, c_raw = np.unique(T, axis=0, return_counts=True)
    return _point(c_t, c_ty, c_y, c_raw, (b == 0) | (b == bins - 1))


def layer_range(activation: str, layer: int, T) -> tuple[float, float]:
    """The binning range of one layer's activations (see the module docstring)."""
    if layer == LAYERS:
        return (0.0, 1.0)
    if activation == "tanh":
        return (-1.0, 1.0)
    hi = float(np.max(T))
    return (0.0, hi if hi > 0 else 1.0)


def measure(trainer, state, X, y, train_mask) -> list[dict]:
    """Per layer 1..6: columns (one value per lane = seed) of the records of a checkpoint."""
    if isinstance(trainer, IdnnsTrainer):
        return idnns_measure(state, X, y, train_mask)
    outputs = _forward(
        trainer, state.params, state.width, jnp.asarray(X, jnp.float32), jnp.asarray(y),
        jnp.asarray(train_mask))

    def point_of(layer, T):
        lo, hi = layer_range(trainer.activation, layer, T)
        return dict(binned_information(T, y, (lo, hi)), bin_lo=lo, bin_hi=hi)
    return _layer_columns(*outputs, point_of)


# --- the runner: records into the store ------------------------------------------------------

class Trajectory:
    """One activation's networks, every seed a lane of one training loop, trained on demand to
    the checkpoint a block asks for (segment by segment through the checkpoints before it, as
    a run from initialization does) and measured there once for all its layers. Every config
    of the activation reads this one trajectory: its networks are keyed by the net config,
    not by the engine's per-config keys."""

    def __init__(self, plan: Plan, size: dict, X, y, train_mask):
        self.plan, self.size, self.X, self.y, self.train_mask = plan, size, X, y, train_mask
        self.trainer = self.state = self.data = None
        self.at = None          # the checkpoint the state is at; None: not started
        self.measured = None    # measure() at checkpoint `at`

    def block(self, checkpoint: int, layer: int, keys, indices) -> dict:
        """The engine's block trial of (checkpoint, layer): its columns at the seeds `indices`."""
        # An earlier checkpoint (a block another process held, taken over later) restarts.
        if self.at is None or checkpoint < self.at:
            self.trainer, self.state, self.data = start(
                self.plan.activation, self.size, self.X, self.y, self.train_mask,
                self.size["seeds"])
            self.at, self.measured = 0, None
        epochs, spe = self.plan.epochs, steps_per_epoch(self.size)
        while self.at < checkpoint:
            steps = (epochs[self.at + 1] - epochs[self.at]) * spe
            self.state = train_segment(self.trainer, self.state, self.data, steps)
            self.at, self.measured = self.at + 1, None
        if self.measured is None:
            self.measured = measure(self.trainer, self.state, self.X, self.y, self.train_mask)
        return {k: v[indices] for k, v in self.measured[layer - 1].items()}


def jobs(size: dict) -> list[Job]:
    """One host job per (activation, checkpoint, layer) config: one block of all its seeds,
    computed from the activation's shared Trajectory."""
    X, y = dataset()
    train_mask = split(size)
    todo = plans(size)
    configs = [c for p in todo for per_epoch in p.configs for c in per_epoch]
    roots = iter(root_key_datas(SEED, configs))
    out = []
    for p in todo:
        trajectory = Trajectory(p, size, X, y, train_mask)
        for c, per_epoch in enumerate(p.configs):
            for l, config in enumerate(per_epoch, start=1):
                out.append(Job(config=config, datasets=size["seeds"], root=next(roots),
                               trial=functools.partial(trajectory.block, c, l),
                               program=(NAME, p.activation, c, l), host=True, block=True,
                               chunk_size=size["seeds"]))
    return out


def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None) -> RunStats:
    """Computes every record the store lacks at `scale` (or at an explicit `size`, a dict
    with SCALES' keys), one activation at a time; prints one line as `jaxmem reproduce` does
    for a sweep. Returns what was computed and skipped."""
    size = check_size(scale_size(SCALES, scale) if size is None else size)
    grid = dict(experiment=NAME, scale=scale, **_grid(size))
    stats = RunStats.from_engine(run_experiment(store, NAME, grid, jobs(size),
                                                progress=progress))
    stats.report(NAME, stream)
    return stats


# --- the registry hooks ----------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grids: the records are trained networks measured over training (`compute`)."""
    check_size(scale_size(SCALES, scale))
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: the missing records at `scale`; {NAME: run id}."""
    return {NAME: run(store, scale, progress=progress).run_id}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """The figure, CSV and Markdown from the store's records of the run `runs[NAME]` (default:
    the newest information_plane run). ValueError if there are none."""
    from jaxmem.experiments import _genzel2023 as g
    records = run_records(store, runs, NAME)
    if any(r.get("setting") == "idnns" for r in records):
        return render_authors(records, out_dir)
    rows = config_rows(records)
    paths = [write_csv(rows, g.out_path(out_dir, f"{NAME}.csv")),
             plot(rows, g.out_path(out_dir, f"{NAME}.png"))]
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(rows, records))
    return paths + [md]


# --- from records to rows --------------------------------------------------------------------

def _stats(values) -> tuple[float, float, float, float]:
    v = np.asarray(values, np.float64)
    return (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, float(v.min()),
            float(v.max()))


def _act_order(activation: str) -> int:
    return ACTIVATIONS.index(activation) if activation in ACTIVATIONS else len(ACTIVATIONS)


def config_rows(records: list[dict]) -> list[dict]:
    """One row per (activation, epoch, layer) (CSV_COLUMNS): seed means, SDs and extremes,
    sorted by activation (tanh, relu), epoch, layer."""
    by_config: dict[str, list[dict]] = {}
    for r in records:
        by_config.setdefault(r["config_hash"], []).append(r)
    rows = []
    for group in by_config.values():
        r0 = group[0]
        ixt = _stats([r["I_XT"] for r in group])
        ity = _stats([r["I_TY"] for r in group])
        rows.append(dict(
            activation=r0["activation"], epoch=int(r0["epoch"]), layer=int(r0["layer"]),
            layer_name=r0["layer_name"], width=int(r0["width"]), binning=r0["binning"],
            seeds=len(group), I_XT_mean=ixt[0], I_XT_sd=ixt[1], I_XT_min=ixt[2],
            I_XT_max=ixt[3], I_TY_mean=ity[0], I_TY_sd=ity[1], I_TY_min=ity[2],
            I_TY_max=ity[3], H_Y=float(np.mean([r["H_Y"] for r in group])),
            H_T_unbinned_mean=float(np.mean([r["H_T_unbinned"] for r in group])),
            edge_fraction_mean=float(np.mean([r["edge_fraction"] for r in group])),
            bin_hi_mean=float(np.mean([r["bin_hi"] for r in group])),
            train_accuracy_mean=float(np.mean([r["train_accuracy"] for r in group])),
            test_accuracy_mean=float(np.mean([r["test_accuracy"] for r in group])),
            loss_mean=float(np.mean([r["train_loss"] for r in group])),
            optimizer=r0.get("optimizer"), lr=r0.get("lr"), batch_size=r0.get("batch_size"),
            n_train=r0.get("n_train")))
    return sorted(rows, key=lambda r: (_act_order(r["activation"]), r["activation"],
                                       r["epoch"], r["layer"]))


def write_csv(rows: list[dict], path: str) -> str:
    return tables.write_csv(rows, CSV_COLUMNS, path)


def activations_of(rows: list[dict]) -> list[str]:
    return sorted({r["activation"] for r in rows}, key=lambda a: (_act_order(a), a))


def trajectories(rows: list[dict], activation: str) -> dict:
    """{layer: (epochs, I_XT means, I_TY means)} of one activation, in epoch order."""
    out = {}
    for l in sorted({r["layer"] for r in rows if r["activation"] == activation}):
        here = [r for r in rows if r["activation"] == activation and r["layer"] == l]
        out[l] = (np.array([r["epoch"] for r in here]), np.array([r["I_XT_mean"] for r in here]),
                  np.array([r["I_TY_mean"] for r in here]))
    return out


# --- the figure ------------------------------------------------------------------------------

def plot(rows: list[dict], path: str) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    from jaxmem.experiments import _genzel2023 as g
    acts = activations_of(rows)
    fig = g.figure(5.4 * len(acts) + 0.8, 8.6)
    axes = fig.subplots(2, len(acts), squeeze=False)
    epochs_all = sorted({r["epoch"] for r in rows})
    norm = LogNorm(vmin=1, vmax=max(2, max(epochs_all) + 1))
    cmap = colormaps["viridis"]
    markers = "os^Dvp*h"
    scatter = None
    for col, act in enumerate(acts):
        top, bottom = axes[0, col], axes[1, col]
        traj = trajectories(rows, act)
        for l, (ep, ixt, ity) in traj.items():
            colour = f"C{(l - 1) % 10}"
            name = layer_name(l)
            top.plot(ixt, ity, "-", color=colour, lw=1.0, alpha=0.7, zorder=1)
            scatter = top.scatter(ixt, ity, c=ep + 1, cmap=cmap, norm=norm, s=26,
                                  marker=markers[(l - 1) % len(markers)], edgecolors=colour,
                                  linewidths=0.9, zorder=2,
                                  label=f"T{l}: {name} ({LAYER_WIDTHS[l - 1]})")
            bottom.plot(ep + 1, ixt, "-", marker=markers[(l - 1) % len(markers)],
                        ms=3, color=colour, label=f"T{l}")
        here = [r for r in rows if r["activation"] == act]
        h_y = max(r["H_Y"] for r in here)
        top.axhline(h_y, ls=":", color="k", lw=1, label=f"H(Y) = {h_y:.4f} bits")
        top.set_xlabel("I(X;T) [bits]")
        top.set_ylabel("I(T;Y) [bits]")
        seeds = sorted({r["seeds"] for r in here})
        top.set_title(f"{act}: information plane, seed mean of {'/'.join(map(str, seeds))} "
                      f"networks", fontsize=9)
        top.grid(alpha=0.3)
        top.legend(fontsize=6, loc="lower right")
        first = [r for r in here if r["layer"] == 1]
        ep = np.array([r["epoch"] + 1 for r in first])
        acc = bottom.twinx()
        acc.plot(ep, [r["train_accuracy_mean"] for r in first], "k:", lw=1.2,
                 label="train accuracy")
        acc.plot(ep, [r["test_accuracy_mean"] for r in first], "k--", lw=0.8,
                 label="test accuracy")
        acc.set_ylim(0.4, 1.02)
        acc.set_ylabel("accuracy", fontsize=8)
        acc.legend(fontsize=6, loc="lower left")
        bottom.set_xscale("log")
        bottom.set_xlabel("epoch + 1 (1 = initialization)")
        bottom.set_ylabel("I(X;T) [bits]")
        bottom.set_title(f"{act}: I(X;T) per layer over training\n({binning_note(act)})",
                         fontsize=8)
        bottom.grid(alpha=0.3)
        bottom.legend(fontsize=6, loc="center left", ncol=2)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes[0, :].tolist(), label="epoch + 1 (log)", shrink=0.9)
    fig.suptitle("Information plane of a 12-10-7-5-4-3-2 network, 30-bin estimates on all "
                 "4096 inputs (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018)", fontsize=10)
    return g.save(fig, path)


def binning_note(activation: str) -> str:
    hidden = "[-1, 1]" if activation == "tanh" else "own [0, max]"
    return f"30 bins: hidden layers over {hidden}, softmax over [0, 1]"


# --- the summary -----------------------------------------------------------------------------

def layer_summary(rows: list[dict], activation: str) -> list[dict]:
    """Per layer of one activation: I(X;T) at the first checkpoint, its peak (and epoch), at
    the last; compression = peak - last; after_fit = I(X;T) at the first checkpoint with 99%
    seed-mean training accuracy minus the last (Shwartz-Ziv & Tishby's compression phase
    follows the fit; None if never fit); I(T;Y) first and last; the share of activations in
    the end bins and the binning range's upper end, first and last."""
    fit = _fit_epoch(rows, activation)
    out = []
    for l, (ep, ixt, ity) in trajectories(rows, activation).items():
        here = [r for r in rows if r["activation"] == activation and r["layer"] == l]
        k = int(np.argmax(ixt))
        at_fit = None if fit is None or fit not in ep else float(ixt[list(ep).index(fit)])
        out.append(dict(layer=l, name=layer_name(l), width=LAYER_WIDTHS[l - 1],
                        first_epoch=int(ep[0]), last_epoch=int(ep[-1]),
                        I_XT_first=float(ixt[0]), I_XT_peak=float(ixt[k]),
                        peak_epoch=int(ep[k]), I_XT_last=float(ixt[-1]),
                        I_TY_first=float(ity[0]), I_TY_last=float(ity[-1]),
                        I_TY_peak=float(ity.max()),
                        compression=float(ixt[k] - ixt[-1]),
                        compressed=bool(ixt[k] - ixt[-1] >= COMPRESSION_BITS),
                        after_fit=None if at_fit is None else at_fit - float(ixt[-1]),
                        edge_first=here[0]["edge_fraction_mean"],
                        edge_last=here[-1]["edge_fraction_mean"],
                        hi_first=here[0]["bin_hi_mean"], hi_last=here[-1]["bin_hi_mean"],
                        raw_first=here[0]["H_T_unbinned_mean"],
                        raw_last=here[-1]["H_T_unbinned_mean"],
                        raw_min=min(r["H_T_unbinned_mean"] for r in here)))
    return out


def dpi_check(records: list[dict], activation: str, key: str) -> dict:
    """The data processing ordering key(T_1) >= key(T_2) >= ... >= key(T_6) for every (seed,
    checkpoint) of one activation: how many (seed, checkpoint) trajectories respect it, how
    many adjacent layer pairs break it, the largest excess in bits and where."""
    by_point: dict[tuple, dict] = {}
    for r in records:
        if r["activation"] == activation:
            by_point.setdefault((int(r["dataset_index"]), int(r["epoch"])), {})[
                int(r["layer"])] = float(r[key])
    points = pairs = broken_points = broken_pairs = 0
    worst, where = 0.0, None
    for (seed, epoch), values in sorted(by_point.items()):
        layers = sorted(values)
        points += 1
        bad = False
        for a, b in zip(layers, layers[1:]):
            if b != a + 1:
                continue
            pairs += 1
            excess = values[b] - values[a]
            if excess > TOL:
                broken_pairs += 1
                bad = True
                if excess > worst:
                    worst, where = excess, dict(seed=seed, epoch=epoch, layers=(a, b))
        broken_points += bad
    return dict(points=points, pairs=pairs, broken_points=broken_points,
                broken_pairs=broken_pairs, worst=worst, where=where)


def summary(rows: list[dict], records: list[dict]) -> dict:
    out = {}
    for act in activations_of(rows):
        recs = [r for r in records if r["activation"] == act]
        last = max(r["epoch"] for r in recs)     # once, not per record (O(N) not O(N^2))
        out[act] = dict(
            layers=layer_summary(rows, act),
            dpi_xt=dpi_check(recs, act, "I_XT"),
            dpi_ty=dpi_check(recs, act, "I_TY"),
            dpi_raw=dpi_check(recs, act, "H_T_unbinned"),
            max_ty_excess=max(float(r["I_TY"]) - float(r["H_Y"]) for r in recs),
            max_xt=max(float(r["I_XT"]) for r in recs),
            H_Y=float(np.mean([r["H_Y"] for r in recs])),
            seeds=len({r["dataset_index"] for r in recs}),
            last_train=float(np.mean([r["train_accuracy"] for r in recs
                                      if r["epoch"] == last and r["layer"] == 1])),
            last_test=float(np.mean([r["test_accuracy"] for r in recs
                                     if r["epoch"] == last and r["layer"] == 1])),
            fit_epoch=_fit_epoch(rows, act))
    return out


def _fit_epoch(rows: list[dict], activation: str, level: float = 0.99):
    """The first checkpoint epoch whose seed-mean training accuracy reaches `level`."""
    for r in rows:
        if r["activation"] == activation and r["layer"] == 1 and \
                r["train_accuracy_mean"] >= level:
            return r["epoch"]
    return None


def _dpi_line(d: dict, what: str) -> str:
    if d["broken_pairs"] == 0:
        return (f"{what}: respected at all {d['points']} (seed, checkpoint) points "
                f"({d['pairs']} adjacent layer pairs).")
    w = d["where"]
    return (f"{what}: broken at {d['broken_points']} of {d['points']} (seed, checkpoint) "
            f"points ({d['broken_pairs']} of {d['pairs']} adjacent layer pairs); largest "
            f"excess {d['worst']:.3f} bits (seed {w['seed']}, epoch {w['epoch']}, T{w['layers'][1]}"
            f" above T{w['layers'][0]}).")


def markdown(rows: list[dict], records: list[dict]) -> str:
    s = summary(rows, records)
    r0 = rows[0]
    epochs = sorted({r["epoch"] for r in rows})
    lines = ["# The information plane of a 12-10-7-5-4-3-2 network (Shwartz-Ziv & Tishby "
             "2017; Saxe et al. 2018)", "",
             f"All 4096 patterns x in {{-1, +1}}^12, label y = 1 iff |sum_k x_k v_k|^2 > "
             f"{THRESHOLD:g} with v_k the 12 vertices of a regular icosahedron (a spherically "
             f"symmetric rule in the spirit of Shwartz-Ziv & Tishby's, not their data); "
             f"trained on {r0['n_train']} of them ({r0['optimizer']}, lr {r0['lr']:g}, "
             f"batches of {r0['batch_size']}, softmax cross-entropy, float32), "
             f"{len(epochs)} checkpoints at epochs {', '.join(map(str, epochs))}. Each layer T "
             f"(hidden layers 1-5, the softmax output 6) is measured on all 4096 inputs with "
             f"{BINS} equal bins: tanh hidden layers over [-1, 1], ReLU hidden layers over "
             f"their own [0, max] per checkpoint, the softmax over [0, 1]. I(X;T) = "
             f"H(T_binned) <= 12 bits and I(T;Y) <= H(Y) (plug-in entropies of the empirical "
             f"distribution); numbers are means over the seeds.", ""]
    for act, a in s.items():
        compressed = [L for L in a["layers"] if L["compressed"]]
        rows = []
        for L in a["layers"]:
            after = "" if L["after_fit"] is None else f"{L['after_fit']:.3f}"
            rows.append([f"T{L['layer']} {L['name']}", L["width"], f"{L['I_XT_first']:.3f}",
                         f"{L['I_XT_peak']:.3f} ({L['peak_epoch']})", f"{L['I_XT_last']:.3f}",
                         f"{L['compression']:.3f}", after, f"{L['I_TY_first']:.3f}",
                         f"{L['I_TY_last']:.3f}", f"{L['raw_first']:.3f} -> {L['raw_last']:.3f}",
                         f"{100 * L['edge_first']:.1f}% -> {100 * L['edge_last']:.1f}%",
                         f"{L['hi_first']:.3g} -> {L['hi_last']:.3g}"])
        lines += [f"## {act} ({a['seeds']} seeds)", ""]
        lines += tables.markdown_table(
            ["layer", "width", "I(X;T) first", "I(X;T) peak (epoch)", "I(X;T) last",
             "compression (peak - last)", "after the fit (fit - last)", "I(T;Y) first",
             "I(T;Y) last", "unbinned I(X;T) first -> last", "end bins first -> last",
             "bin range top first -> last"], rows, "l" + "r" * 11)
        fit = ("never reached 99% training accuracy (seed mean)" if a["fit_epoch"] is None
               else f"reached 99% training accuracy (seed mean) by epoch {a['fit_epoch']}")
        lines += ["", f"- Training: the networks {fit}; at the last checkpoint train "
                  f"{100 * a['last_train']:.1f}%, test {100 * a['last_test']:.1f}%."]
        if compressed:
            big = max(compressed, key=lambda L: L["compression"])
            after = [L for L in compressed if L["peak_epoch"] > L["first_epoch"]]
            lines.append(
                f"- **Compression seen** in {len(compressed)} of {len(a['layers'])} layers "
                f"(I(X;T) ends >= {COMPRESSION_BITS:g} bit below its peak): "
                + ", ".join(f"T{L['layer']} {L['compression']:.2f} bits" for L in compressed)
                + f"; largest in T{big['layer']} ({big['I_XT_peak']:.2f} -> "
                f"{big['I_XT_last']:.2f} bits after epoch {big['peak_epoch']}). "
                + (f"{len(after)} of them first rose (a fitting phase in I(X;T)) and then fell"
                   if after else "None of them rose first: I(X;T) peaked at initialization, "
                   "so no fitting phase in I(X;T) precedes the compression")
                + ".")
        else:
            lines.append(f"- **No compression**: no layer's I(X;T) ends {COMPRESSION_BITS:g} "
                         f"bit or more below its peak.")
        post = [L for L in a["layers"] if L["after_fit"] is not None
                and L["after_fit"] >= COMPRESSION_BITS]
        if a["fit_epoch"] is not None:
            lines.append(f"- After the fit (epoch {a['fit_epoch']} to the end, Shwartz-Ziv & "
                         f"Tishby's compression phase): {len(post)} of {len(a['layers'])} "
                         f"layers lose >= {COMPRESSION_BITS:g} bit of I(X;T)"
                         + (": " + ", ".join(f"T{L['layer']} {L['after_fit']:.2f}"
                                             for L in post) if post else "") + ".")
        rise = [L for L in a["layers"] if L["I_TY_last"] - L["I_TY_first"] >= 0.05]
        lines.append(f"- Fitting in I(T;Y): {len(rise)} of {len(a['layers'])} layers gain >= "
                     f"0.05 bit of I(T;Y) from the first to the last checkpoint "
                     f"(H(Y) = {a['H_Y']:.5f} bits).")
        lines.append(f"- I(T;Y) <= H(Y): max over records of I(T;Y) - H(Y) = "
                     f"{a['max_ty_excess']:.2e} bits "
                     f"({'holds' if a['max_ty_excess'] <= TOL else 'VIOLATED'}); max I(X;T) = "
                     f"{a['max_xt']:.4f} <= 12 bits.")
        lines.append("- Data processing, binned I(X;T_1) >= ... >= I(X;T_6): "
                     + _dpi_line(a["dpi_xt"], "the estimate"))
        lines.append("- Data processing, binned I(T_1;Y) >= ... >= I(T_6;Y): "
                     + _dpi_line(a["dpi_ty"], "the estimate"))
        lines.append("- Data processing for the unbinned rows (log2 of the number of distinct "
                     "activation rows, the network's own I(X;T)): "
                     + _dpi_line(a["dpi_raw"], "exact count") + "")
        lines.append("")
    lines += ["## Reading it", "",
              "- The data processing inequality holds for the layers themselves (each is a "
              "deterministic function of the one before); a binned estimate can still break "
              "it, because the binned T_{l+1} is not a function of the binned T_l. The counts "
              "above say how far the estimate strays.",
              "- Shwartz-Ziv & Tishby report a fitting phase and then a long compression "
              "phase; Saxe et al. find the compression with tanh (double-sided saturation: "
              "growing weights push units into the end bins, see edge_fraction in the "
              "records) but not with ReLU. Here the ReLU hidden layers are binned over their "
              "own [0, max] at each checkpoint: when the largest activation grows, the bins "
              "widen and the bulk of the activations falls into fewer of them, which can "
              "lower the estimate without any saturation (bin_hi_mean in the CSV is that "
              "range): a fall of I(X;T) under ReLU here is not by itself evidence that the "
              "network compresses.",
              "- The unbinned I(X;T) (log2 of the number of distinct activation rows) is what "
              "the network itself keeps of its 4096 distinct inputs; it cannot be raised by "
              "any later layer. Where it stays near 12 bits while the binned estimate falls, "
              "the fall is the binning's (Saxe et al.'s critique); where it falls too, inputs "
              "are merged exactly (ReLU: rows of exact zeros; tanh: units saturated to +-1 in "
              "float32). For ReLU the first bin holds the zeros, so its end-bin share is "
              "mostly inactive units, not saturation."]
    for act, a in s.items():
        drop = max(a["layers"], key=lambda L: L["raw_first"] - L["raw_last"])
        low = min(a["layers"], key=lambda L: L["raw_min"])
        lines.append(f"- {act}: the unbinned I(X;T) falls by at most "
                     f"{drop['raw_first'] - drop['raw_last']:.3f} bits from the first to the "
                     f"last checkpoint (T{drop['layer']}); its lowest seed mean is "
                     f"{low['raw_min']:.3f} bits (T{low['layer']}).")
    return "\n".join(lines) + "\n"

# --- the authors' setting: runs, phases, outputs ----------------------------------------------

AUTHORS_STEM = f"{NAME}_authors"
# The paper's own words (Shwartz-Ziv & Tishby 2017, arXiv:1703.00810, the abstract, results
# (i) and (ii)) and Saxe et al.'s (ICLR 2018, Section 2), quoted beside the outputs.
PAPER_QUOTES = (
    ("Shwartz-Ziv & Tishby 2017, abstract, result (i)",
     "most of the training epochs in standard DL are spent on compression of the input to "
     "efficient representation and not on fitting the training labels."),
    ("Shwartz-Ziv & Tishby 2017, abstract, result (ii)",
     "The representation compression phase begins when the training errors becomes small and "
     "the Stochastic Gradient Decent (SGD) epochs change from a fast drift to smaller training "
     "error into a stochastic relaxation, or random diffusion, constrained by the training "
     "error value."),
    ("Saxe et al. 2018, Section 2",
     "Hence double-saturating nonlinearities can lead to compression of information about the "
     "input, as hidden units enter their saturation regime, due to the binning procedure used "
     "to calculate mutual information."),
)
RUN_KEYS = ("I_XT", "I_TY", "H_T_unbinned", "edge_fraction", "train_accuracy",
            "test_accuracy")
AUTHORS_CSV = ("epoch", "layer", "layer_name", "width", "runs", "I_XT_mean", "I_XT_lo",
               "I_XT_hi", "I_TY_mean", "I_TY_lo", "I_TY_hi", "H_T_unbinned_mean",
               "H_T_unbinned_lo", "H_T_unbinned_hi", "edge_fraction_mean", "train_error_mean",
               "train_error_lo", "train_error_hi", "test_error_mean")
PHASE_CSV = ("layer", "layer_name", "width", "runs", "I_XT_first", "peak_epoch", "I_XT_peak",
             "I_XT_last", "rise_mean", "rise_lo", "rise_hi", "fall_mean", "fall_lo", "fall_hi",
             "fitting", "compression", "phase", "local_from_epoch", "local_to_epoch",
             "local_rise_mean", "local_rise_lo", "local_rise_hi", "local_fitting",
             "fit_epoch", "after_fit_mean", "after_fit_lo", "after_fit_hi", "train_error_first",
             "train_error_at_peak",
             "train_error_last", "error_fall_done_at_peak", "epochs_after_peak",
             "I_TY_first", "I_TY_at_peak", "I_TY_last", "unbinned_first", "unbinned_last",
             "unbinned_min", "unbinned_fall_mean", "unbinned_fall_lo", "unbinned_fall_hi",
             "edge_first", "edge_last")


def run_arrays(records: list[dict]) -> dict:
    """The records of one activation as arrays: epochs (C,), runs (R,) and, for each of
    RUN_KEYS, (LAYERS, R, C) indexed [layer - 1, run, checkpoint]. ValueError if a (layer,
    run, checkpoint) is missing."""
    epochs = sorted({int(r["epoch"]) for r in records})
    runs = sorted({int(r["dataset_index"]) for r in records})
    ei = {e: i for i, e in enumerate(epochs)}
    ri = {s: i for i, s in enumerate(runs)}
    out = {k: np.full((LAYERS, len(runs), len(epochs)), np.nan) for k in RUN_KEYS}
    for r in records:
        for k in RUN_KEYS:
            out[k][int(r["layer"]) - 1, ri[int(r["dataset_index"])], ei[int(r["epoch"])]] = \
                float(r[k])
    if any(np.isnan(v).any() for v in out.values()):
        raise ValueError("the records do not cover every (layer, run, checkpoint)")
    return dict(out, epochs=np.asarray(epochs), runs=np.asarray(runs))


def _interval(values) -> tuple[float, float, float]:
    from jaxmem.stats import mean_interval
    v = np.asarray(values, np.float64)
    lo, hi = mean_interval(v)
    return float(v.mean()), lo, hi


def phase_statistics(epochs, ixt, min_bits: float = MIN_BITS) -> dict:
    """The fitting and compression phases of one layer from its I(X;T) in every run, ixt (R
    runs, C checkpoints at `epochs`): the peak is the checkpoint k* where the run mean is
    largest; each run's rise = I(X;T)[k*] - I(X;T)[0] (the fitting phase in I(X;T)) and fall =
    I(X;T)[k*] - I(X;T)[last] (the compression phase), each as a mean with its 95% t-interval
    over the runs. A phase is seen when its interval lies above min_bits; phase names the
    pattern ("fitting then compression", "fitting, no compression", "compression, no fitting
    phase", "neither"). Besides: the largest rise of the run mean from an earlier minimum
    (local_*: from which checkpoint to which, per run, with its interval)."""
    ixt = np.asarray(ixt, np.float64)
    epochs = np.asarray(epochs)
    if ixt.ndim != 2 or ixt.shape[1] != len(epochs) or len(epochs) < 2:
        raise ValueError(f"ixt must be (runs, {len(epochs)} checkpoints); got {ixt.shape}")
    mean = ixt.mean(axis=0)
    k = int(np.argmax(mean))
    rise = _interval(ixt[:, k] - ixt[:, 0])
    fall = _interval(ixt[:, k] - ixt[:, -1])
    fitting, compression = bool(rise[1] > min_bits), bool(fall[1] > min_bits)
    # The largest rise of the run mean from an earlier minimum (a fitting phase that follows
    # an early fall), per run between the same two checkpoints.
    j = int(np.argmax(mean - np.minimum.accumulate(mean)))
    i = int(np.argmin(mean[:j + 1]))
    local = _interval(ixt[:, j] - ixt[:, i])
    phase = {(True, True): "fitting then compression", (True, False): "fitting, no compression",
             (False, True): "compression, no fitting phase",
             (False, False): "neither"}[(fitting, compression)]
    return dict(peak_index=k, peak_epoch=int(epochs[k]), I_XT_first=float(mean[0]),
                I_XT_peak=float(mean[k]), I_XT_last=float(mean[-1]), rise_mean=rise[0],
                rise_lo=rise[1], rise_hi=rise[2], fall_mean=fall[0], fall_lo=fall[1],
                fall_hi=fall[2], fitting=fitting, compression=compression, phase=phase,
                local_from_epoch=int(epochs[i]), local_to_epoch=int(epochs[j]),
                local_rise_mean=local[0], local_rise_lo=local[1], local_rise_hi=local[2],
                local_fitting=bool(local[1] > min_bits))


def layer_phases(arrays: dict) -> list[dict]:
    """phase_statistics of every layer, with what the paper relates the phases to: the mean
    training error at the first checkpoint, at the peak and at the end, and the share of its
    fall done by the peak (1: the compression starts once the error is as small as it gets);
    the share of the epochs after the peak; I(T;Y) there; the unbinned I(X;T) (the network's
    own, Saxe et al.'s point) and its fall; the share of activations in the end bins."""
    epochs = arrays["epochs"]
    err = 1 - arrays["train_accuracy"][0]          # the same in every layer's records
    err_mean = err.mean(axis=0)
    fit = np.flatnonzero(err_mean <= FIT_ERROR)
    fit = int(fit[0]) if len(fit) else None
    out = []
    for l in range(1, LAYERS + 1):
        ph = phase_statistics(epochs, arrays["I_XT"][l - 1])
        k = ph["peak_index"]
        ixt = arrays["I_XT"][l - 1]
        after = _interval(ixt[:, fit] - ixt[:, -1]) if fit is not None else (math.nan,) * 3
        ph.update(fit_epoch=None if fit is None else int(epochs[fit]),
                  after_fit_mean=after[0], after_fit_lo=after[1], after_fit_hi=after[2])
        drop = err_mean[0] - err_mean[-1]
        ity = arrays["I_TY"][l - 1].mean(axis=0)
        raw = arrays["H_T_unbinned"][l - 1]
        raw_fall = _interval(raw[:, 0] - raw[:, -1])
        edge = arrays["edge_fraction"][l - 1].mean(axis=0)
        out.append(dict(
            ph, layer=l, layer_name=layer_name(l), width=LAYER_WIDTHS[l - 1],
            runs=int(arrays["I_XT"].shape[1]), train_error_first=float(err_mean[0]),
            train_error_at_peak=float(err_mean[k]), train_error_last=float(err_mean[-1]),
            error_fall_done_at_peak=float((err_mean[0] - err_mean[k]) / drop) if drop > 0
            else math.nan,
            epochs_after_peak=float((epochs[-1] - epochs[k]) / epochs[-1]),
            I_TY_first=float(ity[0]), I_TY_at_peak=float(ity[k]), I_TY_last=float(ity[-1]),
            unbinned_first=float(raw[:, 0].mean()), unbinned_last=float(raw[:, -1].mean()),
            unbinned_min=float(raw.mean(axis=0).min()), unbinned_fall_mean=raw_fall[0],
            unbinned_fall_lo=raw_fall[1], unbinned_fall_hi=raw_fall[2],
            edge_first=float(edge[0]), edge_last=float(edge[-1])))
    return out


def authors_rows(arrays: dict) -> list[dict]:
    """One row per (checkpoint, layer) (AUTHORS_CSV): run means with 95% t-intervals."""
    from scipy import stats
    R = arrays["I_XT"].shape[1]
    t = float(stats.t.ppf(0.975, R - 1)) if R > 1 else math.nan

    def ci(v):  # (mean, lo, hi) over the runs axis, vectorized mean_interval
        m = v.mean(axis=0)
        h = t * v.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.full_like(m, np.nan)
        return m, m - h, m + h
    rows = []
    err = 1 - arrays["train_accuracy"][0]
    e_m, e_lo, e_hi = ci(err)
    test_err = (1 - arrays["test_accuracy"][0]).mean(axis=0)
    for l in range(1, LAYERS + 1):
        xt, ty, raw = (ci(arrays[k][l - 1]) for k in ("I_XT", "I_TY", "H_T_unbinned"))
        edge = arrays["edge_fraction"][l - 1].mean(axis=0)
        for c, e in enumerate(arrays["epochs"]):
            rows.append(dict(epoch=int(e), layer=l, layer_name=layer_name(l),
                             width=LAYER_WIDTHS[l - 1], runs=R, I_XT_mean=xt[0][c],
                             I_XT_lo=xt[1][c], I_XT_hi=xt[2][c], I_TY_mean=ty[0][c],
                             I_TY_lo=ty[1][c], I_TY_hi=ty[2][c], H_T_unbinned_mean=raw[0][c],
                             H_T_unbinned_lo=raw[1][c], H_T_unbinned_hi=raw[2][c],
                             edge_fraction_mean=edge[c], train_error_mean=e_m[c],
                             train_error_lo=e_lo[c], train_error_hi=e_hi[c],
                             test_error_mean=test_err[c]))
    return sorted(rows, key=lambda r: (r["epoch"], r["layer"]))


def authors_title(r0: dict, arrays: dict) -> str:
    """The setting, with what differs from the authors' in the same line."""
    epochs = arrays["epochs"]
    return (f"12-10-7-5-4-3-2 tanh network, softmax output; Adam lr {r0['lr']:g}, batches of "
            f"{r0['batch_size']} in a fixed order, {r0['n_train']} of 4096 patterns "
            f"({100 * r0['train_fraction']:g}%) for training; {len(arrays['runs'])} runs, "
            f"epochs 0-{epochs[-1]} at {len(epochs)} log2-spaced checkpoints; their binning "
            f"(30 edges over [-1, 1]): Shwartz-Ziv & Tishby's code defaults, 10^4 epochs as "
            f"their saved runs. Differs: the task is generated (icosahedron-dipole rule, not "
            f"their data), a random 80% split (theirs: the file's first 80%), jax/optax Adam "
            f"and log-softmax cross-entropy (theirs: TensorFlow 1, log of the clipped softmax)")


def authors_markdown(arrays: dict, phases: list[dict], records: list[dict]) -> str:
    r0 = records[0]
    epochs = arrays["epochs"]
    lines = ["# The information plane in Shwartz-Ziv & Tishby's setting", "",
             f"**Setting:** {authors_title(r0, arrays)}.", "",
             "The data rule: all 4096 patterns x in {-1, +1}^12, y = 1 iff |sum_k x_k v_k|^2 > "
             f"{THRESHOLD:g} with v_k the 12 vertices of a regular icosahedron (spherically "
             "symmetric, as the paper's rule; its data file may not be redistributed). Every "
             "layer T is measured on all 4096 inputs: I(X;T) = H(T_binned) <= 12 bits, I(T;Y) "
             "<= H(Y) (plug-in, bits); numbers are means over the runs with 95% t-intervals; "
             "the unbinned I(X;T) is log2 of the number of distinct float32 activation rows.",
             "", "## What the papers say", ""]
    lines += [f"> \"{q}\" ({where})\n>" for where, q in PAPER_QUOTES]
    lines += ["", "## Fitting and compression, per layer", "",
              f"Peak: the checkpoint where the run-mean I(X;T) is largest. Rise = peak - first "
              f"(the fitting phase in I(X;T)), fall = peak - last (the compression phase), per "
              f"run, then the mean and its 95% interval; a phase is seen when its interval lies "
              f"above {MIN_BITS:g} bit. Training error at the first checkpoint, the peak and "
              f"the last; 'error fall done' = the share of the error's fall from the first to "
              f"the last checkpoint already done at the peak. 'Rise from an earlier minimum': "
              f"the largest rise of the run mean after a fall, per run between the same two "
              f"checkpoints. 'Fall after the fit': I(X;T) at the first checkpoint where the "
              f"mean training error is <= {100 * FIT_ERROR:g}% minus the last, per run.", ""]
    rows = []
    for L in phases:
        rows.append([f"T{L['layer']} {L['layer_name']}", L["width"],
                     f"{L['I_XT_first']:.3f}", f"{L['I_XT_peak']:.3f} ({L['peak_epoch']})",
                     f"{L['I_XT_last']:.3f}",
                     f"{L['rise_mean']:.3f} [{L['rise_lo']:.3f}, {L['rise_hi']:.3f}]",
                     f"{L['fall_mean']:.3f} [{L['fall_lo']:.3f}, {L['fall_hi']:.3f}]",
                     L["phase"],
                     f"{L['local_rise_mean']:.3f} [{L['local_rise_lo']:.3f}, "
                     f"{L['local_rise_hi']:.3f}] ({L['local_from_epoch']} -> "
                     f"{L['local_to_epoch']})",
                     "" if L["fit_epoch"] is None else
                     f"{L['after_fit_mean']:.3f} [{L['after_fit_lo']:.3f}, "
                     f"{L['after_fit_hi']:.3f}]",
                     f"{100 * L['train_error_first']:.1f} / {100 * L['train_error_at_peak']:.1f}"
                     f" / {100 * L['train_error_last']:.2f}",
                     f"{L['error_fall_done_at_peak']:.2f}",
                     f"{L['I_TY_first']:.3f} / {L['I_TY_at_peak']:.3f} / {L['I_TY_last']:.3f}",
                     f"{L['unbinned_first']:.3f} -> {L['unbinned_last']:.3f}",
                     f"{100 * L['edge_first']:.1f}% -> {100 * L['edge_last']:.1f}%"])
    lines += tables.markdown_table(
        ["layer", "width", "I(X;T) first", "peak (epoch)", "last", "rise [95% CI]",
         "fall [95% CI]", "phases seen", "rise from an earlier minimum [95% CI] (epochs)",
         "fall after the fit [95% CI]", "train error % first / peak / last",
         "error fall done at peak", "I(T;Y) first / peak / last", "unbinned I(X;T) first -> last",
         "end bins first -> last"], rows, "l" + "r" * 6 + "l" + "r" * 7)
    test_last = float((1 - arrays["test_accuracy"][0][:, -1]).mean())
    lines += ["", f"Training error {100 * phases[0]['train_error_first']:.1f}% -> "
              f"{100 * phases[0]['train_error_last']:.2f}%, test error "
              f"{100 * test_last:.2f}% at epoch {epochs[-1]} (run means)."]
    lines += ["", "## Where the picture agrees and where it does not", ""]
    both = [L for L in phases if L["phase"] == "fitting then compression"]
    comp = [L for L in phases if L["compression"]]
    fit_only = [L for L in phases if L["fitting"] and not L["compression"]]
    none_ = [L for L in phases if not L["compression"]]
    names = lambda Ls: ", ".join(f"T{L['layer']}" for L in Ls) or "none"
    lines.append(f"- Fitting then compression in the binned I(X;T) (both intervals above "
                 f"{MIN_BITS:g} bit): {len(both)} of {LAYERS} layers ({names(both)}). "
                 f"Compression at all: {len(comp)} ({names(comp)}); no compression: "
                 f"{len(none_)} ({names(none_)})"
                 + (f"; fitting without compression: {names(fit_only)}" if fit_only else "")
                 + ".")
    ceiling = [L for L in phases if L["I_XT_first"] >= N_BITS - MIN_BITS]
    if ceiling:
        lines.append(f"- {names(ceiling)} start within {MIN_BITS:g} bit of the ceiling "
                     f"log2 4096 = {N_BITS} bits (every input in a bin of its own): there the "
                     f"binned I(X;T) cannot rise, so no fitting phase in I(X;T) can show.")
    local = [L for L in phases if L["local_fitting"] and not L["fitting"]]
    if local:
        lines.append("- A rise after an early fall (a fitting phase that does not start at "
                     "initialization): " + ", ".join(
                         f"T{L['layer']} +{L['local_rise_mean']:.2f} bits from epoch "
                         f"{L['local_from_epoch']} to {L['local_to_epoch']}" for L in local)
                     + ".")
    fit_epoch = phases[0]["fit_epoch"]
    if fit_epoch is None:
        lines.append(f"- The mean training error never reaches {100 * FIT_ERROR:g}%: no "
                     f"compression after the fit can be measured.")
    else:
        post = [L for L in phases if L["after_fit_lo"] > MIN_BITS]
        lines.append(f"- After the fit (the mean training error <= {100 * FIT_ERROR:g}% from "
                     f"epoch {fit_epoch}): I(X;T) falls further, interval above {MIN_BITS:g} "
                     f"bit, in {len(post)} of {LAYERS} layers ("
                     + (", ".join(f"T{L['layer']} {L['after_fit_mean']:.2f} "
                                  f"[{L['after_fit_lo']:.2f}, {L['after_fit_hi']:.2f}]"
                                  for L in post) or "none") + " bits).")
    if comp:
        early = [L for L in comp if L["error_fall_done_at_peak"] < 0.9]
        lines.append(
            "- When the compression starts (the paper, result (ii): when the training error "
            "becomes small): at the peaks of the compressing layers "
            + ", ".join(f"T{L['layer']} epoch {L['peak_epoch']} (error "
                        f"{100 * L['train_error_at_peak']:.1f}%, "
                        f"{100 * L['error_fall_done_at_peak']:.0f}% of its fall done)"
                        for L in comp)
            + (". " + f"In {names(early)} it starts before 90% of the error's fall is done."
               if early else ". Every one starts after 90% of the error's fall is done.")
            + "")
        lines.append(
            "- Epochs spent after the peak (the paper, result (i): most epochs are spent on "
            "compression): " + ", ".join(f"T{L['layer']} {100 * L['epochs_after_peak']:.1f}%"
                                         for L in comp) + " of the run.")
    raw_fall = [L for L in phases if L["unbinned_fall_lo"] > MIN_BITS]
    lines.append(
        "- The network's own I(X;T) (unbinned: distinct activation rows): from "
        + ", ".join(f"T{L['layer']} {L['unbinned_first']:.2f} -> {L['unbinned_last']:.2f}"
                    for L in phases)
        + " bits; it falls by more than "
        f"{MIN_BITS:g} bit (95% interval) in {len(raw_fall)} layers ({names(raw_fall)}). "
        "Where it stays at 12 bits while the binned estimate falls, the fall is the "
        "binning's, as Saxe et al. argue; the share of activations in the end bins (the "
        "saturated ones) rises in "
        + names([L for L in phases if L["edge_last"] > L["edge_first"]]) + ".")
    xt, raw = dpi_check(records, "tanh", "I_XT"), dpi_check(records, "tanh", "H_T_unbinned")
    lines += ["- Data processing, binned I(X;T_1) >= ... >= I(X;T_6): "
              + _dpi_line(xt, "the estimate"),
              "- Data processing, unbinned: " + _dpi_line(raw, "exact count"), ""]
    return "\n".join(lines) + "\n"


def authors_plot(arrays: dict, phases: list[dict], title: str, path: str) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    from jaxmem.experiments import _genzel2023 as g
    fig = g.figure(13.0, 10.5)
    (plane, ixt_ax), (ity_ax, raw_ax) = fig.subplots(2, 2)
    epochs = arrays["epochs"]
    x = epochs + 1
    norm = LogNorm(vmin=1, vmax=max(2, int(x[-1])))
    rows = authors_rows(arrays)
    scatter = None
    for l in range(1, LAYERS + 1):
        here = [r for r in rows if r["layer"] == l]
        colour = f"C{l - 1}"
        xt = np.array([r["I_XT_mean"] for r in here])
        ty = np.array([r["I_TY_mean"] for r in here])
        plane.plot(xt, ty, "-", color=colour, lw=0.8, alpha=0.6)
        scatter = plane.scatter(xt, ty, c=x, cmap=colormaps["viridis"], norm=norm, s=9,
                                edgecolors="none", label=None)
        plane.plot([], [], "-", color=colour, label=f"T{l} ({LAYER_WIDTHS[l - 1]})")
        for ax, key in ((ixt_ax, "I_XT"), (ity_ax, "I_TY"), (raw_ax, "H_T_unbinned")):
            m = np.array([r[f"{key}_mean"] for r in here])
            ax.plot(x, m, "-", color=colour, lw=1.1, label=f"T{l}")
            ax.fill_between(x, [r[f"{key}_lo"] for r in here], [r[f"{key}_hi"] for r in here],
                            color=colour, alpha=0.25, lw=0)
        L = phases[l - 1]
        ixt_ax.plot([L["peak_epoch"] + 1], [L["I_XT_peak"]], "v", color=colour, ms=5)
    plane.set_xlabel("I(X;T) [bits]")
    plane.set_ylabel("I(T;Y) [bits]")
    plane.set_title("information plane, run means (colour: epoch + 1)", fontsize=9)
    plane.legend(fontsize=7, loc="lower right")
    fig.colorbar(scatter, ax=plane, label="epoch + 1")
    first = [r for r in rows if r["layer"] == 1]
    err = raw_ax.twinx()
    err.plot(x, [r["train_error_mean"] for r in first], "k:", lw=1.2, label="training error")
    err.plot(x, [r["test_error_mean"] for r in first], "k--", lw=0.8, label="test error")
    err.set_ylabel("error", fontsize=8)
    err.legend(fontsize=7, loc="center right")
    for ax, what in ((ixt_ax, "binned I(X;T) (v: peak of the run mean)"),
                     (ity_ax, "binned I(T;Y)"),
                     (raw_ax, "unbinned I(X;T): log2 #distinct activation rows")):
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("bits")
        ax.set_title(f"{what}, mean and 95% interval over runs", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left", ncol=2)
    plane.grid(alpha=0.3)
    import textwrap
    fig.suptitle("\n".join(textwrap.wrap(title, 150)), fontsize=8)
    return g.save(fig, path)


def render_authors(records: list[dict], out_dir: str) -> list[str]:
    """The authors' setting's outputs: AUTHORS_STEM .csv (per checkpoint and layer), _phases.csv
    (per layer), .png and .md."""
    from jaxmem.experiments import _genzel2023 as g
    acts = {r["activation"] for r in records}
    if acts != {"tanh"}:
        raise ValueError(f"the authors' setting is tanh only; the records hold {sorted(acts)}")
    arrays = run_arrays(records)
    phases = layer_phases(arrays)
    rows = authors_rows(arrays)
    title = authors_title(records[0], arrays)
    paths = [tables.write_csv(rows, AUTHORS_CSV, g.out_path(out_dir, f"{AUTHORS_STEM}.csv")),
             tables.write_csv(phases, PHASE_CSV,
                              g.out_path(out_dir, f"{AUTHORS_STEM}_phases.csv")),
             authors_plot(arrays, phases, title, g.out_path(out_dir, f"{AUTHORS_STEM}.png"))]
    md = g.out_path(out_dir, f"{AUTHORS_STEM}.md")
    with open(md, "w") as f:
        f.write(authors_markdown(arrays, phases, records))
    return paths + [md]



register_experiment(__name__)
