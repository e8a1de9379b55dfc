"""The store and the CLI under careless and hostile use: each case was seen once as a
traceback, a hang or a destroyed store; each is now one line on stderr, a conventional exit
code, and nothing lost. Tests that rely on file permissions drop root's capability to
ignore them (CI runs as root), or they would prove nothing."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from pathlib import Path

from jaxmem import cli
from jaxmem.store import Store
from tests.test_plugins import CLI_SESSION

GRID = 'name = "{name}"\nconstruction = "zhang2017"\ndatasets = 3\n[axes]\nn = [4]\nd = [2]\n'


def _grid(tmp_path, text=None, name="g"):
    path = tmp_path / f"{abs(hash(name))}.toml"
    path.write_text(text if text is not None else GRID.format(name=name))
    return str(path)


def _swept_store(tmp_path, capsys, name="g"):
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["sweep", _grid(tmp_path, name=name), "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    return store


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ---- export -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_export_never_writes_over_the_store_or_another_database(tmp_path, capsys):
    store = _swept_store(tmp_path, capsys)
    before = Path(store).read_bytes()[:16]
    assert cli.main(["results", "export", "g", "--store", store, "-o", store]) == 2
    assert "over the store itself" in _one_line_error(capsys)
    assert cli.main(["results", "export", "g", "--store", store, "-o", store, "--force"]) == 2
    capsys.readouterr()
    assert Path(store).read_bytes()[:16] == before
    with Store(store, readonly=True) as s:
        assert len(s.records("g")) == 3
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    assert cli.main(["results", "export", "g", "--store", store, "-o", str(other), "--force"]) == 2
    assert "SQLite database" in _one_line_error(capsys)
    existing = tmp_path / "out.csv"
    existing.write_text("keep me")
    assert cli.main(["results", "export", "g", "--store", store, "-o", str(existing)]) == 2
    assert "--force" in _one_line_error(capsys) and existing.read_text() == "keep me"
    assert cli.main(["results", "export", "g", "--store", store, "-o", str(existing),
                     "--force"]) == 0
    assert existing.read_text().startswith("config_hash")


def test_default_export_name_stays_in_the_working_folder(tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    store = _swept_store(tmp_path, capsys, name="../esc/evil")
    monkeypatch.chdir(work)
    assert cli.main(["results", "export", "../esc/evil", "--store", store]) == 0
    assert "_esc_evil.csv" in capsys.readouterr().out
    assert os.listdir(work) == ["_esc_evil.csv"] and not (tmp_path / "esc").exists()


# ---- grids ----------------------------------------------------------------------------------

BAD_GRIDS = {
    "nul in name": 'name = "a\\u0000b"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\n',
    "nan bound": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = {start = nan, stop = 5, step = 1}\nd = [2]\n',
    "inf bound": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = [4]\nd = {start = 1, stop = inf, step = 1}\n',
    "string bound": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = {start = "a", stop = 5, step = 1}\nd = [2]\n',
    "date bound": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = {start = 1979-05-27, stop = 5, step = 1}\nd = [2]\n',
    "bool bound": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = {start = true, stop = 5, step = 1}\nd = [2]\n',
    "construction list": 'name = "g"\nconstruction = ["zhang2017"]\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\n',
    "construction table": 'name = "g"\nconstruction = {a = 1}\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\n',
    "max_bias nan": 'name = "g"\nconstruction = "genzel2023"\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\nmax_bias = [nan]\n',
    "max_bias inf": 'name = "g"\nconstruction = "genzel2023"\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\nmax_bias = [inf]\n',
    "1 and 1.0": 'name = "g"\nconstruction = "genzel2023"\ndatasets = 2\n[axes]\nn = [4]\nd = [2]\nmax_bias = [1, 1.0]\n',
    "2^63 range": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = {start = 1, stop = 9223372036854775807, step = 1}\nd = [2]\n',
    "1e12 datasets": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 1000000000000\n[axes]\nn = [4]\nd = [2]\n',
    "d = 1e9": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = [40]\nd = [1000000000]\n',
    "width = 1e9": 'name = "g"\nconstruction = "genzel2023"\ndatasets = 2\n[axes]\nn = [400]\nd = [2]\nwidth = [1000000000]\n',
    "n = 300000": 'name = "g"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = [300000]\nd = [2]\n',
}


@pytest.mark.parametrize("case", list(BAD_GRIDS))
def test_bad_grid_values_are_one_line_and_write_nothing(case, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    code = cli.main(["sweep", _grid(tmp_path, BAD_GRIDS[case]), "--store", str(store),
                     "--no-progress"])
    assert code == 2
    line = _one_line_error(capsys)
    assert line.startswith("jaxmem sweep:")
    assert not store.exists()     # checked before the store is created


@pytest.mark.slow
def test_size_check_names_the_entry_and_can_be_overridden(tmp_path, capsys, monkeypatch):
    from jaxmem.sweep import runner
    # A machine so tiny that GRID's own entry (n = 4, d = 2: 896 bytes) does not fit; the
    # --allow-large run is then GRID's sweep, whose program the other tests compile too.
    monkeypatch.setattr(runner, "memory_budget", lambda device: 100)
    path = _grid(tmp_path)
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["sweep", path, "--store", store, "--no-progress"]) == 2
    line = _one_line_error(capsys)
    assert "n=4, d=2" in line and "GiB per dataset" in line and "--allow-large" in line
    assert cli.main(["sweep", path, "--store", store, "--no-progress", "--allow-large"]) == 0


def test_a_fifo_as_the_grid_does_not_hang(tmp_path, capsys):
    fifo = tmp_path / "grid.toml"
    os.mkfifo(fifo)
    assert cli.main(["sweep", str(fifo), "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "not a regular file" in _one_line_error(capsys)


# ---- run ids, seeds, constructions ------------------------------------------------------------

def test_run_references_that_name_no_run(tmp_path, capsys):
    store = _swept_store(tmp_path, capsys)
    for ref in ("99999999999999999999999", "\u0661\u0662", "-1"):
        assert cli.main(["results", "show", ref, "--store", store]) == 2
        assert "has no run" in _one_line_error(capsys)
    with Store(store, readonly=True) as s:
        assert s.run(1)["run_id"] == 1
        with pytest.raises(Exception, match="has no run"):
            s.run(2 ** 70)


@pytest.mark.parametrize("seed", ["-1", str(2 ** 63), str(2 ** 80)])
def test_verify_seed_out_of_range(seed, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["verify", "--seed", seed, "--no-store"])
    assert err.value.code == 2 and "--seed" in capsys.readouterr().err


@pytest.mark.slow
def test_constructions_take_lists_and_integer_arrays():
    import jax
    from jaxmem import metrics
    from jaxmem.constructions import bubeck2020, zhang2017
    X, y = [[0, 1], [2, 3], [5, 1]], [1, -2, 3]
    # The list and the integer arrays are closed over, so each build receives them exactly as
    # an eager call would (its host-side validation and conversion run on them as they are);
    # jit only compiles the arithmetic once instead of op by op (~200 tiny compilations).
    for build in (zhang2017.build, bubeck2020.build):
        def check(key, build=build):
            net, info = build(key, X, y)
            return info["valid"], metrics.interpolates(net, np.array(X, float), y)
        valid, fits = jax.jit(check)(jax.random.key(0))
        assert bool(valid) and bool(fits)
    net = jax.jit(lambda key: zhang2017.build(key, np.array(X, np.int32), np.array(y))[0])(
        jax.random.key(0))
    assert net.layers[0].weight.dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        zhang2017.build(jax.random.key(0), [1, 2, 3], [1, 2, 3])


# ---- stores that are read-only to this user ----------------------------------------------------

def _unprivileged(argv, **kwargs):
    """argv without root's power to ignore file permissions (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH dropped): as an ordinary user meets a read-only file."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                  "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run(prefix + argv, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.slow
def test_read_only_store_file_and_folder(tmp_path, capsys):
    store = _swept_store(tmp_path, capsys)
    grid = _grid(tmp_path)
    # A valid store in a read-only folder (a second one, swept by the same compiled program).
    folder = tmp_path / "read-only"
    folder.mkdir()
    in_folder = _swept_store(folder, capsys)
    os.chmod(store, 0o444)
    os.chmod(folder, 0o555)
    try:
        # Both commands in one unprivileged process (each process costs a JAX import): its own
        # output must be empty, so what each command prints is all there is.
        results = tmp_path / "results.json"
        commands = [["sweep", grid, "--store", store, "--no-progress"],
                    ["results", "show", "g", "--store", in_folder]]
        session = _unprivileged([sys.executable, "-c", CLI_SESSION, json.dumps(commands),
                                 str(results)])
        assert session.returncode == 0, session.stderr
        assert session.stdout == "" and session.stderr == ""
        sweep, show = json.loads(results.read_text())
        assert sweep["returncode"] == 2 and len(sweep["stderr"].strip().splitlines()) == 1, \
            sweep["stderr"]
        assert "read-only" in sweep["stderr"]
        # Reading needs no write access.
        assert show["returncode"] == 0, show["stderr"]
        assert "3/3 records" in show["stdout"]
    finally:
        os.chmod(folder, 0o755)
        os.chmod(store, 0o644)


# ---- interrupts, closed pipes, full disks, vanished processes -----------------------------------

# GRID's config in GRID's blocks (3 datasets: one block of 4), many times over: the subprocesses
# load the program the tests above compiled from the session's compilation cache (conftest's
# JAXMEM_CACHE; the first one compiles it where they did not run).
LONG_GRID = ('name = "long"\nconstruction = "zhang2017"\ndatasets = 400000\nchunk_size = 4\n'
             '[axes]\nn = [4]\nd = [2]\n')


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_end_the_run_as_interrupted(sig, code, tmp_path):
    store = str(tmp_path / "s.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "jaxmem.cli", "sweep",
                             _grid(tmp_path, LONG_GRID), "--store", store, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:      # until the first records are in
        time.sleep(0.2)
        if os.path.exists(store):
            try:
                with Store(store, readonly=True) as s:
                    if s.runs() and s.runs()[0]["n_records"] > 0:
                        break
            except Exception:  # noqa: BLE001 (being created)
                pass
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    with Store(store, readonly=True) as s:
        (run,) = s.runs()
    assert run["status"] == "interrupted" and 0 < run["n_records"] < 400000


def test_a_run_whose_process_is_gone_is_not_running(tmp_path):
    with Store(str(tmp_path / "s.sqlite")) as store:
        run = store.begin_run(sweep="x", kind="sweep", grid=None, environment={})
        assert store.run(run)["status"] == "running"
        dead = subprocess.Popen(["true"])
        dead.wait()
        store._conn.execute("UPDATE provenance SET pid = ? WHERE run_id = ?", (dead.pid, run))
        assert store.run(run)["status"] == "gone"


def test_a_closed_pipe_is_a_quiet_exit(capsys, monkeypatch):
    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        code = cli.main(["verify", "--list"])
    finally:
        monkeypatch.undo()
        try:
            stream.close()           # fd now on /dev/null (the CLI's handling)
        except OSError:
            pass
    assert code == 141


@pytest.mark.slow
def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    store = _swept_store(tmp_path, capsys)

    def full(self, *args, **kwargs):     # what SQLite says when the disk fills up
        raise self._error(sqlite3.OperationalError("database or disk is full"))
    monkeypatch.setattr(Store, "write_columns", full)
    # One dataset more than the store holds: the sweep has a record to write (in the program
    # the first sweep compiled: the same config and block size).
    grid = _grid(tmp_path, GRID.format(name="other").replace("datasets = 3", "datasets = 4"),
                 name="other")
    assert cli.main(["sweep", grid, "--store", store, "--no-progress"]) == 2
    assert "disk is full" in _one_line_error(capsys)
    monkeypatch.undo()
    with Store(store, readonly=True) as s:
        assert s.run("other")["status"] == "failed"
