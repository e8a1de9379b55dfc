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

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxmem.store.code import OtherCodeError, other_code_message
from jaxmem.sweep import trials
from jaxmem.sweep.grid import Grid
from jaxmem.sweep.keys import canonical_json, config_hash, config_id
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


@functools.cache
def _program(static: tuple):
    """The jit-wrapped block program for one set of static arguments."""
    trial = functools.partial(trials.construction_trial, **dict(static))

    def program(indices, root_data, dynamic):
        root = jax.random.wrap_key_data(root_data)
        keys = jax.vmap(lambda i: jax.random.fold_in(root, i))(indices)
        return jax.vmap(trial, in_axes=(0, None))(keys, dynamic)

    return jax.jit(program)


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


def _executables(static: tuple, chunk: int, devices, root_data, dynamic, stats=None) -> list:
    """One compiled executable per device for a block of `chunk` datasets: the same program,
    compiled for each device (in parallel threads; cached, so no shape compiles twice)."""
    missing = [d for d in devices if (static, chunk, d) not in _EXECUTABLES]
    if missing:
        t0 = time.perf_counter()
        indices = np.zeros(chunk, np.uint32)

        def compile_for(device):
            args = _block_args(device, indices, root_data, dynamic)
            return _program(static).lower(*args).compile()

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(missing)) as pool:
            for device, exe in zip(missing, pool.map(compile_for, missing)):
                _EXECUTABLES[(static, chunk, device)] = exe
        if stats is not None:
            stats.compile_seconds += time.perf_counter() - t0
    return [_EXECUTABLES[(static, chunk, d)] for d in devices]


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
    """Datasets per block from the compiled program's memory use (`memory_analysis()`): the
    largest power of two whose arguments, outputs and temporaries fit the budget, at most
    MAX_CHUNK and no larger than the config needs. Depends only on the program and the
    device kind, so a resumed run picks the same size.

    The program is first compiled for the whole need (the next power of two >= datasets, at
    most MAX_CHUNK): when that fits, the sweep reuses this compile. Only when it does not is
    a smaller chunk compiled. The answer is cached per program, argument shapes, device kind
    and budget: configs that differ only in traced options (a lambda axis) share it."""
    need = min(1 << max(0, math.ceil(math.log2(max(1, datasets)))), MAX_CHUNK)
    static = tuple(sorted(trials.static_arguments(config).items()))
    _, dynamic = trials.split_options(config)
    dynamic.update(trials.data_arguments(config))
    budget = _memory_budget(device)
    cache_key = (
        static,
        need,
        device.platform,
        getattr(device, "device_kind", ""),
        budget,
        tuple(sorted((k, *_shape_and_dtype(v)) for k, v in dynamic.items())),
    )
    if cache_key in _CHUNK_SIZES:
        return _CHUNK_SIZES[cache_key]
    # The root key's value does not change the program: any key data of the right shape.
    any_root = np.zeros_like(_seed_key_data(0))
    (exe,) = _executables(static, need, [device], any_root, dynamic, stats)
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

    @property
    def todo(self) -> tuple:
        return self.indices or tuple(range(self.start, self.start + self.real))


def _gather(mesh: Mesh, outputs: list, chunk: int) -> list[dict]:
    """Every device's block results as host arrays, on every process."""
    if jax.process_count() == 1:
        return [jax.device_get(o) for o in outputs]
    from jax.experimental import multihost_utils

    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    shape = (mesh.devices.size * chunk,)
    local = dict(
        zip([d for d in mesh.devices.flat if d.process_index == jax.process_index()], outputs)
    )
    names = list(outputs[0])
    whole = {
        k: multihost_utils.process_allgather(
            jax.make_array_from_single_device_arrays(
                shape, sharding, [local[d][k] for d in mesh.devices.flat if d in local]
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

    def __init__(self, store, run_id: int, release_leases: bool, stats: SweepStats):
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
    all_devices = list(mesh.devices.flat)
    mine = [d.process_index == jax.process_index() for d in all_devices]
    writer = jax.process_index() == 0
    if writer and store is None:
        raise ValueError("process 0 needs a store to write to")
    code = provenance.provenance(tuple(modules) + _plugin_modules(grid))
    fingerprint = code["code_fingerprint"]
    configs = grid.configs()
    if not allow_large:
        check_size(grid, configs, all_devices[0])
    # With "recompute", the same datasets (keys come from the plain config) are stored under
    # the config plus the code fingerprint, apart from other code's records.
    stored = [dict(c, code=fingerprint) for c in configs] if other_code == "recompute" else configs
    hashes = [config_hash(c) for c in stored]
    stats = SweepStats(configs=len(configs), datasets=len(configs) * grid.datasets)
    accepted = {}
    if writer:
        found = _other_code(store, grid, hashes, fingerprint)
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
        store.add_configs(
            stats.run_id, [(h, canonical_json(c), grid.datasets) for h, c in zip(hashes, stored)]
        )
    bar = Progress(
        len(configs),
        stats.datasets,
        enabled=progress if progress is not None else (writer and stream.isatty()),
        stream=stream,
    )
    status = "failed"
    # (blocks, outputs, chunk, context) of the steps in flight
    pending: collections.deque[tuple] = collections.deque()
    records: _Writer | None = None
    if writer:
        assert stats.run_id is not None  # begun above
        records = _Writer(store, stats.run_id, not distributed, stats)

    redecide_deadline = time.perf_counter() + exact_budget

    def redecide(block, outs, context):
        """Undecided datasets of a block re-decided on the host while the budget lasts
        (process 0 only: what it writes is the record)."""
        static, root, dynamic = context
        if "undecided" not in outs or "redecided" not in outs:
            return outs
        open_ = np.flatnonzero(np.asarray(outs["undecided"])[: len(block.todo)])
        if not open_.size or time.perf_counter() > redecide_deadline:
            stats.undecided += int(open_.size)
            return outs
        outs = {k: np.array(v, copy=True) for k, v in outs.items()}
        base = jax.random.wrap_key_data(root)
        for lane in open_:
            if time.perf_counter() > redecide_deadline:
                break
            key = jax.random.fold_in(base, np.uint32(block.todo[lane]))
            for k, v in trials.redecide(static, key, dynamic).items():
                outs[k][lane] = v
            stats.redecided += 1
        stats.undecided += int(np.sum(np.asarray(outs["undecided"])[: len(block.todo)]))
        return outs

    def finish(keep: int = 0):
        """Collects the oldest steps until `keep` are in flight; hands their blocks to the
        writer."""
        while len(pending) > keep:
            blocks, outputs, chunk, context = pending.popleft()
            t0 = time.perf_counter()
            results = _gather(mesh, outputs, chunk)
            stats.compute_seconds += time.perf_counter() - t0
            for block, outs in zip(blocks, results):
                if block is None:  # an idle device's filler
                    continue
                stats.computed += len(block.todo)
                if records is not None:  # the writer, process 0
                    records.submit(block, redecide(block, outs, context))
                bar.advance(datasets=block.real - block.already)

    def dispatch(blocks: list, chunk: int, executables, root, dynamic, static):
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
            if isinstance(exe, trials.HostProgram):
                outputs.append(exe(indices, root, dynamic))
            else:
                outputs.append(exe(*_block_args(device, indices, root, dynamic)))
        pending.append((blocks, outputs, chunk, (static, root, dynamic)))
        finish(keep=PIPELINE_DEPTH)  # older steps are written while these compute

    try:
        deferred = []
        roots: np.ndarray | list[np.ndarray] = root_key_datas(grid.seed, configs) if configs else []
        for config, h, root in zip(configs, hashes, roots):
            host = trials.construction_of(config).host
            static = tuple(sorted(trials.static_arguments(config).items()))
            _, dynamic = trials.split_options(config)
            dynamic.update(trials.data_arguments(config))
            if host:  # exact arithmetic on the host, dataset by dataset, one "device"
                chunk = chunk_size or grid.chunk_size or HOST_CHUNK
                executables = [trials.HostProgram(static)] * len(all_devices)
            else:
                chunk = (
                    chunk_size
                    or grid.chunk_size
                    or choose_chunk_size(config, all_devices[0], grid.datasets, stats)
                )
                executables = _executables(static, chunk, all_devices, root, dynamic, stats)
            stats.chunk_sizes[h] = chunk
            t0 = time.perf_counter()
            done = _done_mask(store, h, grid.datasets, writer)
            stats.store_seconds += time.perf_counter() - t0
            stats.skipped += int(done.sum())
            bar.advance(datasets=int(done.sum()), computed=False)
            todo = [
                _Block(
                    h,
                    start,
                    min(chunk, grid.datasets - start),
                    int(done[start : start + chunk].sum()),
                    tuple(int(i) for i in start + np.flatnonzero(~done[start : start + chunk]))
                    if done[start : start + chunk].any()
                    else (),
                )
                for start in range(0, grid.datasets, chunk)
                if not done[start : start + chunk].all()
            ]
            step = []
            for w in range(0, len(todo), CLAIM_WINDOW):
                window = todo[w : w + CLAIM_WINDOW]
                claims = (
                    store.claim_blocks(h, [(b.start, b.start + b.real) for b in window])
                    if writer and not distributed
                    else ["claimed"] * len(window)
                )
                for block, claim in zip(window, claims):
                    if claim == "done":  # written by a concurrent process since `done`
                        bar.advance(datasets=block.real - block.already, computed=False)
                    elif claim == "busy":
                        deferred.append((block, chunk, executables, root, dynamic, static))
                    else:
                        step.append(block)
                        if len(step) == len(all_devices):
                            dispatch(step, chunk, executables, root, dynamic, static)
                            step = []
            if step:
                dispatch(step, chunk, executables, root, dynamic, static)
            bar.advance(configs=1)
        finish()
        # Blocks another process was computing: wait until they are written, or take them
        # over when their lease lapses (the holder died).
        while deferred:
            still = []
            for block, chunk, executables, root, dynamic, static in deferred:
                claim = store.claim_block(block.hash, block.start, block.start + block.real)
                if claim == "done":
                    bar.advance(datasets=block.real - block.already, computed=False)
                elif claim == "claimed":
                    dispatch([block], chunk, executables, root, dynamic, static)
                    finish()
                else:
                    still.append((block, chunk, executables, root, dynamic, static))
            deferred = still
            if deferred:
                time.sleep(LEASE_POLL_SECONDS)
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        write_error = None
        if records is not None:  # what was computed is written, even on an interrupt
            try:
                records.close()
            except Exception as err:
                write_error, status = err, "failed" if status == "done" else status
        stats.seconds = time.perf_counter() - t_start
        bar.close()
        if writer and stats.run_id is not None:
            try:
                store.end_run(stats.run_id, status)
            except Exception:  # a store error, if any, is already propagating
                if status == "done":
                    raise
        if write_error is not None and sys.exc_info()[0] is None:
            raise write_error
    return stats


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
    mask = store.done_indices(h, datasets) if writer else np.zeros(datasets, bool)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        mask = np.asarray(multihost_utils.broadcast_one_to_all(mask), bool)
    return mask
