"""Aggregate Dirksen, Finke and Genzel's released per-trial results into per-cell tables.

Their repository (github.com/patrickfinke/memo, MIT licence, commit eafe5e5) ships
`results.zip`: one CSV per experiment, one row per trial (a restart of Algorithm 2 on one
grid cell) with the training accuracy `score` and the second-layer width `second_dim_out`
(summed over the one-vs-rest classifiers for MNIST and CIFAR-10). jaxmem ships only the
per-cell aggregate this script writes (genzel2023_cells.csv beside it), with their licence
notice (LICENSE-memo), not the raw zip.

    python experiments/authors/aggregate_genzel2023.py path/to/results.zip

Columns: experiment, dataset, n (first-layer width, their n_iter), max_bias (lambda),
restarts, interpolated (trials with score == 1, i.e. every training point classified
correctly), k_mean, k_sd (ddof = 1), k_min, k_max, k_is_one (trials with k == 1: their code
adds a dummy neuron when the greedy loop accepts none, so k >= 1 there), score_mean.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

EXPERIMENTS = ("moons", "moons_size", "mnist", "cifar10", "mnist_1vs8_size", "mnist_1vs9_size")
OUT = Path(__file__).with_name("genzel2023_cells.csv")


def aggregate(frame: pd.DataFrame, experiment: str) -> pd.DataFrame:
    frame = frame.assign(interp=frame["score"] == 1.0, k=frame["second_dim_out"])
    groups = frame.groupby(["dataset", "n_iter", "max_bias"], sort=True)
    cells = groups.agg(restarts=("restart", "size"), interpolated=("interp", "sum"),
                       k_mean=("k", "mean"), k_sd=("k", "std"), k_min=("k", "min"),
                       k_max=("k", "max"), k_is_one=("k", lambda k: int((k == 1).sum())),
                       score_mean=("score", "mean")).reset_index()
    cells = cells.rename(columns={"n_iter": "n"})
    cells.insert(0, "experiment", experiment)
    return cells


def main(zip_path: str) -> None:
    tables = []
    with zipfile.ZipFile(zip_path) as archive:
        for experiment in EXPERIMENTS:
            with archive.open(f"results/{experiment}.csv") as f:
                tables.append(aggregate(pd.read_csv(io.TextIOWrapper(f)), experiment))
    cells = pd.concat(tables, ignore_index=True)
    cells["max_bias"] = cells["max_bias"].round(4)
    cells.to_csv(OUT, index=False, float_format="%.10g")
    print(f"{OUT}: {len(cells)} cells from {int(cells['restarts'].sum())} trials")


if __name__ == "__main__":
    main(*sys.argv[1:])
