"""Sweeps: grids -> configs -> chunked, vmapped, sharded batches -> records in the store."""

from jaxmem.sweep.batch import batched, run_chunked
from jaxmem.sweep.grid import Grid, GridError, load_grid, parse_grid
from jaxmem.sweep.keys import canonical_json, config_hash, config_id, dataset_keys, expand
from jaxmem.sweep.runner import (
    OTHER_CODE,
    OtherCodeError,
    SizeError,
    SweepStats,
    choose_chunk_size,
    make_mesh,
    run_sweep,
)

__all__ = [
    "Grid",
    "GridError",
    "OTHER_CODE",
    "OtherCodeError",
    "SizeError",
    "SweepStats",
    "batched",
    "canonical_json",
    "choose_chunk_size",
    "config_hash",
    "config_id",
    "dataset_keys",
    "expand",
    "load_grid",
    "make_mesh",
    "parse_grid",
    "run_chunked",
    "run_sweep",
]
