"""Test set-up: float64 for exactness checks, fast compiles on the 2-core CI machine.

XLA_FLAGS must be set before the first JAX computation. The tests are dominated by XLA
compilation of small programs, so the CPU backend's optimization level is lowered (as
`jaxmem verify --scale quick` does); numerics agree up to rounding, which the derived
tolerances absorb.
"""

import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()
os.environ.setdefault("JAXMEM_CACHE", "off")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _store_in_tmp(tmp_path, monkeypatch):
    """`jaxmem verify` and sweeps write to $JAXMEM_STORE: never the checkout's own store."""
    monkeypatch.setenv("JAXMEM_STORE", str(tmp_path / "jaxmem-results.sqlite"))
