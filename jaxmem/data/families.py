"""Data families a sweep can name (`data = "..."` in a grid), registered like constructions.

  random   a fresh dataset per index, drawn from its key:
           draw(key, n, d, *, labels, dtype, **options) -> (X, y). `labels` is what the grid
           asked for (one of the family's `labels`); a family whose points come with their own
           +-1 labels (the separated families) declares labels=("sign",) and ignores it.
  fixed    the same points for every index (the index then varies only the construction's
           randomness): load() -> (X, y) in a fixed order; `n` takes the first n points.
  file:    `data = "file:points.npz"` (arrays X and y), a fixed family made from the user's
           file; its SHA-256 is part of every config, so records never outlive the file.

A family's options (the separated families' side, gap, ...) are grid axes like a
construction's; they are static (each value compiles its own program).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxmem.options import Option, in_open_interval, positive_int
from jaxmem.registry import PAPERS_ONLY, PluginError, Registry

LABELS = ("sign", "gaussian", "class")
FILE_PREFIX = "file:"


@dataclasses.dataclass(frozen=True)
class DataFamily:
    name: str
    draw: Callable | None = None  # random families
    load: Callable | None = None  # fixed families
    labels: tuple = ("sign", "gaussian")  # the label kinds it gives; the first is the default
    dim: int | None = None  # fixed dimension; None: any d
    num_classes: int = 2
    options: dict = dataclasses.field(default_factory=dict)  # name -> Option (static)
    description: str = ""

    def __post_init__(self):
        if (self.draw is None) == (self.load is None):
            raise PluginError(
                f"data family {self.name}: give exactly one of draw (random) and load (fixed)"
            )
        unknown = [lab for lab in self.labels if lab not in LABELS]
        if unknown or not self.labels:
            raise PluginError(
                f"data family {self.name}: labels must be among {LABELS}; got {self.labels!r}"
            )

    @property
    def fixed(self) -> bool:
        return self.load is not None

    def check(self, config: dict) -> None:
        for option_name, option in self.options.items():
            if option.check is not None:
                option.check(config.get(option_name, option.default), config)


DATA_FAMILIES: Registry[DataFamily] = Registry(
    "data family", lambda family: family.name, skip_builtin=PAPERS_ONLY
)


def data_family(
    name: str,
    *,
    labels=("sign", "gaussian"),
    dim: int | None = None,
    description: str = "",
    **options: Option,
) -> Callable[[Callable], Callable]:
    """Decorator: registers `draw(key, n, d, *, labels, dtype, **options) -> (X, y)` as a
    random data family; returns it unchanged."""

    def decorate(draw: Callable) -> Callable:
        # the registering module (a partial or a lambda's __module__ can mislead)
        origin = sys._getframe(1).f_globals.get("__name__")
        DATA_FAMILIES.add(
            DataFamily(
                name=name,
                draw=draw,
                labels=tuple(labels),
                dim=dim,
                options=options,
                description=description,
            ),
            origin=origin,
        )
        return draw

    return decorate


def fixed_data(
    name: str,
    load: Callable[[], tuple],
    *,
    labels: str,
    dim: int,
    num_classes: int = 2,
    description: str = "",
) -> DataFamily:
    """Registers a fixed data family: load() -> (X, y), the points in a fixed order."""
    return DATA_FAMILIES.add(
        DataFamily(
            name=name,
            load=load,
            labels=(labels,),
            dim=dim,
            num_classes=num_classes,
            description=description,
        ),
        origin=sys._getframe(1).f_globals.get("__name__"),
    )


def _file_labels(y: np.ndarray) -> tuple[str, int]:
    if np.issubdtype(y.dtype, np.integer) and y.size and y.min() >= 0:
        return "class", int(y.max()) + 1
    values = set(np.unique(y).tolist())
    return ("sign", 2) if values <= {-1.0, 1.0} else ("gaussian", 2)


def _file_path(name: str) -> Path:
    return Path(name[len(FILE_PREFIX) :]).expanduser()


def version(name: str) -> tuple:
    """What identifies the current contents of data `name`: a file's (size, mtime), or the
    registered family object (a notebook may register a name again). Caches of loaded points
    are keyed by it, so an edited file or a re-registered family is never served stale."""
    if name.startswith(FILE_PREFIX):
        try:
            stat = _file_path(name).stat()
        except OSError as err:
            raise ValueError(
                f"data {name}: cannot read {_file_path(name)} ({err.strerror or err})"
            ) from None
        return ("file", stat.st_size, stat.st_mtime_ns)
    return ("registered", id(DATA_FAMILIES.get(name)))


def _file_family(name: str) -> DataFamily:
    return _file_family_at(name, version(name))


@functools.lru_cache(maxsize=16)
def _file_family_at(name: str, file_version: tuple) -> DataFamily:
    path = _file_path(name)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if "X" not in arrays or "y" not in arrays:
                raise ValueError(
                    f"data {name}: the file must hold arrays X and y; it holds "
                    f"{', '.join(arrays.files) or 'nothing'}"
                )
            X, y = np.asarray(arrays["X"]), np.asarray(arrays["y"])
    except OSError as err:
        raise ValueError(f"data {name}: cannot read {path} ({err.strerror or err})") from None
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"data {name}: X must be (n, d) and y (n,); got {X.shape} and {y.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"data {name}: X must be numeric; got dtype {X.dtype}")
    bad = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
    if bad.size:
        raise ValueError(f"data {name}: row {bad[0]} of X is not finite")
    labels, classes = _file_labels(y)
    X = X.astype(np.float64)
    y = y.astype(np.int32 if labels == "class" else np.float64)
    return DataFamily(
        name=name,
        load=lambda: (X, y),
        labels=(labels,),
        dim=X.shape[1],
        num_classes=classes,
        description=f"points from {path}",
    )


def clear_cache() -> None:
    """Forgets loaded files and fingerprints (jaxmem.sweep.datasets.clear_cache calls it)."""
    _file_family_at.cache_clear()
    _fingerprint.cache_clear()


def resolve(name: str) -> DataFamily:
    """A registered data family, or `file:PATH` (an .npz with X and y)."""
    if name.startswith(FILE_PREFIX):
        return _file_family(name)
    return DATA_FAMILIES.get(name)


def fingerprint(family: DataFamily) -> str:
    """The first 16 hex digits of the SHA-256 of a fixed family's points and labels: part of
    every config on fixed data, so records made from other files never stand in for these."""
    if not family.name.startswith(FILE_PREFIX):
        return _fingerprint(family.name, version(family.name))
    assert family.load is not None  # a file: family is fixed
    return _digest(*family.load())


def _digest(X, y) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _fingerprint(name: str, family_version: tuple) -> str:
    family = DATA_FAMILIES.get(name)
    assert family.load is not None, f"data family {name} is not fixed"
    return _digest(*family.load())


# The built-in random families.


def _register_builtins():
    from jaxmem.data import ball_annulus, geometric, separated, synthetic

    for name, draw, description in (
        ("gaussian", synthetic.gaussian, "x_i ~ N(0, I_d / d), so E||x||^2 = 1"),
        ("sphere", synthetic.sphere, "x_i uniform on the unit sphere"),
        ("cube", synthetic.cube, "x_i uniform in [0, 1]^d"),
    ):
        data_family(name, labels=("gaussian", "sign"), description=description + "; random labels")(
            functools.partial(_with_labels, draw)
        )

    def own(draw):  # families with their own +-1 labels
        return lambda key, n, d, *, labels, dtype, **options: draw(
            key, n, d, dtype=dtype, **options
        )

    data_family(
        "checkerboard",
        labels=("sign",),
        side=Option(2, positive_int("side")),
        description="uniform on a side^d checkerboard lattice in [0,1]^d",
    )(own(lambda key, n, d, *, side, dtype: separated.checkerboard(key, n, d, side, dtype)))
    data_family(
        "clusters",
        labels=("sign",),
        per_axis=Option(2, positive_int("per_axis")),
        description="Gaussian clusters on a lattice, checkerboard labels",
    )(
        own(
            lambda key, n, d, *, per_axis, dtype: separated.gaussian_clusters(
                key, n, d, per_axis, dtype=dtype
            )
        )
    )
    data_family(
        "slabs",
        labels=("sign",),
        gap=Option(0.1, in_open_interval("gap", 0, 1)),
        description="two slabs |x_1 - 1/2| >= gap/2 of [0,1]^d",
    )(own(lambda key, n, d, *, gap, dtype: separated.slabs(key, n, d, gap, dtype)))
    data_family(
        "ball_annulus",
        labels=("sign",),
        description="a ball (+1) inside an annulus (-1) in [0,1]^d",
    )(own(lambda key, n, d, *, dtype: ball_annulus.ball_annulus(key, n, d, dtype=dtype)))
    data_family(
        "concentric_spheres",
        labels=("sign",),
        gap=Option(0.2, in_open_interval("gap", 0, 1)),
        description="two concentric spheres, radii 1 - gap (+1) and 1 (-1)",
    )(
        own(
            lambda key, n, d, *, gap, dtype: geometric.concentric_spheres(
                key, n, d, gap, dtype=dtype
            )
        )
    )
    data_family(
        "moons_random",
        labels=("sign",),
        dim=2,
        description="two moons with JAX noise, a fresh draw per index (d = 2)",
    )(own(lambda key, n, d, *, dtype: geometric.moons(key, n, dtype=dtype)))


def _with_labels(draw, key, n, d, *, labels, dtype):
    return draw(key, n, d, labels=labels, dtype=dtype)


_register_builtins()

__all__ = [
    "DATA_FAMILIES",
    "DataFamily",
    "FILE_PREFIX",
    "LABELS",
    "data_family",
    "fingerprint",
    "fixed_data",
    "resolve",
]
