"""The minimum width at which gradient descent memorizes n random points in R^d.

docs/papers/gd-width.md §2-§3. Information-theoretically about n/d neurons suffice (Baum; Bubeck et
al. 2020: 4 ceil(n/d)), and for generic real labels a two-layer ReLU net needs
m >= (n - 1) / (d + 2) (its P = m (d + 2) + 1 parameters must be >= n: the counting bound).
What GD reaches is the open question: Õ(n/d) for SGD on random data (Daniely 2019), N d >> n
in the lazy regime (Montanari & Zhong 2020). The measured quantity:

    m*(n, d) = the smallest width m at which training memorizes (100% train accuracy for +-1
               labels, max |f - y| <= tol std(y) for real labels) with probability >= 1/2
               over the dataset and the initialization,

reported as m* d / n (flat in n if GD memorizes at width ~ n/d) and P*/n = (m* (d + 2) + 1)/n.

`success_curve` trains every (width, seed) pair of a list of widths in ONE compiled call (the
lanes of `jaxmem.training.mlp`); seed s sees the same dataset and the same initialization
stream at every width (common random numbers: the curve over widths is smoother than with
independent draws). `min_memorizing_width` brackets m* on a geometric grid in units of n/d and
then bisects the bracket with several widths per round, all trained in parallel, until it is
one integer wide. Its `evaluate` hook lets a caller (experiments/gd_min_width.py) read widths
already in the results store instead of training them again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy  # submodules load on first use (scipy.optimize alone is ~0.5 s of a CLI start)

from jaxmem.data import synthetic
from jaxmem.data.validate import positive_int
from jaxmem.training import mlp

LABEL_KINDS = ("sign", "gaussian")  # +-1 (classification) or N(0, 1) (regression)
INPUTS = ("gaussian", "sphere")  # N(0, I/d) or uniform on S^{d-1} (gd-width.md §3)
# The first round's widths, in units of n/d (§3: "a geometric grid around n/d * {0.25..8}").
GRID_RATIOS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One (n, d) cell of the phase diagram and how its networks are trained."""

    n: int
    d: int
    labels: str = "sign"
    inputs: str = "gaussian"
    optimizer: str = "gd"
    lr: float = 1.0
    max_steps: int = 2000
    tol: float = 1e-3
    init: str = "he"
    seeds: int = 8

    def __post_init__(self):
        for name in ("n", "d", "max_steps", "seeds"):
            positive_int(name, getattr(self, name))
        if self.labels not in LABEL_KINDS:
            raise ValueError(f"unknown labels {self.labels!r}; expected one of {LABEL_KINDS}")
        if self.inputs not in INPUTS:
            raise ValueError(f"unknown inputs {self.inputs!r}; expected one of {INPUTS}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number; got {self.lr!r}")

    @property
    def loss(self) -> str:
        return "logistic" if self.labels == "sign" else "squared"

    def trainer(self, padded_width: int) -> mlp.Trainer:
        return mlp.Trainer(
            hidden=(int(padded_width),),
            loss=self.loss,
            optimizer=self.optimizer,
            max_steps=self.max_steps,
            tol=self.tol,
            init=self.init,
        )

    def counting_bound(self) -> float:
        """(n - 1) / (d + 2): below it, generic real labels cannot be fit (gd-width.md §2)."""
        return (self.n - 1) / (self.d + 2)


def draw(problem: Problem, key, dtype=jnp.float32):
    """Seed s's dataset: X (seeds, n, d) and y (seeds, n), from fold_in(key, s)."""
    gen = synthetic.gaussian if problem.inputs == "gaussian" else synthetic.sphere
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(problem.seeds))
    return jax.vmap(lambda k: gen(k, problem.n, problem.d, problem.labels, dtype))(keys)


def init_keys(problem: Problem, key):
    """Seed s's initialization key, the same at every width."""
    return jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(problem.seeds))


def padded_width(widths) -> int:
    """The static width a round is trained at: the next power of two above its widths, so
    that the rounds of a bisection share a handful of compilations."""
    return 1 << (int(max(widths)) - 1).bit_length()


def success_curve(problem: Problem, widths, data_key, init_key, dtype=jnp.float32) -> dict:
    """Trains every (width, seed) in one call. Returns NumPy arrays of shape (len(widths),
    seeds): memorized, steps_to_fit, steps_run, loss, train_accuracy, max_residual."""
    widths = [positive_int("width", w) for w in widths]
    X, y = draw(problem, data_key, dtype)
    S, W = problem.seeds, len(widths)
    # The lane count is padded to a power of two widths (repeating the last width, whose
    # extra lanes are dropped): the rounds of a bisection then share compilations.
    padded = 1 << (W - 1).bit_length()
    widths_run = widths + [widths[-1]] * (padded - W)
    lanes = padded * S
    # Lane w * S + s: width widths[w], seed s.
    Xl = jnp.tile(X, (padded, 1, 1))
    yl = jnp.tile(y, (padded, 1))
    keys = jnp.tile(init_keys(problem, init_key), (padded,))
    width = np.repeat(np.asarray(widths_run, np.int32), S)
    trainer = problem.trainer(padded_width(widths))
    res = mlp.train(trainer, Xl, yl, keys, width=width, lr=problem.lr)
    out = dict(
        memorized=res.memorized,
        steps_to_fit=res.steps_to_fit,
        steps_run=res.steps_run,
        loss=res.loss,
        train_accuracy=res.train_accuracy,
        max_residual=res.max_residual,
    )
    return {k: np.asarray(v).reshape(padded, S)[:W] for k, v in out.items()} | dict(lanes=lanes)


def first_round(problem: Problem, max_ratio: float = GRID_RATIOS[-1]) -> list[int]:
    """The geometric grid of widths (n/d) * GRID_RATIOS, rounded, at least 1, deduplicated."""
    base = problem.n / problem.d
    widths = sorted({max(1, int(round(base * r))) for r in GRID_RATIOS if r <= max_ratio})
    return widths


def _bracket(curve: dict[int, float]) -> tuple[int | None, int | None]:
    """(lo, hi): hi the smallest width with success >= 1/2, lo the largest width below it
    that was evaluated (success < 1/2 by the choice of hi). (None, None) if none reached 1/2;
    (None, hi) if the smallest width tried already did."""
    ok = sorted(w for w, p in curve.items() if p >= 0.5)
    if not ok:
        return None, None
    hi = ok[0]
    below = [w for w in curve if w < hi]
    return (max(below) if below else None), hi


def min_memorizing_width(
    problem: Problem,
    data_key,
    init_key,
    *,
    per_round: int | None = None,
    evaluate: Callable[[list[int]], dict[int, np.ndarray]] | None = None,
    first_widths: list[int] | None = None,
    max_rounds: int = 20,
) -> dict:
    """m*(n, d) by parallel bisection.

    Round 0 trains `first_widths` (default: `first_round`); while the bracket (lo, hi] around the
    1/2 crossing is more than one integer wide, the next round trains up to `per_round` (default:
    as many as round 0) integer widths spread evenly inside it, all in one call. Widths are
    never trained twice. `evaluate(widths) -> {width: memorized (seeds,) bool}` replaces the
    training (default: `success_curve`).

    Returns m_star (None if no width reached 1/2 within 8 n/d), the bracket, the success
    probability at every width tried, the rounds (widths per round), ratio m* d / n,
    parameter_ratio P*/n with P = m (d + 2) + 1, and the transition's sharpness
    (`transition_ratio`: width at success 0.9 over width at 0.1, on the monotone envelope),
    and `fit`, the logistic fit of every outcome (`logistic_fit`: m_half, w90_over_w10).
    """
    if evaluate is None:

        def evaluate(widths):
            res = success_curve(problem, widths, data_key, init_key)
            return {w: res["memorized"][i] for i, w in enumerate(widths)}

    if per_round is not None:
        per_round = positive_int("per_round", per_round)
    max_rounds = positive_int("max_rounds", max_rounds)
    widths = (
        sorted({positive_int("first_widths entry", w) for w in first_widths})
        if first_widths
        else first_round(problem)
    )
    per_round = per_round or len(widths)
    curve: dict[int, float] = {}
    outcomes: dict[int, np.ndarray] = {}
    rounds = []
    for _ in range(max_rounds):
        new = [w for w in widths if w not in curve]
        if new:
            got = evaluate(new)
            outcomes.update({w: np.asarray(got[w], bool) for w in new})
            curve.update({w: float(np.mean(got[w])) for w in new})
            rounds.append(new)
        lo, hi = _bracket(curve)
        if hi is None or lo is None or hi - lo <= 1:
            break
        inside = np.unique(np.round(np.linspace(lo, hi, per_round + 2)[1:-1]).astype(int))
        widths = [int(w) for w in inside if lo < w < hi and int(w) not in curve]
        if not widths:
            break
    lo, hi = _bracket(curve)
    out: dict[str, Any] = dict(
        m_star=hi,
        bracket=(lo, hi),
        curve=dict(sorted(curve.items())),
        rounds=rounds,
        n=problem.n,
        d=problem.d,
    )
    if hi is not None:
        out["ratio"] = hi * problem.d / problem.n
        out["parameter_ratio"] = mlp.param_count(problem.d, hi) / problem.n
    else:
        out["ratio"] = out["parameter_ratio"] = math.nan
    out["transition_ratio"] = transition_ratio(curve)
    out["fit"] = logistic_fit(sorted(outcomes.items()))
    return out


def transition_ratio(curve: dict[int, float], low: float = 0.1, high: float = 0.9) -> float:
    """w(high) / w(low) on the monotone (running-max) envelope of the success curve,
    interpolated linearly in log width: 1 is a step, larger is a softer transition. NaN when
    the curve does not cross both levels."""
    if not curve:
        return math.nan
    w = np.array(sorted(curve), float)
    p = np.maximum.accumulate(np.array([curve[int(x)] for x in w]))

    def crossing(level):
        idx = np.flatnonzero(p >= level)
        if not idx.size:
            return math.nan
        i = idx[0]
        if i == 0:
            return w[0]
        lw0, lw1 = np.log(w[i - 1]), np.log(w[i])
        t = (level - p[i - 1]) / (p[i] - p[i - 1])
        return float(np.exp(lw0 + t * (lw1 - lw0)))

    a, b = crossing(low), crossing(high)
    if p[0] >= low:  # the curve starts above `low`: the lower crossing is unseen
        return math.nan
    return b / a if math.isfinite(a) and math.isfinite(b) else math.nan


__all__ = [
    "GRID_RATIOS",
    "INPUTS",
    "LABEL_KINDS",
    "Problem",
    "draw",
    "first_round",
    "init_keys",
    "logistic_fit",
    "min_memorizing_width",
    "padded_width",
    "success_curve",
    "transition_ratio",
]


def logistic_fit(curve_samples: list[tuple[int, np.ndarray]]) -> dict:
    """Maximum-likelihood fit of P(memorized | m) = sigmoid((log m - log m_half) / scale) to
    every (width, seed) outcome: a smoother m* than the first crossing of 1/2 when few seeds
    make the empirical curve ragged. Returns m_half, scale and w90_over_w10 = 81^scale
    (the width ratio between success 0.1 and 0.9: 1 is a step). NaN if the outcomes do not
    straddle (all successes or all failures, or perfectly separated ones: scale -> 0)."""
    x = np.concatenate([np.full(len(s), np.log(w), float) for w, s in curve_samples])
    t = np.concatenate([np.asarray(s, float) for _, s in curve_samples])
    nan = dict(m_half=math.nan, scale=math.nan, w90_over_w10=math.nan)
    if t.size == 0 or t.min() == t.max():
        return nan
    # Newton on (a, b) of sigmoid(a + b x); a small ridge keeps separable data finite.
    A = np.stack([np.ones_like(x), x], 1)
    beta = np.zeros(2)
    for _ in range(100):
        p = scipy.special.expit(A @ beta)  # an overflow-free sigmoid (separable outcomes)
        grad = A.T @ (t - p) - 1e-6 * beta
        H = (A * (p * (1 - p))[:, None]).T @ A + 1e-6 * np.eye(2)
        step = np.linalg.solve(H, grad)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    a, b = beta
    if not (np.isfinite(b) and b > 0):
        return nan
    scale = 1 / b
    return dict(m_half=float(np.exp(-a / b)), scale=float(scale), w90_over_w10=float(81**scale))
