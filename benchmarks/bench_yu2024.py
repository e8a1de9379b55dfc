"""Yu et al.'s M1 (Theorem 7.3) on all 45 MNIST digit pairs: 500 training images per class,
every test image of the two classes, as Table 1 runs it.

    python benchmarks/bench_yu2024.py [--data-dir DIR] [--pairs 45] [--dtype float64]

Reads MNIST from --data-dir / $JAXMEM_DATA when present; otherwise generates data of MNIST's
shapes (10 classes of 28 x 28 images in [0, 1], 6000 training and ~1000 test images per class:
class prototypes of smooth strokes plus per-image deformation noise, so that nearest
neighbours are informative as on real digits; the timings, not the accuracies, carry over).

Prints one line per result:
  * all pairs: total seconds (first pair's compilation separately), per-pair seconds, the
    mean accuracy, tie fraction and certified fraction of the pruned evaluation;
  * peak memory per pair: XLA's temporary allocation for one pair's build + evaluation, next
    to the O(N^2 + N B) working set (B = points per block) it should track;
  * the naive baseline: the first layer materialized as a (2 N+ N-) x n matrix and the
    network evaluated densely (`jaxmem.network.apply`), on a small pair (100 per class,
    500 test points) where it fits, against the implicit evaluation of the same pair, as a
    ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("JAXMEM_CACHE", "off")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

from jaxmem import network  # noqa: E402
from jaxmem.constructions import yu2024  # noqa: E402
from jaxmem.data import DataNotFound, load_mnist  # noqa: E402

PER_CLASS = 500
TEST_PAD = 2400          # every pair's test set padded to one shape: one compilation


def generated_mnist(seed=0, train_per_class=6000, test_per_class=1000):
    """MNIST-shaped data: ((X_train, labels), (X_test, labels)), pixels in [0, 1]."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1)
    protos = []
    for _ in range(10):
        img = np.zeros((28, 28))
        for _ in range(4):     # a few thick strokes per class
            a, b = rng.uniform(6, 22, 2), rng.uniform(6, 22, 2)
            t = np.linspace(0, 1, 30)[:, None]
            pts = a + t * (b - a)
            d = np.min(np.linalg.norm(grid[:, :, None, :] - pts[None, None], axis=-1), -1)
            img = np.maximum(img, np.exp(-(d / 1.6) ** 2))
        protos.append(img.reshape(-1))
    protos = np.array(protos)

    def draw(per_class):
        labels = np.repeat(np.arange(10), per_class)
        shift = rng.normal(0, 0.35, (len(labels), 1))
        noise = rng.normal(0, 0.25, (len(labels), 784)) * (rng.random((len(labels), 784)) < 0.3)
        X = np.clip(protos[labels] * (1 + shift) + noise, 0, 1)
        return X, labels

    return draw(train_per_class), draw(test_per_class)


def load(data_dir):
    try:
        tr = load_mnist(data_dir, split="train")
        te = load_mnist(data_dir, split="test")
        return tr, te, "MNIST"
    except DataNotFound:
        return (*generated_mnist(), "generated MNIST-shaped data (MNIST files not found)")


def pair_arrays(train, test, a, b, seed):
    (Xtr, ltr), (Xte, lte) = train, test
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(ltr == c), PER_CLASS, replace=False)
                          for c in (a, b)])
    X = Xtr[idx].astype(np.float64)
    y = np.where(ltr[idx] == b, 1.0, -1.0)          # +1 = the larger digit
    keep = np.flatnonzero((lte == a) | (lte == b))
    if len(keep) > TEST_PAD:
        raise SystemExit(f"pair ({a}, {b}) has {len(keep)} test images > TEST_PAD")
    T = np.zeros((TEST_PAD, X.shape[1]))
    yT = np.zeros(TEST_PAD)
    T[:len(keep)] = Xte[keep]
    yT[:len(keep)] = np.where(lte[keep] == b, 1.0, -1.0)
    return X, y, T, yT, np.arange(TEST_PAD) < len(keep)


@jax.jit
def m1_pair(X, y, T, yT, valid):
    m1, info = yu2024.build(None, X, y)
    return yu2024.evaluate(m1, T, yT, valid=valid)


def naive_first_layer(X, y, T):
    """The baseline: the whole network written out, then a dense forward pass."""
    m1, _ = yu2024.build(None, X, y)
    net = yu2024.materialize(m1)
    return network.apply(net, jnp.asarray(T))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pairs", type=int, default=45)
    args = parser.parse_args(argv)
    train, test, source = load(args.data_dir)
    print(f"data: {source}; backend {jax.default_backend()}, {jax.device_count()} device(s)")
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)][:args.pairs]

    arrays = [pair_arrays(train, test, a, b, seed=17 * a + b) for a, b in pairs]
    t0 = time.perf_counter()
    first = jax.block_until_ready(m1_pair(*arrays[0]))
    compile_s = time.perf_counter() - t0
    results = [first]
    t1 = time.perf_counter()
    for args_pair in arrays[1:]:
        results.append(jax.block_until_ready(m1_pair(*args_pair)))
    rest_s = time.perf_counter() - t1
    total = compile_s + rest_s
    acc = np.array([float(r["accuracy"]) for r in results])
    ties = np.array([float(r["tie_fraction"]) for r in results])
    cert = np.array([float(r["certified_fraction"]) for r in results])
    nn = np.array([float(r["nn_accuracy"]) for r in results])
    per_pair = rest_s / max(len(arrays) - 1, 1)
    print(f"all {len(pairs)} pairs: {total:.1f} s (first pair with compilation "
          f"{compile_s:.1f} s, then {per_pair:.3f} s per pair); M1 accuracy mean "
          f"{acc.mean():.4f} (min {acc.min():.4f}), 1-NN {nn.mean():.4f}, ties {ties.mean():.4f}, "
          f"certified {cert.mean():.4f}")

    lowered = m1_pair.lower(*arrays[0]).compile()
    mem = lowered.memory_analysis()
    N, n = arrays[0][0].shape
    B = yu2024._block_size(N, n, "cells", yu2024.CANDIDATES, 8)
    working = 8 * (2 * N * N + 6 * N * B + TEST_PAD * n)
    temp = getattr(mem, "temp_size_in_bytes", None) if mem is not None else None
    print(f"peak memory per pair: XLA temporaries {temp / 2**20:.1f} MiB" if temp is not None
          else "peak memory per pair: XLA memory analysis unavailable on this backend",
          f"vs O(N^2 + N B + T n) = {working / 2**20:.1f} MiB (N = {N}, block B = {B}); "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

    # Naive baseline on a pair small enough to write out.
    (Xtr, ltr), (Xte, lte) = train, test
    idx = np.concatenate([np.flatnonzero(ltr == c)[:100] for c in (4, 9)])
    X, y = Xtr[idx].astype(np.float64), np.where(ltr[idx] == 9, 1.0, -1.0)
    tidx = np.concatenate([np.flatnonzero(lte == c)[:250] for c in (4, 9)])
    T = Xte[tidx].astype(np.float64)
    implicit = jax.jit(lambda X, y, T: yu2024.apply(yu2024.build(None, X, y)[0], T))
    jax.block_until_ready(implicit(X, y, T))
    jax.block_until_ready(naive_first_layer(X, y, T))
    reps = 3
    t = time.perf_counter()
    for _ in range(reps):
        out_implicit = jax.block_until_ready(implicit(X, y, T))
    implicit_s = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps):
        out_naive = jax.block_until_ready(naive_first_layer(X, y, T))
    naive_s = (time.perf_counter() - t) / reps
    agree = bool(np.all(np.sign(np.asarray(out_naive)) == np.sign(np.asarray(out_implicit))))
    print(f"naive baseline (first layer of {2 * 100 * 100} x {n} written out, pair 4/9, "
          f"100 per class, 500 test points): {naive_s:.3f} s vs implicit {implicit_s:.4f} s "
          f"= {naive_s / implicit_s:.1f}x; signs agree: {agree}")
    table1_mnist5k()
    return 0


def table1_mnist5k():
    """The whole Table 1 on real MNIST-5k as `jaxmem reproduce yu2024_tables --scale full` runs
    it (45 pairs x 5 random splits, 400 training and 100 test images per class, through the
    engine into a store, compilation included); the goal is under 2 minutes on 2 cores."""
    import tempfile

    from jaxmem.experiments import yu2024_tables as tables
    from jaxmem.store import Store

    with tempfile.TemporaryDirectory() as folder, Store(os.path.join(folder, "s.sqlite")) as s:
        t = time.perf_counter()
        stats = tables.run_table(s, "mnist5k", "full", progress=False)
        seconds = time.perf_counter() - t
        rows = tables.pair_cells(tables.table_records(s, "mnist5k"), "mnist5k")
    m1 = np.mean([r["m1_accuracy_mean"] for r in rows])
    nn = np.mean([r["nn_accuracy_mean"] for r in rows])
    print(f"Table 1 on MNIST-5k ({stats.computed} pair draws, 45 pairs x 5 splits): "
          f"{seconds:.1f} s ({seconds / 120:.2f} of the 2-minute goal); M1 {m1:.4f}, 1-NN {nn:.4f}")


if __name__ == "__main__":
    sys.exit(main())
