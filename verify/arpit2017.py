"""Claims of Arpit et al. (ICML 2017), "A closer look at memorization in deep networks"
(docs/papers/arpit2017.md; §2 for CSR and LASS, §5.1).

  csr_random_vs_real  (probabilistic)  for a fixed architecture and initialization, the
      validation critical sample ratio (CSR, found by LASS: jaxmem.metrics.csr) of a network
      trained on random labels (randY) and of one trained on random inputs (randX) are both
      larger than that of the same network trained on real, structured data. Rule: the
      ordering holds on a dataset with probability >= 0.8, one-sided 95% Clopper-Pearson.

The trial, per dataset key (no scikit-learn: the "real" data are synthetic but structured):

  real   a Gaussian mixture, one centre per class: k centres c_j ~ N(0, I_d) drawn from the key
         (pairwise distances ~ sqrt(2 d)), x = c_y + sigma * N(0, I_d), balanced classes
         (`mixture`); the validation set is a fresh draw from the same mixture (same centres)
  randY  the same training inputs, labels i.i.d. uniform over the k classes (drawn once)
  randX  Gaussian inputs with the training set's per-coordinate mean and variance (the
         paper's "dataset's mean and variance"; per coordinate, as jaxmem.data.randomize's
         default), with the real labels; validation: a fresh draw of the same Gaussian, i.e. a
         held-out sample of the distribution the network was trained on, as randomize.py draws
         Gaussian test images from the training moments. The randX network's CSR on the real
         validation draw is reported beside it (csr_randX_on_real), not used by the rule.
  The transforms are written out here (a few lines, pure, traceable) rather than taken from
  jaxmem.data.randomize, so that the claim depends only on what it states.

The networks (real, randY, randX and the control below) share the architecture d -> hidden ->
k (ReLU, He init) AND the init key: one `mlp.train_lanes` call with 4 lanes (per-lane inputs and
labels), full-batch Adam, softmax cross-entropy, a FIXED budget of `steps` updates for all
(freeze=False: the paper trains a fixed number of epochs, not to the first fit; the fit is
reported, memorized_*). Training and the search run in float32 (the data are drawn in the
default float type and cast).

LASS as the authors' code (lass_tf.py; jaxmem.metrics.csr): sign-gradient ascent of the
cross-entropy against the original prediction plus Langevin noise, projected onto the L_inf box
of radius r. Step and noise keep the code's ratios to the radius (a = 0.25/0.3 r, b = 0.2/0.3 r).
Stop rule: min_new = 0 and a fixed `lass_iter` iterations. The code's rule (stop after an
iteration that adds < 20 critical points, an absolute count) is tuned to a 10,000-point
validation set; on a few hundred points it would stop after the first iteration whenever that
iteration finds fewer than 20, which is most of the real networks' runs, so a fixed count is the
fair equivalent here (a point counts as critical if it flips at ANY iteration, as in the code).

The radius. The paper's r = 0.3/255 on [0, 1] pixels is ~0.004 per-pixel standard deviations
of MNIST, small against the distances a 4096-unit network's boundaries sit at; it reports that
other radii gave qualitatively the same results (§2, §5.1: r in {0.1, 0.3, 1}/255). Small
MLPs on well separated low-dimensional clusters have smooth boundaries far from the data, so at
~0.004 std every CSR would be 0. The radius is therefore chosen relative to the data's scale so
that no CSR saturates: with sigma = 0.5 the data's per-coordinate standard deviation is
sqrt(1 + sigma^2) ~ 1.12, and the quick grid's r = 0.15 = 0.3 sigma ~ 0.13 std (the box corner
is r sqrt(d) ~ 0.47 away in L2, against a centre spacing ~ sqrt(2 d) ~ 4.5 at d = 10). On the
quick grid (24 datasets, seed 0) that gave CSR_real 0.043 on average (0 to 0.14), CSR_randY
0.81 (0.74 to 0.87), CSR_randX 0.69 (0.59 to 0.77; 0.67 on the real validation draw), every
network at 100% training accuracy, the real one at 99% validation accuracy: 24/24 pass, HOLDS;
the negative control below passed 10/24 (VIOLATED). The full grid repeats the check over the
paper's factor-10 range of radii, r = 0.03, 0.1 and 0.3, at d = 20, 10 classes, 500 training
points, a d -> 256 -> 256 -> k network and sigma = 1.0 (at sigma = 0.5 the wider network's real
CSR is ~0 below r = 0.3 while the random ones reach 1 by r = 0.2: no radius would leave both
off their ends). A CPU pilot of the full settings (2 datasets, one training, searched at every
radius) gave real / randY / randX CSR 0.025 / 0.25 / 0.23 at r = 0.03, 0.08 / 0.66 / 0.61 at
r = 0.1 and 0.33 / 0.98 / 0.98 at r = 0.3.

A negative control runs beside it in every trial (reported, not used by the rule): a fourth
network, same architecture and init key, trained on an independent draw of the REAL mixture
(the same centres, other points), i.e. randY with its random labels replaced by real ones.
ok_control is the claim's own test with that swap, csr_control > csr_real and csr_randX >
csr_real: the first comparison is real against real, so it holds by chance (about half the
datasets, less with ties at CSR 0), and the rule applied to ok_control must not say HOLDS
(tests/test_arpit2017.py checks it is VIOLATED). It costs a fourth training lane and a fifth
search, and shows on every run that the check can fail.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmem.metrics.csr import lass_critical
from jaxmem.training import mlp
from jaxmem.claims import Claim, Probabilistic, register

CITATION = ("Arpit, Jastrzebski, Ballas, Krueger, Bengio, Kanwal, Maharaj, Fischer, Courville, "
            "Bengio, Lacoste-Julien. A closer look at memorization in deep networks. ICML 2017 "
            "(arXiv 1706.05394). Section 3.3 (critical samples, LASS), Fig. 9.")

KINDS = ("real", "randY", "randX", "control")   # the training lanes, in this order
# lass_tf.py's step and noise, as fractions of its radius (0.25 / 0.3 and 0.2 / 0.3).
STEP_PER_RADIUS = 0.25 / 0.3
NOISE_PER_RADIUS = 0.2 / 0.3
DTYPE = jnp.float32


# --- data ------------------------------------------------------------------------------------

def mixture(key, n: int, centres, sigma):
    """n points of the Gaussian mixture with the given centres (k, d): balanced labels (class
    i mod k, shuffled; every class nonempty when n >= k), x = c_y + sigma N(0, I). Returns
    (X (n, d), y (n,) int32)."""
    k, d = centres.shape
    k_label, k_noise = jax.random.split(key)
    y = jax.random.permutation(k_label, jnp.arange(n, dtype=jnp.int32) % k)
    X = centres[y] + sigma * jax.random.normal(k_noise, (n, d), centres.dtype)
    return X, y


def centres_for(key, d: int, classes: int, dtype=None):
    """k centres c_j ~ N(0, I_d): pairwise distances concentrate at sqrt(2 d)."""
    return jax.random.normal(key, (classes, d), dtype or jnp.result_type(float))


def random_labels(key, n: int, classes: int):
    """randY: i.i.d. uniform labels, drawn once (Zhang et al.'s random labels)."""
    return jax.random.randint(key, (n,), 0, classes, dtype=jnp.int32)


def gaussian_inputs(key, X, n: int):
    """randX: n Gaussian points with X's per-coordinate mean and (population) variance."""
    mean, std = jnp.mean(X, axis=0), jnp.std(X, axis=0)
    return mean + std * jax.random.normal(key, (n, X.shape[1]), X.dtype)


def _keys(key):
    names = ("centres", "train", "val", "randY", "randX", "randX_val", "init", "lass",
             "control")
    return dict(zip(names, jax.random.split(key, len(names))))


def draw(key, n, n_val, d, classes, sigma):
    """Everything a trial trains and searches on: X, y (the real training set), X_val, y_val
    (its validation draw), and per lane (KINDS: real, randY, randX, control) the training
    inputs and labels and the validation inputs: X_lanes (4, n, d), y_lanes (4, n),
    X_val_lanes (4, n_val, d)."""
    k = _keys(key)
    C = centres_for(k["centres"], d, classes)
    X, y = mixture(k["train"], n, C, sigma)
    X_val, y_val = mixture(k["val"], n_val, C, sigma)
    yY = random_labels(k["randY"], n, classes)
    XX = gaussian_inputs(k["randX"], X, n)
    XX_val = gaussian_inputs(k["randX_val"], X, n_val)
    X_control, y_control = mixture(k["control"], n, C, sigma)
    return dict(X=X, y=y, X_val=X_val, y_val=y_val,
                X_lanes=jnp.stack([X, X, XX, X_control]),
                y_lanes=jnp.stack([y, yY, y, y_control]),
                X_val_lanes=jnp.stack([X_val, X_val, XX_val, X_val]))


def csr_dataset(key, n, n_val, d, classes, sigma, **_):
    """The real training set (X, y) of a trial; randY, randX and the control derive from the
    same key (`draw` rebuilds all of them)."""
    out = draw(key, n, n_val, d, classes, sigma)
    return out["X"], out["y"]


# --- the trial -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def apply_fn(trainer: mlp.Trainer):
    """One hashable apply function per trainer (a static argument of the LASS search)."""
    width = trainer.hidden

    def apply(params, X):
        return mlp.predict(trainer, params, X, jnp.asarray(width, jnp.int32))
    return apply


def trainer_for(hidden, classes, steps) -> mlp.Trainer:
    return mlp.Trainer(hidden=tuple(hidden), outputs=classes, loss="cross_entropy",
                       optimizer="adam", max_steps=steps, freeze=False)


def csr_trial(key, n, n_val, d, classes, sigma, hidden, steps, lr, radius, lass_iter):
    """One dataset: the real, randY, randX and control networks (same architecture and init
    key), each trained for `steps` full-batch Adam updates, then LASS CSR at `radius` on each
    one's validation draw (and the randX network on the real one). ok: csr_randY > csr_real
    and csr_randX > csr_real; ok_control: csr_control > csr_real and csr_randX > csr_real."""
    k = _keys(key)
    data = draw(key, n, n_val, d, classes, sigma)
    X_lanes, X_val_lanes = data["X_lanes"].astype(DTYPE), data["X_val_lanes"].astype(DTYPE)
    X_val = data["X_val"].astype(DTYPE)
    trainer = trainer_for(hidden, classes, steps)
    lanes = len(KINDS)
    res = mlp.train_lanes(trainer, X_lanes, data["y_lanes"], jnp.ones((n,), DTYPE),
                          jnp.stack([k["init"]] * lanes),
                          jnp.full((lanes,), max(hidden), jnp.int32),
                          jnp.ones((lanes,), DTYPE), jnp.full((lanes,), lr, DTYPE))
    f = apply_fn(trainer)
    # Five searches: each network on its own validation draw, then the randX network on the
    # real one; one Langevin noise key for all (the comparison is between networks).
    which = jnp.asarray([0, 1, 2, 3, 2])
    params = jax.tree.map(lambda p: p[which], res.params)
    X_search = jnp.concatenate([X_val_lanes, X_val[None]])
    r = jnp.asarray(radius, DTYPE)

    def search(p, Xs):
        out = lass_critical(k["lass"], f, p, Xs, radius=r, step=STEP_PER_RADIUS * r,
                            noise=NOISE_PER_RADIUS * r, max_iter=lass_iter, min_new=0)
        return jnp.mean(out["critical"].astype(DTYPE))

    csr = jax.vmap(search)(params, X_search)
    # Accuracy on the real validation draw (randX's own draw has no meaningful labels).
    val_accuracy = jax.vmap(lambda p: jnp.mean(
        (jnp.argmax(f(p, X_val), -1) == data["y_val"]).astype(DTYPE)))(res.params)
    c = dict(zip(KINDS, csr[:lanes]))
    out = dict(ok=(c["randY"] > c["real"]) & (c["randX"] > c["real"]),
               ok_control=(c["control"] > c["real"]) & (c["randX"] > c["real"]),
               csr_randX_on_real=csr[lanes],
               gap_randY=c["randY"] - c["real"], gap_randX=c["randX"] - c["real"])
    for i, kind in enumerate(KINDS):
        out[f"csr_{kind}"] = c[kind]
        out[f"memorized_{kind}"] = res.memorized[i]
        out[f"train_accuracy_{kind}"] = res.train_accuracy[i]
        out[f"train_loss_{kind}"] = res.loss[i]
        out[f"val_accuracy_{kind}"] = val_accuracy[i]
    return out


_QUICK = dict(n=100, n_val=200, d=10, classes=5, sigma=0.5, hidden=(64,), steps=150, lr=1e-2,
              lass_iter=20)
_FULL = dict(n=500, n_val=1000, d=20, classes=10, sigma=1.0, hidden=(256, 256), steps=1000,
             lr=1e-3, lass_iter=50)

CSR_RANDOM_VS_REAL = Claim(
    id="arpit2017.csr_random_vs_real",
    citation=CITATION,
    statement=("For a fixed architecture and initialization, the validation critical sample "
               "ratio CSR = #{x : exists x' with ||x' - x||_inf <= r, argmax f(x') != argmax "
               "f(x)} / N (found by LASS) is larger for the network trained on random labels "
               "(randY) and for the one trained on Gaussian inputs with the data's mean and "
               "variance (randX) than for the one trained on the real (structured) data: "
               "P(CSR_randY > CSR_real and CSR_randX > CSR_real) >= 0.8."),
    trial=csr_trial,
    grids=dict(
        quick=[dict(datasets=24, radius=0.15, **_QUICK)],
        full=[dict(datasets=256, radius=r, **_FULL) for r in (0.03, 0.1, 0.3)]),
    rule=Probabilistic(p=0.8, confidence=0.95),
    dataset=csr_dataset,
    compiler_options=mlp.OPTIMIZED,   # a training loop: run it optimized at quick scale too
)

CLAIMS = [CSR_RANDOM_VS_REAL]

__all__ = ["CLAIMS", "CSR_RANDOM_VS_REAL", "KINDS", "apply_fn", "centres_for",
           "csr_dataset", "csr_trial", "draw", "gaussian_inputs", "mixture", "random_labels",
           "trainer_for"]

register(*CLAIMS)
