"""Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017), "Understanding deep learning requires
rethinking generalization", Sec. 2 (the randomization test; docs/papers/zhang2017.md §4 and
§5.6), as a claim about trained networks:

  zhang2017.random_labels  (probabilistic, p >= 0.9)  an over-parameterized MLP trained by
      gradient descent (Adam, or SGD with momentum) on uniformly random labels fits them to
      100% training accuracy, while its test accuracy on fresh random labels is at chance.

What one dataset is (`dataset_splits`): n training and n_test test inputs x ~ N(0, I_d) (iid,
float32), k classes; labels="random" draws every label, train and test, uniformly from
0..k-1 independently of x and of each other. The test labels are then independent of the
trained network, so its number of correct test predictions is exactly Binomial(n_test, 1/k)
whatever the network learnt: chance is 1/k exactly, with no data-dependent baseline.

Per dataset, pass = (training accuracy == 1, the trainer's exact fit check: every training
point's argmax is its label) and (the two-sided 99% Clopper-Pearson interval of the test
accuracy, verify.claims.clopper_pearson(correct, n_test, 0.99), contains 1/k). The interval
check alone fails with probability <= 0.01 under the claim (an exact binomial test of level
1%), so a network that always fits passes with probability >= 0.99; the rule Probabilistic(p
= 0.9) leaves room for that and for a rare run that needs more steps than the grid allows.
The interval depends only on the count, so the accepted counts are an interval [lo, hi] of
integers computed once per (n_test, k) on the host at trace time (`chance_counts`, by
bisection on clopper_pearson: its ends are monotone in the count); the trial compares the
traced count with it.

Training (jaxmem.training.mlp, one lane per dataset, `mlp.train_lanes` inside the vmapped
trial): an MLP d -> hidden -> k (ReLU, He init, softmax cross-entropy), float32 whatever the
default dtype, stopped at the first fit check that sees 100% training accuracy (full batch:
every step; minibatches: every `check_every` steps) or after `steps` updates.

Broken on purpose (tests): labels="teacher" makes every label, train and test, the argmax of
a fixed random linear map of x (class probabilities still 1/k by symmetry): the network
learns it, test accuracy is far above 1/k and the interval excludes chance (VIOLATED). A
network too small (or trained too briefly) to fit n random labels never reaches 100%
training accuracy (not HOLDS).

Grids: quick, three configs (n = 128; k = 10 and k = 2; one hidden layer of 256 and three of
128; Adam full batch, lr 3e-3, and SGD with momentum 0.9, lr 0.01, batches of 32), 32 datasets
each: under a minute on a small CPU, almost all of it the three compilations (timings:
experiments/results/TIMINGS.md); 94/96 pass (two test counts outside the 99% interval, as
chance allows), HOLDS. Every network fits within 110 steps. full: n up to
2048, d 64, widths 512 and 3 x 512 as Table 1's MLPs, Adam and SGD with momentum 0.9 at lr
0.01 (the paper's), n_test 10,000, 128 datasets each (a GPU run; not run here in full: two
datasets each of the n = 2048 configs and the n = 256 SGD and 3 x 512 configs fit within
1,050 steps, test accuracy 0.095 to 0.104).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmem.training import mlp
from jaxmem.claims import Claim, Probabilistic, clopper_pearson, register

CITATION = ("Zhang, Bengio, Hardt, Recht, Vinyals. Understanding deep learning requires "
            "rethinking generalization. ICLR 2017. Sec. 2 (randomization tests), Table 1, "
            "Fig. 1.")

LABELS = ("random", "teacher")
CONFIDENCE = 0.99           # two-sided Clopper-Pearson level of the chance check
TRAIN_DTYPE = jnp.float32


# --- the data --------------------------------------------------------------------------------

def dataset_splits(key, n, d, k, n_test, labels="random", **_):
    """((X, y), (X_test, y_test)): x ~ N(0, I_d) float32, labels ints in 0..k-1: uniform and
    independent of x ("random"), or the argmax of x W for a Gaussian W (d, k) ("teacher").
    Keys: fold_in(key, 0) the inputs, 1 the labels (or W); 2 is the trainer's."""
    if labels not in LABELS:
        raise ValueError(f"unknown labels {labels!r}; expected one of {LABELS}")
    X = jax.random.normal(jax.random.fold_in(key, 0), (n + n_test, d), TRAIN_DTYPE)
    k_labels = jax.random.fold_in(key, 1)
    if labels == "random":
        y = jax.random.randint(k_labels, (n + n_test,), 0, k, jnp.int32)
    else:
        W = jax.random.normal(k_labels, (d, k), TRAIN_DTYPE)
        y = jnp.argmax(X @ W, axis=-1).astype(jnp.int32)
    return (X[:n], y[:n]), (X[n:], y[n:])


def dataset(key, n, d, k, n_test, labels="random", **_):
    """The training set a trial sees (for `jaxmem verify --reproduce --save`)."""
    return dataset_splits(key, n, d, k, n_test, labels)[0]


@functools.lru_cache(maxsize=None)
def chance_counts(n_test: int, k: int, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """(lo, hi): the counts c of correct test points whose two-sided Clopper-Pearson interval
    at `confidence` contains 1/k are exactly lo <= c <= hi. Both ends of the interval increase
    with c, so lo = the least c whose upper end reaches 1/k, hi = the largest c whose lower
    end stays at or below it (bisection; each step one clopper_pearson call)."""
    p = 1.0 / k

    def first(pred):          # least c in 0..n_test + 1 with pred(c); pred is monotone
        a, b = 0, n_test + 1
        while a < b:
            m = (a + b) // 2
            if pred(m):
                b = m
            else:
                a = m + 1
        return a

    lo = first(lambda c: c <= n_test and clopper_pearson(c, n_test, confidence)[1] >= p)
    hi = first(lambda c: c > n_test or clopper_pearson(c, n_test, confidence)[0] > p) - 1
    return lo, hi


# --- the trial -------------------------------------------------------------------------------

def trainer_for(k, hidden, optimizer, steps, batch_size=None, momentum=0.0, check_every=1,
                lr_decay=1.0) -> mlp.Trainer:
    return mlp.Trainer(hidden=tuple(hidden), outputs=k, loss="cross_entropy",
                       optimizer=optimizer, momentum=momentum, batch_size=batch_size,
                       max_steps=steps, check_every=1 if batch_size is None else check_every,
                       lr_decay=lr_decay)


def trial(key, n, d, k, n_test, hidden, optimizer, lr, steps, batch_size=None, momentum=0.0,
          check_every=1, lr_decay=1.0, labels="random"):
    """One dataset: train one MLP on n random labels, test it on n_test fresh ones."""
    if k < 2:
        raise ValueError(f"k must be >= 2 classes; got {k}")
    (X, y), (X_test, y_test) = dataset_splits(key, n, d, k, n_test, labels)
    trainer = trainer_for(k, hidden, optimizer, steps, batch_size, momentum, check_every,
                          lr_decay)
    width = jnp.full((1,), trainer.hidden[0], jnp.int32)
    res = mlp.train_lanes(trainer, X, y, jnp.ones((n,), TRAIN_DTYPE),
                          jax.random.split(jax.random.fold_in(key, 2), 1), width,
                          jnp.ones((1,), TRAIN_DTYPE), jnp.full((1,), lr, TRAIN_DTYPE))
    params = mlp.lane_params(res.params, 0)
    pred = jnp.argmax(mlp.predict(trainer, params, X_test, width[0]), axis=-1)
    correct = jnp.sum(pred == y_test).astype(jnp.int32)
    lo, hi = chance_counts(n_test, k)           # host, at trace time (n_test, k static)
    at_chance = (correct >= lo) & (correct <= hi)
    fitted = res.memorized[0] & (res.train_accuracy[0] == 1)
    return dict(ok=fitted & at_chance, fitted=fitted, at_chance=at_chance,
                train_accuracy=res.train_accuracy[0],
                test_accuracy=correct.astype(TRAIN_DTYPE) / n_test, test_correct=correct,
                chance=jnp.asarray(1.0 / k, TRAIN_DTYPE),
                chance_low=jnp.asarray(lo / n_test, TRAIN_DTYPE),
                chance_high=jnp.asarray(hi / n_test, TRAIN_DTYPE),
                steps_to_fit=res.steps_to_fit[0], steps_run=res.steps_run[0],
                final_loss=res.loss[0])


# --- the claim -------------------------------------------------------------------------------

def _config(n, d, k, hidden, datasets, n_test=2000, **train):
    return dict(n=n, d=d, k=k, n_test=n_test, hidden=tuple(hidden), datasets=datasets, **train)


_ADAM = dict(optimizer="adam", lr=3e-3)
_SGD = dict(optimizer="sgd", lr=0.01, momentum=0.9)

RANDOM_LABELS = Claim(
    id="zhang2017.random_labels",
    citation=CITATION,
    statement=("An over-parameterized MLP (parameters >> n) trained by Adam or SGD with "
               "momentum on n inputs x ~ N(0, I_d) with labels drawn uniformly from k classes "
               "independently of x fits them: training accuracy 1; and its accuracy on n_test "
               "fresh points with fresh random labels is at chance, i.e. the two-sided 99% "
               "Clopper-Pearson interval of (correct / n_test) contains 1/k. Holds for >= 90% "
               "of datasets."),
    trial=trial,
    grids=dict(
        quick=[_config(128, 32, 10, (256,), 32, steps=300, **_ADAM),
               _config(128, 16, 2, (128, 128, 128), 32, steps=300, **_ADAM),
               _config(128, 32, 10, (256,), 32, steps=1000, batch_size=32, check_every=10,
                       **_SGD)],
        full=[cfg for n, d in ((256, 32), (1024, 64), (2048, 64))
              for cfg in (
                  _config(n, d, 10, (512,), 128, n_test=10000, steps=20000, **_ADAM),
                  _config(n, d, 10, (512, 512, 512), 128, n_test=10000, steps=20000, **_ADAM),
                  _config(n, d, 10, (512,), 128, n_test=10000, steps=50000, batch_size=128,
                          check_every=50, **_SGD),
                  _config(n, d, 2, (512,), 128, n_test=10000, steps=20000, **_ADAM))]),
    rule=Probabilistic(p=0.9),
    dataset=dataset,
    compiler_options=mlp.OPTIMIZED,   # a training loop: run it optimized at quick scale too
)

CLAIMS = [RANDOM_LABELS]

__all__ = ["CLAIMS", "CONFIDENCE", "LABELS", "RANDOM_LABELS", "chance_counts", "dataset",
           "dataset_splits", "trainer_for", "trial"]

register(*CLAIMS)
