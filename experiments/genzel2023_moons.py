"""Two moons: P(interpolation) and the second-layer width of Dirksen, Finke, Genzel's Algorithm 2
over the maximal bias lambda and the first-layer width n (JMLR 2024; docs/papers/genzel2023.md §4.1,
the authors' experiments/moons.json).

Data: sklearn make_moons(1000, noise 0.05, random_state 0) scaled to max norm 1; the lower moon
(+1, 500 points) is the covered class X-. Full grid as the paper: lambda = 0, 0.05, ..., 2.5
(51) x n = 10, 20, ..., 500 (50) x 50 restarts, float32 (127,500 networks).

Outputs (from the results store alone):
    genzel2023_moons_data.png    the data set (X+ red circles, X- blue triangles)
    genzel2023_moons_interp.png  heatmap of P(interp) over (lambda, n), dashed 0.99 contour
    genzel2023_moons_width.png   heatmap of the mean second-layer width k (vmax 26), same contour
    genzel2023_moons_slices.png  P(interp) and mean k vs lambda at n in {50, 200, 500} and vs n
                                 at lambda in {0, 0.75, 2.5} (nearest values of the grid)
    genzel2023_moons.csv         one row per cell
    genzel2023_moons.md          the numbers the paper's findings are about, from the store

What the paper reports (qualitatively): lambda = 0 never interpolates; a lambda of the order of
R = 1 needs the smallest n, and the required n grows again for larger lambda; at fixed lambda
the mean width first rises with n and then falls to a plateau past the interpolation threshold.
"""

from __future__ import annotations

from jaxmem.experiment import register_experiment
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments._records import scale_size
from jaxmem.sweep import Grid, parse_grid

NAME = "genzel2023_moons"
REGENERATES = ("Dirksen, Finke, Genzel 2023, two moons: P(interpolation) and second-layer width "
               "over the maximal bias and first-layer width (heatmaps, slices, CSV, summary)")

POINTS = 1000
# quick: four widths (one compile each on a CPU) x four lambdas (traced: no compile) x 8
# restarts, one block per config; full: the paper's grid, chunk size from the memory use.
SCALES = {
    "quick": dict(widths=[20, 60, 150, 300], lambdas=[0.0, 0.5, 1.0, 2.5], restarts=8,
                  chunk_size=8),
    "full": dict(widths=g.int_steps(10, 500, 10), lambdas=g.steps(2.5, 0.05), restarts=50,
                 chunk_size=None),
}
SLICE_WIDTHS = (50, 200, 500)
SLICE_LAMBDAS = (0.0, 0.75, 2.5)
WIDTH_VMAX = 26
RISE_FALL_LAMBDA = 1.0


def grid_spec(scale: str) -> dict:
    size = scale_size(SCALES, scale)
    spec = dict(name=f"{NAME}.moons", construction="genzel2023", data="moons",
                datasets=size["restarts"], seed=g.SEED, dtype="float32",
                axes=dict(n=[POINTS], d=[2], width=size["widths"], max_bias=size["lambdas"]))
    if size["chunk_size"] is not None:
        spec["chunk_size"] = size["chunk_size"]
    return spec


def grids(scale: str) -> list[Grid]:
    return [parse_grid(grid_spec(scale), source=f"{NAME} ({scale})")]


# --- figures ---------------------------------------------------------------------------------

def plot_data(data: str, n: int, dtype: str, path: str) -> str:
    """The fixed data set the configs name, regenerated from its name (deterministic)."""
    from jaxmem.sweep import datasets
    X, y = datasets.fixed_dataset(data, n, dtype)
    fig = g.figure(5.5, 4.2)
    g.scatter(fig.subplots(), X, y, f"two moons: N = {n}, noise 0.05, scaled to max norm 1")
    return g.save(fig, path)


def plot_interp(rows, path: str) -> str:
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="p_interp", vmax=1,
                            title="Two moons: probability of interpolation",
                            colorbar_label="P(interpolation)")


def plot_width(rows, path: str) -> str:
    return g.heatmap_figure(rows, path, x="max_bias", y="width", value="mean_width",
                            vmax=WIDTH_VMAX,
                            title="Two moons: mean second-layer width k\n(jaxmem's k: 0 "
                                  "when no neuron is accepted; the authors' code reports 1)",
                            colorbar_label="mean second-layer width k")


def plot_slices(rows, path: str) -> str:
    return g.slices_figure(rows, path, along_lambda_widths=SLICE_WIDTHS,
                           along_width_lambdas=SLICE_LAMBDAS, title="Two moons: slices",
                           width_ylim=(0, WIDTH_VMAX))


# --- summary ---------------------------------------------------------------------------------

def summary(rows: list[dict]) -> dict:
    """The key numbers, from the cells: max P(interp) at lambda = 0 (None if lambda = 0 is not
    in the grid), n99 per lambda, the lambdas minimizing it (on the cells and on the smoothed
    table), and mean k vs n at lambda = 1 (nearest in the grid)."""
    lambdas = g.values(rows, "max_bias")
    at_zero = [r for r in rows if r["max_bias"] == 0]
    zero = max(at_zero, key=lambda r: (r["p_interp"], -r["width"])) if at_zero else None
    n99 = g.threshold_width(rows)
    best, best_n = g.best_lambdas(n99)
    best_smooth, best_n_smooth = g.best_lambdas(g.smoothed_threshold_width(rows))
    (lam1,) = g.nearest(lambdas, [RISE_FALL_LAMBDA])
    return dict(zero=zero, n99=n99, best_lambdas=best, best_n99=best_n,
                best_lambdas_smoothed=best_smooth, best_n99_smoothed=best_n_smooth,
                rise_fall=g.rise_and_fall(rows, lam1))


def markdown(rows: list[dict]) -> str:
    s = summary(rows)
    lines = ["# Two moons (Dirksen, Finke, Genzel 2023)", "",
             f"Grid: {g.grid_summary(rows)}; float32. n is the first-layer width (the paper's "
             "n), k the second-layer width, P(interp) the fraction of restarts that "
             "interpolate. All numbers are read off the store's records.", ""]
    if s["zero"] is None:
        lines.append("- \u03bb = 0 is not in this grid.")
    else:
        z = s["zero"]
        where = (f"no restart at any width n \u2264 {max(g.values(rows, 'width'))}"
                 if z["interpolated"] == 0 else
                 f"at n = {z['width']}: {z['interpolated']} of {z['restarts']} restarts")
        lines.append(f"- Max P(interp) at \u03bb = 0: **{z['p_interp']:.3g}** ({where}). "
                     "Paper: \u03bb = 0 never interpolates on moons.")
    if s["best_lambdas"]:
        lams = ", ".join(g.fmt_lambda(v) for v in s["best_lambdas"])
        smooth = ", ".join(g.fmt_lambda(v) for v in s["best_lambdas_smoothed"]) or "-"
        lines.append(f"- Smallest n99 (smallest width with P(interp) \u2265 0.99): "
                     f"**n99 = {s['best_n99']}** at \u03bb = {lams}; on the smoothed table "
                     f"(the contour): {g.fmt(s['best_n99_smoothed'])} at \u03bb = {smooth}. "
                     "Paper: a moderate \u03bb of the order of R = 1 needs the smallest n; n99 "
                     "grows again for larger \u03bb.")
    else:
        lines.append("- No cell reaches P(interp) \u2265 0.99.")
    rf = s["rise_fall"]
    if rf is not None:
        plateau = (f"a plateau of {g.num(rf['plateau'])} (mean over n \u2265 n99 = {rf['n99']})"
                   if rf["plateau"] is not None else "no plateau (P(interp) never reaches 0.99)")
        verdict = "yes" if rf["rises_then_falls"] else "no"
        lines.append(f"- Mean k vs n at \u03bb = {g.fmt_lambda(rf['max_bias'])}: "
                     f"{g.num(rf['first'])} at n = {rf['first_width']}, peak **{g.num(rf['peak'])} "
                     f"at n = {rf['peak_width']}**, {g.num(rf['last'])} at n = {rf['last_width']}; "
                     f"{plateau}. Rises then falls: **{verdict}** (paper: yes).")
    lines += ["", "## n99 per \u03bb", ""] + g.threshold_table(rows)
    return "\n".join(lines) + "\n"


def render(store, runs: dict[str, int], out_dir: str) -> list[str]:
    records, rows, path = g.write_tables(store, runs, out_dir, NAME, markdown)
    first = records[0]
    return [path(".csv"), path(".md"),
            plot_data(first["data"], int(first["n"]), first["dtype"], path("_data.png")),
            plot_interp(rows, path("_interp.png")),
            plot_width(rows, path("_width.png")),
            plot_slices(rows, path("_slices.png"))]


register_experiment(__name__)
