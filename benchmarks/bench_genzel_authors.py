"""Dirksen, Finke, Genzel (2023), Algorithm 2: jaxmem against the authors' own code run as they
run it, in parallel over every core.

    python benchmarks/bench_genzel_authors.py [--restarts 50] [--jobs -1] [--cells quick|bench]

The baseline is their `algorithm.trial` (benchmarks/authors_memo/, copied unchanged from
patrickfinke/memo at eafe5e5, MIT licence), called through joblib.Parallel(n_jobs=--jobs) as
their run.py's joblib backend does, on their two-moons data set (sklearn make_moons(1000,
noise=0.05, random_state=0) divided by its largest norm, as their data.py; written to the
datasets/moons.npz their utils.load_dataset reads, in a temporary folder). It runs in a child
process so that its workers see their modules and folder layout; the wall time covers the
trials only (the worker pool is started by a warm-up batch first).

jaxmem: `genzel2023.build` vmapped over the restarts of a cell (bench_genzel.jax_cell), float32
as theirs, on every core too: the restarts are split into one block per virtual CPU device
(--cpu-devices, default every core; JAX_NUM_CPU_DEVICES), each device runs its block, as the
sweep engine runs a step on several devices (bench_genzel.time_jax). Timed warm (the median of
3 calls after a first one), with the compile time printed apart. --cpu-devices 1 gives the
one-device figure.

Prints one line per cell (ms per trial on each side with theirs on every core, the ratio, and
P(interpolation) and mean second-layer width on each side, which must agree within noise) and
one line over all the cells: the per-trial ratio against the 30x goal, and the cell sample's
total wall time with jaxmem's compilations included. Compare only runs on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TARGET_RATIO = 30.0
CELL_SETS = {
    # (first-layer width n, maximal bias lambda): bench_genzel's cells
    "bench": [(50, 1.0), (200, 1.0), (500, 1.0), (500, 0.0), (100, 0.25), (500, 2.5)],
    "quick": [(20, 1.0), (60, 0.5)],
}

# The child: their trial over every (cell, restart) through joblib, timed after a warm-up.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import joblib
import algorithm
params = json.loads(sys.argv[2])
jobs = int(sys.argv[3])
with joblib.Parallel(n_jobs=jobs) as parallel:
    parallel(joblib.delayed(algorithm.trial)(p) for p in params[:jobs if jobs > 0 else 4])
    out = []
    for cell in sorted({(p["n_iter"], p["max_bias"]) for p in params}):
        mine = [p for p in params if (p["n_iter"], p["max_bias"]) == tuple(cell)]
        t0 = time.perf_counter()
        res = parallel(joblib.delayed(algorithm.trial)(p) for p in mine)
        seconds = time.perf_counter() - t0
        out.append(dict(n_iter=cell[0], max_bias=cell[1], seconds=seconds, trials=len(mine),
                        interpolated=[r["score"] == 1.0 for r in res],
                        second_dim_out=[r["second_dim_out"] for r in res]))
print(json.dumps(out))
"""


def authors_moons():
    """Their data.py's "moons": make_moons(1000, noise 0.05, random_state 0), normalized to
    max norm 1 (float64: their moons has no float32 conversion), labels 0/1."""
    from sklearn import datasets
    X, y = datasets.make_moons(1000, noise=0.05, random_state=0)
    X /= np.linalg.norm(X, ord=2, axis=1).max()
    return X, y


def run_authors(cells, restarts: int, jobs: int) -> list[dict]:
    X, y = authors_moons()
    params = [dict(restart=r, dataset="moons", n_iter=int(n), max_bias=float(lam),
                   activation="thres", _index=i * restarts + r)
              for i, (n, lam) in enumerate(cells) for r in range(restarts)]
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "datasets"))
        np.savez(os.path.join(tmp, "datasets", "moons.npz"), X=X, y=y)
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, os.path.join(HERE, "authors_memo"),
             json.dumps(params), str(jobs)],
            cwd=tmp, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"the authors' code failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--restarts", type=int, default=50)
    p.add_argument("--jobs", type=int, default=-1, help="joblib n_jobs (-1: every core)")
    p.add_argument("--cells", choices=sorted(CELL_SETS), default="bench")
    p.add_argument("--cpu-devices", type=int, default=os.cpu_count(),
                   help="jaxmem's virtual CPU devices, one block of restarts each "
                        "(default: every core, as theirs)")
    args = p.parse_args(argv)
    cells = CELL_SETS[args.cells]
    theirs = run_authors(cells, args.restarts, args.jobs)

    # Before JAX starts its CPU backend. One BLAS thread per device: more oversubscribe the
    # cores (docs/jax-notes.md §2.5).
    os.environ["JAX_NUM_CPU_DEVICES"] = str(args.cpu_devices)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import jax
    import jax.numpy as jnp
    import bench_genzel as bg

    X, y01 = bg.moons_data()
    Xj = jnp.asarray(X)
    y = jnp.asarray(2 * y01 - 1, jnp.float32)   # as bench_genzel: their label 1 is jaxmem's +1
    t_all = time.perf_counter()
    ours_ms, theirs_ms, compile_s = [], [], 0.0
    for row in theirs:
        n, lam = row["n_iter"], row["max_bias"]
        per_trial, compile_cell, interp, k = bg.time_jax(Xj, y, n, lam, args.restarts,
                                                         devices=jax.devices("cpu"))
        compile_s += compile_cell
        their_trial = row["seconds"] / row["trials"]
        ours_ms.append(1e3 * per_trial)
        theirs_ms.append(1e3 * their_trial)
        print(f"n={n:3d} lambda={lam:4.2f}: authors' code on every core "
              f"{1e3 * their_trial:6.2f} ms/trial (P {np.mean(row['interpolated']):.2f}, "
              f"k {np.mean(row['second_dim_out']):5.2f}) | jaxmem {1e3 * per_trial:6.3f} "
              f"ms/trial (P {interp:.2f}, k {k:5.2f}) | {their_trial / per_trial:5.1f}x",
              flush=True)
    ratio = sum(theirs_ms) / sum(ours_ms)
    wall_ours = time.perf_counter() - t_all
    wall_theirs = sum(r["seconds"] for r in theirs)
    cores = os.cpu_count()
    print(f"all {len(cells)} cells x {args.restarts} restarts, {cores} cores "
          f"(joblib n_jobs={args.jobs}): per trial {ratio:.1f}x (goal {TARGET_RATIO:g}x: "
          f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); wall {wall_theirs:.2f} s theirs "
          f"vs {wall_ours:.2f} s jaxmem with {compile_s:.1f} s of compiling "
          f"({jax.default_backend()}, {len(jax.devices('cpu'))} CPU device(s), "
          f"jax {jax.__version__})", flush=True)


if __name__ == "__main__":
    main()
