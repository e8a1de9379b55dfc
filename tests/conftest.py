"""Test set-up: JAX configured as `jaxmem verify --scale quick` configures it (float64 for
exactness checks, full-precision matmuls, the CPU backend's optimization level lowered: the
tests are dominated by XLA compilation of small programs; numerics agree up to rounding, which
the derived tolerances absorb), with session-wide caches for the 2-core CI machine.
"""

import atexit
import compileall
import os
import shutil
import sys
import tempfile

# Caches for the whole test session:
# * Python bytecode, where PYTHONDONTWRITEBYTECODE is set (this machine sets it): the
#   checkout's ~33,000 lines are otherwise compiled again by every process, ~2 s each
#   (measured: loading every claim took 4.3-5.3 s without bytecode, 2.5-2.8 s with it). So the
#   checkout is compiled here, once, into its __pycache__ folders (git ignores them; an
#   unchanged file is skipped). Not PYTHONPYCACHEPREFIX: that also hides the installed
#   packages' own bytecode, and every process then compiled jax and scipy (measured slower).
if sys.dont_write_bytecode and "PYTEST_XDIST_WORKER" not in os.environ:
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _folder in ("jaxmem", "verify", "experiments"):
        compileall.compile_dir(os.path.join(_root, _folder), quiet=2, workers=1)
# * XLA, in a temporary folder made by the first process that imports this file (pytest's
#   controller, before it starts the xdist workers, which inherit the environment, as does
#   every `jaxmem` subprocess a test starts) and removed when that process exits, so a run
#   never reads a previous run's programs: most of the suite's time is compiling, and the CLI
#   and multi-process tests compile the same programs again in fresh processes. A user's
#   JAXMEM_CACHE (a folder, or "off") wins. Every program is cached here (the CLI skips those
#   compiled in under 0.2 s: nearly all of them at the lowered optimization level); writing
#   one costs ~ms, compiling it again 10-100x that.
if "JAXMEM_CACHE" not in os.environ:
    _session_cache = tempfile.mkdtemp(prefix="jaxmem-tests-xla-")
    atexit.register(shutil.rmtree, _session_cache, ignore_errors=True)
    os.environ["JAXMEM_CACHE"] = _session_cache

from jaxmem.cli import _configure_jax  # noqa: E402 (imports only the standard library)

_configure_jax("quick", min_compile_seconds=0.0)

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
