"""Experiments: the registry, the precision experiment's grids, its tables on hand-made records,
and one tiny end-to-end reproduce (sweep into a store, render from the store alone)."""

import csv
import dataclasses

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import precision
from jaxmem.store import Store
from jaxmem.sweep import Grid, run_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- Registry

def test_registry_lists_precision():
    modules = experiments.all_experiments()
    assert "precision" in [m.NAME for m in modules]
    assert experiments.get("precision") is precision
    for module in modules:
        assert isinstance(module.REGENERATES, str) and module.REGENERATES.strip()
        assert "\n" not in module.REGENERATES
        assert callable(module.grids) and callable(module.render)


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(KeyError) as err:
        experiments.get("no-such-figure")
    message = err.value.args[0]
    assert "no-such-figure" in message and "precision" in message
    assert "\n" not in message


# --- Grids

def test_grids_cover_constructions_and_labels():
    for scale in ("quick", "full"):
        grids = precision.grids(scale)
        assert all(isinstance(g, Grid) for g in grids)
        assert sorted(g.name for g in grids) == sorted(
            f"precision.{c}.{l}" for c in ("zhang2017", "bubeck2020") for l in ("gaussian", "sign"))
        for g in grids:
            assert g.name == f"precision.{g.construction}.{g.labels}"
            assert set(g.axes) == {"n", "d"}
            assert g.dtype == "float64" and g.data == "gaussian"


def test_quick_grids_are_small():
    for g in precision.grids("quick"):
        assert len(g.configs()) <= 6  # compile-bound on a small CPU: one compile per config
        assert g.datasets == 16
        assert g.chunk_size == g.datasets  # one call per config: no memory-probe compile


def test_full_grids_span_n_and_d():
    for g in precision.grids("full"):
        assert g.axes["n"] == tuple(2 ** k for k in range(2, 13))  # 4, 8, ..., 4096
        assert g.axes["d"] == (2, 5, 10, 20, 50)
        assert g.datasets == 256


def test_unknown_scale():
    with pytest.raises(ValueError, match="quick"):
        precision.grids("huge")


# --- Tables on hand-made records

def _records(construction, labels, d, deployable_by_n, datasets=4):
    """deployable_by_n: n -> how many of the `datasets` records are float32-deployable."""
    out = []
    for n, good in deployable_by_n.items():
        for i in range(datasets):
            out.append(dict(construction=construction, labels=labels, n=n, d=d,
                            dataset_index=i, deployable_f32=i < good, ok=True,
                            max_abs_error_f32=float(n * (i + 1)), max_abs_weight=float(n * n)))
    return out


def test_summarize_and_boundary():
    records = (
        # deployable up to n = 32; 1 of 4 at n = 64; none at n = 128
        _records("zhang2017", "gaussian", 2, {4: 4, 8: 4, 16: 4, 32: 4, 64: 1, 128: 0})
        # deployable everywhere: no failing n
        + _records("zhang2017", "gaussian", 5, {4: 4, 128: 4})
        # fails already at the smallest n: no deployable n
        + _records("bubeck2020", "sign", 2, {4: 3, 8: 0}))
    rows = precision.summarize(records)
    assert len(rows) == 6 + 2 + 2
    by_key = {(r["construction"], r["labels"], r["n"], r["d"]): r for r in rows}
    assert by_key["zhang2017", "gaussian", 32, 2]["deployable_fraction"] == 1.0
    assert by_key["zhang2017", "gaussian", 64, 2]["deployable_fraction"] == 0.25
    assert by_key["zhang2017", "gaussian", 128, 2]["deployable_fraction"] == 0.0
    assert by_key["bubeck2020", "sign", 4, 2]["deployable_fraction"] == 0.75
    row = by_key["zhang2017", "gaussian", 64, 2]
    assert row["datasets"] == 4 and row["ok_fraction"] == 1.0
    assert row["median_max_abs_error_f32"] == np.median([64, 128, 192, 256])
    assert row["median_max_abs_weight"] == 64 * 64

    bounds = {(b["construction"], b["labels"], b["d"]): b for b in precision.boundary(rows)}
    assert len(bounds) == 3
    b = bounds["zhang2017", "gaussian", 2]
    assert (b["largest_deployable_n"], b["smallest_failing_n"]) == (32, 64)
    assert (b["n_min"], b["n_max"]) == (4, 128)
    b = bounds["zhang2017", "gaussian", 5]
    assert (b["largest_deployable_n"], b["smallest_failing_n"]) == (128, None)
    b = bounds["bubeck2020", "sign", 2]
    assert (b["largest_deployable_n"], b["smallest_failing_n"]) == (None, 4)

    table = precision.markdown(rows)
    assert "| zhang2017 | gaussian | 2 | 4-128 | 32 | 64 | 4 |" in table
    assert "| zhang2017 | gaussian | 5 | 4-128 | 128 | - | 4 |" in table
    assert "| bubeck2020 | sign | 2 | 4-8 | - | 4 | 4 |" in table


def test_nan_error_counts_as_worst():
    records = _records("zhang2017", "gaussian", 2, {4: 0}, datasets=3)
    for r in records[1:]:
        r["max_abs_error_f32"] = float("nan")  # float32 overflowed
    (row,) = precision.summarize(records)
    assert row["median_max_abs_error_f32"] == float("inf")


def test_float64_failure_is_noted():
    records = _records("zhang2017", "gaussian", 2, {4: 4})
    records[0]["ok"] = False
    assert "did not fit every dataset" in precision.markdown(precision.summarize(records))


# --- End to end: tiny grids through the sweep engine, then render from the store

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("store") / "s.sqlite") as store:
        yield store


# n = 256 as in test_float32_failure_is_visible, which then reuses this test's compiled
# programs (one per construction, labels and n) and its first two datasets from the store.
TINY_N = (4, 256)
# Each (construction, labels, n) is one compile (~3-5 s here, whatever n). Two of the four
# grids are swept: the one test_float32_failure_is_visible sweeps, over both n, and the other
# construction with the other labels at n = 4 alone. The render path (several runs, several n
# in one grid, ragged n across grids: a grey "no records" heatmap cell; panels of a
# construction x labels without a run: "no records") is covered all the same, with 3 compiles
# instead of 8.
TWO_N_GRID = "precision.zhang2017.gaussian"
ONE_N_GRID = "precision.bubeck2020.sign"


def _tiny(grid, datasets=2, n=TINY_N):
    return dataclasses.replace(grid, datasets=datasets, axes={"n": n, "d": (2,)})


def _fraction_by_config(records):
    groups = {}
    for r in records:
        groups.setdefault((r["construction"], r["labels"], r["n"], r["d"]), []).append(
            bool(r["deployable_f32"]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


@pytest.mark.slow
def test_reproduce_tiny(store, tmp_path):
    runs = {}
    for grid in precision.grids("quick"):
        if grid.name in (TWO_N_GRID, ONE_N_GRID):
            n = TINY_N if grid.name == TWO_N_GRID else TINY_N[:1]
            runs[grid.name] = run_sweep(_tiny(grid, n=n), store, chunk_size=2,
                                        progress=False).run_id
    assert len(runs) == 2
    paths = precision.render(store, runs, str(tmp_path))
    assert sorted(paths) == sorted(str(tmp_path / f"precision.{ext}")
                                   for ext in ("png", "csv", "md"))

    with open(tmp_path / "precision.png", "rb") as f:
        assert f.read(8) == PNG_MAGIC

    expected = {}
    for run_id in runs.values():
        expected.update(_fraction_by_config(store.records(run_id)))
    assert len(expected) == 1 + len(TINY_N)  # 2 grids, one of them over both n
    with open(tmp_path / "precision.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(expected)
    for row in rows:
        key = (row["construction"], row["labels"], int(row["n"]), int(row["d"]))
        fraction = float(row["deployable_fraction"])
        assert 0 <= fraction <= 1
        assert fraction == expected[key]
        assert int(row["datasets"]) == 2

    table = (tmp_path / "precision.md").read_text()
    assert ("| construction | labels | d | n swept | largest n: all deployable "
            "| smallest n: one not deployable | datasets per config |") in table
    assert sum(line.startswith(("| zhang2017 |", "| bubeck2020 |"))
               for line in table.splitlines()) == 2  # one per construction x labels swept (d = 2)
    assert "| zhang2017 | gaussian | 2 | 4-256 |" in table   # the n swept, per grid
    assert "| bubeck2020 | sign | 2 | 4-4 |" in table


@pytest.mark.slow
def test_float32_failure_is_visible(store):
    """Zhang et al.'s weights grow ~ n^2 with the closest gap between projections: at n = 4 the
    float32 network keeps its real labels, at n = 256 it does not."""
    (grid,) = [g for g in precision.grids("quick") if g.name == "precision.zhang2017.gaussian"]
    run_id = run_sweep(_tiny(grid, datasets=4), store, chunk_size=2, progress=False).run_id
    records = store.records(run_id)
    assert all(r["ok"] for r in records)  # float64 fits every dataset: float32 is to blame
    fraction = _fraction_by_config(records)
    assert fraction["zhang2017", "gaussian", 4, 2] == 1.0
    assert fraction["zhang2017", "gaussian", 256, 2] < 1.0
