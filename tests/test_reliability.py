"""What a week-long sweep needs, shown with real processes: SIGKILL at random moments and
restarts, three processes on one store, 1 vs 4 devices, two processes under
jax.distributed, and bad input refused with exit code 2 and nothing written (the refused
commands one after another in one process, with the 4-device sweep and verify on 2 devices).

Every subprocess runs with OMP_NUM_THREADS=1 (docs/jax-notes.md §2.5: the CPU thread pool can wedge
with several virtual devices), XLA's fast-compile level, and a persistent compilation cache
shared by the test's processes, so a restart costs an import, not a compile.
"""

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxmem.store import SCHEMA_VERSION, Store
from tests.test_plugins import cli_session

TOTAL = 800  # records of the kill and concurrency sweeps
KILL_STEP = 40  # records a restarted sweep writes before each later kill
# Two configs that differ only in a traced option (theta): one compiled program serves both,
# so each of the many sweep processes below traces (and loads from the cache) one program.
GRID = """name = "reliability"
construction = "zhang2017"
datasets = {datasets}
chunk_size = {chunk}
[axes]
n = {n}
d = 2
theta = [0.01, 0.02]
"""


def env(tmp_path, devices=1, **extra):
    e = dict(os.environ, OMP_NUM_THREADS="1", JAX_NUM_CPU_DEVICES=str(devices),
             XLA_FLAGS="--xla_backend_optimization_level=0")  # JAXMEM_CACHE: conftest's
    e.pop("JAXMEM_STORE", None)  # every command here names its --store
    e.update(extra)
    return e


def write_grid(tmp_path, datasets, chunk, name="grid.toml", n="8"):
    """Two configs (theta = 0.01 and 0.02), one compiled program per device."""
    path = tmp_path / name
    path.write_text(GRID.format(datasets=datasets, chunk=chunk, n=n))
    return str(path)


def sweep_command(grid, store, *more):
    return [sys.executable, "-m", "jaxmem.cli", "sweep", grid, "--store", store,
            "--no-progress", *more]


def run(cmd, environment, timeout=240):
    return subprocess.run(cmd, env=environment, capture_output=True, text=True, timeout=timeout)


def record_count(path):
    """Records in the store (0 before it exists or has a schema)."""
    if not os.path.exists(path):
        return 0
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def records(path):
    """{(config hash, index): every metric column's value}; asserts no key appears twice."""
    con = sqlite3.connect(path)
    try:
        cursor = con.execute("SELECT * FROM records")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    metrics = [i for i, n in enumerate(names) if n not in ("config_hash", "dataset_index",
                                                            "run_id", "created")]
    out = {(r[0], r[1]): {names[i]: r[i] for i in metrics} for r in rows}
    assert len(out) == len(rows)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-process run on one device: 2 configs x 400 datasets in blocks
    of 4 (long enough to be killed 8 times: measured, the 3 early kills landed before the
    first write and each later one 40-100 records on, ~350 records in all). Also the
    baseline of the device-count and two-process tests (their first datasets)."""
    tmp = tmp_path_factory.mktemp("reference")
    grid = write_grid(tmp, TOTAL // 2, 4)
    store = str(tmp / "reference.sqlite")
    done = run(sweep_command(grid, store), env(tmp))
    assert done.returncode == 0, done.stderr
    out = records(store)
    assert len(out) == TOTAL
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path, reference):
    grid = write_grid(tmp_path, TOTAL // 2, 4)
    store = str(tmp_path / "killed.sqlite")
    rng = random.Random(0)
    kills, mid_sweep, counts = 0, 0, []
    while kills < 8:
        before = record_count(store)
        proc = subprocess.Popen(sweep_command(grid, store), env=env(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kills < 3:
            # Early kills: during import, compile or the first writes.
            time.sleep(rng.uniform(0.2, 1.5))
        else:
            # Later kills: once this process has written KILL_STEP more records (10 blocks),
            # after a random jitter, so they land mid-sweep (anywhere in the compute / write
            # cycle) and each restart advances about the same amount however fast the machine
            # is.
            deadline = time.monotonic() + 120
            while record_count(store) < before + KILL_STEP and proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is not None:
            break  # finished before the kill: the store is complete
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        count = len(records(store)) if os.path.exists(store) else 0
        mid_sweep += 0 < count < TOTAL
        counts.append(count)
    print("records after each kill:", counts)
    final = run(sweep_command(grid, store), env(tmp_path))
    assert final.returncode == 0, final.stderr
    assert kills >= 7, f"the sweep finished after {kills} kills; make it longer"
    assert mid_sweep >= 3, counts
    assert counts == sorted(counts)  # nothing committed was ever lost
    assert records(store) == reference
    with Store(store, readonly=True) as s:
        statuses = [r["status"] for r in s.runs()]
    # Killed runs never claim to be done. Each later kill (after the process wrote records)
    # left a run row whose process is gone (shown "gone", not "running"); the 3 early kills
    # may land before the process registered its run.
    assert statuses[-1] == "done" and set(statuses[:-1]) <= {"gone"}
    assert len(statuses) - 1 >= kills - 3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_three_processes_share_one_store(tmp_path, reference):
    grid = write_grid(tmp_path, TOTAL // 2, 4)
    store = str(tmp_path / "shared.sqlite")
    procs = [subprocess.Popen(sweep_command(grid, store, "--json"), env=env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    summaries = [json.loads(out) for out, _ in outs]
    assert records(store) == reference
    assert sum(s["written"] for s in summaries) == TOTAL
    # Leases split the work: together they computed far less than three full sweeps.
    assert sum(s["computed"] for s in summaries) < 2 * TOTAL


DEVICE_DATASETS = 20  # per config, blocks of 4: 5 blocks over 1, 2 or 4 devices


def device_baseline(reference):
    """The reference's records of the first DEVICE_DATASETS datasets of each config: the
    grid's sweep with --datasets DEVICE_DATASETS on one device (a record depends only on the
    seed, config, index and chunk size)."""
    out = {k: v for k, v in reference.items() if k[1] < DEVICE_DATASETS}
    assert len(out) == 2 * DEVICE_DATASETS
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_records_do_not_depend_on_the_device_count(session, reference):
    done, store, _ = session["devices4"]        # the grid's sweep on 4 local devices
    assert done.returncode == 0, done.stderr
    assert records(store) == device_baseline(reference)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(command, tmp_path):
    """(stdout, stderr) of command(*flags) run as processes 0 and 1 under jax.distributed."""
    port = free_port()
    procs = [subprocess.Popen(
        command("--distributed", "--coordinator", f"127.0.0.1:{port}",
                "--num-processes", "2", "--process-id", str(i)),
        env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return outs


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_process_distributed_run_equals_one_process(tmp_path, reference):
    grid = write_grid(tmp_path, TOTAL // 2, 4)
    store = str(tmp_path / "distributed.sqlite")
    outs = two_processes(lambda *flags: sweep_command(
        grid, store, "--datasets", str(DEVICE_DATASETS), *flags), tmp_path)
    # Process 0 writes and reports; process 1 prints only gloo's connection line.
    assert f"{2 * DEVICE_DATASETS} records written" in outs[0][0]
    assert "records written" not in outs[1][0]
    assert records(store) == device_baseline(reference)  # one process on one device
    with Store(store, readonly=True) as s:
        run_row = s.runs()[-1]
    assert run_row["process_count"] == 2 and run_row["device_count"] == 2


# ---- bad input: one clear line, exit code 2, nothing written ---------------------------------

BAD_GRIDS = [
    (GRID.format(datasets=4, chunk=2, n="[8, 12]").replace("zhang2017", "zhang2099"),
     "unknown construction 'zhang2099'"),
    (GRID.format(datasets=4, chunk=2, n="[8, 12]").replace("d = 2", "d = 2\nwidth = 3"),
     "unknown parameter 'width'"),
    (GRID.format(datasets=4, chunk=2, n="[8, 12]").replace("n = [8, 12]", "n = [8, 12"),
     "is not valid TOML"),
]


# ---- one process on 4 devices: the refused commands, the sweep on 4 devices, verify on 2 ------

# The commands below that need no process of their own run one after another in one process
# (each process costs a ~2 s import, and each device's program a compile), as test_plugins'
# `cli_session` runs them: `jaxmem.cli.main`'s exit code, and what each command prints on
# stdout and stderr; the process itself must print nothing else (fd-level output included: no
# warnings at start-up or exit) and exit 0. One more kind of step: {"lose": [store, copy,
# first]} copies the store less its records of the datasets >= first (whole blocks, as a kill
# loses them): this file's `other_step`.
SESSION = cli_session('''
    import sqlite3
    def other_step(step):
        store, copy, first = step["lose"]
        source, target = sqlite3.connect(store), sqlite3.connect(copy)
        source.backup(target)
        with target:
            target.execute("DELETE FROM records WHERE dataset_index >= ?", (first,))
        source.close(), target.close()
        return dict(returncode=0, stdout="", stderr="")
''')


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """{name: (CompletedProcess of the command, its store path, the store's bytes before or
    None)}, in one process with 4 local devices: every bad grid (by its text) and bad store of
    the refusal tests, then the grid's sweep on the 4 devices (`devices4`), then `jaxmem
    verify` on 2 of them (`verify`), and again on a copy of its store less the blocks of
    datasets 32-63 (`resume`: in the process that computed them, with its compiled programs;
    restarts in fresh processes are the kill test's)."""
    tmp = tmp_path_factory.mktemp("session")
    commands = {}
    for i, (text, _) in enumerate(BAD_GRIDS):
        grid = tmp / f"bad{i}.toml"
        grid.write_text(text)
        commands[text] = (["sweep", str(grid), "--store", str(tmp / f"s{i}.sqlite")], None)
    grid = write_grid(tmp, 4, 2)
    # A directory that does not exist.
    commands["missing"] = (["sweep", grid, "--store", str(tmp / "nowhere" / "s.sqlite")], None)
    # A corrupt file.
    corrupt = tmp / "corrupt.sqlite"
    corrupt.write_bytes(os.urandom(4096))
    commands["corrupt"] = (["sweep", grid, "--store", str(corrupt)], corrupt.read_bytes())
    # A store of another schema version.
    other = tmp / "other.sqlite"
    Store(str(other)).close()
    con = sqlite3.connect(other)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    commands["other"] = (["sweep", grid, "--store", str(other)], other.read_bytes())
    # results on a store that is not there.
    commands["none"] = (["results", "list", "--store", str(tmp / "none.sqlite")], None)
    # The reliability grid's first DEVICE_DATASETS datasets on 4 devices.
    commands["devices4"] = (sweep_command(
        write_grid(tmp, TOTAL // 2, 4, name="devices.toml"), str(tmp / "devices4.sqlite"),
        "--datasets", str(DEVICE_DATASETS), "--devices", "4")[3:], None)
    # The first 2 of the 4 local devices (--devices picks a subset); then the same on a copy
    # of the store that lost 4 of its 8 blocks.
    local, resumed = str(tmp / "devices.sqlite"), str(tmp / "resumed.sqlite")
    commands["verify"] = (verify_command(local, "--devices", "2")[3:], None)
    commands["lose"] = ({"lose": [local, resumed, VERIFY_DATASETS // 2]}, None)
    commands["resume"] = (verify_command(resumed, "--devices", "2")[3:], None)
    argvs = [argv for argv, _ in commands.values()]
    done = run([sys.executable, "-c", SESSION, json.dumps(argvs), str(tmp / "out.json")],
               env(tmp, devices=4), timeout=400)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    outs = json.loads((tmp / "out.json").read_text())
    return {name: (subprocess.CompletedProcess(argv, r["returncode"], r["stdout"], r["stderr"]),
                   Path(argv[argv.index("--store") + 1]) if isinstance(argv, list) else None,
                   before)
            for (name, (argv, before)), r in zip(commands.items(), outs)}


def assert_refused(done, message):
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("text, message", BAD_GRIDS)
@pytest.mark.slow
def test_bad_grids_are_refused(session, text, message):
    done, store, _ = session[text]
    assert_refused(done, message)
    assert not store.exists()


@pytest.mark.slow
def test_bad_stores_are_refused(session):
    done, missing, _ = session["missing"]
    assert_refused(done, "cannot")
    assert not missing.parent.exists()
    done, corrupt, before = session["corrupt"]
    assert_refused(done, "corrupt.sqlite")
    assert corrupt.read_bytes() == before
    done, other, before = session["other"]
    assert_refused(done, f"schema version {SCHEMA_VERSION + 1}")
    assert other.read_bytes() == before
    done, _, _ = session["none"]
    assert_refused(done, "no store at")


# ---- claims on the same engine: devices, processes, resume ------------------------------------

# One config, 64 datasets, blocks of 8, and a trial that returns an array per dataset (the
# blocks' gather across processes must keep the trailing axes; it once assumed one value per
# dataset and failed). It compiles in about a third of the time of
# genzel2023.minus_never_misclassified, the claim used before.
VERIFY_CLAIM = "genzel2023.separation_probability"
VERIFY_DATASETS = 64


def verify_command(store, *more):
    return [sys.executable, "-m", "jaxmem.cli", "verify", "--claim", VERIFY_CLAIM,
            "--chunk-size", "8", "--store", store, *more]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_verify_records_do_not_depend_on_devices_or_processes_and_resume(tmp_path, session):
    """`jaxmem verify` on the engine: blocks on 2 local devices and on 2 processes under
    jax.distributed give the same records (process 0 alone decides and prints); records lost
    as a kill loses them are recomputed to the same values, the rest read back."""
    # The first 2 of 4 local devices (the session's; the baseline of the sweep tests above is
    # a one-device process).
    done, local, _ = session["verify"]
    assert done.returncode == 0, done.stderr
    assert "HOLDS" in done.stdout and "resumed" not in done.stdout
    with Store(str(local), readonly=True) as s:
        assert s.runs()[-1]["device_count"] == 2
    distributed = str(tmp_path / "distributed.sqlite")
    outs = two_processes(lambda *flags: verify_command(distributed, *flags), tmp_path)
    assert "HOLDS" in outs[0][0] and "HOLDS" not in outs[1][0]
    expected = records(local)
    assert len(expected) == VERIFY_DATASETS and records(distributed) == expected
    with Store(distributed, readonly=True) as s:
        run_row = s.runs()[-1]
    assert run_row["kind"] == "verify" and run_row["process_count"] == 2
    # The session copied the local store less datasets 32-63 (4 of the 8 blocks), then ran the
    # same command on the copy.
    again, resumed, _ = session["resume"]
    assert again.returncode == 0, again.stderr
    assert "32 datasets read back from the store (resumed)" in again.stdout
    assert "HOLDS" in again.stdout and records(resumed) == expected
