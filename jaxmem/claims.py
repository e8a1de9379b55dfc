"""Claims, verdict rules, and the runner behind `jaxmem verify`.

A Claim is a theorem turned into a check: a per-dataset `trial(key, **config) -> dict` that
draws a dataset from its key, builds (or trains) the network and measures what the statement is
about; grids of configs at each scale; and a verdict rule over the per-dataset results:

  Universal      "every dataset ...": VIOLATED on the first failing dataset, reported with the
                 seed and index that rebuild it (`jaxmem verify --reproduce ID --index K`);
                 HOLDS only when every dataset is decided and passes; undecided datasets (and no
                 failure) make it INCONCLUSIVE.
  Probabilistic  "with probability >= p": one-sided Clopper-Pearson bounds at the stated
                 confidence, undecided datasets counted against the claim in the lower bound
                 and for it in the upper bound; HOLDS if the lower bound is >= p, VIOLATED if
                 the upper bound is < p, INCONCLUSIVE when the interval straddles p.
  Scaling        "y grows like x^alpha": the least-squares exponent of log y on log x with its
                 t-interval over the decided datasets; HOLDS if the interval lies inside the
                 predicted band and no dataset is undecided, VIOLATED if it misses the band and
                 no dataset is undecided, INCONCLUSIVE otherwise.
  Informational  a measured summary with no verdict (INFO).

A dataset is undecided when its trial says so (output `undecided`, e.g. a fit that rounding
cannot decide, jaxmem.metrics.value_decisions); it is never a pass. A claim with an `exact`
step re-decides its undecided datasets on the host, in exact arithmetic, within a time budget
(`exact_budget` seconds per claim); what the budget leaves is reported as undecided.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxmem.data.validate import positive_int
from jaxmem.metrics import fit_outcome
from jaxmem.registry import PluginError, Registry, included_path, is_installed_plugin
from jaxmem.stats import clopper_pearson, fit_exponent
from jaxmem.sweep import dataset_keys

VERDICTS = ("HOLDS", "VIOLATED", "INCONCLUSIVE", "INFO", "ERROR")  # ERROR: the claim crashed
EXACT_BUDGET = 120.0  # seconds of exact re-decision per claim (--exact-budget)
SCALES = ("quick", "full")
CONTROL_KEYS = ("datasets",)  # config entries that are not passed to the trial
DEFAULT_CHUNK = 256  # datasets per compiled call; --reproduce must use the run's


@dataclasses.dataclass(frozen=True)
class Universal:
    passed: str = "ok"
    undecided: str = "undecided"  # an optional per-dataset output; absent: all decided
    kind = "universal"


@dataclasses.dataclass(frozen=True)
class Probabilistic:
    p: float
    confidence: float = 0.95
    passed: str = "ok"
    undecided: str = "undecided"
    kind = "probabilistic"


@dataclasses.dataclass(frozen=True)
class Scaling:
    x: str  # a config entry, e.g. "n"
    y: str  # a per-dataset output, positive
    predicted: float
    band: tuple[float, float]  # exponents consistent with the claim
    confidence: float = 0.95
    undecided: str = "undecided"
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
    # Optional host-side exact re-decision of one undecided dataset: (key, **config) -> dict
    # of outputs that replace the trial's (at least `ok` and `undecided`).
    exact: Callable[..., dict] | None = None
    # Optional jaxmem.falsify.Falsifiable: the check on a given dataset, the domain the theorem
    # quantifies over and the score a counterexample search maximizes (`jaxmem falsify`).
    falsify: Any = None

    def __post_init__(self):
        for scale in SCALES:
            if scale not in self.grids:
                raise ValueError(f"claim {self.id}: no grid for scale {scale!r}")
            for cfg in self.grids[scale]:
                try:
                    positive_int("datasets", cfg.get("datasets"))
                except ValueError as err:
                    raise ValueError(f"claim {self.id}: every config's {err}; {cfg}") from None

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
    n_undecided: int = 0  # datasets still undecided (after exact re-decision)
    n_redecided: int = 0  # datasets the exact step decided
    n_resumed: int = 0  # datasets read back from the store (computed by an earlier run)
    configs: list = dataclasses.field(default_factory=list)  # the grid, one row per config

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# jaxmem's experiments register no claims (the papers' claims live in jaxmem.verify): reading
# the claims does not import them (and their training stacks).
CLAIMS: Registry[Claim] = Registry(
    "claim", lambda claim: claim.id, skip_builtin=("papers-experiments",)
)


def register(*claims: Claim) -> Claim | tuple[Claim, ...]:
    """Registers claims with `jaxmem verify` (a plugin calls this at import); returns them."""
    origin = sys._getframe(1).f_globals.get("__name__", "?")
    for claim in claims:
        if not isinstance(claim, Claim):
            raise PluginError(
                f"{origin}: register() takes Claim objects; got {type(claim).__name__}"
            )
        CLAIMS.add(claim, origin=origin)
    return claims[0] if len(claims) == 1 else claims


def claim(
    id: str,
    *,
    statement: str,
    grids: dict[str, list[dict]],
    rule: Any,
    citation: str = "",
    **options,
) -> Callable[[Callable[..., dict]], Claim]:
    """Decorator: the function is the claim's per-dataset trial `(key, **config) -> dict`;
    returns the registered Claim. `options` are Claim's optional fields (host, dataset, exact,
    compiler_options, falsify)."""

    def decorate(trial: Callable[..., dict]) -> Claim:
        made = Claim(
            id=id,
            citation=citation,
            statement=statement,
            trial=trial,
            grids=grids,
            rule=rule,
            **options,
        )
        CLAIMS.add(made, origin=sys._getframe(1).f_globals.get("__name__"))
        return made

    return decorate


def all_claims() -> list[Claim]:
    """Every registered claim (the built-in papers' first), in registration order."""
    return CLAIMS.all()


def get(claim_id: str) -> Claim:
    """The registered claim with this id; KeyError naming the known ids otherwise."""
    return CLAIMS.get(claim_id)


def exact_fit(
    parts: Callable[..., tuple], rebuild: Callable[..., bool] | None = None
) -> Callable[..., dict]:
    """A Claim's `exact` step for trials built on a float network: parts(key, **config) ->
    (net, X, y, checks_ok, ...) rebuilds the dataset's network (as the trial did) and the
    returned step re-decides the fit with the network's exact function
    (`jaxmem.metrics.exact_fit_report`), which decides every point.

    A float network can fail to fit at the labels' resolution where the construction itself,
    in exact arithmetic, interpolates: the theorem is about the latter. With
    `rebuild(key, **config) -> bool` (the construction rebuilt in rational arithmetic
    interpolates exactly, sizes included), a float network that FAILS is judged by the exact
    rebuild; `float_network_fits` records what the float network did.

    The float rebuild runs as its own program, not the vmapped chunk, so its weights can
    differ from the trial's in the last bits; the decision is about this dataset's network
    from the same construction and key."""
    compiled: dict = {}

    def rebuilt(key, config):
        # One compiled rebuild per config (the eager one retraces every dataset).
        items = tuple(sorted(config.items()))
        try:
            fn = compiled.setdefault(items, jax.jit(functools.partial(parts, **config)))
        except TypeError:  # an unhashable config value: rebuild eagerly
            return parts(key, **config)
        return fn(key)

    def exact(key, **config):
        from jaxmem import metrics

        net, X, y, checks_ok = rebuilt(key, config)[:4]
        report = metrics.exact_fit_report(net, X, y)
        checks_ok = bool(np.asarray(checks_ok))
        out = dict(
            metrics.fit_outcome(report, checks_ok),
            interpolates=report["interpolates"],
            float_network_fits=report["interpolates"],
            exact_rebuild_fits=False,
        )
        if not out["ok"] and rebuild is not None and checks_ok:
            out["ok"] = out["exact_rebuild_fits"] = bool(rebuild(key, **config))
        return out

    return exact


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


def _claim_trial(key, dynamic, *, trial, config, search_only=()):
    out = trial(key, **config)
    # Outputs only `jaxmem falsify` reads (the score, the hypothesis) are dropped here, so XLA
    # removes their computation from the claim's program (~8% of the quick grid's compile).
    return {name: value for name, value in out.items() if name not in search_only}


def _search_only(claim: Claim) -> tuple[str, ...]:
    """The trial's outputs that only the counterexample search reads."""
    if claim.falsify is None:
        return ()
    return (claim.falsify.score, "hypothesis")


def _settle(claim: Claim, config: dict, outs: dict) -> dict:
    """A block's outputs as stored: the claim's host step, then `record_columns`."""
    if claim.host is not None:
        outs = claim.host(outs, config)
    return record_columns(outs)


def _decode(columns: dict) -> dict:
    """Store columns back as the trial's outputs: JSON text of an array per dataset (see
    `record_columns`) as one array with the dataset axis first."""
    out = {}
    for name, values in columns.items():
        if values.dtype == object and all(isinstance(v, str) and v[:1] == "[" for v in values):
            values = np.asarray([json.loads(v) for v in values])
        out[name] = values
    return out


def _exact(claim: Claim, config: dict, key) -> dict:
    assert claim.exact is not None  # a job re-decides only for claims with an exact step
    return claim.exact(key, **config)


def claim_jobs(
    claim: Claim,
    configs: list[dict],
    seed: int,
    chunk_size: int = DEFAULT_CHUNK,
    fingerprint: str | None = None,
) -> list:
    """The claim's configs as jobs of the engine (jaxmem.sweep.runner.run_jobs). Dataset i's
    key is fold_in(fold_in(key(seed), id(stream config)), i), so datasets depend on neither
    the scale, the chunk size nor the count. Records are stored under the stream config, the
    seed, the chunk size (a program compiled for another batch size may round differently:
    --reproduce uses the run's) and, when given, the code's fingerprint (a verify run resumes
    only its own code's records)."""
    from jaxmem.sweep.keys import canonical_json
    from jaxmem.sweep.runner import Job, root_key_datas

    chunk_size = positive_int("chunk_size", chunk_size)
    streams = [stream_config(claim, c) for c in configs]
    roots: np.ndarray | list = root_key_datas(seed, streams) if configs else []
    jobs = []
    for config, stream, root in zip(configs, streams, roots):
        chunk = min(chunk_size, config["datasets"])
        trial_cfg = trial_config(claim, config)
        stored = dict(stream, seed=seed, chunk_size=chunk)
        if fingerprint is not None:
            stored["code"] = fingerprint
        jobs.append(
            Job(
                config=stored,
                datasets=config["datasets"],
                root=np.asarray(root),
                trial=functools.partial(
                    _claim_trial,
                    trial=claim.trial,
                    config=trial_cfg,
                    search_only=_search_only(claim),
                ),
                program=("claim", claim.trial, canonical_json(trial_cfg)),
                chunk_size=chunk,
                compiler_options=claim.compiler_options,
                finish=functools.partial(_settle, claim, config),
                redecide=None
                if claim.exact is None
                else functools.partial(_exact, claim, trial_cfg),
                undecided=getattr(claim.rule, "undecided", "undecided"),
            )
        )
    return jobs


def run_config(
    claim: Claim,
    config: dict,
    seed: int,
    indices: range | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    exact_budget: float = EXACT_BUDGET,
) -> dict:
    """Per-dataset outputs (NumPy, leading axis = dataset) of one config, computed by the
    engine without a store, over `indices` (a range of whole blocks; default all), undecided
    datasets re-decided by the claim's `exact` step for up to `exact_budget` seconds."""
    from jaxmem.sweep.runner import make_mesh, run_jobs

    (job,) = claim_jobs(claim, [config], seed, chunk_size)
    if indices is not None:
        if not isinstance(indices, range) or indices.step != 1:
            raise ValueError(f"indices must be a range of consecutive datasets; got {indices}")
        job.span = (indices.start, indices.stop)
    outs = run_jobs([job], mesh=make_mesh(1), exact_budget=exact_budget, collect=True)
    assert outs is not None  # one process
    return _decode(outs[0])


def _undecided(outs: dict, name: str) -> np.ndarray:
    n = len(next(iter(outs.values())))
    return np.asarray(outs[name], bool) if name in outs else np.zeros(n, bool)


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _states(rule, outs) -> tuple[np.ndarray, np.ndarray]:
    """(passed, undecided) per dataset: a pass must be decided, an undecided dataset never
    passes whatever its `ok` says."""
    undecided = _undecided(outs, rule.undecided)
    passed = np.asarray(outs[rule.passed], bool) & ~undecided
    return passed, undecided


def _include_for(claim: Claim) -> str | None:
    """The path `--include` needs for the CLI to know this registered claim: None when an
    installed plugin registers it; the included file or folder, or the registering module's
    file (a script's, say) otherwise."""
    module_name = CLAIMS.origin(claim.id)
    if is_installed_plugin(module_name):
        return None
    included = included_path(module_name)
    if included is not None:
        return included
    return getattr(sys.modules.get(module_name), "__file__", None)


def _command(claim: Claim, cex, chunk_size, scale) -> str:
    """How to rebuild the dataset: the CLI command for a registered claim; the Python call
    for one that is not registered (the CLI cannot find it)."""
    # The same chunk shape recomputes the same bits (see `reproduce`); the scale and the
    # plugin file locate the same dataset.
    index, seed = cex["global_index"], cex["seed"]
    if CLAIMS.get_or_none(claim.id) is not claim:
        chunk = "" if chunk_size == DEFAULT_CHUNK else f", chunk_size={chunk_size}"
        return (
            f"jaxmem.claims.reproduce(claim, {index}, scale={scale!r}, seed={seed}{chunk}) "
            f"(claim {claim.id} is not registered, so `jaxmem verify` cannot rebuild it)"
        )
    chunk = "" if chunk_size == DEFAULT_CHUNK else f" --chunk-size {chunk_size}"
    at_scale = "" if scale == "quick" else f" --scale {scale}"
    include = _include_for(claim)
    plugin = f" --include {shlex.quote(include)}" if include else ""
    return (
        f"jaxmem verify{plugin} --reproduce {claim.id} --index {index} "
        f"--seed {seed}{at_scale}{chunk}"
    )


def _first(claim, runs, seed, chunk_size, scale, select) -> tuple[dict | None, int]:
    """The first dataset where select(config, outs) is true, as a counterexample dict with its
    `--reproduce` command, and how many there are in all."""
    total, count, cex = 0, 0, None
    for config, outs in runs:
        hit = np.asarray(select(config, outs), bool)
        if cex is None and hit.any():
            i = int(np.flatnonzero(hit)[0])
            cex = dict(
                config=config,
                index=i,
                global_index=total + i,
                seed=seed,
                metrics={k: _scalar(v[i]) for k, v in outs.items()},
            )
            cex["reproduce"] = _command(claim, cex, chunk_size, scale)
        count += int(hit.sum())
        total += len(hit)
    return cex, count


def _describe(claim, cex) -> str:
    cfg = ", ".join(f"{k}={v}" for k, v in trial_config(claim, cex["config"]).items())
    return f"dataset {cex['index']} of ({cfg}); reproduce with `{cex['reproduce']}`"


def _universal(claim, rule, runs, seed, res: Result, chunk_size: int):
    states = [_states(rule, outs) for _, outs in runs]
    passed = np.concatenate([p for p, _ in states])
    undecided = np.concatenate([u for _, u in states])
    total, n_passed = len(passed), int(passed.sum())
    res.n_passed, res.pass_rate = n_passed, n_passed / total
    res.n_undecided = int(undecided.sum())
    res.ci_low, res.ci_high = clopper_pearson(n_passed, total, 0.95)
    failed, n_failed = _first(
        claim,
        runs,
        seed,
        chunk_size,
        res.scale,
        lambda c, o: ~_states(rule, o)[0] & ~_states(rule, o)[1],
    )
    if failed is not None:
        res.verdict = "VIOLATED"
        res.counterexample = failed
        res.detail = f"{n_failed} of {total} datasets fail; first failure: " + _describe(
            claim, failed
        )
    elif res.n_undecided:
        res.verdict = "INCONCLUSIVE"
        first, _ = _first(
            claim, runs, seed, chunk_size, res.scale, lambda c, o: _states(rule, o)[1]
        )
        res.counterexample = first
        res.detail = (
            f"{res.n_undecided} of {total} datasets undecided (precision cannot decide "
            f"them), none fails; first undecided: " + _describe(claim, first)
        )
    else:
        res.verdict = "HOLDS"
        res.detail = f"all {total} datasets pass"


def _probabilistic(claim, rule, runs, seed, res: Result, chunk_size: int = DEFAULT_CHUNK):
    states = [_states(rule, outs) for _, outs in runs]
    passed = np.concatenate([p for p, _ in states])
    undecided = np.concatenate([u for _, u in states])
    k, u, n = int(passed.sum()), int(undecided.sum()), len(passed)
    # Sound with undecided datasets: they count as failures for the lower bound and as
    # passes for the upper bound.
    lo, _ = clopper_pearson(k, n, rule.confidence, "lower")
    _, hi = clopper_pearson(k + u, n, rule.confidence, "upper")
    res.n_passed, res.pass_rate, res.ci_low, res.ci_high = k, k / n, lo, hi
    res.n_undecided = u
    if lo >= rule.p:
        res.verdict = "HOLDS"
    elif hi < rule.p:
        res.verdict = "VIOLATED"
    else:
        res.verdict = "INCONCLUSIVE"
    res.detail = (
        f"{k}/{n} pass"
        + (f", {u} undecided" if u else "")
        + f"; one-sided {rule.confidence:.0%} bounds [{lo:.4f}, {hi:.4f}] "
        f"vs claimed p >= {rule.p}"
    )
    failed, _ = _first(
        claim,
        runs,
        seed,
        chunk_size,
        res.scale,
        lambda c, o: ~_states(rule, o)[0] & ~_states(rule, o)[1],
    )
    if failed is not None:
        res.counterexample = failed
        res.detail += "; first failure: " + _describe(claim, failed)


def _scaling(claim, rule, runs, seed, res: Result, chunk_size: int = DEFAULT_CHUNK):
    xs, ys, opens = [], [], []
    for config, outs in runs:
        y = np.asarray(outs[rule.y], float)
        xs.append(np.full(len(y), float(config[rule.x])))
        ys.append(y)
        opens.append(_undecided(outs, rule.undecided))
    x, y, undecided = np.concatenate(xs), np.concatenate(ys), np.concatenate(opens)
    good = np.isfinite(y) & (y > 0) & ~undecided
    if not good.any():
        raise ValueError(f"claim {claim.id}: no positive finite decided {rule.y} to fit")
    alpha, lo, hi = fit_exponent(x[good], y[good], rule.confidence)
    res.exponent, res.ci_low, res.ci_high = alpha, lo, hi
    res.n_passed, res.pass_rate = int(good.sum()), float(good.mean())
    res.n_undecided = int(undecided.sum())
    band_lo, band_hi = rule.band
    # HOLDS needs the whole interval inside the band, VIOLATED the whole interval outside;
    # undecided datasets could move the fit either way, so they leave it INCONCLUSIVE.
    if res.n_undecided:
        res.verdict = "INCONCLUSIVE"
    elif band_lo <= lo and hi <= band_hi:
        res.verdict = "HOLDS"
    elif hi < band_lo or lo > band_hi:
        res.verdict = "VIOLATED"
    else:
        res.verdict = "INCONCLUSIVE"
    dropped = int((~good & ~undecided).sum())
    res.detail = (
        f"{rule.y} ~ {rule.x}^{alpha:.3f}, {rule.confidence:.0%} CI [{lo:.3f}, {hi:.3f}]"
        f"; predicted {rule.predicted} (band [{band_lo}, {band_hi}])"
        + (f"; {dropped} non-positive values dropped" if dropped else "")
        + (f"; {res.n_undecided} datasets undecided" if res.n_undecided else "")
    )
    # The first dataset left out of the fit (undecided, or no positive finite value: e.g. a
    # network that did not memorize), with the command that rebuilds it.
    first, _ = _first(
        claim,
        runs,
        seed,
        chunk_size,
        res.scale,
        lambda c, o: (
            ~(np.isfinite(np.asarray(o[rule.y], float)) & (np.asarray(o[rule.y], float) > 0))
            | _undecided(o, rule.undecided)
        ),
    )
    if first is not None:
        res.counterexample = first
        res.detail += "; first left out: " + _describe(claim, first)


def config_table(claim: Claim, runs) -> list[dict]:
    """One row per config of a run: its trial parameters, datasets, and (for pass/fail rules)
    passes, undecided and the two-sided 95% Clopper-Pearson interval of its own pass rate;
    for scaling rules the median of the fitted quantity."""
    rows = []
    for config, outs in runs:
        n = len(next(iter(outs.values())))
        row = dict(config=trial_config(claim, config), datasets=n)
        rule = claim.rule
        if hasattr(rule, "passed"):
            passed, undecided = _states(rule, outs)
            k = int(passed.sum())
            lo, hi = clopper_pearson(k, n, 0.95)
            row.update(
                passed=k, undecided=int(undecided.sum()), pass_rate=k / n, ci_low=lo, ci_high=hi
            )
        elif isinstance(rule, Scaling):
            y = np.asarray(outs[rule.y], float)
            row.update(
                undecided=int(_undecided(outs, rule.undecided).sum()),
                median=float(np.nanmedian(y)) if np.isfinite(y).any() else None,
            )
        rows.append(row)
    return rows


def record_columns(outs: dict) -> dict:
    """A claim's per-dataset outputs as store columns: a scalar per dataset (bool, int,
    float) as it is, an array per dataset as its JSON text, one string per dataset (JSON
    keeps floats exactly, NaN included; `run_claim` decodes them). Other outputs (a pytree
    per dataset that the claim's host step left) are not stored, and so not seen by the
    rule."""
    columns = {}
    for name, values in outs.items():
        if not name.isidentifier():
            continue
        try:
            values = np.asarray(values)
        except ValueError:  # ragged: not one array
            continue
        if values.dtype.kind not in "biuf":
            continue
        if values.ndim == 1:
            columns[name] = values
        elif values.ndim > 1:
            columns[name] = np.array([json.dumps(v.tolist()) for v in values], dtype=object)
    return columns


def run_claim(
    claim: Claim,
    scale: str = "quick",
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    exact_budget: float = EXACT_BUDGET,
    *,
    store=None,
    run_id: int | None = None,
    fingerprint: str | None = None,
    devices: int | None = None,
    distributed: bool = False,
    progress: bool = False,
) -> Result:
    """Runs every config of the claim's grid at `scale` through the engine (jaxmem.sweep.
    runner.run_jobs: blocks on every device of this process, or of every process when
    `distributed`) and applies its verdict rule; undecided datasets get `exact_budget` seconds
    of exact re-decision (claims with `exact`).

    With a `store` (a jaxmem.store.Store), the per-dataset records go to run `run_id` (a new
    run of kind "verify" when None) as they are computed, under the code's `fingerprint`
    (computed from the claim's module when None), and datasets the store already holds for
    the same claim, seed, chunk size and code are read back instead of recomputed: an
    interrupted run resumes, and its verdict is the one a fresh run gives. On processes other
    than 0 of a distributed run, which compute but do not decide, returns None."""
    from jaxmem.sweep.runner import SweepStats, make_mesh, run_jobs

    t0 = time.perf_counter()
    stats = SweepStats()
    mesh = make_mesh(devices, distributed)
    own_run = store is not None and run_id is None
    if own_run:
        run_id, code = begin_verify_run(store, [claim], scale, seed, chunk_size, mesh)
        fingerprint = fingerprint or code
    elif store is not None and fingerprint is None:
        fingerprint = claim_provenance([claim])["code_fingerprint"]
    configs = claim.configs(scale)
    status = "failed"
    try:
        outs = run_jobs(
            claim_jobs(claim, configs, seed, chunk_size, fingerprint),
            mesh=mesh,
            store=store,
            run_id=run_id,
            stats=stats,
            distributed=distributed,
            progress=progress,
            exact_budget=exact_budget,
            collect=True,
        )
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if own_run:
            store.end_run(run_id, status)
    if outs is None:  # not process 0
        return None  # type: ignore[return-value]
    runs = [(config, _decode(columns)) for config, columns in zip(configs, outs)]
    total = sum(len(next(iter(o.values()))) for _, o in runs)
    res = Result(
        id=claim.id,
        verdict="INFO",
        n_datasets=total,
        n_passed=None,
        pass_rate=None,
        ci_low=None,
        ci_high=None,
        seconds=0.0,
        scale=scale,
        seed=seed,
    )
    rule = claim.rule
    if isinstance(rule, Universal):
        _universal(claim, rule, runs, seed, res, chunk_size)
    elif isinstance(rule, Probabilistic):
        _probabilistic(claim, rule, runs, seed, res, chunk_size)
    elif isinstance(rule, Scaling):
        _scaling(claim, rule, runs, seed, res, chunk_size)
    elif isinstance(rule, Informational):
        res.detail = rule.summarize(runs)
    else:
        raise TypeError(f"claim {claim.id}: unknown rule {rule!r}")
    res.n_redecided = sum(int(np.sum(o.get("redecided", 0))) for _, o in runs)
    res.configs = config_table(claim, runs)
    res.n_resumed = stats.skipped
    res.seconds = time.perf_counter() - t0
    if own_run:
        store.write_verdicts(run_id, [dict(res.to_json(), claim=res.id)])
    return res


def begin_verify_run(store, claims: list[Claim], scale, seed, chunk_size, mesh) -> tuple:
    """A store run of kind "verify" for these claims, recording their code's provenance and
    the environment of `mesh`; (run id, the code fingerprint their records are keyed with)."""
    from jaxmem.sweep.runner import environment

    code = claim_provenance(claims)
    run_id = store.begin_run(
        sweep="verify",
        kind="verify",
        grid=dict(claims=[c.id for c in claims], scale=scale, seed=seed, chunk_size=chunk_size),
        environment=environment(mesh),
        provenance=code,
    )
    return run_id, code["code_fingerprint"]


def claim_provenance(claims: list[Claim]) -> dict:
    """The provenance (jaxmem.provenance) of the code behind these claims: jaxmem and each
    claim's module. Its fingerprint keys a verify run's records."""
    from jaxmem import provenance

    modules = {"jaxmem.claims"}
    for c in claims:
        trial = c.trial
        while isinstance(trial, functools.partial):  # a partial's module is functools
            trial = trial.func
        modules.add(getattr(trial, "__module__", None) or "jaxmem.claims")
        if c.id in CLAIMS:  # the module that registered it (the grids and rule live there)
            modules.add(CLAIMS.origin(c.id))
    return provenance.provenance(sorted(modules))


def expected_verdict(claim: Claim) -> str:
    """The verdict a claim that checks out gives: INFO for an informational rule, else HOLDS."""
    return "INFO" if isinstance(claim.rule, Informational) else "HOLDS"


def ci_failures(rows: list[dict], registry: list[Claim]) -> list[str]:
    """Ids of registered claims missing from `rows` (id, verdict) or whose verdict is not
    `expected_verdict`: what CI's claims step fails on (INCONCLUSIVE, or INFO from a claim
    with a verdict rule, included)."""
    got = {r["id"]: r["verdict"] for r in rows}
    return [c.id for c in registry if got.get(c.id) != expected_verdict(c)]


def locate(claim: Claim, scale: str, global_index: int) -> tuple[dict, int]:
    """(config, index within it) of the dataset at a global index of the grid."""
    if global_index < 0:
        raise ValueError(f"index must be >= 0; got {global_index}")
    offset = 0
    for cfg in claim.configs(scale):
        if global_index < offset + cfg["datasets"]:
            return cfg, global_index - offset
        offset += cfg["datasets"]
    raise ValueError(
        f"claim {claim.id} has {offset} datasets at scale {scale!r}; "
        f"index {global_index} is out of range"
    )


def reproduce(
    claim: Claim,
    global_index: int,
    scale: str = "quick",
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
) -> dict:
    """Rebuilds one dataset of a claim, bit for bit as the run computed it.

    The dataset's whole chunk is recomputed with the run's chunk shape: a program compiled
    for another batch size may round differently. Returns config, index, seed, passed (for
    universal/probabilistic rules), the dataset's metrics, and (when the claim defines
    `dataset`) X and y.
    """
    config, index = locate(claim, scale, global_index)
    chunk = min(chunk_size, config["datasets"])
    start = index - index % chunk
    outs = run_config(
        claim,
        config,
        seed,
        chunk_size=chunk,
        indices=range(start, min(start + chunk, config["datasets"])),
    )
    metrics = {k: _scalar(v[index - start]) for k, v in outs.items()}
    out = dict(
        claim=claim.id,
        config=config,
        index=index,
        global_index=global_index,
        seed=seed,
        scale=scale,
        metrics=metrics,
    )
    passed = getattr(claim.rule, "passed", None)
    if passed is not None:
        undecided = bool(metrics.get(claim.rule.undecided, False))
        out["undecided"] = undecided
        out["passed"] = bool(metrics[passed]) and not undecided
    if claim.dataset is not None:
        key = dataset_keys(seed, stream_config(claim, config), [index])[0]
        X, y = claim.dataset(key, **trial_config(claim, config))
        out["X"], out["y"] = np.asarray(X), np.asarray(y)
    return out


__all__ = [
    "CLAIMS",
    "Claim",
    "EXACT_BUDGET",
    "claim_jobs",
    "Informational",
    "Probabilistic",
    "Result",
    "SCALES",
    "Scaling",
    "Universal",
    "VERDICTS",
    "all_claims",
    "ci_failures",
    "claim",
    "begin_verify_run",
    "claim_provenance",
    "clopper_pearson",
    "config_table",
    "exact_fit",
    "expected_verdict",
    "fit_exponent",
    "fit_outcome",
    "get",
    "locate",
    "record_columns",
    "register",
    "reproduce",
    "run_claim",
    "run_config",
]
