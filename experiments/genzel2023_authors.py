"""Two moons against Dirksen, Finke and Genzel's own released results, cell by cell.

The authors' repository (github.com/patrickfinke/memo, MIT licence) ships per-trial results of
their moons grid (lambda = 0..2.5 step 0.05 x n = 10..500 step 10 x 50 restarts, N = 1000).
jaxmem ships their per-cell aggregate (experiments/authors/genzel2023_cells.csv, made by
aggregate_genzel2023.py beside it, with their licence notice in LICENSE-memo). This experiment
runs the same grid through jaxmem (the genzel2023_moons grid: a store that holds that
experiment's records resumes them) and compares each cell:

  P(interpolation): a two-proportion z-score (pooled); cells where both sides are 0 or both 1
    have z = 0.
  mean second-layer width k: a Welch z-score of the two means. Their code adds a dummy neuron
    when the greedy loop accepts none (so k >= 1 there); jaxmem's k is the number of accepted
    neurons (0 possible). The comparison puts jaxmem's k in their convention, max(k, 1); the
    CSV also has jaxmem's own mean k.
  n99 (the smallest width with P >= 0.99) per lambda, side by side.

Two independent implementations of one randomized algorithm, run with different random
numbers, agree if about 99% of the cells lie within the 99% interval (|z| <= 2.576); a
systematic difference (another bias range, another covered class, a different acceptance
rule) moves whole regions of the grid out (the tests show this on purpose-broken inputs).

Outputs (from the store's records and the shipped table):
    genzel2023_authors.csv   one row per cell: both P, both mean k, z-scores
    genzel2023_authors.md    the share of cells within the 99% interval, the largest |z|,
                             n99 per lambda side by side
    genzel2023_authors.png   P(interp) theirs / jaxmem / z, and n99 against lambda

Scales: full is the paper's grid (as genzel2023_moons full, 127,500 networks); quick its
quick grid (4 widths x 4 lambdas x 8 restarts), compared with the same cells of theirs.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments import genzel2023_moons as moons

NAME = "genzel2023_authors"
REGENERATES = ("Dirksen, Finke, Genzel 2023, two moons: jaxmem's grid against the authors' "
               "released per-trial results, cell by cell (z-scores, n99)")
AUTHORS_TABLE = "genzel2023_cells.csv"
Z99 = 2.5758293035489004  # the two-sided 99% normal quantile
SCALES = moons.SCALES
COLUMNS = ("n", "max_bias", "restarts_jaxmem", "restarts_authors", "p_jaxmem", "p_authors",
           "z_p", "k_jaxmem", "k_jaxmem_dummy", "k_authors", "z_k")


def authors_cells(experiment: str = "moons") -> pd.DataFrame:
    """The authors' per-cell table for one of their experiments (shipped with jaxmem)."""
    with resources.files("jaxmem.experiments").joinpath("authors", AUTHORS_TABLE).open() as f:
        cells = pd.read_csv(f)
    return cells[cells["experiment"] == experiment].reset_index(drop=True)


def grids(scale: str):
    return moons.grids(scale)


def two_proportion_z(hits_a, n_a, hits_b, n_b) -> np.ndarray:
    """Pooled two-proportion z-scores; 0 where the pooled proportion is 0 or 1 (both sides
    identical and degenerate)."""
    hits_a, n_a, hits_b, n_b = (np.asarray(v, np.float64) for v in (hits_a, n_a, hits_b, n_b))
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = hits_a / n_a - hits_b / n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, diff / np.where(se > 0, se, 1), 0.0)


def welch_z(mean_a, sd_a, n_a, mean_b, sd_b, n_b) -> np.ndarray:
    """(mean_a - mean_b) / sqrt(sd_a^2/n_a + sd_b^2/n_b); 0 where both are constant and
    equal, +-inf where both are constant and differ."""
    mean_a, sd_a, n_a, mean_b, sd_b, n_b = (np.asarray(v, np.float64)
                                            for v in (mean_a, sd_a, n_a, mean_b, sd_b, n_b))
    se = np.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    diff = mean_a - mean_b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, diff / np.where(se > 0, se, 1),
                        np.where(diff == 0, 0.0, np.copysign(np.inf, diff)))


def jaxmem_cells(records: list[dict]) -> pd.DataFrame:
    """jaxmem's cells from per-trial records: restarts, interpolations, mean and sd of k, and
    of max(k, 1) (the authors' dummy-neuron convention)."""
    frame = pd.DataFrame({
        "n": [int(r["width"]) for r in records],
        "max_bias": [round(float(r["max_bias"]), 4) for r in records],
        "interp": [bool(r["interpolated"]) for r in records],
        "k": [float(r["second_layer_width"]) for r in records],
    })
    frame["k_dummy"] = np.maximum(frame["k"], 1.0)
    return frame.groupby(["n", "max_bias"], sort=True).agg(
        restarts=("interp", "size"), interpolated=("interp", "sum"), k_mean=("k", "mean"),
        k_dummy_mean=("k_dummy", "mean"), k_dummy_sd=("k_dummy", "std")).reset_index()


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell both tables have (COLUMNS). Cells of ours the authors lack raise."""
    theirs = theirs.assign(max_bias=theirs["max_bias"].round(4))
    both = ours.merge(theirs, on=["n", "max_bias"], how="left", suffixes=("", "_authors"),
                      validate="one_to_one")
    missing = both[both["restarts_authors"].isna()]
    if len(missing):
        first = missing.iloc[0]
        raise ValueError(f"the authors' table has no cell n = {first['n']}, lambda = "
                         f"{first['max_bias']} ({len(missing)} cells missing)")
    sd_ours = both["k_dummy_sd"].fillna(0.0)
    sd_theirs = both["k_sd"].fillna(0.0)
    return pd.DataFrame({
        "n": both["n"], "max_bias": both["max_bias"],
        "restarts_jaxmem": both["restarts"], "restarts_authors": both["restarts_authors"],
        "p_jaxmem": both["interpolated"] / both["restarts"],
        "p_authors": both["interpolated_authors"] / both["restarts_authors"],
        "z_p": two_proportion_z(both["interpolated"], both["restarts"],
                                both["interpolated_authors"], both["restarts_authors"]),
        "k_jaxmem": both["k_mean"], "k_jaxmem_dummy": both["k_dummy_mean"],
        "k_authors": both["k_mean_authors"],
        "z_k": welch_z(both["k_dummy_mean"], sd_ours, both["restarts"],
                       both["k_mean_authors"], sd_theirs, both["restarts_authors"]),
    })


def n99(frame: pd.DataFrame, column: str, smoothed: bool = False) -> dict[float, int | None]:
    """Per lambda, the smallest width whose P >= 0.99 (None if none): read off the cells, or
    (smoothed) off the Gaussian-smoothed table the figures' contour is drawn from."""
    rows = [dict(width=int(n), max_bias=float(lam), p_interp=float(p))
            for n, lam, p in zip(frame["n"], frame["max_bias"], frame[column])]
    found = g.smoothed_threshold_width(rows) if smoothed else g.threshold_width(rows)
    return {lam: (None if n is None else int(n)) for lam, n in found.items()}


def n99_agreement(ours: dict, theirs: dict) -> dict:
    """Where both reach P >= 0.99: how many lambdas agree, jaxmem lower / higher, and the
    mean |difference| in widths (noise moves n99 both ways; a systematic error one way)."""
    both = [lam for lam in ours if ours[lam] is not None and theirs[lam] is not None]
    diff = np.array([ours[lam] - theirs[lam] for lam in both], np.float64)
    return dict(same=sum(ours[lam] == theirs[lam] for lam in ours), reached=len(both),
                lower=int((diff < 0).sum()), higher=int((diff > 0).sum()),
                mean_abs=float(np.abs(diff).mean()) if len(both) else float("nan"))


def outside_by_chance(z: pd.Series, testable: pd.Series) -> dict:
    """Cells outside the 99% interval against what chance gives when the two implementations
    agree: each testable cell (one whose z-score is not 0 by degeneracy) lands outside with
    probability about 1%, so the count outside is about Binomial(testable, 0.01); `p` is the
    probability of at least the observed count under that law (small: more than chance)."""
    from scipy import stats

    outside = int((z.abs() > Z99).sum())
    count = int(testable.sum())
    return dict(outside=outside, testable=count, expected=0.01 * count,
                p=float(stats.binom.sf(outside - 1, count, 0.01)) if count else 1.0)


def summary(table: pd.DataFrame) -> dict:
    within_p = float((table["z_p"].abs() <= Z99).mean())
    within_k = float((table["z_k"].abs() <= Z99).mean())
    # Degenerate cells (both P 0 or both 1; k constant and equal on both sides) have z = 0 by
    # construction and cannot fall outside.
    testable_p = ~(((table["p_jaxmem"] == 0) & (table["p_authors"] == 0))
                   | ((table["p_jaxmem"] == 1) & (table["p_authors"] == 1)))
    chance_p = outside_by_chance(table["z_p"], testable_p)
    chance_k = outside_by_chance(table["z_k"], table["z_k"] != 0)
    worst_p = table.loc[table["z_p"].abs().idxmax()]
    worst_k = table.loc[table["z_k"].abs().idxmax()]
    ours, theirs = n99(table, "p_jaxmem"), n99(table, "p_authors")
    smooth_ours = n99(table, "p_jaxmem", smoothed=True)
    smooth_theirs = n99(table, "p_authors", smoothed=True)
    agreement = n99_agreement(ours, theirs)
    return dict(cells=len(table), within_p=within_p, within_k=within_k, chance_p=chance_p,
                chance_k=chance_k, worst_p=worst_p,
                worst_k=worst_k, n99_jaxmem=ours, n99_authors=theirs,
                n99_same=agreement["same"], n99=agreement,
                n99_smoothed_jaxmem=smooth_ours, n99_smoothed_authors=smooth_theirs,
                n99_smoothed=n99_agreement(smooth_ours, smooth_theirs),
                mean_z_p=float(table["z_p"].mean()),
                mean_abs_z_p=float(table["z_p"].abs().mean()),
                mean_abs_z_k=float(table["z_k"][np.isfinite(table["z_k"])].abs().mean()))


def _n99_text(value) -> str:
    return "not reached" if value is None else str(value)


def _chance_line(what: str, c: dict) -> str:
    verdict = ("as many as chance gives" if c["p"] >= 0.01 else
               "more than chance gives: a systematic difference")
    return (f"- Cells outside the 99% interval for {what}: {c['outside']} of {c['testable']} "
            f"testable cells (chance: {c['expected']:.1f}; P(at least {c['outside']}) = "
            f"{c['p']:.2g}): {verdict}. They are flagged in the CSV (outside_99_p, _k).")


def _n99_line(what: str, a: dict, lambdas: int) -> str:
    return (f"- {what}: the same width at {a['same']} of {lambdas} \u03bb values; where both "
            f"reach 0.99 ({a['reached']}), jaxmem's is lower at {a['lower']} and higher at "
            f"{a['higher']}, by {a['mean_abs']:.0f} widths on average.")


def markdown(table: pd.DataFrame) -> str:
    s = summary(table)
    restarts = f"{int(table['restarts_jaxmem'].iloc[0])} (jaxmem) and " \
               f"{int(table['restarts_authors'].iloc[0])} (authors)"
    wp, wk = s["worst_p"], s["worst_k"]
    lines = [
        "# Two moons: jaxmem against the authors' released results", "",
        f"{s['cells']} cells (n = first-layer width, \u03bb = maximal bias), {restarts} "
        "restarts a cell; the authors' numbers are their per-trial results "
        "(patrickfinke/memo, results.zip, MIT licence) aggregated per cell. k is compared in "
        "their convention max(k, 1) (their code adds a dummy neuron when none is accepted).", "",
        f"- P(interpolation): **{s['within_p']:.1%}** of the cells within the 99% interval "
        f"(|z| \u2264 2.576; about 99% expected when the two agree); mean |z| "
        f"{s['mean_abs_z_p']:.2f}; largest |z| {abs(wp['z_p']):.2f} at n = {int(wp['n'])}, "
        f"\u03bb = {g.fmt_lambda(wp['max_bias'])} ({wp['p_jaxmem']:.2f} vs "
        f"{wp['p_authors']:.2f}).",
        f"- Mean second-layer width k: **{s['within_k']:.1%}** within the 99% interval; mean "
        f"|z| {s['mean_abs_z_k']:.2f}; largest |z| {abs(wk['z_k']):.2f} at n = {int(wk['n'])}, "
        f"\u03bb = {g.fmt_lambda(wk['max_bias'])} ({wk['k_jaxmem_dummy']:.2f} vs "
        f"{wk['k_authors']:.2f}).",
        _chance_line("P(interpolation)", s["chance_p"]),
        _chance_line("mean k", s["chance_k"]),
        f"- No systematic difference in P shows as a mean z far from 0: mean z "
        f"{s['mean_z_p']:+.3f} (jaxmem minus authors).",
        _n99_line("n99 (smallest width with P \u2265 0.99, read off the cells)", s["n99"],
                  len(s["n99_jaxmem"])),
        _n99_line("n99 of the smoothed tables (the figures' contour)", s["n99_smoothed"],
                  len(s["n99_jaxmem"])), "",
        "## n99 per \u03bb", "",
        "| \u03bb | n99 jaxmem | n99 authors | smoothed jaxmem | smoothed authors |",
        "|---:|---:|---:|---:|---:|",
    ]
    for lam in s["n99_jaxmem"]:
        lines.append(f"| {g.fmt_lambda(lam)} | {_n99_text(s['n99_jaxmem'][lam])} | "
                     f"{_n99_text(s['n99_authors'][lam])} | "
                     f"{_n99_text(s['n99_smoothed_jaxmem'][lam])} | "
                     f"{_n99_text(s['n99_smoothed_authors'][lam])} |")
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, path: str) -> str:
    lambdas = sorted(table["max_bias"].unique())
    widths = sorted(table["n"].unique())

    def matrix(column):
        pivot = table.pivot(index="n", columns="max_bias", values=column)
        return pivot.reindex(index=widths, columns=lambdas).to_numpy(np.float64)

    fig = g.figure(13.0, 3.4)
    axes = fig.subplots(1, 4)
    extent = (-0.5, len(lambdas) - 0.5, -0.5, len(widths) - 0.5)
    for ax, column, title in ((axes[0], "p_authors", "P(interp): authors"),
                              (axes[1], "p_jaxmem", "P(interp): jaxmem")):
        image = ax.imshow(matrix(column), origin="lower", aspect="auto", vmin=0, vmax=1,
                          cmap="viridis", extent=extent)
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=axes[:2], shrink=0.8)
    z = axes[2].imshow(np.clip(matrix("z_p"), -4, 4), origin="lower", aspect="auto", vmin=-4,
                       vmax=4, cmap="coolwarm", extent=extent)
    axes[2].set_title("z-score of P (jaxmem - authors)", fontsize=9)
    fig.colorbar(z, ax=axes[2], shrink=0.8)
    for ax in axes[:3]:
        ticks = np.linspace(0, len(lambdas) - 1, min(6, len(lambdas))).round().astype(int)
        ax.set_xticks(ticks, [g.short(lambdas[i]) for i in ticks], fontsize=7)
        ticks = np.linspace(0, len(widths) - 1, min(6, len(widths))).round().astype(int)
        ax.set_yticks(ticks, [str(widths[i]) for i in ticks], fontsize=7)
        ax.set_xlabel("maximal bias \u03bb", fontsize=8)
    axes[0].set_ylabel("first-layer width n", fontsize=8)
    for column, label, style in (("p_authors", "authors", "o-"), ("p_jaxmem", "jaxmem", "s--")):
        curve = n99(table, column)
        xs = [lam for lam in lambdas if curve[lam] is not None]
        axes[3].plot(xs, [curve[lam] for lam in xs], style, markersize=3, label=label)
    axes[3].set_xlabel("maximal bias \u03bb", fontsize=8)
    axes[3].set_ylabel("n99", fontsize=8)
    axes[3].set_title("smallest width with P \u2265 0.99", fontsize=9)
    axes[3].legend(fontsize=7)
    return g.save(fig, path)


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    (records,) = g.records_by_grid(store, runs).values()
    table = compare(jaxmem_cells(records), authors_cells("moons"))
    path = g.out_path(out_dir, NAME)
    table = table.assign(outside_99_p=table["z_p"].abs() > Z99,
                         outside_99_k=table["z_k"].abs() > Z99)
    table.to_csv(path + ".csv", index=False, float_format="%.6g")
    with open(path + ".md", "w") as f:
        f.write(markdown(table))
    return [path + ".csv", path + ".md", figure(table, path + ".png")]


register_experiment(__name__)
