"""Real data: Dirksen, Finke, Genzel's Algorithm 2 on MNIST and CIFAR-10 (one-vs-rest, a shared
first layer) and on MNIST 1 vs 8 / 1 vs 9 over the sample size (JMLR 2024; docs/papers/genzel2023.md
§4.3-4.5, the authors' mnist.json, cifar10.json, mnist_1vs8_size.json, mnist_1vs9_size.json).

Full grids as the paper (float32, every data set scaled to max norm 1):
    mnist      all 70,000 images; lambda = 0, 0.1, ..., 2.5 (26) x n = 20, 40, ..., 500 (25)
               x 25 restarts
    cifar10    all 60,000 images; lambda = 0, 0.25, ..., 2.5 (11) x n = 150, 300, ..., 1500
               (10) x 10 restarts
    mnist_1v8  digit 1 (+1, covered) vs 8; N = 10%, 20%, ..., 100% of the 14,702 points (nested
               stratified subsets) x n in {500, 5000, 10000} x 25 restarts, lambda = 0.5
    mnist_1v9  the same for 1 vs 9 (14,835 points)
and, jaxmem's addition (no files needed, so it always runs where the others can): digits,
scikit-learn's 1797 8x8 digits, on the MNIST grid.

The data files come from $JAXMEM_DATA or --data-dir (`jaxmem.data.real`); when they are
absent, `grids` raises a GridError carrying the loader's message (where it looked, how to
provide them), and `jaxmem reproduce` prints it and exits 2. The quick scale runs the same code
paths on prefixes: the first 1000 MNIST and 500 CIFAR-10 images and all 1797 digits at widths
{50, 200} x lambda in {0, 1}; the first 100 and 200 points of each pair at n = 500, lambda =
0.5; 3 restarts.

Outputs (from the results store alone; the sample images are read from the data files):
    genzel2023_real_samples.png            one image per class of each one-vs-rest data set
    genzel2023_real_{data}_interp.png      heatmap of P(interp) over (lambda, n), 0.99 contour
    genzel2023_real_{data}_width.png       heatmap of the mean total second-layer width
    genzel2023_real_{data}_slices.png      P(interp) and mean width vs lambda and vs n
    genzel2023_real_size.png               1 vs 8 and 1 vs 9 at n = 5000: P(interp) and mean
                                           width vs N
    genzel2023_real.csv                    one row per cell of every grid
    genzel2023_real.md                     the numbers the paper's findings are about
"""

from __future__ import annotations

import numpy as np

from jaxmem import tables
from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments._records import scale_size
from jaxmem.sweep import Grid, parse_grid

NAME = "genzel2023_real"
REGENERATES = ("Dirksen, Finke, Genzel 2023, real data: MNIST and CIFAR-10 one-vs-rest over "
               "lambda and n, MNIST 1 vs 8 / 1 vs 9 over the sample size (needs the data files)")

MULTICLASS = ("digits", "mnist", "cifar10")
PAIRS = ("mnist_1v8", "mnist_1v9")
DIMS = {"digits": 64, "mnist": 784, "cifar10": 3072, "mnist_1v8": 784, "mnist_1v9": 784}
FULL_POINTS = {"digits": 1797, "mnist": 70_000, "cifar10": 60_000, "mnist_1v8": 14_702,
               "mnist_1v9": 14_835}
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PAIR_LAMBDA = 0.5
PAIR_PLOT_WIDTH = 5000


def decile_sizes(total: int) -> list[int]:
    """The sizes of the nested 10%, ..., 100% subsets (`jaxmem.data.tasks.nested_subsets`)."""
    return [round(f * total) for f in DECILES]


_MNIST_FULL = dict(widths=g.int_steps(20, 500, 20), lambdas=g.steps(2.5, 0.1), restarts=25)
SCALES = {
    # quick: prefixes, one or two widths (each one compile per data set), 3 restarts
    "quick": {
        "digits": dict(points=[1797], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "mnist": dict(points=[1000], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "cifar10": dict(points=[500], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "mnist_1v8": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA], restarts=3),
        "mnist_1v9": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA], restarts=3),
    },
    "full": {
        "digits": dict(points=[1797], **_MNIST_FULL),
        "mnist": dict(points=[70_000], **_MNIST_FULL),
        "cifar10": dict(points=[60_000], widths=g.int_steps(150, 1500, 150),
                        lambdas=g.steps(2.5, 0.25), restarts=10),
        "mnist_1v8": dict(points=decile_sizes(14_702), widths=[500, 5000, 10_000],
                          lambdas=[PAIR_LAMBDA], restarts=25),
        "mnist_1v9": dict(points=decile_sizes(14_835), widths=[500, 5000, 10_000],
                          lambdas=[PAIR_LAMBDA], restarts=25),
    },
}
# The paper's slices and colour scales (genzel2023.md §4.3, §4.4); digits uses MNIST's slices.
SLICE_WIDTHS = {"digits": (100, 300, 500), "mnist": (100, 300, 500),
                "cifar10": (300, 900, 1500)}
SLICE_LAMBDAS = (0.0, 1.0, 2.5)
WIDTH_VMAX = {"mnist": 49_418, "cifar10": 57_076}  # used on the full data sets only
# What the paper reports (genzel2023.md §4.3-4.4), quoted next to the numbers measured here.
PAPER_THRESHOLD = {
    "mnist": "paper: \u03bb = 0 has the lowest threshold; it rises with \u03bb",
    "cifar10": "paper: a larger n than on MNIST, growing with \u03bb",
    "digits": "no paper figure: jaxmem's addition"}
PAPER_WIDTH = {
    "mnist": "paper: far below 1, and falling as n grows",
    "cifar10": "paper: close to one neuron per training point",
    "digits": "no paper figure"}
TITLES = {"digits": "scikit-learn digits (8\u00d78)", "mnist": "MNIST", "cifar10": "CIFAR-10",
          "mnist_1v8": "MNIST 1 vs 8", "mnist_1v9": "MNIST 1 vs 9"}


def grid_name(data: str) -> str:
    return f"{NAME}.{data}"


def grid_specs(scale: str) -> list[dict]:
    """The grids as dicts (checking them loads the data; these do not)."""
    sizes = scale_size(SCALES, scale)
    specs = []
    for data, size in sizes.items():
        multiclass = data in MULTICLASS
        axes = dict(n=size["points"], d=[DIMS[data]], width=size["widths"],
                    max_bias=size["lambdas"])
        if multiclass:
            axes["num_classes"] = [10]
        spec = dict(name=grid_name(data),
                    construction="genzel2023.multiclass" if multiclass else "genzel2023",
                    data=data, datasets=size["restarts"], seed=g.SEED, dtype="float32",
                    axes=axes)
        if scale == "quick":
            spec["chunk_size"] = size["restarts"]
        specs.append(spec)
    return specs


def grids(scale: str) -> list[Grid]:
    """Checking a grid loads its data: absent files raise a GridError saying how to provide
    them (digits, bundled with scikit-learn, is checked first and never fails that way)."""
    return [parse_grid(spec, source=f"{NAME} ({scale}, {spec['data']})")
            for spec in grid_specs(scale)]


# --- figures ---------------------------------------------------------------------------------

def _image(x: np.ndarray, data: str) -> np.ndarray:
    """A flattened image as something imshow draws: MNIST/digits gray, CIFAR RGB planes."""
    if data == "cifar10":
        img = x.reshape(3, 32, 32).transpose(1, 2, 0)
    else:
        side = int(round(np.sqrt(x.size)))
        img = x.reshape(side, side)
    top = img.max()
    return img / top if top > 0 else img


def plot_samples(datas: list[tuple[str, int]], path: str) -> str | None:
    """The first image of each class of each one-vs-rest data set; None when no data set can
    be read now (the figure is the only output that needs the files again)."""
    from jaxmem.data import DataError
    from jaxmem.sweep import datasets
    loaded = []
    for data, n in datas:
        try:
            X, labels = datasets.fixed_dataset(data, n, "float32")
        except (DataError, ValueError):
            continue
        loaded.append((data, X, labels))
    if not loaded:
        return None
    fig = g.figure(10, 1.3 * len(loaded) + 0.6)
    axes = fig.subplots(len(loaded), 10, squeeze=False)
    for row, (data, X, labels) in zip(axes, loaded):
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            hits = np.flatnonzero(labels == c)
            if hits.size:
                ax.imshow(_image(X[hits[0]], data), cmap="gray" if data != "cifar10" else None)
            if c == 0:
                ax.set_ylabel(TITLES[data], fontsize=8)
            ax.set_title(f"class {c}", fontsize=7)
    fig.suptitle("samples (the first point of each class in the swept prefix)", fontsize=10)
    return g.save(fig, path)


def _vmax(data: str, rows: list[dict]):
    full = all(r["n"] == FULL_POINTS.get(data) for r in rows)
    return WIDTH_VMAX.get(data) if full else None


def plot_interp(data: str, rows, path: str) -> str:
    n = rows[0]["n"]
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="p_interp", vmax=1,
                            title=f"{TITLES[data]} (N = {n:,}, one-vs-rest): probability of "
                                  "interpolation", colorbar_label="P(interpolation)")


def plot_width(data: str, rows, path: str) -> str:
    n = rows[0]["n"]
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="mean_width",
                            vmax=_vmax(data, rows),
                            title=f"{TITLES[data]} (N = {n:,}): mean second-layer width k "
                                  "(summed over the 10 classes)",
                            colorbar_label="mean second-layer width k")


def plot_slices(data: str, rows, path: str) -> str:
    return g.slices_figure(rows, path, along_lambda_widths=SLICE_WIDTHS[data],
                           along_width_lambdas=SLICE_LAMBDAS,
                           title=f"{TITLES[data]} (N = {rows[0]['n']:,}): slices")


def plot_size(pair_rows: dict[str, list[dict]], path: str) -> str:
    """P(interp) and mean width vs N at the width nearest n = 5000, one line per pair."""
    fig = g.figure(11, 4.5)
    ax_p, ax_k = fig.subplots(1, 2)
    used = []
    for data, rows in pair_rows.items():
        (width,) = g.nearest(g.values(rows, "width"), [PAIR_PLOT_WIDTH])
        used.append(width)
        line = sorted((r for r in rows if r["width"] == width), key=lambda r: r["n"])
        N = np.array([r["n"] for r in line], float)
        label = f"{TITLES[data]}, n = {width}"
        p = np.array([r["p_interp"] for r in line])
        (h,) = ax_p.plot(N, p, marker="o", markersize=3, label=label)
        ax_p.fill_between(N, [r["p_interp_low"] for r in line],
                          [r["p_interp_high"] for r in line], color=h.get_color(), alpha=0.2,
                          linewidth=0)
        k = np.array([r["mean_width"] for r in line])
        se = np.array([r["se_width"] for r in line])
        (h,) = ax_k.plot(N, k, marker="o", markersize=3, label=label)
        ax_k.fill_between(N, k - g.Z95 * se, k + g.Z95 * se, color=h.get_color(), alpha=0.2,
                          linewidth=0)
    ax_p.set_ylim(-0.03, 1.03)
    for ax, value in ((ax_p, "p_interp"), (ax_k, "mean_width")):
        ax.set_xlabel(g.LABEL["n"])
        ax.set_ylabel(g.LABEL[value])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_k.set_ylim(bottom=0)
    fig.suptitle(f"MNIST pairs over the sample size, \u03bb = {PAIR_LAMBDA:g} "
                 "(nested stratified subsets; bands: 95% Wilson interval, mean \u00b1 1.96 SE)",
                 fontsize=10)
    return g.save(fig, path)


# --- summary ---------------------------------------------------------------------------------

def multiclass_lines(data: str, rows: list[dict]) -> list[str]:
    n99 = g.threshold_width(rows)
    best, best_n = g.best_lambdas(n99)
    N = rows[0]["n"]
    widest = max(g.values(rows, "width"))
    at_widest = [r for r in rows if r["width"] == widest]
    lines = [f"## {TITLES[data]}", "", f"Grid: {g.grid_summary(rows)}; float32, one-vs-rest "
             "(k summed over the 10 classes).", ""]
    zero = ("not in the grid" if 0.0 not in n99 else "not reached" if n99[0.0] is None
            else str(n99[0.0]))
    if best:
        lams = ", ".join(g.fmt_lambda(v) for v in best)
        lines.append(f"- Smallest n99 (width with P(interp) \u2265 0.99): **{best_n}** at "
                     f"\u03bb = {lams}; at \u03bb = 0: {zero} "
                     f"({PAPER_THRESHOLD[data]}).")
    else:
        lines.append("- No cell reaches P(interp) \u2265 0.99.")
    k_min = min(at_widest, key=lambda r: r["mean_width"])
    k_max = max(at_widest, key=lambda r: r["mean_width"])
    lines.append(f"- Mean k at the largest width n = {widest}: {g.num(k_min['mean_width'])} "
                 f"(\u03bb = {k_min['max_bias']:g}) to {g.num(k_max['mean_width'])} (\u03bb = "
                 f"{k_max['max_bias']:g}), i.e. {k_min['mean_width'] / N:.3g}-"
                 f"{k_max['mean_width'] / N:.3g} neurons per training point "
                 f"({PAPER_WIDTH[data]}).")
    lines += [""] + g.threshold_table(rows) + [""]
    return lines


def pair_lines(data: str, rows: list[dict]) -> list[str]:
    lines = [f"## {TITLES[data]} over the sample size (\u03bb = {PAIR_LAMBDA:g})", "",
             f"Grid: {g.grid_summary(rows)}; float32.", ""]
    lines += tables.markdown_table(
        ["width n", "N", "P(interp)", "mean k", "mean k / N"],
        ([r["width"], f"{r['n']:,}", f"{r['p_interp']:.3g}", g.num(r["mean_width"]),
          f"{r['mean_width'] / r['n']:.3g}"]
         for r in sorted(rows, key=lambda r: (r["width"], r["n"]))),
        "r")
    lines.append("")
    for width in g.values(rows, "width"):
        line = sorted((r for r in rows if r["width"] == width), key=lambda r: r["n"])
        slope = g.loglog_slope([r["n"] for r in line], [r["mean_width"] for r in line])
        every = all(r["p_interp"] == 1 for r in line)
        lines.append(f"- n = {width}: log-log slope of mean k vs N = **{g.fmt(slope, '.3f')}** "
                     f"(sublinear if < 1); every restart interpolates at every N: "
                     f"{'yes' if every else 'no'}.")
    lines += ["", "Paper: every run interpolates; the width grows sublinearly in N and stays far "
              "below N; 1 vs 8 needs more neurons than 1 vs 9, and n = 500 a wider second "
              "layer.", ""]
    return lines


def markdown(rows_by_data: dict[str, list[dict]]) -> str:
    lines = ["# Real data (Dirksen, Finke, Genzel 2023)", "",
             "n is the first-layer width, k the second-layer width, P(interp) the fraction of "
             "restarts whose network covers every point with its own class.", ""]
    for data, rows in rows_by_data.items():
        lines += (multiclass_lines if data in MULTICLASS else pair_lines)(data, rows)
    return "\n".join(lines)


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    records = g.records_by_grid(store, runs)
    rows_by_data, all_rows = {}, []
    for name, recs in records.items():
        if not recs:
            continue
        rows = g.cells(recs, grid=name)
        data = rows[0]["data"]
        rows_by_data[data] = rows
        all_rows += rows
    path = lambda suffix: g.out_path(out_dir, f"{NAME}{suffix}")  # noqa: E731
    g.write_cells_csv(all_rows, path(".csv"))
    with open(path(".md"), "w") as f:
        f.write(markdown(rows_by_data))
    paths = [path(".csv"), path(".md")]
    multiclass = [(d, rows_by_data[d][0]["n"]) for d in MULTICLASS if d in rows_by_data]
    samples = plot_samples(multiclass, path("_samples.png"))
    if samples:
        paths.append(samples)
    for data, _ in multiclass:
        rows = rows_by_data[data]
        paths += [plot_interp(data, rows, path(f"_{data}_interp.png")),
                  plot_width(data, rows, path(f"_{data}_width.png")),
                  plot_slices(data, rows, path(f"_{data}_slices.png"))]
    pairs = {d: rows_by_data[d] for d in PAIRS if d in rows_by_data}
    if pairs:
        paths.append(plot_size(pairs, path("_size.png")))
    return paths

register_experiment(__name__)
