"""The sweep engine: a grid's configs -> blocks of datasets on every device -> the store.

For each config, dataset indices are cut into blocks of `chunk_size` (datasets per device
per call): block b holds indices [b C, (b+1) C), the last one padded by repeating its first
index (padded rows are dropped). Each device runs one block per step: the same jit-compiled,
vmapped single-device program, whose input is the block's indices; each dataset's key is
derived inside it, fold_in(root, index), from the config's root key. A step's blocks form one
global array over a 1-D mesh of the devices (axis "datasets", AxisType.Auto).

Why blocks and not one SPMD program over the mesh: XLA simplifies a partitioned program
differently from a single-device one (measured: (a/b)/c became a/(b c) in one and not the
other), so its records differed from a 1-device run in the last bits. A block is the same
program over the same inputs on any device count, in a resumed or a concurrent run, so
records are bit-identical across all of them. The price: one compile per device (done in
parallel threads).

A record depends only on (seed, config, index, chunk_size): the dataset itself depends only
on (seed, config, index). Blocks the store already holds are skipped; each block is written
in one transaction, so a killed sweep loses at most the blocks in flight. Concurrent
processes on one grid lease blocks in the store and so do not compute a block twice. The next
step is dispatched before the previous one is written, so store time hides behind compute.

With several processes (`jax.distributed`), every process walks the same steps over the
same global mesh and computes the blocks of its own devices; the results are gathered, and
process 0 alone reads the store (the done-mask is broadcast) and writes it.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxmem.store.code import OtherCodeError, other_code_message
from jaxmem.sweep import trials
from jaxmem.sweep.grid import Grid
from jaxmem.sweep.keys import canonical_json, config_hash, config_id, fold_keys
from jaxmem.sweep.progress import Progress

AXIS = "datasets"
MAX_CHUNK = 1024
HOST_CHUNK = 16  # datasets per block of a host construction (a progress step)
# Bytes of live memory one block may use when the chunk size is chosen from the compiled
# program. On a CPU, small blocks also keep the working set in cache (measured in
# benchmarks/bench_constructions.py); on an accelerator, a quarter of its memory.
CPU_CHUNK_BUDGET = 64 * 2**20
ACCELERATOR_BUDGET_FRACTION = 0.25
LEASE_POLL_SECONDS = 0.2
# Steps queued on the devices while the host waits for the oldest: with 2, the devices stay
# busy while the host thread waits for the GIL (the store writer holds it while encoding).
PIPELINE_DEPTH = 2
# Blocks leased from the store in one transaction: fewer waits on the store, while a
# concurrent process still finds all but this many blocks free.
CLAIM_WINDOW = 8


@dataclasses.dataclass
class SweepStats:
    run_id: int | None = None
    configs: int = 0
    datasets: int = 0  # records the grid asks for
    computed: int = 0  # datasets computed (padding excluded)
    skipped: int = 0  # datasets already in the store
    written: int = 0  # records this run inserted
    chunk_sizes: dict = dataclasses.field(default_factory=dict)  # config hash -> chunk size
    seconds: float = 0.0
    compute_seconds: float = 0.0  # waiting for block results (device compute + transfer)
    store_seconds: float = 0.0  # store reads and writes
    compile_seconds: float = 0.0  # lowering and compiling
    redecided: int = 0  # undecided datasets re-decided on the host
    undecided: int = 0  # datasets written undecided (after re-decision)


def environment(mesh: Mesh) -> dict:
    import jaxmem

    device = mesh.devices.flat[0]
    # jax.config's flags are dynamic attributes that its type stubs do not declare
    return dict(
        jaxmem_version=jaxmem.__version__,
        jax_version=jax.__version__,
        backend=device.platform,
        device_kind=device.device_kind,
        device_count=mesh.devices.size,
        process_count=jax.process_count(),
        x64=bool(jax.config.jax_enable_x64),  # type: ignore[attr-defined]
        matmul_precision=str(jax.config.jax_default_matmul_precision),  # type: ignore[attr-defined]
    )


def make_mesh(devices: int | None = None, distributed: bool = False) -> Mesh:
    """A 1-D mesh over the dataset axis: every process's devices (distributed) or the first
    `devices` local ones (default all)."""
    pool = jax.devices() if distributed else jax.local_devices()
    if devices is not None:
        if distributed:
            raise ValueError("--devices selects local devices; a distributed sweep uses all")
        if not 1 <= devices <= len(pool):
            raise ValueError(f"--devices {devices}: this process has {len(pool)} device(s)")
        pool = pool[:devices]
    return Mesh(np.array(pool), (AXIS,), axis_types=(AxisType.Auto,))


@dataclasses.dataclass(eq=False)
class Job:
    """One config of work for the engine: dataset i of `datasets` is computed by `trial(key,
    dynamic)` with key fold_in(wrap(root), i), and stored as a record of `config` (its hash
    keys the records). Sweeps, claims and experiments all hand the engine jobs; the engine owns
    blocks, devices, resume, leases, progress and the store."""

    config: dict  # what the records are stored under (hashed)
    datasets: int
    root: np.ndarray  # the root key's raw bits (root_key_datas)
    trial: Callable  # (key, dynamic) -> dict of one dataset's values (pure JAX unless host)
    program: Hashable  # identifies the trial's compiled program (cache key)
    dynamic: dict = dataclasses.field(default_factory=dict)  # traced arguments
    host: bool = False  # the trial runs on the host, one dataset after another (no jit)
    block: bool = False  # a host trial over a whole block: trial(keys, indices) (HostBlock)
    chunk_size: int | None = None  # datasets per block; None: chosen from the program
    compiler_options: dict | None = None  # XLA options for this program only
    # Host step on a block's outputs (NumPy, padding dropped) before they are stored.
    finish: Callable[[dict], dict] | None = None
    # Exact re-decision of one dataset whose `undecided` output is set: key -> changed values.
    redecide: Callable[[Any], dict] | None = None
    undecided: str = "undecided"
    span: tuple[int, int] | None = None  # compute only blocks inside [start, stop)

    @functools.cached_property
    def hash(self) -> str:
        return config_hash(self.config)


_PROGRAMS: dict = {}


def _program(job: Job):
    """The jit-wrapped block program of a job's trial (cached by job.program)."""
    cache_key = (job.program, tuple(sorted((job.compiler_options or {}).items())))
    if cache_key not in _PROGRAMS:
        trial = job.trial

        def program(indices, root_data, dynamic):
            root = jax.random.wrap_key_data(root_data)
            return jax.vmap(trial, in_axes=(0, None))(fold_keys(root, indices), dynamic)

        _PROGRAMS[cache_key] = jax.jit(program, compiler_options=job.compiler_options or None)
    return _PROGRAMS[cache_key]


class HostBlock:
    """A host job's stand-in for a compiled block program: the same call, the same keys
    (fold_in(root, index)). A per-dataset trial runs one dataset after another; a `block`
    trial gets the block's datasets at once: trial(keys, indices) -> dict of arrays, one
    value per index (an experiment's batched host computation)."""

    def __init__(self, trial: Callable, block: bool = False):
        self.trial, self.block = trial, block

    def __call__(self, indices, root_data, dynamic) -> dict:
        # wrap_key_data takes NumPy key bits too; JAX annotates the argument as jax.Array only
        root = jax.random.wrap_key_data(np.asarray(root_data))  # type: ignore[arg-type]
        # A block's padding repeats its first index: each distinct dataset is computed once.
        unique, where = np.unique(np.asarray(indices), return_inverse=True)
        if self.block:
            keys = _fold_keys(root, unique.astype(np.uint32))
            columns = self.trial(keys, unique.astype(np.int64))
            return {k: np.asarray(v)[where] for k, v in columns.items()}
        rows = [self.trial(jax.random.fold_in(root, int(i)), dynamic) for i in unique]
        return {k: np.asarray([row[k] for row in rows])[where] for k in rows[0]}


_fold_keys = jax.jit(fold_keys)


_EXECUTABLES: dict = {}


_DEVICE_DATA: dict = {}  # (id of a fixed dataset's host array, device) -> (array, device copy)


def _put_data(value, device):
    """A fixed dataset's array on a device, copied once per device (the host arrays are cached
    by `jaxmem.sweep.datasets`, so their identity is stable)."""
    key = (id(value), device)
    if key not in _DEVICE_DATA or _DEVICE_DATA[key][0] is not value:
        _DEVICE_DATA[key] = (value, jax.device_put(value, device))
    return _DEVICE_DATA[key][1]


def _block_args(device, indices, root_data, dynamic):
    put = functools.partial(jax.device_put, device=device)
    args = {
        k: _put_data(v, device) if k in trials.DATA_KEYS else put(np.asarray(v))
        for k, v in dynamic.items()
    }
    return put(indices), put(root_data), args


def _executable_key(job: Job, chunk: int, device) -> tuple:
    options = tuple(sorted((job.compiler_options or {}).items()))
    shapes = tuple(sorted((k, *_shape_and_dtype(v)) for k, v in job.dynamic.items()))
    return (job.program, options, shapes, chunk, device)


def _executables(job: Job, chunk: int, devices, stats=None) -> list:
    """One compiled executable per device for a block of `chunk` datasets: the same program,
    compiled for each device (in parallel threads; cached, so no shape compiles twice)."""
    if job.host:
        return [HostBlock(job.trial, job.block)] * len(devices)
    missing = [d for d in devices if _executable_key(job, chunk, d) not in _EXECUTABLES]
    if missing:
        t0 = time.perf_counter()
        indices = np.zeros(chunk, np.uint32)

        def compile_for(device):
            args = _block_args(device, indices, job.root, job.dynamic)
            return _program(job).lower(*args).compile()

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(missing)) as pool:
            for device, exe in zip(missing, pool.map(compile_for, missing)):
                _EXECUTABLES[_executable_key(job, chunk, device)] = exe
        if stats is not None:
            stats.compile_seconds += time.perf_counter() - t0
    return [_EXECUTABLES[_executable_key(job, chunk, d)] for d in devices]


@functools.lru_cache(maxsize=64)
def _seed_key_data(seed: int) -> np.ndarray:
    return np.asarray(jax.random.key_data(jax.random.key(seed)))


@jax.jit
def _fold_key_data(key_data, data):
    fold = lambda i: jax.random.fold_in(jax.random.wrap_key_data(key_data), i)
    return jax.random.key_data(jax.vmap(fold)(data))


def root_key_datas(seed: int, configs: list[dict]) -> np.ndarray:
    """The raw bits of each config's root key, fold_in(key(seed), config_id(config)); the same
    roots as `jaxmem.sweep.dataset_keys` (tested). All configs in one compiled call, before
    any block is dispatched: op by op the dispatches add up over a grid's configs (timings:
    experiments/results/TIMINGS.md), and a call made while blocks are in flight waits for
    them."""
    ids = np.array([config_id(c) for c in configs], np.uint32)
    return np.asarray(_fold_key_data(_seed_key_data(seed), ids))


def root_key_data(seed: int, config: dict) -> np.ndarray:
    """`root_key_datas` of one config."""
    return root_key_datas(seed, [config])[0]


def _shape_and_dtype(value) -> tuple:
    return np.shape(value), str(getattr(value, "dtype", None) or np.asarray(value).dtype)


def _memory_budget(device) -> int:
    if device.platform == "cpu":
        return CPU_CHUNK_BUDGET
    stats = device.memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(limit * ACCELERATOR_BUDGET_FRACTION) if limit else CPU_CHUNK_BUDGET


_CHUNK_SIZES: dict = {}


def choose_chunk_size(config: dict, device, datasets: int, stats=None) -> int:
    """Datasets per block of a sweep config (`job_chunk_size` of its job)."""
    (job,) = grid_jobs([config], [config], np.zeros((1, *_seed_key_data(0).shape), np.uint32))
    return job_chunk_size(dataclasses.replace(job, datasets=datasets), device, stats)


def job_chunk_size(job: Job, device, stats=None) -> int:
    """Datasets per block from the compiled program's memory use (`memory_analysis()`): the
    largest power of two whose arguments, outputs and temporaries fit the budget, at most
    MAX_CHUNK and no larger than the job needs. Depends only on the program and the device
    kind, so a resumed run picks the same size.

    The program is first compiled for the whole need (the next power of two >= datasets, at
    most MAX_CHUNK): when that fits, the run reuses this compile. Only when it does not is a
    smaller chunk compiled. The answer is cached per program, argument shapes, device kind and
    budget: configs that differ only in traced options (a lambda axis) share it."""
    need = min(1 << max(0, math.ceil(math.log2(max(1, job.datasets)))), MAX_CHUNK)
    budget = _memory_budget(device)
    cache_key = (
        _executable_key(job, need, None),
        device.platform,
        getattr(device, "device_kind", ""),
        budget,
    )
    if cache_key in _CHUNK_SIZES:
        return _CHUNK_SIZES[cache_key]
    (exe,) = _executables(job, need, [device], stats)
    try:
        analysis = exe.memory_analysis()
        used = (
            analysis.temp_size_in_bytes
            + analysis.argument_size_in_bytes
            + analysis.output_size_in_bytes
        )
        fit = need if used <= budget else int(budget // max(1.0, used / need))
    except (AttributeError, NotImplementedError, TypeError, jax.errors.JaxRuntimeError):
        # no memory analysis on this backend
        fit = 64
    chunk = max(1, min(1 << max(0, min(fit, MAX_CHUNK).bit_length() - 1), need))
    _CHUNK_SIZES[cache_key] = chunk
    return chunk


@dataclasses.dataclass
class _Block:
    """The aligned block [start, start + chunk) of the config with this hash; `indices`, the
    datasets of it to compute (those the store lacks: a partly stored block computes only its
    missing datasets, in the same program, so records stay bit-identical); `already` of the
    block's datasets are stored."""

    hash: str
    start: int
    real: int
    already: int
    indices: tuple = ()
    job: int = 0  # the job's position in the run

    @property
    def todo(self) -> tuple:
        return self.indices or tuple(range(self.start, self.start + self.real))


def _gather(mesh: Mesh, outputs: list, chunk: int) -> list[dict]:
    """Every device's block results as host arrays, on every process."""
    if jax.process_count() == 1:
        return [jax.device_get(o) for o in outputs]
    from jax.experimental import multihost_utils

    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    local = dict(
        zip([d for d in mesh.devices.flat if d.process_index == jax.process_index()], outputs)
    )
    names = list(outputs[0])
    # A column is (chunk,) per device, or (chunk, ...) for a trial that returns an array per
    # dataset: the global array stacks the blocks along the first axis only.
    whole = {
        k: multihost_utils.process_allgather(
            jax.make_array_from_single_device_arrays(
                (mesh.devices.size * chunk,) + tuple(outputs[0][k].shape[1:]),
                sharding,
                [local[d][k] for d in mesh.devices.flat if d in local],
            ),
            tiled=True,
        )
        for k in names
    }
    return [
        {k: np.asarray(v[i * chunk : (i + 1) * chunk]) for k, v in whole.items()}
        for i in range(mesh.devices.size)
    ]


class _Writer:
    """Writes finished blocks to the store from a background thread, so that SQLite (which
    releases the GIL while it works) overlaps with the next steps' compute. The queue is short,
    so memory stays bounded by a few blocks; the first store error is raised in the caller at
    the next submit or at close."""

    def __init__(self, store, run_id: int | None, release_leases: bool, stats: SweepStats):
        self.store, self.run_id, self.release, self.stats = store, run_id, release_leases, stats
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="jaxmem-store-writer", daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            block, outs = item
            if self.error is None:
                try:
                    t0 = time.perf_counter()
                    todo = block.todo
                    self.stats.written += self.store.write_columns(
                        self.run_id,
                        block.hash,
                        np.asarray(todo, np.int64),
                        {k: np.asarray(v)[: len(todo)] for k, v in outs.items()},
                        release_lease=self.release,
                    )
                    self.stats.store_seconds += time.perf_counter() - t0
                except BaseException as err:
                    self.error = err

    def _check(self):
        if self.error is not None:
            raise self.error

    def submit(self, block, outs):
        self._check()
        self.queue.put((block, outs))

    def close(self):
        """Writes everything submitted, then stops; raises the first store error."""
        self.queue.put(None)
        self.thread.join()
        self._check()


OTHER_CODE = ("stop", "recompute", "accept")


def _other_code(store, grid: Grid, hashes, current: str) -> dict:
    """{fingerprint: records} of the grid's stored records that code other than `current`
    (None: unknown, from before jaxmem recorded its code) computed."""
    found: dict = {}
    for h in hashes:
        for fp, n in store.record_code(h, grid.datasets).items():
            if fp != current:
                found[fp] = found.get(fp, 0) + n
    return found


MAX_RECORDS = 10**9  # records of one sweep (the store holds ~100 bytes a record)
MAX_ELEMENT_OPS = 10**16  # dataset-bytes summed over the sweep: beyond, years of compute


class SizeError(ValueError):
    """A grid that cannot fit this machine (or the store), found before anything is written."""


def memory_budget(device) -> int:
    """Bytes one dataset may use: half the device's memory (an accelerator's limit, or the
    host's physical memory for a CPU)."""
    try:
        limit = (device.memory_stats() or {}).get("bytes_limit")
    except Exception:
        limit = None
    if not limit:
        try:
            limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            limit = 16 * 2**30
    return int(limit) // 2


def check_size(grid: Grid, configs: list[dict], device) -> None:
    """SizeError naming the first entry that cannot fit: one dataset's estimated memory
    (`trials.dataset_bytes`) above `memory_budget`, more than MAX_RECORDS records, or an
    estimated amount of work beyond MAX_ELEMENT_OPS. Run before a run row is written;
    `allow_large=True` (--allow-large) skips it for machines bigger than the estimate knows."""
    records = len(configs) * grid.datasets
    if records > MAX_RECORDS:
        raise SizeError(
            f"grid {grid.name!r}: {len(configs)} configs x {grid.datasets} datasets "
            f"= {records:.3g} records, more than the store is for ({MAX_RECORDS:.0e}); "
            f"lower datasets or the axes (or --allow-large)"
        )
    budget = memory_budget(device)
    work = 0
    for config in configs:
        need = trials.dataset_bytes(config)
        if need > budget:
            raise SizeError(
                f"grid {grid.name!r}: config n={config['n']}, d={config['d']}"
                + (f", width={config['width']}" if "width" in config else "")
                + f" needs about {need / 2**30:.3g} GiB per dataset; this device "
                f"allows {budget / 2**30:.3g} GiB (--allow-large to try anyway)"
            )
        work += need * grid.datasets
    if work > MAX_ELEMENT_OPS:
        raise SizeError(
            f"grid {grid.name!r}: about {work:.3g} bytes of work in all, beyond "
            f"what finishes in any reasonable time ({MAX_ELEMENT_OPS:.0e}); lower "
            f"datasets or the axes (or --allow-large)"
        )


def run_sweep(
    grid: Grid,
    store,
    *,
    devices: int | None = None,
    chunk_size: int | None = None,
    distributed: bool = False,
    progress: bool | None = None,
    stream=None,
    other_code: str = "stop",
    modules=(),
    allow_large: bool = False,
    exact_budget: float = 60.0,
) -> SweepStats:
    """Runs every config of the grid, writing one record per dataset; resumes what the store
    already holds. `store` is a jaxmem.store.Store (None on processes other than 0 of a
    distributed run). Returns counts and where the time went.

    Records know the code that made them (jaxmem.provenance, over jaxmem and `modules`). When
    the store holds records of this grid from other code, `other_code` says what to do:
    "stop" (default): raise OtherCodeError naming both fingerprints, before writing anything;
    "recompute": compute this grid's records afresh under the current code (its configs are
    keyed with the fingerprint, so the old run stays readable); "accept": reuse the old
    records, and record on the run which code's records were accepted.

    Datasets whose fit floating point cannot decide (record `undecided`) are re-decided on
    the host (`trials.redecide`: twice the precision, then exact) for up to `exact_budget`
    seconds in all; the record says `redecided`, and what the budget leaves stays undecided
    (counted in the stats)."""
    from jaxmem import provenance

    if other_code not in OTHER_CODE:
        raise ValueError(f"other_code must be one of {', '.join(OTHER_CODE)}; got {other_code!r}")
    stream = stream or sys.stderr
    t_start = time.perf_counter()
    if distributed and grid.configs() and trials.construction_of(grid.configs()[0]).host:
        raise ValueError(
            f"construction {grid.construction} runs on the host (exact arithmetic), one dataset "
            f"after another: a --distributed sweep cannot shard it; run it in one process"
        )
    mesh = make_mesh(devices, distributed)
    writer = jax.process_index() == 0
    if writer and store is None:
        raise ValueError("process 0 needs a store to write to")
    code = provenance.provenance(tuple(modules) + _plugin_modules(grid))
    fingerprint = code["code_fingerprint"]
    configs = grid.configs()
    if not allow_large:
        check_size(grid, configs, mesh.devices.flat[0])
    # With "recompute", the same datasets (keys come from the plain config) are stored under
    # the config plus the code fingerprint, apart from other code's records.
    stored = [dict(c, code=fingerprint) for c in configs] if other_code == "recompute" else configs
    stats = SweepStats(configs=len(configs), datasets=len(configs) * grid.datasets)
    accepted = {}
    if writer:
        found = _other_code(store, grid, [config_hash(c) for c in stored], fingerprint)
        if found and other_code == "stop":
            raise OtherCodeError(other_code_message(f"grid {grid.name}", found, fingerprint))
        accepted = found if other_code == "accept" else {}
        stats.run_id = store.begin_run(
            sweep=grid.name,
            kind="sweep",
            grid=grid.to_dict(),
            environment=environment(mesh),
            provenance=code,
            accepted_code=[fp or "unknown" for fp in accepted],
        )
    status = "failed"
    try:
        roots: np.ndarray | list = root_key_datas(grid.seed, configs) if configs else []
        jobs = grid_jobs(configs, stored, roots, grid.datasets, chunk_size or grid.chunk_size)
        run_jobs(
            jobs,
            mesh=mesh,
            store=store if writer else None,
            run_id=stats.run_id,
            stats=stats,
            distributed=distributed,
            progress=progress if progress is not None else (writer and stream.isatty()),
            stream=stream,
            exact_budget=exact_budget,
        )
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        stats.seconds = time.perf_counter() - t_start
        if writer and stats.run_id is not None:
            try:
                store.end_run(stats.run_id, status)
            except Exception:  # a store error, if any, is already propagating
                if status == "done":
                    raise
    return stats


def _redecide_fit(static: tuple, dynamic: dict, key) -> dict:
    return trials.redecide(static, key, dynamic)


def grid_jobs(
    configs: list[dict], stored: list[dict], roots, datasets: int = 1, chunk_size=None
) -> list[Job]:
    """A sweep's configs as engine jobs: each config's construction trial (a host trial for a
    host construction), its records stored under `stored` (the config, or the config with the
    code fingerprint under --recompute)."""
    jobs = []
    for config, keep, root in zip(configs, stored, roots):
        entry = trials.construction_of(config)
        arguments = trials.static_arguments(config)
        static = tuple(sorted(arguments.items()))
        _, dynamic = trials.split_options(config)
        dynamic.update(trials.data_arguments(config))
        trial = trials.host_trial if entry.host else trials.construction_trial
        jobs.append(
            Job(
                config=keep,
                datasets=datasets,
                root=np.asarray(root),
                trial=functools.partial(trial, **arguments),
                program=("construction", static),
                dynamic=dynamic,
                host=entry.host,
                chunk_size=chunk_size or (HOST_CHUNK if entry.host else None),
                # The generic measurement's undecided fits are re-decided exactly; a host
                # construction decides everything, a construction's own trial its own way.
                redecide=None
                if entry.host or entry.trial is not None
                else functools.partial(_redecide_fit, static, dynamic),
            )
        )
    return jobs


def run_jobs(
    jobs: list[Job],
    *,
    mesh: Mesh,
    store=None,
    run_id: int | None = None,
    stats: SweepStats | None = None,
    distributed: bool = False,
    progress: bool = False,
    stream=None,
    exact_budget: float = 60.0,
    collect: bool = False,
) -> list[dict] | None:
    """The engine: computes every job's datasets that the store lacks, in blocks on every
    device of `mesh`, and writes them as records of run `run_id` (configs added to the run
    first). `store` is None on processes other than 0 of a distributed run (process 0 reads
    the store, broadcasts what is done, and writes), or for a run that stores nothing.

    Undecided datasets of a job with `redecide` are re-decided on the host for up to
    `exact_budget` seconds in all. With `collect`, returns each job's values over its span, in
    index order (dict name -> array): read back from the store when there is one, so a resumed
    run gives exactly what a fresh one does; None on processes other than 0."""
    stats = stats if stats is not None else SweepStats()
    all_devices = list(mesh.devices.flat)
    mine = [d.process_index == jax.process_index() for d in all_devices]
    writer = jax.process_index() == 0
    leases = store is not None and not distributed
    if store is not None:
        assert run_id is not None, "a store needs the run the records belong to"
        store.add_configs(run_id, [(j.hash, canonical_json(j.config), j.datasets) for j in jobs])
    total = sum(_span(j)[1] - _span(j)[0] for j in jobs)
    bar = Progress(len(jobs), total, enabled=bool(progress), stream=stream or sys.stderr)
    kept: dict[int, list] = {i: [] for i in range(len(jobs))}  # collected blocks, no store
    # (blocks, outputs, chunk, job) of the steps in flight
    pending: collections.deque[tuple] = collections.deque()
    records = _Writer(store, run_id, leases, stats) if store is not None else None
    deadline = time.perf_counter() + exact_budget

    def settle(job: Job, block: _Block, outs: dict) -> dict:
        """A block's values as stored: padding dropped, the job's host step, re-decisions."""
        n = len(block.todo)
        # A claim's trial may return a pytree per output (its host step takes it apart); the
        # outputs keep their order (tree.map over the dict would sort them: column order).
        outs = {k: jax.tree.map(lambda a: np.array(np.asarray(a)[:n]), v) for k, v in outs.items()}
        if job.finish is not None:
            outs = job.finish(outs)
        name = job.undecided
        if name not in outs:
            return outs
        if job.redecide is not None and "redecided" not in outs:
            outs["redecided"] = np.zeros(n, bool)
        open_ = np.flatnonzero(np.asarray(outs[name], bool))
        if job.redecide is not None and open_.size:
            base = jax.random.wrap_key_data(job.root)  # type: ignore[arg-type]  # NumPy bits
            for lane in open_:
                if time.perf_counter() > deadline:
                    break
                key = jax.random.fold_in(base, np.uint32(block.todo[lane]))
                for k, v in job.redecide(key).items():
                    if k not in outs:  # a value only re-decided datasets have
                        outs[k] = (
                            np.zeros(n, bool)
                            if isinstance(v, (bool, np.bool_))
                            else np.full(n, np.nan)
                        )
                    outs[k][lane] = v
                outs["redecided"][lane] = True
                stats.redecided += 1
        stats.undecided += int(np.sum(np.asarray(outs[name], bool)))
        return outs

    def finish(keep: int = 0):
        """Collects the oldest steps until `keep` are in flight; hands their blocks to the
        writer (process 0)."""
        while len(pending) > keep:
            blocks, outputs, chunk, job = pending.popleft()
            t0 = time.perf_counter()
            results = _gather(mesh, outputs, chunk)
            stats.compute_seconds += time.perf_counter() - t0
            for block, outs in zip(blocks, results):
                if block is None:  # an idle device's filler
                    continue
                stats.computed += len(block.todo)
                if writer:
                    outs = settle(job, block, outs)
                    if records is not None:
                        records.submit(block, outs)
                    elif collect:
                        kept[block.job].append((block.todo, outs))
                bar.advance(datasets=block.real - block.already)

    def dispatch(blocks: list, chunk: int, executables, job: Job):
        """One step: block i on device i (a device without a block repeats block 0, so that
        every process takes part in the gather; its results are dropped)."""
        blocks = blocks + [None] * (len(all_devices) - len(blocks))
        outputs = []
        for block, device, exe, is_mine in zip(blocks, all_devices, executables, mine):
            if not is_mine:
                continue
            todo = (block or blocks[0]).todo
            indices = np.full(chunk, todo[0], np.uint32)  # padding repeats the first index
            indices[: len(todo)] = np.asarray(todo, np.uint32)
            if isinstance(exe, HostBlock):
                outputs.append(exe(indices, job.root, job.dynamic))
            else:
                outputs.append(exe(*_block_args(device, indices, job.root, job.dynamic)))
        pending.append((blocks, outputs, chunk, job))
        finish(keep=PIPELINE_DEPTH)  # older steps are written while these compute

    done_ok = False
    try:
        deferred = []
        for number, job in enumerate(jobs):
            chunk = job.chunk_size or job_chunk_size(job, all_devices[0], stats)
            executables = _executables(job, chunk, all_devices, stats)
            stats.chunk_sizes[job.hash] = chunk
            lo, hi = _span(job)
            t0 = time.perf_counter()
            done = _done_mask(store, job.hash, job.datasets, writer)
            stats.store_seconds += time.perf_counter() - t0
            done[:lo] = done[hi:] = True  # outside the span: not this run's
            stats.skipped += int(done[lo:hi].sum())
            bar.advance(datasets=int(done[lo:hi].sum()), computed=False)
            todo = [
                _Block(
                    job.hash,
                    start,
                    min(chunk, job.datasets - start),
                    int(done[start : start + chunk].sum()),
                    tuple(int(i) for i in start + np.flatnonzero(~done[start : start + chunk]))
                    if done[start : start + chunk].any()
                    else (),
                    number,
                )
                for start in range(0, job.datasets, chunk)
                if not done[start : start + chunk].all()
            ]
            step = []
            for w in range(0, len(todo), CLAIM_WINDOW):
                window = todo[w : w + CLAIM_WINDOW]
                claims = (
                    store.claim_blocks(job.hash, [(b.start, b.start + b.real) for b in window])
                    if leases
                    else ["claimed"] * len(window)
                )
                for block, claim in zip(window, claims):
                    if claim == "done":  # written by a concurrent process since `done`
                        bar.advance(datasets=block.real - block.already, computed=False)
                    elif claim == "busy":
                        deferred.append((block, chunk, executables, job))
                    else:
                        step.append(block)
                        if len(step) == len(all_devices):
                            dispatch(step, chunk, executables, job)
                            step = []
            if step:
                dispatch(step, chunk, executables, job)
            bar.advance(configs=1)
        finish()
        # Blocks another process was computing: wait until they are written, or take them
        # over when their lease lapses (the holder died).
        while deferred:
            still = []
            for block, chunk, executables, job in deferred:
                claim = store.claim_block(block.hash, block.start, block.start + block.real)
                if claim == "done":
                    bar.advance(datasets=block.real - block.already, computed=False)
                elif claim == "claimed":
                    dispatch([block], chunk, executables, job)
                    finish()
                else:
                    still.append((block, chunk, executables, job))
            deferred = still
            if deferred:
                time.sleep(LEASE_POLL_SECONDS)
        done_ok = True
    finally:
        bar.close()
        if records is not None:  # what was computed is written, even on an interrupt
            try:
                records.close()
            except Exception:
                if done_ok:  # else the error already propagating is the one to see
                    raise
    if not collect or not writer:
        return None
    if store is not None:
        return [store.columns(j.hash, *_span(j)) for j in jobs]
    return [_assemble(kept[i], *_span(j)) for i, j in enumerate(jobs)]


def _span(job: Job) -> tuple[int, int]:
    return job.span if job.span is not None else (0, job.datasets)


def _assemble(parts: list, start: int, stop: int) -> dict:
    """A job's collected blocks as arrays over [start, stop) in index order; a value only some
    blocks carry is False (bool) or NaN elsewhere."""
    names: list = []
    for _, outs in parts:
        names += [k for k in outs if k not in names]
    out = {}
    for name in names:
        values = [np.asarray(outs[name]) for _, outs in parts if name in outs]
        missing = sum(len(todo) for todo, outs in parts if name not in outs)
        boolean = values[0].dtype.kind == "b"
        dtype = values[0].dtype if not missing or boolean else np.dtype(np.float64)
        column = np.zeros((stop - start, *values[0].shape[1:]), dtype)
        if missing and not boolean:
            column[...] = np.nan
        for todo, outs in parts:
            if name in outs:
                column[np.asarray(todo) - start] = outs[name]
        out[name] = column
    return out


def _plugin_modules(grid: Grid) -> tuple:
    """The modules outside jaxmem that registered the grid's construction or data family:
    their sources are part of the records' code fingerprint."""
    from jaxmem.constructions.protocol import CONSTRUCTIONS
    from jaxmem.data.families import DATA_FAMILIES

    trials.construction_of(dict(construction=grid.construction))  # registers a path's
    origins = [CONSTRUCTIONS.origin(grid.construction)]
    if grid.data in DATA_FAMILIES:
        origins.append(DATA_FAMILIES.origin(grid.data))
    return tuple(
        sorted({o for o in origins if o and o != "jaxmem" and not o.startswith("jaxmem.")})
    )


def _done_mask(store, h: str, datasets: int, writer: bool) -> np.ndarray:
    """Which indices the store holds; in a distributed run process 0 reads and broadcasts."""
    mask = (
        store.done_indices(h, datasets)
        if writer and store is not None
        else np.zeros(datasets, bool)
    )
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        mask = np.array(multihost_utils.broadcast_one_to_all(mask), bool)
    return mask
