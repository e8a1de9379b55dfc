"""Datasets: synthetic generators `(key, n, d, ...) -> (X, y)` and input validation."""

from jaxmem.data.ball_annulus import ball_annulus_radii, ball_annulus_separation
from jaxmem.data.geometric import (
    concentric_spheres,
    gaussian_blobs,
    make_moons,
    moons,
    normalize,
    parallel_lines,
)
from jaxmem.data.real import (
    CHECKSUMS,
    MIRRORS,
    DataError,
    DataNotFound,
    data_dir,
    download,
    load_cifar10,
    load_digits,
    load_mnist,
    read_idx,
)
from jaxmem.data.separated import (
    check_in_class,
    checkerboard,
    checkerboard_support,
    gaussian_clusters,
    in_unit_cube,
    separation,
    slabs,
)
from jaxmem.data.synthetic import GENERATORS, LABELS, cube, gaussian, random_labels, sphere
from jaxmem.data.tasks import (
    nested_order,
    nested_subsets,
    normalize_max_norm,
    one_vs_rest,
    pair_task,
)
from jaxmem.data.validate import TASKS, validate, validate_batch

__all__ = [
    "GENERATORS",
    "LABELS",
    "TASKS",
    "concentric_spheres",
    "cube",
    "gaussian",
    "gaussian_blobs",
    "make_moons",
    "moons",
    "normalize",
    "parallel_lines",
    "random_labels",
    "sphere",
    "validate",
    "validate_batch",
    "CHECKSUMS",
    "MIRRORS",
    "DataError",
    "DataNotFound",
    "data_dir",
    "download",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "read_idx",
    "nested_order",
    "nested_subsets",
    "normalize_max_norm",
    "one_vs_rest",
    "pair_task",
    "check_in_class",
    "checkerboard",
    "checkerboard_support",
    "gaussian_clusters",
    "in_unit_cube",
    "separation",
    "slabs",
    "ball_annulus_radii",
    "ball_annulus_separation",
]
