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
and written). Quick and full share the training settings (the keys and configs do not
depend on the run's length), so the two scales' common epochs (0, 1, 2, 3) share configs;
a full run still trains from initialization.

Scales (`SCALES`; both tanh and ReLU; timings: experiments/results/training/README.md):
    quick  3 seeds, 300 epochs (3,900 steps), 12 checkpoints (epochs 0 .. 300): a minute or
           two on a small CPU (two training compilations per activation, then the steps)
    full   8 seeds, 10,000 epochs (130,000 steps; Shwartz-Ziv & Tishby trained 10^4 epochs),
           40 checkpoints requested (37 distinct epochs): compute-bound, mostly training
           (not run to the end here), then the measuring of each checkpoint
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

Outputs (from the store alone):
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

import jax
import jax.numpy as jnp
import numpy as np

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

SCALES = {
    "quick": dict(activations=ACTIVATIONS, seeds=3, epochs=300, checkpoints=12,
                  optimizer="adam", lr=3e-3, batch_size=256, train_fraction=0.85),
    "full": dict(activations=ACTIVATIONS, seeds=8, epochs=10_000, checkpoints=40,
                 optimizer="adam", lr=3e-3, batch_size=256, train_fraction=0.85),
}

CSV_COLUMNS = ("activation", "epoch", "layer", "layer_name", "width", "binning", "seeds",
               "I_XT_mean", "I_XT_sd", "I_XT_min", "I_XT_max", "I_TY_mean", "I_TY_sd",
               "I_TY_min", "I_TY_max", "H_Y", "H_T_unbinned_mean", "edge_fraction_mean",
               "bin_hi_mean", "train_accuracy_mean", "test_accuracy_mean", "loss_mean")


# --- sizes -----------------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with plain types, or ValueError naming what is wrong."""
    keys = set(SCALES["quick"])
    if set(size) != keys:
        raise ValueError(f"a size has exactly the keys {sorted(keys)}; got {sorted(size)}")
    acts = tuple(size["activations"])
    if not acts or len(set(acts)) != len(acts) or not set(acts) <= set(ACTIVATIONS):
        raise ValueError(f"activations must be distinct entries of {ACTIVATIONS}; got {acts}")
    out = dict(size, activations=acts)
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
        if size["optimizer"] != "adam":
            raise ValueError("batch_size None (full batch) needs optimizer 'adam' (mlp's "
                             "'sgd' is minibatch SGD)")
    elif not isinstance(b, (int, np.integer)) or isinstance(b, bool) or not 1 <= b <= n_train:
        raise ValueError(f"batch_size must be None (full batch) or an int in 1..{n_train} (the "
                         f"training set); got {b!r}")
    out["batch_size"] = None if b is None else int(b)
    return out


def n_train_of(size: dict) -> int:
    return int(round(size["train_fraction"] * 2 ** N_BITS))


def steps_per_epoch(size: dict) -> int:
    """mlp's minibatch epochs: n_train // batch_size steps (the remainder unused); a
    full-batch epoch (batch_size None) is one step."""
    if size["batch_size"] is None:
        return 1
    return n_train_of(size) // size["batch_size"]


def checkpoint_epochs(size: dict) -> list[int]:
    """Epoch 0 (initialization), then round(geomspace(1, epochs, checkpoints - 1)) without
    repeats: at most `checkpoints` epochs, always 0 and `epochs`."""
    e = size["epochs"]
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
    checkpoints only decide where it is measured)."""
    return dict(experiment=NAME, activation=activation, hidden=list(HIDDEN), outputs=OUTPUTS,
                init=INITS[activation], loss="cross_entropy", optimizer=size["optimizer"],
                lr=size["lr"], batch_size=size["batch_size"],
                train_fraction=size["train_fraction"], n_train=n_train_of(size),
                data_rule=DATA_RULE, seed=SEED, split_tag=SPLIT_TAG, dtype=TRAIN_DTYPE)


def layer_name(layer: int) -> str:
    return "softmax" if layer == LAYERS else f"hidden {layer}"


def binning_rule(activation: str, layer: int) -> str:
    if layer == LAYERS:
        return "fixed[0,1]"
    return "fixed[-1,1]" if activation == "tanh" else "own[0,max]"


def record_config(net: dict, epoch: int, layer: int) -> dict:
    """One (activation, checkpoint, layer): the training config plus where and how it is
    measured. layer is 1..6 (6: the softmax output)."""
    return dict(net, epoch=int(epoch), layer=int(layer), layer_name=layer_name(layer),
                width=LAYER_WIDTHS[layer - 1], bins=BINS,
                binning=binning_rule(net["activation"], layer), samples=2 ** N_BITS,
                estimator="plugin.binned")


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
    trainer = make_trainer(activation, size)
    keys = dataset_keys(SEED, net_config(activation, size), np.arange(seeds))
    width = np.tile(np.asarray(HIDDEN, np.int32), (seeds, 1))
    state, data = mlp.init_state(trainer, np.asarray(X[train_mask], np.float32),
                                 y[train_mask], keys, width=width, lr=size["lr"])
    return trainer, state, data


def train_segment(trainer, state, data, steps: int):
    """`steps` more updates of every lane (one compiled loop; steps is traced)."""
    return mlp.advance(trainer, state, data, steps)


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
    h_t, h_y = _entropy_bits(c_t), _entropy_bits(c_y)
    return dict(I_XT=h_t, I_TY=h_t + h_y - _entropy_bits(c_ty), H_Y=h_y,
                H_T_unbinned=_entropy_bits(c_raw),
                edge_fraction=float(np.mean((b == 0) | (b == bins - 1))))


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
    layers, train_acc, test_acc, loss = _forward(
        trainer, state.params, state.width, jnp.asarray(X, jnp.float32), jnp.asarray(y),
        jnp.asarray(train_mask))
    layers = [np.asarray(T) for T in layers]
    lanes = layers[0].shape[0]
    out = []
    for l, T in enumerate(layers, start=1):
        cols: dict[str, list] = {}
        for s in range(lanes):
            lo, hi = layer_range(trainer.activation, l, T[s])
            point = binned_information(T[s], y, (lo, hi))
            point.update(bin_lo=lo, bin_hi=hi)
            for k, v in point.items():
                cols.setdefault(k, []).append(v)
        cols.update(train_accuracy=np.asarray(train_acc, np.float64),
                    test_accuracy=np.asarray(test_acc, np.float64),
                    train_loss=np.asarray(loss, np.float64))
        out.append({k: np.asarray(v, np.float64) for k, v in cols.items()})
    return out


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
                                      if r["epoch"] == max(x["epoch"] for x in recs)
                                      and r["layer"] == 1])),
            last_test=float(np.mean([r["test_accuracy"] for r in recs
                                     if r["epoch"] == max(x["epoch"] for x in recs)
                                     and r["layer"] == 1])),
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

register_experiment(__name__)
