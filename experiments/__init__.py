"""The experiment registry: one module per figure or table that `jaxmem reproduce` regenerates.

An experiment module has
    NAME         the name `jaxmem reproduce NAME` takes
    REGENERATES  one line: what it regenerates
    grids(scale) the sweeps it needs, as jaxmem.sweep.Grid objects ("quick" or "full")
    render(store, runs, out_dir)  figures and tables from the store alone; the paths written
(`runs` maps each grid's name to the run id that swept it), and optionally
    compute(store, scale, progress=None)  records that no sweep grid expresses (a draw
                 subsampling a data set, a training run), written to the store resumably;
                 returns {name: run id}, merged into `runs`.

`all_experiments()` lists them in a stable order; `get(name)` finds one.
"""

from __future__ import annotations

import importlib

# Modules holding one experiment each, in the order `jaxmem reproduce --list` shows them.
MODULES = ("experiments.precision", "experiments.genzel2023_moons", "experiments.genzel2023_size",
           "experiments.genzel2023_illustrations", "experiments.genzel2023_real",
           "experiments.yu2024_tables", "experiments.yu2024_table3", "experiments.yu2024_table4",
           "experiments.yu2024_width",
           "experiments.gd_min_width", "experiments.information_plane",
           "experiments.zhang2017_randomization", "experiments.arpit2017",
           "experiments.cover_capacity")


def all_experiments() -> list:
    modules = [importlib.import_module(name) for name in MODULES]
    names = [m.NAME for m in modules]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"experiment names registered twice: {sorted(dupes)}")
    return modules


def get(name: str):
    for module in all_experiments():
        if module.NAME == name:
            return module
    known = ", ".join(m.NAME for m in all_experiments())
    raise KeyError(f"unknown experiment {name!r}; known experiments: {known}")
