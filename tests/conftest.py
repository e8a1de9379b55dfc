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


@pytest.fixture(scope="module")
def one_blas_thread():
    """For test modules heavy in eigensolvers and SVDs (they run in OpenBLAS: jaxlib's LAPACK
    is SciPy's). On the 2-core machine shared with other jobs, OpenBLAS's second, spinning
    thread made a batch of 32 128 x 128 eigh calls ~10x slower (2.2 s vs 0.26 s, measured);
    one thread per call is both faster and deterministic in timing. Use with
    `pytestmark = pytest.mark.usefixtures("one_blas_thread")`."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                      # threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
