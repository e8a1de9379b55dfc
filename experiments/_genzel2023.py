"""Shared pieces of the Dirksen, Finke, Genzel (2023) experiments (`genzel2023_*`): cell tables
from the store's records, the paper's heatmaps and slices, and the numbers the summaries quote.

Not an experiment itself (no NAME): the modules `genzel2023_moons`, `genzel2023_size`,
`genzel2023_illustrations` and `genzel2023_real` use it. Conventions follow the paper note
(docs/papers/genzel2023.md §4) and the authors' plot.py:

  * a cell is one config (one width n, one maximal bias lambda, one number of points N); its
    restarts are the config's dataset indices (fixed data: each index only changes the
    construction's key);
  * P(interp) = the fraction of restarts whose network interpolates (every point covered);
    its band is the 95% Wilson interval;
  * mean width = the mean second-layer width k over the restarts (summed over classes for
    one-vs-rest); its band is mean +- 1.96 standard errors;
  * heatmaps are cell means, with the dashed blue-violet P(interp) = 0.99 contour of the
    Gaussian-smoothed (sigma = 1 cell, scipy.ndimage) P(interp) table on every heatmap.

The sweep's axis `n` is the NUMBER OF POINTS; the paper's n (the first-layer width) is the
construction option `width`. Labels here always say which is which.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from jaxmem import tables
from jaxmem.stats import Z95, loglog_slope, wilson  # noqa: F401 (the experiments' names)

SEED = 0

# Axis labels, as the paper's figures write them (genzel2023.md §4) plus what jaxmem's axes mean.
LABEL = {
    "max_bias": "maximal bias \u03bb",
    "width": "width of first layer n",
    "n": "number of samples N",
    "p_interp": "P(interpolation)",
    "mean_width": "mean second-layer width k",
}
CONTOUR_LEVEL = 0.99
CONTOUR_SIGMA = 1.0
CONTOUR_COLOR = "blueviolet"

CELL_COLUMNS = ("grid", "data", "n", "width", "max_bias", "restarts", "interpolated",
                "p_interp", "p_interp_low", "p_interp_high", "mean_width", "sd_width",
                "se_width", "mean_accuracy", "mean_uncovered", "mean_candidates_tried")


# --- grids -----------------------------------------------------------------------------------

def steps(stop: float, step: float, start: float = 0.0) -> list[float]:
    """start, start + step, ..., stop as floats rounded to 10 digits, so that the configs (and
    their hashes) hold 0.15, not 0.15000000000000002."""
    count = int(round((stop - start) / step)) + 1
    return [round(start + i * step, 10) + 0.0 for i in range(count)]


def int_steps(start: int, stop: int, step: int) -> list[int]:
    return list(range(start, stop + 1, step))


# --- records -> cells ------------------------------------------------------------------------

def records_by_grid(store, runs: dict[str, int]) -> dict[str, list[dict]]:
    """Each grid's records (a record two runs share is listed under each)."""
    out = {}
    for name, run_id in runs.items():
        seen, records = set(), []
        for record in store.records(run_id):
            key = (record["config_hash"], record["dataset_index"])
            if key not in seen:
                seen.add(key)
                records.append(record)
        out[name] = records
    if not any(out.values()):
        raise ValueError(f"no records in the store for runs {runs}; nothing to render")
    return out


def _accuracy(record) -> float:
    for name in ("sign_accuracy", "accuracy"):
        if record.get(name) is not None:
            return float(record[name])
    return math.nan


def cells(records: list[dict], grid: str = "") -> list[dict]:
    """One row per config (data, N, width, lambda): restarts, P(interp) and its Wilson interval,
    the mean, sd and standard error of the second-layer width k, the mean training accuracy,
    uncovered points and greedy iterations. Sorted by data, N, width, lambda."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["data"], int(r["n"]), int(r["width"]), float(r["max_bias"]))
        groups.setdefault(key, []).append(r)
    rows = []
    for (data, n, width, max_bias), group in sorted(groups.items()):
        hits = sum(bool(r["interpolated"]) for r in group)
        k = np.array([float(r["second_layer_width"]) for r in group])
        low, high = wilson(hits, len(group))
        sd = float(np.std(k, ddof=1)) if len(k) > 1 else 0.0
        rows.append(dict(
            grid=grid, data=data, n=n, width=width, max_bias=max_bias, restarts=len(group),
            interpolated=hits, p_interp=hits / len(group), p_interp_low=low, p_interp_high=high,
            mean_width=float(k.mean()), sd_width=sd, se_width=sd / math.sqrt(len(k)),
            mean_accuracy=float(np.mean([_accuracy(r) for r in group])),
            mean_uncovered=float(np.mean([float(r["uncovered"]) for r in group])),
            mean_candidates_tried=float(np.mean([float(r["candidates_tried"]) for r in group])),
        ))
    return rows


def write_cells_csv(rows: list[dict], path: str) -> str:
    return tables.write_csv(rows, CELL_COLUMNS, path)


def values(rows: list[dict], key: str) -> list:
    return sorted({r[key] for r in rows})


def table(rows: list[dict], x: str, y: str, value: str) -> tuple[list, list, np.ndarray]:
    """(x values, y values, matrix[y, x] of `value`; NaN where a cell has no records)."""
    xs, ys = values(rows, x), values(rows, y)
    matrix = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        matrix[ys.index(r[y]), xs.index(r[x])] = r[value]
    return xs, ys, matrix


def nearest(available, wanted) -> list:
    """For each wanted value the nearest available one (ties: the smaller), without repeats."""
    available = sorted(available)
    out = []
    for w in wanted:
        best = min(available, key=lambda a: (abs(a - w), a))
        if best not in out:
            out.append(best)
    return out


# --- numbers for the summaries ---------------------------------------------------------------

def threshold_width(rows: list[dict], level: float = CONTOUR_LEVEL) -> dict:
    """Per lambda: the smallest width with P(interp) >= level (n99), or None if no width of
    the grid reaches it. Read literally off the grid (no monotonicity assumed)."""
    out = {}
    for lam in values(rows, "max_bias"):
        ok = [r["width"] for r in rows if r["max_bias"] == lam and r["p_interp"] >= level]
        out[lam] = min(ok) if ok else None
    return out


def smoothed_threshold_width(rows: list[dict], level: float = CONTOUR_LEVEL) -> dict:
    """Per lambda: the smallest width where the Gaussian-smoothed P(interp) table (the one the
    heatmaps' dashed contour is drawn from) reaches `level`; None where it does not. Less
    noisy than `threshold_width`, which one lucky cell can move."""
    lambdas, widths, p = table(rows, "max_bias", "width", "p_interp")
    s = smoothed(p) if min(p.shape) >= 2 else np.nan_to_num(p)
    out = {}
    for j, lam in enumerate(lambdas):
        hits = np.flatnonzero(s[:, j] >= level)
        out[lam] = widths[hits[0]] if hits.size else None
    return out


def best_lambdas(n99: dict) -> tuple[list, int | None]:
    """The lambdas with the smallest n99 (all of them when tied), and that n99."""
    reached = {lam: n for lam, n in n99.items() if n is not None}
    if not reached:
        return [], None
    smallest = min(reached.values())
    return [lam for lam, n in reached.items() if n == smallest], smallest


def rise_and_fall(rows: list[dict], max_bias: float) -> dict | None:
    """Mean k against width at one lambda: the first value, the peak, the last value, and the
    plateau (mean of mean k over the widths from n99 on, where the cell interpolates with
    P >= 0.99; None when the grid never gets there). rises_then_falls: the peak lies strictly
    inside the width range and exceeds both ends."""
    line = sorted((r["width"], r["mean_width"], r["p_interp"]) for r in rows
                  if r["max_bias"] == max_bias)
    if not line:
        return None
    widths = [w for w, _, _ in line]
    ks = [k for _, k, _ in line]
    peak = int(np.argmax(ks))
    n99 = next((w for w, _, p in line if p >= CONTOUR_LEVEL), None)
    plateau = (float(np.mean([k for w, k, _ in line if w >= n99])) if n99 is not None
               else None)
    return dict(max_bias=max_bias, first_width=widths[0], first=ks[0], peak_width=widths[peak],
                peak=ks[peak], last_width=widths[-1], last=ks[-1], n99=n99, plateau=plateau,
                rises_then_falls=bool(0 < peak < len(ks) - 1 and ks[peak] > ks[0]
                                      and ks[peak] > ks[-1]))


def fmt(x, spec: str = ".3g") -> str:
    """x formatted, '-' for None or NaN, and never '-0.000'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    text = format(x, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def num(x) -> str:
    """A mean count: 3 significant digits below 1000, whole numbers with commas above."""
    return "-" if x is None else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def fmt_lambda(lam: float) -> str:
    return f"{lam:g}"


# --- figures ---------------------------------------------------------------------------------

def figure(width: float, height: float, **kwargs):
    """A matplotlib Figure on the Agg canvas (no pyplot: headless, no global state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing the figures needs matplotlib: pip install matplotlib") \
            from None
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: str, dpi: int = 130) -> str:
    fig.savefig(path, dpi=dpi)
    return path


def scatter(ax, X, y, title: str = "", *, size: float = 10, legend: bool = True) -> None:
    """A two-class 2-D data set as the paper draws it: X+ (label -1) red circles, X- (label +1,
    the class the second layer covers) blue triangles."""
    X, y = np.asarray(X), np.asarray(y)
    plus, minus = y < 0, y > 0
    ax.scatter(X[plus, 0], X[plus, 1], s=size, facecolors="none", edgecolors="red",
               linewidths=0.8, label=f"X\u207a (label \u22121, {plus.sum()} points)")
    ax.scatter(X[minus, 0], X[minus, 1], s=size, marker="^", color="blue", linewidths=0,
               label=f"X\u207b (label +1, covered, {minus.sum()} points)")
    ax.set_aspect("equal")
    ax.set_xlabel("x\u2081")
    ax.set_ylabel("x\u2082")
    if legend:
        ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)


def _ticks(values_: list, limit: int = 12) -> tuple[list[int], list[str]]:
    """Every value's index when few, else about `limit` of them (always the first and last)."""
    step = max(1, math.ceil(len(values_) / limit))
    idx = list(range(0, len(values_), step))
    if idx[-1] != len(values_) - 1:
        idx.append(len(values_) - 1)
    return idx, [short(values_[i]) for i in idx]


def short(v) -> str:
    """A grid value for a tick or legend: 0.5, 250, 100k, 1M."""
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if v >= 1_000_000 and v % 100_000 == 0:
            return f"{v / 1_000_000:g}M"
        if v >= 10_000 and v % 1000 == 0:
            return f"{v // 1000}k"
        return str(v)
    return f"{v:g}"


def smoothed(matrix: np.ndarray, sigma: float = CONTOUR_SIGMA) -> np.ndarray:
    """The Gaussian-smoothed table (scipy.ndimage.gaussian_filter, sigma in cells; missing
    cells count as 0, as an empty pivot cell does not count as interpolating)."""
    from scipy.ndimage import gaussian_filter
    return gaussian_filter(np.nan_to_num(matrix, nan=0.0), sigma=sigma)


def heatmap(ax, rows: list[dict], x: str, y: str, value: str, *, vmin=0.0, vmax=None,
            title: str = "", colorbar_label: str | None = None, annotate: bool | None = None):
    """Cell means of `value` over (x, y), categorical axes (one cell per grid value, as the
    paper's seaborn heatmaps), y growing upwards, with the dashed 0.99 contour of the smoothed
    P(interp). Returns the image (for a colorbar)."""
    from matplotlib import colormaps

    xs, ys, matrix = table(rows, x, y, value)
    _, _, p = table(rows, x, y, "p_interp")
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=vmin, vmax=vmax,
                      origin="lower", aspect="auto", interpolation="nearest")
    if annotate is None:
        annotate = len(xs) * len(ys) <= 64
    if annotate:
        top = np.nanmax(matrix) if vmax is None and np.isfinite(matrix).any() else vmax
        for (i, j), v in np.ndenumerate(matrix):
            if np.isfinite(v):
                dark = top is not None and v < 0.6 * (top - (vmin or 0)) + (vmin or 0)
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    drew = contour_099(ax, p)
    xi, xl = _ticks(xs)
    yi, yl = _ticks(ys)
    ax.set_xticks(xi, xl, rotation=90 if len(xi) > 8 else 0)
    ax.set_yticks(yi, yl)
    ax.set_xlabel(LABEL[x])
    ax.set_ylabel(LABEL[y])
    if title:
        note = (f"dashed: smoothed P(interpolation) = {CONTOUR_LEVEL}" if drew else
                f"smoothed P(interpolation) does not cross {CONTOUR_LEVEL}: no contour")
        ax.set_title(f"{title}\n({note})", fontsize=10)
    if colorbar_label is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return image


def contour_099(ax, p: np.ndarray) -> bool:
    """The dashed P(interp) = 0.99 line of the smoothed table, in cell coordinates; nothing
    (and no warning) where the smoothed table never crosses 0.99 or is too small to contour."""
    if min(p.shape) < 2:
        return False
    s = smoothed(p)
    if not (s.min() < CONTOUR_LEVEL < s.max()):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax.contour(np.arange(p.shape[1]), np.arange(p.shape[0]), s, levels=[CONTOUR_LEVEL],
                   colors=CONTOUR_COLOR, linestyles="--", linewidths=1.6)
    return True


def slice_lines(ax, rows: list[dict], along: str, fixed: str, fixed_values, value: str, *,
                markers_at_interp: bool = False, ylim=None, title: str = "", logx=False):
    """`value` against `along`, one line per fixed value, with its 95% band: the Wilson
    interval for P(interp), mean +- 1.96 SE for the width. markers_at_interp: dots where
    P(interp) > 0.99 (the paper's width slices)."""
    for fv in fixed_values:
        line = sorted((r for r in rows if r[fixed] == fv), key=lambda r: r[along])
        if not line:
            continue
        xs = np.array([r[along] for r in line], float)
        if value == "p_interp":
            ys = np.array([r["p_interp"] for r in line])
            lo = np.array([r["p_interp_low"] for r in line])
            hi = np.array([r["p_interp_high"] for r in line])
        else:
            ys = np.array([r[value] for r in line])
            se = np.array([r["se_width"] for r in line])
            lo, hi = ys - Z95 * se, ys + Z95 * se
        name = {"width": "n", "max_bias": "\u03bb", "n": "N"}[fixed]
        (handle,) = ax.plot(xs, ys, label=f"{name} = {short(fv)}",
                            marker="o" if len(xs) < 8 else None, markersize=3)
        ax.fill_between(xs, lo, hi, color=handle.get_color(), alpha=0.2, linewidth=0)
        if markers_at_interp:
            good = np.array([r["p_interp"] > CONTOUR_LEVEL for r in line])
            ax.plot(xs[good], ys[good], linestyle="none", marker="o", markersize=4,
                    color=handle.get_color())
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(LABEL[along])
    ax.set_ylabel(LABEL[value])
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def heatmap_figure(rows, path, *, x, y, value, vmax, title, colorbar_label) -> str:
    fig = figure(7.5, 5.5)
    ax = fig.subplots()
    heatmap(ax, rows, x, y, value, vmin=0, vmax=vmax, colorbar_label=colorbar_label,
            title=title)
    return save(fig, path)


def slices_figure(rows, path, *, along_lambda_widths, along_width_lambdas, title,
                  width_ylim=None) -> str:
    """2 x 2: P(interp) and mean k against lambda at a few widths (top), and against the
    width at a few lambdas (bottom)."""
    fig = figure(11, 8)
    axes = fig.subplots(2, 2)
    widths = nearest(values(rows, "width"), along_lambda_widths)
    lambdas = nearest(values(rows, "max_bias"), along_width_lambdas)
    slice_lines(axes[0][0], rows, "max_bias", "width", widths, "p_interp", ylim=(-0.03, 1.03),
                title="P(interpolation) vs \u03bb")
    slice_lines(axes[0][1], rows, "max_bias", "width", widths, "mean_width", ylim=width_ylim,
                title="mean second-layer width vs \u03bb")
    slice_lines(axes[1][0], rows, "width", "max_bias", lambdas, "p_interp", ylim=(-0.03, 1.03),
                title="P(interpolation) vs n", markers_at_interp=True)
    slice_lines(axes[1][1], rows, "width", "max_bias", lambdas, "mean_width", ylim=width_ylim,
                title="mean second-layer width vs n", markers_at_interp=True)
    fig.suptitle(title + "\nbands: 95% Wilson interval (P), mean \u00b1 1.96 SE (width); "
                 "dots: P(interpolation) > 0.99", fontsize=10)
    return save(fig, path)


def write_tables(store, runs: dict[str, int], out_dir: str, name: str, markdown):
    """For an experiment of one grid: its records, its cell table (`cells`), and a path maker
    suffix -> OUT/NAME+suffix, after writing NAME.csv (the cells) and NAME.md
    (markdown(rows))."""
    (records,) = records_by_grid(store, runs).values()
    rows = cells(records, grid=next(iter(runs)))
    path = lambda suffix: out_path(out_dir, f"{name}{suffix}")  # noqa: E731
    write_cells_csv(rows, path(".csv"))
    with open(path(".md"), "w") as f:
        f.write(markdown(rows))
    return records, rows, path


def out_path(out_dir: str, name: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    return os.path.join(out_dir, name)


def grid_summary(rows: list[dict]) -> str:
    """'N = 1000 points; widths n = 10..500 (50 values); lambda = 0..2.5 (51 values); 50
    restarts per cell' from the cells."""
    def span(key):
        v = values(rows, key)
        return f"{v[0]:g}" if len(v) == 1 else f"{v[0]:g}..{v[-1]:g} ({len(v)} values)"
    restarts = values(rows, "restarts")
    r = f"{restarts[0]}" if len(restarts) == 1 else f"{restarts[0]}-{restarts[-1]}"
    return (f"N = {span('n')} points; widths n = {span('width')}; \u03bb = {span('max_bias')}; "
            f"{r} restarts per cell")


def threshold_table(rows: list[dict]) -> list[str]:
    """Markdown rows: per lambda, n99 read off the cells and off the smoothed table, the mean k
    at n99, and the best P(interp) over the widths."""
    n99 = threshold_width(rows)
    n99_smooth = smoothed_threshold_width(rows)
    by = {(r["max_bias"], r["width"]): r for r in rows}
    widths = values(rows, "width")
    missing = f"not reached (n \u2264 {widths[-1]})"
    cells = []
    for lam, n in n99.items():
        best = max(by[(lam, w)]["p_interp"] for w in widths if (lam, w) in by)
        smooth = missing if n99_smooth[lam] is None else str(n99_smooth[lam])
        k = "-" if n is None else num(by[(lam, n)]["mean_width"])
        cells.append([fmt_lambda(lam), missing if n is None else n, smooth, k, f"{best:.3g}"])
    return tables.markdown_table(
        ["\u03bb", "n99: smallest width with P(interp) \u2265 0.99",
         "n99 of the smoothed table (the contour)", "mean k at n99",
         "max P(interp) over widths"], cells, "r")
