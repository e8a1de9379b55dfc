"""The minimum width at which gradient descent memorizes: the phase diagram of
docs/papers/gd-width.md §3, and m* d / n for each n/d.

For each setting (labels +-1 with the logistic loss, or N(0, 1) labels with the squared loss;
an optimizer), each d and each n = d * n/d with n/d in {2, 4, 8, 16, 32}: X ~ N(0, I_d / d),
two-layer ReLU networks d -> m -> 1 (He initialization, full batch), `seeds` datasets, each
with its own initialization, trained at each width m for at most `max_steps` updates. A
network memorizes when it reaches 100% train accuracy (+-1) or max |f - y| <= 1e-3 std(y)
(real labels). m* is the smallest width memorizing with probability >= 1/2, found by
`jaxmem.training.min_width.min_memorizing_width`: a geometric grid in units of n/d, then
parallel bisection (every width of a round trained in one call).

Records (one per seed, per (problem, width) config): memorized, steps_to_fit, steps_run,
loss, train_accuracy, max_residual. A rerun reads every width already in the store, so it
follows the same bisection path and trains nothing twice.

Outputs (from the store alone):
    gd_min_width.png       success probability against width / (n/d), one curve per n, one
                           panel per (setting, d)
    gd_min_width_ratio.png m* d / n against n/d (flat if GD memorizes at width ~ n/d), with
                           the counting bound (n - 1) d / ((d + 2) n) for real labels
    gd_min_width.csv       one row per (setting, d, n, width)
    gd_min_width.md        m*, m* d/n, P*/n, the logistic-fit m_half and w90/w10 per cell
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys

import jax
import numpy as np

from jaxmem import tables
from jaxmem.experiment import ExperimentRun, experiment_run, register_experiment
from jaxmem.experiments._records import run_records, scale_size
from jaxmem.stats import loglog_slope
from jaxmem.sweep.keys import config_id
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.training import min_width

NAME = "gd_min_width"
REGENERATES = ("Minimum width at which gradient descent memorizes n random points in R^d: "
               "the phase diagram over width/(n/d) and m* d/n per n/d (docs/papers/gd-width.md §3)")

SEED = 0
RATIOS = (2, 4, 8, 16, 32)   # n / d
# A setting: (labels, optimizer, learning rate, max_steps, widest width / (n/d) of round 0).
# +-1 labels need fewer units than real ones (gd-width.md §2: signs are cheaper), so their first
# grid stops at 4 n/d.
SCALES = {
    # quick stops at n/d = 16: at n/d = 32 a fixed step budget, not the width, decides
    # (measured: m* d/n jumps from 1 to 2.25 between n/d = 16 and 32 at T = 1500).
    "quick": dict(dims=(4,), ratios=RATIOS[:4], seeds=8,
                  settings=(("sign", "gd", 2.0, 1500, 4), ("gaussian", "adam", 1e-2, 3000, 8))),
    "full": dict(dims=(8, 16, 32), ratios=RATIOS, seeds=32,
                 settings=(("sign", "gd", 2.0, 4000, 4), ("sign", "adam", 1e-2, 4000, 4),
                           ("gaussian", "adam", 1e-2, 8000, 8))),
}
METRICS = ("memorized", "steps_to_fit", "steps_run", "loss", "train_accuracy", "max_residual")
CSV_COLUMNS = ("labels", "optimizer", "lr", "max_steps", "d", "n", "n_over_d", "width",
               "width_over_n_over_d", "seeds", "success", "median_steps_to_fit")


@dataclasses.dataclass(frozen=True)
class Cell:
    problem: min_width.Problem
    max_ratio: float

    @property
    def key(self) -> dict:
        """What the cell's data and initialization are derived from (not the width)."""
        p = self.problem
        return dict(experiment=NAME, n=p.n, d=p.d, labels=p.labels, inputs=p.inputs,
                    optimizer=p.optimizer, lr=p.lr, max_steps=p.max_steps, tol=p.tol,
                    init=p.init)

    def config(self, width: int) -> dict:
        return dict(self.key, width=int(width))


def cells(size: dict) -> list[Cell]:
    out = []
    for labels, optimizer, lr, steps, max_ratio in size["settings"]:
        for d in size["dims"]:
            for r in size["ratios"]:
                out.append(Cell(min_width.Problem(n=d * r, d=d, labels=labels,
                                                  optimizer=optimizer, lr=lr, max_steps=steps,
                                                  seeds=size["seeds"]), max_ratio))
    return out


def _keys(cell: Cell):
    base = jax.random.fold_in(jax.random.key(SEED), config_id(cell.key))
    return jax.random.fold_in(base, 0), jax.random.fold_in(base, 1)


@functools.lru_cache(maxsize=1)
def _train_round(cell: Cell, widths: tuple) -> dict:
    """Every width of one bisection round trained in one call, on the same data and
    initializations (`min_width.success_curve`); each width's job takes its row."""
    return min_width.success_curve(cell.problem, list(widths), *_keys(cell))


def _width_trial(cell: Cell, widths: tuple, row: int, keys, indices) -> dict:
    # Dataset s is seed s, drawn from the cell's keys (_keys), not from the engine's `keys`.
    res = _train_round(cell, widths)
    return {k: res[k][row][indices] for k in METRICS}


def round_jobs(cell: Cell, widths) -> list[Job]:
    """One engine job per width of a round: its `seeds` datasets in one host block. The round
    is trained as a whole, so a width's records do not depend on which others the store
    already holds."""
    widths = tuple(int(w) for w in widths)
    cfgs = [cell.config(w) for w in widths]
    seeds = cell.problem.seeds
    return [Job(config=cfg, datasets=seeds, root=root,
                trial=functools.partial(_width_trial, cell, widths, row),
                program=(NAME, cell, widths), host=True, block=True, chunk_size=seeds)
            for row, (cfg, root) in enumerate(zip(cfgs, root_key_datas(SEED, cfgs)))]


def run_cell(run: ExperimentRun, cell: Cell) -> dict:
    """m* of one cell; the engine trains only the widths the store lacks."""

    def evaluate(widths):
        # Every width is read back from the store: what the rest of the bisection and the
        # figures see is what was stored, whichever run trained it.
        columns = run.run(round_jobs(cell, widths), collect=True)
        return {w: np.asarray(c["memorized"], bool) for w, c in zip(widths, columns)}

    return min_width.min_memorizing_width(
        cell.problem, *_keys(cell), evaluate=evaluate,
        first_widths=min_width.first_round(cell.problem, cell.max_ratio))


def run(store, scale: str, *, size: dict | None = None, progress: bool | None = None,
        stream=None) -> dict:
    """Every cell's m* at `scale` (or an explicit size dict with SCALES' keys), training what
    the store lacks. Returns {"run_id", "computed", "skipped", "seconds", "cells": [...]}."""
    size = scale_size(SCALES, scale) if size is None else size
    grid = dict(experiment=NAME, scale=scale, size=size)   # tuples are stored as JSON arrays
    # The configs (widths) are found as the bisection goes: one engine call per round.
    with experiment_run(store, NAME, grid, progress=progress) as run:
        results = [run_cell(run, cell) for cell in cells(size)]
    stats = run.stats
    print(f"{NAME}: {stats.computed} networks trained, {stats.skipped} already in the "
          f"store ({stats.seconds:.1f} s)", file=stream or sys.stdout, flush=True)
    return dict(run_id=stats.run_id, seconds=stats.seconds, cells=results,
                computed=stats.computed, skipped=stats.skipped)


# --- the registry hooks ----------------------------------------------------------------------

def grids(scale: str) -> list:
    """No sweep grid: the widths a cell needs depend on its earlier rounds (`compute`)."""
    scale_size(SCALES, scale)
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    return {NAME: run(store, scale, progress=progress)["run_id"]}


# --- tables and figures from the store -------------------------------------------------------

def width_rows(records: list[dict]) -> list[dict]:
    """One row per (setting, d, n, width): the success probability over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["labels"], r["optimizer"], r["lr"], r["max_steps"], r["d"], r["n"], r["width"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (labels, opt, lr, steps, d, n, w), recs in sorted(groups.items()):
        mem = np.array([bool(r["memorized"]) for r in recs])
        fit_steps = np.array([r["steps_to_fit"] for r in recs if bool(r["memorized"])])
        rows.append(dict(labels=labels, optimizer=opt, lr=lr, max_steps=steps, d=d, n=n,
                         n_over_d=n / d, width=w, width_over_n_over_d=w * d / n,
                         seeds=len(recs), success=float(mem.mean()),
                         median_steps_to_fit=float(np.median(fit_steps)) if fit_steps.size
                         else math.nan, outcomes=mem))
    return rows


def cell_summaries(rows: list[dict]) -> list[dict]:
    """Per (setting, d, n): m* (smallest width with success >= 1/2), its ratios, the logistic
    fit and the counting bound."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["labels"], r["optimizer"], r["lr"], r["max_steps"], r["d"],
                           r["n"]), []).append(r)
    out = []
    for (labels, opt, lr, steps, d, n), rs in sorted(groups.items()):
        curve = {r["width"]: r["success"] for r in rs}
        ok = sorted(w for w, p in curve.items() if p >= 0.5)
        m_star = ok[0] if ok else None
        fit = min_width.logistic_fit([(r["width"], r["outcomes"]) for r in rs])
        out.append(dict(labels=labels, optimizer=opt, lr=lr, max_steps=steps, d=d, n=n,
                        n_over_d=n // d, m_star=m_star,
                        ratio=m_star * d / n if m_star else math.nan,
                        parameter_ratio=(m_star * (d + 2) + 1) / n if m_star else math.nan,
                        m_half=fit["m_half"], w90_over_w10=fit["w90_over_w10"],
                        counting_bound=(n - 1) / (d + 2), widths_tried=len(rs),
                        seeds=rs[0]["seeds"]))
    return out


def write_csv(rows: list[dict], path: str) -> str:
    return tables.write_csv(rows, CSV_COLUMNS, path)


def _setting(r) -> str:
    loss = "logistic" if r["labels"] == "sign" else "squared"
    return f"{r['labels']} labels, {loss}, {r['optimizer']} lr {r['lr']:g}, T={r['max_steps']}"


def plot_phase(rows: list[dict], path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    panels = sorted({(_setting(r), r["d"]) for r in rows})
    fig = g.figure(4.2 * len(panels), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (setting, d) in zip(axes, panels):
        sub = [r for r in rows if _setting(r) == setting and r["d"] == d]
        for n in sorted({r["n"] for r in sub}):
            pts = sorted((r["width_over_n_over_d"], r["success"]) for r in sub if r["n"] == n)
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"n = {n} (n/d = {n // d})")
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width / (n/d)")
        ax.set_ylabel("P(memorized)")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{setting}\nd = {d}", fontsize=8)
        ax.legend(fontsize=6)
    return g.save(fig, path)


def plot_ratio(summaries: list[dict], path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    fig = g.figure(5.5, 3.8)
    ax = fig.subplots()
    for (setting, d) in sorted({(_setting(s), s["d"]) for s in summaries}):
        sub = sorted((s["n_over_d"], s["ratio"], s["counting_bound"] * d / s["n"])
                     for s in summaries if _setting(s) == setting and s["d"] == d)
        x, ratio, bound = zip(*sub)
        line, = ax.plot(x, ratio, marker="o", label=f"{setting}, d = {d}")
        if sub and "gaussian" in setting:
            ax.plot(x, bound, color=line.get_color(), ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("n / d")
    ax.set_ylabel("m* d / n")
    ax.set_title("minimum memorizing width in units of n/d\n(dotted: counting bound "
                 "(n-1)/(d+2), real labels)", fontsize=8)
    ax.legend(fontsize=6)
    return g.save(fig, path)


def _num(x, spec=".3g") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else \
        format(x, spec)


def markdown(summaries: list[dict]) -> str:
    lines = [f"# {NAME}: the minimum width at which gradient descent memorizes", "",
             "m* = smallest width with P(memorized) >= 1/2 over seeds (dataset and init); "
             "m_half and w90/w10 from a logistic fit of every outcome in log width; "
             "P = m (d + 2) + 1 parameters; counting bound (n - 1)/(d + 2) (real labels "
             "only, gd-width.md §2).", ""]
    rows = []
    for s in summaries:
        bound = _num(s["counting_bound"]) if s["labels"] == "gaussian" else "-"
        rows.append([_setting(s), s["d"], s["n"], s["n_over_d"],
                     _num(s["m_star"], "d") if s["m_star"] else "> max",
                     _num(s["ratio"]), _num(s["parameter_ratio"]), _num(s["m_half"]),
                     _num(s["w90_over_w10"]), bound, s["widths_tried"], s["seeds"]])
    lines += tables.markdown_table(
        ["setting", "d", "n", "n/d", "m*", "m* d/n", "P*/n", "m_half", "w90/w10",
         "counting bound", "widths tried", "seeds"], rows)
    lines += ["", "gd-width.md §3 predicts m* d/n roughly flat in n/d (GD memorizes at width "
              "~ n/d up to logs), P*/n >= 1 for real labels (the counting bound cannot be "
              "beaten), and a smaller m* for +-1 labels than for real ones."]
    for setting in sorted({_setting(s) for s in summaries}):
        for d in sorted({s["d"] for s in summaries if _setting(s) == setting}):
            sub = [s for s in summaries if _setting(s) == setting and s["d"] == d
                   and math.isfinite(s["ratio"])]
            if len(sub) >= 2:
                slope = loglog_slope([s["n_over_d"] for s in sub], [s["ratio"] for s in sub])
                lines.append(f"- {setting}, d = {d}: m* d/n from {min(s['ratio'] for s in sub):.3g}"
                             f" to {max(s['ratio'] for s in sub):.3g}; log-log slope against "
                             f"n/d {slope:+.2f} (0 = flat)")
    return "\n".join(lines) + "\n"


def render(store, runs: dict, out_dir: str) -> list[str]:
    from jaxmem.experiments import _genzel2023 as g
    records = run_records(store, runs, NAME)
    rows = width_rows(records)
    summaries = cell_summaries(rows)
    paths = [write_csv(rows, g.out_path(out_dir, f"{NAME}.csv")),
             plot_phase(rows, g.out_path(out_dir, f"{NAME}.png")),
             plot_ratio(summaries, g.out_path(out_dir, f"{NAME}_ratio.png"))]
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write(markdown(summaries))
    return paths + [md]

register_experiment(__name__)
