"""Test set-up: float64 for exactness checks, fast compiles on the 2-core CI machine.

XLA_FLAGS must be set before the first JAX computation. The tests are dominated by XLA
compilation of small programs, so the CPU backend's optimization level is lowered (as
`jaxmem verify --scale quick` does); numerics agree up to rounding, which the derived
tolerances absorb.
"""

import atexit
import compileall
import os
import shutil
import sys
import tempfile

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()
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
#   JAXMEM_CACHE (a folder, or "off") wins.
if "JAXMEM_CACHE" not in os.environ:
    _session_cache = tempfile.mkdtemp(prefix="jaxmem-tests-xla-")
    atexit.register(shutil.rmtree, _session_cache, ignore_errors=True)
    os.environ["JAXMEM_CACHE"] = _session_cache

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")
if os.environ["JAXMEM_CACHE"].lower() != "off":
    jax.config.update("jax_compilation_cache_dir", os.environ["JAXMEM_CACHE"])
    # Cache every program (the default skips compiles under 1 s: nearly all of them at the
    # lowered optimization level). Writing one costs ~ms; compiling it again costs 10-100x.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

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

