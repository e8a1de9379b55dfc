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

`compute` hands its work to the engine as jobs (jaxmem.sweep.runner.Job, usually host jobs
with a `block` trial) through `run_experiment` (or `experiment_run`, for work found as it
goes), which owns keys, resume, leases, progress and the store, as for sweeps and claims.
"""

from __future__ import annotations

import contextlib
import sys
import time
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


class ExperimentRun:
    """One store run of an experiment, open to jobs: `run(jobs)` hands them to the engine
    (jaxmem.sweep.runner.run_jobs) within the run, as often as the experiment needs (a
    bisection finds its next configs from the last ones' records); `stats` adds up."""

    def __init__(self, store, mesh, stats, progress: bool, stream):
        self.store, self.mesh, self.stats = store, mesh, stats
        self.progress, self.stream = progress, stream

    def run(self, jobs: list, *, collect: bool = False):
        """Computes what the store lacks of `jobs`; with collect, each job's values read back
        from the store (dict name -> array over its datasets)."""
        from jaxmem.sweep.runner import run_jobs

        self.stats.configs += len(jobs)
        self.stats.datasets += sum(job.datasets for job in jobs)
        return run_jobs(
            jobs,
            mesh=self.mesh,
            store=self.store,
            run_id=self.stats.run_id,
            stats=self.stats,
            progress=self.progress,
            stream=self.stream,
            collect=collect,
        )


@contextlib.contextmanager
def experiment_run(
    store,
    name: str,
    grid: dict,
    *,
    progress: bool | None = None,
    stream=None,
    devices: int | None = 1,
    code_module: str | None = None,
):
    """A store run of kind "experiment" named `name`, described by `grid`, for the body to
    hand jobs to (`ExperimentRun.run`). Datasets the store holds are skipped, every block is
    written in one transaction (a killed run loses at most the blocks in flight), concurrent
    processes share the blocks. The run ends "done", "interrupted" (Ctrl-C, re-raised) or
    "failed" (any other error, re-raised); the stats' seconds are set on exit. A plain Store
    is wrapped in a CodeAwareStore over `code_module` (default: the calling module), as
    `jaxmem reproduce` wraps it, so records know their code however the experiment is run
    and records of other code stop it."""
    from jaxmem import provenance
    from jaxmem.store.code import CodeAwareStore
    from jaxmem.sweep.runner import SweepStats, environment, make_mesh

    if not isinstance(store, CodeAwareStore):
        caller = code_module or sys._getframe(2).f_globals.get("__name__", "__main__")
        store = CodeAwareStore(store, provenance.provenance((caller,)))
    t0 = time.perf_counter()
    mesh = make_mesh(devices)
    stats = SweepStats()
    stats.run_id = store.begin_run(
        sweep=name, kind="experiment", grid=grid, environment=environment(mesh)
    )
    status = "failed"
    try:
        yield ExperimentRun(
            store, mesh, stats, sys.stderr.isatty() if progress is None else progress, stream
        )
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        stats.seconds = time.perf_counter() - t0
        store.end_run(stats.run_id, status)


def run_experiment(
    store,
    name: str,
    grid: dict,
    jobs: list,
    *,
    progress: bool | None = None,
    stream=None,
    devices: int | None = 1,
):
    """`experiment_run` with one batch of jobs (code recorded over the calling module);
    returns the engine's SweepStats (run_id, configs, computed, skipped, seconds, ...)."""
    caller = sys._getframe(1).f_globals.get("__name__", "__main__")
    with experiment_run(
        store, name, grid, progress=progress, stream=stream, devices=devices, code_module=caller
    ) as run:
        run.run(jobs)
    return run.stats


__all__ = [
    "EXPERIMENTS",
    "ExperimentRun",
    "all_experiments",
    "experiment_run",
    "get",
    "register_experiment",
    "run_experiment",
]
