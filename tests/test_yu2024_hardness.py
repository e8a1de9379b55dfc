"""Yu et al. 2024, Theorem 6.5(2)'s gadget (App. G.4, Lemmas G.4 / G.5) and Lemmas F.1 / F.2,
in exact arithmetic: formulas, D(phi), the n + 8 witness and its converse, the counting lemmas;
then every claim of verify/yu2024_hardness.py holds and flips when broken on purpose."""

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from jaxmem import exact
from jaxmem.constructions import yu2024_hardness as H
from jaxmem.verify import yu2024_hardness as V
from jaxmem.claims import run_claim

F = Fraction


def _planted(seed, n, pairs, reversible=True):
    return H.random_planted_formula(np.random.default_rng(seed), n, pairs, reversible=reversible)


# ---------------------------------------------------------------------------------------
# Formulas


@pytest.mark.parametrize("clause, n, match", [
    ((1, 2, 3, 4, 5), 6, "clause 0 .* 5 literals"),
    ((1, 2, 3, 4, 5, 0), 6, "literal 0"),
    ((1, 2, 3, 4, 5, -7), 6, "literal -7"),
    ((1, 2, 3, 4, 5, -5), 6, "repeats a variable"),
    ((1, 2, 3, 4, 5, 6), 5, "n must be an integer >= 6"),
])
def test_check_formula_names_the_bad_clause(clause, n, match):
    with pytest.raises(ValueError, match=match):
        H.check_formula([clause], n)


def test_bad_assignments_are_named():
    with pytest.raises(ValueError, match="entry 2 is 0"):
        H.satisfies([(1, 2, 3, 4, 5, 6)], [1, 1, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="shape"):
        H.build_witness([(1, 2, 3, 4, 5, 6)], 6, [1, 1, 1])


def test_satisfaction_by_brute_force():
    one = ((1, -2, 3, -4, 5, -6),)
    # A 6-clause on 6 variables removes exactly its one falsifying assignment.
    sols = H.satisfying_assignments(one, 6)
    assert len(sols) == 63 and not H.satisfies(one, [-1, 1, -1, 1, -1, 1])
    assert H.satisfies(one, [1, 1, 1, 1, 1, 1]) and H.nae_satisfies(one, [1, 1, 1, 1, 1, 1])
    assert not H.nae_satisfies(one, [1, -1, 1, -1, 1, -1])          # six true literals
    f, _ = _planted(0, 8, 5, reversible=False)
    every = H.all_assignments(8)
    brute = [s for s in every if H.satisfies(f, s)]
    assert np.array_equal(H.satisfying_assignments(f, 8), np.array(brute))


def test_planted_formulas_are_complement_closed_reversible_and_solved():
    for seed, n, pairs in [(1, 6, 4), (2, 8, 10), (3, 10, 6)]:
        f, s = _planted(seed, n, pairs)
        assert H.is_complement_closed(f) and H.is_reversible(f, n)
        assert H.satisfies(f, s) and H.satisfies(f, -s) and H.nae_satisfies(f, s)
        assert len(f) % 2 == 0 and len(set(f)) == len(f)
        # reversible: the solution set is closed under s -> -s
        sols = {tuple(v) for v in H.satisfying_assignments(f, n)}
        assert sols == {tuple(-np.array(v)) for v in sols}


def test_the_printed_definition_6_6_is_vacuous_and_reversibility_is_not():
    """phi-bar(s) = phi(-s): 'phi and phi-bar both satisfiable or both not' holds for every
    formula, also for ones whose solutions are not closed under complement."""
    f, n = H.non_reversible_example()
    assert H.printed_definition_holds(f, n) and not H.is_reversible(f, n)
    for seed in range(3):
        g, _ = _planted(seed, 7, 8, reversible=False)
        assert H.printed_definition_holds(g, 7)
    assert H.printed_definition_holds(H.unsatisfiable_formula(6), 6)


def test_unsatisfiable_reversible_formulas_need_all_64_patterns():
    u = H.unsatisfiable_formula(8, variables=(2, 3, 5, 6, 7, 8))
    assert len(u) == 64 and not H.is_satisfiable(u, 8)
    assert H.is_complement_closed(u) and H.is_reversible(u, 8)
    u6 = H.unsatisfiable_formula(6)
    for i in range(64):                          # dropping any clause frees its assignment
        assert len(H.satisfying_assignments(u6[:i] + u6[i + 1:], 6)) == 1


def test_the_non_reversible_example():
    f, n = H.non_reversible_example()
    sols = H.satisfying_assignments(f, n)
    assert len(f) == 63 and np.array_equal(sols, np.ones((1, 6), int))
    assert not H.nae_satisfies(f, sols[0])


# ---------------------------------------------------------------------------------------
# D(phi)


def test_dataset_coordinates_labels_and_separation_exactly():
    f, s = _planted(4, 6, 3)
    n, m = 6, len(f)
    X, y = H.dataset(f, n)
    assert X.shape == (4 * n + m, n)
    assert list(y) == [1] * n + [-1] * n + [1] * n + [-1] * n + [1] * m
    # beta = 11/30; beta + 1/3 = 7/10, beta + 11/30 = 11/15, beta - 1/3 = 1/30, beta - 11/30 = 0
    for block, value in enumerate([F(7, 10), F(11, 15), F(1, 30), F(0)]):
        for i in range(n):
            row = X[block * n + i]
            assert row[i] == value and all(row[j] == F(11, 30) for j in range(n) if j != i)
    Q = H.clause_vectors(f, n)
    assert np.array_equal(np.abs(Q).sum(1), np.full(m, 6))
    for q, row in zip(Q, X[4 * n:]):
        assert list(row) == [F(11, 30) + F(int(v), 12) for v in q]
    assert H.in_unit_cube(X)
    d2, (i, j) = H.min_opposite_sq_distance(X, y)
    assert d2 == F(1, 900) and d2 >= H.SEPARATION ** 2 and not d2 >= F(1, 29) ** 2
    assert {i % n} == {j % n}                    # beta +- e_i/3 against beta +- 1.1 e_i/3


def test_beta_one_third_leaves_the_cube():
    """beta - 1.1 e_i/3 has a coordinate beta - 11/30: 11/30 is the least beta in the cube."""
    f, _ = _planted(5, 6, 2)
    X, _ = H.dataset(f, 6, beta="1/3")
    assert not H.in_unit_cube(X) and min(X.ravel()) == F(-1, 30)
    with pytest.raises(TypeError, match="floats are not exact"):
        H.dataset(f, 6, beta=0.36)


# ---------------------------------------------------------------------------------------
# The witness


@pytest.mark.parametrize("seed, n, pairs", [(6, 6, 4), (7, 9, 12)])
def test_witness_memorizes_with_n_plus_8_parameters(seed, n, pairs):
    f, s = _planted(seed, n, pairs)
    net, info = H.build_witness(f, n, s)
    X, y, t = info["X"], info["y"], info["F1"]
    assert exact.param_count(net) == n + 8 == H.architecture_param_count(n, (1, 2))
    assert [lay.n_out for lay in net.layers] == [1, 2, 1]
    first = net.layers[0]                        # 3 s.(x - beta) + 3
    assert list(first.weight[:, 0]) == [3 * int(v) for v in s]
    assert first.bias[0] == 3 - 3 * F(11, 30) * int(np.sum(s))
    out = exact.apply(net, X)
    assert all(yy * v > 0 for yy, v in zip(y, out))            # Sgn(F) = y, no zeros
    assert np.array_equal(out, exact.apply_reference(net, X))
    assert set(t[y == -1]) == {F(19, 10), F(41, 10)}
    assert set(t[:n]) | set(t[2 * n:3 * n]) == {F(2), F(4)}
    clause_values = set(t[4 * n:])
    assert clause_values <= {F(2), F(5, 2), F(3), F(7, 2), F(4)} and len(clause_values) > 1
    assert info["interval"] == "c1"


def test_an_assignment_with_an_all_true_clause_cannot_be_completed():
    f, s = _planted(8, 8, 6)
    clause = f[0]
    t = s.copy()
    for v in clause:                             # make all six literals of clause 0 true
        t[abs(v) - 1] = 1 if v > 0 else -1
    assert not H.nae_satisfies(f, t)
    X, y = H.dataset(f, 8)
    values = H.layer_values(H.witness_first_layer(t), X)
    assert values[4 * 8] == F(9, 2)              # 3 + 6/4: beyond the negatives' 41/10
    bar = f.index(tuple(-v for v in clause))
    assert values[4 * 8 + bar] == F(3, 2)        # its complement: below 19/10
    assert H.interval_condition(values, y) is None
    with pytest.raises(ValueError, match="clause point 32 .* F1 = 9/2"):
        H.build_witness(f, 8, t)


def test_converse_exhaustively_on_small_formulas():
    """Every sign-pattern first layer: completable iff the pattern satisfies phi, for
    reversible phi (planted and unsatisfiable); for the non-reversible example none is, though
    phi is satisfiable -- the gadget needs reversibility."""
    cases = [(_planted(9, 6, 5)[0], 6), (H.unsatisfiable_formula(6), 6)]
    for f, n in cases:
        X, y = H.dataset(f, n)
        for s in H.all_assignments(n):
            completable = H.first_layer_completable(H.witness_first_layer(s), X, y)
            assert completable == H.satisfies(f, s) == H.nae_satisfies(f, s)
    f, n = H.non_reversible_example()
    X, y = H.dataset(f, n)
    assert H.is_satisfiable(f, n)
    assert not any(H.first_layer_completable(H.witness_first_layer(s), X, y)
                   for s in H.all_assignments(n))


def test_part_2_1_ratio_bound_is_exact():
    """Scaling one weight of a solution's layer: 1.09 still completes, 1.1 puts the
    coordinate's positive on another coordinate's negative (a tie), so it cannot."""
    f, s = _planted(10, 7, 6)
    X, y = H.dataset(f, 7)
    for d1, completable in [(F(109, 100), True), (F(11, 10), False), (F(12, 10), False)]:
        w = [3 * int(v) for v in s]
        w[0] *= d1
        assert H.first_layer_completable(H.first_layer(w, 3), X, y) == completable
    # a bias so small that the relu clips a positive merges it with its negative neighbour
    assert not H.first_layer_completable(H.first_layer([3 * int(v) for v in s], F(1, 2)), X, y)


def test_parameter_minimum_is_unique_for_n_at_least_4():
    for n in range(4, 11):
        best = H.min_param_architectures(n)
        assert best[2] == (2 * n + 5, [(2,)]) and best[3] == (n + 8, [(1, 2)])
        assert all(best[d][0] >= n + 10 for d in (4, 5, 6)) and best[4][0] == n + 10
        assert 2 * n + 5 > n + 8
    assert H.min_param_architectures(3)[2][0] == 11 == 3 + 8   # a tie: why n >= 4


# ---------------------------------------------------------------------------------------
# Lemma G.5 and G.4 in one dimension


def _random_net(rng, widths):
    """A random exact R -> widths -> 1 relu network whose first-layer units switch inside the
    data's range (kink c in [-2, 2]: weight a, bias -a c), so its labels are rarely constant."""
    layers, sizes = [], [1, *widths, 1]
    for i in range(len(sizes) - 1):
        W = [[F(int(rng.integers(-24, 25)), 8) or F(1) for _ in range(sizes[i + 1])]
             for _ in range(sizes[i])]
        b = [F(int(rng.integers(-16, 17)), 8) for _ in range(sizes[i + 1])]
        if i == 0:
            b = [-W[0][c] * b[c] for c in range(sizes[1])]
        layers.append(exact.layer(W, b, "relu" if i < len(sizes) - 2 else "identity"))
    return exact.make(layers)


def test_lemma_g5_interval_condition_and_classifier():
    t = [F(0), F(1, 4), F(1, 2), F(3, 4), F(1)]
    assert H.interval_condition(t, [-1, 1, 1, -1, -1]) == "c1"
    assert H.interval_condition(t, [1, -1, -1, 1, 1]) == "c2"
    assert H.interval_condition(t, [1, -1, 1, -1, 1]) is None
    assert H.interval_condition([F(1), F(1), F(2)], [1, -1, 1]) is None   # a tie
    with pytest.raises(ValueError, match="label -1"):
        H.interval_condition(t, [1] * 5)
    rng = np.random.default_rng(11)
    kinds = set()
    for _ in range(40):             # labels from a random interval: (c1), (c2), one-sided
        pts = sorted({F(int(v), 97) for v in rng.integers(0, 300, 9)})
        lo, hi = sorted(rng.choice(len(pts), 2, replace=False))
        inside = int(rng.choice([-1, 1]))
        y = [inside if lo <= i <= hi else -inside for i in range(len(pts))]
        kinds.add(H.interval_condition(pts, y))
        net = exact.make(H.interval_classifier(pts, y))
        assert exact.param_count(net) == 7
        assert all(v * yy > 0 for v, yy in zip(exact.apply(net, [[p] for p in pts]), y))
    assert kinds == {"c1", "c2"}
    with pytest.raises(ValueError, match="Lemma G.5"):
        H.interval_classifier(t, [1, -1, 1, -1, 1])


def test_lemma_g5_only_if_and_g4_on_random_networks():
    """Labels that a random width-2 depth-2 network gives meet the interval condition; labels
    of a width-1 network are threshold-separable (Lemma G.4 on the line)."""
    rng = np.random.default_rng(12)
    pts = [[F(i, 7)] for i in range(-14, 15)]
    checked, intervals = 0, 0
    for widths, condition in [((2,), H.interval_condition), ((1, 1), H.threshold_separable)]:
        for _ in range(300):
            out = exact.apply(_random_net(rng, widths), pts)
            keep = [i for i, v in enumerate(out) if v != 0]
            y = [1 if out[i] > 0 else -1 for i in keep]
            if len(set(y)) < 2:
                continue
            t = [pts[i][0] for i in keep]
            assert condition(t, y) not in (None, False)
            checked += 1
            intervals += widths == (2,) and not H.threshold_separable(t, y)
    assert checked >= 150 and intervals >= 8    # and some width-2 labels are true intervals


def test_the_papers_T_fails_off_the_unit_interval():
    """Lemma G.5's proof network with T = 8/(x_1 - b) on negatives 0, 10 and positives 5, 5.1:
    F(10) = 9/4 > 0. interval_classifier's T memorizes it; on the gadget's values the paper's T
    = 80 happens to work (F(4.1) = -15/8)."""
    def paper(t, a, b, lo, hi):
        return (max(t - (lo + a) / 2, 0) - 8 / (hi - b) * max(t - (hi + b) / 2, 0)
                - (a - lo) / 4)
    assert paper(F(10), F(5), F(51, 10), F(0), F(10)) == F(9, 4)
    assert paper(F(41, 10), F(2), F(4), F(19, 10), F(41, 10)) == F(-15, 8)
    pts, y = [F(0), F(5), F(51, 10), F(10)], [-1, 1, 1, -1]
    net = exact.make(H.interval_classifier(pts, y))
    assert all(v * yy > 0 for v, yy in zip(exact.apply(net, [[p] for p in pts]), y))
    _, out = H.interval_classifier([F(0), F(1, 2), F(1)], [-1, 1, -1])
    assert out.weight[1, 0] == -8 / (F(1) - F(1, 2))          # the paper's T on [0, 1]


# ---------------------------------------------------------------------------------------
# Lemma F.1


@pytest.mark.parametrize("n, c2", [(5, F(1, 3)), (7, F(5, 4)), (9, F(2)), (10, F(29, 12)),
                                   (3, F(7))])
def test_lemma_f1_block_points(n, c2):
    P = H.block_points(n, c2)
    size = math.ceil(c2)
    t = n // size
    assert P.shape == (2 ** t, n) and len(np.unique(P, axis=0)) == 2 ** t
    assert set(np.unique(P)) <= {0, 1}
    for a, b in itertools.combinations(range(len(P)), 2):
        d2 = int(((P[a] - P[b]) ** 2).sum())
        assert d2 == size * bin(a ^ b).count("1") and d2 >= c2
    if t >= 2:
        assert H.min_pairwise_sq_distance(P) == size
    # one coordinate short per block: some points are closer than c
    if size >= 2 and n // (size - 1) >= 1:
        Q = H.block_points(n, c2, block=size - 1)
        assert H.min_pairwise_sq_distance(Q) == size - 1 < c2


# ---------------------------------------------------------------------------------------
# Lemma F.2


def test_lemma_f2_holds_on_an_exact_sweep():
    worst = F(0)
    for k in range(1, 41):
        for en, dn in itertools.product(range(1, 16), repeat=2):
            eps, delta = F(en, 16), F(dn, 16)
            r = H.lemma_f2_check(k, eps, delta)
            assert r["holds"], (k, eps, delta, r)
            worst = max(worst, r["worst_ratio"])
    assert F(1, 2) < worst < 1
    tight = H.lemma_f2_check(2, F(1, 40), F(9, 20))
    assert tight["worst_ratio"] == F(10, 11) and tight["worst_x"] == 1


def test_lemma_f2_check_matches_the_direct_sums_and_breaks_past_the_bound():
    for k, eps, delta in [(37, F(1, 8), F(1, 5)), (90, F(3, 10), F(1, 10)), (5, F(1, 3), F(1, 4))]:
        x_max = H.lemma_f2_x_max(k, eps, delta)
        ratios = [F(lhs) / rhs for lhs, rhs in
                  (H.lemma_f2_sides(k, x, eps, delta) for x in range(1, x_max + 1))]
        r = H.lemma_f2_check(k, eps, delta)
        assert r["cases"] == x_max and r["worst_ratio"] == max(ratios, default=F(0))
    # x = k - 1 with k eps >= 1: 2^(k-1) (1 + 1) = 2^k, never below 2^k (1 - delta)
    assert not H.lemma_f2_check(40, F(1, 10), F(1, 10), x_max=39)["holds"]
    assert not H.lemma_f2_check(92, F(8, 40), F(21, 40), x_max=math.floor(92 * F(3, 5)))["holds"]
    assert H.lemma_f2_check(1, F(1, 4), F(1, 4)) == dict(holds=True, cases=0,
                                                         worst_ratio=F(0), worst_x=None)
    with pytest.raises(ValueError, match="delta must lie in"):
        H.lemma_f2_check(10, F(1, 4), F(1))


def test_the_proofs_binomial_tail_bound_is_false():
    assert not H.proof_tail_bound_holds(2, 1) and not H.proof_tail_bound_holds(4, 2)
    assert not any(H.proof_tail_bound_holds(n, 0) for n in range(1, 10))
    assert H.proof_tail_bound_holds(10, 1)


# ---------------------------------------------------------------------------------------
# Claims: hold at small scale, flip when broken


def _with_grid(claim, configs):
    return dataclasses.replace(claim, grids=dict(quick=configs, full=configs))


def _run(claim, **config):
    return run_claim(_with_grid(claim, [dict(config)]))


def test_gadget_witness_holds_and_flips():
    assert _run(V.GADGET_WITNESS, n=8, pairs=12, datasets=8).verdict == "HOLDS"
    res = _run(V.GADGET_WITNESS, n=8, pairs=12, assignment="random", datasets=16)
    assert res.verdict == "VIOLATED" and not res.counterexample["metrics"]["nae"]
    res = _run(V.GADGET_WITNESS, n=8, pairs=12, clauses="satisfied", datasets=16)
    metrics = res.counterexample["metrics"]
    assert res.verdict == "VIOLATED" and metrics["hypothesis"] and not metrics["built"]


def test_gadget_separation_holds_and_flips():
    assert _run(V.GADGET_SEPARATION, n=6, pairs=3, datasets=4).verdict == "HOLDS"
    res = _run(V.GADGET_SEPARATION, n=6, pairs=3, separation="1/29", datasets=4)
    assert res.verdict == "VIOLATED" and res.counterexample["metrics"]["min_is_one_thirtieth"]
    res = _run(V.GADGET_SEPARATION, n=6, pairs=3, beta="1/3", datasets=4)
    assert res.verdict == "VIOLATED" and not res.counterexample["metrics"]["in_cube"]


def test_gadget_converse_holds_non_vacuously_and_flips():
    from jaxmem.claims import run_config
    config = dict(n=8, pairs=12, datasets=16)
    outs = run_config(V.GADGET_CONVERSE, config, 0)
    assert outs["ok"].all()
    assert 0 < outs["general_completable"].sum() < 16 and outs["random_satisfies"].any()
    res = _run(V.GADGET_CONVERSE, n=8, pairs=12, clauses="satisfied", datasets=16)
    assert res.verdict == "VIOLATED" and not res.counterexample["metrics"]["iff_planted"]


def test_lemma_f1_claim_holds_and_flips():
    assert _run(V.LEMMA_F1, n=10, c2_min=0, c2_max=3, datasets=16).verdict == "HOLDS"
    res = _run(V.LEMMA_F1, n=10, c2_min=1, c2_max=3, block_offset=-1, datasets=4)
    assert res.verdict == "VIOLATED" and not res.counterexample["metrics"]["far_ok"]


def test_lemma_f2_claim_holds_and_flips():
    assert _run(V.LEMMA_F2, kmax=120, denominator=40, datasets=64).verdict == "HOLDS"
    res = _run(V.LEMMA_F2, kmax=120, denominator=40, x_bound="no_delta", datasets=64)
    assert res.verdict == "VIOLATED" and res.counterexample["metrics"]["worst_ratio"] >= 1


def test_gadget_dataset_rebuilds_the_hosts_instance():
    import jax
    key = jax.random.key(3)
    X, y = V.gadget_dataset(key, n=6, pairs=3)
    f, s, _, _ = V.instance(V.gadget_trial(key, n=6, pairs=3)["seed"], 6, 3)
    X2, y2 = H.dataset(f, 6)
    assert np.array_equal(X, X2) and np.array_equal(y, y2) and H.satisfies(f, s)


# ---------------------------------------------------------------------------------------
# Under the construction protocol: the data family "yu2024.gadget" and the construction
# "yu2024.hardness_witness"


@pytest.mark.slow
def test_gadget_draw_is_traceable_and_is_d_phi_of_a_planted_reversible_formula():
    import jax
    d, pairs = 8, 10
    n = 4 * d + 2 * pairs
    keys = jax.random.split(jax.random.key(4), 3)
    X, y = jax.jit(jax.vmap(lambda k: H.draw_gadget(k, n, d)))(keys)
    assert X.shape == (3, n, d) and y.shape == (3, n)
    # One dataset at a time, compiled once (op by op: ~2.5 s of small programs).
    clause_vectors = jax.jit(H.gadget_clause_vectors, static_argnums=(1, 2))
    for key, Xi, yi in zip(keys, np.asarray(X), np.asarray(y)):
        s, Q = (np.asarray(a) for a in clause_vectors(key, d, pairs))
        f = H.decode_dataset(Xi, yi)
        assert np.array_equal(H.clause_vectors(f, d), Q)
        assert len(set(f)) == 2 * pairs and H.is_complement_closed(f)
        assert H.nae_satisfies(f, s)                      # planted: s solves phi, NAE
        Xe, ye = H.dataset(f, d)                          # the nearest floats of D(phi)
        assert np.array_equal(Xi, np.vectorize(float)(Xe)) and np.array_equal(yi, ye)


@pytest.mark.slow
def test_gadget_draw_of_every_pair_is_the_unsatisfiable_formula():
    """planted=False draws from all 32 complementary pairs on six variables; all of them make
    the 64-clause formula that no assignment satisfies."""
    import jax
    # Compiled, as the sweep runs the family (op by op: ~2.8 s of small programs).
    draw = jax.jit(H.draw_gadget, static_argnums=(1, 2), static_argnames="planted")
    X, y = draw(jax.random.key(0), 24 + 64, 6, planted=False)
    f = H.decode_dataset(np.asarray(X), np.asarray(y))
    assert set(f) == set(H.unsatisfiable_formula(6)) and not H.is_satisfiable(f, 6)


@pytest.mark.slow
def test_gadget_sampling_and_unranking_are_exhaustive():
    import jax

    from jaxmem.constructions.yu2024_hardness import _sample_distinct, _unrank_variable_sets
    for population, m in [(7, 7), (50, 20), (3, 0)]:
        got = np.asarray(_sample_distinct(jax.random.key(m), population, m))
        assert len(set(got.tolist())) == m and (0 <= got).all() and (got < population).all()
    unrank = jax.jit(_unrank_variable_sets, static_argnums=1)      # one program, not op by op
    sets = np.asarray(unrank(jax.numpy.arange(math.comb(9, 6)), 9))
    assert sorted(map(tuple, sets)) == list(itertools.combinations(range(9), 6))
    assert H.gadget_pair_classes(9) == math.comb(9, 6) * 31
    assert H.gadget_pairs(4 * 9 + 6, 9) == 3 and H.gadget_pairs(12, 3) == 0
    for n, d, match in [(13, 3, "odd"), (8, 3, "negative"), (16 + 2, 4, "there are C")]:
        with pytest.raises(ValueError, match=match):
            H.gadget_pairs(n, d)


def test_witness_from_key_reads_exact_data_back_and_names_bad_rows():
    """(key, X, y) made by `dataset(...)` (exact Fractions) builds the same witness as
    build_witness with an NAE assignment drawn from the key; a moved point is not D(phi)."""
    import jax
    f, _ = _planted(11, 7, 5)
    X, y = H.dataset(f, 7)
    net, info = H.build_witness_from_key(jax.random.key(0), X, y)
    assert H.decode_dataset(X, y) == f
    assert info["valid"] and info["built"] and info["assignment_nae"]
    assert info["param_count"] == H.witness_param_count(7) == 15
    assert all(v * lab > 0 for v, lab in zip(exact.apply(net, X), y))
    row = H.witness_trial(jax.random.key(0), X, y)
    assert row["ok"] and row["memorizes_exact_data"] and row["f1_ok"]
    assert row["min_margin"] == pytest.approx(0.025)
    bad = X.copy()
    bad[3, 3] = F(1, 2)
    with pytest.raises(ValueError, match="row 3 is not D\\(phi\\)'s axis point 3"):
        H.decode_dataset(bad, y)
    bad = X.copy()
    bad[4 * 7, :] = H.BETA
    with pytest.raises(ValueError, match="row 28 is not a clause point"):
        H.decode_dataset(bad, y)
    none, info = H.build_witness_from_key(jax.random.key(0), bad, y)
    assert none is None and not info["valid"] and "row 28" in info["reason"]
    # A random s (solve=False) that is not NAE: the data are fine, no network.
    row = H.witness_trial(jax.random.key(2), X, y, solve=False)
    assert row["valid"] and row["ok"] == row["built"] == row["assignment_nae"]


@pytest.mark.slow
@pytest.mark.parametrize("first", ["jaxmem.data.families", "jaxmem.constructions"])
def test_the_gadget_family_is_registered_whichever_module_is_imported_first(first):
    """The family's registration does not depend on import order (jaxmem.data.families does
    not import the constructions; reading the registry loads them as a plugin)."""
    import subprocess
    import sys
    code = (f"import {first}\nfrom jaxmem.data import families\n"
            f"assert families.DATA_FAMILIES.origin('{H.GADGET_FAMILY}') == "
            f"'jaxmem.constructions.yu2024_hardness'")
    subprocess.run([sys.executable, "-c", code], check=True)
