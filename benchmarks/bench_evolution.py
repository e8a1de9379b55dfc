"""jaxmem's own evolution searcher against evosax's strategies, on the falsifier calibration.

    python benchmarks/bench_evolution.py [--budget 2000] [--seeds 10] [--strategies ...]

For each universal calibration variant (benchmarks/falsify_calibration.py, at the config the
calibration uses) and seed:

  jaxmem (falsify)   falsify.falsify(claim, config, methods=("evolution",), shrink=False):
                     the project's separable CMA-ES exactly as the CLI runs it;
  jaxmem (driver)    the same `_evolution` generator run through this file's driver (a check
                     that the driver reproduces `falsify`: the two lines must agree);
  evosax:<name>      an evosax strategy through the same driver: the same rounds of starts from
                     the claim's sampler (EVOLUTION_STARTS per round, the same keys), the same
                     population and generations per round, the same domain projection before
                     each evaluation (the unprojected candidate is told to the strategy, as
                     `_evolution` does), the same compiled vmapped score/status, the same
                     budget counted the same way (a whole generation at a time), and the same
                     confirmation: a candidate counts only if its status is FAILS and
                     `falsify.confirm` then returns "confirmed" (float64 alone, fresh
                     construction keys, the exact step where the claim has one).

Each evosax strategy searches in coordinates normalized per start, x = x0 + spread * u with
spread = std(x0's flattened X and real labels), from u = 0 with step 0.3: the same start and
initial step as `_evolution` (mean x0, sigma 0.3 * spread). evosax minimizes, so it is told
-score (a NaN or infinite score is clipped to +-1e300).

One line per (variant, strategy): evaluations to the first confirmed counterexample per seed
("-": none within the budget), their median, candidates that FAILED but were not confirmed
("set aside"), the best score reached (driver rows; the score stops at the first confirmed
counterexample), and seconds per search (compilation included in the first seed's).
Without evosax installed, one line says so and only jaxmem's own strategy is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Open_ES: with an annealed step (below); Open_ES_default: evosax's own defaults
STRATEGIES = ("CMA_ES", "Sep_CMA_ES", "SimpleES", "Open_ES", "Open_ES_default")
SIGMA0 = 0.3  # `_evolution`'s initial step, as a fraction of the start's spread


def _evosax_factory(name: str, dim: int, population: int, generations: int):
    """(strategy, params) for one evosax strategy at this dimension and population."""
    import jax.numpy as jnp
    import optax
    from evosax import algorithms

    solution = jnp.zeros(dim)
    if name == "Open_ES_default":  # constant std 1 (here 1 x the spread), sgd at 1e-3
        strategy = algorithms.Open_ES(population, solution)
        return strategy, strategy.default_params
    if name == "Open_ES":
        # OpenAI-ES's defaults (constant std 1, sgd 1e-3) cannot resolve the 1e-6-scale
        # features these claims break on; given the same decaying schedule as jaxmem's
        # gradient searcher (step and std from 5% / 30% of the spread down to 1e-9 of them)
        decay = 1e-9 ** (1 / max(generations, 1))
        strategy = algorithms.Open_ES(
            population,
            solution,
            optimizer=optax.adam(optax.exponential_decay(0.05, 1, decay)),
            std_schedule=optax.exponential_decay(SIGMA0, 1, decay),
        )
        return strategy, strategy.default_params
    strategy = getattr(algorithms, name)(population, solution)
    return strategy, strategy.default_params.replace(std_init=SIGMA0)


_COMPILED: dict = {}


def _compiled(name: str, dim: int, population: int, generations: int):
    """Vmapped (over starts) init, ask and tell of one strategy, built once per shape."""
    import jax

    key = (name, dim, population, generations)
    if key not in _COMPILED:
        strategy, params = _evosax_factory(name, dim, population, generations)
        init = jax.jit(jax.vmap(lambda k, m: strategy.init(k, m, params)))
        ask = jax.jit(jax.vmap(lambda k, s: strategy.ask(k, s, params)))
        tell = jax.jit(jax.vmap(lambda k, x, f, s: strategy.tell(k, x, f, s, params)[0]))
        _COMPILED[key] = (init, ask, tell)
    return _COMPILED[key]


def evosax_evolution(name: str):
    """An `_evolution`-shaped generator (key, evaluate, keys, X0, y0, domain, generations,
    population) driving evosax strategy `name` over the flattened X (and real labels y)."""

    def search(key, evaluate, keys, X0, y0, domain, generations, population=8):
        import jax
        import jax.numpy as jnp
        import numpy as np

        B, n, d = X0.shape
        search_labels = domain.labels == "real"
        flat = (
            np.concatenate([X0.reshape(B, -1), y0], axis=1) if search_labels else X0.reshape(B, -1)
        )
        spread = np.maximum(np.std(flat, axis=1), 1e-300)[:, None, None]
        init, ask, tell = _compiled(name, flat.shape[1], population, generations)
        state = init(jax.random.split(jax.random.fold_in(key, 2**31), B), jnp.zeros(flat.shape))
        repeated = jnp.repeat(keys, population, axis=0)
        for g in range(generations):
            gkeys = jax.random.split(jax.random.fold_in(key, g), B)
            u, state = ask(gkeys, state)  # (B, population, dim)
            x = flat[:, None, :] + spread * np.asarray(u, np.float64)
            x = x.reshape(B * population, -1)
            X = x[:, : n * d].reshape(-1, n, d)
            y = x[:, n * d :] if search_labels else np.repeat(y0, population, axis=0)
            X, y = (np.asarray(a) for a in domain.project(jnp.asarray(X), jnp.asarray(y)))
            status, score = evaluate(repeated, X, y)
            yield repeated, X, y, status
            score = np.nan_to_num(np.asarray(score, np.float64), nan=-np.inf)
            fitness = -np.clip(score, -1e300, 1e300).reshape(B, population)
            state = tell(gkeys, u, jnp.asarray(fitness), state)

    search.__name__ = f"evosax_{name}"
    return search


def drive(claim, config, budget: int, seed: int, searcher) -> dict:
    """`falsify.falsify(claim, config, methods=("evolution",), shrink=False)` with its
    evolution searcher replaced by `searcher` (same rounds, keys, budget and confirmation)."""
    import jax
    import numpy as np

    from jaxmem import falsify as F

    falsifiable = claim.falsify
    sampler = falsifiable.sampler or claim.dataset
    config = F._check_config(falsifiable, dict(config), sampler)
    items = tuple(sorted(config.items()))
    names = F._names(claim)
    evaluate = F._evaluator(falsifiable, items, names)
    base = jax.random.key(seed)
    starts = F.EVOLUTION_STARTS
    # as `falsify` computes it and runs it: EVOLUTION_POPULATION children per start
    generations = max(1, int(budget // (starts * F.EVOLUTION_POPULATION)))
    evaluations, round_index, artefacts = 0, 0, 0
    first_fails, best = None, -np.inf
    scores = {}

    def scored(keys, X, y):  # the evaluation, remembering the best score reached
        status, score = evaluate(keys, X, y)
        scores["best"] = max(scores.get("best", -np.inf), float(np.max(np.asarray(score))))
        return status, score

    t0 = time.perf_counter()
    while evaluations < budget:
        round_index += 1
        keys = jax.random.split(jax.random.fold_in(base, round_index), starts)
        (X0, y0), build_keys = F._sampler(sampler, items)(keys)
        X0, y0 = np.asarray(X0, np.float64), np.asarray(y0, np.float64)
        for keys_, X, y, status in searcher(
            jax.random.fold_in(base, 1_000_000 + round_index),
            scored,
            build_keys,
            X0,
            y0,
            falsifiable.domain,
            generations=generations,
            population=F.EVOLUTION_POPULATION,
        ):
            evaluations += len(X)
            status = np.asarray(status)
            for i in np.flatnonzero(status == F.FAILS_):
                first_fails = first_fails or evaluations
                verdict = F.confirm(
                    claim, config, np.asarray(jax.random.key_data(keys_[i])), X[i], y[i]
                )
                if verdict["status"] == F.CONFIRMED:
                    return dict(
                        found=evaluations,
                        first_fails=first_fails,
                        artefacts=artefacts,
                        best=scores["best"],
                        seconds=time.perf_counter() - t0,
                    )
                artefacts += 1
            if evaluations >= budget:
                break
    return dict(
        found=None,
        first_fails=first_fails,
        artefacts=artefacts,
        best=scores.get("best", best),
        seconds=time.perf_counter() - t0,
    )


def via_falsify(claim, config, budget: int, seed: int) -> dict:
    from jaxmem import falsify as F

    search = F.falsify(
        claim, config, budget=budget, seed=seed, methods=("evolution",), shrink=False
    )
    found = search.first_failure["evaluations"] if search.counterexample is not None else None
    return dict(
        found=found,
        first_fails=None,
        artefacts=len(search.artefacts),
        best=None,
        seconds=search.seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--strategies", nargs="*", default=list(STRATEGIES))
    parser.add_argument("--claims", nargs="*", default=None, help="ids (default: all variants)")
    args = parser.parse_args()
    from jaxmem.cli import _configure_jax

    _configure_jax("quick")
    from importlib.metadata import version

    import falsify_calibration as calibration
    import jax

    from jaxmem import falsify as F

    try:
        import evosax  # noqa: F401

        evosax_version = version("evosax")
    except Exception as err:
        print(
            f"evosax not importable ({type(err).__name__}: {err}); measuring only jaxmem's "
            "own evolution searcher",
            flush=True,
        )
        args.strategies = []
        evosax_version = None
    print(
        f"jax {jax.__version__}, evosax {evosax_version}, budget {args.budget}, "
        f"seeds {args.seeds}, starts {F.EVOLUTION_STARTS} per round",
        flush=True,
    )

    def driven(searcher):
        return lambda c, cfg, b, s: drive(c, cfg, b, s, searcher)

    runners = [("jaxmem (falsify)", via_falsify), ("jaxmem (driver)", driven(F._evolution))]
    runners += [(f"evosax:{name}", driven(evosax_evolution(name))) for name in args.strategies]
    start = time.perf_counter()
    for claim in calibration.VARIANTS:
        if args.claims and claim.id not in args.claims:
            continue
        config = {k: v for k, v in claim.configs("quick")[0].items() if k != "datasets"}
        cfg = ", ".join(f"{k}={v}" for k, v in config.items())
        for label, runner in runners:
            rows = [runner(claim, config, args.budget, seed) for seed in range(args.seeds)]
            found = [r["found"] for r in rows]
            hits = [f for f in found if f is not None]
            cells = " ".join("-" if f is None else str(f) for f in found)
            median = (
                statistics.median([f if f is not None else float("inf") for f in found])
                if hits
                else None
            )
            if median is None:
                med = f"none in {args.budget}"
            else:  # a seed that found none counts as beyond the budget
                med = f"median {median:g}" if median < float("inf") else f"median > {args.budget}"
            secs = " ".join(f"{r['seconds']:.1f}" for r in rows)
            aside = sum(r["artefacts"] for r in rows)
            best = (
                ""
                if rows[0]["best"] is None
                else " | best score " + " ".join(f"{r['best']:.1f}" for r in rows)
            )
            print(
                f"{claim.id} [{cfg}] {label:22s}: {len(hits)}/{len(rows)} found, evaluations "
                f"{cells} ({med}) | {aside} set aside{best} | s/search {secs}",
                flush=True,
            )
    print(f"total {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
