"""Decision boundaries of Dirksen, Finke, Genzel's Algorithm 2 (JMLR 2024; docs/papers/genzel2023.md
§4.1 and §4.6, the authors' moons.json and lines.json plots): what each second-layer neuron
accepts.

    lines   two parallel lines 0.1 apart, 20 points; n = 2000, lambda = 1. The worst case: every
            point is closer to the other class than to its own neighbours, so each neuron
            accepts only its center and k = N- = 10.
    moons   the paper's two moons; a 3 x 3 panel n in {100, 250, 500} (rows) x lambda in
            {0, 0.5, 1} (columns), and one large plot n = 2000, lambda = 1. The quick scale
            draws the panel without n = 250, on a coarser mesh.

Each cell is one network (restart 0), swept through the sweep engine (1 dataset per config) so
the store holds its record. Rendering rebuilds every network from the record alone: the
config (checked against the record's config hash), its dataset key `dataset_keys(seed,
config, [index])` and the construction key fold_in(dataset key, 1), exactly as the sweep's
trial (`jaxmem.sweep.trials.construction_trial`) derives it. It then checks that the rebuilt
network has the stored second-layer width k, interpolation flag, uncovered count and greedy
iteration count, and that its forward pass on the data agrees; any difference is a
ReproducibilityError (after the check table is written).

Outputs:
    genzel2023_illustrations_lines.png        the parallel lines' boundary (k in the title)
    genzel2023_illustrations_moons_panel.png  the 3 x 3 panel
    genzel2023_illustrations_moons_large.png  n = 2000, lambda = 1
    genzel2023_illustrations_check.csv        stored vs rebuilt, per cell
    genzel2023_illustrations.md               the cells' k and interpolation, and the check

Drawing: each neuron's acceptance region {x : D_j(x) < m_j} in its own colour, its center as a
star, the network's decision boundary (the union's edge) dashed black, X+ red circles and X-
blue triangles; panels whose network interpolates get a thick dashed frame.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from jaxmem import tables
from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments._records import scale_size
from jaxmem.sweep import Grid, parse_grid

NAME = "genzel2023_illustrations"
REGENERATES = ("Dirksen, Finke, Genzel 2023, decision boundaries: the parallel lines (k = N-) "
               "and the two-moons panel over n and lambda, rebuilt from the store and checked")

PANEL_WIDTHS = [100, 250, 500]
PANEL_LAMBDAS = [0.0, 0.5, 1.0]
LARGE_WIDTH = 2000
LINES_WIDTH = 2000
LAMBDA = 1.0
RESTART = 0
# mesh: points per axis for the acceptance regions (a neuron's region on the lines is a ball of
# radius ~ delta = 0.1; quick's 90 points over [-1.1, 1.1] still resolve it). panel_widths: the
# panel's rows; quick drops n = 250 (each width is one compile for the sweep and one for the
# rebuild; timings: experiments/results/genzel2023/README.md).
SCALES = {"quick": dict(mesh=90, panel_widths=[100, 500]),
          "full": dict(mesh=400, panel_widths=PANEL_WIDTHS)}
MESH_CHUNK = 8192
LINES_YLIM = (-0.55, 0.55)

GRIDS = {  # grid suffix -> (data, points, widths, lambdas); None: the scale's panel_widths
    "lines": ("lines", 20, [LINES_WIDTH], [LAMBDA]),
    "moons_panel": ("moons", 1000, None, PANEL_LAMBDAS),
    "moons_large": ("moons", 1000, [LARGE_WIDTH], [LAMBDA]),
}
# Where the paper's panel interpolates (seed-0 networks; genzel2023.md §4.1). jaxmem's RNG differs
# from NumPy's, so the networks here are other draws of the same distribution.
PAPER_INTERPOLATES = {(250, 0.5), (500, 0.5), (100, 1.0), (250, 1.0), (500, 1.0)}


class ReproducibilityError(RuntimeError):
    """A network rebuilt from its record differs from what the sweep stored."""


def grid_name(suffix: str, scale: str) -> str:
    """The grid's name carries the scale, which fixes only the drawing's mesh (the configs are
    the same at both scales, so their records are shared in the store)."""
    return f"{NAME}.{scale}.{suffix}"


def _parse_name(name: str) -> tuple[str, str]:
    """(scale, suffix) of a grid name; ("full", name) for a name not made by grid_name."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == NAME and parts[1] in SCALES and parts[2] in GRIDS:
        return parts[1], parts[2]
    return "full", name


def grid_specs(scale: str) -> list[dict]:
    size = scale_size(SCALES, scale)
    return [dict(name=grid_name(suffix, scale), construction="genzel2023", data=data,
                 datasets=RESTART + 1, chunk_size=RESTART + 1, seed=g.SEED, dtype="float32",
                 axes=dict(n=[points], d=[2], width=widths or size["panel_widths"],
                           max_bias=lambdas))
            for suffix, (data, points, widths, lambdas) in GRIDS.items()]


def grids(scale: str) -> list[Grid]:
    return [parse_grid(spec, source=f"{NAME} ({scale})") for spec in grid_specs(scale)]


# --- rebuilding a record's network -----------------------------------------------------------

BASE_FIELDS = ("construction", "data", "labels", "dtype", "seed", "n", "d")


def record_config(record: dict) -> dict:
    """The config a record was computed for, from its fields; checked against its hash."""
    from jaxmem.sweep import trials
    from jaxmem.sweep.keys import config_hash
    entry = trials.construction_of(record)
    config = {k: record[k] for k in BASE_FIELDS}
    if "data_fingerprint" in record:   # fixed data: which points (jaxmem.sweep.datasets)
        config["data_fingerprint"] = record["data_fingerprint"]
    config.update({k: record[k] for k in entry.options if k in record})
    if config_hash(config) != record["config_hash"]:
        raise ReproducibilityError(f"record {record['config_hash'][:12]}:{record['dataset_index']}"
                                   f": its fields {config} do not hash to its config hash")
    return config


@functools.lru_cache(maxsize=None)
def _builder(options: tuple):
    """Algorithm 2's build and a forward pass on the data, jit-compiled per static options."""
    import jax

    from jaxmem import network
    from jaxmem.constructions import genzel2023

    def build(key, X, y, dynamic):
        net, info = genzel2023.build(key, X, y, **dict(options), **dynamic)
        keep = ("second_layer_width", "interpolated", "uncovered", "candidates_tried",
                "centers", "thresholds")
        return net, {k: info[k] for k in keep}, network.apply(net, X)
    return jax.jit(build)


def rebuild(record: dict, *, fold: int = 1) -> dict:
    """The network of one record, rebuilt from its config and dataset index: dataset key
    dataset_keys(seed, config, [index])[0], construction key fold_in(it, fold) (the sweep's
    trial uses fold = 1; any other fold gives another network). Returns the first layer (W as
    d x width, b), the active second-layer neurons (U as width x k 0/1, thresholds m, center
    indices), k, interpolated, uncovered, candidates_tried, forward_interpolates (the forward
    pass's +-1 outputs equal the labels), and the data X, y."""
    import jax
    import jax.numpy as jnp

    from jaxmem.sweep import datasets, trials
    from jaxmem.sweep.keys import dataset_keys
    config = record_config(record)
    if not trials.family_of(config).fixed or trials.construction_of(config).task != "binary":
        raise ValueError("rebuild draws binary networks on fixed data sets")
    (key,) = dataset_keys(config["seed"], config, [record["dataset_index"]])
    X, y = datasets.fixed_dataset(config["data"], config["n"], config["dtype"])
    static, dynamic = trials.split_options(config)
    dtype = jnp.dtype(config["dtype"])
    net, info, out = _builder(static)(jax.random.fold_in(key, fold), X, y,
                                      {k: jnp.asarray(v, dtype) for k, v in dynamic.items()})
    k = int(info["second_layer_width"])
    first, second = net.layers[0], net.layers[1]
    return dict(
        config=config, X=np.asarray(X), y=np.asarray(y),
        W=np.asarray(first.weight), b=np.asarray(first.bias),
        U=-np.asarray(second.weight)[:, :k], thresholds=np.asarray(second.bias)[:k],
        centers=np.asarray(info["centers"])[:k], k=k,
        interpolated=bool(info["interpolated"]), uncovered=int(info["uncovered"]),
        candidates_tried=int(info["candidates_tried"]),
        forward_interpolates=bool(np.all(np.asarray(out) == np.asarray(y))))


CHECKED = ("second_layer_width", "interpolated", "uncovered", "candidates_tried")
CHECK_COLUMNS = ("grid", "data", "n", "width", "max_bias", "dataset_index", "config_hash",
                 *(f"{w}_{m}" for m in CHECKED for w in ("stored", "rebuilt")),
                 "rebuilt_forward_interpolates", "match")


def check(grid: str, record: dict, net: dict) -> dict:
    """Stored vs rebuilt: k, interpolation, uncovered count, greedy iterations; and the forward
    pass must agree with the bookkeeping."""
    rebuilt = dict(second_layer_width=net["k"], interpolated=net["interpolated"],
                   uncovered=net["uncovered"], candidates_tried=net["candidates_tried"])
    row = dict(grid=grid, data=record["data"], n=record["n"], width=record["width"],
               max_bias=record["max_bias"], dataset_index=record["dataset_index"],
               config_hash=record["config_hash"],
               rebuilt_forward_interpolates=net["forward_interpolates"])
    match = net["forward_interpolates"] == net["interpolated"]
    for m in CHECKED:
        stored = bool(record[m]) if m == "interpolated" else int(record[m])
        row[f"stored_{m}"], row[f"rebuilt_{m}"] = stored, rebuilt[m]
        match = match and stored == rebuilt[m]
    row["match"] = bool(match)
    return row


# --- drawing ---------------------------------------------------------------------------------

def acceptance(net: dict, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """fires[j, iy, ix]: neuron j accepts the mesh point (xs[ix], ys[iy]), i.e. the number of
    hyperplanes inactive at its center and active at the point is below m_j."""
    XX, YY = np.meshgrid(xs, ys)
    points = np.stack([XX.ravel(), YY.ravel()], axis=1).astype(net["W"].dtype)
    fires = np.empty((net["k"], len(points)), bool)
    U = net["U"].astype(np.float32)
    for start in range(0, len(points), MESH_CHUNK):
        chunk = points[start:start + MESH_CHUNK]
        H = (chunk @ net["W"] + net["b"] > 0).astype(np.float32)
        fires[:, start:start + MESH_CHUNK] = (H @ U < net["thresholds"]).T
    return fires.reshape(net["k"], len(ys), len(xs))


def _limits(X, pad=0.12):
    lo, hi = X.min(axis=0), X.max(axis=0)
    return (lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1] + pad)


def draw(ax, net: dict, mesh: int, *, title: str, xlim=None, ylim=None, marker_size=8) -> None:
    from matplotlib import colormaps
    X, y = net["X"], net["y"]
    auto_x, auto_y = _limits(X)
    xlim, ylim = xlim or auto_x, ylim or auto_y
    xs = np.linspace(*xlim, mesh)
    ys = np.linspace(*ylim, max(2, int(round(mesh * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])))))
    fires = acceptance(net, xs, ys)
    colours = colormaps["tab10"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a region smaller than the mesh draws nothing
        for j in range(net["k"]):
            if fires[j].any():
                ax.contourf(xs, ys, fires[j].astype(float), levels=[0.5, 1.5],
                            colors=[colours(j % 10)], alpha=0.35)
        union = fires.any(axis=0)
        if union.any() and not union.all():
            ax.contour(xs, ys, union.astype(float), levels=[0.5], colors="black",
                       linestyles="--", linewidths=1.2)
    g.scatter(ax, X, y, size=marker_size, legend=False)
    for j, c in enumerate(net["centers"]):
        ax.scatter(X[c, 0], X[c, 1], marker="*", s=12 * marker_size, color=colours(j % 10),
                   edgecolors="black", linewidths=0.6, zorder=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=9)
    if net["interpolated"]:
        for spine in ax.spines.values():
            spine.set_linestyle((0, (4, 2)))
            spine.set_linewidth(3)


def _cell_title(net: dict) -> str:
    c = net["config"]
    state = "interpolates" if net["interpolated"] else f"{net['uncovered']} uncovered"
    return f"n = {c['width']}, \u03bb = {c['max_bias']:g}: k = {net['k']} ({state})"


def plot_lines(net: dict, mesh: int, path: str) -> str:
    negatives = int((net["y"] > 0).sum())
    fig = g.figure(10, 5.6)
    ax = fig.subplots()
    c = net["config"]
    draw(ax, net, mesh, xlim=(-1.1, 1.1), ylim=LINES_YLIM, marker_size=20,
         title=f"Two parallel lines (\u03b4 = 0.1): n = {c['width']}, \u03bb = {c['max_bias']:g}, "
               f"restart {RESTART}: k = {net['k']} second-layer neurons "
               f"(N\u207b = {negatives}); "
               + ("interpolates" if net["interpolated"] else f"{net['uncovered']} uncovered"))
    return g.save(fig, path)


def plot_panel(nets: dict, mesh: int, path: str) -> str:
    """nets: (width, lambda) -> rebuilt network; rows = widths, columns = lambdas."""
    widths = sorted({w for w, _ in nets})
    lambdas = sorted({lam for _, lam in nets})
    fig = g.figure(4.2 * len(lambdas), 3.1 * len(widths))
    axes = fig.subplots(len(widths), len(lambdas), squeeze=False)
    for i, w in enumerate(widths):
        for j, lam in enumerate(lambdas):
            ax = axes[i][j]
            if (w, lam) not in nets:
                ax.set_axis_off()
                continue
            draw(ax, nets[(w, lam)], mesh, title=_cell_title(nets[(w, lam)]), marker_size=4)
            if i < len(widths) - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
    fig.suptitle(f"Two moons, restart {RESTART}: rows = width of first layer n, columns = "
                 "maximal bias \u03bb; coloured: each neuron's acceptance region, stars: centers, "
                 "dashed: decision boundary, thick dashed frame: interpolates", fontsize=9)
    return g.save(fig, path)


def plot_large(net: dict, mesh: int, path: str) -> str:
    fig = g.figure(8, 5.5)
    draw(fig.subplots(), net, mesh, title="Two moons, restart 0: " + _cell_title(net),
         marker_size=8)
    return g.save(fig, path)


# --- render ----------------------------------------------------------------------------------

def write_check_csv(rows: list[dict], path: str) -> str:
    return tables.write_csv(rows, CHECK_COLUMNS, path)


def markdown(checks: list[dict], nets: dict) -> str:
    ok = all(r["match"] for r in checks)
    lines = ["# Decision boundaries (Dirksen, Finke, Genzel 2023)", "",
             f"Restart {RESTART} of each cell, float32; n is the first-layer width, k the "
             "second-layer width.", "",
             f"Reproducibility check: {sum(r['match'] for r in checks)} of {len(checks)} networks "
             "rebuilt from their records (config, dataset key, construction key fold_in(., 1)) "
             "have the stored k, interpolation flag, uncovered count and greedy iterations, and "
             "a forward pass that agrees: **" + ("passed" if ok else "FAILED") + "**.", ""]
    lines_net = nets.get("lines")
    if lines_net:
        (net,) = lines_net.values()
        negatives = int((net["y"] > 0).sum())
        lines.append(f"- Parallel lines: k = **{net['k']}** with N\u207b = {negatives} "
                     f"(interpolates: {net['interpolated']}); paper: k = N\u207b = 10, one neuron "
                     "per negative point (the worst case).")
    panel = nets.get("moons_panel", {})
    if panel:
        here = sorted(key for key, net in panel.items() if net["interpolated"])
        paper = sorted(key for key in PAPER_INTERPOLATES if key in panel)
        lines.append("- Moons panel, interpolating cells (n, \u03bb): here "
                     + (", ".join(f"({w}, {lam:g})" for w, lam in here) or "none")
                     + "; the paper's seed-0 panel, on the same cells: "
                     + (", ".join(f"({w}, {lam:g})" for w, lam in paper) or "none")
                     + " (other random draws: agreement is statistical, not cell by cell).")
    lines += [""] + tables.markdown_table(
        ["grid", "n", "\u03bb", "k", "interpolates", "uncovered", "rebuilt = stored"],
        ([r["grid"].split(".")[-1], r["width"], f"{r['max_bias']:g}",
          r["stored_second_layer_width"], r["stored_interpolated"], r["stored_uncovered"],
          "yes" if r["match"] else "**no**"] for r in checks),
        "lrrrlrl")
    return "\n".join(lines) + "\n"


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    """Rebuilds and checks every cell's network, writes the check table and summary, then (only
    when every network reproduces) the figures, on the mesh of the scale the grid names carry."""
    records = g.records_by_grid(store, runs)
    checks, nets, mesh = [], {}, SCALES["quick"]["mesh"]
    for name, recs in records.items():
        scale, suffix = _parse_name(name)
        mesh = max(mesh, SCALES[scale]["mesh"])
        nets[suffix] = {}
        for record in recs:
            if record["dataset_index"] != RESTART:
                continue
            net = rebuild(record)
            checks.append(check(name, record, net))
            nets[suffix][(int(record["width"]), float(record["max_bias"]))] = net
    path = lambda suffix: g.out_path(out_dir, f"{NAME}{suffix}")  # noqa: E731
    write_check_csv(checks, path("_check.csv"))
    with open(path(".md"), "w") as f:
        f.write(markdown(checks, nets))
    bad = [r for r in checks if not r["match"]]
    if bad:
        raise ReproducibilityError(
            f"{len(bad)} of {len(checks)} networks rebuilt from their records differ from the "
            f"store (see {path('_check.csv')}): " + "; ".join(
                f"{r['grid']} n={r['width']} lambda={r['max_bias']:g}: k stored "
                f"{r['stored_second_layer_width']} rebuilt {r['rebuilt_second_layer_width']}"
                for r in bad[:5]))
    paths = [path("_check.csv"), path(".md")]
    if nets.get("lines"):
        (net,) = nets["lines"].values()
        paths.append(plot_lines(net, mesh, path("_lines.png")))
    if nets.get("moons_panel"):
        paths.append(plot_panel(nets["moons_panel"], mesh, path("_moons_panel.png")))
    if nets.get("moons_large"):
        (net,) = nets["moons_large"].values()
        paths.append(plot_large(net, mesh, path("_moons_large.png")))
    return paths

register_experiment(__name__)
