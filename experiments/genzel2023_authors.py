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
                             n99 per lambda side by side, and every cell outside its 99%
                             interval with an explanation from its own numbers (its grid
                             neighbours, Fisher's exact test, the dummy-neuron convention),
                             plus a region check (blocks of the grid) and the signs' balance
    genzel2023_authors.png   P(interp) and k (as max(k, 1)) theirs / jaxmem / z with the cells
                             outside ringed, n99 against lambda, and the share of jaxmem's
                             restarts with no neuron (where the convention matters)

Scales: full is the paper's grid (as genzel2023_moons full, 127,500 networks); quick its
quick grid (4 widths x 4 lambdas x 8 restarts), compared with the same cells of theirs.
"""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import pandas as pd

from jaxmem import tables
from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments import genzel2023_moons as moons

NAME = "genzel2023_authors"
REGENERATES = ("Dirksen, Finke, Genzel 2023, two moons: jaxmem's grid against the authors' "
               "released per-trial results, cell by cell (z-scores, n99)")
AUTHORS_TABLE = "genzel2023_cells.csv"
Z99 = 2.5758293035489004  # the two-sided 99% normal quantile
SCALES = moons.SCALES
# The paper's own words (abstract of arXiv 2310.00327v3 = JMLR 25(347), 2024).
PAPER_QUOTE = ("\"We verify our theoretical result with numerical experiments and additionally "
               "investigate the effectiveness of the algorithm on MNIST and CIFAR-10.\" "
               "(abstract)")
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


def _neighbours(table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, over its (up to 8) grid neighbours (adjacent width and lambda): the mean
    z-score and how many lie outside the 99% interval. An isolated noisy cell has neighbours
    with mean z near 0; a systematic difference moves a region, neighbours included."""
    widths = sorted(table["n"].unique())
    lambdas = sorted(table["max_bias"].unique())
    z = table.pivot(index="n", columns="max_bias", values=column).reindex(
        index=widths, columns=lambdas).to_numpy(np.float64)
    z = np.where(np.isfinite(z), z, np.sign(z) * 10.0)  # +-inf (constant k): far outside
    padded = np.pad(z, 1, constant_values=np.nan)
    stack = np.stack([padded[1 + di:1 + di + z.shape[0], 1 + dj:1 + dj + z.shape[1]]
                      for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
    outside = np.nansum(np.abs(stack) > Z99, axis=0)
    row = {n: i for i, n in enumerate(widths)}
    col = {lam: j for j, lam in enumerate(lambdas)}
    idx = [(row[n], col[lam]) for n, lam in zip(table["n"], table["max_bias"])]
    return (np.array([mean[i, j] for i, j in idx]),
            np.array([int(outside[i, j]) for i, j in idx]))


def fisher_exact_p(hits_a, n_a, hits_b, n_b) -> np.ndarray:
    """Two-sided p-values of Fisher's exact test for 2 x 2 tables (hits and misses of a
    against b), vectorized: under equal P and fixed margins, hits_a is hypergeometric; p sums
    the probabilities of the outcomes no more likely than the observed one (as
    scipy.stats.fisher_exact, with its relative tolerance 1 + 1e-7)."""
    from scipy import stats

    hits_a, n_a, hits_b, n_b = (np.asarray(v, np.int64)[:, None]
                                for v in (hits_a, n_a, hits_b, n_b))
    support = np.arange(int((n_a + n_b).max()) + 1)[None, :]
    pmf = stats.hypergeom.pmf(support, n_a + n_b, hits_a + hits_b, n_a)
    observed = stats.hypergeom.pmf(hits_a, n_a + n_b, hits_a + hits_b, n_a)
    return np.minimum(1.0, np.where(pmf <= observed * (1 + 1e-7), pmf, 0.0).sum(axis=1))


def fisher_p(table: pd.DataFrame) -> np.ndarray:
    """Per cell, the two-sided p-value of Fisher's exact test of P(interp) (jaxmem's hits and
    misses against the authors'): no normal approximation, which at 50 restarts is rough."""
    return fisher_exact_p(np.rint(table["p_jaxmem"] * table["restarts_jaxmem"]),
                          table["restarts_jaxmem"],
                          np.rint(table["p_authors"] * table["restarts_authors"]),
                          table["restarts_authors"])


REGION_WIDTHS, REGION_LAMBDAS = 100, 0.5  # blocks of the grid for the region check


def region_check(table: pd.DataFrame, column: str, testable: pd.Series) -> dict:
    """The grid cut into blocks (widths of REGION_WIDTHS x lambdas of REGION_LAMBDAS): per
    block the testable cells outside the 99% interval and the binomial tail P(at least that
    many | 1% each); the block with the smallest tail, and that tail times the number of
    blocks (Bonferroni): below 0.01, a region holds more than chance gives."""
    from scipy import stats

    frame = pd.DataFrame({
        "wb": (table["n"] - 1) // REGION_WIDTHS,
        "lb": np.minimum(np.floor(table["max_bias"] / REGION_LAMBDAS + 1e-9),
                         np.floor((table["max_bias"].max() - 1e-9) / REGION_LAMBDAS)),
        "out": (table[column].abs() > Z99) & testable, "testable": testable})
    blocks = frame.groupby(["wb", "lb"]).agg(out=("out", "sum"), testable=("testable", "sum"))
    blocks["p"] = [float(stats.binom.sf(o - 1, t, 0.01)) if t else 1.0
                   for o, t in zip(blocks["out"], blocks["testable"])]
    (wb, lb), worst = blocks["p"].idxmin(), blocks.loc[blocks["p"].idxmin()]
    lam_hi = min((lb + 1) * REGION_LAMBDAS, float(table["max_bias"].max()))
    return dict(blocks=len(blocks), out=int(worst["out"]), testable=int(worst["testable"]),
                p=float(worst["p"]), p_bonferroni=min(1.0, float(worst["p"]) * len(blocks)),
                widths=(int(wb * REGION_WIDTHS + 1), int((wb + 1) * REGION_WIDTHS)),
                lambdas=(float(lb * REGION_LAMBDAS), float(lam_hi)))


def sign_balance(z: pd.Series) -> dict:
    """Cells outside the interval by sign (jaxmem above / below the authors) and the
    two-sided binomial p of that split under 50:50 (a one-sided bias would skew it)."""
    from scipy import stats

    outside = z[z.abs() > Z99]
    above = int((outside > 0).sum())
    total = len(outside)
    p = float(stats.binomtest(above, total, 0.5).pvalue) if total else 1.0
    return dict(above=above, below=total - above, p=p)


def explain(quantity: str, z: float, neighbour_mean: float, neighbours_out: int,
            exact_p: float | None, no_neuron: float, their_k_one: int) -> str:
    """One cell's explanation, from its own numbers (see outside_cells)."""
    parts = []
    leaning = np.sign(neighbour_mean) == np.sign(z) and abs(neighbour_mean) >= 1.0
    if leaning:
        parts.append(f"its neighbours lean the same way (mean z {neighbour_mean:+.2f}, "
                     f"{neighbours_out} outside): a region, look for a systematic difference")
    else:
        parts.append(f"isolated: its neighbours' mean z is {neighbour_mean:+.2f} and "
                     f"{neighbours_out} of them {'is' if neighbours_out == 1 else 'are'} "
                     "outside, so no region moves with it")
    if exact_p is not None:
        parts.append(f"Fisher's exact test gives p = {exact_p:.3f}"
                     + (" (not significant at 1%: the normal approximation's tail)"
                        if exact_p >= 0.01 else ""))
    if quantity == "k" and (no_neuron > 0 or their_k_one > 0):
        said = [f"jaxmem accepted no neuron in {no_neuron:.0%} of its restarts"] if no_neuron \
            else []
        said += [f"the authors report k = 1 in {their_k_one} restarts"] if their_k_one else []
        parts.append("small-k cell: " + " and ".join(said) + "; both sides are compared as "
                     "max(k, 1), their dummy-neuron convention, so the convention is matched")
    if not leaning:
        parts.append("chance")
    return "; ".join(parts)


def outside_cells(table: pd.DataFrame, theirs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every cell outside the 99% interval, for P and for k, with its numbers, its
    neighbours, Fisher's exact p (P only) and an explanation (`explain`)."""
    k_one = {}
    if theirs is not None:
        k_one = {(int(n), round(float(lam), 4)): int(c) for n, lam, c in
                 zip(theirs["n"], theirs["max_bias"], theirs["k_is_one"])}
    exact = fisher_p(table)
    out = []
    for quantity, column, ours, auth in (("P", "z_p", "p_jaxmem", "p_authors"),
                                         ("k", "z_k", "k_jaxmem_dummy", "k_authors")):
        mean, count = _neighbours(table, column)
        for i in np.flatnonzero(table[column].abs().to_numpy() > Z99):
            row = table.iloc[i]
            key = (int(row["n"]), round(float(row["max_bias"]), 4))
            no_neuron = float(row["k_jaxmem_dummy"] - row["k_jaxmem"])
            exact_p = float(exact[i]) if quantity == "P" else None
            out.append(dict(
                quantity=quantity, n=key[0], max_bias=key[1], jaxmem=float(row[ours]),
                authors=float(row[auth]), z=float(row[column]),
                neighbour_mean_z=float(mean[i]), neighbours_outside=int(count[i]),
                fisher_p=exact_p, explanation=explain(
                    quantity, float(row[column]), float(mean[i]), int(count[i]), exact_p,
                    no_neuron, k_one.get(key, 0))))
    return pd.DataFrame(out, columns=["quantity", "n", "max_bias", "jaxmem", "authors", "z",
                                      "neighbour_mean_z", "neighbours_outside", "fisher_p",
                                      "explanation"])


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
    exact = fisher_p(table)
    return dict(cells=len(table), within_p=within_p, within_k=within_k, chance_p=chance_p,
                chance_k=chance_k, worst_p=worst_p,
                region_p=region_check(table, "z_p", testable_p),
                region_k=region_check(table, "z_k", table["z_k"] != 0),
                signs_p=sign_balance(table["z_p"]), signs_k=sign_balance(table["z_k"]),
                fisher_below_01=int((exact < 0.01).sum()), fisher_min=float(exact.min()),
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


def _region_line(what: str, r: dict) -> str:
    verdict = ("no region holds more than chance gives" if r["p_bonferroni"] >= 0.01 else
               "a region holds more than chance gives: a systematic difference there")
    return (f"- Region check for {what} ({r['blocks']} blocks of {REGION_WIDTHS} widths x "
            f"{REGION_LAMBDAS:g} in \u03bb): the fullest block, n = {r['widths'][0]}.."
            f"{r['widths'][1]}, \u03bb = {g.fmt_lambda(r['lambdas'][0])}.."
            f"{g.fmt_lambda(r['lambdas'][1])}, has {r['out']} of {r['testable']} testable "
            f"cells outside (P(at least that many) = {r['p']:.2g}; x {r['blocks']} blocks = "
            f"{r['p_bonferroni']:.2g}): {verdict}.")


def _sign_line(what: str, c: dict) -> str:
    return (f"- Signs of the cells outside for {what}: jaxmem above the authors in "
            f"{c['above']}, below in {c['below']} (two-sided binomial p = {c['p']:.2g} "
            "against 50:50).")


def outside_lines(table: pd.DataFrame, theirs: pd.DataFrame | None) -> list[str]:
    """The Markdown list of every cell outside its 99% interval, explained."""
    cells = outside_cells(table, theirs)
    lines = ["## Every cell outside its 99% interval", "",
             "Each is explained from its own numbers: its neighbours on the grid (a systematic "
             "difference moves a region, not one cell), Fisher's exact test for P (the z-score "
             "is a normal approximation, rough at 50 restarts), and for k whether the "
             "dummy-neuron convention touches the cell.", ""]
    if not len(cells):
        return lines + ["None.", ""]
    body = [[c.quantity, c.n, g.fmt_lambda(c.max_bias), f"{c.jaxmem:.3g}", f"{c.authors:.3g}",
             f"{c.z:+.2f}", c.explanation] for c in cells.itertuples()]
    lines += tables.markdown_table(["", "n", "\u03bb", "jaxmem", "authors", "z",
                                    "explanation"], body, "lrrrrrl")
    return lines + [""]


def markdown(table: pd.DataFrame, theirs: pd.DataFrame | None = None) -> str:
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
        f"The paper: {PAPER_QUOTE}", "",
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
        _region_line("P(interpolation)", s["region_p"]),
        _region_line("mean k", s["region_k"]),
        _sign_line("P(interpolation)", s["signs_p"]),
        _sign_line("mean k", s["signs_k"]),
        f"- Fisher's exact test of P: {s['fisher_below_01']} of {s['cells']} cells have p < "
        f"0.01 (smallest p {s['fisher_min']:.2g}; x {s['cells']} cells = "
        f"{min(1.0, s['fisher_min'] * s['cells']):.2g}).",
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
    lines += [""] + outside_lines(table, theirs)
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, path: str) -> str:
    """Top: P(interp) theirs / jaxmem / z-score / n99 against lambda. Bottom: mean k theirs /
    jaxmem, both in their convention max(k, 1) (their dummy neuron), the z-score, and where
    the convention matters: the share of jaxmem's restarts that accepted no neuron (k = 0,
    which their code reports as 1). Cells outside the 99% interval are ringed on the z
    panels."""
    lambdas = sorted(table["max_bias"].unique())
    widths = sorted(table["n"].unique())

    def matrix(column):
        pivot = table.pivot(index="n", columns="max_bias", values=column)
        return pivot.reindex(index=widths, columns=lambdas).to_numpy(np.float64)

    fig = g.figure(13.0, 7.0)
    axes = fig.subplots(2, 4)
    extent = (-0.5, len(lambdas) - 0.5, -0.5, len(widths) - 0.5)

    def show(ax, column, title, **kwargs):
        image = ax.imshow(matrix(column), origin="lower", aspect="auto", extent=extent,
                          **kwargs)
        ax.set_title(title, fontsize=8)
        return image

    top = max(np.nanmax(matrix("k_authors")), np.nanmax(matrix("k_jaxmem_dummy")))
    for row, (theirs, ours, z, what, scale) in enumerate((
            ("p_authors", "p_jaxmem", "z_p", "P(interp)", dict(vmin=0, vmax=1)),
            ("k_authors", "k_jaxmem_dummy", "z_k", "mean k, as max(k, 1)",
             dict(vmin=0, vmax=top)))):
        show(axes[row][0], theirs, f"{what}: authors", cmap="viridis", **scale)
        image = show(axes[row][1], ours, f"{what}: jaxmem", cmap="viridis", **scale)
        fig.colorbar(image, ax=axes[row][:2], shrink=0.8)
        zs = np.clip(matrix(z), -4, 4)
        image = axes[row][2].imshow(zs, origin="lower", aspect="auto", vmin=-4, vmax=4,
                                    cmap="coolwarm", extent=extent)
        wi, li = np.nonzero(np.abs(matrix(z)) > Z99)
        axes[row][2].scatter(li, wi, s=14, facecolors="none", edgecolors="black",
                             linewidths=0.7, label="outside the 99% interval")
        axes[row][2].set_title(f"z-score of {what.split(',')[0]} (jaxmem - authors)",
                               fontsize=8)
        axes[row][2].legend(fontsize=6, loc="upper right")
        fig.colorbar(image, ax=axes[row][2], shrink=0.8)
    no_neuron = matrix("k_jaxmem_dummy") - matrix("k_jaxmem")
    image = axes[1][3].imshow(no_neuron, origin="lower", aspect="auto", vmin=0, vmax=1,
                              cmap="Greys", extent=extent)
    axes[1][3].set_title("jaxmem restarts with no neuron (k = 0;\ntheir code reports k = 1)",
                         fontsize=8)
    fig.colorbar(image, ax=axes[1][3], shrink=0.8)
    for ax in (*axes[0][:3], *axes[1]):
        ticks = np.linspace(0, len(lambdas) - 1, min(6, len(lambdas))).round().astype(int)
        ax.set_xticks(ticks, [g.short(lambdas[i]) for i in ticks], fontsize=7)
        ticks = np.linspace(0, len(widths) - 1, min(6, len(widths))).round().astype(int)
        ax.set_yticks(ticks, [str(widths[i]) for i in ticks], fontsize=7)
        ax.set_xlabel("maximal bias \u03bb", fontsize=8)
    axes[0][0].set_ylabel("first-layer width n", fontsize=8)
    axes[1][0].set_ylabel("first-layer width n", fontsize=8)
    for column, label, style in (("p_authors", "authors", "o-"), ("p_jaxmem", "jaxmem", "s--")):
        curve = n99(table, column)
        xs = [lam for lam in lambdas if curve[lam] is not None]
        axes[0][3].plot(xs, [curve[lam] for lam in xs], style, markersize=3, label=label)
    axes[0][3].set_xlabel("maximal bias \u03bb", fontsize=8)
    axes[0][3].set_ylabel("n99", fontsize=8)
    axes[0][3].set_title("smallest width with P \u2265 0.99", fontsize=8)
    axes[0][3].legend(fontsize=7)
    fig.suptitle("Two moons (N = 1000): jaxmem against the authors' released results; k in "
                 "their convention max(k, 1) (their code adds a dummy neuron when the greedy "
                 "loop accepts none)", fontsize=9)
    return g.save(fig, path)


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    (records,) = g.records_by_grid(store, runs).values()
    path = g.out_path(out_dir, NAME)
    theirs = authors_cells("moons")
    table = compare(jaxmem_cells(records), theirs)
    table = table.assign(outside_99_p=table["z_p"].abs() > Z99,
                         outside_99_k=table["z_k"].abs() > Z99)
    table.to_csv(path + ".csv", index=False, float_format="%.6g")
    with open(path + ".md", "w") as f:
        f.write(markdown(table, theirs))
    return [path + ".csv", path + ".md", figure(table, path + ".png")]


register_experiment(__name__)
