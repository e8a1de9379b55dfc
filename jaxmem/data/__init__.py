"""Datasets: synthetic generators `(key, n, d, ...) -> (X, y)` and input validation."""

from jaxmem.data.synthetic import GENERATORS, LABELS, cube, gaussian, random_labels, sphere
from jaxmem.data.validate import TASKS, validate, validate_batch

__all__ = ["GENERATORS", "LABELS", "TASKS", "cube", "gaussian", "random_labels", "sphere",
           "validate", "validate_batch"]
