"""Claims of Yu, Gao, Zhang, Miao (NeurIPS 2024), "Generalizability of Memorization Neural
Networks", Theorem 5.1 (width >= dimension is necessary), on the hard distribution of App. D
(jaxmem.data.ball_annulus; docs/papers/yu2024.md §2.2 and §5.B).

  thm5_1.width  (universal)  networks n -> w -> hidden -> 1 trained with Adam on N samples of
      D(n, q, r1, 2^{1/n} r1, 3^{1/n} r1) never beat the exact ceiling acc*(n, w)
      (jaxmem.metrics.width_ceiling) on a fresh test sample of n_test points. Statistical
      allowance: the test sample is independent of the trained network, so its number of
      correct points is Binomial(n_test, A) with A <= acc* if the theorem holds; a dataset
      fails when that count exceeds the (1 - delta)-quantile of Binomial(n_test, acc*), an
      exact one-sided binomial test of level delta per dataset (quick: delta = 1e-3, n_test =
      4000, an allowance of ~0.024 at acc* ~ 0.55; full: 1e-5 and 20000, ~0.015). A network that
      sits exactly at the ceiling is flagged with probability <= delta; trained narrow
      networks sit well below it, so false alarms are much rarer still.
      Each dataset trains one network per width in `widths`, with a first layer padded to
      max(widths) and masked (jaxmem.training.narrow): one compilation per n.
  thm5_1.ceiling  (universal)  acc*(n, w) <= the paper's closed form 1 - 1/2 (3^{1-w/n} -
      2^{1-w/n}), and acc* <= 0.51 at the paper's dimension n = paper_min_dimension(w) (the
      smallest n with 3^{w/n} < 1.001, Lemma D.8). Deterministic: one "dataset" per (n, w),
      so a failure names the (n, w); universal because the statement is "for every (n, w)".
      The trial also checks that the two independent computations of acc* (adaptive
      quadrature and the incomplete-Beta closed form) agree to 1e-9.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmem.data.ball_annulus import ball_annulus
from jaxmem.metrics.width_ceiling import (bayes_projection_predict, paper_min_dimension,
                                          paper_width_bound, projection_accuracy_ceiling)
from jaxmem.training import narrow
from jaxmem.training.mlp import OPTIMIZED
from jaxmem.claims import Claim, Universal, register
from jaxmem.falsify import Domain, Falsifiable

CITATION = ("Yu, Gao, Zhang, Miao. Generalizability of Memorization Neural Networks. NeurIPS "
            "2024 (arXiv 2411.00372). Theorem 5.1, Lemmas D.2, D.4, D.8, Definition D.9.")


# ---------------------------------------------------------------------------------------------
# thm5_1.width: trained narrow networks stay below the ceiling
# ---------------------------------------------------------------------------------------------

def _train_and_test(key, n, n_train, n_test):
    """One draw of n_train + n_test i.i.d. points (one generator call: cheaper to compile),
    split into the training and the test sample (independent: disjoint i.i.d. rows)."""
    X, y = ball_annulus(jax.random.fold_in(key, 0), n_train + n_test, n)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def width_dataset(key, n, n_train, n_test, **_):
    """The training set a width trial sees: n_train samples of the ball/annulus in [0, 1]^n."""
    return _train_and_test(key, n, n_train, n_test)[0]


def allowed_correct(n_test: int, ceiling: float, delta: float) -> int:
    """The (1 - delta)-quantile of Binomial(n_test, ceiling): if the true accuracy is <=
    ceiling, P(correct > this) <= delta (binomial tails are monotone in p)."""
    from scipy import stats  # here: scipy.stats costs ~0.6 s of every `jaxmem` start

    return int(stats.binom.ppf(1.0 - delta, n_test, ceiling))


def width_trial(key, n, widths, n_train, n_test, steps, hidden, lr, delta,
                trained_widths=None):
    """One dataset: train one network per width (first layer padded to max(widths), masked),
    test on a fresh sample, compare with the ceiling. `trained_widths` (tests only) trains
    other widths than the ceilings assume, to break the claim on purpose."""
    X, y = width_dataset(key, n, n_train, n_test)
    return width_check(key, X, y, n, widths, n_train, n_test, steps, hidden, lr, delta,
                       trained_widths)


def width_check(key, X, y, n, widths, n_train, n_test, steps, hidden, lr, delta,
                trained_widths=None, **_):
    """`width_trial` on a given training set (X, y). `key` is the trial's key, not a
    construction key: the test sample is the second part of the draw from fold_in(key, 0) and
    the training keys come from fold_in(key, 1), as the trial always did. Theorem 5.1 bounds
    every network of first width w < n on D, whatever it was trained on, so (X, y) may be any
    labelled set (no hypothesis); the test sample stays D's.
    score (for `jaxmem falsify`): the largest (correct - allowed) / n_test over the widths,
    > 0 exactly where a width fails the binomial test."""
    trained = tuple(widths if trained_widths is None else trained_widths)
    if not all(1 <= w < n for w in widths) or len(trained) != len(widths):
        raise ValueError(f"widths must be ints in [1, n) = [1, {n}) (Theorem 5.1 is about w < n), "
                         f"one trained width each; got widths={widths}, trained={trained}")
    X_test, y_test = _train_and_test(key, n, n_train, n_test)[1]
    dtype = X.dtype
    # Host-side, at trace time: n, widths, n_test and delta are static.
    ceiling = [projection_accuracy_ceiling(n, w) for w in widths]
    allowed = [allowed_correct(n_test, c, delta) for c in ceiling]
    train = functools.partial(narrow.train_one, first_width=max(trained), hidden=hidden,
                              steps=steps, lr=lr)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(trained))
    res = jax.vmap(lambda k, w: train(k, X, y, X_test, y_test, active_width=w))(
        keys, jnp.asarray(trained))
    correct = jnp.round(res["test_accuracy"] * n_test).astype(jnp.int32)
    # A trained network must really have first width w (the mask did its job).
    ok = (correct <= jnp.asarray(allowed, jnp.int32)) & (res["first_width"] == jnp.asarray(trained))
    bayes = jnp.stack([jnp.mean((bayes_projection_predict(X_test, w) == y_test).astype(dtype))
                       for w in widths])
    ceiling = jnp.asarray(ceiling, dtype)
    return dict(ok=jnp.all(ok), widths_ok=ok,
                test_accuracy=res["test_accuracy"], train_accuracy=res["train_accuracy"],
                ceiling=ceiling, paper_bound=jnp.asarray([paper_width_bound(n, w) for w in widths],
                                                         dtype),
                allowance=jnp.asarray(allowed, dtype) / n_test - ceiling,
                bayes_test_accuracy=bayes,
                max_excess=jnp.max(res["test_accuracy"] - ceiling),
                final_loss=res["final_loss"], trained_first_width=res["first_width"],
                score=(jnp.max(correct - jnp.asarray(allowed, jnp.int32)) / n_test).astype(dtype))


_TRAIN = dict(n_train=512, n_test=4000, steps=300, hidden=32, lr=1e-2)

WIDTH = Claim(
    id="yu2024.thm5_1.width",
    citation=CITATION,
    statement=("A network whose first hidden layer has w < n units (trained here: n -> w -> "
               "hidden -> 1, Adam, logistic loss) has accuracy <= acc*(n, w) = 1 - 1/2 "
               "int_0^1 min(p1, p2) rho^{w-1} / int_0^1 p1 rho^{w-1} on D(n, q, r1, 2^{1/n} r1, "
               "3^{1/n} r1), p1 = (1 - rho^2)_+^{(n-w)/2}, p2 = (3^{2/n} - rho^2)_+^{(n-w)/2} - "
               "(2^{2/n} - rho^2)_+^{(n-w)/2}: test accuracy never exceeds acc* beyond an exact "
               "binomial allowance at level delta per dataset."),
    trial=width_trial,
    grids=dict(
        quick=[dict(n=n, widths=(1, 2, 5), delta=1e-3, datasets=8, **_TRAIN) for n in (10, 30)],
        full=[dict(n=n, widths=widths, delta=1e-5, datasets=256, n_train=n_train, n_test=20000,
                   steps=2000, hidden=128, lr=3e-3)
              for n, widths in ((3, (1, 2)), (5, (1, 2, 4)), (10, (1, 2, 5, 9)),
                                (30, (1, 2, 5, 10, 29)), (100, (1, 5, 20, 50)))
              for n_train in (256, 4096)]),
    rule=Universal(),
    dataset=width_dataset,
    compiler_options=OPTIMIZED,   # a training loop: run it optimized at quick scale too
    # Any training set in the box (the bound is on the network, not on its data); the score
    # counts test points, so it has no gradient: structured, evolution and random search it.
    falsify=Falsifiable(check=width_check, domain=Domain(points="box", labels="sign"),
                        sizes=("n_train", "n")),
)


# ---------------------------------------------------------------------------------------------
# thm5_1.ceiling: the exact ceiling against the paper's closed form
# ---------------------------------------------------------------------------------------------

def ceiling_trial(key, n, w):
    """Deterministic (the key is unused): host-side values, computed at trace time."""
    del key
    exact = projection_accuracy_ceiling(n, w)
    beta = projection_accuracy_ceiling(n, w, "beta")
    bound = paper_width_bound(n, w)
    at_paper_dimension = n >= paper_min_dimension(w)
    ok = (exact <= bound + 1e-12) and (abs(exact - beta) <= 1e-9) and exact >= 0.5 and (
        not at_paper_dimension or exact <= 0.51)
    return dict(ok=jnp.asarray(ok), ceiling=jnp.asarray(exact), ceiling_beta=jnp.asarray(beta),
                paper_bound=jnp.asarray(bound), at_paper_dimension=jnp.asarray(at_paper_dimension),
                gap_to_paper_bound=jnp.asarray(bound - exact))


def _ceiling_pairs(ns, fractions):
    pairs = {(n, w) for n in ns for w in {max(1, int(f * n)) for f in fractions} if w < n}
    pairs |= {(paper_min_dimension(w), w) for w in (1, 2, 3, 6, 10)}
    return sorted(pairs)


CEILING = Claim(
    id="yu2024.thm5_1.ceiling",
    citation=CITATION,
    statement=("The exact ceiling acc*(n, w) is at most the paper's bound 1 - 1/2 (3^{1-w/n} - "
               "2^{1-w/n}) for every w < n, and acc*(n, w) <= 0.51 once 3^{w/n} < 1.001 "
               "(n >= paper_min_dimension(w) ~ 1099.2 w)."),
    trial=ceiling_trial,
    grids=dict(
        quick=[dict(n=n, w=w, datasets=1)
               for n, w in _ceiling_pairs((2, 3, 10, 784), (0.0, 0.5, 0.99))],
        full=[dict(n=n, w=w, datasets=1)
              for n, w in _ceiling_pairs((2, 3, 5, 10, 30, 100, 784, 3072, 10 ** 4, 10 ** 5),
                                         (0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99))]),
    rule=Universal(),
    dataset=None,
)

CLAIMS = [WIDTH, CEILING]

__all__ = ["CEILING", "CLAIMS", "WIDTH", "allowed_correct", "ceiling_trial", "width_check",
           "width_dataset", "width_trial"]

register(*CLAIMS)
