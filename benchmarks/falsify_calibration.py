"""Calibration of `jaxmem falsify`: known-false variants of true claims, searched by the
falsifier and by random sampling (the claim's own sampler) with the same budget.

    python benchmarks/falsify_calibration.py [--budget 2000] [--seed 0]

Prints one line per variant: evaluations to the first confirmed counterexample for the
falsifier (structured, gradient, evolution in turn) and for random sampling ("-" when the
budget ran out), the shrunk case's size, and seconds. Then one line per true claim searched
with the same budget: it must report none found.

The variants (registered by this file, also importable with `--include`):

  calibration.zhang_knots_on_points   Zhang et al.'s Theorem 1 with every knot placed on the
      previous point, b_i = t_(i-1) + delta (delta = 1e-6) instead of a fraction of the gap
      past it: the knots stop interleaving, and the network misses, wherever two projections
      are closer than delta. Gaussian draws almost never have such a pair.
  calibration.zhang_float_network     "the float64 network of Theorem 1 fits its labels" (no
      exact rebuild): a float64 rounding trap. Near-coincident points make the float
      recurrence miss; the theorem's exact construction still fits, so on the true claim the
      same case is set aside as a float artefact.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.claims import Claim, Universal, register
from jaxmem.constructions import zhang2017
from jaxmem.falsify import Domain, Falsifiable, trial_from_check

GRID = [dict(n=8, d=2, datasets=64)]
KNOT_OFFSET = 1e-6


def dataset(key, n, d, **_):
    from jaxmem.data import gaussian

    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def _direction(build_key, d, dtype):
    return jax.random.normal(build_key, (d,), dtype)


_direction_jit = jax.jit(_direction, static_argnums=(1, 2))


def _knots_on_points(build_key, X, y):
    a = _direction(build_key, X.shape[1], X.dtype)
    t = jnp.matmul(X, a, precision="highest")
    order = jnp.argsort(t)
    ts, ys = t[order], y[order]
    # the variant: each knot a fixed 1e-6 past the previous point, b_i = t_(i-1) + 1e-6, not
    # a fraction of the gap; past the next point too when a gap is below 1e-6
    b = jnp.concatenate([ts[:1] - 1, ts[:-1] + KNOT_OFFSET])
    w = zhang2017._weights(ts, ys, b)
    net = network.Network(
        (
            network.Layer(a[:, None], -b, activation="relu", shared=True),
            network.Layer(w[:, None], jnp.zeros((1,), X.dtype), activation="identity"),
        )
    )
    return net, a, ts, b, w


def knots_on_points_check(build_key, X, y, n, d):
    net, _, ts, _, w = _knots_on_points(build_key, X, y)
    fit = metrics.fit_report(net, X, y)
    out = metrics.fit_outcome(fit, jnp.all(jnp.isfinite(w)))
    # two points closer than the offset break it along any direction: the score is -log10
    # of the smallest distance between points
    diff = X[:, None, :] - X[None, :, :]
    dist2 = jnp.sum(diff * diff, axis=-1) + jnp.where(jnp.eye(X.shape[0], dtype=bool), jnp.inf, 0)
    closest = jnp.sqrt(jnp.maximum(jnp.min(dist2), jnp.finfo(X.dtype).tiny))
    return dict(out, score=-jnp.log10(closest))


def knots_on_points_exact(build_key, X, y, n, d):
    """The variant in rational arithmetic with the float direction: fits iff the exact
    spline through the knots hits every label."""
    from fractions import Fraction

    direction = _direction_jit(build_key, np.shape(X)[1], jnp.float64)
    a = [Fraction(float(v)) for v in np.asarray(direction)]
    t = [sum(ai * Fraction(float(v)) for ai, v in zip(a, row)) for row in np.asarray(X)]
    order = sorted(range(len(t)), key=t.__getitem__)
    ts = [t[i] for i in order]
    ys = [Fraction(float(np.asarray(y)[i])) for i in order]
    if any(t1 == t0 for t0, t1 in zip(ts, ts[1:])):
        return dict(ok=False, undecided=True)
    b = [ts[0] - 1] + [ti + Fraction(KNOT_OFFSET) for ti in ts[:-1]]
    w, slope = [], Fraction(0)
    for i in range(len(ts)):
        rise = ys[0] if i == 0 else ys[i] - ys[i - 1] - slope * (ts[i] - ts[i - 1])
        w.append(rise / (ts[i] - b[i]))
        slope += w[-1]
    fits = all(
        sum(wj * max(ti - bj, 0) for wj, bj in zip(w, b)) == yi for ti, yi in zip(ts, ys)
    )
    return dict(ok=fits, undecided=False)


KNOTS = register(
    Claim(
        id="calibration.zhang_knots_on_points",
        citation="known-false variant of Zhang et al. 2017, Thm 1 (falsifier calibration)",
        statement="Theorem 1's network with knots b_i = t_(i-1) + 1e-6 fits any n distinct points "
        "(false: the knots stop interleaving when two projections are closer than 1e-6).",
        trial=trial_from_check(dataset, knots_on_points_check),
        grids=dict(quick=GRID, full=GRID),
        rule=Universal(),
        dataset=dataset,
        falsify=Falsifiable(
            check=knots_on_points_check, domain=Domain(), exact=knots_on_points_exact
        ),
    )
)


def _thm1_check(build_key, X, y, n, d):
    from jaxmem.verify import zhang2017 as claims

    return claims.thm1_check(build_key, X, y, n, d)


FLOAT_NETWORK = register(
    Claim(
        id="calibration.zhang_float_network",
        citation="float64 rounding trap on Zhang et al. 2017, Thm 1 (falsifier calibration)",
        statement="The float64 network of Theorem 1 fits its labels (false: rounding in its "
        "weights' recurrence can miss on near-coincident points; the theorem's exact "
        "network does not).",
        trial=trial_from_check(dataset, _thm1_check),
        grids=dict(quick=GRID, full=GRID),
        rule=Universal(),
        dataset=dataset,
        falsify=Falsifiable(check=_thm1_check, domain=Domain()),
    )
)

VARIANTS = [KNOTS, FLOAT_NETWORK]
TRUE_CLAIMS = ["zhang2017.thm1"]


def run(budget: int, seed: int) -> list[dict]:
    from jaxmem import claims, falsify

    rows = []
    for claim in VARIANTS:
        config = {k: v for k, v in claim.configs("quick")[0].items() if k != "datasets"}
        t0 = time.perf_counter()
        searched = falsify.falsify(claim, config, budget=budget, seed=seed)
        t1 = time.perf_counter()
        randomly = falsify.falsify(claim, config, budget=budget, seed=seed, methods=("random",),
                                   shrink=False)
        t2 = time.perf_counter()
        ce = searched.counterexample
        rows.append(
            dict(
                claim=claim.id,
                config=config,
                falsifier=searched.first_failure["evaluations"] if ce else None,
                method=searched.first_failure["method"] if ce else None,
                random=randomly.first_failure["evaluations"] if randomly.counterexample else None,
                shrunk=f"n={ce['X'].shape[0]}, d={ce['X'].shape[1]}" if ce else None,
                falsifier_seconds=t1 - t0,
                random_seconds=t2 - t1,
            )
        )
    for claim_id in TRUE_CLAIMS:
        claim = claims.get(claim_id)
        config = dict(n=8, d=2)
        t0 = time.perf_counter()
        searched = falsify.falsify(claim, config, budget=budget, seed=seed)
        rows.append(
            dict(
                claim=claim_id,
                config=config,
                true_claim=True,
                found=searched.counterexample is not None,
                artefacts=len(searched.artefacts),
                evaluations=searched.evaluations,
                seconds=time.perf_counter() - t0,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from jaxmem.cli import _configure_jax

    _configure_jax("quick")
    for row in run(args.budget, args.seed):
        cfg = ", ".join(f"{k}={v}" for k, v in row["config"].items())
        if row.get("true_claim"):
            verdict = "FALSE ALARM" if row["found"] else f"none found in budget {args.budget}"
            print(
                f"{row['claim']} [{cfg}] (true): {verdict}; {row['evaluations']} evaluations, "
                f"{row['artefacts']} float artefact(s) set aside, {row['seconds']:.1f} s"
            )
            continue
        found = "-" if row["falsifier"] is None else f"{row['falsifier']} ({row['method']})"
        rand = "-" if row["random"] is None else str(row["random"])
        print(
            f"{row['claim']} [{cfg}]: falsifier {found} evaluations | random {rand} "
            f"(budget {args.budget}) | shrunk to {row['shrunk']} | "
            f"{row['falsifier_seconds']:.1f} s vs {row['random_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
