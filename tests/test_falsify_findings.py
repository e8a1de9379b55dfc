"""What `jaxmem falsify` found in jaxmem's own claims, kept as regression tests: each case is
decided as the claim's exact step now decides it."""

import jax
import numpy as np
import pytest

# JAX is configured by tests/conftest.py (as `--scale quick` does, every program cached).

from jaxmem import metrics
from jaxmem.verify import zhang2017 as Z

# rows 0 and 1 are 1 ulp apart (distinct points; labels differ)
DEPTH_K_X = np.array([
    [-0.3172993041133701, -0.15853488434056442, 0.43042620325396913, 0.5586681980760206,
     0.43559784731069634],
    [-0.3172993041133701, -0.15853488434056467, 0.43042620325396863, 0.5586681980760209,
     0.4355978473106963],
    [0.24933218353241302, 0.11506143266302188, -0.27694570590246553, 0.5492094165290766,
     0.2802527898379352],
    [1.0050820162396432, -0.17057966455109647, -0.3455460553263798, -0.24502595916694855,
     0.038865527414321206],
    [-0.7374008775603329, 0.4412455503869283, 0.6287817830486906, -0.2892652762831247,
     -0.08971643918071481]])
DEPTH_K_Y = np.array([-0.7157836459080065, 1.8739813612996483, 0.08948034148420206,
                      1.1044288639623427, -0.4708267677483322])
DEPTH_K_KEY = [2347092201, 992238021]


@pytest.mark.slow
def test_depth_k_float_miss_on_rows_one_ulp_apart_is_decided_by_the_rational_rebuild():
    key = jax.random.wrap_key_data(np.asarray(DEPTH_K_KEY, np.uint32))
    cfg = dict(n=5, d=5, k=1)
    net, _ = Z._compiled_depth_k(**cfg)(key, DEPTH_K_X, DEPTH_K_Y)
    # the float network, even evaluated exactly, misses: that alone made it a counterexample
    assert metrics.exact_fit_report(net, DEPTH_K_X, DEPTH_K_Y)["decision"] == metrics.FAILS
    out = Z.depth_k_exact(key, DEPTH_K_X, DEPTH_K_Y, **cfg)
    assert out["ok"] and not out["undecided"]
    # not a rubber stamp: two equal rows with different labels cannot be fit
    X = DEPTH_K_X.copy()
    X[1] = X[0]
    rebuilt = Z.depth_k_rebuild(key, X, DEPTH_K_Y, **cfg)
    assert not rebuilt["ok"]
