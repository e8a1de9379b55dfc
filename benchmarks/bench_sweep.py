"""The sweep engine's overheads: memory flat in the sweep size, store + host loop vs compute.

    python benchmarks/bench_sweep.py [--sizes 1000,10000,100000] [--chunk 256]
                                     [--n 64] [--d 8] [--overhead-datasets 10000]
                                     [--overhead-kernels 64x8,256x10]

(a) Peak RSS. For each sweep size, a fresh process runs one Zhang et al. (2017) config with
    that many datasets at a fixed chunk size into a fresh store and reports its peak resident
    set (ru_maxrss). Memory is set by the chunk, not the sweep, so the ratios to the smallest
    size should stay near 1.
(b) Overhead. On a small-kernel grid, the sweep's wall time (compiles excluded) against the
    time of the same compiled block programs over the same blocks with nothing else (no
    store, no host loop), measured in the same process: (sweep - compute) / compute is the
    share of the store and the host loop. Target: under 10%. Two kernels: ~40 us and
    ~600 us of compute per dataset on a 2-core CPU; a record costs the store one SQLite row
    with a column per metric (~20 us on this VM; per-record JSON cost 4x more), written from a
    thread while the devices compute the next steps.

One line per result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, resource, sys, time
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")
from jaxmem.store import Store
from jaxmem.sweep import parse_grid, run_sweep
datasets, chunk, n, d, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
grid = parse_grid(dict(name="rss", construction="zhang2017", datasets=datasets, chunk_size=chunk,
                       axes=dict(n=n, d=d)))
with Store(path) as store:
    stats = run_sweep(grid, store, progress=False)
print(json.dumps(dict(rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      seconds=stats.seconds, written=stats.written)))
"""


def peak_rss(sizes, chunk, n, d):
    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, "-c", CHILD, str(size), str(chunk), str(n),
                                  str(d), os.path.join(tmp, "s.sqlite")],
                                 capture_output=True, text=True, check=True)
            results[size] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results[sizes[0]]["rss_mib"]
    for size in sizes:
        r = results[size]
        print(f"peak RSS: {size} datasets (chunk {chunk}, zhang2017 n={n} d={d}): "
              f"{r['rss_mib']:.0f} MiB = {r['rss_mib'] / base:.2f}x the {sizes[0]}-dataset run "
              f"({r['written']} records in {r['seconds']:.1f} s)", flush=True)


def overhead(datasets, chunk, n, d, repeats=11):
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    import numpy as np

    from jaxmem.store import Store
    from jaxmem.sweep import parse_grid, run_sweep, runner, trials

    grid = parse_grid(dict(name="overhead", construction="zhang2017", datasets=datasets,
                           chunk_size=chunk, axes=dict(n=n, d=d)))
    config = grid.configs()[0]
    static = tuple(sorted(trials.static_arguments(config).items()))
    _, dynamic = trials.split_options(config)
    root = runner.root_key_data(grid.seed, config)
    devices = list(runner.make_mesh().devices.flat)
    blocks = [np.arange(s, s + chunk, dtype=np.uint32) for s in range(0, datasets, chunk)]

    def compute_alone():
        """The same compiled programs over the same blocks, results fetched, nothing else."""
        exes = runner._executables(static, chunk, devices, root, dynamic)
        start = time.perf_counter()
        for i in range(0, len(blocks), len(devices)):
            outs = [exe(*runner._block_args(dev, b, root, dynamic))
                    for exe, dev, b in zip(exes, devices, blocks[i:i + len(devices)])]
            jax.device_get(outs)
        return time.perf_counter() - start

    # Alternate the two and compare each sweep with the compute run beside it: this VM's
    # speed drifts by tens of percent between runs, so the median of the paired ratios.
    shares, store_seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        with Store(os.path.join(tmp, "warm.sqlite")) as store:  # compile once, untimed
            run_sweep(grid.with_datasets(chunk), store, progress=False)
        for r in range(repeats):
            with Store(os.path.join(tmp, f"s{r}.sqlite")) as store:
                stats = run_sweep(grid, store, progress=False)
            sweep = stats.seconds - stats.compile_seconds
            compute = compute_alone()
            shares.append((sweep - compute) / compute)
            store_seconds.append(stats.store_seconds)
    share = float(np.median(shares))
    print(f"store + host loop: {datasets} datasets (zhang2017 n={n} d={d}, chunk {chunk}, "
          f"{len(devices)} device(s), compute {1e6 * compute / datasets:.0f} us/dataset): "
          f"sweep vs compute alone = {100 * share:.1f}% overhead, median of {repeats} paired "
          f"runs (range {100 * min(shares):.1f}% to {100 * max(shares):.1f}%; target < 10%; "
          f"the store's {1e6 * float(np.median(store_seconds)) / datasets:.0f} us/record run "
          f"in a writer thread)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--overhead-datasets", type=int, default=10000)
    parser.add_argument("--overhead-kernels", default="64x8,256x10",
                        help="n x d of the Zhang configs timed for (b)")
    args = parser.parse_args()
    peak_rss([int(s) for s in args.sizes.split(",")], args.chunk, args.n, args.d)
    for kernel in args.overhead_kernels.split(","):
        n, d = (int(v) for v in kernel.split("x"))
        overhead(args.overhead_datasets, args.chunk, n, d)


if __name__ == "__main__":
    main()
