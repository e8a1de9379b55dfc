"""The falsifiable claims of verify/genzel2023.py, verify/yu2024.py, verify/yu2024_width6.py and
verify/yu2024_width.py: each declares a Falsifiable whose check, on the claim's own sampled
dataset, returns the trial's outputs (same keys), a finite float score, and a hypothesis that a
hand-made dataset breaks. No search runs here (too slow for the suite)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

# JAX is configured by tests/conftest.py (as `--scale quick` does, every program cached).

from jaxmem.falsify import construction_key
from jaxmem.verify import genzel2023 as G
from jaxmem.verify import yu2024 as Y
from jaxmem.verify import yu2024_width as YW
from jaxmem.verify import yu2024_width6 as Y6

KEY = jax.random.key(5)


def _check(claim, build_key, X, y, cfg):
    # jitted, as the search and the engine run it (op by op is slow, and traced data skip the
    # constructions' host-side validation, as in the search)
    return jax.jit(lambda k, X, y: claim.falsify.check(k, X, y, **cfg))(build_key, X, y)


def _same(claim, cfg, build_key, skip=()):
    """check(build_key, *dataset(KEY)) against trial(KEY): every trial output equal."""
    assert claim.falsify is not None
    def both(key, build_key):   # one compiled program for the check and the trial
        return claim.falsify.check(build_key, *claim.dataset(key, **cfg), **cfg), \
            claim.trial(key, **cfg)

    out, ref = jax.jit(both)(KEY, build_key)
    for name, value in ref.items():
        if name not in skip:
            np.testing.assert_array_equal(np.asarray(out[name]), np.asarray(value), err_msg=name)
    score = float(out[claim.falsify.score])
    assert np.isfinite(score)
    return out, ref


def _jit_trial(claim, cfg):
    return jax.jit(lambda k: claim.trial(k, **cfg))(KEY)


def _hypothesis(claim, X, y, cfg, key=None):
    out = _check(claim, construction_key(KEY) if key is None else key,
                 jnp.asarray(X, jnp.float64), jnp.asarray(y, jnp.float64), cfg)
    return bool(out["hypothesis"])



# every test compiles a claim check (above 2 s): the slow tier
pytestmark = pytest.mark.slow

def test_genzel_minus_never_misclassified():
    """As _same and _hypothesis, with one compiled check for both datasets (the build inside
    it compiles once, not twice: ~2 s here): the claim's sampled stack (2, n_points, 2),
    passed in, and the same stack with a point carrying both labels put in."""
    claim = G.MINUS_NEVER_MISCLASSIFIED
    assert claim.falsify is not None
    cfg = dict(builds=(("threshold", 4),), n_points=6, max_biases=(0.5,))
    X, y = map(np.asarray, jax.jit(lambda key: claim.dataset(key, **cfg))(KEY))

    @jax.jit
    def check_and_trial(key, build_key, X, y):
        return claim.falsify.check(build_key, X, y, **cfg), claim.trial(key, **cfg)

    out, ref = check_and_trial(KEY, KEY, X, y)   # the trial's own key builds
    for name, value in ref.items():
        np.testing.assert_array_equal(np.asarray(out[name]), np.asarray(value), err_msg=name)
    assert np.isfinite(float(out[claim.falsify.score]))
    assert bool(out["hypothesis"])
    # one point carrying both labels: X- and X+ not disjoint
    X, y = X.copy(), y.copy()
    X[1, :3] = [[0.1, 0.2], [0.1, 0.2], [0.5, -0.3]]
    y[1, :3] = [1.0, -1.0, 1.0]
    broken, _ = check_and_trial(KEY, KEY, X, y)
    assert not bool(broken["hypothesis"])


def test_yu2024_memorizes():
    cfg = dict(data="cube", N=6, n=2)
    out, _ = _same(Y.MEMORIZES, cfg, construction_key(KEY))
    assert bool(out["hypothesis"])
    X = np.array([[0.1, 0.2], [0.1, 0.2], [0.5, 0.3]])
    assert not _hypothesis(Y.MEMORIZES, X, np.array([1.0, -1.0, 1.0]), dict(cfg, N=3))


def test_yu2024_coverage():
    cfg = Y.checkerboard_config(2, 4, samples=8)
    cfg.pop("datasets")
    # COVERAGE's rule passes on coverage_ok: its check's `ok` is the trial's coverage_ok
    out, ref = _same(Y.COVERAGE, cfg, construction_key(KEY), skip=("ok",))
    np.testing.assert_array_equal(out["ok"], ref["coverage_ok"])
    assert bool(out["hypothesis"])
    X, y = Y.generalize_dataset(KEY, 2, 4, 8)
    assert not _hypothesis(Y.COVERAGE, np.asarray(X) + 1e-3, y, cfg)   # off the support


def test_yu2024_prop7_7():
    cfg = dict(data="clusters", n=2, N=8)
    out, _ = _same(Y.PROP7_7, cfg, construction_key(KEY))
    assert bool(out["hypothesis"])
    X, y = Y.prop7_7_dataset(KEY, **cfg)
    assert not _hypothesis(Y.PROP7_7, np.asarray(X) + 2.0, y, cfg)   # outside [0, 1]^n


def test_yu2024_thm5_3():
    cfg = dict(data="slabs", N=8, n=2, test_points=50)
    out, _ = _same(Y.THM5_3, cfg, KEY)   # the trial's own key: test sample and directions
    assert bool(out["hypothesis"])
    X, y = Y.thm5_3_dataset(KEY, **cfg)
    assert not _hypothesis(Y.THM5_3, X, -y, cfg, key=KEY)   # labels against the slabs


def test_yu2024_thm4_1():
    cfg = dict(N=4, n=2)
    out, _ = _same(Y6.THM4_1, cfg, jax.random.fold_in(KEY, 2))   # the trial's seed key
    assert bool(out["hypothesis"]) and bool(out["ok"])
    # the host step decides the same way as the check's callback
    outs = {k: np.asarray(v)[None] for k, v in _jit_trial(Y6.THM4_1, cfg).items()}
    host = Y6.memorizes_host(outs, cfg)
    for name in Y6._MEASURED:
        np.testing.assert_array_equal(host[name][0], out[name], err_msg=name)
    X = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])   # a point with both labels
    assert not _hypothesis(Y6.THM4_1, X, np.array([1, -1, 1, -1]), cfg)


@pytest.mark.slow
def test_yu2024_thm5_1_width():
    cfg = dict(n=3, widths=(1, 2), n_train=32, n_test=200, steps=5, hidden=4, lr=1e-2,
               delta=1e-3)
    # the trial's own key: test sample and training keys
    out, _ = _same(YW.WIDTH, cfg, KEY)
    assert "hypothesis" not in out
