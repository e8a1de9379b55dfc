"""Real data sets without the network: small IDX files and CIFAR-10 batches of the real formats
are written to tmp_path and read back bit for bit; malformed and missing files give errors
that name them; downloads come from a local HTTP server with the checksum table replaced by
the served files' sums; and the task helpers give the labels, sizes and strata they promise."""

import functools
import gzip
import hashlib
import http.server
import io
import pickle
import re
import struct
import tarfile
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxmem.data import (DataError, DataNotFound, data_dir, download, load_cifar10, load_digits,
                         load_mnist, nested_subsets, normalize_max_norm, one_vs_rest, pair_task,
                         read_idx)
from jaxmem.data import real

# --- writers of the real formats -------------------------------------------------------------


def idx_bytes(array, magic=None):
    """An IDX file: magic 0x0000TTDD (TT = 0x08 unsigned byte), big-endian sizes, the data."""
    array = np.asarray(array)
    magic = (0x0800 | array.ndim) if magic is None else magic
    return (struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(">u1" if array.dtype == np.uint8 else array.dtype).tobytes())


def write(path, data: bytes, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def fake_mnist(rng, n_train=7, n_test=4):
    return {"train": (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
                      rng.integers(0, 10, n_train, dtype=np.uint8)),
            "test": (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
                     rng.integers(0, 10, n_test, dtype=np.uint8))}


def write_mnist(directory, arrays, gz=False):
    for split, (images, labels) in arrays.items():
        image_name, label_name = real.MNIST_FILES[split]
        suffix = ".gz" if gz else ""
        write(directory / (image_name + suffix), idx_bytes(images), gz)
        write(directory / (label_name + suffix), idx_bytes(labels), gz)


def fake_cifar(rng, sizes=(3, 2, 4, 1, 2, 3)):
    """Batches data_batch_1..5, test_batch as (data (n, 3072) uint8, labels list of ints)."""
    names = real.CIFAR10_BATCHES["train"] + real.CIFAR10_BATCHES["test"]
    return {name: (rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                   [int(v) for v in rng.integers(0, 10, n)])
            for name, n in zip(names, sizes)}


def batch_bytes(data, labels, protocol=pickle.HIGHEST_PROTOCOL, old_numpy_names=False):
    """A pickled batch dict as Krizhevsky's, keys are byte strings. old_numpy_names: refer to
    numpy.core.multiarray as the real files (written before NumPy 2) do."""
    raw = pickle.dumps({b"batch_label": b"fake", b"labels": labels, b"data": data,
                        b"filenames": [b"x.png"] * len(labels)}, protocol=protocol)
    if old_numpy_names:
        assert protocol <= 3  # GLOBAL opcodes are newline-terminated text up to protocol 3
        assert raw.count(b"numpy._core.multiarray") == 1
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw


def write_cifar_dir(directory, batches):
    for name, (data, labels) in batches.items():
        write(directory / real.CIFAR10_DIR / name, batch_bytes(data, labels))


def cifar_archive_bytes(members: dict):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def write_cifar_archive(directory, batches, **kwargs):
    members = {f"{real.CIFAR10_DIR}/{name}": batch_bytes(data, labels, **kwargs)
               for name, (data, labels) in batches.items()}
    return write(directory / real.CIFAR10_ARCHIVE, cifar_archive_bytes(members))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch, tmp_path):
    """No test reads the machine's own data directory."""
    monkeypatch.delenv("JAXMEM_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# --- MNIST -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("subdir", ["mnist", ""])
def test_mnist_round_trip(tmp_path, rng, gz, subdir):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path / subdir, arrays, gz)
    for split, (images, labels) in arrays.items():
        X, y = load_mnist(tmp_path, split, flatten=False, scale=False)
        assert X.dtype == np.uint8 and X.shape == images.shape
        np.testing.assert_array_equal(X, images)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, labels)
        X, _ = load_mnist(tmp_path, split, flatten=True, scale=False)
        assert X.shape == (len(images), 784)
        np.testing.assert_array_equal(X, images.reshape(len(images), 784))
        X, _ = load_mnist(tmp_path, split)  # flatten and scale by default
        assert X.dtype == np.float32 and X.shape == (len(images), 784)
        assert X.min() >= 0 and X.max() <= 1
        np.testing.assert_array_equal(X * 255, images.reshape(len(images), -1).astype(np.float32))


def test_mnist_all_is_train_then_test(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, {"train": arrays["train"]}, gz=True)
    write_mnist(tmp_path, {"test": arrays["test"]}, gz=False)  # mixed plain and .gz
    X, y = load_mnist(tmp_path, "all", flatten=False, scale=False)
    np.testing.assert_array_equal(X, np.concatenate([arrays["train"][0], arrays["test"][0]]))
    np.testing.assert_array_equal(y, np.concatenate([arrays["train"][1], arrays["test"][1]]))
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        load_mnist(tmp_path, "validation")


def test_read_idx_general_types(tmp_path, rng):
    ints = rng.integers(-2**31, 2**31, (3, 4, 5), dtype=np.int64).astype(np.int32)
    raw = struct.pack(">I", 0x00000C03) + struct.pack(">3I", 3, 4, 5) + ints.astype(">i4").tobytes()
    out = read_idx(write(tmp_path / "ints.idx", raw))
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, ints)
    doubles = rng.normal(size=7)
    raw = struct.pack(">II", 0x00000E01, 7) + doubles.astype(">f8").tobytes()
    np.testing.assert_array_equal(read_idx(write(tmp_path / "d.idx.gz", raw, gz=True)), doubles)


def _bad_mnist(tmp_path, rng, images_bytes=None, labels_bytes=None):
    images, labels = fake_mnist(rng)["train"]
    image_name, label_name = real.MNIST_FILES["train"]
    write(tmp_path / image_name, idx_bytes(images) if images_bytes is None else images_bytes)
    write(tmp_path / label_name, idx_bytes(labels) if labels_bytes is None else labels_bytes)
    return images, labels


@pytest.mark.parametrize("case, culprit, message", [
    ("labels_with_image_magic", "train-labels-idx1-ubyte",
     "bad IDX magic number 0x00000803, expected 0x00000801"),
    ("images_with_label_magic", "train-images-idx3-ubyte",
     "bad IDX magic number 0x00000801, expected 0x00000803"),
    ("truncated_images", "train-images-idx3-ubyte", "truncated IDX data"),
    ("truncated_header", "train-images-idx3-ubyte", "truncated IDX header"),
    ("two_bytes", "train-labels-idx1-ubyte", "shorter than the 4-byte magic"),
    ("trailing_bytes", "train-labels-idx1-ubyte", "3 unexpected bytes after the IDX data"),
    ("count_mismatch", "train-labels-idx1-ubyte", "6 labels for the 7 images"),
    ("not_28x28", "train-images-idx3-ubyte", "images are 27x28"),
    ("label_not_digit", "train-labels-idx1-ubyte", "label 10 is not a digit"),
])
def test_mnist_malformed_files_name_the_file(tmp_path, rng, case, culprit, message):
    images, labels = fake_mnist(rng)["train"]
    bad = {
        "labels_with_image_magic": dict(labels_bytes=idx_bytes(labels, magic=0x803)),
        "images_with_label_magic": dict(images_bytes=idx_bytes(images, magic=0x801)),
        "truncated_images": dict(images_bytes=idx_bytes(images)[:-1]),
        "truncated_header": dict(images_bytes=idx_bytes(images)[:10]),
        "two_bytes": dict(labels_bytes=b"\0\0"),
        "trailing_bytes": dict(labels_bytes=idx_bytes(labels) + b"abc"),
        "count_mismatch": dict(labels_bytes=idx_bytes(labels[:-1])),
        "not_28x28": dict(images_bytes=idx_bytes(images[:, 1:, :])),
        "label_not_digit": dict(labels_bytes=idx_bytes(np.where(np.arange(7) == 3, 10, labels)
                                                       .astype(np.uint8))),
    }[case]
    _bad_mnist(tmp_path, rng, **bad)
    with pytest.raises(DataError, match=re.escape(culprit)) as info:
        load_mnist(tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_mnist_truncated_gzip_names_the_file(tmp_path, rng):
    images, labels = fake_mnist(rng)["train"]
    image_name, label_name = real.MNIST_FILES["train"]
    compressed = gzip.compress(idx_bytes(images))
    write(tmp_path / f"{image_name}.gz", compressed[: len(compressed) // 2])
    write(tmp_path / f"{label_name}.gz", idx_bytes(labels), gz=True)
    with pytest.raises(DataError, match=re.escape(f"{image_name}.gz") + ".*gzip"):
        load_mnist(tmp_path)


def test_mnist_missing_files_say_what_where_and_how(tmp_path, rng):
    with pytest.raises(DataNotFound) as info:
        load_mnist(tmp_path / "empty", "test")
    message = str(info.value)
    for needle in ("t10k-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]",
                   str(tmp_path / "empty" / "mnist"), "--data-dir", "JAXMEM_DATA",
                   "download=True", real.MIRRORS["mnist"]):
        assert needle in message
    assert "train-images" not in message  # only the files of the split asked for
    # One file missing: the message names that one only.
    arrays = fake_mnist(rng)
    write_mnist(tmp_path / "partial", arrays)
    (tmp_path / "partial" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataNotFound, match=r"looked for train-labels-idx1-ubyte\[\.gz\] in"):
        load_mnist(tmp_path / "partial", "all")
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)


def test_data_dir_resolution(tmp_path, monkeypatch, rng):
    assert data_dir() == tmp_path / "home" / ".cache" / "jaxmem" / "data"
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "from-env"))
    assert data_dir() == tmp_path / "from-env"
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir("~/x") == tmp_path / "home" / "x"
    arrays = fake_mnist(rng)
    write_mnist(tmp_path / "from-env" / "mnist", arrays)
    np.testing.assert_array_equal(load_mnist(split="test")[1], arrays["test"][1])
    with pytest.raises(DataNotFound, match=r"data directory from \$JAXMEM_DATA"):
        load_cifar10()
    with pytest.raises(DataNotFound, match="data directory from the data_dir argument"):
        load_mnist(tmp_path / "explicit")


# --- CIFAR-10 ----------------------------------------------------------------------------------


def _expected_cifar(batches, split):
    names = {"train": real.CIFAR10_BATCHES["train"], "test": real.CIFAR10_BATCHES["test"],
             "all": real.CIFAR10_BATCHES["train"] + real.CIFAR10_BATCHES["test"]}[split]
    return (np.concatenate([batches[n][0] for n in names]),
            np.concatenate([batches[n][1] for n in names]))


@pytest.mark.parametrize("source", ["dir", "archive", "archive_old_numpy"])
@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_cifar10_round_trip(tmp_path, rng, source, split):
    batches = fake_cifar(rng)
    if source == "dir":
        write_cifar_dir(tmp_path / "cifar10", batches)
    else:
        write_cifar_archive(tmp_path, batches, **(
            dict(protocol=3, old_numpy_names=True) if source == "archive_old_numpy" else {}))
    data, labels = _expected_cifar(batches, split)
    X, y = load_cifar10(tmp_path, split, flatten=True, scale=False)
    assert X.dtype == np.uint8 and X.shape == (len(data), 3072)
    np.testing.assert_array_equal(X, data)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    X, _ = load_cifar10(tmp_path, split, flatten=False, scale=False)
    assert X.shape == (len(data), 32, 32, 3)
    # HWC: pixel (row r, column c) of channel ch is entry ch * 1024 + r * 32 + c of the file.
    i, r, c, ch = np.meshgrid(*map(np.arange, X.shape), indexing="ij")
    np.testing.assert_array_equal(X, data[i, ch * 1024 + r * 32 + c])
    X, _ = load_cifar10(tmp_path, split)
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(X * 255, data.astype(np.float32))


def test_cifar10_a_known_pixel_lands_in_hwc(tmp_path):
    data = np.zeros((2, 3072), np.uint8)
    data[1, 2 * 1024 + 5 * 32 + 7] = 200  # blue (channel 2), row 5, column 7 of image 1
    batches = {name: (np.zeros((1, 3072), np.uint8), [0]) for name in real.CIFAR10_BATCHES["train"]}
    batches["test_batch"] = (data, [3, 4])
    write_cifar_dir(tmp_path, batches)
    X, y = load_cifar10(tmp_path, "test", flatten=False, scale=False)
    assert X[1, 5, 7, 2] == 200 and X.sum() == 200
    np.testing.assert_array_equal(y, [3, 4])
    X, _ = load_cifar10(tmp_path, "test", flatten=False)
    assert X[1, 5, 7, 2] == np.float32(200) / np.float32(255)


_CALLS = []


def _record_call(*args):
    _CALLS.append(args)
    return {b"data": np.zeros((0, 3072), np.uint8), b"labels": []}


class _Payload:
    """Unpickles into a call of _record_call: what a crafted "batch" could do."""

    def __reduce__(self):
        return _record_call, ("ran",)


@pytest.mark.parametrize("payload, message", [
    (pickle.dumps(_Payload()), "refusing to load tests.test_real_data._record_call"),
    (b"\x80\x04not a pickle", "not a readable CIFAR-10 batch"),
    (pickle.dumps([1, 2, 3]), "a pickled list, not a dict"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "no b'data' and b'labels' keys"),
    (pickle.dumps({b"data": np.zeros((2, 3000), np.uint8), b"labels": [1, 2]}),
     "must be a uint8 array of shape (N, 3072)"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}),
     "must be a uint8 array of shape (N, 3072)"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}),
     "1 labels for 2 images"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}),
     "labels must lie in 0..9"),
])
def test_cifar10_malformed_batch_names_the_file(tmp_path, rng, payload, message):
    batches = fake_cifar(rng)
    write_cifar_dir(tmp_path, batches)
    write(tmp_path / real.CIFAR10_DIR / "test_batch", payload)
    culprit = tmp_path / real.CIFAR10_DIR / "test_batch"
    with pytest.raises(DataError, match=re.escape(str(culprit))) as info:
        load_cifar10(tmp_path, "test")
    assert message in str(info.value)
    assert _CALLS == []  # nothing but NumPy arrays is ever built


def test_cifar10_malformed_archives(tmp_path, rng):
    batches = fake_cifar(rng)
    archive = write_cifar_archive(tmp_path / "truncated", batches)
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(DataError, match=re.escape(str(archive)) + ".*corrupt or truncated"):
        load_cifar10(tmp_path / "truncated", "all")
    del batches["test_batch"]
    archive = write_cifar_archive(tmp_path / "incomplete", batches)
    load_cifar10(tmp_path / "incomplete", "train")  # the training batches are all there
    with pytest.raises(DataError, match=re.escape(str(archive))
                       + ".*lacks cifar-10-batches-py/test_batch"):
        load_cifar10(tmp_path / "incomplete", "test")
    archive = write(tmp_path / "garbage" / real.CIFAR10_ARCHIVE, b"not an archive at all")
    with pytest.raises(DataError, match=re.escape(str(archive))):
        load_cifar10(tmp_path / "garbage")


def test_cifar10_missing_files(tmp_path, rng):
    with pytest.raises(DataNotFound) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    for needle in ("cifar-10-batches-py/{data_batch_1,", "cifar-10-python.tar.gz",
                   str(tmp_path / "cifar10"), "--data-dir", "JAXMEM_DATA", "download=True"):
        assert needle in message
    # An extracted directory with only the test batch serves "test" but not "train".
    batches = fake_cifar(rng)
    write_cifar_dir(tmp_path, {"test_batch": batches["test_batch"]})
    np.testing.assert_array_equal(load_cifar10(tmp_path, "test")[1], batches["test_batch"][1])
    with pytest.raises(DataNotFound, match="data_batch_5"):
        load_cifar10(tmp_path, "train")


# --- download from a local server --------------------------------------------------------------


class _Server:
    def __init__(self, directory):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval: shutdown() waits up to one interval.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(
            poll_interval=0.02), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "*")  # a proxy in the environment must not catch 127.0.0.1
    served = tmp_path / "served"
    served.mkdir()
    running = _Server(served)
    running.dir = served
    yield running
    running.close()


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_download_mnist_verifies_caches_and_loads(tmp_path, rng, server, monkeypatch):
    arrays = fake_mnist(rng)
    write_mnist(server.dir, arrays, gz=True)
    monkeypatch.setitem(real.CHECKSUMS, "mnist",
                        {p.name: sha256(p) for p in server.dir.glob("*.gz")})
    paths = download("mnist", tmp_path / "data", base_url=server.url)
    assert sorted(p.name for p in paths) == sorted(real.DOWNLOADS["mnist"])
    for path in paths:
        assert path.parent == tmp_path / "data" / "mnist"
        assert path.read_bytes() == (server.dir / path.name).read_bytes()
    assert sorted(server.requests) == sorted(f"/{name}" for name in real.DOWNLOADS["mnist"])
    X, y = load_mnist(tmp_path / "data", "all", flatten=False, scale=False)
    np.testing.assert_array_equal(X, np.concatenate([arrays["train"][0], arrays["test"][0]]))
    np.testing.assert_array_equal(y, np.concatenate([arrays["train"][1], arrays["test"][1]]))
    # Again: every file is there with the right checksum, nothing is fetched.
    download("mnist", tmp_path / "data", base_url=server.url)
    assert len(server.requests) == 4
    # A cached file with the wrong contents is fetched again and replaced.
    broken = tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    broken.write_bytes(b"stale")
    download("mnist", tmp_path / "data", base_url=server.url)
    assert server.requests[4:] == ["/t10k-labels-idx1-ubyte.gz"]
    assert sha256(broken) == real.CHECKSUMS["mnist"][broken.name]
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == \
        sorted(real.DOWNLOADS["mnist"])  # no temporary files left


def test_load_with_download_true_fetches_missing_files(tmp_path, rng, server, monkeypatch):
    batches = fake_cifar(rng)
    write_cifar_archive(server.dir, batches)
    monkeypatch.setitem(real.CHECKSUMS, "cifar10",
                        {real.CIFAR10_ARCHIVE: sha256(server.dir / real.CIFAR10_ARCHIVE)})
    monkeypatch.setitem(real.MIRRORS, "cifar10", server.url)
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "env-data"))
    with pytest.raises(DataNotFound):
        load_cifar10()
    assert server.requests == []  # no download unless asked
    X, y = load_cifar10(split="all", scale=False, download=True)
    data, labels = _expected_cifar(batches, "all")
    np.testing.assert_array_equal(X, data)
    np.testing.assert_array_equal(y, labels)
    assert (tmp_path / "env-data" / "cifar10" / real.CIFAR10_ARCHIVE).is_file()
    load_cifar10(download=True)
    assert server.requests == [f"/{real.CIFAR10_ARCHIVE}"]  # present now: not fetched again


def test_download_checksum_mismatch_leaves_nothing(tmp_path, rng, server, monkeypatch):
    write_mnist(server.dir, fake_mnist(rng), gz=True)
    sums = {p.name: sha256(p) for p in server.dir.glob("*.gz")}
    corrupted = server.dir / "train-labels-idx1-ubyte.gz"
    corrupted.write_bytes(corrupted.read_bytes()[:-5] + b"xxxxx")
    monkeypatch.setitem(real.CHECKSUMS, "mnist", sums)
    with pytest.raises(DataError) as info:
        download("mnist", tmp_path / "data", base_url=server.url)
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message and "SHA-256 mismatch" in message
    assert f"expected {sums[corrupted.name]}" in message
    assert f"got {sha256(corrupted)}" in message
    cache = tmp_path / "data" / "mnist"
    # Files are fetched in order: the images before it stayed, the bad one left nothing.
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz"]


def test_download_errors(tmp_path, server, monkeypatch):
    # A file the server does not have: DataError naming the URL, nothing left behind.
    monkeypatch.setitem(real.CHECKSUMS, "cifar10", {real.CIFAR10_ARCHIVE: "0" * 64})
    with pytest.raises(DataError, match=re.escape(f"could not download {server.url}"
                                                  f"{real.CIFAR10_ARCHIVE}") + r" \(HTTP 404 "):
        download("cifar10", tmp_path / "data", base_url=server.url)
    assert list((tmp_path / "data" / "cifar10").iterdir()) == []
    # No known checksum: refuse before any request.
    monkeypatch.setitem(real.CHECKSUMS, "cifar10", {})
    with pytest.raises(DataError, match="no SHA-256 known for cifar-10-python.tar.gz"):
        download("cifar10", tmp_path / "data", base_url=server.url)
    assert server.requests == [f"/{real.CIFAR10_ARCHIVE}"]
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        download("imagenet", tmp_path)


def test_checksum_table_is_complete():
    for name, files in real.DOWNLOADS.items():
        for file_name in files:
            assert re.fullmatch("[0-9a-f]{64}", real.CHECKSUMS[name][file_name]), file_name


# --- scikit-learn's digits -------------------------------------------------------------------


def test_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    counts, labels = load_digits(scale=False)
    assert counts.dtype == np.uint8 and counts.max() == 16
    np.testing.assert_array_equal(X * 16, counts.astype(np.float32))
    np.testing.assert_array_equal(labels, y)


# --- task helpers ----------------------------------------------------------------------------


def _indexed_data(labels):
    """X whose row i is (i, i): the rows a helper picks can be read off X."""
    return np.repeat(np.arange(len(labels), dtype=np.float64)[:, None], 2, axis=1)


def test_pair_task_maps_labels_and_keeps_order(rng):
    labels = rng.integers(0, 4, 200)
    X = _indexed_data(labels)
    X_pair, y = pair_task(X, labels, 1, 3)
    rows = X_pair[:, 0].astype(int)
    np.testing.assert_array_equal(rows, np.flatnonzero((labels == 1) | (labels == 3)))
    np.testing.assert_array_equal(y, np.where(labels[rows] == 1, 1.0, -1.0))
    assert y.dtype == np.float64
    _, y = pair_task(X.astype(np.uint8), labels, 3, 1)  # swapped roles, integer X
    np.testing.assert_array_equal(y, np.where(labels[rows] == 3, 1, -1))
    assert y.dtype == np.float32


def test_pair_task_per_class_is_deterministic_without_replacement(rng):
    labels = rng.integers(0, 3, 300)
    X = _indexed_data(labels)
    X_pair, y = pair_task(X, labels, 0, 2, per_class=40, key_or_seed=7)
    rows = X_pair[:, 0].astype(int)
    assert len(np.unique(rows)) == 80 and np.all(np.diff(rows) > 0)
    assert (y == 1).sum() == 40 and (y == -1).sum() == 40
    np.testing.assert_array_equal(np.where(labels[rows] == 0, 1.0, -1.0), y)
    again, _ = pair_task(X, labels, 0, 2, per_class=40, key_or_seed=7)
    np.testing.assert_array_equal(again, X_pair)
    other, _ = pair_task(X, labels, 0, 2, per_class=40, key_or_seed=8)
    assert not np.array_equal(other, X_pair)
    by_key, _ = pair_task(X, labels, 0, 2, per_class=40, key_or_seed=jax.random.key(3))
    np.testing.assert_array_equal(
        by_key, pair_task(X, labels, 0, 2, per_class=40, key_or_seed=jax.random.key(3))[0])
    raw_key = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(
        by_key, pair_task(X, labels, 0, 2, per_class=40, key_or_seed=raw_key)[0])
    # Every point of the smaller class when per_class equals its size.
    n_small = min((labels == 0).sum(), (labels == 2).sum())
    X_all, y_all = pair_task(X, labels, 0, 2, per_class=n_small, key_or_seed=0)
    assert (y_all == 1).sum() == n_small == (y_all == -1).sum()


def test_pair_task_argument_errors(rng):
    labels = np.array([0, 1, 1, 2, 2, 2])
    X = _indexed_data(labels)
    with pytest.raises(ValueError, match=r"positive class 5 has no points; the labels present "
                                         r"are \[0, 1, 2\]"):
        pair_task(X, labels, 5, 1)
    with pytest.raises(ValueError, match="negative class 7 has no points"):
        pair_task(X, labels, 1, 7)
    with pytest.raises(ValueError, match="per_class=3 but class 1 has only 2 points"):
        pair_task(X, labels, 1, 2, per_class=3)
    with pytest.raises(ValueError, match="per_class must be a positive int"):
        pair_task(X, labels, 1, 2, per_class=0)
    with pytest.raises(ValueError, match="different classes"):
        pair_task(X, labels, 1, 1)
    with pytest.raises(ValueError, match="one entry per row of X"):
        pair_task(X[:5], labels, 1, 2)
    with pytest.raises(ValueError, match="key_or_seed must be an int seed or a JAX key"):
        pair_task(X, labels, 1, 2, per_class=1, key_or_seed="seven")


def test_one_vs_rest():
    labels = np.array([3, 1, 3, 0, 2])
    y = one_vs_rest(labels, 3)
    np.testing.assert_array_equal(y, [1, -1, 1, -1, -1])
    assert y.dtype == np.float32
    with pytest.raises(ValueError, match="class 4 has no points"):
        one_vs_rest(labels, 4)
    with pytest.raises(ValueError, match="'rest' class is empty"):
        one_vs_rest(np.full(4, 3), 3)


@pytest.mark.parametrize("n_classes", [2, 10])
def test_nested_subsets_are_nested_stratified_and_complete(rng, n_classes):
    # Unbalanced classes, shuffled, as a sample-size run on MNIST 1 vs 8 or all ten digits.
    sizes = rng.integers(30, 300, n_classes)
    y = rng.permutation(np.repeat(np.arange(n_classes) * 3 + 1, sizes))
    n = len(y)
    subsets = nested_subsets(y, seed=5)
    assert len(subsets) == 10
    classes = np.unique(y)
    share = np.array([(y == c).mean() for c in classes])
    fractions = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the default
    for k, (f, idx) in enumerate(zip(fractions, subsets, strict=True)):
        assert len(idx) == round(f * n) and len(np.unique(idx)) == len(idx)
        assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < n
        if k:
            assert np.isin(subsets[k - 1], idx).all()  # nested
        counts = np.array([(y[idx] == c).sum() for c in classes])
        assert np.abs(counts / len(idx) - share).max() <= 0.01  # within 1 percentage point
        if n_classes == 2:  # Webster apportionment keeps two classes within quota
            assert np.abs(counts - len(idx) * share).max() < 1
    np.testing.assert_array_equal(subsets[-1], np.arange(n))
    again = nested_subsets(y, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, subsets))
    assert not np.array_equal(nested_subsets(y, seed=6)[0], subsets[0])


def test_nested_subsets_argument_errors():
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"fractions must lie in \(0, 1\]; got 1.5"):
        nested_subsets(y, [0.5, 1.5])
    with pytest.raises(ValueError, match="no point at all"):
        nested_subsets(y, [0.1])
    with pytest.raises(ValueError, match="y is empty"):
        nested_subsets(np.array([]))
    np.testing.assert_array_equal(nested_subsets(y, [0.5])[0].size, 2)


def test_normalize_max_norm(rng):
    X = rng.normal(size=(50, 6)).astype(np.float32) * 7
    Z = normalize_max_norm(X)
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float32 and Z.shape == X.shape
    norms = np.linalg.norm(Z, axis=1)
    assert abs(norms.max() - 1) < 1e-6
    np.testing.assert_allclose(Z * np.linalg.norm(X, axis=1).max(), X, rtol=1e-6)
    images = rng.uniform(size=(4, 3, 2)).astype(np.float32)  # rows are points of any shape
    flat = normalize_max_norm(images.reshape(4, -1)).reshape(images.shape)
    np.testing.assert_array_equal(normalize_max_norm(images), flat)
    with pytest.raises(ValueError, match="every point of X is 0"):
        normalize_max_norm(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        normalize_max_norm(np.array([[1.0, np.nan]]))
