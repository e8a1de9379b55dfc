"""The falsify declarations of claims beyond zhang2017.thm1: each claim's check on its own
sampled data returns what its trial (with its host, where it has one) returns, with a finite
score, and a dataset that breaks the claim's hypothesis says so. No search runs here (they are
too slow for the suite: `jaxmem falsify CLAIM --config ...`)."""


import jax
import numpy as np
import pytest

from jaxmem.falsify import construction_key
from jaxmem.verify import gd_width, lazy
from jaxmem.verify import separability as vsep

# One OpenBLAS thread for the eigensolvers and SVDs (tests/conftest.py says why).
# every test compiles a claim check (above 2 s): the slow tier
pytestmark = [pytest.mark.usefixtures("one_blas_thread"), pytest.mark.slow]

COUNTING = next(c for c in gd_width.CLAIMS if c.id == "gd_width.counting_bound")

# The claims whose trial is not jaxmem.falsify.trial_from_check(dataset, check) (ntk_gram,
# min_norm_gd and counting_bound are, so their check is their trial by construction): a
# hand-written trial (kernel_interpolation) and a host step (lemma G.4).
CASES = [
    (lazy.KERNEL_INTERPOLATION, dict(n=16, d=8, classes=2)),
    (vsep.LEMMA_G4, dict(n=6, d=2)),
]


def test_searchable_claims_declare_a_check():
    for claim in (lazy.NTK_GRAM, lazy.MIN_NORM_GD, COUNTING):
        assert claim.falsify is not None and claim.falsify.check.__name__ == claim.trial.__name__


def _host_outputs(claim, out, cfg):
    """The trial's outputs, through the claim's host when it has one (one dataset)."""
    if claim.host is None:
        return {k: np.asarray(v) for k, v in out.items()}
    outs = claim.host({k: np.asarray(v)[None] for k, v in out.items()}, dict(cfg))
    return {k: np.asarray(v)[0] for k, v in outs.items()}


@pytest.mark.parametrize("claim,cfg", CASES, ids=[c.id for c, _ in CASES])
def test_check_on_the_sampled_data_is_the_trial(claim, cfg):
    assert claim.falsify is not None

    @jax.jit  # one program: the trial, and the check on the trial's dataset (op by op: ~2x)
    def run(key):
        X, y = claim.dataset(key, **cfg)
        return claim.trial(key, **cfg), claim.falsify.check(construction_key(key), X, y, **cfg)

    trial_out, got = run(jax.random.key(5))
    expected = _host_outputs(claim, trial_out, cfg)
    # a host claim's trial also carries what only its sampler knows (lemma G.4: halfspace)
    sampler_only = {"halfspace"} if claim.host is not None else set()
    assert set(expected) - sampler_only <= set(got)
    for k in set(expected) - sampler_only:
        np.testing.assert_array_equal(np.asarray(got[k]), expected[k], err_msg=k)
    score = np.asarray(got[claim.falsify.score])
    assert score.dtype.kind == "f" and np.isfinite(score)


def test_ntk_hypothesis_fails_on_a_point_dead_for_every_unit():
    cfg = dict(n=24, d=6, factor=2)
    key = jax.random.key(1)
    X, y = jax.jit(lambda key: lazy.ntk_dataset(key, **cfg))(key)
    # 8 points within 1e-8 of each other share one activation pattern: more than d = 6 points
    # in one cell make K singular whatever N d is
    X = np.asarray(X).copy()
    X[1:8] = X[0] + 1e-9 * np.arange(1, 8)[:, None]
    X[1:8] /= np.linalg.norm(X[1:8], axis=1, keepdims=True)
    out = jax.jit(lambda X, y: lazy.ntk_check(construction_key(key), X, y, **cfg))(X, y)
    assert bool(out["singular_by_pattern"]) and not bool(out["hypothesis"])


def test_kernel_hypothesis_fails_on_a_repeated_point():
    cfg = dict(n=16, d=8, classes=2)

    @jax.jit
    def repeated(key):
        X, y = lazy.kernel_dataset(key, **cfg)
        return lazy.kernel_check(jax.random.key(1), X.at[3].set(X[0]), y, **cfg)["hypothesis"]

    assert not bool(repeated(jax.random.key(0)))


def test_lemma_g4_hypothesis_fails_outside_the_unit_cube_and_on_conflicting_labels():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    check = vsep.LEMMA_G4.falsify.check
    key = jax.random.key(0)
    assert bool(check(key, X, y, n=4, d=2)["hypothesis"])      # XOR: a lemma dataset
    assert not bool(check(key, X - 0.5, y, n=4, d=2)["hypothesis"])
    X[2] = X[0]                                                 # one point, both labels
    assert not bool(check(key, X, y, n=4, d=2)["hypothesis"])
