"""The experiments `jaxmem reproduce NAME` regenerates: a registry, open to plugins.

An experiment is a module (or any object) with
    NAME         the name `jaxmem reproduce NAME` takes
    REGENERATES  one line: what it regenerates
    grids(scale) the sweeps it needs, as jaxmem.sweep.Grid objects ("quick" or "full")
    render(store, runs, out_dir)  figures and tables from the store alone; the paths written
(`runs` maps each grid's name to the run id that swept it), and optionally
    compute(store, scale, progress=None)  records that no sweep grid expresses (a draw
                 subsampling a data set, a training run), written to the store resumably;
                 returns {name: run id}, merged into `runs`.
A module registers itself with `register_experiment(__name__)` at its end.
"""

from __future__ import annotations

import sys
from typing import Any

from jaxmem.registry import PluginError, Registry

REQUIRED = ("NAME", "REGENERATES", "grids", "render")

EXPERIMENTS: Registry[Any] = Registry("experiment", lambda experiment: experiment.NAME)


def register_experiment(experiment: Any) -> Any:
    """Registers an experiment: a module, a module's name (`__name__`) or an object with the
    attributes above. Returns it."""
    if isinstance(experiment, str):
        experiment = sys.modules[experiment]
    missing = [name for name in REQUIRED if not hasattr(experiment, name)]
    if missing:
        raise PluginError(
            f"experiment {getattr(experiment, '__name__', experiment)!r} lacks "
            f"{', '.join(missing)} (an experiment needs {', '.join(REQUIRED)})"
        )
    origin = getattr(experiment, "__name__", None) or sys._getframe(1).f_globals.get("__name__")
    return EXPERIMENTS.add(experiment, origin=origin)


def all_experiments() -> list:
    """Every registered experiment (the built-in papers' first), in registration order."""
    return EXPERIMENTS.all()


def get(name: str):
    """The registered experiment called `name`; KeyError naming the known ones otherwise."""
    return EXPERIMENTS.get(name)


__all__ = ["EXPERIMENTS", "all_experiments", "get", "register_experiment"]
