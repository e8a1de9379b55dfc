"""The results store: one SQLite file that sweeps append to and reports read from.

SQLite because it is in the standard library, is one file, and lets several processes write at
once: WAL mode, a 60 s busy timeout and short BEGIN IMMEDIATE transactions (docs/jax-notes.md §3).
A record is keyed by (config hash, dataset index) and written with INSERT OR IGNORE, so a sweep
that is killed and started again, or two sweeps of one grid at once, write each record exactly
once. What a transaction committed survives SIGKILL (synchronous=NORMAL can lose the last commits
on power loss, never on a process crash); what it did not commit leaves no trace.

Tables (schema version 1):
    meta         key -> value; schema_version
    provenance   run -> git commit, dirty tree, code fingerprint, accepted other code
    runs         one row per invocation (a sweep, a resumed sweep, `jaxmem verify`)
    configs      config hash -> canonical JSON
    run_configs  the configs a run covers, and how many datasets of each
    records      one row per (config, dataset): one column per metric, so SQL reads them
                 directly (SELECT AVG(ok) FROM records ...) and writing a float costs no
                 text conversion (JSON encoding was most of the store's time per record)
    metric_columns  each metric column's kind (bool, int, float, text), to read values back
                 as they were written
    verdicts     one row per claim a verify run checked
    leases       who is computing which chunk, so concurrent sweeps of one grid split the work

Keep one Store per process: SQLite connections must not cross a fork. Do not put the file on
NFS: WAL needs shared-memory locking on a local file system.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.parse
import uuid

import numpy as np

SCHEMA_VERSION = 1
DEFAULT_PATH = "./jaxmem-results.sqlite"

ENVIRONMENT_KEYS = (
    "jaxmem_version",
    "jax_version",
    "backend",
    "device_kind",
    "device_count",
    "process_count",
    "x64",
    "matmul_precision",
)
RUN_STATUSES = ("running", "done", "failed", "interrupted")
VERDICT_COLUMNS = (
    "claim",
    "scale",
    "seed",
    "verdict",
    "n_datasets",
    "pass_rate",
    "ci_low",
    "ci_high",
    "exponent",
    "seconds",
    "detail",
)

_PROVENANCE_TABLE = """CREATE TABLE IF NOT EXISTS provenance(
        run_id INTEGER PRIMARY KEY, git_commit TEXT, git_dirty INTEGER, code_fingerprint TEXT,
        accepted_code TEXT, host TEXT, pid INTEGER)"""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE IF NOT EXISTS runs(
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        sweep TEXT NOT NULL, kind TEXT NOT NULL, grid TEXT, grid_hash TEXT,
        jaxmem_version TEXT, jax_version TEXT, backend TEXT, device_kind TEXT,
        device_count INTEGER, process_count INTEGER, x64 INTEGER, matmul_precision TEXT,
        started REAL, ended REAL, status TEXT)""",
    "CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep, run_id)",
    # metrics: the JSON list of metric names this config's records carry (NULL before any).
    """CREATE TABLE IF NOT EXISTS configs(config_hash TEXT PRIMARY KEY, config TEXT NOT NULL,
        metrics TEXT)""",
    """CREATE TABLE IF NOT EXISTS run_configs(
        run_id INTEGER NOT NULL, config_hash TEXT NOT NULL, datasets INTEGER NOT NULL,
        PRIMARY KEY(run_id, config_hash))""",
    # Metric columns are added (ALTER TABLE ... ADD COLUMN) as new metric names appear.
    """CREATE TABLE IF NOT EXISTS records(
        config_hash TEXT NOT NULL, dataset_index INTEGER NOT NULL, run_id INTEGER,
        created REAL,
        PRIMARY KEY(config_hash, dataset_index)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS metric_columns(name TEXT PRIMARY KEY, kind TEXT NOT NULL)",
    # What code made a run's records (jaxmem.provenance); accepted_code: the JSON list of
    # other fingerprints whose records the run reused on request (--accept-old-records).
    _PROVENANCE_TABLE,
    """CREATE TABLE IF NOT EXISTS verdicts(
        run_id INTEGER, claim TEXT, scale TEXT, seed INTEGER, verdict TEXT, n_datasets INTEGER,
        pass_rate REAL, ci_low REAL, ci_high REAL, exponent REAL, seconds REAL, detail TEXT,
        result TEXT, created REAL)""",
    "CREATE INDEX IF NOT EXISTS verdicts_by_run ON verdicts(run_id)",
    """CREATE TABLE IF NOT EXISTS leases(
        config_hash TEXT NOT NULL, chunk_start INTEGER NOT NULL, owner TEXT, host TEXT,
        pid INTEGER, expires REAL,
        PRIMARY KEY(config_hash, chunk_start)) WITHOUT ROWID""",
)


class StoreError(Exception):
    """A store that cannot be opened, read or written; the message is one line naming the file."""


def default_store_path(flag: str | None = None) -> str:
    """The --store flag, else $JAXMEM_STORE, else ./jaxmem-results.sqlite."""
    path = flag or os.environ.get("JAXMEM_STORE") or DEFAULT_PATH
    return os.path.expanduser(os.fspath(path))


def _plain(value):
    """NumPy scalars and arrays as Python values, for JSON and for SQLite parameters."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a JSON scalar")


def _encode(value) -> str:
    """Compact JSON; NaN and +-Infinity as the tokens Python's json reads back."""
    return json.dumps(value, separators=(",", ":"), default=_plain, allow_nan=True)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


def _scalar(value):
    """A value SQLite can bind: NumPy scalars become Python ones, containers JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dict, list, tuple, np.ndarray)):
        return _encode(value)
    return value


RECORD_FIELDS = ("config_hash", "dataset_index", "run_id", "created")
METRIC_KINDS = ("bool", "int", "float", "text")  # each kind can hold the ones before it
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _type_kind(value_type) -> str:
    """The metric kind of a Python scalar type (NumPy scalars become Python ones first)."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("text", str)):
        if issubclass(value_type, types):
            return kind
    raise ValueError(
        f"metric values must be scalars (bool, int, float, str); got {value_type.__name__}"
    )


_DTYPE_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float"}


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _check_export_target(path: str, store_path: str, force: bool) -> None:
    """An export never replaces the store (or its WAL files), any SQLite database, a folder or
    a special file; an existing file only with force."""
    real = os.path.realpath(path)
    store_real = os.path.realpath(store_path)
    if real in (store_real, store_real + "-wal", store_real + "-shm"):
        raise StoreError(f"refusing to export over the store itself ({path})")
    if os.path.lexists(path):
        if os.path.isdir(path):
            raise StoreError(f"cannot export to {path}: it is a folder")
        if not os.path.isfile(path):
            raise StoreError(f"refusing to export over {path}: not a regular file")
        if _is_sqlite(path):
            raise StoreError(f"refusing to export over {path}: it is a SQLite database")
        if not force:
            raise StoreError(f"{path} exists; export with --force to replace it")


def _check_metric_name(name) -> None:
    if (
        not isinstance(name, str)
        or not _METRIC_NAME.fullmatch(name)
        or name.lower() in RECORD_FIELDS
    ):
        raise ValueError(
            f"metric name {name!r} must be an identifier ([A-Za-z_][A-Za-z0-9_]*) "
            f"other than {', '.join(RECORD_FIELDS)}"
        )


def _read_metric(value, kind: str):
    """A stored value as written: SQLite keeps bools as 0/1 and NaN as NULL."""
    if kind == "bool":
        return None if value is None else bool(value)
    if kind == "float":
        return float("nan") if value is None else float(value)
    return value


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, TypeError, OverflowError):
        return True  # exists but is not ours (PermissionError), or unknowable: assume alive
    return True


def _columns(rows: list[dict]) -> list[str]:
    """Every key of the rows, in order of first appearance."""
    return list(dict.fromkeys(k for row in rows for k in row))


class Store:
    """A results store file; see the module docstring for what it holds."""

    def __init__(self, path, *, readonly: bool = False):
        self.path = os.fspath(path)
        self.readonly = bool(readonly)
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex}"
        self._lock = threading.RLock()
        # metric column -> kind, read from the file when needed
        self._metric_kinds: dict[str, str] | None = None
        self._conn: sqlite3.Connection | None = None
        self._open()

    # ----------------------------------------------------------------------------- opening

    def _open(self):
        path = self.path
        if os.path.isdir(path):
            raise StoreError(f"cannot open store {path}: it is a directory")
        existed = os.path.exists(path)
        if not existed:
            if self.readonly:
                raise StoreError(f"cannot open store {path}: no such file")
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                what = "is not a directory" if os.path.exists(parent) else "does not exist"
                raise StoreError(f"cannot create store {path}: {parent} {what}")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise StoreError(f"cannot create store {path}: directory {parent} is not writable")
        if existed and not self.readonly and not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(
                f"cannot write to store {path}: the file is read-only (read it "
                f"with `jaxmem results`, or give another --store)"
            )
        mode = "rw" if existed else "rwc"
        query = ""
        if self.readonly and not self._can_clean_up():
            mode = "ro"
            # Reading needs no write access: where the WAL's shared-memory file cannot be
            # created (a read-only folder or file) and no writer has a WAL open, read the
            # file as immutable, which takes no locks and creates no files.
            wal = path + "-wal"
            if not os.path.exists(wal) or os.path.getsize(wal) == 0:
                query = "&immutable=1"
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode={mode}{query}"
        try:
            self._conn = sqlite3.connect(
                uri, uri=True, timeout=60, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open store {path}: {err}") from None
        try:
            self._conn.execute("PRAGMA busy_timeout=60000")
            if self.readonly:
                self._conn.execute("PRAGMA query_only=ON")
            self._check_or_create()
            if not self.readonly:
                self._conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            self.close()
            if not existed and os.path.exists(path) and os.path.getsize(path) == 0:
                os.remove(path)
            raise

    def _can_clean_up(self) -> bool:
        """Whether a read-only Store may open the file read-write under query_only: a mode=ro
        connection cannot remove the WAL and shared-memory files it creates beside a WAL
        database, so every read would leave them behind. query_only refuses all writes."""
        parent = os.path.dirname(os.path.abspath(self.path))
        return os.access(self.path, os.R_OK | os.W_OK) and os.access(parent, os.W_OK | os.X_OK)

    def _check_or_create(self):
        """Read-only checks first, so that a file which is not our store is never written."""
        try:
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path} is not a jaxmem store ({err})") from None
        if "meta" in tables:
            self._check_version()
            if "provenance" not in tables and not self.readonly:
                with self._write():  # added after schema version 1 (additive)
                    self._conn.execute(_PROVENANCE_TABLE)
            return
        if tables:
            names = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"{self.path} is not a jaxmem store (a SQLite database with tables {names})"
            )
        if self.readonly:
            raise StoreError(f"{self.path} is not a jaxmem store (an empty database)")
        # A new (or empty) file. Another process may be creating it at this moment: IF NOT
        # EXISTS and OR IGNORE make the second creation a no-op, and the version is checked
        # inside the same transaction.
        self._enable_wal()
        with self._write():
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._check_version()

    def _enable_wal(self, timeout_s: float = 60.0):
        """Switch a new file to WAL. SQLite does not apply the busy timeout to a journal-mode
        change, which fails at once with "database is locked" when another process is creating
        the same file; so retry here, as the busy handler would."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._live().execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise StoreError(f"cannot create store {self.path}: {err}") from None
            time.sleep(0.01)

    def _check_version(self):
        try:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path} is not a jaxmem store ({err})") from None
        if row is None:
            raise StoreError(f"{self.path} is not a jaxmem store (no schema version)")
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise StoreError(
                f"{self.path} is not a jaxmem store (schema version {row[0]!r})"
            ) from None
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}; "
                f"this jaxmem reads version {SCHEMA_VERSION}"
            )

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Store({self.path!r}{', readonly=True' if self.readonly else ''})"

    # ---------------------------------------------------------------------- transactions

    def _error(self, err: Exception) -> StoreError:
        return StoreError(f"store {self.path}: {err}")

    @contextlib.contextmanager
    def _write(self):
        """One short write transaction: BEGIN IMMEDIATE takes the write lock up front (waiting
        up to the busy timeout), so it never fails half-way for a lock; any error rolls back."""
        if self.readonly:
            raise StoreError(f"store {self.path} is open read-only")
        with self._lock:
            conn = self._live()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise self._error(err) from err
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    def _query(self, sql: str, params=()) -> list[tuple]:
        """One SELECT, read from one snapshot."""
        with self._lock:
            try:
                return self._live().execute(sql, params).fetchall()
            except sqlite3.Error as err:
                raise self._error(err) from err

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    # ------------------------------------------------------------------------------ runs

    def begin_run(
        self,
        *,
        sweep: str,
        kind: str,
        grid: dict | None,
        environment: dict,
        provenance: dict | None = None,
        accepted_code=(),
    ) -> int:
        """A new run, status 'running'; its id. Keys of environment other than
        ENVIRONMENT_KEYS are ignored, missing ones stored as NULL. provenance (jaxmem.provenance:
        git_commit, git_dirty, code_fingerprint) says what code makes its records;
        accepted_code lists other fingerprints whose records it reuses on request."""
        if not isinstance(sweep, str) or not sweep:
            raise ValueError(f"sweep must be a non-empty string; got {sweep!r}")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"kind must be a non-empty string; got {kind!r}")
        grid_json = None if grid is None else _canonical(grid)
        grid_hash = None if grid_json is None else hashlib.sha256(grid_json.encode()).hexdigest()
        env = {k: _scalar(environment.get(k)) for k in ENVIRONMENT_KEYS}
        if env["x64"] is not None:
            env["x64"] = int(bool(env["x64"]))
        with self._write() as conn:
            cursor = conn.execute(
                f"INSERT INTO runs(sweep, kind, grid, grid_hash, {', '.join(ENVIRONMENT_KEYS)}, "
                f"started, status) VALUES (?, ?, ?, ?, {', '.join('?' * len(ENVIRONMENT_KEYS))}, "
                f"?, 'running')",
                (sweep, kind, grid_json, grid_hash, *env.values(), time.time()),
            )
            run_id = cursor.lastrowid
            provenance = provenance or {}
            dirty = provenance.get("git_dirty")
            # host and pid: a run still 'running' whose process is gone shows as such.
            conn.execute(
                "INSERT INTO provenance VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    provenance.get("git_commit"),
                    None if dirty is None else int(bool(dirty)),
                    provenance.get("code_fingerprint"),
                    json.dumps(sorted(set(accepted_code), key=str)) if accepted_code else None,
                    self.host,
                    os.getpid(),
                ),
            )
            return run_id

    def end_run(self, run_id: int, status: str = "done") -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}; got {status!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET ended = ?, status = ? WHERE run_id = ?",
                (time.time(), status, int(run_id)),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"store {self.path} has no run {run_id}")

    def add_configs(self, run_id: int, configs: list[tuple[str, str, int]]) -> None:
        """Record that run_id covers these (config hash, canonical JSON, datasets). Adding a
        config again updates its dataset count and keeps its place in the run's order."""
        rows = [(str(h), str(j), int(n)) for h, j, n in configs]
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO configs (config_hash, config) VALUES (?, ?)",
                [(h, j) for h, j, _ in rows],
            )
            conn.executemany(
                "INSERT INTO run_configs VALUES (?, ?, ?) ON CONFLICT(run_id, config_hash) "
                "DO UPDATE SET datasets = excluded.datasets",
                [(int(run_id), h, n) for h, _, n in rows],
            )

    def runs(self) -> list[dict]:
        """Every run, oldest first, with n_configs, n_records (records of its configs below
        each config's dataset count, whichever run wrote them) and expected (datasets covered)."""
        return self._runs("", ())

    def run(self, ref) -> dict:
        """A run by id (int or digit string) or by sweep name (its newest run)."""
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            found = self._runs("WHERE r.run_id = ?", (int(ref),)) if 0 <= int(ref) < 2**63 else []
        elif isinstance(ref, str):
            found = []
            digits = ref.strip()
            # ASCII digits only (str.isdigit takes other scripts' digits), within SQLite's
            # 64-bit integers: a longer number names no run.
            if digits.isascii() and digits.isdigit() and len(digits) <= 18:
                found = self._runs("WHERE r.run_id = ?", (int(digits),))
            if not found:
                found = self._runs(
                    "WHERE r.run_id = (SELECT MAX(run_id) FROM runs WHERE sweep = ?)", (ref,)
                )
        else:
            raise TypeError(f"a run is named by its id or its sweep name; got {ref!r}")
        if not found:
            sweeps = [r[0] for r in self._query("SELECT DISTINCT sweep FROM runs ORDER BY sweep")]
            known = ", ".join(sweeps[:10]) + (", ..." if len(sweeps) > 10 else "")
            raise StoreError(
                f"store {self.path} has no run {ref!r}"
                + (f" (sweeps: {known})" if sweeps else " (it has no runs)")
            )
        return found[0]

    def _runs(self, where: str, params) -> list[dict]:
        sql = f"""
            SELECT r.*, {self._provenance_columns()}
                (SELECT COUNT(*) FROM run_configs rc WHERE rc.run_id = r.run_id) AS n_configs,
                (SELECT COUNT(*) FROM run_configs rc JOIN records rec
                    ON rec.config_hash = rc.config_hash AND rec.dataset_index < rc.datasets
                    WHERE rc.run_id = r.run_id) AS n_records,
                (SELECT COALESCE(SUM(rc.datasets), 0) FROM run_configs rc
                    WHERE rc.run_id = r.run_id) AS expected
            FROM runs r {self._provenance_join()} {where} ORDER BY r.run_id"""
        with self._lock:
            try:
                cursor = self._live().execute(sql, params)
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, row)) for row in cursor.fetchall()]
            except sqlite3.Error as err:
                raise self._error(err) from err
        for row in rows:
            row["grid"] = None if row["grid"] is None else json.loads(row["grid"])
            row["x64"] = None if row["x64"] is None else bool(row["x64"])
            row["git_dirty"] = None if row["git_dirty"] is None else bool(row["git_dirty"])
            row["accepted_code"] = json.loads(row["accepted_code"] or "[]")
            # A 'running' run whose process on this host has exited was killed (SIGKILL, a
            # crash): it shows as 'gone'. Another host's process cannot be checked.
            host, pid = row.pop("host", None), row.pop("pid", None)
            if (
                row["status"] == "running"
                and host == self.host
                and pid is not None
                and not _pid_alive(pid)
            ):
                row["status"] = "gone"
        return rows

    def _has_provenance(self) -> bool:
        # A store opened read-only from before provenance was recorded has no such table.
        return bool(
            self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'provenance'")
        )

    def _provenance_columns(self) -> str:
        if self._has_provenance():
            return "p.git_commit, p.git_dirty, p.code_fingerprint, p.accepted_code, p.host, p.pid,"
        return (
            "NULL AS git_commit, NULL AS git_dirty, NULL AS code_fingerprint, "
            "NULL AS accepted_code, NULL AS host, NULL AS pid,"
        )

    def _provenance_join(self) -> str:
        return "LEFT JOIN provenance p ON p.run_id = r.run_id" if self._has_provenance() else ""

    def accept_code(self, run_id: int, fingerprints) -> None:
        """Record on a run that it reuses records computed by these other fingerprints."""
        run = self.run(int(run_id))
        merged = sorted(set(run["accepted_code"]) | {str(f) for f in fingerprints})
        with self._write() as conn:
            conn.execute(
                "INSERT INTO provenance(run_id, accepted_code) VALUES (?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET accepted_code = excluded.accepted_code",
                (int(run_id), json.dumps(merged)),
            )

    def record_code(self, config_hash: str, stop: int) -> dict:
        """{code fingerprint (None: unknown, from before jaxmem recorded it): records} of a
        config's records below index `stop`, by the run that wrote each."""
        if self._has_provenance():
            rows = self._query(
                """SELECT p.code_fingerprint, COUNT(*) FROM records rec
                                  LEFT JOIN provenance p ON p.run_id = rec.run_id
                                  WHERE rec.config_hash = ? AND rec.dataset_index >= 0
                                  AND rec.dataset_index < ? GROUP BY p.code_fingerprint""",
                (config_hash, int(stop)),
            )
        else:
            rows = self._query(
                """SELECT NULL, COUNT(*) FROM records WHERE config_hash = ?
                                  AND dataset_index >= 0 AND dataset_index < ?
                                  HAVING COUNT(*) > 0""",
                (config_hash, int(stop)),
            )
        return {fp: int(n) for fp, n in rows}

    # --------------------------------------------------------------------------- records

    def configs(self, ref) -> list[dict]:
        """A run's configs in the order they were added: config_hash, config (dict), datasets."""
        run_id = self.run(ref)["run_id"]
        rows = self._query(
            """SELECT rc.config_hash, c.config, rc.datasets FROM run_configs rc
                              JOIN configs c ON c.config_hash = rc.config_hash
                              WHERE rc.run_id = ? ORDER BY rc.rowid""",
            (run_id,),
        )
        out = []
        for h, config, datasets in rows:
            config = json.loads(config)
            out.append(
                dict(
                    config_hash=h,
                    config=config if isinstance(config, dict) else {"config": config},
                    datasets=int(datasets),
                )
            )
        return out

    def done_indices(self, config_hash: str, stop: int) -> np.ndarray:
        """Boolean mask of length stop: True where dataset i of the config has a record."""
        done = np.zeros(int(stop), dtype=bool)
        rows = self._query(
            "SELECT dataset_index FROM records WHERE config_hash = ? "
            "AND dataset_index >= 0 AND dataset_index < ?",
            (config_hash, int(stop)),
        )
        done[np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))] = True
        return done

    def columns(self, config_hash: str, start: int, stop: int) -> dict:
        """A config's metrics over dataset indices [start, stop), as arrays in index order
        (what the engine computed, read back): bool, int64, float64 or object arrays by the
        metric's kind. A metric a record lacks reads as False in a bool column and NaN
        otherwise (an int column with gaps becomes float). StoreError when an index of the
        range has no record."""
        row = self._query("SELECT metrics FROM configs WHERE config_hash = ?", (config_hash,))
        names = json.loads(row[0][0] or "[]") if row else []
        kinds = dict(self._query("SELECT name, kind FROM metric_columns"))
        rows = self._query(
            "SELECT dataset_index" + "".join(f', "{n}"' for n in names) + " FROM records "
            "WHERE config_hash = ? AND dataset_index >= ? AND dataset_index < ? "
            "ORDER BY dataset_index",
            (config_hash, int(start), int(stop)),
        )
        if len(rows) != int(stop) - int(start):
            raise StoreError(
                f"config {config_hash[:12]} has {len(rows)} of its {int(stop) - int(start)} "
                f"records [{start}, {stop}) in {self.path}"
            )
        out = {}
        for j, name in enumerate(names, start=1):
            values = [r[j] for r in rows]
            kind = kinds.get(name, "text")
            if kind == "bool":
                out[name] = np.array([bool(v) for v in values], bool)  # NULL -> False
            elif kind == "int" and None not in values:
                out[name] = np.array(values, np.int64)
            elif kind in ("int", "float"):
                out[name] = np.array([np.nan if v is None else v for v in values], np.float64)
            else:
                out[name] = np.array(values, object)
        return out

    def write_records(
        self,
        run_id: int,
        config_hash: str,
        indices,
        metrics: list[dict],
        *,
        release_lease: bool = False,
    ) -> int:
        """Write one record per (index, metrics dict) in one transaction; the number of rows
        actually inserted (records already present are left as they are). Every dict has the
        same metric names. release_lease also drops this Store's lease on (config_hash,
        min(indices)) in the same transaction."""
        if not all(type(m) is dict for m in metrics):
            raise ValueError("metrics must be a list of dicts of scalars")
        if len(np.asarray(indices).ravel()) != len(metrics):
            raise ValueError(
                f"{len(np.asarray(indices).ravel())} indices but {len(metrics)} metrics dicts"
            )
        names = list(metrics[0]) if metrics else []
        if any(list(m) != names for m in metrics):
            raise ValueError(
                "every metrics dict of one write must have the same names, in the same order"
            )
        columns = {k: [m[k] for m in metrics] for k in names}
        return self.write_columns(
            run_id, config_hash, indices, columns, release_lease=release_lease
        )

    def write_columns(
        self, run_id: int, config_hash: str, indices, columns: dict, *, release_lease: bool = False
    ) -> int:
        """write_records from columns: name -> sequence (or NumPy array) of one value per
        index. The sweep engine's path: no per-record dicts."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(
                f"indices must be a 1-D array of integers; got shape "
                f"{indices.shape}, dtype {indices.dtype}"
            )
        names = list(columns)
        values, kinds = [], {}
        for name in names:
            _check_metric_name(name)
            column = columns[name]
            dtype_kind = (
                _DTYPE_KINDS.get(column.dtype.kind) if isinstance(column, np.ndarray) else None
            )
            column = (
                column.tolist()
                if isinstance(column, np.ndarray)
                else [v.item() if isinstance(v, np.generic) else v for v in column]
            )
            if len(column) != len(indices):
                raise ValueError(f"{len(indices)} indices but {len(column)} values of {name!r}")
            if dtype_kind is None:  # one check per distinct type, not per value
                found = {_type_kind(t) for t in set(map(type, column))} or {"bool"}
                dtype_kind = max(found, key=METRIC_KINDS.index)
            values.append(column)
            kinds[name] = dtype_kind
        now = time.time()
        placeholders = ", ".join("?" * (4 + len(names)))
        sql = (
            "INSERT OR IGNORE INTO records (config_hash, dataset_index, run_id, created"
            + "".join(f', "{n}"' for n in names)
            + f") VALUES ({placeholders})"
        )
        rows = [(config_hash, i, run_id, now, *vals) for i, *vals in zip(indices.tolist(), *values)]
        with self._write() as conn:
            self._ensure_metric_columns(conn, kinds)
            self._note_config_metrics(conn, config_hash, names)
            before = conn.total_changes
            conn.executemany(sql, rows)
            inserted = conn.total_changes - before
            if release_lease and rows:
                conn.execute(
                    "DELETE FROM leases WHERE config_hash = ? AND chunk_start = ? AND owner = ?",
                    (config_hash, int(indices.min()), self.owner),
                )
        return inserted

    @staticmethod
    def _note_config_metrics(conn, config_hash: str, names: list) -> None:
        """configs.metrics: the metric names the config's records carry (a NULL column in a
        row then reads as NaN for a float metric it carries, and is left out otherwise)."""
        row = conn.execute(
            "SELECT metrics FROM configs WHERE config_hash = ?", (config_hash,)
        ).fetchone()
        have = json.loads(row[0]) if row and row[0] else []
        merged = have + [n for n in names if n not in have]
        if merged != have:
            conn.execute(
                "UPDATE configs SET metrics = ? WHERE config_hash = ?",
                (json.dumps(merged), config_hash),
            )

    def _ensure_metric_columns(self, conn, kinds: dict) -> None:
        """Adds missing metric columns and widens kinds (bool < int < float < text), inside
        the caller's write transaction, so concurrent writers agree on the schema."""
        known = self._metric_kinds
        if known is None or any(
            known.get(n) is None or METRIC_KINDS.index(known[n]) < METRIC_KINDS.index(k)
            for n, k in kinds.items()
        ):
            known = dict(conn.execute("SELECT name, kind FROM metric_columns"))
            existing = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
            for name, kind in kinds.items():
                if name not in existing:
                    conn.execute(f'ALTER TABLE records ADD COLUMN "{name}"')
                old = known.get(name)
                if old is None or METRIC_KINDS.index(old) < METRIC_KINDS.index(kind):
                    conn.execute(
                        "INSERT OR REPLACE INTO metric_columns VALUES (?, ?)", (name, kind)
                    )
                    known[name] = kind
            self._metric_kinds = known

    def records(self, ref) -> list[dict]:
        """Every record of a run's configs below that config's dataset count, whichever run
        wrote it, as flat dicts: config_hash, dataset_index, run_id (the writer), the config's
        fields, then the metrics. A config field or metric whose name is already taken gets the
        prefix 'config.' or 'metrics.'. Ordered by config (as added to the run), then index."""
        run_id = self.run(ref)["run_id"]
        kinds = dict(self._query("SELECT name, kind FROM metric_columns"))
        with self._lock:
            cursor = self._live().execute(
                """
                SELECT rc.config_hash, c.config, c.metrics, rec.*
                FROM run_configs rc
                JOIN configs c ON c.config_hash = rc.config_hash
                JOIN records rec ON rec.config_hash = rc.config_hash
                    AND rec.dataset_index >= 0 AND rec.dataset_index < rc.datasets
                WHERE rc.run_id = ?
                ORDER BY rc.rowid, rec.dataset_index""",
                (run_id,),
            )
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        position = {name: i for i, name in enumerate(names) if i >= 3}
        configs: dict[str, tuple] = {}
        out = []
        for row in rows:
            config_hash = row[0]
            if config_hash not in configs:
                config = json.loads(row[1])
                config = config if isinstance(config, dict) else {"config": config}
                metrics = [m for m in json.loads(row[2] or "[]") if m in position]
                configs[config_hash] = (config, metrics)
            config, metrics = configs[config_hash]
            record = {
                "config_hash": config_hash,
                "dataset_index": row[position["dataset_index"]],
                "run_id": row[position["run_id"]],
            }
            for key, value in config.items():
                record["config." + key if key in record else key] = value
            for name in metrics:
                value = _read_metric(row[position[name]], kinds.get(name, "text"))
                record["metrics." + name if name in record else name] = value
            out.append(record)
        return out

    def dataframe(self, ref):
        """records(ref) as a pandas DataFrame."""
        try:
            import pandas
        except ImportError:
            raise StoreError(
                "reading the store as a DataFrame needs pandas: pip install pandas"
            ) from None
        rows = self.records(ref)
        columns = _columns(rows) or ["config_hash", "dataset_index", "run_id"]
        return pandas.DataFrame.from_records(rows, columns=columns)

    def export(self, ref, path, format: str = "csv", *, force: bool = False) -> int:
        """Write records(ref) to a CSV or Parquet file; the number of rows written. The file
        is written beside its destination and renamed, so a failed export leaves nothing.
        Never over this store or any SQLite database; an existing file only with force."""
        if format not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet'; got {format!r}")
        path = os.fspath(path)
        _check_export_target(path, self.path, force)
        rows = self.records(ref)
        columns = _columns(rows) or ["config_hash", "dataset_index", "run_id"]
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            if format == "csv":
                _write_csv(tmp, rows, columns)
            else:
                _write_parquet(tmp, rows, columns)
            os.replace(tmp, path)
        except OSError as err:
            raise StoreError(f"cannot export to {path}: {err.strerror or err}") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return len(rows)

    # ---------------------------------------------------------------------------- leases

    def _lease_free(self, row, now: float) -> bool:
        owner, host, pid, expires = row
        return (
            owner == self.owner
            or expires is None
            or expires <= now
            or (host == self.host and not _pid_alive(pid))
        )

    def try_lease(self, config_hash: str, chunk_start: int, ttl_s: float = 600.0) -> bool:
        """Claim a chunk for this Store for ttl_s seconds; False if another holder is live.
        A lease is free when there is none, it expired, it is this Store's own, or its holder
        ran on this host and its process is gone (killed sweeps do not block for ttl_s)."""
        with self._write() as conn:
            return self._take_lease(conn, config_hash, chunk_start, time.time(), ttl_s)

    def _take_lease(
        self, conn, config_hash: str, chunk_start: int, now: float, ttl_s: float
    ) -> bool:
        """Inside the caller's write transaction: take the lease if it is free."""
        row = conn.execute(
            "SELECT owner, host, pid, expires FROM leases "
            "WHERE config_hash = ? AND chunk_start = ?",
            (config_hash, int(chunk_start)),
        ).fetchone()
        if row is not None and not self._lease_free(row, now):
            return False
        conn.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?, ?)",
            (config_hash, int(chunk_start), self.owner, self.host, os.getpid(), now + float(ttl_s)),
        )
        return True

    def claim_blocks(self, config_hash: str, spans, ttl_s: float = 600.0) -> list[str]:
        """For each block (start, stop), in one transaction: "done" if datasets [start, stop)
        all have records (another process wrote them since this one last looked), else
        "claimed" if this Store now holds the block's lease (free as for try_lease), else
        "busy". One transaction for a window of blocks keeps the sweep's host loop from
        waiting on the store once per block."""
        now, out = time.time(), []
        with self._write() as conn:
            for start, stop in spans:
                count = conn.execute(
                    "SELECT COUNT(*) FROM records WHERE config_hash = ? AND "
                    "dataset_index >= ? AND dataset_index < ?",
                    (config_hash, int(start), int(stop)),
                ).fetchone()[0]
                if count == stop - start:
                    out.append("done")
                else:
                    taken = self._take_lease(conn, config_hash, start, now, ttl_s)
                    out.append("claimed" if taken else "busy")
        return out

    def claim_block(self, config_hash: str, start: int, stop: int, ttl_s: float = 600.0) -> str:
        """claim_blocks for one block."""
        return self.claim_blocks(config_hash, [(start, stop)], ttl_s)[0]

    def release_lease(self, config_hash: str, chunk_start: int) -> None:
        """Drop this Store's lease on the chunk (another holder's lease is left alone)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM leases WHERE config_hash = ? AND chunk_start = ? AND owner = ?",
                (config_hash, int(chunk_start), self.owner),
            )

    # -------------------------------------------------------------------------- verdicts

    def write_verdicts(self, run_id: int, results: list[dict]) -> None:
        """One row per claim result: the VERDICT_COLUMNS found in the dict (missing -> NULL,
        a non-string detail as JSON) and the whole dict as JSON in `result`."""
        now = time.time()
        rows = []
        for result in results:
            values = [_scalar(result.get(column)) for column in VERDICT_COLUMNS]
            detail = values[VERDICT_COLUMNS.index("detail")]
            if detail is not None and not isinstance(detail, str):
                values[VERDICT_COLUMNS.index("detail")] = _encode(detail)
            rows.append((int(run_id), *values, _encode(result), now))
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO verdicts(run_id, {', '.join(VERDICT_COLUMNS)}, result, created) "
                f"VALUES ({', '.join('?' * (len(VERDICT_COLUMNS) + 3))})",
                rows,
            )

    def verdicts(self, ref=None) -> list[dict]:
        """The verdicts of one run, or of every run, in the order written; `result` parsed."""
        columns = ("run_id", *VERDICT_COLUMNS, "result", "created")
        sql = f"SELECT {', '.join(columns)} FROM verdicts"
        params: tuple = ()
        if ref is not None:
            sql += " WHERE run_id = ?"
            params = (self.run(ref)["run_id"],)
        rows = [dict(zip(columns, row)) for row in self._query(sql + " ORDER BY rowid", params)]
        for row in rows:
            row["result"] = None if row["result"] is None else json.loads(row["result"])
        return rows


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value  # str(float) is its repr: exact, and nan / inf / -inf for non-finite values


def _write_csv(path, rows, columns):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])


def _write_parquet(path, rows, columns):
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise StoreError("exporting Parquet needs pyarrow: pip install pyarrow") from None
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        try:
            arrays[column] = pyarrow.array(values)
        except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
            # Mixed types in one column (a bool metric that is sometimes an int, say).
            arrays[column] = pyarrow.array(
                [None if v is None else json.dumps(v) for v in values], pyarrow.string()
            )
    pyarrow.parquet.write_table(pyarrow.table(arrays), path)


__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "default_store_path"]
