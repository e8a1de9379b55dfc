"""Datasets: synthetic generators `(key, n, d, ...) -> (X, y)` and input validation."""

from jaxmem.data.geometric import (concentric_spheres, gaussian_blobs, make_moons, moons,
                                   normalize, parallel_lines)
from jaxmem.data.synthetic import GENERATORS, LABELS, cube, gaussian, random_labels, sphere
from jaxmem.data.validate import TASKS, validate, validate_batch

__all__ = ["GENERATORS", "LABELS", "TASKS", "concentric_spheres", "cube", "gaussian",
           "gaussian_blobs", "make_moons", "moons", "normalize", "parallel_lines",
           "random_labels", "sphere", "validate", "validate_batch"]
