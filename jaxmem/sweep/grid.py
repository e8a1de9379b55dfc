"""Grids: what a sweep runs, as a dict or a TOML file, expanded into configs.

    name = "zhang-vs-n"            # the sweep's name in the store
    construction = "zhang2017"     # `jaxmem sweep --list` names them with their options
    data = "gaussian"              # gaussian | sphere | cube, or a fixed dataset (moons,
                                   # mnist, ...: `jaxmem.sweep.datasets`)
    labels = "gaussian"            # gaussian (real) | sign (+-1) | class (fixed data's classes)
    datasets = 256                 # datasets per config
    seed = 0                       # root seed of every dataset key
    dtype = "float64"              # float64 | float32: the arithmetic of data, build and check
    chunk_size = 64                # optional; chosen from the compiled memory use when absent

    [axes]                         # the Cartesian product of these is swept
    n = [10, 100, 1000]                        # a list
    d = { start = 2, stop = 20, step = 6 }     # 2, 8, 14, 20 (stop included when hit)
    theta = { start = 0.001, stop = 0.1, num = 3, scale = "log" }

Every config holds the construction, data, labels, dtype, seed, n, d and the construction's
options; its canonical JSON is hashed, and dataset i's key is fold_in(fold_in(key(seed),
config_id), i) (`jaxmem.sweep.keys`). `datasets` and `chunk_size` are not part of a config:
a larger sweep, a resumed one, or one with another chunk size finds the records it shares
with an earlier one.

A grid is checked completely (names, types, values) before anything compiles or touches the
store; every problem is a GridError naming the entry.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib

import numpy as np

from jaxmem.constructions import protocol
from jaxmem.data import families
from jaxmem.data.validate import positive_int
from jaxmem.sweep import datasets as fixed_data
from jaxmem.sweep import trials
from jaxmem.sweep.keys import canonical_json, config_hash

DTYPES = ("float64", "float32")
TOP_LEVEL = (
    "name",
    "construction",
    "data",
    "labels",
    "datasets",
    "seed",
    "dtype",
    "chunk_size",
    "axes",
)
SHAPE_AXES = ("n", "d")
LABEL_KINDS = ("sign", "gaussian")  # what a construction of real labels accepts
MAX_AXIS_VALUES = 100_000  # values of one axis (a range of 2^63 values is refused)
MAX_GRID_BYTES = 1 << 20  # a grid file is a small TOML table


class GridError(ValueError):
    """A grid that cannot run; the message names the entry."""


@dataclasses.dataclass(frozen=True)
class Grid:
    name: str
    construction: str
    data: str
    labels: str
    datasets: int
    seed: int
    dtype: str
    chunk_size: int | None
    axes: dict  # name -> tuple of values

    def configs(self) -> list[dict]:
        """Every config, in row-major order of the axes as written."""
        names = list(self.axes)
        fixed = dict(
            construction=self.construction,
            data=self.data,
            labels=self.labels,
            dtype=self.dtype,
            seed=self.seed,
        )
        if families.resolve(self.data).fixed:  # which points: other files' records never match
            fixed["data_fingerprint"] = fixed_data.fingerprint(self.data)
        return [
            dict(fixed, **dict(zip(names, combo)))
            for combo in itertools.product(*self.axes.values())
        ]

    def to_dict(self) -> dict:
        """The grid as written (a form `parse_grid` accepts), for the store."""
        out = {k: getattr(self, k) for k in TOP_LEVEL if k != "axes"}
        out["axes"] = {k: list(v) for k, v in self.axes.items()}
        return {k: v for k, v in out.items() if v is not None}

    def with_datasets(self, datasets: int) -> Grid:
        try:
            datasets = positive_int("datasets", datasets)
        except ValueError as err:
            raise GridError(f"grid entry {err}") from None
        return dataclasses.replace(self, datasets=datasets)

    def hashes(self) -> list[tuple[str, str]]:
        """(config hash, canonical JSON) of every config."""
        return [(config_hash(c), canonical_json(c)) for c in self.configs()]


def _axis_values(name, spec) -> tuple:
    """A list, a scalar, or a range table {start, stop, step} / {start, stop, num[, scale]}."""
    if isinstance(spec, dict):
        unknown = set(spec) - {"start", "stop", "step", "num", "scale"}
        if (
            unknown
            or "start" not in spec
            or "stop" not in spec
            or (("step" in spec) == ("num" in spec))
        ):
            raise GridError(
                f"axis {name}: a range is {{start, stop, step}} or {{start, stop, num"
                f'[, scale = "linear"|"log"]}}; got {spec}'
            )
        start, stop = spec["start"], spec["stop"]
        for key in ("start", "stop", "step"):
            if key in spec and not _finite_number(spec[key]):
                raise GridError(
                    f"axis {name}: range {key} must be a finite number; got {spec[key]!r}"
                )
        ints = all(
            isinstance(v, int) and not isinstance(v, bool)
            for v in (start, stop, spec.get("step", 1))
        )
        if "step" in spec:
            step = spec["step"]
            if not isinstance(step, (int, float)) or step <= 0 or stop < start:
                raise GridError(f"axis {name}: need step > 0 and stop >= start; got {spec}")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_AXIS_VALUES:
                raise GridError(
                    f"axis {name}: the range has {count} values; at most {MAX_AXIS_VALUES} per axis"
                )
            values = [start + i * step for i in range(count)]
        else:
            num, scale = spec["num"], spec.get("scale", "linear")
            if (
                isinstance(num, bool)
                or not isinstance(num, int)
                or not 1 <= num <= MAX_AXIS_VALUES
                or scale not in ("linear", "log")
            ):
                raise GridError(
                    f"axis {name}: need an integer num >= 1 and scale linear|log; got {spec}"
                )
            if scale == "log" and (start <= 0 or stop <= 0):
                raise GridError(f"axis {name}: a log range needs start, stop > 0; got {spec}")
            values = (np.geomspace if scale == "log" else np.linspace)(start, stop, num).tolist()
            if ints:
                values = list(dict.fromkeys(int(round(v)) for v in values))
        if ints:
            values = [int(v) for v in values]
        return tuple(values)
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise GridError(f"axis {name} is an empty list")
    if len(values) > MAX_AXIS_VALUES:
        raise GridError(f"axis {name} lists {len(values)} values; at most {MAX_AXIS_VALUES}")
    for v in values:
        if not isinstance(v, (int, float, str, bool)):
            raise GridError(f"axis {name}: values must be numbers, strings or booleans; got {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise GridError(f"axis {name}: values must be finite; got {v!r}")
    # 1 and 1.0 are one value (they would be two configs of the same computation).
    keys = [(type(v).__name__, v) if isinstance(v, (str, bool)) else ("number", v) for v in values]
    if len(set(keys)) != len(keys):
        raise GridError(f"axis {name} lists a value twice: {values}")
    return tuple(values)


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_grid(spec: dict, *, source: str = "grid") -> Grid:
    """Checks a grid dict and returns a Grid; GridError on the first problem."""
    if not isinstance(spec, dict):
        raise GridError(f"{source}: a grid is a table of entries; got {type(spec).__name__}")
    unknown = [k for k in spec if k not in TOP_LEVEL]
    if unknown:
        raise GridError(
            f"{source}: unknown entry {unknown[0]!r}; a grid has {', '.join(TOP_LEVEL)}"
            f" (sweep parameters go under [axes])"
        )
    for required in ("name", "construction", "datasets", "axes"):
        if required not in spec:
            raise GridError(f"{source}: missing entry {required!r}")
    name = spec["name"]
    if not isinstance(name, str) or not name.strip():
        raise GridError(f"{source}: name must be a non-empty string; got {name!r}")
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise GridError(
            f"{source}: name must not contain control characters; it has "
            f"{bad!r} at position {name.index(bad)}"
        )
    for entry_name in ("construction", "data", "labels", "dtype"):
        if entry_name in spec and not isinstance(spec[entry_name], str):
            raise GridError(
                f"{source}: {entry_name} must be a string; got "
                f"{type(spec[entry_name]).__name__} {spec[entry_name]!r}"
            )
    construction = spec["construction"]
    try:
        entry = protocol.resolve(construction)
    except KeyError as err:
        raise GridError(f"{source}: {err.args[0]}") from None
    data = spec.get("data", "gaussian")
    try:
        family = families.resolve(data)
    except KeyError as err:
        raise GridError(
            f"{source}: {err.args[0].replace('data family', 'data')} (or file:PATH.npz)"
        ) from None
    except ValueError as err:
        raise GridError(f"{source}: {err}") from None
    accepted = {"binary": ("sign",), "multiclass": ("class",)}.get(entry.task, LABEL_KINDS)
    default_labels = next((lab for lab in family.labels if lab in accepted), family.labels[0])
    labels = spec.get("labels", default_labels)
    if labels not in trials.LABELS:
        raise GridError(f"{source}: unknown labels {labels!r}; known: {', '.join(trials.LABELS)}")
    if entry.task == "binary" and labels != "sign":
        raise GridError(
            f'{source}: construction {construction} fits +-1 labels; labels must be "sign"'
        )
    dtype = spec.get("dtype", "float64")
    if dtype not in DTYPES:
        raise GridError(f"{source}: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    seed = spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise GridError(f"{source}: seed must be a non-negative integer; got {seed!r}")
    chunk_size = spec.get("chunk_size")
    try:
        datasets = positive_int("datasets", spec["datasets"])
        if chunk_size is not None:
            chunk_size = positive_int("chunk_size", chunk_size)
    except ValueError as err:
        raise GridError(f"grid entry {err}") from None
    raw_axes = spec["axes"]
    if not isinstance(raw_axes, dict):
        raise GridError(f"{source}: axes must be a table of name = values")
    options = list(entry.options) + [o for o in family.options if o not in entry.options]
    axes = {}
    for axis, values in raw_axes.items():
        if axis not in SHAPE_AXES and axis not in options:
            raise GridError(
                f"{source}: unknown parameter {axis!r} for construction "
                f"{construction} on data {data}; it takes n, d" + "".join(f", {o}" for o in options)
            )
        axes[axis] = _axis_values(axis, values)
    if family.fixed:
        try:  # loads the data: absent files stop here, saying where they were looked for
            fixed_data.fingerprint(data)
            # A fixed dataset needs no shape axes: all its points, in its dimension.
            axes.setdefault("n", (fixed_data.size(data),))
        except ValueError as err:
            raise GridError(f"{source}: {err}") from None
    if family.dim is not None:
        axes.setdefault("d", (family.dim,))
    for axis in SHAPE_AXES:
        if axis not in axes:
            raise GridError(f"{source}: axes must give {axis}")
    grid = Grid(
        name=name.strip(),
        construction=construction,
        data=data,
        labels=labels,
        datasets=datasets,
        seed=seed,
        dtype=dtype,
        chunk_size=chunk_size,
        axes=axes,
    )
    for config in grid.configs():
        try:
            trials.check_config(config)
        except ValueError as err:
            raise GridError(f"{source}: {err}") from None
    return grid


def load_grid(path: str) -> Grid:
    """Reads and checks a TOML grid file."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except OSError as err:
        raise GridError(f"cannot read grid file {path}: {err.strerror or err}") from None
    if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
        raise GridError(f"grid file {path} is not a regular file")
    if os.path.getsize(path) > MAX_GRID_BYTES:
        raise GridError(f"grid file {path} is larger than {MAX_GRID_BYTES} bytes")
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise GridError(f"cannot read grid file {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise GridError(f"grid file {path} is not valid TOML: {err}") from None
    return parse_grid(spec, source=path)
