"""Sweeps: configs, keys and chunked vmapped batches (the sweep engine grows here)."""

from jaxmem.sweep.batch import batched, run_chunked
from jaxmem.sweep.keys import canonical_json, config_hash, config_id, dataset_keys, expand

__all__ = ["batched", "canonical_json", "config_hash", "config_id", "dataset_keys", "expand",
           "run_chunked"]
