"""Calibration of `jaxmem falsify`: known-false variants of true claims, searched by the
falsifier and by random sampling (the claim's own sampler) with the same budget, then the true
claims, which must give nothing.

    python benchmarks/falsify_calibration.py [--budget 2000] [--seeds 5] [--quick]

One line per result. A universal variant: evaluations to the first confirmed counterexample
for the falsifier (structured, gradient, evolution, an equal share of the budget each) and
for random sampling ("-": none within the budget), the shrunk case's size, seconds. A
probabilistic variant: in how many of --seeds searches each method confirmed a config with
P(pass) < p (the falsifier explores adaptively, then confirms on a fresh sample; random
sampling splits the budget over the configs as `jaxmem verify` would). A true claim: "none
found in budget B" or FALSE ALARM (exit status 1). --quick: smaller budgets and only the
true claims' smallest configs, for CI. A universal claim with no Falsifiable is searched over
TRIALS_BUDGET fresh datasets of its own trial, at all its quick configs; the claims that train
networks in every evaluation get the smaller budgets of TRAINING_BUDGETS.

The variants (registered by this file; `--include benchmarks/falsify_calibration.py` loads
them into the CLI):

  calibration.zhang_knots_on_points   Zhang et al.'s Theorem 1 with every knot placed on the
      previous point, b_i = t_(i-1) + 1e-6, instead of a fraction of the gap past it: false
      wherever two projections are closer than 1e-6, which Gaussian draws almost never are.
  calibration.zhang_float_network     "the float64 network of Theorem 1 fits its labels" (no
      exact step): a float64 rounding trap. Rows 1e-15 apart make the float recurrence miss;
      the true claim sets the same case aside as a float artefact (the construction rebuilt
      in rationals fits).
  calibration.bubeck_fixed_eps        Bubeck et al.'s 4 ceil(n/d) units with eps fixed at 1e-6
      instead of half the nearest other point's distance to the group's hyperplane: false
      when a point lies that close to another group's hyperplane.
  calibration.bubeck_three_units      one unit fewer per group (relu(g - eps) left out): false
      whenever a point lies beyond another group's hyperplane - almost every draw. A control:
      random sampling finds it as fast.
  calibration.cover_above_half        P(n <= 2d random labelled points are separable through
      the origin) >= 0.53: false at n = 2d, where Cover's count gives exactly 1/2.
  calibration.genzel_half_width       Dirksen-Finke-Genzel's width threshold n* halved:
      P(interpolation) >= 0.95 fails on the parallel lines (0.91), holds on the other
      geometries.
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.claims import Claim, Probabilistic, Universal, register
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
    projected = zhang2017.exact_projections(direction, X, y)
    if projected is None:
        return dict(ok=False, undecided=True)
    ts, ys = projected
    b = [ts[0] - 1] + [ti + Fraction(KNOT_OFFSET) for ti in ts[:-1]]
    return dict(ok=zhang2017.exact_spline_fits(ts, ys, b), undecided=False)


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

# ---- a probabilistic claim with p set just above the truth -----------------------------------

COVER_P = 0.53  # the truth at n = 2d is exactly 1/2 (Cover 1965)
COVER_GRID = [dict(n=n, d=d, datasets=400) for n, d in
              ((2, 2), (3, 2), (3, 3), (4, 3), (5, 3), (6, 3))]


def cover_separable(key, n, d):
    """n Gaussian points with random +-1 labels in R^d (d = 2 or 3): strictly separable by a
    hyperplane through the origin? With z_i = y_i x_i, the separators form an open cone; if
    it is not empty, one of its boundary rays lies on d - 1 of the planes z_i . w = 0 and
    strictly inside the others' half-spaces (general position), so it suffices to try
    w = +-perp(z_i) (d = 2) or +-(z_i x z_j) (d = 3). Cover's count gives the truth:
    P = C(n, d) / 2^n, C(n, d) = 2 sum_(k<d) binom(n-1, k)."""
    X = jax.random.normal(jax.random.fold_in(key, 0), (n, d))
    y = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 1), 0.5, (n,)), 1.0, -1.0)
    Z = y[:, None] * X
    if d == 2:
        rays = jnp.stack([-Z[:, 1], Z[:, 0]], axis=-1)  # perp(z_i)
        on = jnp.eye(n, dtype=bool)  # ray i lies on plane i
    else:
        i, j = np.triu_indices(n, 1)
        rays = jnp.cross(Z[i], Z[j])
        on = (np.arange(n)[None, :] == i[:, None]) | (np.arange(n)[None, :] == j[:, None])
    dots = rays @ Z.T  # (rays, n)
    scale = jnp.linalg.norm(rays, axis=-1, keepdims=True) * jnp.linalg.norm(Z, axis=-1)
    tie = jnp.any(~on & (jnp.abs(dots) <= 1e-12 * scale))  # rounding could decide: say so
    works = jnp.any(jnp.all(on | (dots > 0), axis=1) | jnp.all(on | (dots < 0), axis=1))
    return dict(ok=works & ~tie, undecided=tie)


COVER = register(
    Claim(
        id="calibration.cover_above_half",
        citation="known-false variant of Cover 1965's function counting theorem (calibration)",
        statement="n <= 2d Gaussian points with random labels are separable through the origin "
        f"with probability >= {COVER_P} (false at n = 2d, where it is exactly 1/2).",
        trial=cover_separable,
        grids=dict(quick=COVER_GRID, full=COVER_GRID),
        rule=Probabilistic(COVER_P),
    )
)

# ---- Dirksen-Finke-Genzel's width threshold with its constant halved ------------------------

# The halved threshold ceil(n*/2) of each fixed dataset (n* from genzel2023.interpolation_bound,
# checked by the host step when the claim runs).
HALF_WIDTH_GRID = [
    dict(geometry="lines", n_points=20, d=2, gap=0.1, data_seed=0, width=278, max_bias=1.0,
         activation="threshold", datasets=200),
    dict(geometry="spheres", n_points=40, d=3, gap=0.25, data_seed=0, width=180, max_bias=1.0,
         activation="threshold", datasets=200),
    dict(geometry="blobs", n_points=40, d=3, gap=0.05, data_seed=0, width=17, max_bias=1.0,
         activation="threshold", datasets=200),
    dict(geometry="spheres", n_points=100, d=10, gap=0.2, data_seed=0, width=119, max_bias=2.0,
         activation="threshold", datasets=200),
    dict(geometry="spheres", n_points=40, d=3, gap=0.25, data_seed=0, width=180, max_bias=1.0,
         activation="relu", datasets=200),
    dict(geometry="blobs", n_points=40, d=3, gap=0.05, data_seed=0, width=17, max_bias=1.0,
         activation="relu", datasets=200),
]


def _half_width_trial(key, **config):
    from jaxmem.verify import genzel2023

    return genzel2023.interp_trial(key, **config)


def _half_width_host(outs, config):
    from jaxmem.verify import genzel2023

    bound = genzel2023.config_bound(*(config[k] for k in (
        "geometry", "n_points", "d", "gap", "data_seed", "max_bias", "width")))
    if config["width"] != math.ceil(bound["n_star"] / 2):
        raise ValueError(f"calibration grid error: width {config['width']} is not "
                         f"ceil(n*/2) = {math.ceil(bound['n_star'] / 2)} for {config}")
    return outs


GENZEL_HALF = register(
    Claim(
        id="calibration.genzel_half_width",
        citation="known-false variant of Dirksen, Finke, Genzel 2023 (falsifier calibration)",
        statement="Algorithm 2 interpolates a fixed delta-separated dataset with probability "
        ">= 0.95 once n >= ln(N- N+ / eta) / -ln(1 - p_min) / 2: the width threshold with its "
        "constant halved (false where the threshold is nearly tight: the parallel lines).",
        trial=_half_width_trial,
        grids=dict(quick=HALF_WIDTH_GRID, full=HALF_WIDTH_GRID),
        rule=Probabilistic(0.95),
        host=_half_width_host,
    )
)

# ---- Bubeck et al.'s construction: one unit fewer per group; a fixed epsilon ----------------


def _bubeck(build_key, X, y, *, fixed_eps=None, drop_last_unit=False):
    """bubeck2020.build's network (the same groups, and hyperplanes through the same random
    offset drawn from `build_key`), with the variants: every group's fourth unit relu(g - eps)
    left out (drop_last_unit), or eps fixed instead of half the nearest other point's
    distance to the group's hyperplane (fixed_eps)."""
    import math as _math

    from jaxmem.constructions import bubeck2020 as b

    n, d = X.shape
    G = _math.ceil(n / d)
    members = jnp.concatenate([jnp.arange(n), -jnp.ones(G * d - n, jnp.int32)])
    offset = b.hyperplane_offset(build_key, X)
    Z = X - offset
    Zg, valid, group_of = b._groups(Z, members, d)
    yg = jnp.where(valid, y[jnp.maximum(members, 0)].reshape(G, d), 0)
    u, c, v, h, gamma = b._hyperplanes(Z, Zg, valid, group_of, labels=yg)
    eps = jnp.where(jnp.isfinite(gamma), gamma / 2, 1)
    if fixed_eps is not None:
        eps = jnp.full_like(eps, fixed_eps)
    h_max = jnp.max(jnp.abs(h), axis=1)
    delta = 0.5 * eps / jnp.where(h_max > 0, h_max, 1)
    ud = u + delta[:, None] * v
    rows = jnp.stack([ud, u, ud, u], axis=1).reshape(4 * G, d)
    offs = jnp.stack([c - eps, c - eps, c + eps, c + eps], axis=1).reshape(4 * G)
    signs = jnp.array([1.0, -1.0, -1.0, 0.0 if drop_last_unit else 1.0], X.dtype)
    out = (signs[None, :] / delta[:, None]).reshape(4 * G)
    offs = offs + jnp.matmul(rows, offset, precision="highest")  # back to x: <row, x - o>
    mask = None if not drop_last_unit else jnp.tile(jnp.array([True, True, True, False]), G)
    net = network.Network(
        (
            network.Layer(rows.T, -offs, mask, activation="relu"),
            network.Layer(out[:, None], jnp.zeros((1,), X.dtype), activation="identity"),
        )
    )
    return net, jnp.min(gamma)


def _bubeck_check(build_key, X, y, **variant):
    net, min_gamma = _bubeck(build_key, X, y, **variant)
    fit = metrics.fit_report(net, X, y)
    out = metrics.fit_outcome(fit, True)
    # hypothesis: general position (no other point on a group's hyperplane); the score pulls
    # another point towards a group's hyperplane
    return dict(out, hypothesis=min_gamma > 0,
                score=-jnp.log10(jnp.maximum(min_gamma, jnp.finfo(X.dtype).tiny)))


def bubeck_fixed_eps_check(build_key, X, y, n, d):
    return _bubeck_check(build_key, X, y, fixed_eps=1e-6)


def bubeck_three_units_check(build_key, X, y, n, d):
    return _bubeck_check(build_key, X, y, drop_last_unit=True)


BUBECK_GRID = [dict(n=8, d=2, datasets=64)]
BUBECK_FIXED_EPS = register(
    Claim(
        id="calibration.bubeck_fixed_eps",
        citation="known-false variant of Bubeck, Eldan, Lee, Mikulincer 2020 (calibration)",
        statement="4 ceil(n/d) ReLU units with eps fixed at 1e-6 fit any labels of n points in "
        "general position (false when another point lies within ~1e-6 of a group's hyperplane).",
        trial=trial_from_check(dataset, bubeck_fixed_eps_check),
        grids=dict(quick=BUBECK_GRID, full=BUBECK_GRID),
        rule=Universal(),
        dataset=dataset,
        falsify=Falsifiable(check=bubeck_fixed_eps_check, domain=Domain()),
    )
)
BUBECK_THREE_UNITS = register(
    Claim(
        id="calibration.bubeck_three_units",
        citation="known-false variant of Bubeck, Eldan, Lee, Mikulincer 2020 (calibration)",
        statement="3 ceil(n/d) ReLU units (each group's relu(g - eps) left out) fit any labels "
        "of n points in general position (false whenever a point lies beyond another group's "
        "hyperplane, which random draws almost always have: a control, not a hard case).",
        trial=trial_from_check(dataset, bubeck_three_units_check),
        grids=dict(quick=BUBECK_GRID, full=BUBECK_GRID),
        rule=Universal(),
        dataset=dataset,
        falsify=Falsifiable(check=bubeck_three_units_check, domain=Domain()),
    )
)

VARIANTS = [KNOTS, FLOAT_NETWORK, BUBECK_FIXED_EPS, BUBECK_THREE_UNITS]
PROBABILISTIC_VARIANTS = [COVER, GENZEL_HALF]
PROBABILISTIC_BUDGETS = {"calibration.cover_above_half": 4000,
                         "calibration.genzel_half_width": 1200}


TRIALS_BUDGET = 64  # fresh trials per universal claim with no Falsifiable (some run on the host)
# Claims whose every evaluation trains networks get a smaller stated budget (a search of 2000
# would take over half an hour on 2 cores for yu2024.thm5_1.width alone).
TRAINING_BUDGETS = {"yu2024.thm5_1.width": 128, "gd_width.counting_bound": 256,
                    "zhang2017.min_norm_gd": 512}


def true_claims() -> list:
    """Every registered universal claim outside this file (with or without a Falsifiable)."""
    from jaxmem import claims

    return [c for c in claims.all_claims()
            if not c.id.startswith("calibration.") and c.rule.kind == "universal"]


def smallest_config(claim) -> dict:
    configs = claim.configs("quick")
    sizes = claim.falsify.sizes
    config = min(configs, key=lambda c: tuple(c.get(k, 0) for k in sizes))
    return {k: v for k, v in config.items() if k != "datasets"}


def run(budget: int, seeds: int, quick: bool = False):
    """Yields one dict per result (see the module's docstring)."""
    from jaxmem import falsify

    for claim in VARIANTS:
        config = {k: v for k, v in claim.configs("quick")[0].items() if k != "datasets"}
        t0 = time.perf_counter()
        searched = falsify.falsify(claim, config, budget=budget, seed=0)
        t1 = time.perf_counter()
        randomly = falsify.falsify(claim, config, budget=budget, seed=0, methods=("random",),
                                   shrink=False)
        t2 = time.perf_counter()
        ce = searched.counterexample
        yield dict(kind="universal", claim=claim.id, config=config, budget=budget,
                   falsifier=searched.first_failure["evaluations"] if ce else None,
                   method=searched.first_failure["method"] if ce else None,
                   random=randomly.first_failure["evaluations"] if randomly.counterexample
                   else None,
                   shrunk=f"n={ce['X'].shape[0]}, d={ce['X'].shape[1]}" if ce else None,
                   falsifier_seconds=t1 - t0, random_seconds=t2 - t1)
    for claim in PROBABILISTIC_VARIANTS:
        b = PROBABILISTIC_BUDGETS[claim.id] // (2 if quick else 1)
        hits = {"adaptive": 0, "random": 0}
        seconds = {"adaptive": 0.0, "random": 0.0}
        for seed in range(seeds):
            for method in hits:
                found = falsify.falsify(claim, None, budget=b, seed=seed, methods=(method,))
                hits[method] += found.counterexample is not None
                seconds[method] += found.seconds
        yield dict(kind="probabilistic", claim=claim.id, budget=b, seeds=seeds, hits=hits,
                   seconds=seconds)
    for claim in true_claims():
        if claim.falsify is None:  # fresh trials over its quick configs (falsify_trials)
            config, b = {}, TRIALS_BUDGET
        else:
            config, b = smallest_config(claim), min(budget, TRAINING_BUDGETS.get(claim.id, budget))
        searched = falsify.falsify(claim, config or None, budget=b, seed=0)
        yield dict(kind="true", claim=claim.id, config=config, budget=b,
                   found=searched.counterexample is not None,
                   case=searched.counterexample, artefacts=len(searched.artefacts),
                   evaluations=searched.evaluations, seconds=searched.seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from jaxmem.cli import _configure_jax

    _configure_jax("quick")
    budget = min(args.budget, 300) if args.quick else args.budget
    seeds = 1 if args.quick else args.seeds
    alarms = 0
    for row in run(budget, seeds, args.quick):
        cfg = ", ".join(f"{k}={v}" for k, v in row.get("config", {}).items())
        if row["kind"] == "universal":
            found = "-" if row["falsifier"] is None else f"{row['falsifier']} ({row['method']})"
            rand = "-" if row["random"] is None else str(row["random"])
            print(f"{row['claim']} [{cfg}]: falsifier {found} evaluations | random {rand} "
                  f"(budget {row['budget']}) | shrunk to {row['shrunk']} | "
                  f"{row['falsifier_seconds']:.1f} s vs {row['random_seconds']:.1f} s",
                  flush=True)
        elif row["kind"] == "probabilistic":
            h, t = row["hits"], row["seconds"]
            print(f"{row['claim']}: confirmed in {h['adaptive']}/{row['seeds']} searches "
                  f"(adaptive) vs {h['random']}/{row['seeds']} (random), budget {row['budget']} "
                  f"| {t['adaptive'] / row['seeds']:.1f} s vs {t['random'] / row['seeds']:.1f} s "
                  "per search", flush=True)
        else:
            alarms += row["found"]
            verdict = (f"FALSE ALARM: {row['case']['detail']}" if row["found"]
                       else f"none found in budget {row['budget']}")
            print(f"{row['claim']} [{cfg}] (true): {verdict}; {row['evaluations']} evaluations, "
                  f"{row['artefacts']} set aside, {row['seconds']:.1f} s", flush=True)
    return 1 if alarms else 0


if __name__ == "__main__":
    raise SystemExit(main())
