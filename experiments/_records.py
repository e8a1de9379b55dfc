"""What the experiments share besides the engine (jaxmem.experiment.run_experiment, which
runs their jobs): the scale check, the run statistics they print, reading a run's records
back for `render`, and the CSV writer."""

from __future__ import annotations

import dataclasses
import sys

from jaxmem.tables import csv_cell, write_csv  # noqa: F401 (write_csv: re-exported)


def scale_size(scales: dict, scale: str):
    """The size of an experiment at `scale` ("quick", "full", ...); ValueError naming the
    known scales otherwise. The one scale check every experiment uses."""
    if scale not in scales:
        raise ValueError(f"unknown scale {scale!r}; known: {', '.join(scales)}")
    return scales[scale]


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

    @classmethod
    def from_engine(cls, stats, data: str | None = None) -> "RunStats":
        """The engine's SweepStats of `jaxmem.experiment.run_experiment` as an experiment's
        RunStats."""
        return cls(run_id=stats.run_id, configs=stats.configs, datasets=stats.datasets,
                   computed=stats.computed, skipped=stats.skipped, seconds=stats.seconds,
                   data=data)

    def report(self, name: str, stream=None, detail: str = "") -> None:
        """The one line `jaxmem reproduce` prints per experiment, as it does per sweep."""
        print(f"{name}: {self.computed} datasets computed, {self.skipped} already in the store "
              f"({self.seconds:.1f} s{detail})", file=stream or sys.stdout, flush=True)


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
