"""The `jaxmem falsify` declarations of the construction claims (no searches: too slow here).

For each claim: it declares a Falsifiable; its check on the trial's own dataset, with the
trial's construction key, gives the trial's outputs exactly (for claims decided in a `host`
step, the record: host(trial)); the score is a finite float; and where the claim has a
`hypothesis`, a hand-made dataset that breaks it gives hypothesis == False."""

import jax
import numpy as np
import pytest

# JAX is configured by tests/conftest.py (as `--scale quick` does, every program cached): a
# second _configure_jax("quick") here would raise the session's cache threshold to 0.2 s.
from jaxmem import claims
from jaxmem.falsify import construction_key

KEY = 5
# claim id, a small config, a dataset breaking the hypothesis (None: the claim has none)
COLLINEAR = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0]])  # 3 on a line in R^2
REPEATED = np.array([[0.5, 1.0, 2.0], [0.5, 1.0, 2.0], [1.0, -1.0, 0.25], [2.0, 0.0, 1.0]])
CASES = [
    ("bubeck2020.relu", dict(n=6, d=2), (COLLINEAR, np.array([1.0, 2.0, 3.0, 4.0]))),
    ("baum1988.threshold", dict(n=6, d=2),
     (COLLINEAR, np.array([1.0, -1.0, 1.0, -1.0]))),
    ("yun2019.memorizes", dict(N=7, d=3, activation="relu"),
     (REPEATED, np.array([1.0, 2.0, 3.0, 4.0]))),
    ("yun2019.capacity", dict(d1=3, d2=4, d=3),
     (REPEATED, np.array([1.0, 2.0, 3.0, 4.0]))),
    ("park2021.memorizes", dict(data="cube", N=8, d=3),
     (REPEATED, np.array([1.0, -1.0, 1.0, -1.0]))),
    ("zhang2017.depth_k", dict(n=8, d=3, k=3), None),
    ("zhang2017.lemma1", dict(n=6, d=3), (REPEATED, np.array([1.0, 2.0, 3.0, 4.0]))),
]


def _host(claim, config, out):
    """A trial's outputs as stored: host(trial) for host-decided claims."""
    if claim.host is None:
        return out
    batch = {k: np.asarray(v)[None] for k, v in out.items()}
    return {k: v[0] for k, v in claim.host(batch, config).items()}



# every test compiles a claim check (above 2 s): the slow tier
pytestmark = pytest.mark.slow

@pytest.mark.parametrize("claim_id, config, broken", CASES, ids=[c[0] for c in CASES])
def test_check_is_the_trial(claim_id, config, broken):
    claim = claims.get(claim_id)
    falsifiable = claim.falsify
    assert falsifiable is not None
    broken_config = dict(config)
    if broken is not None and claim_id != "yun2019.capacity":  # capacity reads N off X
        n_name, d_name = falsifiable.sizes
        broken_config.update({n_name: broken[0].shape[0], d_name: broken[0].shape[1]})

    @jax.jit
    def run(key, broken):  # one program: the trial, the check on its dataset, the broken one
        got = falsifiable.check(construction_key(key), *claim.dataset(key, **config), **config)
        off = None if broken is None else falsifiable.check(
            construction_key(key), *broken, **broken_config)["hypothesis"]
        return claim.trial(key, **config), got, off

    trial_out, got, off = run(jax.random.key(KEY), broken)
    for name, value in _host(claim, config, trial_out).items():
        np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(value), err_msg=name)
    score = np.asarray(got[falsifiable.score])
    assert score.shape == () and np.issubdtype(score.dtype, np.floating)
    assert np.isfinite(score)
    if broken is not None:
        assert not bool(off)
