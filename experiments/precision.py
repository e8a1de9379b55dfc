"""Where do the exact constructions stop working in float32? A map over n and d.

The two-layer constructions of Zhang et al. 2017 (Thm 1) and Bubeck et al. 2020 interpolate
exactly in exact arithmetic, but their weights grow with n (the knots or slabs must separate
ever closer projections), so a network built in float64 and then run in float32 eventually
misses its labels. This experiment measures where: for each construction, label kind (real
Gaussian labels, or +-1 signs), n and d, the fraction of random datasets whose float64-built
network is still float32-deployable (`jaxmem.metrics.float32_report`: real labels keep at least
half of float32's mantissa, |f32(x_i) - y_i| <= sqrt(eps_32) max(1, max |y|); +-1 labels keep
every sign). It is jaxmem's own measurement, not a theorem of either paper.

Outputs (from the results store alone, so a figure can be redrawn without recomputing):
    precision.png  2 x 2 heatmaps (rows: construction, columns: labels) of the fraction
    precision.csv  one row per (construction, labels, n, d)
    precision.md   per (construction, labels, d): the largest n at which every dataset is
                   deployable and the smallest n at which one is not
"""

from __future__ import annotations

import os

import numpy as np

from jaxmem import tables
from jaxmem.experiment import register_experiment
from jaxmem.sweep import Grid, parse_grid

NAME = "precision"
REGENERATES = ("jaxmem's own measurement: the float32 deployability boundary of the exact "
               "constructions of Zhang et al. 2017 (Thm 1) and Bubeck et al. 2020 over n and d "
               "(heatmap, CSV, Markdown table)")

CONSTRUCTIONS = ("zhang2017", "bubeck2020")
LABELS = ("gaussian", "sign")
TITLES = {"zhang2017": "Zhang et al. 2017 (Thm 1)", "bubeck2020": "Bubeck et al. 2020",
          "gaussian": "real labels", "sign": "\u00b11 labels"}

# quick: a few (n, d) per grid, since on a small CPU the sweep is bound by one compile per
# config; its chunk size is fixed (all datasets in one call) so that no second program is
# compiled to measure memory. full: the map the figure is meant to show, sized for an
# accelerator; the engine picks the chunk size from the compiled program's memory use.
SCALES = {
    "quick": dict(n=[4, 32, 256], d=[2, 8], datasets=16, chunk_size=16),
    "full": dict(n=[2 ** k for k in range(2, 13)], d=[2, 5, 10, 20, 50], datasets=256,
                 chunk_size=None),
}
SEED = 0

CSV_COLUMNS = ("construction", "labels", "n", "d", "datasets", "deployable_fraction",
               "median_max_abs_error_f32", "median_max_abs_weight", "ok_fraction")
MARKDOWN_COLUMNS = ("construction", "labels", "d", "n swept", "largest n: all deployable",
                    "smallest n: one not deployable", "datasets per config")


def grid_name(construction: str, labels: str) -> str:
    return f"{NAME}.{construction}.{labels}"


def grids(scale: str) -> list[Grid]:
    """One grid per (construction, labels). Networks are built in float64 (the construction as
    the paper states it) and the float32 check is one of the sweep's metrics."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; known: {', '.join(SCALES)}")
    size = SCALES[scale]
    out = []
    for construction in CONSTRUCTIONS:
        for labels in LABELS:
            name = grid_name(construction, labels)
            spec = dict(name=name, construction=construction, data="gaussian", labels=labels,
                        datasets=size["datasets"], seed=SEED, dtype="float64",
                        axes=dict(n=size["n"], d=size["d"]))
            if size["chunk_size"] is not None:
                spec["chunk_size"] = size["chunk_size"]
            out.append(parse_grid(spec, source=name))
    return out


# --- Tables: pure functions of the records, so they can be tested without a store or plots.

def _order(value, known: tuple) -> tuple:
    """Sort key: the known values in their stated order, then anything else by name."""
    return (known.index(value), "") if value in known else (len(known), str(value))


def _median_nan_as_worst(values) -> float:
    """Median where NaN counts as +inf: a NaN output (an overflow in float32) is the worst
    possible error, and np.median would otherwise return NaN for the whole cell."""
    values = np.asarray(values, dtype=float)
    return float(np.median(np.where(np.isnan(values), np.inf, values)))


def summarize(records: list[dict]) -> list[dict]:
    """One row per (construction, labels, n, d): how many datasets, the fraction deployable in
    float32, the medians of the float32 error and of the largest weight, and the fraction the
    float64 network fits (`ok`; below 1 means the construction itself failed, not float32)."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        key = (record["construction"], record["labels"], int(record["n"]), int(record["d"]))
        groups.setdefault(key, []).append(record)
    rows = []
    for (construction, labels, n, d), group in groups.items():
        rows.append(dict(
            construction=construction, labels=labels, n=n, d=d, datasets=len(group),
            deployable_fraction=sum(bool(r["deployable_f32"]) for r in group) / len(group),
            median_max_abs_error_f32=_median_nan_as_worst([r["max_abs_error_f32"] for r in group]),
            median_max_abs_weight=_median_nan_as_worst([r["max_abs_weight"] for r in group]),
            ok_fraction=sum(bool(r["ok"]) for r in group) / len(group),
        ))
    rows.sort(key=lambda r: (_order(r["construction"], CONSTRUCTIONS),
                             _order(r["labels"], LABELS), r["d"], r["n"]))
    return rows


def boundary(rows: list[dict]) -> list[dict]:
    """Per (construction, labels, d): the largest n at which every dataset is deployable and the
    smallest n at which at least one is not (None when there is no such n in the grid).

    Both are read literally off the grid, not assuming monotonicity: if the largest deployable
    n exceeds the smallest failing one, deployability is not monotone in n there.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["construction"], row["labels"], row["d"]), []).append(row)
    out = []
    for (construction, labels, d), group in groups.items():
        all_ok = [r["n"] for r in group if r["deployable_fraction"] == 1]
        some_fail = [r["n"] for r in group if r["deployable_fraction"] < 1]
        ns = [r["n"] for r in group]
        datasets = [r["datasets"] for r in group]
        out.append(dict(construction=construction, labels=labels, d=d,
                        n_min=min(ns), n_max=max(ns),
                        largest_deployable_n=max(all_ok) if all_ok else None,
                        smallest_failing_n=min(some_fail) if some_fail else None,
                        datasets_min=min(datasets), datasets_max=max(datasets)))
    out.sort(key=lambda b: (_order(b["construction"], CONSTRUCTIONS),
                            _order(b["labels"], LABELS), b["d"]))
    return out


def write_csv(rows: list[dict], path: str) -> str:
    return tables.write_csv(rows, CSV_COLUMNS, path)


def markdown(rows: list[dict]) -> str:
    """The boundary table, with a note where the float64 construction itself failed."""
    def n_or_dash(n):
        return "-" if n is None else str(n)

    lines = ["# float32 deployability of the exact constructions", "",
             "Networks built in float64 and evaluated in float32 (weights, inputs, arithmetic). "
             "Real labels: deployable when |f32(x_i) - y_i| <= sqrt(eps_32) max(1, max|y|); "
             "\u00b11 labels: when every sign is right. \"-\": no such n in the grid.", ""]
    cells = []
    for b in boundary(rows):
        datasets = (str(b["datasets_min"]) if b["datasets_min"] == b["datasets_max"]
                    else f"{b['datasets_min']}-{b['datasets_max']}")
        cells.append([b["construction"], b["labels"], b["d"], f"{b['n_min']}-{b['n_max']}",
                      n_or_dash(b["largest_deployable_n"]), n_or_dash(b["smallest_failing_n"]),
                      datasets])
    lines += tables.markdown_table(MARKDOWN_COLUMNS, cells, "llrrrrr")
    broken = [r for r in rows if r["ok_fraction"] < 1]
    if broken:
        where = ", ".join(f"{r['construction']}/{r['labels']} n={r['n']} d={r['d']} "
                          f"({r['ok_fraction']:.3g})" for r in broken)
        lines += ["", f"Note: the float64 network itself did not fit every dataset at: {where}."]
    return "\n".join(lines) + "\n"


# --- Figure.

def _fraction_label(value: float) -> str:
    """'1' and '0' only when exact: 255/256 must not read as 1 (the boundary means all)."""
    if value == 1:
        return "1"
    if value == 0:
        return "0"
    return f"{min(max(value, 0.01), 0.99):.2f}"


def plot(rows: list[dict], path: str) -> None:
    """The 2 x 2 heatmap panel. Uses the Agg canvas directly (no pyplot): headless, and no
    global backend switch or open figures left behind in the caller's process."""
    try:
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"drawing {os.path.basename(path)} needs matplotlib: "
                          f"pip install matplotlib") from None

    n_values = sorted({r["n"] for r in rows})
    d_values = sorted({r["d"] for r in rows})
    cmap = colormaps["viridis"].with_extremes(bad="0.85")  # grey: no records for that cell
    small = len(n_values) > 8
    fig = Figure(figsize=(2 * (1.5 + 0.55 * len(n_values)) + 1.2,
                          2 * (1.2 + 0.45 * len(d_values)) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(CONSTRUCTIONS), len(LABELS), sharex=True, sharey=True,
                        squeeze=False)
    image = None
    for i, construction in enumerate(CONSTRUCTIONS):
        for j, labels in enumerate(LABELS):
            ax = axes[i][j]
            cells = np.full((len(d_values), len(n_values)), np.nan)
            for r in rows:
                if r["construction"] == construction and r["labels"] == labels:
                    cells[d_values.index(r["d"]), n_values.index(r["n"])] = r["deployable_fraction"]
            image = ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, vmin=0, vmax=1,
                              origin="lower", aspect="auto", interpolation="nearest")
            for (di, ni), value in np.ndenumerate(cells):
                if np.isfinite(value):
                    ax.text(ni, di, _fraction_label(value), ha="center", va="center",
                            fontsize=7 if small else 9,
                            color="white" if value < 0.6 else "black")
            if np.isnan(cells).all():
                ax.text(0.5, 0.5, "no records", transform=ax.transAxes, ha="center",
                        va="center", color="0.3")
            ax.set_title(f"{TITLES[construction]}: {TITLES[labels]}", fontsize=10)
            ax.set_xticks(range(len(n_values)), [str(n) for n in n_values],
                          rotation=90 if small else 0)
            ax.set_yticks(range(len(d_values)), [str(d) for d in d_values])
            if i == len(CONSTRUCTIONS) - 1:
                ax.set_xlabel("n (points; log\u2082 spaced)")
            if j == 0:
                ax.set_ylabel("d (input dimension)")
    fig.colorbar(image, ax=axes.ravel().tolist(), label="fraction of datasets deployable in "
                                                         "float32")
    fig.suptitle("Exact constructions built in float64, run in float32")
    fig.savefig(path, dpi=150)


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    """precision.csv, precision.md and precision.png from the runs' records in the store."""
    records, seen = [], set()
    for run_id in runs.values():
        for record in store.records(run_id):
            key = (record["config_hash"], record["dataset_index"])
            if key not in seen:  # a config swept by two of the runs counts once
                seen.add(key)
                records.append(record)
    if not records:
        raise ValueError(f"no records in the store for runs {runs}; nothing to render")
    rows = summarize(records)
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, f"{NAME}.csv")
    md_path = os.path.join(out_dir, f"{NAME}.md")
    png_path = os.path.join(out_dir, f"{NAME}.png")
    write_csv(rows, csv_path)  # the tables first: they need no plotting library
    with open(md_path, "w") as f:
        f.write(markdown(rows))
    plot(rows, png_path)
    return [png_path, csv_path, md_path]

register_experiment(__name__)
