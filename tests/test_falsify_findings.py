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


import dataclasses  # noqa: E402

# ---- yu2024.thm7_3.memorizes: M1's margins are three-valued ------------------------------
# Found by `jaxmem falsify yu2024.thm7_3.memorizes --config data=cube,N=64,n=2`: (1) opposite
# rows 1e-8 apart, where r = 0.01 min ||x_i - x_j||^2 ~ 1e-18 is below the first layer's
# rounding (~1e-16), and the margins were checked against a tolerance that ignored it; (2) once
# that was bounded, data near 1e-152, whose products fall where XLA flushes subnormals to 0.

def _m1_data(kind, N=12, n=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(N, n))
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    if kind == "close":          # an opposite pair 1e-8 apart
        X[1] = X[0] + 1e-8
    elif kind == "tiny":         # squared distances near 1e-300
        X = 1e-150 * X
    elif kind == "wide":
        X = 1e3 * X
    return X, y


def _m1_exact(m1, T):
    """M1 in exact rational arithmetic on the stored data, split and r (c_ij exact)."""
    from fractions import Fraction as Fr
    X = [[Fr(float(v)) for v in row] for row in np.asarray(m1.X)]
    y = [float(v) for v in np.asarray(m1.y)]
    split, r = Fr(float(m1.split)), Fr(float(m1.margin_r))
    dot = lambda a, b: sum(p * q for p, q in zip(a, b))
    N = len(X)
    c = [[dot([a - b for a, b in zip(X[i], X[j])],
              [split * a + (1 - split) * b for a, b in zip(X[i], X[j])]) for j in range(N)]
         for i in range(N)]
    out = []
    for t in np.asarray(T):
        t = [Fr(float(v)) for v in t]
        g = [dot(t, x) for x in X]
        units = [max(r - sum(max(c[i][j] - g[i] + g[j], 0) for j in range(N) if y[j] != y[i]),
                     0) for i in range(N)]
        out.append(sum(yk * u for yk, u in zip(y, units)))
    return out


@pytest.mark.parametrize("kind", ["uniform", "close", "tiny", "wide"])
def test_m1_rounding_bound_holds_against_exact_arithmetic(kind):
    from fractions import Fraction as Fr

    from jaxmem.constructions import yu2024
    X, y = _m1_data(kind)
    m1, _ = yu2024.build(None, X, y)
    P, _ = yu2024.cell_boundary_points(m1)
    rng = np.random.default_rng(1)
    T = np.concatenate([X, np.asarray(P), X[:4] + 1e-3 * rng.standard_normal((4, 2)) * X.max()])
    exact = _m1_exact(m1, T)
    for method in ("pruned", "full"):
        out, bound = (np.asarray(a) for a in yu2024.apply_with_error_bound(m1, T, method=method))
        for i, e in enumerate(exact):
            assert abs(Fr(float(out[i])) - e) <= Fr(float(bound[i])), (method, i)


def test_m1_margins_are_undecided_where_rounding_reaches_r_and_decided_elsewhere():
    from jaxmem.verify import yu2024 as Y
    for kind, undecided in (("uniform", False), ("close", True), ("tiny", False)):
        X, y = _m1_data(kind)
        out = Y.memorize_check(None, X, y)
        assert bool(out["undecided"]) == undecided, kind
        assert bool(out["ok"]) == (not undecided), kind   # M1 is correct: never a failure
    # not a rubber stamp: first-layer biases off by 60 r (S_ij(x_i) is ~49 r for the closest
    # opposite pair) are a decided failure
    from jaxmem.constructions import yu2024
    X, y = _m1_data("uniform")
    m1, _ = yu2024.build(None, X, y)
    tm = yu2024.training_margins(dataclasses.replace(m1, offsets=m1.offsets + 60 * m1.margin_r))
    assert not bool(np.asarray(tm["undecided"]).any()) and not bool(np.asarray(tm["ok"]).all())


# ---- the no-false-alarm sweep, 2026-12-07 ---------------------------------------------------

def test_lemma_g4_without_an_exact_certificate_is_undecided_not_failed():
    """Rows 1e-8 apart whose labels flip between them: the LP's float decision (not separable)
    has no exact certificate either way, so the lemma's check is undecided. (The data are
    separable: the threshold between the two close rows.)"""
    from jaxmem.verify import separability as S
    X = np.array([[float.fromhex("0x1.066644ea00000p-1")], [float.fromhex("0x1.384af1ee00000p-2")],
                  [float.fromhex("0x1.63ecbc1800000p-2")], [float.fromhex("0x1.63ecbb7400000p-2")]])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    out = S.g4_decide(X, y, 0, 1)
    assert out["undecided"] and not out["ok"]
    # rows far apart: decided, and the lemma holds
    X_far = np.array([[0.9], [0.1], [0.6], [0.4]])
    out = S.g4_decide(X_far, y, 0, 1)
    assert not out["undecided"] and out["ok"] and out["separable"]


def test_min_norm_gd_bound_survives_a_contraction_factor_that_rounds_to_one():
    """Two rows ~2e-9 apart: mu_min / mu_max ~ 4e-17 < u, so 1 - lr mu_min rounded to 1.0 and
    the check called GD non-contracting. rho^T is now computed through log1p; the bound holds."""
    from jaxmem.verify import lazy as L
    X = np.array([[float.fromhex("0x1.0d86633a00000p-4"), -float.fromhex("0x1.030f4e2e00000p-3")],
                  [float.fromhex("0x1.0d8663ba00000p-4"), -float.fromhex("0x1.030f4e2000000p-3")]])
    y = np.array([0.26858006848488003, -0.31285141746047884])
    out = L.gd_check(None, X, y, n=2, d=2, steps=300)
    assert bool(out["converged"]) and bool(out["ok"])
    # not a rubber stamp: from a random start the null-space part persists (d = 2 = rank, so
    # use a wide X), and the check fails
    rng = np.random.default_rng(0)
    Xw, yw = rng.standard_normal((2, 6)), rng.standard_normal(2)
    assert not bool(L.gd_check(jax.random.key(1), Xw, yw, n=2, d=6, steps=300,
                               init="random")["ok"])


KERNEL_X = np.array([
    -0.058872513473033905, -0.05887201800942421, 0.12501788139343262, -0.5795713067054749,
    -0.13956290483474731, -0.5066450238227844, 0.048378799110651016, -0.2998492121696472,
    0.3640619218349457, 0.26992031931877136, -0.12758447229862213, -0.41354650259017944,
    -0.12126680463552475, 0.05108494684100151, 0.1146354079246521, -1.0751012563705444,
    -0.13626514375209808, 0.24706605076789856, 0.2620013654232025, -0.5769683122634888,
    -0.12312347441911697, -0.08218643069267273, -0.3895287811756134, 0.32779330015182495,
    0.05547187849879265, -0.2761155962944031, 0.3809363543987274])[:, None]
KERNEL_Y = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0,
                     1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0])


def test_kernel_interpolation_on_distinct_points_with_a_numerically_singular_k_is_undecided():
    """27 distinct points on a line (two 5e-7 apart): the Gaussian K is positive definite in
    exact arithmetic but singular to float64, so the fit is undecided, not failed. Duplicate
    points with different labels (the sampler's control) remain a decided failure."""
    from jaxmem.verify import lazy as L
    out = L.kernel_check(None, KERNEL_X, KERNEL_Y, n=27, d=1, classes=2)
    assert not bool(out["nonsingular"]) and bool(out["undecided"]) and not bool(out["ok"])
    X = KERNEL_X.copy()
    X[1] = X[0]
    out = L.kernel_check(None, X, KERNEL_Y, n=27, d=1, classes=2)
    assert not bool(out["undecided"]) and not bool(out["ok"])


def test_m1_in_rational_arithmetic_decides_what_rounding_leaves_open():
    """The claim's exact step: M1 rebuilt in Fractions decides the 1e-8 case (it holds), and
    a split of 0.5 (the cells of the closest pair share a boundary where F = 0) fails."""
    from jaxmem.verify import yu2024 as Y
    X, y = _m1_data("close")
    assert bool(Y.memorize_check(None, X, y)["undecided"])
    out = Y.memorize_exact(None, X, y)
    assert out["ok"] and not out["undecided"]
    broken = Y.memorize_exact(None, X, y, split=0.5)
    assert not broken["ok"] and broken["margins_ok"] and not broken["boundary_ok"]
    # the claim's exact step re-decides a dataset from its key
    claim = Y.MEMORIZES
    key = jax.random.key(0)
    assert claim.exact(key, data="cube", N=12, n=2)["ok"]
