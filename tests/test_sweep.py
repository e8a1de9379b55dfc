"""The sweep engine in-process: records equal per-dataset evaluation, resume, padding, chunk
choice, no second compile, one program for a traced option."""

import dataclasses
import functools
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmem import data as jaxmem_data
from jaxmem.constructions import genzel2023
from jaxmem.store import Store
from jaxmem.sweep import GridError, dataset_keys, parse_grid, run_sweep, runner, trials
from jaxmem.sweep.progress import Progress

# benchmarks/device_check.py runs these on an accelerator
pytestmark = pytest.mark.device

# Two configs that differ in a traced option (theta): one compiled program serves both, and
# the traced-option test below (the executable cache emptied, XLA's session cache not).
GRID = parse_grid(dict(name="t", construction="zhang2017", datasets=10, chunk_size=4,
                       axes=dict(n=6, d=2, theta=[0.01, 0.2])))


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "s.sqlite")) as s:
        yield s


def by_index(store, run_id):
    out = {}
    for r in store.records(run_id):
        out[(r["config_hash"], r["dataset_index"])] = r
    return out


@functools.cache
def _block_trial(static: tuple):
    """The generic trial vmapped over a block of keys, its traced options traced (as the
    engine's program: one compile for configs that differ only in those)."""
    return jax.jit(jax.vmap(functools.partial(trials.construction_trial, **dict(static)),
                            in_axes=(0, None)))


def per_dataset_trials(grid, config, chunk):
    """Each dataset's trial from its key (dataset_keys), in the sweep's blocks of `chunk`,
    the last one padded by repeating its first index (run_chunked's padding)."""
    static = tuple(sorted(trials.static_arguments(config).items()))
    _, dynamic = trials.split_options(config)
    parts = []
    for start in range(0, grid.datasets, chunk):
        indices = list(range(start, min(start + chunk, grid.datasets)))
        padded = indices + indices[:1] * (chunk - len(indices))
        out = _block_trial(static)(dataset_keys(grid.seed, config, padded), dynamic)
        parts.append({k: np.asarray(v)[:len(indices)] for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.mark.slow
def test_records_are_the_per_dataset_trials(store):
    stats = run_sweep(GRID, store, progress=False)
    assert (stats.computed, stats.written, stats.skipped) == (20, 20, 0)
    records = by_index(store, stats.run_id)
    assert len(records) == 20
    for (h, c) in GRID.hashes():
        config = dict(__import__("json").loads(c))
        # The same blocks of 4 (last one padded), evaluated outside the engine.
        expected = per_dataset_trials(GRID, config, 4)
        for i in range(10):
            rec = records[(h, i)]
            assert rec["n"] == config["n"] and rec["theta"] == config["theta"]
            assert rec["ok"] is True
            for name, values in expected.items():
                assert rec[name] == values[i].item(), (name, i)
        # Theorem 1's counts, as recorded: 2n + d shared, n(d+1) + n + 1 dense.
        assert rec["shared_param_count"] == 2 * config["n"] + 2
        assert rec["param_count"] == config["n"] * 3 + config["n"] + 1


def test_resume_extends_and_skips(store):
    first = run_sweep(dataclasses.replace(GRID, datasets=6), store, progress=False)
    before = by_index(store, first.run_id)
    second = run_sweep(GRID, store, progress=False)
    # Indices 0-3 are a stored block; block 4-7 held 2 of 4, so only 6, 7 (and 8, 9) run.
    assert second.skipped == 12 and second.written == 8 and second.computed == 8
    after = by_index(store, second.run_id)
    assert len(after) == 20
    for key, rec in before.items():
        assert {k: v for k, v in after[key].items() if k != "run_id"} == \
            {k: v for k, v in rec.items() if k != "run_id"}
    third = run_sweep(GRID, store, progress=False)
    assert (third.computed, third.written, third.skipped) == (0, 0, 20)
    runs = store.runs()
    assert [r["status"] for r in runs] == ["done"] * 3


def test_no_second_compile(store):
    run_sweep(GRID, store, progress=False)
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **_: compiles.append(event)
        if event.endswith("backend_compile_duration") else None)
    run_sweep(dataclasses.replace(GRID, datasets=30), store, progress=False)
    assert compiles == []


@pytest.mark.slow
def test_traced_option_compiles_once(store, monkeypatch):
    # GRID's shapes and block size: the program is compiled again for the emptied cache below,
    # but XLA's executable comes from the session's compilation cache.
    grid = parse_grid(dict(name="theta", construction="zhang2017", datasets=4, chunk_size=4,
                           axes=dict(n=6, d=2, theta=[0.01, 0.2, 0.5])))
    # An empty executable cache for this test (the other tests' compilations come back after).
    monkeypatch.setattr(runner, "_EXECUTABLES", {})
    stats = run_sweep(grid, store, progress=False)
    assert len(runner._EXECUTABLES) == 1 and stats.written == 12
    records = store.records(stats.run_id)
    assert {r["theta"] for r in records} == {0.01, 0.2, 0.5}
    assert all(r["ok"] for r in records)
    # The knots move with theta, so the networks (and their weights) differ.
    assert len({r["max_abs_weight"] for r in records if r["dataset_index"] == 0}) == 3


@pytest.mark.slow
def test_chunk_size_from_memory_analysis(monkeypatch):
    # 4 datasets: GRID's block size, whose program GRID's sweeps compile (a need of 1000 would
    # compile a 1024-dataset program; the chunk-size test below chooses for a need of 50).
    config = GRID.configs()[0]
    device = jax.devices()[0]
    monkeypatch.setattr(runner, "_CHUNK_SIZES", {})      # not chosen by an earlier call
    chunk = runner.choose_chunk_size(config, device, 4)
    assert chunk & (chunk - 1) == 0 and 1 <= chunk <= 4            # no more than needed
    monkeypatch.setattr(runner, "CPU_CHUNK_BUDGET", 1)             # nothing fits: 1
    assert runner.choose_chunk_size(config, device, 4) == 1


@pytest.mark.slow
def test_chunk_size_is_chosen_once_per_program(monkeypatch):
    """The chunk size is measured on a compile for the whole need (64 for 50 datasets), which
    the sweep then reuses (no second compile), and chosen once for configs that differ only
    in a traced option."""
    grid = parse_grid(dict(name="g", construction="genzel2023", datasets=50,
                           axes=dict(n=30, d=2, width=[21], max_bias=[0.0, 0.5, 1.0])))
    device = jax.devices()[0]
    first, *rest = grid.configs()
    monkeypatch.setattr(runner, "_CHUNK_SIZES", {})      # not chosen by an earlier test
    probes = []
    real_executables = runner._executables
    monkeypatch.setattr(runner, "_executables",
                        lambda static, chunk, *a, **k: probes.append(chunk) or
                        real_executables(static, chunk, *a, **k))
    chunk = runner.choose_chunk_size(first, device, 50)
    assert chunk == 64 and probes == [64]                # fits: the whole need, one compile
    assert [runner.choose_chunk_size(c, device, 50) for c in rest] == [chunk, chunk]
    assert probes == [64]                                # chosen once
    (job,) = runner.grid_jobs([first], [first], [np.zeros(2, np.uint32)], 50)
    assert runner._executable_key(job, 64, device) in runner._EXECUTABLES  # the sweep's lookup


def test_progress_line():
    stream = io.StringIO()
    bar = Progress(3, 30, enabled=True, stream=stream)
    bar.advance(configs=1, datasets=10)
    bar.close()
    line = stream.getvalue().strip().splitlines()[-1]
    assert line.startswith("configs 1/3 | datasets 10/30 |") and "ETA" in line


@pytest.mark.slow
def test_binary_construction_sweep(store):
    # baum1988's example config and block size (test_every_construction sweeps it): one
    # program, which XLA's session cache holds when that test ran first
    grid = parse_grid(dict(name="baum", construction="baum1988", data="clusters", datasets=5,
                           chunk_size=2, axes=dict(n=12, d=2)))
    stats = run_sweep(grid, store, progress=False)
    records = store.records(stats.run_id)
    assert len(records) == 5 and all(r["ok"] and r["sign_accuracy"] == 1.0 for r in records)
    assert all(r["labels"] == "sign" for r in records)


@pytest.mark.slow
def test_genzel_sweep_over_traced_max_bias(store):
    # The width-21 configs are the chunk-size test's (50 datasets: blocks of 64), so their
    # program is compiled once for both tests.
    grid = parse_grid(dict(name="genzel", construction="genzel2023", datasets=50,
                           axes=dict(n=30, d=2, width=[21, 300], max_bias=[0.0, 1.0])))
    stats = run_sweep(grid, store, progress=False)
    records = store.records(stats.run_id)
    assert len(records) == 200 and len(stats.chunk_sizes) == 4
    # The -1 class is never misclassified, so sign accuracy = 1 - uncovered / n, and a record
    # interpolates exactly when nothing is uncovered.
    for r in records:
        assert r["sign_accuracy"] == pytest.approx(1 - r["uncovered"] / 30, abs=1e-6)
        assert r["ok"] == (r["uncovered"] == 0) == r["interpolated"]
        k, n = r["second_layer_width"], r["width"]
        assert r["paper_param_count"] == n * 3 + k * (n + 1) + k + 1
    assert {r["ok"] for r in records} == {True, False}


@pytest.mark.slow
def test_fixed_dataset_sweep_varies_only_the_construction(store):
    """On a fixed dataset (the paper's moons) every index sees the same points; the index
    varies the construction, and the records equal direct builds on those points."""
    grid = parse_grid(dict(name="moons", construction="genzel2023", data="moons",
                           datasets=6, chunk_size=4, dtype="float32",
                           axes=dict(n=1000, d=2, width=[40], max_bias=[0.0, 1.0])))
    assert grid.labels == "sign"
    stats = run_sweep(grid, store, progress=False)
    records = sorted(store.records(stats.run_id),
                     key=lambda r: (r["max_bias"], r["dataset_index"]))
    X, y = jaxmem_data.make_moons(1000, noise=0.05, random_state=0)
    X = (X / np.linalg.norm(X, axis=1).max()).astype(np.float32)
    direct = jax.jit(jax.vmap(lambda key, lam: genzel2023.build(
        jax.random.fold_in(key, 1), jnp.asarray(X), jnp.asarray(y, jnp.float32), width=40,
        max_bias=lam)[1], in_axes=(0, None)))
    for config in grid.configs():
        info = direct(dataset_keys(grid.seed, config, range(6)), jnp.float32(config["max_bias"]))
        stored = [r for r in records if r["max_bias"] == config["max_bias"]]
        assert [r["second_layer_width"] for r in stored] == info["second_layer_width"].tolist()
        assert [r["uncovered"] for r in stored] == info["uncovered"].tolist()
    assert len({r["second_layer_width"] for r in records}) > 1  # the restarts differ


def test_fixed_data_configs_carry_the_data_fingerprint(monkeypatch):
    """Records made from other files (a fake MNIST, another download) must not stand in for
    these: the data's SHA-256 is part of each config, hence of its hash and keys."""
    from jaxmem.sweep import datasets
    spec = dict(name="m", construction="genzel2023", data="lines", datasets=2,
                axes=dict(n=20, d=2, width=10))
    before = parse_grid(spec).hashes()
    assert parse_grid(spec).configs()[0]["data_fingerprint"] == datasets.fingerprint("lines")
    from jaxmem.data import families
    original = families.DATA_FAMILIES.remove("lines")
    X, y = original.load()
    families.fixed_data("lines", lambda: (X * 0.5, y), labels="sign", dim=2)
    try:         # a family registered again is loaded afresh (no stale cache)
        assert parse_grid(spec).hashes() != before
    finally:
        families.DATA_FAMILIES.remove("lines")
        families.DATA_FAMILIES.add(original, origin="jaxmem.sweep.datasets")
    assert parse_grid(spec).hashes() == before


@pytest.mark.parametrize("bad, message", [
    (dict(data="moons", axes=dict(n=1000, d=3)), "dimension 2"),
    (dict(data="moons", axes=dict(n=1001, d=2)), "1000 points"),
    (dict(data="digits", axes=dict(n=100, d=64)), "labels must be"),
    (dict(construction="genzel2023.multiclass", data="gaussian", labels="class",
          axes=dict(n=10, d=2)), "fixed dataset"),
    (dict(construction="genzel2023.multiclass", data="digits",
          axes=dict(n=100, d=64, num_classes=3)), "10 classes"),
])
def test_fixed_dataset_grid_errors(bad, message):
    spec = {**dict(name="x", construction="genzel2023", datasets=2), **bad}
    with pytest.raises(GridError, match=message):
        parse_grid(spec)
