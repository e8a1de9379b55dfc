"""The results store: records written exactly once, by any number of processes, through SIGKILL;
files that are not our store are refused and left as they were; results leave as CSV, Parquet
and DataFrames equal to what went in."""

import contextlib
import csv
import math
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from jaxmem.store import SCHEMA_VERSION, Store, StoreError, default_store_path

H1 = "a" * 64
H2 = "b" * 64
C1 = '{"d":2,"n":10}'
C2 = '{"d":3,"n":20}'


def metric(i):
    return {"ok": i % 3 != 0, "error": i / 7, "count": i}


def new_run(store, sweep="s", configs=((H1, C1, 5),)):
    run_id = store.begin_run(sweep=sweep, kind="sweep", grid={"name": sweep},
                             environment={"jax_version": "0.10.0", "x64": True})
    store.add_configs(run_id, list(configs))
    return run_id


def write(store, run_id, config_hash, indices):
    indices = list(indices)
    return store.write_records(run_id, config_hash, np.array(indices, dtype=np.int64),
                               [metric(i) for i in indices])


def raw(path):
    """A plain sqlite3 connection that is closed on exit (sqlite3's own `with` only commits)."""
    return contextlib.closing(sqlite3.connect(path, isolation_level=None))


def snapshot(path):
    """What must not change: the bytes, the mtime, and which files lie beside it."""
    with open(path, "rb") as f:
        data = f.read()
    return data, os.stat(path).st_mtime_ns, sorted(os.listdir(os.path.dirname(path)))


def same(a, b):
    """Equal, with NaN equal to NaN and bool distinct from int."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_rows_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)
        assert all(same(g[k], w[k]) for k in w), (g, w)


# ------------------------------------------------------------------------------- opening


def test_create_reopen_and_wal(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with Store(path) as store:
        run_id = new_run(store)
        write(store, run_id, H1, range(3))
        store.end_run(run_id)
    with raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
    before = snapshot(path)
    with Store(path) as store:          # reopening a valid store does not modify it
        assert [r["status"] for r in store.runs()] == ["done"]
    with Store(path, readonly=True) as store:
        assert store.runs()[0]["n_records"] == 3
        with pytest.raises(StoreError, match="read-only"):
            store.begin_run(sweep="s", kind="sweep", grid=None, environment={})
    assert snapshot(path) == before


def test_read_only_where_sidecar_files_cannot_be_removed(tmp_path, monkeypatch):
    path = str(tmp_path / "s.sqlite")
    with Store(path) as store:
        new_run(store)
    before = snapshot(path)
    monkeypatch.setattr(Store, "_can_clean_up", lambda self: False)   # a read-only mount, say
    with Store(path, readonly=True) as store:
        assert len(store.runs()) == 1
        with pytest.raises(StoreError, match="read-only"):
            store.end_run(1)
    assert snapshot(path)[:2] == before[:2]


def test_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "s.sqlite"
    path.touch()
    with Store(path) as store:
        assert store.runs() == []


@pytest.mark.parametrize("version", ["2", "0", "x"])
def test_other_schema_version_is_refused_and_left_alone(tmp_path, version):
    path = str(tmp_path / "s.sqlite")
    with Store(path) as store:
        new_run(store)
    with raw(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    before = snapshot(path)
    for readonly in (False, True):
        with pytest.raises(StoreError) as err:
            Store(path, readonly=readonly)
        message = str(err.value)
        assert path in message and "\n" not in message
        if version == "2":
            assert message == (f"store {path} has schema version 2; this jaxmem reads version 1")
    assert snapshot(path) == before


def test_random_bytes_are_refused_and_left_alone(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with open(path, "wb") as f:
        f.write(np.random.default_rng(0).bytes(4096))
    before = snapshot(path)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is not a jaxmem store .file is not a database"):
            Store(path, readonly=readonly)
    assert snapshot(path) == before


@pytest.mark.parametrize("table", ["users(name TEXT)", "meta(key TEXT, value TEXT)"])
def test_another_apps_database_is_refused_and_left_alone(tmp_path, table):
    path = str(tmp_path / "other.db")
    with raw(path) as conn:
        conn.execute(f"CREATE TABLE {table}")
    before = snapshot(path)
    with pytest.raises(StoreError, match="is not a jaxmem store"):
        Store(path)
    assert snapshot(path) == before


def test_missing_directory_creates_nothing(tmp_path):
    path = tmp_path / "missing" / "s.sqlite"
    with pytest.raises(StoreError, match="cannot create store .*does not exist"):
        Store(path)
    with pytest.raises(StoreError, match="no such file"):
        Store(tmp_path / "s.sqlite", readonly=True)
    assert os.listdir(tmp_path) == []


def test_parent_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StoreError, match="cannot create store .*is not a directory"):
        Store(tmp_path / "f" / "s.sqlite")
    assert os.listdir(tmp_path) == ["f"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_directory(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="cannot create store .*not writable"):
            Store(folder / "s.sqlite")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_default_store_path(monkeypatch):
    monkeypatch.delenv("JAXMEM_STORE", raising=False)
    assert default_store_path() == "./jaxmem-results.sqlite"
    monkeypatch.setenv("JAXMEM_STORE", "/data/x.sqlite")
    assert default_store_path() == "/data/x.sqlite"
    assert default_store_path("y.sqlite") == "y.sqlite"


# ------------------------------------------------------------------------------- records


def test_records_are_written_exactly_once(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        run_id = new_run(store)
        assert write(store, run_id, H1, range(10)) == 10
        assert write(store, run_id, H1, range(10)) == 0
        assert write(store, run_id, H1, range(5, 15)) == 5
        done = store.done_indices(H1, 20)
        assert done.dtype == bool and done.tolist() == [True] * 15 + [False] * 5
        assert store.done_indices(H1, 4).tolist() == [True] * 4
        assert not store.done_indices(H2, 3).any()
        with pytest.raises(ValueError, match="3 indices but 2"):
            store.write_records(run_id, H1, np.arange(3), [{}, {}])


def test_non_finite_and_numpy_metrics_round_trip(tmp_path):
    sent = {"nan": float("nan"), "inf": math.inf, "ninf": -math.inf, "flag": True, "count": 3,
            "x": 0.1, "f32": np.float32(0.5), "i64": np.int64(7), "b": np.bool_(False),
            "tiny": 5e-324}
    with Store(tmp_path / "s.sqlite") as store:
        run_id = new_run(store)
        store.write_records(run_id, H1, [0], [sent])
        (got,) = store.records(run_id)
    want = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "flag": True, "count": 3,
            "x": 0.1, "f32": 0.5, "i64": 7, "b": False, "tiny": 5e-324}
    assert_rows_equal([{k: got[k] for k in want}], [want])


def test_runs_and_records(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        first = new_run(store, configs=[(H2, C2, 2), (H1, C1, 3)])
        write(store, first, H1, [0, 1, 2, 4])               # 4 is beyond this run's datasets
        store.write_records(first, H2, [1], [{"n": 99}])    # a metric named like a config field
        # Killed, then resumed as a new run that covers one config with more datasets.
        second = new_run(store, configs=[(H1, C1, 5)])
        assert write(store, second, H1, range(3, 5)) == 1
        store.end_run(second, "interrupted")
        runs = store.runs()
        assert [r["run_id"] for r in runs] == [first, second]
        assert [(r["n_configs"], r["n_records"], r["expected"]) for r in runs] == [
            (2, 4, 5), (1, 5, 5)]
        assert runs[0]["status"] == "running" and runs[0]["ended"] is None
        assert runs[1]["status"] == "interrupted" and runs[1]["ended"] >= runs[1]["started"]
        assert runs[0]["grid"] == {"name": "s"} and len(runs[0]["grid_hash"]) == 64
        assert runs[0]["x64"] is True and runs[0]["jax_version"] == "0.10.0"
        assert runs[0]["backend"] is None

        assert store.run("s")["run_id"] == second
        assert store.run(str(first))["run_id"] == first == store.run(first)["run_id"]
        with pytest.raises(StoreError, match=r"has no run 'nope' \(sweeps: s\)"):
            store.run("nope")
        with pytest.raises(ValueError, match="status"):
            store.end_run(first, "finished")

        assert store.records(first) == [
            {"config_hash": H2, "dataset_index": 1, "run_id": first, "d": 3, "n": 20,
             "metrics.n": 99},
            *({"config_hash": H1, "dataset_index": i, "run_id": first, "d": 2, "n": 10,
               **metric(i)} for i in range(3))]
        assert [(r["dataset_index"], r["run_id"]) for r in store.records(second)] == [
            (0, first), (1, first), (2, first), (3, second), (4, first)]


def test_verdicts(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        run_id = store.begin_run(sweep="verify", kind="verify", grid=None, environment={})
        results = [{"claim": "zhang2017.thm1", "scale": "quick", "seed": np.int64(0),
                    "verdict": "HOLDS", "n_datasets": 64, "pass_rate": 1.0, "ci_low": 0.95,
                    "ci_high": 1.0, "seconds": 1.5, "detail": {"worst": 0.25}},
                   {"claim": "x.thm2", "verdict": "INCONCLUSIVE"}]
        store.write_verdicts(run_id, results)
        got = store.verdicts(run_id)
        assert store.verdicts() == got
        assert [v["claim"] for v in got] == ["zhang2017.thm1", "x.thm2"]
        assert got[0]["seed"] == 0 and got[0]["detail"] == '{"worst":0.25}'
        assert got[0]["result"]["detail"] == {"worst": 0.25}
        assert got[1]["exponent"] is None and got[1]["result"] == results[1]
        assert store.records(run_id) == []


def exported(tmp_path):
    """A store with a run whose records hold NaN, inf, bools, ints and a missing metric."""
    store = Store(tmp_path / "s.sqlite")
    run_id = new_run(store, configs=[(H1, C1, 4), (H2, C2, 2)])
    write(store, run_id, H1, range(3))
    store.write_records(run_id, H1, [3], [{"ok": True, "error": math.nan, "count": 3,
                                           "extra": -math.inf}])
    write(store, run_id, H2, range(2))
    return store, run_id


def test_csv_export_round_trip(tmp_path):
    def parse(text):
        if text in ("True", "False"):
            return text == "True"
        for kind in (int, float):
            with contextlib.suppress(ValueError):
                return kind(text)
        return None if text == "" else text

    store, run_id = exported(tmp_path)
    with store:
        records = store.records(run_id)
        out = tmp_path / "out.csv"
        assert store.export(run_id, out) == len(records) == 6
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    back = [{k: parse(v) for k, v in row.items()} for row in rows]
    want = [{**{k: None for k in back[0]}, **r} for r in records]   # missing -> empty cell
    assert_rows_equal(back, want)
    assert sorted(os.listdir(tmp_path)) == ["out.csv", "s.sqlite"]   # no temporary file left


def test_parquet_export_round_trip(tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    store, run_id = exported(tmp_path)
    with store:
        out = tmp_path / "out.parquet"
        assert store.export(run_id, out, format="parquet") == 6
        records = store.records(run_id)
    back = parquet.read_table(out).to_pylist()
    assert_rows_equal(back, [{**{k: None for k in back[0]}, **r} for r in records])


def test_dataframe(tmp_path):
    pytest.importorskip("pandas")
    store, run_id = exported(tmp_path)
    with store:
        frame = store.dataframe(run_id)
        records = store.records(run_id)
    assert list(frame.columns) == list(dict.fromkeys(k for r in records for k in r))
    assert frame.shape == (6, 9)
    assert frame["dataset_index"].tolist() == [r["dataset_index"] for r in records]
    assert math.isnan(frame["error"][3]) and frame["extra"][3] == -math.inf


def test_missing_optional_packages_give_a_hint(tmp_path, monkeypatch):
    store, run_id = exported(tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with store:
        with pytest.raises(StoreError, match="pip install pandas"):
            store.dataframe(run_id)
        with pytest.raises(StoreError, match="pip install pyarrow"):
            store.export(run_id, tmp_path / "out.parquet", format="parquet")
    assert sorted(os.listdir(tmp_path)) == ["s.sqlite"]


# ------------------------------------------------------------------- processes and leases


def _race(path, seed, barrier, results):
    """Create the store at the same moment as the others, then write all 2000 records."""
    barrier.wait()
    with Store(path) as store:
        run_id = store.begin_run(sweep="race", kind="sweep", grid=None, environment={})
        store.add_configs(run_id, [(H1, C1, 2000)])
        starts = list(range(0, 2000, 100))
        random.Random(seed).shuffle(starts)
        inserted = sum(write(store, run_id, H1, range(s, s + 100)) for s in starts)
        store.end_run(run_id)
    results.put(inserted)


def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "s.sqlite")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_race, args=(path, seed, barrier, results))
               for seed in range(3)]
    for w in workers:
        w.start()
    inserted = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
        w.close()
    results.close()
    results.join_thread()
    assert sum(inserted) == 2000
    with Store(path) as store:
        assert [r["n_records"] for r in store.runs()] == [2000] * 3
        assert store.done_indices(H1, 2000).all()
    with raw(path) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT dataset_index) FROM records"
                            ).fetchone() == (2000, 2000)


HOLD_LEASE = textwrap.dedent("""
    import sys
    from jaxmem.store import Store
    with Store(sys.argv[1]) as store:
        assert store.try_lease(sys.argv[2], 0)
        print("held", flush=True)
        sys.stdin.read()   # hold it until the test closes stdin
""")


def test_leases(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with Store(path) as a, Store(path) as b:
        assert a.try_lease(H1, 0)
        assert a.try_lease(H1, 0)                 # its own lease: re-acquired (renewed)
        assert not b.try_lease(H1, 0)             # live holder
        assert b.try_lease(H1, 100) and not a.try_lease(H1, 100)
        a.release_lease(H1, 0)
        assert b.try_lease(H1, 0)
        b.release_lease(H1, 0)

        assert a.try_lease(H1, 200, ttl_s=0.05)
        assert not b.try_lease(H1, 200)
        time.sleep(0.1)
        assert b.try_lease(H1, 200)               # expired

        run_id = new_run(b)
        b.write_records(run_id, H1, np.arange(300, 302), [{}, {}], release_lease=True)
        assert a.try_lease(H1, 300)               # no lease there; now a's
        b.write_records(run_id, H1, np.arange(300, 302), [{}, {}], release_lease=True)
        assert not b.try_lease(H1, 300)           # only the writer's own lease is released

    # Another live process holds the lease until it exits; after that its lease is free at
    # once (same host, dead pid), long before its ttl.
    with subprocess.Popen([sys.executable, "-c", HOLD_LEASE, path, H2], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline() == "held\n"
        with Store(path) as c:
            assert not c.try_lease(H2, 0)
            holder.stdin.close()
            assert holder.wait(timeout=30) == 0
            assert c.try_lease(H2, 0)


WRITE_FOREVER = textwrap.dedent("""
    import sys
    import numpy as np
    from jaxmem.store import Store
    store = Store(sys.argv[1])
    run_id = store.begin_run(sweep="killed", kind="sweep", grid=None, environment={})
    store.add_configs(run_id, [(sys.argv[2], "{}", 10**6)])
    for start in range(0, 10**6, 100):
        indices = np.arange(start, start + 100)
        store.write_records(run_id, sys.argv[2], indices,
                            [{"i": int(i), "x": i / 7, "pad": "x" * 300} for i in indices])
        print(start, flush=True)   # committed
""")


def test_sigkill_mid_write_loses_nothing_committed_and_leaves_no_partial_chunk(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, path, H1],
                          stdout=subprocess.PIPE, text=True) as child:
        first = child.stdout.readline()
        time.sleep(0.5)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        rest = child.stdout.read()
    committed = [int(line) for line in (first + rest).split("\n")[:-1]]
    assert committed[:2] == [0, 100]
    with Store(path) as store:
        done = store.done_indices(H1, 10**6)
        (run,) = store.runs()
    chunks = done.reshape(-1, 100)
    assert (chunks.all(axis=1) | ~chunks.any(axis=1)).all()     # no partial chunk
    n = int(chunks.all(axis=1).sum())
    assert chunks[:n].all() and not chunks[n:].any()            # written in order
    assert n >= len(committed)                                  # nothing committed is lost
    # The killed process's run never ended; its process is gone, and the status says so.
    assert run["status"] == "gone" and run["ended"] is None and run["n_records"] == 100 * n


def test_metrics_are_sql_columns_with_their_kinds(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        run_id = new_run(store)
        columns = dict(ok=np.array([True, False, True]), units=np.array([4, 8, 12]),
                       error=np.array([0.5, np.nan, np.inf]))
        assert store.write_columns(run_id, H1, np.arange(3), columns) == 3
        got = store.records(run_id)
        assert [r["ok"] for r in got] == [True, False, True]
        assert [type(r["units"]) for r in got] == [int] * 3
        assert got[0]["error"] == 0.5 and math.isnan(got[1]["error"])
        assert got[2]["error"] == math.inf
        # Plain SQL reads the metrics directly.
        con = sqlite3.connect(tmp_path / "s.sqlite")
        assert con.execute("SELECT AVG(ok), SUM(units) FROM records").fetchone() == (2 / 3, 24)
        con.close()
        with pytest.raises(ValueError, match="metric name 'run_id'"):
            store.write_columns(run_id, H1, [5], {"run_id": [1]})
        with pytest.raises(ValueError, match="metric name 'a b'"):
            store.write_columns(run_id, H1, [5], {"a b": [1]})
        with pytest.raises(ValueError, match="must be scalars"):
            store.write_records(run_id, H1, [5], [{"x": [1, 2]}])
