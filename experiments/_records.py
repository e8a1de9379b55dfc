"""One store run for an experiment that writes its own records (Yu et al.'s tables and width
experiment): what no sweep grid expresses, kept as resumable as a sweep."""

from __future__ import annotations

import contextlib
import dataclasses
import sys

from jaxmem.sweep.keys import canonical_json
from jaxmem.tables import csv_cell, write_csv  # noqa: F401 (write_csv: re-exported)


def scale_size(scales: dict, scale: str):
    """The size of an experiment at `scale` ("quick", "full", ...); ValueError naming the
    known scales otherwise. The one scale check every experiment uses."""
    if scale not in scales:
        raise ValueError(f"unknown scale {scale!r}; known: {', '.join(scales)}")
    return scales[scale]


def run_environment() -> dict:
    from jaxmem.sweep.runner import environment, make_mesh
    return environment(make_mesh(1))


@dataclasses.dataclass
class RunStats:
    """What an experiment's `run` computed and what it found already in the store."""
    run_id: int | None = None
    configs: int = 0
    datasets: int = 0
    computed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    data: str | None = None    # the data source, where the experiment chooses one

    def report(self, name: str, stream=None, detail: str = "") -> None:
        """The one line `jaxmem reproduce` prints per experiment, as it does per sweep."""
        print(f"{name}: {self.computed} datasets computed, {self.skipped} already in the store "
              f"({self.seconds:.1f} s{detail})", file=stream or sys.stdout, flush=True)


@contextlib.contextmanager
def experiment_run(store, sweep: str, grid: dict, configs, *, progress: bool | None = None):
    """Begins a store run (kind "experiment") with `configs`, a list of (hash, config,
    datasets), and yields (run_id, progress bar). On exit the bar closes and the run ends
    "done", "interrupted" (Ctrl-C, re-raised) or "failed" (any other error, re-raised)."""
    from jaxmem.sweep.progress import Progress
    run_id = store.begin_run(sweep=sweep, kind="experiment", grid=grid,
                             environment=run_environment())
    bar = Progress(len(configs), sum(d for *_, d in configs), stream=sys.stderr,
                   enabled=sys.stderr.isatty() if progress is None else progress)
    status = "failed"
    try:
        # In the try: a store that refuses the configs (records of other code,
        # jaxmem.store.code) leaves the run marked failed, not running.
        store.add_configs(run_id, [(h, canonical_json(c), d) for h, c, d in configs])
        yield run_id, bar
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        bar.close()
        store.end_run(run_id, status)


def run_records(store, runs: dict, name: str) -> list[dict]:
    """The store's records of the run `runs[name]` (default: the newest run of sweep `name`),
    for an experiment's `render`. ValueError if there are none: nothing to render."""
    from jaxmem.store import StoreError
    try:
        records = store.records(runs.get(name, name))
    except StoreError:
        records = []
    if not records:
        raise ValueError(f"no {name} records in the store {store.path}; nothing to render")
    return records


# One CSV writer for every experiment (jaxmem.tables); the names experiments import.
csv_value = csv_cell
