"""Configs and keys: canonical JSON, config hashes, and per-dataset PRNG keys.

A dataset's key is fold_in(fold_in(key(seed), config_id), index), so the dataset does not
depend on chunk size, device count, resume or how many datasets a sweep draws: under JAX's
default partitionable threefry, split(k, n)[i] == fold_in(k, i) for all n (docs/jax-notes.md §2.1).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math

import jax
import numpy as np


def canonical_json(config: dict) -> str:
    """Sorted keys, no spaces, floats by repr; raises on values JSON cannot hold exactly."""

    def check(v, path):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"config value {path} = {v} is not finite")
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ValueError(f"config keys must be strings; {path}.{k!r} is not")
                check(x, f"{path}.{k}")
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                check(x, f"{path}[{i}]")
        elif not isinstance(v, (str, int, float, bool, type(None))):
            raise ValueError(
                f"config value {path} has type {type(v).__name__}; "
                f"use str, int, float, bool, None, lists or dicts"
            )

    check(config, "config")
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: dict) -> str:
    """sha256 hex digest of the canonical JSON."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def config_id(config: dict) -> int:
    """A 31-bit integer from the hash, for fold_in."""
    return int(config_hash(config)[:8], 16) & 0x7FFFFFFF


def dataset_keys(seed: int, config: dict, indices) -> jax.Array:
    """Typed PRNG keys for the given dataset indices of one config."""
    root = jax.random.fold_in(jax.random.key(seed), config_id(config))
    return fold_keys(root, np.asarray(indices, dtype=np.uint32))


def fold_keys(root, indices):
    """Dataset i's key, fold_in(root, i), for each index (traceable: the engine's block
    programs derive their keys with it)."""
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(indices)


def expand(**axes) -> list[dict]:
    """The Cartesian product of the list-valued axes; scalars are shared by every config.

    expand(n=[10, 100], d=[2, 5], datasets=64) -> 4 configs, in row-major order of the axes.
    """
    names = list(axes)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in axes.values()]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]
