"""Cover (1965): the separating capacity of a hyperplane. For n points in general position in
R^d with uniform random labels, P(linearly separable) = C(n, D) / 2^n with
C(n, D) = 2 sum_{k=0}^{D-1} binom(n-1, k), D = d for hyperplanes through the origin and D = d + 1
with a bias. The probability is 1 up to n = D, exactly 1/2 at n = 2D, and falls to 0 beyond:
the sharp transition at n/d = 2 as d grows. This experiment measures the probability on
Gaussian data and draws it against Cover's exact curve.

What is computed, per (d, affine, n) (one config):
    data      `datasets` datasets of n points x_i ~ N(0, I_d / d) with Rademacher labels; point
              i of dataset k comes from fold_in(key_k, i), so a dataset of n points is the first
              n points of the same dataset at any larger n_max (DATA_RULE): one compiled
              program per d draws every n, padded to n_max = the largest n of that d
    decision  jaxmem.metrics.separability: the vmapped Frank-Wolfe screen proves separability
              where it can (a float64 rounding-bound certificate); every other dataset goes to
              the LP (HiGHS), whose optimum is 0 or 1, never in between. So `separable` is
              the LP-exact answer for every dataset, and `screen_decided` says which ones the
              screen settled without an LP
Records: one store run (sweep name "cover_capacity", kind "experiment"), one config per
(d, affine, n), one record per dataset (separable, screen_decided). A rerun computes only the
datasets the store lacks.

Scales (timings: experiments/results/cover1965/README.md):
    quick  d = 5, n/d in {0.4, 1, 1.6, 2, 2.4, 3, 4}, both cases, 64 datasets per point
           (14 configs, 896 datasets): seconds on a CPU
    full   d in {5, 10, 25}, n/d = 0.25, 0.5, ..., 4 (16 points), both cases, 2000 datasets per
           point (96 configs, 192,000 datasets); LP-bound (about 60% of the datasets need one),
           minutes on a CPU
Measured (the full grid with 200 datasets per point, 19,200 datasets):
Cover's value inside the 95% interval at 95 of the 96 points, largest |measured - Cover|
0.064 (d = 25, homogeneous); the screen settled 87% (affine, d = 25) to 99% (homogeneous,
d = 5) of the separable datasets without an LP.

Outputs (from the store alone):
    cover_capacity.png  per case (through the origin / with a bias): the measured probability
                        with its 95% Clopper-Pearson interval against n/d, one colour per d,
                        over Cover's exact curve (every integer n); dashed: n = 2D, where
                        Cover's probability is exactly 1/2
    cover_capacity.csv  one row per config (CSV_COLUMNS)
    cover_capacity.md   per (case, d): how many points have Cover's value inside their 95%
                        interval, the largest |measured - Cover|, and the full table
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import tables
from jaxmem.data.validate import positive_int
from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments import _records
from jaxmem.experiments._records import RunStats, run_records, scale_size
from jaxmem.metrics import separability as sep
from jaxmem.sweep.runner import Job, root_key_datas

NAME = "cover_capacity"
REGENERATES = ("Cover 1965: P(n random points in R^d with random labels are linearly "
               "separable) against C(n, D)/2^n, through the origin and with a bias, for "
               "n/d in (0, 4] (figure, CSV, Markdown table)")

SEED = 0
DATA_RULE = "cover_capacity.v1"   # x_i ~ N(0, I/d) from fold_in(fold_in(key, 0), i), etc.
CONFIDENCE = 0.95
CASES = (False, True)             # affine: through the origin, then with a bias

SCALES = {
    "quick": dict(dims=(5,), ratios=(0.4, 1.0, 1.6, 2.0, 2.4, 3.0, 4.0), datasets=64,
                  chunk=64, screen_iters=sep.SCREEN_ITERS),
    "full": dict(dims=(5, 10, 25), ratios=tuple(k / 4 for k in range(1, 17)), datasets=2000,
                 chunk=500, screen_iters=sep.SCREEN_ITERS),
}

CSV_COLUMNS = ("case", "d", "D", "n", "n_over_d", "datasets", "separable", "fraction",
               "ci_low", "ci_high", "cover_probability", "cover_inside_ci", "screen_fraction")


# --- sizes and configs -------------------------------------------------------------------------

def check_size(size: dict) -> dict:
    """The size with ints and floats, or ValueError."""
    keys = set(SCALES["quick"])
    if set(size) != keys:
        raise ValueError(f"a size has exactly the keys {sorted(keys)}; got {sorted(size)}")
    dims = tuple(positive_int("dims entry", d) for d in size["dims"])
    ratios = tuple(float(r) for r in size["ratios"])
    if not dims:
        raise ValueError(f"dims must list at least one dimension; got {size['dims']}")
    if not ratios or min(ratios) <= 0:
        raise ValueError(f"ratios n/d must be positive; got {size['ratios']}")
    out = dict(dims=dims, ratios=ratios)
    for k in ("datasets", "chunk", "screen_iters"):
        out[k] = positive_int(k, size[k])
    return out


def point_counts(d: int, ratios) -> list[int]:
    """The distinct n = max(1, round(r d)) of the ratios, ascending."""
    return sorted({max(1, int(round(r * d))) for r in ratios})


def config(d: int, n: int, affine: bool, size: dict) -> dict:
    return dict(experiment=NAME, d=d, n=n, affine=bool(affine), seed=SEED,
                data_rule=DATA_RULE, screen_iters=size["screen_iters"],
                decision="screen+highs-lp")


def configs(size: dict) -> list[dict]:
    return [config(d, n, affine, size) for d in size["dims"] for affine in CASES
            for n in point_counts(d, size["ratios"])]


# --- data and the screen -----------------------------------------------------------------------

def draw(key, n_max: int, d: int):
    """n_max points and labels of one dataset; the first n of them are the dataset of n
    points (each point from its own fold_in of the key: independent of n_max)."""
    kx, ky = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    idx = jnp.arange(n_max)
    dtype = jnp.result_type(float)
    X = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(kx, i), (d,), dtype))(idx)
    y = jax.vmap(lambda i: jax.random.rademacher(jax.random.fold_in(ky, i), (),
                                                 jnp.int32))(idx).astype(dtype)
    return X / jnp.sqrt(jnp.asarray(d, dtype)), y


@functools.partial(jax.jit, static_argnames=("n_max", "d", "iters"))
def _draw_and_screen(keys, n, affine, *, n_max, d, iters):
    """One program per (n_max, d, chunk): n and affine are traced. Homogeneous datasets get a
    zero bias column, which changes no dot product."""
    X, y = jax.vmap(lambda k: draw(k, n_max, d))(keys)
    mask = jnp.broadcast_to(jnp.arange(n_max) < n, y.shape)
    Xa = jnp.concatenate([X, jnp.where(affine, 1.0, 0.0) * jnp.ones(y.shape + (1,), X.dtype)],
                         axis=-1)
    Z = y[..., None] * Xa
    out = jax.vmap(lambda z, m: sep.screen(z, m, iters=iters))(Z, mask)
    return X, y, out["decided"]


def measure(cfg: dict, keys, n_max: int, chunk: int) -> dict:
    """Record columns (separable, screen_decided) of one block of a config's datasets: at most
    `chunk` keys, padded to the compiled shape."""
    n, d, affine = cfg["n"], cfg["d"], cfg["affine"]
    real = keys.shape[0]
    if real < chunk:
        keys = jnp.concatenate([keys, jnp.repeat(keys[:1], chunk - real, axis=0)])
    X, y, dec = jax.device_get(_draw_and_screen(keys, n, affine, n_max=n_max, d=d,
                                                iters=cfg["screen_iters"]))
    X, y, dec = X[:real, :n], y[:real, :n], np.asarray(dec[:real], bool)
    res = sep.decide_batch(X, y, affine, screen_out={"decided": dec})
    return dict(separable=res["separable"], screen_decided=dec)


def _trial(cfg: dict, n_max: int, chunk: int, keys, indices) -> dict:
    # keys[j] is dataset_keys(SEED, cfg, indices)[j]: the engine derives them from the root
    return measure(cfg, keys, n_max, chunk)


# --- the runner ----------------------------------------------------------------------------------

def jobs(size: dict) -> list[Job]:
    """One engine job per config: host blocks of `chunk` datasets, the blocks the store lacks
    drawn, screened and decided by `measure`."""
    n_max = {d: max(point_counts(d, size["ratios"])) for d in size["dims"]}
    cfgs = configs(size)
    return [Job(config=cfg, datasets=size["datasets"], root=root,
                trial=functools.partial(_trial, cfg, n_max[cfg["d"]], size["chunk"]),
                program=(NAME, cfg["d"], n_max[cfg["d"]], size["chunk"], size["screen_iters"]),
                host=True, block=True, chunk_size=size["chunk"])
            for cfg, root in zip(cfgs, root_key_datas(SEED, cfgs))]


def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None) -> RunStats:
    """Computes every record the store lacks at `scale` (or an explicit `size`, with SCALES'
    keys), config by config; prints one line as `jaxmem reproduce` does for a sweep."""
    size = check_size(scale_size(SCALES, scale) if size is None else size)
    grid = dict(experiment=NAME, scale=scale, dims=list(size["dims"]),
                ratios=list(size["ratios"]), datasets=size["datasets"], chunk=size["chunk"],
                screen_iters=size["screen_iters"])
    stats = RunStats.from_engine(run_experiment(store, NAME, grid, jobs(size),
                                                progress=progress))
    stats.report(NAME, stream)
    return stats


def grids(scale: str) -> list:
    """No sweep grids: the records come from `compute` (screen + LP on the host)."""
    check_size(scale_size(SCALES, scale))
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: the missing records at `scale`; {NAME: run id}."""
    return {NAME: run(store, scale, progress=progress).run_id}


# --- tables --------------------------------------------------------------------------------------

def case_name(affine: bool) -> str:
    return "affine" if affine else "homogeneous"


def summarize(records: list[dict]) -> list[dict]:
    """One row per (case, d, n): counts, the 95% Clopper-Pearson interval, Cover's value."""
    from jaxmem.stats import clopper_pearson
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((bool(r["affine"]), int(r["d"]), int(r["n"])), []).append(r)
    rows = []
    for (affine, d, n), group in groups.items():
        k = sum(bool(r["separable"]) for r in group)
        m = len(group)
        lo, hi = clopper_pearson(k, m, CONFIDENCE)
        p = float(sep.cover_probability(n, d, affine))
        rows.append(dict(case=case_name(affine), affine=affine, d=d, D=d + int(affine), n=n,
                         n_over_d=n / d, datasets=m, separable=k, fraction=k / m,
                         ci_low=lo, ci_high=hi, cover_probability=p,
                         cover_inside_ci=bool(lo <= p <= hi),
                         screen_fraction=sum(bool(r["screen_decided"]) for r in group) / m))
    rows.sort(key=lambda r: (r["affine"], r["d"], r["n"]))
    return rows


def write_csv(rows: list[dict], path: str) -> str:
    return _records.write_csv(rows, CSV_COLUMNS, path)


def markdown(rows: list[dict]) -> str:
    lines = ["# Cover (1965): the separating capacity of a hyperplane", "",
             "P(n Gaussian points in R^d with uniform random labels are strictly linearly "
             "separable), measured (LP-exact per dataset) against Cover's C(n, D)/2^n, "
             "C(n, D) = 2 sum_{k<D} binom(n-1, k); D = d through the origin, d + 1 with a bias. "
             f"Intervals: two-sided {CONFIDENCE:.0%} Clopper-Pearson. screen: the fraction of "
             "datasets the Frank-Wolfe screen proved separable without an LP.", ""]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["affine"], r["d"]), []).append(r)
    summary = []
    for (affine, d), group in sorted(groups.items()):
        inside = sum(r["cover_inside_ci"] for r in group)
        worst = max(abs(r["fraction"] - r["cover_probability"]) for r in group)
        counts = sorted({r["datasets"] for r in group})
        per = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        summary.append([case_name(affine), d, len(group), f"{inside}/{len(group)}",
                        f"{worst:.4f}", per])
    lines += tables.markdown_table(["case", "d", "points", "Cover inside the interval",
                                    "max abs(measured - Cover)", "datasets per point"],
                                   summary, align="lrrrrr")
    total = sum(r["cover_inside_ci"] for r in rows)
    lines += ["", f"Cover's value lies inside the {CONFIDENCE:.0%} interval at {total} of "
                  f"{len(rows)} points (about {CONFIDENCE:.0%} expected).", ""]
    lines += tables.markdown_table(
        ["case", "d", "n", "n/d", "datasets", "separable", "measured", "interval", "Cover",
         "screen"],
        ([r["case"], r["d"], r["n"], f"{r['n_over_d']:.3g}", r["datasets"], r["separable"],
          f"{r['fraction']:.4f}", f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]",
          f"{r['cover_probability']:.4f}", f"{r['screen_fraction']:.3f}"] for r in rows),
        align="lrrrrrrlrr")
    return "\n".join(lines) + "\n"


# --- the figure ----------------------------------------------------------------------------------

def plot(rows: list[dict], path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    fig = g.figure(11.0, 4.4)
    axes = fig.subplots(1, 2, sharey=True, squeeze=False)[0]
    dims = sorted({r["d"] for r in rows})
    colours = {d: f"C{i}" for i, d in enumerate(dims)}
    for ax, affine in zip(axes, CASES):
        for d in dims:
            pts = [r for r in rows if r["affine"] == affine and r["d"] == d]
            if not pts:
                continue
            n_hi = max(r["n"] for r in pts)
            ns = np.arange(1, n_hi + 1)
            ax.plot(ns / d, [float(sep.cover_probability(int(n), d, affine)) for n in ns],
                    color=colours[d], lw=1.2, alpha=0.8, label=f"Cover, d = {d}")
            x = np.array([r["n_over_d"] for r in pts])
            f = np.array([r["fraction"] for r in pts])
            err = np.array([[r["fraction"] - r["ci_low"] for r in pts],
                            [r["ci_high"] - r["fraction"] for r in pts]])
            ax.errorbar(x, f, yerr=err, fmt="o", ms=3.5, color=colours[d], capsize=2,
                        label=f"measured, d = {d}")
        # P = 1/2 exactly at n = 2D: n/d = 2 through the origin, 2 (d + 1)/d with a bias.
        for d in dims:
            ax.axvline(2 * (d + int(affine)) / d, color=colours[d], ls="--", lw=0.7,
                       alpha=0.7)
        ax.axhline(0.5, color="0.8", lw=0.6)
        ax.set_xlim(0, 4.1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("n / d (points per dimension)")
        ax.set_title("hyperplanes through the origin (D = d)" if not affine
                     else "hyperplanes with a bias (D = d + 1)", fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel(f"P(linearly separable), {CONFIDENCE:.0%} CI")
    fig.suptitle("Cover (1965): C(n, D) / 2^n against random Gaussian datasets")
    return g.save(fig, path)


def render(store, runs: dict, out_dir: str) -> list[str]:
    """The figure, CSV and Markdown from the store's records of the run `runs[NAME]` (default:
    the newest cover_capacity run). ValueError if there are none."""
    from jaxmem.experiments import _genzel2023 as g
    rows = summarize(run_records(store, runs, NAME))
    csv_path = write_csv(rows, g.out_path(out_dir, f"{NAME}.csv"))
    md_path = g.out_path(out_dir, f"{NAME}.md")
    with open(md_path, "w") as f:
        f.write(markdown(rows))
    return [plot(rows, g.out_path(out_dir, f"{NAME}.png")), csv_path, md_path]


__all__ = ["CSV_COLUMNS", "DATA_RULE", "NAME", "REGENERATES", "SCALES", "compute", "configs",
           "draw", "grids", "jobs", "markdown", "measure", "point_counts", "render", "run",
           "summarize", "write_csv"]

register_experiment(__name__)
