"""Chunked, vmapped evaluation of a per-dataset function over many PRNG keys.

The host loop runs fixed-size chunks, each one jit-compiled vmapped call: the last chunk is
padded (by repeating its first key) and the padded rows are dropped, so every chunk has the
same shape and nothing compiles twice. Peak memory is set by the chunk, not the sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.validate import positive_int

_COMPILED: dict = {}


def batched(fn: Callable, *, compiler_options: dict | None = None, **static) -> Callable:
    """jit(vmap(partial(fn, **static))) over a batch of keys, cached by (fn, static) so that
    repeated calls with the same function and shapes reuse one compilation. compiler_options
    (XLA options for this program only, e.g. {"xla_backend_optimization_level": 2}) let a
    compute-heavy trial (a training loop) run optimized when the quick scale lowers XLA's
    optimization level for everything else."""
    options = tuple(sorted((compiler_options or {}).items()))
    cache_key = (fn, tuple(sorted(static.items())), options)
    if cache_key not in _COMPILED:
        _COMPILED[cache_key] = jax.jit(
            jax.vmap(functools.partial(fn, **static)), compiler_options=dict(options) or None
        )
    return _COMPILED[cache_key]


def run_chunked(
    fn: Callable,
    keys: jax.Array,
    chunk_size: int,
    *,
    compiler_options: dict | None = None,
    **static,
) -> dict:
    """Applies `fn(key, **static) -> dict of arrays` to every key, chunk by chunk.

    Returns a dict of NumPy arrays with leading axis len(keys).
    """
    chunk_size = positive_int("chunk_size", chunk_size)
    total = keys.shape[0]
    chunk_size = min(chunk_size, total) or 1
    f = batched(fn, compiler_options=compiler_options, **static)
    parts = []
    for start in range(0, total, chunk_size):
        chunk = keys[start : start + chunk_size]
        real = chunk.shape[0]
        if real < chunk_size:
            chunk = jnp.concatenate([chunk, jnp.repeat(chunk[:1], chunk_size - real, axis=0)])
        out = jax.device_get(f(chunk))
        parts.append(jax.tree.map(lambda a: np.asarray(a)[:real], out))  # noqa: B023 (called now)
    if not parts:
        raise ValueError("no keys to evaluate")
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
