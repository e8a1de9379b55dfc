"""Claims of Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017), "Understanding deep learning
requires rethinking generalization": Theorem 1, Lemma 1 and the depth-k corollary."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import metrics, network
from jaxmem.falsify import Domain, Falsifiable
from jaxmem.constructions import zhang2017
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from jaxmem.claims import (Claim, Scaling, Universal, exact_fit, fit_outcome, pairs,
                           register)

CITATION = ("Zhang, Bengio, Hardt, Recht, Vinyals. Understanding deep learning requires "
            "rethinking generalization. ICLR 2017. Theorem 1, Lemma 1, Appendix C.")


def dataset(key, n, d, **_):
    """Gaussian points, real Gaussian labels: 'any function on a sample'."""
    return gaussian(jax.random.fold_in(key, 0), n, d, labels="gaussian")


def _build_key(key):
    return jax.random.fold_in(key, 1)


def thm1_network(build_key, X, y, n, d):
    """Theorem 1's network on the dataset (X, y), and whether its sizes are the theorem's:
    Theorem 1's count is read off the network itself (its first layer shares one weight vector
    a, its output has no bias: d + n + n), not from what the construction reports."""
    net, info = zhang2017.build(build_key, X, y)
    first, out = net.layers
    no_output_bias = jnp.all(out.bias == 0)
    theorem_count = network.shared_param_count(net) - out.bias.shape[-1]  # less the bias slot
    shared_ok = first.shared & no_output_bias & (theorem_count == 2 * n + d)
    # The dense network's count: n units of d weights + bias, output n + 1.
    dense_ok = network.param_count(net) == n * (d + 1) + (n + 1)
    return net, info["valid"] & shared_ok & dense_ok, info, theorem_count


def thm1_parts(key, n, d):
    """`thm1_network` on dataset `key`: (net, X, y, checks_ok, info, theorem_count)."""
    X, y = dataset(key, n, d)
    net, checks_ok, info, theorem_count = thm1_network(_build_key(key), X, y, n, d)
    return net, X, y, checks_ok, info, theorem_count


def thm1_check(build_key, X, y, n, d):
    """Theorem 1 on a given dataset. score (for `jaxmem falsify`): log10 of the largest output
    weight, which grows as projections crowd together (Theorem 1's weights are divided by
    the gaps), where rounding and any broken interleaving of the knots show first."""
    net, checks_ok, info, theorem_count = thm1_network(build_key, X, y, n, d)
    fit = metrics.fit_report(net, X, y)
    max_weight = jnp.max(jnp.abs(info["weights"]))
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], valid=info["valid"],
                shared_param_count=theorem_count,
                param_count=network.param_count(net),
                max_abs_error=fit["max_abs_error"],
                error_over_tolerance=fit["error_over_tolerance"],
                tolerance_over_scale=fit["tolerance_over_scale"],
                min_gap=info["min_gap"],
                max_abs_weight=max_weight,
                score=jnp.log10(jnp.maximum(max_weight, jnp.finfo(X.dtype).tiny)))


def thm1_trial(key, n, d):
    return thm1_check(_build_key(key), *dataset(key, n, d), n=n, d=d)


@functools.lru_cache(maxsize=None)
def _compiled_build(theta):
    # one program per shape; eagerly, every operation would compile on its own
    return jax.jit(functools.partial(zhang2017.build, theta=theta))


def thm1_exact(build_key, X, y, n, d, theta=0.01):
    """Theorem 1's construction in rational arithmetic on (X, y), with the float construction's
    direction a (an exact binary vector): exact projections, knots b_i = t_(i-1) + theta
    (t_i - t_(i-1)) and weights by the same recurrence, then c(t_i) = y_i checked exactly.
    FITS needs distinct projections (a tie is the construction's random direction failing)."""
    from fractions import Fraction

    _, info = _compiled_build(theta)(build_key, jnp.asarray(X), jnp.asarray(y))
    projected = zhang2017.exact_projections(info["direction"], X, y)
    if projected is None:
        return dict(ok=False, undecided=True)  # a tie along a: this direction, not the data
    ts, ys = projected
    th = Fraction(theta)
    gaps = [t1 - t0 for t0, t1 in zip(ts, ts[1:])]
    first = sum(gaps, Fraction(0)) / len(gaps) if gaps else Fraction(1)
    b = [ts[0] - first] + [t0 + th * g for t0, g in zip(ts, gaps)]
    return dict(ok=zhang2017.exact_spline_fits(ts, ys, b), undecided=False)


def _lemma1_parts(build_key, X, y):
    """Theorem 1's sorted projections t, its knots b and Lemma 1's A_ij = relu(t_i - b_j)."""
    _, info = zhang2017.build(build_key, X, y)
    ts = jnp.sort(X @ info["direction"])
    return ts, info["knots"], zhang2017.lemma1_matrix(ts, info["knots"])


def lemma1_check(build_key, X, y, n, d):
    """Lemma 1's matrix A_ij = relu(t_i - b_j) for the interleaving knots of Theorem 1, on a
    given dataset (the traceable part; `lemma1_host` decides the eigenvalues)."""
    ts, b, A = _lemma1_parts(build_key, X, y)
    diag = jnp.diagonal(A)
    return dict(lower_triangular=jnp.all(jnp.triu(A, 1) == 0),
                diag_positive=jnp.all(diag > 0),
                # Lemma 1's smallest eigenvalue, min_i (t_i - b_i), from the projections and
                # knots directly (not from A); the host compares it with the eigensolver's.
                min_t_minus_b=jnp.min(ts - b),
                min_diagonal=jnp.min(diag),
                A=A)


def lemma1_trial(key, n, d):
    return lemma1_check(_build_key(key), *dataset(key, n, d), n=n, d=d)


def lemma1_decide(A, min_gap):
    """One matrix on the host: (eig_minus_diag, eig_ok, min_ok, sigma_min, error_over_bound).
    The sorted eigenvalues must equal the sorted diagonal to within a backward-stable
    eigensolver's error n u ||A||_F, and the smallest computed eigenvalue must be
    min_i (t_i - b_i) to within the same error; error_over_bound is the larger of the two
    errors over that bound (the falsifier's score)."""
    n = A.shape[-1]
    u = np.finfo(A.dtype).eps / 2
    sigma_min = float(np.linalg.svd(A, compute_uv=False)[-1])
    lam = np.sort(np.real(np.linalg.eigvals(A)))
    diag = np.sort(np.diagonal(A))
    err = float(np.max(np.abs(lam - diag)))
    min_err = abs(float(lam[0]) - float(min_gap))
    bound = n * u * np.linalg.norm(A)
    over = max(err, min_err) / bound if bound > 0 else (0.0 if max(err, min_err) == 0 else np.inf)
    return err, err <= bound, min_err <= bound, sigma_min, over


def lemma1_host(outs, config):
    """Eigenvalues and the smallest singular value on the host, with NumPy: non-symmetric eig
    has no GPU kernel, and batched LAPACK calls under vmap can deadlock XLA's CPU pool.
    Passes when `lemma1_decide` does and A is lower-triangular with a positive diagonal."""
    A = outs.pop("A")
    eig_err, eig_ok, min_ok, sigma_min = [], [], [], []
    for Ai, min_gap in zip(A, outs["min_t_minus_b"]):
        err, e_ok, m_ok, s_min, _ = lemma1_decide(Ai, min_gap)
        eig_err.append(err)
        eig_ok.append(e_ok)
        min_ok.append(m_ok)
        sigma_min.append(s_min)
    outs["eig_minus_diag"] = np.array(eig_err)
    outs["min_eigenvalue_is_min_gap"] = np.array(min_ok)
    # Lemma 1 bounds the eigenvalues, not the conditioning: sigma_min is far smaller.
    outs["min_singular_value"] = np.array(sigma_min)
    outs["ok"] = (np.array(eig_ok) & outs["lower_triangular"] & outs["diag_positive"]
                  & outs["min_eigenvalue_is_min_gap"])
    return outs


def lemma1_search_check(build_key, X, y, n, d):
    """`lemma1_check` then `lemma1_host`'s decision of this one matrix, on the host through a
    callback (for `jaxmem falsify`: the search evaluates a jitted, vmapped check): the same
    outputs as the record, A dropped. hypothesis: Lemma 1's, the knots interleave strictly,
    b_1 < t_1 < b_2 < ... < b_n < t_n (Theorem 1 places them so for distinct projections; a
    tie along the random direction breaks it). score: log10 of the eigensolver's error over
    its bound n u ||A||_F (> 0 is a failure); not differentiable (an eigensolver on the host)."""
    out = lemma1_check(build_key, X, y, n, d)
    A = out.pop("A")
    ts, b, _ = _lemma1_parts(build_key, X, y)
    interleaved = jnp.all(b < ts) & jnp.all(ts[:-1] < b[1:])

    def decide(A, min_gap):
        err, e_ok, m_ok, s_min, over = lemma1_decide(np.asarray(A), np.asarray(min_gap))
        return (np.float64(err), np.bool_(e_ok), np.bool_(m_ok), np.float64(s_min),
                np.float64(over))

    f64, flag = jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct((), jnp.bool_)
    err, eig_ok, min_ok, sigma_min, over = jax.pure_callback(
        decide, (f64, flag, flag, f64, f64), jax.lax.stop_gradient(A),
        jax.lax.stop_gradient(out["min_t_minus_b"]), vmap_method="sequential")
    return dict(out, eig_minus_diag=err, min_eigenvalue_is_min_gap=min_ok,
                min_singular_value=sigma_min,
                ok=eig_ok & out["lower_triangular"] & out["diag_positive"] & min_ok,
                hypothesis=interleaved,
                score=jnp.log10(jnp.maximum(over, jnp.finfo(jnp.float64).tiny)))


def depth_k_network(build_key, X, y, n, d, k):
    """The depth-k network on (X, y) and whether its sizes are Appendix C's: k hidden layers
    (+ output) of width ceil(n/k) + 2."""
    net, info = zhang2017.build_depth_k(build_key, X, y, k=k)
    width_ok = jnp.max(network.widths(net)) == math.ceil(n / k) + 2
    depth_ok = network.depth(net) == k + 1  # k hidden layers + output
    return net, info["valid"] & width_ok & depth_ok


def depth_k_parts(key, n, d, k):
    X, y = dataset(key, n, d)
    net, checks_ok = depth_k_network(_build_key(key), X, y, n, d, k)
    return net, X, y, checks_ok


def depth_k_check(build_key, X, y, n, d, k):
    """The corollary on a given dataset. score (for `jaxmem falsify`): log10 of the largest
    weight, Theorem 1's output weights (divided by the gaps between projections) carried
    through the k layers, where rounding shows first."""
    net, checks_ok = depth_k_network(build_key, X, y, n, d, k)
    fit = metrics.fit_report(net, X, y)
    max_weight = jnp.max(jnp.stack([jnp.max(jnp.abs(lay.weight)) for lay in net.layers]))
    return dict(**fit_outcome(fit, checks_ok),
                interpolates=fit["interpolates"], max_width=jnp.max(network.widths(net)),
                hidden_layers=jnp.asarray(network.depth(net) - 1),
                param_count=network.param_count(net),
                max_abs_error=fit["max_abs_error"],
                error_over_tolerance=fit["error_over_tolerance"],
                tolerance_over_scale=fit["tolerance_over_scale"],
                score=jnp.log10(jnp.maximum(max_weight, jnp.finfo(X.dtype).tiny)))


def depth_k_trial(key, n, d, k):
    return depth_k_check(_build_key(key), *dataset(key, n, d), n=n, d=d, k=k)


@functools.lru_cache(maxsize=None)
def _compiled_depth_k(n, d, k):
    return jax.jit(functools.partial(depth_k_network, n=n, d=d, k=k))


def depth_k_rebuild(build_key, X, y, n, d, k) -> dict:
    """Whether the depth-k construction in rational arithmetic fits (X, y) exactly. In exact
    arithmetic its carries are identities (s = t - b0 > 0 on the data, and C keeps the
    running sum positive), so the network computes Theorem 1's spline c(t) on the same
    direction: `thm1_exact` decides it. Its sizes are static (k + 1 layers of width
    ceil(n/k) + 2, checked on the float build). Found by `jaxmem falsify`: rows 1 ulp apart
    make the float network miss where the construction fits."""
    net, _ = _compiled_depth_k(n, d, k)(build_key, jnp.asarray(X), jnp.asarray(y))
    sizes_ok = (max(network.widths(net)) == math.ceil(n / k) + 2
                and network.depth(net) == k + 1)
    spline = thm1_exact(build_key, X, y, n, d)  # undecided: a tie along the direction
    return dict(ok=bool(sizes_ok) and bool(spline["ok"]), undecided=spline["undecided"])


def depth_k_exact(build_key, X, y, n, d, k):
    """As the claim's exact step: the float network's function evaluated exactly
    (`metrics.exact_fit_report`, which decides every point) and, where that fails, the
    construction rebuilt in rationals (`depth_k_rebuild`)."""
    net, checks_ok = _compiled_depth_k(n, d, k)(build_key, jnp.asarray(X), jnp.asarray(y))
    report = metrics.exact_fit_report(net, X, y)
    out = fit_outcome(report, bool(np.asarray(checks_ok)))
    if not out["ok"]:
        out = dict(out, **depth_k_rebuild(build_key, X, y, n, d, k))
    return out


THM1 = Claim(
    id="zhang2017.thm1",
    citation=CITATION,
    statement=("A two-layer ReLU network c(x) = sum_j w_j relu(<a,x> - b_j) with 2n + d weights "
               "fits any real labels on any n distinct points in R^d exactly."),
    trial=thm1_trial,
    grids=dict(quick=pairs([(1, 1), (10, 10), (100, 1), (1000, 10)], datasets=128),
               full=expand(n=[1, 10, 100, 1000, 4000], d=[1, 2, 10, 100], datasets=1000)),
    rule=Universal(),
    dataset=dataset,
    # A float network that FAILS is judged by the construction rebuilt in rationals: near-
    # coincident points can make the float recurrence miss where the theorem's network fits
    # (found by `jaxmem falsify`: rows 1e-15 apart).
    exact=exact_fit(thm1_parts, rebuild=lambda key, n, d: thm1_exact(
        _build_key(key), *dataset(key, n, d), n=n, d=d)["ok"]),
    falsify=Falsifiable(check=thm1_check, domain=Domain(points="real", labels="real"),
                        score="score", exact=thm1_exact),
)

LEMMA1 = Claim(
    id="zhang2017.lemma1",
    citation=CITATION,
    statement=("For interleaving b_1 < t_1 < b_2 < ... < b_n < t_n, A_ij = relu(t_i - b_j) is "
               "lower-triangular; its eigenvalues are its diagonal, the smallest min_i (t_i - b_i) > 0."),
    trial=lemma1_trial,
    grids=dict(quick=expand(n=[2, 16, 64], d=[3], datasets=32),
               full=expand(n=[2, 16, 64, 256], d=[1, 3, 20], datasets=500)),
    rule=Universal(),
    host=lemma1_host,
    dataset=dataset,
    # the record is lemma1_host(lemma1_check): the search's check runs both (a host callback)
    falsify=Falsifiable(check=lemma1_search_check, domain=Domain(points="real", labels="real"),
                        score="score"),
)

DEPTH_K = Claim(
    id="zhang2017.depth_k",
    citation=CITATION,
    statement=("For every k, a ReLU network with k hidden layers of width ceil(n/k) + 2 fits any "
               "real labels on n distinct points exactly (Appendix C; exact carry construction)."),
    trial=depth_k_trial,
    grids=dict(quick=[dict(n=10, d=5, k=1, datasets=64), dict(n=10, d=5, k=8, datasets=64),
                     dict(n=200, d=5, k=3, datasets=64)],
               full=expand(n=[10, 200, 1000], d=[2, 20], k=[1, 2, 3, 8, 16], datasets=500)),
    rule=Universal(),
    dataset=dataset,
    exact=exact_fit(depth_k_parts, rebuild=lambda key, n, d, k: depth_k_rebuild(
        _build_key(key), *dataset(key, n, d), n=n, d=d, k=k)["ok"]),
    falsify=Falsifiable(check=depth_k_check, domain=Domain(points="real", labels="real"),
                        score="score", exact=depth_k_exact),
)

WEIGHT_GROWTH = Claim(
    id="zhang2017.weight_growth",
    citation=CITATION + " Growth rate: docs/papers/zhang2017.md §5.2 (derived).",
    statement=("The output weights grow like 1/min gap of the projections, i.e. max|w| ~ n^2 "
               "for Gaussian data with knots just after each point (a derived prediction)."),
    trial=thm1_trial,
    grids=dict(quick=expand(n=[32, 256, 2048], d=[10], datasets=64),
               full=expand(n=[32, 64, 128, 256, 512, 1024, 2048, 4096], d=[10], datasets=400)),
    rule=Scaling(x="n", y="max_abs_weight", predicted=2.0, band=(1.5, 2.5)),
    dataset=dataset,
)

CLAIMS = [THM1, LEMMA1, DEPTH_K, WEIGHT_GROWTH]

register(*CLAIMS)
