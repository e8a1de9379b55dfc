"""`jaxmem falsify` on a Universal claim that declares no Falsifiable: fresh datasets of its own
trial, the first failure re-decided alone and by the claim's exact step, saved and reproduced."""

import jax
import jax.numpy as jnp
import numpy as np

# JAX is configured by tests/conftest.py (as `--scale quick` does, every program cached).

from jaxmem import claims as C
from jaxmem import falsify


def _trial(key, rate):
    """Fails on a `rate` share of its datasets (a claim broken on purpose when rate > 0)."""
    u = jax.random.uniform(key)
    return dict(ok=u >= rate, u=u)


def _claim(rate, exact=None):
    grid = [dict(rate=rate, datasets=8)]
    return C.Claim(id="test.trials", citation="test", statement="test", trial=_trial,
                   grids=dict(quick=grid, full=grid), rule=C.Universal(), exact=exact)


def test_a_true_claim_is_not_falsified_and_the_summary_says_what_was_searched():
    search = falsify.falsify(_claim(0.0), None, budget=64)
    assert search.counterexample is None and search.evaluations == 64
    assert "no guided search" in search.summary() and "trials 64" in search.summary()


def test_a_broken_claim_is_found_confirmed_saved_and_reproduced(tmp_path):
    claim = _claim(0.25)
    search = falsify.falsify(claim, None, budget=256)
    case = search.counterexample
    assert case is not None and case["status"] == falsify.CONFIRMED
    key = jax.random.wrap_key_data(jnp.asarray(case["key"], jnp.uint32))
    assert float(_trial(key, 0.25)["u"]) < 0.25           # the saved key does fail
    assert search.first_failure["evaluations"] <= 256
    path = falsify.save_case(case, str(tmp_path / "case.npz"))
    again = falsify.recheck(claim, falsify.load_case(path))
    assert again["status"] == falsify.CONFIRMED
    # the same key at a config where the claim holds is re-decided as no counterexample
    holds = dict(falsify.load_case(path), config=dict(rate=0.0))
    assert falsify.recheck(claim, holds)["status"] == falsify.UNCONFIRMED


def test_an_exact_step_that_passes_makes_the_failure_a_float_artefact():
    claim = _claim(0.25, exact=lambda key, **config: dict(ok=True))
    search = falsify.falsify(claim, None, budget=64)
    assert search.counterexample is None and search.artefacts
    assert all(a["status"] == falsify.ARTEFACT for a in search.artefacts)
    assert np.all([a["kind"] == "trial" for a in search.artefacts])
