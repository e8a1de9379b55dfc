"""Claims, verdict rules, and the runner behind `jaxmem verify`.

A Claim is a theorem turned into a check: a per-dataset `trial(key, **config) -> dict` that
draws a dataset from its key, builds (or trains) the network and measures what the statement is
about; grids of configs at each scale; and a verdict rule over the per-dataset results:

  Universal      "every dataset ...": VIOLATED on the first failing dataset, reported with the
                 seed and index that rebuild it (`jaxmem verify --reproduce ID --index K`).
  Probabilistic  "with probability >= p": one-sided Clopper-Pearson bounds at the stated
                 confidence; HOLDS if the lower bound is >= p, VIOLATED if the upper bound is
                 < p, INCONCLUSIVE when the interval straddles p.
  Scaling        "y grows like x^alpha": the least-squares exponent of log y on log x with its
                 t-interval; HOLDS if the interval lies inside the predicted band, VIOLATED if
                 it misses the band, INCONCLUSIVE otherwise.
  Informational  a measured summary with no verdict (INFO).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np
from scipy import stats

from jaxmem.sweep import dataset_keys, run_chunked

VERDICTS = ("HOLDS", "VIOLATED", "INCONCLUSIVE", "INFO", "ERROR")  # ERROR: the claim crashed
SCALES = ("quick", "full")
CONTROL_KEYS = ("datasets",)  # config entries that are not passed to the trial
DEFAULT_CHUNK = 256           # datasets per compiled call; --reproduce must use the run's


@dataclasses.dataclass(frozen=True)
class Universal:
    passed: str = "ok"
    kind = "universal"


@dataclasses.dataclass(frozen=True)
class Probabilistic:
    p: float
    confidence: float = 0.95
    passed: str = "ok"
    kind = "probabilistic"


@dataclasses.dataclass(frozen=True)
class Scaling:
    x: str                      # a config entry, e.g. "n"
    y: str                      # a per-dataset output, positive
    predicted: float
    band: tuple[float, float]   # exponents consistent with the claim
    confidence: float = 0.95
    kind = "scaling"


@dataclasses.dataclass(frozen=True)
class Informational:
    summarize: Callable[[list[tuple[dict, dict]]], str]
    kind = "informational"


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    citation: str
    statement: str
    trial: Callable[..., dict]
    grids: dict[str, list[dict]]
    rule: Any
    # Optional host-side step on each config's batch of outputs (NumPy): (outs, config) -> outs.
    host: Callable[[dict, dict], dict] | None = None
    # Optional (key, **config) -> (X, y): the dataset a trial sees, for --reproduce --save.
    dataset: Callable[..., tuple] | None = None
    # Optional XLA options for the trial's compiled program (jaxmem.sweep.batched): claims
    # that train networks use training.mlp.OPTIMIZED, since quick scale lowers XLA's
    # optimization level (fast compiles) and an unoptimized training loop runs ~15x slower.
    compiler_options: dict | None = None

    def __post_init__(self):
        for scale in SCALES:
            if scale not in self.grids:
                raise ValueError(f"claim {self.id}: no grid for scale {scale!r}")
            for cfg in self.grids[scale]:
                if not isinstance(cfg.get("datasets"), int) or cfg["datasets"] < 1:
                    raise ValueError(f"claim {self.id}: every config needs datasets >= 1; {cfg}")

    def configs(self, scale: str) -> list[dict]:
        if scale not in self.grids:
            raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
        return self.grids[scale]


@dataclasses.dataclass
class Result:
    id: str
    verdict: str
    n_datasets: int
    n_passed: int | None
    pass_rate: float | None
    ci_low: float | None
    ci_high: float | None
    seconds: float
    detail: str = ""
    counterexample: dict | None = None
    exponent: float | None = None
    scale: str = "quick"
    seed: int = 0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def pairs(nd: list[tuple[int, int]], **shared) -> list[dict]:
    """Configs from explicit (n, d) pairs: quick grids pick edge cases instead of a product."""
    return [dict(n=n, d=d, **shared) for n, d in nd]


def trial_config(claim: Claim, config: dict) -> dict:
    """The config as the trial sees it (control entries dropped)."""
    return {k: v for k, v in config.items() if k not in CONTROL_KEYS}


def stream_config(claim: Claim, config: dict) -> dict:
    """What a dataset's key is derived from: the claim id and the trial config. The count of
    datasets is excluded, so a larger run reproduces a smaller one's datasets exactly."""
    return {"claim": claim.id, **trial_config(claim, config)}


def run_config(claim: Claim, config: dict, seed: int, indices=None,
               chunk_size: int = DEFAULT_CHUNK) -> dict:
    """Per-dataset outputs (NumPy, leading axis = dataset) of one config."""
    if indices is None:
        indices = range(config["datasets"])
    keys = dataset_keys(seed, stream_config(claim, config), list(indices))
    outs = run_chunked(claim.trial, keys, chunk_size, compiler_options=claim.compiler_options,
                       **trial_config(claim, config))
    if claim.host is not None:
        outs = claim.host(outs, config)
    return outs


def clopper_pearson(k: int, n: int, confidence: float, side: str = "two") -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials.

    side="two": central interval at `confidence`; "lower"/"upper": the one-sided bound at
    `confidence` (the other end is 0 or 1).
    """
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    tail = alpha / 2 if side == "two" else alpha
    lo = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    if side == "lower":
        hi = 1.0
    elif side == "upper":
        lo = 0.0
    return lo, hi


def fit_exponent(x, y, confidence: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope of log y on log x with its two-sided t-interval."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(np.unique(lx)) < 2:
        raise ValueError("a scaling fit needs at least two distinct x values")
    A = np.stack([lx, np.ones_like(lx)], 1)
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    resid = ly - A @ coef
    dof = len(lx) - 2
    s2 = float(resid @ resid) / max(dof, 1)
    se = np.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    t = stats.t.ppf(0.5 + confidence / 2, max(dof, 1))
    return float(coef[0]), float(coef[0] - t * se), float(coef[0] + t * se)


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _universal(claim, rule, runs, seed, res: Result, chunk_size: int):
    n_passed, total, cex = 0, 0, None
    for config, outs in runs:
        ok = np.asarray(outs[rule.passed], bool)
        if cex is None and not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            cex = dict(config=config, index=i, global_index=total + i, seed=seed,
                       metrics={k: _scalar(v[i]) for k, v in outs.items()})
        n_passed += int(ok.sum())
        total += len(ok)
    res.n_passed, res.pass_rate = n_passed, n_passed / total
    res.ci_low, res.ci_high = clopper_pearson(n_passed, total, 0.95)
    if cex is None:
        res.verdict = "HOLDS"
        res.detail = f"all {total} datasets pass"
    else:
        res.verdict = "VIOLATED"
        res.counterexample = cex
        cfg = ", ".join(f"{k}={v}" for k, v in trial_config(claim, cex["config"]).items())
        # The same chunk shape recomputes the same bits (see `reproduce`).
        chunk = "" if chunk_size == DEFAULT_CHUNK else f" --chunk-size {chunk_size}"
        res.detail = (f"first failure: dataset {cex['index']} of ({cfg}); reproduce with "
                      f"`jaxmem verify --reproduce {claim.id} --index {cex['global_index']} "
                      f"--seed {seed}{chunk}`")


def _probabilistic(claim, rule, runs, seed, res: Result):
    ok = np.concatenate([np.asarray(o[rule.passed], bool) for _, o in runs])
    k, n = int(ok.sum()), len(ok)
    lo, _ = clopper_pearson(k, n, rule.confidence, "lower")
    _, hi = clopper_pearson(k, n, rule.confidence, "upper")
    res.n_passed, res.pass_rate, res.ci_low, res.ci_high = k, k / n, lo, hi
    if lo >= rule.p:
        res.verdict = "HOLDS"
    elif hi < rule.p:
        res.verdict = "VIOLATED"
    else:
        res.verdict = "INCONCLUSIVE"
    res.detail = (f"{k}/{n} pass; one-sided {rule.confidence:.0%} bounds [{lo:.4f}, {hi:.4f}] "
                  f"vs claimed p >= {rule.p}")


def _scaling(claim, rule, runs, seed, res: Result):
    xs, ys = [], []
    for config, outs in runs:
        y = np.asarray(outs[rule.y], float)
        xs.append(np.full(len(y), float(config[rule.x])))
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    good = np.isfinite(y) & (y > 0)
    if not good.any():
        raise ValueError(f"claim {claim.id}: no positive finite {rule.y} to fit")
    alpha, lo, hi = fit_exponent(x[good], y[good], rule.confidence)
    res.exponent, res.ci_low, res.ci_high = alpha, lo, hi
    res.n_passed, res.pass_rate = int(good.sum()), float(good.mean())
    band_lo, band_hi = rule.band
    if band_lo <= lo and hi <= band_hi:
        res.verdict = "HOLDS"
    elif hi < band_lo or lo > band_hi:
        res.verdict = "VIOLATED"
    else:
        res.verdict = "INCONCLUSIVE"
    res.detail = (f"{rule.y} ~ {rule.x}^{alpha:.3f}, {rule.confidence:.0%} CI [{lo:.3f}, {hi:.3f}]"
                  f"; predicted {rule.predicted} (band [{band_lo}, {band_hi}])"
                  + (f"; {int((~good).sum())} non-positive values dropped" if not good.all() else ""))


def run_claim(claim: Claim, scale: str = "quick", seed: int = 0,
              chunk_size: int = DEFAULT_CHUNK) -> Result:
    """Runs every config of the claim's grid at `scale` and applies its verdict rule."""
    t0 = time.perf_counter()
    runs = [(cfg, run_config(claim, cfg, seed, chunk_size=chunk_size))
            for cfg in claim.configs(scale)]
    total = sum(len(next(iter(o.values()))) for _, o in runs)
    res = Result(id=claim.id, verdict="INFO", n_datasets=total, n_passed=None, pass_rate=None,
                 ci_low=None, ci_high=None, seconds=0.0, scale=scale, seed=seed)
    rule = claim.rule
    if isinstance(rule, Universal):
        _universal(claim, rule, runs, seed, res, chunk_size)
    elif isinstance(rule, Probabilistic):
        _probabilistic(claim, rule, runs, seed, res)
    elif isinstance(rule, Scaling):
        _scaling(claim, rule, runs, seed, res)
    elif isinstance(rule, Informational):
        res.detail = rule.summarize(runs)
    else:
        raise TypeError(f"claim {claim.id}: unknown rule {rule!r}")
    res.seconds = time.perf_counter() - t0
    return res


def locate(claim: Claim, scale: str, global_index: int) -> tuple[dict, int]:
    """(config, index within it) of the dataset at a global index of the grid."""
    if global_index < 0:
        raise ValueError(f"index must be >= 0; got {global_index}")
    offset = 0
    for cfg in claim.configs(scale):
        if global_index < offset + cfg["datasets"]:
            return cfg, global_index - offset
        offset += cfg["datasets"]
    raise ValueError(f"claim {claim.id} has {offset} datasets at scale {scale!r}; "
                     f"index {global_index} is out of range")


def reproduce(claim: Claim, global_index: int, scale: str = "quick", seed: int = 0,
              chunk_size: int = DEFAULT_CHUNK) -> dict:
    """Rebuilds one dataset of a claim, bit for bit as the run computed it.

    The dataset's whole chunk is recomputed with the run's chunk shape: a program compiled
    for another batch size may round differently. Returns config, index, seed, passed (for
    universal/probabilistic rules), the dataset's metrics, and (when the claim defines
    `dataset`) X and y.
    """
    config, index = locate(claim, scale, global_index)
    chunk = min(chunk_size, config["datasets"])
    start = index - index % chunk
    outs = run_config(claim, config, seed, chunk_size=chunk,
                      indices=range(start, min(start + chunk, config["datasets"])))
    metrics = {k: _scalar(v[index - start]) for k, v in outs.items()}
    out = dict(claim=claim.id, config=config, index=index, global_index=global_index,
               seed=seed, scale=scale, metrics=metrics)
    passed = getattr(claim.rule, "passed", None)
    if passed is not None:
        out["passed"] = bool(metrics[passed])
    if claim.dataset is not None:
        key = dataset_keys(seed, stream_config(claim, config), [index])[0]
        X, y = claim.dataset(key, **trial_config(claim, config))
        out["X"], out["y"] = np.asarray(X), np.asarray(y)
    return out


__all__ = ["Claim", "Informational", "Probabilistic", "Result", "SCALES", "Scaling", "Universal",
           "VERDICTS", "clopper_pearson", "fit_exponent", "locate", "reproduce", "run_claim",
           "run_config"]
