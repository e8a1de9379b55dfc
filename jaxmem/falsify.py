"""Counterexample search: hunt for the dataset that breaks a claim, confirm it, shrink it.

Random datasets rarely hit a theorem's worst case (near-coincident points, a labelling at the
edge of capacity, the geometry where a bound is tight). `falsify` searches a claim's domain
for a violating dataset within a budget of evaluations, with several searchers that share one
compiled, vmapped evaluation of the claim's check:

  structured  classic hard cases built from the claim's own draws: near-duplicates at gaps
              down to a few ulps, collinear and cospherical points, extreme scales,
              adversarial labellings;
  gradient    ascent on the claim's declared violation score over X (and real labels y),
              with optax, projected onto the domain after every step, many starts at once;
  evolution   separable CMA-ES on the same score, for scores that are not differentiable
              (threshold networks, counts);
  random      the claim's own sampler, the baseline every searcher is compared with.

A claim becomes falsifiable by declaring, once, a `Falsifiable`: its `check` (the trial on a
given dataset), the `Domain` the theorem quantifies over and the output the search maximizes.
A candidate is a dataset whose check FAILS (decided, not UNDECIDED) while its hypothesis
holds. It is then confirmed (`confirm`): re-decided alone in float64 with the three-valued
rule, with fresh construction keys (a failure that only the searched key shows is a property
of that random choice, not of the theorem), and in exact arithmetic where the claim has an
exact step; a float64 failure that exact arithmetic fits is a float artefact, reported as
such. A confirmed counterexample is shrunk (fewer points, fewer dimensions, shorter
coordinates) while it still fails, and saved as .npz with the command that reproduces it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

METHODS = ("structured", "gradient", "evolution", "random")
CONFIRMED, ARTEFACT, KEY_SPECIFIC, UNCONFIRMED = (
    "confirmed",
    "float artefact",
    "key-specific",
    "not confirmed",
)
FRESH_KEYS = 4  # construction keys besides the searched one that confirm a failure


# --------------------------------------------------------------------------------------------
# What the theorem quantifies over
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Domain:
    """The datasets a claim quantifies over.

    points          "real" (all of R^d), "box" ([-scale, scale]^d), "cube" ([0, scale]^d: the
                    unit cube of pixels and of [0, 1]^n distributions) or "sphere" (radius
                    scale)
    scale           the box's half-width, the cube's side or the sphere's radius
    grid            > 0: every coordinate a multiple of it (1/255 for 8-bit pixels; a
                    lattice); 0: continuous
    labels          "real" (searched freely), "sign" (+-1, searched by sign) or "fixed"
                    (the sampler's labels are kept)
    min_separation  points at least this far apart (0: distinct points); a candidate whose
                    points are closer (decided in exact arithmetic) is outside the domain
    distinct        False: repeated rows are allowed (samples drawn with replacement)
    """

    points: str = "real"
    scale: float = 1.0
    labels: str = "real"
    min_separation: float = 0.0
    distinct: bool = True
    grid: float = 0.0

    def __post_init__(self):
        if self.points not in ("real", "box", "cube", "sphere"):
            raise ValueError(
                f"Domain.points must be real, box, cube or sphere; got {self.points!r}"
            )
        if not (self.grid >= 0 and math.isfinite(self.grid)):
            raise ValueError(f"Domain.grid must be >= 0 and finite; got {self.grid}")
        if self.grid > 0 and self.points == "sphere":
            raise ValueError("Domain.grid cannot be combined with points='sphere'")
        if self.labels not in ("real", "sign", "fixed"):
            raise ValueError(f"Domain.labels must be real, sign or fixed; got {self.labels!r}")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"Domain.scale must be positive and finite; got {self.scale}")
        if not self.min_separation >= 0:
            raise ValueError(f"Domain.min_separation must be >= 0; got {self.min_separation}")

    def project(self, X, y):
        """The nearest point of the domain (traceable): the search steps anywhere, then lands."""
        if self.grid > 0:  # the nearest lattice point (then clipped to the box or cube)
            X = jnp.round(X / self.grid) * self.grid
        if self.points == "box":
            X = jnp.clip(X, -self.scale, self.scale)
        elif self.points == "cube":
            X = jnp.clip(X, 0, self.scale)
        elif self.points == "sphere":
            norm = jnp.linalg.norm(X, axis=-1, keepdims=True)
            X = self.scale * X / jnp.where(norm > 0, norm, 1)
        if self.labels == "sign":
            y = jnp.where(y >= 0, 1.0, -1.0).astype(y.dtype)
        return X, y

    def contains(self, X, y) -> tuple[bool, str]:
        """(inside, why not): decided on the host, separation in exact arithmetic."""
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            return False, "a coordinate or label is not finite"
        if self.points == "box" and np.any(np.abs(X) > self.scale):
            row = int(np.argmax(np.max(np.abs(X), axis=-1)))
            return False, f"row {row} leaves the box [-{self.scale}, {self.scale}]^d"
        if self.points == "cube" and np.any((X < 0) | (X > self.scale)):
            row = int(np.argmax(np.any((X < 0) | (X > self.scale), axis=-1)))
            return False, f"row {row} leaves the cube [0, {self.scale}]^d"
        if self.grid > 0:
            # k * grid as a float64 is within an ulp of the multiple, not on it, and dividing
            # by the grid again rounds twice more: a few ulps of k
            steps = X / self.grid
            off = np.abs(steps - np.round(steps))
            eps = float(np.finfo(np.float64).eps)
            if np.any(off > 4 * eps * np.maximum(1, np.abs(steps))):
                row = int(np.argmax(np.max(off, axis=-1)))
                return False, f"row {row} is off the grid of spacing {self.grid}"
        if self.points == "sphere":
            # rounding puts a projected point within a few ulps of the sphere, not on it: the
            # norm's d products and sums, the division and the scaling, each u relative
            off = np.abs(np.linalg.norm(X, axis=-1) - self.scale)
            eps = float(np.finfo(np.float64).eps)
            if np.any(off > 2 * (X.shape[-1] + 4) * eps * self.scale):
                return False, f"row {int(np.argmax(off))} is off the sphere of radius {self.scale}"
        if self.labels == "sign" and not np.all(np.abs(y) == 1):
            return False, f"label {int(np.argmax(np.abs(y) != 1))} is not +-1"
        close = None
        if self.distinct or self.min_separation > 0:
            close = _closest_pair(X, self.min_separation)
        if close is not None:
            i, j = close
            what = "coincide" if self.min_separation == 0 else "are closer than the separation"
            return False, f"rows {i} and {j} {what} ({self.min_separation})"
        return True, ""


def _closest_pair(X: np.ndarray, separation: float) -> tuple[int, int] | None:
    """A pair of rows closer than `separation` (equal rows for 0), decided exactly: float
    squared distances screen, Fractions decide the pairs near the threshold."""
    n = len(X)
    if n < 2:
        return None
    if separation == 0:
        _, first, counts = np.unique(X, axis=0, return_index=True, return_counts=True)
        if np.all(counts == 1):
            return None
        row = X[first[int(np.argmax(counts > 1))]]
        i, j = np.flatnonzero(np.all(X == row, axis=1))[:2]
        return int(i), int(j)
    diff = X[:, None, :] - X[None, :, :]
    dist2 = np.einsum("ijk,ijk->ij", diff, diff)
    c2 = separation * separation
    near = np.argwhere(np.triu(dist2 <= c2 * (1 + 1e-9) + 1e-300, 1))
    target = Fraction(separation) ** 2
    for i, j in near:
        exact = sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(X[i], X[j]))
        if exact < target:
            return int(i), int(j)
    return None


@dataclasses.dataclass(frozen=True)
class Falsifiable:
    """What a claim declares so that `falsify` can search it (once, in the claim).

    check   (key, X, y, **config) -> dict: the trial on a given dataset, `key` the
            construction's randomness. Outputs `ok` and optionally `undecided` (as the trial's),
            `hypothesis` (the theorem's assumption on this dataset, e.g. general position: a
            dataset where it is False is no counterexample; default True) and `score`.
    domain  the datasets the theorem quantifies over (`Domain`).
    score   the check's output the search maximizes: larger means closer to a violation (an
            error over its tolerance, a log weight, size minus bound). It decides nothing;
            the three-valued `ok` / `undecided` does.
    exact   optional (key, X, y, **config) -> dict with `ok` (and `undecided`): the decision
            in exact arithmetic, e.g. the construction rebuilt in rationals. Without it a
            confirmed counterexample is decided in float64 by the three-valued rule only.
    sizes   config entries that are the dataset's shape ("n" rows, "d" columns), so shrinking
            can drop points and dimensions. One the config leaves out (a sampler of fixed
            dimension) is read off the sampler's output shape.
    sampler optional (key, **config) -> (X (n, d), y): the datasets the search starts from;
            default the claim's `dataset` (give one where that returns a stack of datasets).
    """

    check: Callable[..., dict]
    domain: Domain = Domain()
    score: str = "score"
    exact: Callable[..., dict] | None = None
    sizes: tuple[str, str] = ("n", "d")
    sampler: Callable[..., tuple] | None = None


def construction_key(key):
    """The key a check gets for the construction's randomness, from a trial's dataset key (the
    dataset is drawn from fold_in(key, 0), the construction from fold_in(key, 1))."""
    return jax.random.fold_in(key, 1)


def trial_from_check(dataset: Callable[..., tuple], check: Callable[..., dict]):
    """A claim's trial from its sampler and its check: trial(key, **config) =
    check(construction_key(key), *dataset(key, **config), **config)."""

    def trial(key, **config):
        X, y = dataset(key, **config)
        return check(construction_key(key), X, y, **config)

    trial.__name__ = getattr(check, "__name__", "trial")
    trial.__doc__ = check.__doc__
    return trial


# --------------------------------------------------------------------------------------------
# One compiled evaluation, vmapped over candidates
# --------------------------------------------------------------------------------------------

FAILS_, FITS_, OPEN_ = 0, 1, -1


def _status(out: dict, names=("ok", "undecided")):
    """Per candidate: FAILS (decided, hypothesis held), FITS, or OPEN (undecided or the
    hypothesis failed: neither is a counterexample). `names`: the rule's pass and undecided
    outputs."""
    ok = jnp.asarray(out[names[0]], bool)
    undecided = jnp.asarray(out.get(names[1], False), bool)
    hypothesis = jnp.asarray(out.get("hypothesis", True), bool)
    return jnp.where(~hypothesis | undecided, OPEN_, jnp.where(ok, FITS_, FAILS_))


def _score(out: dict, name: str):
    s = jnp.asarray(out[name], jnp.float64) if name in out else jnp.zeros((), jnp.float64)
    return jnp.where(jnp.isnan(s), -jnp.inf, s)


@functools.lru_cache(maxsize=64)
def _evaluator(falsifiable: Falsifiable, config_items: tuple, names=("ok", "undecided")):
    """(keys, X, y) -> (status, score) over a batch, compiled once per claim and config."""
    config = dict(config_items)

    def one(key, X, y):
        out = falsifiable.check(key, X, y, **config)
        return _status(out, names), _score(out, falsifiable.score)

    return jax.jit(jax.vmap(one))


@functools.lru_cache(maxsize=64)
def _gradient_step(falsifiable: Falsifiable, config_items: tuple, steps: int, names):
    import optax

    config = dict(config_items)
    domain = falsifiable.domain
    # the step size is scaled per start (by its data's scale) and decays to 1e-9 of it
    optimizer = optax.adam(optax.exponential_decay(1.0, steps, 1e-9 / 0.05))
    search_labels = domain.labels == "real"

    def objective(params, key, y_fixed):
        X, y = params if search_labels else (params, y_fixed)
        out = falsifiable.check(key, X, y, **config)
        return -_score(out, falsifiable.score), out

    def step(params, opt_state, key, y_fixed, rate):
        (_, out), grads = jax.value_and_grad(objective, has_aux=True)(params, key, y_fixed)
        grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, 0), grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, jax.tree.map(lambda u: rate * u, updates))
        X, y = params if search_labels else (params, y_fixed)
        X, y = domain.project(X, y)
        params = (X, y) if search_labels else X
        return params, opt_state, _status(out, names), _score(out, falsifiable.score)

    init = jax.jit(jax.vmap(optimizer.init))
    return init, jax.jit(jax.vmap(step))


# --------------------------------------------------------------------------------------------
# Searchers: each yields batches of candidates (keys, X, y); the driver evaluates them
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Found:
    """A candidate whose check FAILS, with where it came from."""

    key: np.ndarray
    X: np.ndarray
    y: np.ndarray
    method: str
    evaluations: int  # evaluations of the whole search when it was found
    detail: str = ""


@functools.lru_cache(maxsize=64)
def _sampler(sampler, config_items: tuple):
    """(keys) -> (sample keys' datasets, construction keys), compiled once per config."""
    config = dict(config_items)

    def draw(key):
        return sampler(key, **config), construction_key(key)

    return jax.jit(jax.vmap(draw))


def _structured(rng: np.random.Generator, X0: np.ndarray, y0: np.ndarray, domain: Domain):
    """Classic hard cases built from sampler draws X0 (B, n, d), y0 (B, n): yields
    (name, X, y) batches of the same shape."""
    X0, y0 = np.asarray(X0, np.float64), np.asarray(y0, np.float64)
    B, n, d = X0.shape
    scale = float(np.max(np.abs(X0))) or 1.0
    # near-duplicates: row 1 becomes row 0 moved by a gap from 1e-1 down to a few ulps
    for gap in [10.0**-k for k in (1, 2, 4, 6, 8, 10, 12, 14)] + [4e-16, 2.3e-16]:
        X = X0.copy()
        u = rng.standard_normal((B, d))
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        if n >= 2:
            i, j = rng.integers(0, n, 2)
            j = j if j != i else (i + 1) % n
            X[:, j] = X[:, i] + gap * scale * u
        yield f"near-duplicates at gap {gap:.0e}", X, y0
    # every coordinate of one row one ulp from another's
    if n >= 2:
        X = X0.copy()
        X[:, 1] = np.nextafter(X[:, 0], np.inf)
        yield "rows one ulp apart", X, y0
    # collinear and cospherical points
    t = rng.standard_normal((B, n, 1))
    v = rng.standard_normal((B, 1, d))
    yield "collinear", t * v + X0[:, :1], y0
    # on a line through the origin: in general position for n <= 2, yet degenerate for
    # constructions that place hyperplanes <s, x> = 1 through a group of points
    yield "collinear through the origin", t * v, y0
    # two antipodal rows (exact in floating point): any group holding both has an affine hull
    # through the origin, while the points can still be in general position
    if n >= 2:
        X = X0.copy()
        X[:, 1] = -X[:, 0]
        yield "two antipodal rows", X, y0
    norms = np.linalg.norm(X0, axis=-1, keepdims=True)
    yield "cospherical", X0 / np.where(norms > 0, norms, 1) * scale, y0
    # a cluster: every point within 1e-6 of the first
    yield "one tight cluster", X0[:, :1] + 1e-6 * scale * (X0 - X0[:, :1]), y0
    # extreme scales
    for k in (-150, -100, -30, -8, 8, 30, 100, 150):
        yield f"points scaled by 1e{k}", X0 * 10.0**k, y0
    if domain.labels != "fixed":
        for k in (-100, -8, 8, 100):
            yield f"labels scaled by 1e{k}", X0, y0 * 10.0**k
        # adversarial labellings along a random projection: alternating, one odd one out,
        # a huge dynamic range
        a = rng.standard_normal((B, d, 1))
        order = np.argsort((X0 @ a)[..., 0], axis=-1)
        rank = np.argsort(order, axis=-1)
        alternating = np.where(rank % 2 == 0, 1.0, -1.0)
        yield "labels alternating along a projection", X0, alternating
        yield "all labels equal but one", X0, np.where(rank == n // 2, -1.0, 1.0)
        if domain.labels == "real":
            spread = 10.0 ** rng.uniform(-12, 12, (B, n))
            yield "labels over 24 decades", X0, alternating * spread
            yield "labels alternating, tiny", X0, 1e-200 * alternating


class _ESState(NamedTuple):
    """Separable CMA-ES state of one start (Ros and Hansen 2008): a diagonal covariance, so a
    generation costs O(population x dimension), where full CMA-ES needs an eigendecomposition
    (measured: 7.5 ms against 0.25 ms per generation at dimension 200)."""

    mean: jax.Array
    sigma: jax.Array
    C: jax.Array  # the diagonal of the covariance
    p_sigma: jax.Array
    p_c: jax.Array
    generation: jax.Array


def _es_constants(dim: int, population: int):
    """Hansen's default constants, with sep-CMA-ES's learning rates scaled by (d + 2) / 3."""
    mu = population // 2
    w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    mueff = 1.0 / np.sum(w**2)
    cs = (mueff + 2) / (dim + mueff + 5)
    ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (dim + 1)) - 1) + cs
    cc = (4 + mueff / dim) / (dim + 4 + 2 * mueff / dim)
    c1 = 2 / ((dim + 1.3) ** 2 + mueff) * (dim + 2) / 3
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((dim + 2) ** 2 + mueff) * (dim + 2) / 3)
    chi = math.sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim**2))
    return mu, w, mueff, cs, ds, cc, c1, cmu, chi


def _es_init(x0, sigma0):
    zeros = jnp.zeros_like(x0)
    return _ESState(x0, sigma0, jnp.ones_like(x0), zeros, zeros, jnp.zeros((), jnp.int32))


def _es_ask(key, state: _ESState, population: int):
    z = jax.random.normal(key, (population,) + state.mean.shape, state.mean.dtype)
    return state.mean + state.sigma * jnp.sqrt(state.C) * z


def _es_tell(state: _ESState, x, score):
    """x: (population, dim), score: (population,), higher is better."""
    population, dim = x.shape
    mu, w, mueff, cs, ds, cc, c1, cmu, chi = _es_constants(dim, population)
    score = jnp.where(jnp.isnan(score), -jnp.inf, score)
    best = jnp.argsort(-score)[:mu]
    steps = (x[best] - state.mean) / state.sigma
    step = w @ steps
    mean = state.mean + state.sigma * step
    p_sigma = (1 - cs) * state.p_sigma + math.sqrt(cs * (2 - cs) * mueff) * step / jnp.sqrt(state.C)
    norm = jnp.linalg.norm(p_sigma)
    stalled = (
        norm / jnp.sqrt(1 - (1 - cs) ** (2 * (state.generation + 1))) < (1.4 + 2 / (dim + 1)) * chi
    )
    p_c = (1 - cc) * state.p_c + stalled * math.sqrt(cc * (2 - cc) * mueff) * step
    C = (
        (1 - c1 - cmu) * state.C
        + c1 * (p_c**2 + (1 - stalled) * cc * (2 - cc) * state.C)
        + cmu * (w @ steps**2)
    )
    sigma = state.sigma * jnp.exp(cs / ds * (norm / chi - 1))
    return _ESState(mean, sigma, C, p_sigma, p_c, state.generation + 1)


_es_ask_all = jax.jit(jax.vmap(_es_ask, in_axes=(0, 0, None)), static_argnums=2)
_es_tell_all = jax.jit(jax.vmap(_es_tell))


def _evolution(key, evaluate, keys, X0, y0, domain, generations, population=8):
    """Separable CMA-ES from each start (vmapped over starts) on the score, over X and, for
    real labels, y: yields each generation's evaluated (keys, X, y, status)."""
    B, n, d = X0.shape
    search_labels = domain.labels == "real"
    flat = np.concatenate([X0.reshape(B, -1), y0], axis=1) if search_labels else X0.reshape(B, -1)
    spread = np.maximum(np.std(flat, axis=1), 1e-300)
    state = jax.vmap(_es_init)(jnp.asarray(flat), jnp.asarray(0.3 * spread))
    repeated = jnp.repeat(keys, population, axis=0)
    for g in range(generations):
        x = _es_ask_all(jax.random.split(jax.random.fold_in(key, g), B), state, population)
        x = np.asarray(x).reshape(B * population, -1)
        X = x[:, : n * d].reshape(-1, n, d)
        y = x[:, n * d :] if search_labels else np.repeat(y0, population, axis=0)
        X, y = (np.asarray(a) for a in domain.project(jnp.asarray(X), jnp.asarray(y)))
        status, score = evaluate(repeated, X, y)
        yield repeated, X, y, status
        state = _es_tell_all(
            state,
            jnp.asarray(x).reshape(B, population, -1),
            jnp.asarray(score).reshape(B, population),
        )


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Search:
    """What `falsify` did and found."""

    claim: str
    config: dict
    budget: int
    evaluations: int = 0
    seconds: float = 0.0
    methods: dict = dataclasses.field(default_factory=dict)  # method -> evaluations spent
    counterexample: dict | None = None  # the confirmed, shrunk case (see `confirm`)
    artefacts: list = dataclasses.field(default_factory=list)  # float artefacts, key-specific
    first_failure: dict | None = None  # method and evaluations at the first confirmed one

    def summary(self) -> str:
        searched = ", ".join(f"{m} {k}" for m, k in self.methods.items())
        cfg = ", ".join(f"{k}={v}" for k, v in self.config.items())
        if self.counterexample is None:
            extra = f"; {len(self.artefacts)} float artefact(s) set aside" if self.artefacts else ""
            if "trials" in self.methods:
                extra += (
                    "; no Falsifiable declared: fresh datasets of the claim's own trial, "
                    "no guided search"
                )
            return (
                f"{self.claim} [{cfg}]: none found in budget {self.budget} "
                f"({self.evaluations} evaluations: {searched}; {self.seconds:.1f} s){extra}"
            )
        ce, first = self.counterexample, self.first_failure or {}
        if "X" not in ce:  # a probabilistic claim's config, or a trial's key
            return (
                f"{self.claim} [{_config_text(ce['config'])}]: COUNTEREXAMPLE ({ce['status']}) "
                f"found by {first.get('method')} after {first.get('evaluations')} evaluations: "
                f"{ce['detail']} ({self.seconds:.1f} s)"
            )
        return (
            f"{self.claim} [{cfg}]: COUNTEREXAMPLE ({ce['status']}) found by "
            f"{first.get('method')} after {first.get('evaluations')} "
            f"evaluations; shrunk to n={ce['X'].shape[0]}, d={ce['X'].shape[1]} "
            f"({self.seconds:.1f} s)"
        )


def _config_text(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def _check_config(falsifiable: Falsifiable, config: dict, sampler) -> dict:
    """The config with both size entries: one left out is read off the sampler's output."""
    missing = [name for name in falsifiable.sizes if name not in config]
    if missing:
        try:
            X, _ = jax.eval_shape(lambda key: sampler(key, **config), jax.random.key(0))
        except Exception as err:  # the sampler needs the missing entry itself
            raise ValueError(
                f"the config needs {' and '.join(map(repr, missing))} (the dataset's shape); "
                f"got {config}"
            ) from err
        if len(X.shape) != 2:
            raise ValueError(
                f"the search's sampler must return one dataset X (n, d); got "
                f"shape {X.shape} (declare Falsifiable.sampler)"
            )
        config = dict(config, **dict(zip(falsifiable.sizes, X.shape)))
    return config


def falsify(
    claim,
    config: dict | None,
    *,
    budget: int = 2000,
    seconds: float | None = None,
    methods: tuple[str, ...] = ("structured", "gradient", "evolution"),
    seed: int = 0,
    batch: int = 32,
    shrink: bool = True,
) -> Search:
    """Searches `claim` (a registered Claim with a `falsify` declaration) at `config` for a
    dataset that violates it, within `budget` evaluations (and `seconds`, if given). Stops at
    the first confirmed counterexample, shrinks and returns it; otherwise reports what was
    searched. Each of `methods` gets an equal share of the budget, in turn. A Probabilistic
    claim is searched for a config where its rate is below p (`falsify_probabilistic`; with
    `config` None, over all its quick configs)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive number of evaluations; got {budget!r}")
    if getattr(claim.rule, "kind", None) == "probabilistic":
        # no dataset breaks "with probability >= p": a config where the rate is below p does
        methods = ("random",) if tuple(methods) == ("random",) else ("adaptive",)
        configs = [config] if config else claim.configs("quick")
        return falsify_probabilistic(claim, configs, budget=budget, seed=seed, methods=methods)
    falsifiable: Falsifiable | None = getattr(claim, "falsify", None)
    if falsifiable is None:
        if getattr(claim.rule, "kind", None) == "universal":
            # nothing to search over: fresh datasets of the claim's own trial (`trials`)
            configs = [config] if config else claim.configs("quick")
            return falsify_trials(claim, configs, budget=budget, seed=seed)
        raise ValueError(
            f"claim {claim.id} declares no Falsifiable (its check, domain and score); "
            "see docs/falsify.md"
        )
    sampler = falsifiable.sampler or claim.dataset
    if sampler is None:
        raise ValueError(f"claim {claim.id} has no dataset sampler to start the search from")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; expected some of {METHODS}")
    if config is None:
        raise ValueError(f"searching {claim.id} needs a config (e.g. n=8, d=2)")
    config = _check_config(
        falsifiable, {k: v for k, v in config.items() if k != "datasets"}, sampler
    )
    items = tuple(sorted(config.items()))
    names = _names(claim)
    evaluate = _evaluator(falsifiable, items, names)
    search = Search(claim=claim.id, config=config, budget=budget)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    base = jax.random.key(seed)

    def out_of_budget():
        late = seconds is not None and time.perf_counter() - start > seconds
        return search.evaluations >= budget or late

    def consider(method, keys, X, y, status):
        """Confirm the batch's failing candidates; True when one is confirmed."""
        status = np.asarray(status)
        for i in np.flatnonzero(status == FAILS_):
            found = Found(
                np.asarray(jax.random.key_data(keys[i])),
                np.asarray(X[i]),
                np.asarray(y[i]),
                method,
                search.evaluations,
            )
            verdict = confirm(claim, config, found.key, found.X, found.y)
            if verdict["status"] == CONFIRMED:
                search.first_failure = dict(method=method, evaluations=search.evaluations)
                case = shrink_case(claim, config, verdict) if shrink else verdict
                search.counterexample = case
                return True
            search.artefacts.append(verdict)
        return False

    def spend(method, count):
        search.evaluations += count
        search.methods[method] = search.methods.get(method, 0) + count

    round_index = 0
    for position, method in enumerate(methods):
        # each method gets an equal share of what is left, in rounds on fresh draws
        share = (budget - search.evaluations) / (len(methods) - position)
        stop_at = search.evaluations + share
        while search.counterexample is None and not out_of_budget():
            if search.evaluations >= stop_at:
                break
            round_index += 1
            starts = EVOLUTION_STARTS if method == "evolution" else batch
            keys = jax.random.split(jax.random.fold_in(base, round_index), starts)
            (X0, y0), build_keys = _sampler(sampler, items)(keys)
            # searched in float64 (integer data, e.g. pixels, would round every step away)
            X0, y0 = np.asarray(X0, np.float64), np.asarray(y0, np.float64)

            def exhausted(stop_at=stop_at):
                return out_of_budget() or search.evaluations >= stop_at

            if method == "random":
                status, _ = evaluate(build_keys, X0, y0)
                spend(method, len(X0))
                consider(method, build_keys, X0, y0, status)
            elif method == "structured":
                for _, X, y in _structured(rng, X0, y0, falsifiable.domain):
                    X, y = (np.asarray(a) for a in falsifiable.domain.project(X, y))
                    status, _ = evaluate(build_keys, X, y)
                    spend(method, len(X))
                    if consider(method, build_keys, X, y, status) or exhausted():
                        break
            elif method == "gradient":
                try:
                    _gradient_search(
                        falsifiable, items, names, build_keys, X0, y0, spend, consider, exhausted
                    )
                except (ValueError, TypeError) as err:
                    if "inearization" not in str(err) and "differentiat" not in str(err):
                        raise
                    # the check has no reverse-mode derivative (a while loop, a host step):
                    # the other searchers get the rest of the budget
                    search.methods["gradient (not differentiable: skipped)"] = 0
                    break
            elif method == "evolution":
                generations = max(1, int(share // (starts * EVOLUTION_POPULATION)))
                for keys_, X, y, status in _evolution(
                    jax.random.fold_in(base, 1_000_000 + round_index),
                    evaluate,
                    build_keys,
                    X0,
                    y0,
                    falsifiable.domain,
                    generations=generations,
                    population=EVOLUTION_POPULATION,  # the population the share was cut for
                ):
                    spend(method, len(X))
                    if consider(method, keys_, X, y, status) or exhausted():
                        break
        if search.counterexample is not None:
            break
    search.seconds = time.perf_counter() - start
    return search


GRADIENT_STEPS = 60  # per start; the step size decays from 5% of the data's scale to 1e-9 of it
EVOLUTION_STARTS, EVOLUTION_POPULATION = 4, 16


def _gradient_search(falsifiable, items, names, keys, X0, y0, spend, consider, exhausted):
    """Adam from every start with a step size that decays geometrically, so that the search
    first moves across the data's scale and then settles to ~1e-9 of it (a fixed step
    cannot resolve the near-degenerate configurations that break constructions)."""
    scale = max(float(np.max(np.abs(X0))), 1e-300)
    init, step = _gradient_step(falsifiable, items, GRADIENT_STEPS, names)
    search_labels = falsifiable.domain.labels == "real"
    params = (jnp.asarray(X0), jnp.asarray(y0)) if search_labels else jnp.asarray(X0)
    opt_state = init(params)
    y_fixed = jnp.asarray(y0)
    rate = jnp.full((len(X0),), 0.05 * scale)
    for _ in range(GRADIENT_STEPS):
        X_now, y_now = params if search_labels else (params, y_fixed)
        params, opt_state, status, _ = step(params, opt_state, keys, y_fixed, rate)
        spend("gradient", len(X0))
        if consider("gradient", keys, np.asarray(X_now), np.asarray(y_now), status):
            return True
        if exhausted():
            return False
    return False


# --------------------------------------------------------------------------------------------
# Probabilistic claims: find the config where P(pass) < p, then confirm on a fresh sample
# --------------------------------------------------------------------------------------------

EXPLORE_FRACTION = 0.4  # of the budget; the rest is the confirming sample


@functools.lru_cache(maxsize=64)
def _trial_batch(trial, config_items: tuple, compiler_options_items: tuple):
    config = dict(config_items)
    options = dict(compiler_options_items) or None
    return jax.jit(jax.vmap(lambda key: trial(key, **config)), compiler_options=options)


def _passes(claim, config: dict, keys) -> tuple[int, int]:
    """(decided passes, undecided) of the trial over `keys`, in chunks of 256."""
    rule = claim.rule
    items = tuple(sorted((k, v) for k, v in config.items() if k != "datasets"))
    options = tuple(sorted((claim.compiler_options or {}).items()))
    run = _trial_batch(claim.trial, items, options)
    passed = undecided = 0
    for start in range(0, len(keys), 256):
        out = {k: np.asarray(v) for k, v in run(keys[start : start + 256]).items()}
        if claim.host is not None:  # the claim's host step decides some outputs (NumPy)
            out = claim.host(out, config)
        open_ = np.asarray(out.get(rule.undecided, np.zeros(len(keys[start : start + 256]))), bool)
        ok = np.asarray(out[rule.passed], bool)
        passed += int(np.sum(ok & ~open_))
        undecided += int(np.sum(open_))
    return passed, undecided


def _upper(claim, passed: int, undecided: int, n: int) -> float:
    """The claim's one-sided upper bound on P(pass), undecided datasets counted for it (as the
    Probabilistic rule does)."""
    from jaxmem.stats import clopper_pearson

    return clopper_pearson(passed + undecided, n, claim.rule.confidence, "upper")[1]


def falsify_probabilistic(
    claim,
    configs: list[dict],
    *,
    budget: int = 4000,
    seed: int = 0,
    methods: tuple[str, ...] = ("adaptive",),
    batch: int = 32,
) -> Search:
    """Searches a Probabilistic claim ("P(pass) >= p at every config") for a config where it
    fails. `adaptive`: explore with EXPLORE_FRACTION of the budget, each batch going to the
    config whose pass rate is most likely below p (the smallest z-score (rate - p) / se, every
    config tried first), then confirm on a fresh sample of the rest of the budget at that
    config alone, with one Clopper-Pearson bound at the claim's confidence (the exploration's
    draws are not reused, so looking many times costs no confidence). `random`: the budget
    split evenly over the configs, each decided by the claim's own rule - what `jaxmem verify`
    would do with that many datasets."""
    rule = claim.rule
    configs = [{k: v for k, v in c.items() if k != "datasets"} for c in configs]
    search = Search(claim=claim.id, config=dict(configs=len(configs)), budget=budget)
    start = time.perf_counter()
    base = jax.random.key(seed)
    method = methods[0]
    if method not in ("adaptive", "random"):
        raise ValueError(f"a probabilistic claim is searched by adaptive or random; got {method}")

    def keys_for(index: int, stream: int, count: int):
        return jax.random.split(jax.random.fold_in(jax.random.fold_in(base, index), stream), count)

    def decide(index: int, stream: int, count: int) -> dict | None:
        passed, undecided = _passes(claim, configs[index], keys_for(index, stream, count))
        upper = _upper(claim, passed, undecided, count)
        search.evaluations += count
        search.methods[method] = search.methods.get(method, 0) + count
        if upper < rule.p:
            return dict(
                claim=claim.id,
                config=configs[index],
                status=CONFIRMED,
                seed=seed,
                stream=stream,
                index=index,
                datasets=count,
                passed=passed,
                undecided=undecided,
                upper=upper,
                p=rule.p,
                confidence=rule.confidence,
                detail=f"P(pass) <= {upper:.4f} < p = {rule.p} at confidence "
                f"{rule.confidence} ({passed} of {count} pass, {undecided} undecided)",
            )
        return None

    if method == "random":
        share = budget // len(configs)
        for index in range(len(configs)):
            found = decide(index, 1, share)
            if found is not None:
                search.counterexample = found
                search.first_failure = dict(method=method, evaluations=search.evaluations)
                break
    else:
        explore = int(budget * EXPLORE_FRACTION)
        counts = np.zeros(len(configs))
        wins = np.zeros(len(configs))
        rounds = 0
        while counts.sum() + batch <= explore:
            if np.any(counts == 0):
                index = int(np.argmin(counts))
            else:
                rate = wins / counts
                se = np.sqrt(np.maximum(rate * (1 - rate), 1 / counts) / counts)
                index = int(np.argmin((rate - rule.p) / se))
            passed, undecided = _passes(claim, configs[index], keys_for(index, 2 + rounds, batch))
            counts[index] += batch
            wins[index] += passed + undecided
            rounds += 1
        search.evaluations += int(counts.sum())
        search.methods["adaptive"] = int(counts.sum())
        rate = wins / np.maximum(counts, 1)
        se = np.sqrt(
            np.maximum(rate * (1 - rate), 1 / np.maximum(counts, 1)) / np.maximum(counts, 1)
        )
        suspect = int(np.argmin((rate - rule.p) / se))
        found = decide(suspect, 0, budget - int(counts.sum()))  # a fresh stream
        if found is not None:
            found["explored"] = dict(zip(map(str, range(len(configs))), counts.tolist()))
            search.counterexample = found
            search.first_failure = dict(method=method, evaluations=search.evaluations)
        search.config = dict(suspect=configs[suspect], configs=len(configs))
    search.seconds = time.perf_counter() - start
    return search


def _trial_case(claim, config: dict, key_data) -> dict:
    """One dataset of the claim's own trial, re-decided alone: its outputs (after the host
    step), the rule's state, and the claim's exact step where the float trial fails."""
    passed_name, undecided_name = _names(claim)
    key = jax.random.wrap_key_data(jnp.asarray(key_data, jnp.uint32))
    passed, undecided = _passes(claim, config, key[None])
    if passed or undecided:
        return dict(status=UNCONFIRMED, detail="the trial passes or is undecided, alone")
    if claim.exact is not None:
        out = claim.exact(key, **{k: v for k, v in config.items() if k != "datasets"})
        if bool(np.asarray(out.get(passed_name, False))):
            return dict(status=ARTEFACT, detail="FAILS in float64, passes the claim's exact step")
        return dict(status=CONFIRMED, detail="FAILS in float64 and in the claim's exact step")
    return dict(status=CONFIRMED, detail="FAILS by the three-valued rule (no exact step)")


def falsify_trials(claim, configs: list[dict], *, budget: int = 2000, seed: int = 0) -> Search:
    """A Universal claim that declares no Falsifiable (its datasets are not points in a
    domain: formulas, lattices, samplers of varying size) is searched the only way its
    declaration allows: `budget` fresh datasets of its own trial, split evenly over
    `configs`, keys fold_in(fold_in(key(seed), config index), 1) split `budget / configs`
    ways (not `jaxmem verify`'s keys). The first that FAILS is re-decided alone, and by the
    claim's exact step where it has one. No guided search and no shrinking: the summary
    says so."""
    configs = [{k: v for k, v in c.items() if k != "datasets"} for c in configs]
    search = Search(claim=claim.id, config=dict(configs=len(configs)), budget=budget)
    start = time.perf_counter()
    base = jax.random.key(seed)
    share = max(budget // len(configs), 1)
    rule = claim.rule
    options = tuple(sorted((claim.compiler_options or {}).items()))
    for index, config in enumerate(configs):
        run = _trial_batch(claim.trial, tuple(sorted(config.items())), options)
        keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(base, index), 1), share)
        for lo in range(0, share, 256):
            chunk = keys[lo : lo + 256]
            out = {k: np.asarray(v) for k, v in run(chunk).items()}
            if claim.host is not None:
                out = claim.host(out, config)
            open_ = np.asarray(out.get(rule.undecided, np.zeros(len(chunk))), bool)
            fails = np.flatnonzero(~np.asarray(out[rule.passed], bool) & ~open_)
            search.methods["trials"] = search.methods.get("trials", 0) + len(chunk)
            search.evaluations += len(chunk)
            for i in fails:
                key_data = np.asarray(jax.random.key_data(chunk[i]))
                verdict = dict(
                    claim=claim.id,
                    config=config,
                    kind="trial",
                    seed=seed,
                    index=index,
                    position=lo + int(i),
                    key=key_data.tolist(),
                    **_trial_case(claim, config, key_data),
                )
                if verdict["status"] == CONFIRMED:
                    search.counterexample = verdict
                    search.first_failure = dict(method="trials", evaluations=search.evaluations)
                    search.seconds = time.perf_counter() - start
                    return search
                search.artefacts.append(verdict)
    search.seconds = time.perf_counter() - start
    return search


def reproduce_probabilistic(claim, case: dict) -> dict:
    """Re-runs the confirming sample of a saved probabilistic counterexample (same keys)."""
    base = jax.random.key(int(case["seed"]))
    keys = jax.random.split(
        jax.random.fold_in(jax.random.fold_in(base, int(case["index"])), int(case["stream"])),
        int(case["datasets"]),
    )
    passed, undecided = _passes(claim, case["config"], keys)
    upper = _upper(claim, passed, undecided, int(case["datasets"]))
    status = CONFIRMED if upper < claim.rule.p else UNCONFIRMED
    return dict(
        case,
        passed=passed,
        undecided=undecided,
        upper=upper,
        status=status,
        detail=f"P(pass) <= {upper:.4f} vs p = {claim.rule.p} ({passed} of "
        f"{case['datasets']} pass, {undecided} undecided)",
    )


# --------------------------------------------------------------------------------------------
# Confirm, shrink, save
# --------------------------------------------------------------------------------------------


def _names(claim) -> tuple[str, str]:
    """The outputs the claim's rule decides on: (passed, undecided)."""
    return getattr(claim.rule, "passed", "ok"), getattr(claim.rule, "undecided", "undecided")


def _decide(falsifiable: Falsifiable, config: dict, keys, X, y, names) -> np.ndarray:
    """The status of one dataset under each construction key (one batched call)."""
    evaluate = _evaluator(falsifiable, tuple(sorted(config.items())), names)
    count = len(keys)
    X = jnp.broadcast_to(jnp.asarray(X), (count,) + np.shape(X))
    y = jnp.broadcast_to(jnp.asarray(y), (count,) + np.shape(y))
    status, _ = evaluate(keys, X, y)
    return np.asarray(status)


def confirm(claim, config: dict, key, X, y) -> dict:
    """Re-decides one candidate: the domain (exact arithmetic), the three-valued check alone in
    float64 with the searched construction key and `FRESH_KEYS` fresh ones, and the claim's
    exact step where it has one. Returns a dict with `status`:

      confirmed       FAILS in float64 with the searched key and at least one fresh key, and
                      in exact arithmetic where the claim can decide it so
      float artefact  FAILS in float64, fits in exact arithmetic
      key-specific    only the searched construction key fails (the search adapted the data to
                      one random choice of the construction, which the theorem does not fix)
      not confirmed   outside the domain, or not FAILS when re-decided alone
    """
    falsifiable: Falsifiable = claim.falsify
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    n_name, d_name = falsifiable.sizes
    config = dict(config, **{n_name: X.shape[0], d_name: X.shape[1]})
    key = jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    result = dict(claim=claim.id, config=config, key=np.asarray(jax.random.key_data(key)), X=X, y=y)
    inside, why = falsifiable.domain.contains(X, y)
    if not inside:
        return dict(result, status=UNCONFIRMED, detail=f"outside the domain: {why}")
    fresh = jax.random.split(jax.random.fold_in(key, 7919), FRESH_KEYS)
    status = _decide(falsifiable, config, jnp.concatenate([key[None], fresh]), X, y, _names(claim))
    if status[0] != FAILS_:
        return dict(result, status=UNCONFIRMED, detail="does not FAIL when decided alone")
    fresh_failures = int(np.sum(status[1:] == FAILS_))
    result["fresh_key_failures"] = f"{fresh_failures}/{FRESH_KEYS}"
    if falsifiable.exact is not None:
        exact = falsifiable.exact(key, X, y, **config)
        result["exact"] = {k: _plain(v) for k, v in exact.items()}
        if bool(exact["ok"]):
            return dict(
                result, status=ARTEFACT, detail="fails in float64, fits in exact arithmetic"
            )
        if bool(exact.get("undecided", False)):
            return dict(result, status=UNCONFIRMED, detail="exact arithmetic left it undecided")
    if fresh_failures == 0:
        return dict(
            result, status=KEY_SPECIFIC, detail=f"no fresh construction key fails (0/{FRESH_KEYS})"
        )
    detail = (
        "fails in exact arithmetic"
        if falsifiable.exact is not None
        else ("FAILS in float64 by the three-valued rule (the claim has no exact step)")
    )
    return dict(result, status=CONFIRMED, detail=detail)


def _plain(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def shrink_case(claim, config: dict, case: dict, *, seconds: float = 60.0) -> dict:
    """Shrinks a confirmed counterexample while it stays confirmed: drops points, then
    dimensions, then shortens every coordinate and label to as few significant bits as
    still fail. Greedy, within `seconds`."""
    deadline = time.perf_counter() + seconds
    key = case["key"]
    X, y = case["X"], case["y"]
    best = case

    def still(Xc, yc):
        if time.perf_counter() > deadline:
            return None
        try:
            c = confirm(claim, config, key, Xc, yc)
        except (ValueError, TypeError, ZeroDivisionError, IndexError):
            return None  # a shape the check cannot evaluate (e.g. one point) is no smaller case
        return c if c["status"] == CONFIRMED else None

    def drop_greedily(axis: int):  # rows (axis 0) or columns (axis 1), one at a time
        nonlocal X, y, best
        changed = True
        while changed:
            changed = False
            for i in range(X.shape[axis] if X.shape[axis] > 1 else 0):
                keep = np.arange(X.shape[axis]) != i
                Xc, yc = (X[keep], y[keep]) if axis == 0 else (X[:, keep], y)
                c = still(Xc, yc)
                if c is not None:
                    X, y, best, changed = Xc, yc, c, True
                    break

    drop_greedily(0)  # points
    drop_greedily(1)  # dimensions
    for bits in (1, 2, 4, 8, 16, 24, 32, 40, 48):  # shorter coordinates and labels
        Xr, yr = _round_bits(X, bits), _round_bits(y, bits)
        c = still(Xr, yr)
        if c is not None:
            X, y, best = Xr, yr, c
            break
    return dict(best, shrunk_from=dict(n=case["X"].shape[0], d=case["X"].shape[1]))


def _round_bits(a: np.ndarray, bits: int) -> np.ndarray:
    mantissa, exponent = np.frexp(a)
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)


def save_case(case: dict, path: str) -> str:
    """Writes a counterexample as .npz: a dataset's X, y and construction key with the claim
    and config as JSON; a probabilistic claim's confirming sample as JSON alone (seed, stream,
    config index and size: `reproduce_probabilistic` draws it again)."""
    if "X" not in case:
        meta = {k: v for k, v in case.items() if k != "explored"}
        meta.setdefault("kind", "probabilistic")
        np.savez(path, meta=np.array(json.dumps(meta)))
        return path
    meta = dict(
        claim=case["claim"],
        config=case["config"],
        status=case["status"],
        detail=case.get("detail", ""),
        fresh_key_failures=case.get("fresh_key_failures"),
    )
    np.savez(
        path, X=case["X"], y=case["y"], key=np.asarray(case["key"]), meta=np.array(json.dumps(meta))
    )
    return path


def load_case(path: str) -> dict:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        if meta.get("kind") in ("probabilistic", "trial"):
            return meta
        return dict(meta, X=f["X"], y=f["y"], key=f["key"])


def recheck(claim, case: dict) -> dict:
    """Re-decides a saved counterexample (`jaxmem falsify --reproduce`)."""
    if case.get("kind") == "probabilistic":
        return reproduce_probabilistic(claim, case)
    if case.get("kind") == "trial":
        return dict(case, **_trial_case(claim, case["config"], np.asarray(case["key"])))
    return confirm(claim, case["config"], case["key"], case["X"], case["y"])
