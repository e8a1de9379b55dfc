"""The exact evaluator on an MNIST pair: Yu et al.'s Theorem 4.1 network (M3 of Table 4) built on
1000 training images (500 per digit) and evaluated, in rational arithmetic, on 2000 test
images of the two digits.

    python benchmarks/bench_exact.py [--data-dir DIR] [--pair 4 9] [--test 2000]

Reads MNIST (uint8 pixels, inputs pixel / 255 exactly) from --data-dir / $JAXMEM_DATA when
present; otherwise MNIST-shaped generated data (bench_yu2024.generated_mnist) quantized to
pixel / 255: the network's sizes and the timings carry over, the accuracies do not.

Prints one line per result: the build (seconds, parameters, depth, width, register digits,
the largest weight's bit length), the exact check that it memorizes its 1000 training points,
the test evaluation (seconds per test point, accuracy), and the baseline: the same network
through `exact.apply_reference` (dense products of Fractions, the obvious implementation) on
the first test points, as a ratio of seconds per point against `exact.apply` in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jaxmem import exact  # noqa: E402
from jaxmem.constructions import yu2024_width6  # noqa: E402
from jaxmem.data import DataNotFound, load_mnist  # noqa: E402

PER_CLASS = 500
BASELINE_POINTS = 20


def pixels(data_dir):
    """((X_train uint8, labels), (X_test uint8, labels)), source."""
    try:
        tr = load_mnist(data_dir, split="train", scale=False)
        te = load_mnist(data_dir, split="test", scale=False)
        return tr, te, "MNIST"
    except DataNotFound:
        from bench_yu2024 import generated_mnist
        (Xtr, ltr), (Xte, lte) = generated_mnist()
        q = lambda X: np.rint(X * 255).astype(np.int64)           # noqa: E731
        return (q(Xtr), ltr), (q(Xte), lte), "generated MNIST-shaped data (no MNIST files)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--pair", type=int, nargs=2, default=(4, 9))
    ap.add_argument("--test", type=int, default=2000)
    args = ap.parse_args(argv)
    (Xtr, ltr), (Xte, lte), source = pixels(args.data_dir)
    a, b = sorted(args.pair)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(ltr == c), PER_CLASS, replace=False)
                          for c in (a, b)])
    X, y = Xtr[idx].reshape(len(idx), -1).astype(np.int64), np.where(ltr[idx] == b, 1, -1)
    keep = np.flatnonzero((lte == a) | (lte == b))[:args.test]
    T, yT = Xte[keep].reshape(len(keep), -1).astype(np.int64), np.where(lte[keep] == b, 1, -1)
    print(f"data: {source}; pair ({a}, {b}), {len(y)} training and {len(yT)} test images")

    t0 = time.perf_counter()
    net, info = yu2024_width6.build(0, X, y, denominator=255)
    build_s = time.perf_counter() - t0
    print(f"M3 build: {build_s:.1f} s; {info['param_count']} parameters "
          f"({info['nonzero_param_count']} nonzero), depth {info['depth']}, width "
          f"{info['width']}, {info['blocks']} blocks of "
          f"{info['block_size']}, registers of {info['register_digits']} digits, largest "
          f"weight {info['max_bit_length']} bits (float64 holds 53)")

    t0 = time.perf_counter()
    hit = yu2024_width6.memorizes(net, X, y, denominator=255)
    train_s = time.perf_counter() - t0
    print(f"M3 memorizes its training set exactly: {bool(hit.all())} ({hit.mean():.1%}); "
          f"{train_s:.1f} s, {train_s / len(y) * 1e3:.2f} ms per point")

    t0 = time.perf_counter()
    out = exact.apply(net, T, denominator=255)
    test_s = time.perf_counter() - t0
    pred = np.array([1 if v > 0 else -1 for v in out])
    print(f"M3 exact evaluation of {len(yT)} test points: {test_s:.1f} s "
          f"({test_s / len(yT) * 1e3:.2f} ms per point; target < 60 s); accuracy "
          f"{np.mean(pred == yT):.1%} (it outputs +1 only where a test projection lands "
          f"within 1.1 of a positive's: Theorem 5.3's point)")

    sub = T[:BASELINE_POINTS]
    Tsub = [[Fraction(int(v), 255) for v in row] for row in sub]
    t0 = time.perf_counter()
    ref = exact.apply_reference(net, Tsub)
    ref_s = (time.perf_counter() - t0) / len(sub)
    t0 = time.perf_counter()
    fast = exact.apply(net, sub, denominator=255)
    fast_s = (time.perf_counter() - t0) / len(sub)
    assert all(p == q for p, q in zip(ref, fast)), "the two evaluators disagree"
    print(f"baseline (dense Fraction products, exact.apply_reference) on {len(sub)} test "
          f"points: {ref_s * 1e3:.1f} ms per point vs {fast_s * 1e3:.2f} ms for exact.apply "
          f"on the same points: {ref_s / fast_s:.1f}x (identical outputs)")


if __name__ == "__main__":
    main()
