"""Yu, Gao, Zhang, Miao (NeurIPS 2024): the NP-hardness gadget of Theorem 6.5(2) (App. G.4,
with Lemmas G.4 / G.5 of App. G.3) and the two counting lemmas F.1 / F.2 behind Theorem 6.1 and
Corollary 6.4 (App. F). Everything here is exact: Python ints and fractions.Fraction, with
networks as jaxmem.exact.ExactNetwork. Nothing is jit-compiled but the sweep's data draw
(`draw_gadget`, floats); the claims in verify/yu2024_hardness.py draw their random instances
with jax.random and run this on the host.

Checked against the paper text (MinerU extraction of the NeurIPS camera-ready PDF, GitHub
deep-diver/neurips2024, content/posters/sABwo1ZTFi/content_list.json, Definition 6.6 in
Section 6.2, App. F, App. G.3-G.4):

The formulas (Definition 6.6, App. G.4). A 6-SAT formula phi = AND_i phi_i, each clause an OR of
six literals x_s or NOT x_s. Here a clause is a tuple of six nonzero signed 1-based variable
indices (DIMACS style: +j is x_j, -j is NOT x_j) on six distinct variables -- App. G.4 says Q_i
has exactly six nonzero entries, so the variables are distinct and n >= 6. An assignment is
s in {-1, +1}^n, s_j = +1 meaning x_j true (the paper's "s in {-1,1}^n is a solution").
  * Definition 6.6 as printed: phi-bar is phi with every variable negated, and phi is
    reversible "if either both phi and phi-bar are satisfiable or both are not". Read
    literally this holds for EVERY formula: phi-bar(s) = phi(-s), so s satisfies phi iff -s
    satisfies phi-bar (`printed_definition_holds`; the tests check it on formulas that are
    not reversible in any useful sense). [CONFIRMED as printed; it cannot be what is meant.]
  * What the proof uses (App. G.4, Part 1.2): "because phi is a reversible problem, phi_i and
    phi_i-bar are both in phi", i.e. the clause set is closed under negating every literal
    (`is_complement_closed`). The property the proof needs from it is assignment-wise:
    phi(s) = phi(-s) for every s (`is_reversible`), so that a solution s has no clause with
    all six literals true (-s would violate it) -- s "not-all-equal" satisfies phi
    (`nae_satisfies`). Complement-closed => reversible => (satisfiable <=> NAE-satisfiable).
    [DERIVED; Megiddo 1988, the cited source of the definition, is not in the searchable
    corpus, so its exact wording is UNCONFIRMED.] Satisfiability of complement-closed CNF
    stays NP-hard (from any CNF psi: AND_i (C_i OR z) AND (C_i-bar OR NOT z) is closed and
    satisfiable iff psi is), so the theorem survives this reading.
  * Without reversibility the gadget's equivalence is false: `non_reversible_example` is a
    satisfiable 6-CNF (its only solution is all-true) with no NAE solution, so no first layer
    completes (`first_layer_completable`, Part Two of the proof, holds for any formula) and
    D(phi) has no n -> 1 -> 2 -> 1 memorizer although phi is satisfiable.

The data set D(phi) (App. G.4) in [0,1]^n, 4n + m points, beta = 1.1 * 1 / 3 = (11/30) 1:
    x_i = beta + e_i/3 (+1), beta + 1.1 e_i/3 (-1), beta - e_i/3 (+1), beta - 1.1 e_i/3 (-1),
    i = 1..n, then beta + Q_i/12 (+1) for each clause, Q_i in {-1,0,1}^n its signed indicator.
[CONFIRMED.] The coordinates are 7/10, 11/15, 1/30, 0 and 11/30 +- 1/12: beta - 1.1 e_i/3 has
a coordinate exactly 0, so 11/30 is the smallest beta that keeps D(phi) in the cube (beta =
1/3 leaves it). The paper says the uniform distribution on D(phi) is in D(n, 1/30)
[CONFIRMED]; exactly, the minimum opposite-label distance is 1/30 (beta +- e_i/3 against
beta +- 1.1 e_i/3), so 1/30 is the best separation constant.

The witness (App. G.4, Part 1.2), for a solution s: F1(x) = relu(3 s.(x - beta) + 3)
[CONFIRMED], then a width-2, depth-2 network on R (Lemma G.5): n -> 1 -> 2 -> 1, (n + 1) + 4 +
3 = n + 8 parameters (the standard count; the paper's printed formula para = sum n_i(n_{i+1}+1)
would give 2n + 7, a typo: docs/papers/yu2024.md §1). F1 = 4.1 or 1.9 on every negative and
2 <= F1 <= 4 on every positive [CONFIRMED, exactly: axis positives give {2, 4}, a clause with a
agreeing and 6 - a disagreeing literals gives 3 + (2a - 6)/4, in {2, 5/2, 3, 7/2, 4} for
1 <= a <= 5; a = 6 would give 9/2 and a = 0 gives 3/2, outside the negatives].

Lemma G.5 (App. G.3) [CONFIRMED statement]: a 1-D data set has a width-2 depth-2 memorizer iff a
closed interval holds all positives and no negative (c1) or all negatives and no positive (c2).
Its proof's network F = relu(t - (x_-1 + a)/2) - T relu(t - (x_1 + b)/2) - (a - x_-1)/4 with
T = 8/(x_1 - b) (I = [a, b], x_-1 / x_1 the nearest outside points) is stated for data in
[0, 1]; its last step bounds the first unit by 1 above b, true on [0, 1] only. Theorem 6.5 applies
the lemma to F1's values in [1.9, 4.1], where the first unit reaches 2.15 at 4.1; the paper's T =
80 still works there (F(4.1) = -15/8), but not on every range (negatives at 0 and 10, positives
at 5 and 51/10: F(10) = 9/4 > 0; see the tests). `interval_classifier` uses T = 8 max(1, span) /
(x_1 - b), span the data's range: the paper's T on [0, 1] data, correct on any range (176 on
the gadget).

Converse (App. G.4, Part Two). For ANY first layer relu(w.(x - beta) + b), the F1 values of
D(phi) meet Lemma G.5's condition only if no w_j is 0, 1.1 min|w_j| > max|w_j| (Part 2.1, strict
here: equality puts a negative on a positive's value) and Sgn(w) NAE-satisfies phi (Part 2.2
shows the all-true case; the all-false case is its mirror, a clause value below every negative).
`first_layer_completable` evaluates the condition exactly for a given layer; the ReLU does not
change it, since a relu that clips an axis positive also clips its (lower) negative neighbour to
the same value 0. This is what "as far as it is checkable" means here: every first layer tried,
not every network (the parameter facts of Part 1.1 reduce n + 8 parameters to this shape; see
`min_param_architectures`).

Under the construction protocol (jaxmem.constructions.protocol): the data family "yu2024.gadget"
(`draw_gadget`, jit-traceable: D(phi) of a random complement-closed formula on d variables,
n = 4d + 2 pairs points) and the host construction "yu2024.hardness_witness"
(`build_witness_from_key`: reads phi back from the points of D(phi), brute-forces an
NAE-satisfying s over the 2^d assignments, d <= 16, and builds `build_witness`).

Lemma F.1 (App. F) [CONFIRMED]: 2^t points, t = [n / ceil(c^2)], block j (coordinates
(j-1) ceil(c^2) + 1 .. j ceil(c^2)) all equal to i_j in {0, 1}, the remaining coordinates 0;
distinct points are >= sqrt(ceil(c^2)) >= c apart. Squared distances are integers.

Lemma F.2 (App. F) [CONFIRMED statement]: for eps, delta in (0, 1) and positive integers k, x with
x <= k(1 - 2 eps - delta): 2^x sum_{j=0}^{[k eps]} C(k - x, j) < 2^k (1 - delta). The statement
holds on every case the tests and claims enumerate, but the proof's first step,
sum_{j=0}^{m} C(n, j) <= m 2^n / n for m <= n/2, is false (m = 0 always; n = 2, m = 1: 3 > 2;
n = 4, m = 2: 11 > 8): `proof_tail_bound_holds`. The remaining steps are sound.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem import exact
from jaxmem.constructions.protocol import Option, boolean, construction
from jaxmem.data.validate import positive_int

CLAUSE_WIDTH = 6  # literals per clause: reversible 6-SAT (Definition 6.6)
BETA = Fraction(11, 30)  # beta = 1.1 * 1 / 3 (App. G.4)
AXIS_STEP = Fraction(1, 3)  # positives at beta +- e_i / 3
NEGATIVE_STEP = Fraction(11, 30)  # negatives at beta +- 1.1 e_i / 3
CLAUSE_STEP = Fraction(1, 12)  # clause points at beta + Q_i / 12
SEPARATION = Fraction(1, 30)  # D(phi) is in D(n, 1/30)
MAX_BRUTE_FORCE_VARIABLES = 16  # 2^16 assignments: brute force beyond this is refused

Clause = tuple[int, ...]
Formula = tuple[Clause, ...]


# ---------------------------------------------------------------------------------------
# Formulas


def check_formula(formula: Iterable[Sequence[int]], n: int) -> Formula:
    """The formula as a tuple of clauses, each sorted by variable; raises ValueError naming the
    first bad clause (not six literals, a literal 0 or beyond x_n, a repeated variable)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < CLAUSE_WIDTH:
        raise ValueError(
            f"n must be an integer >= {CLAUSE_WIDTH} (six distinct variables per clause); got {n!r}"
        )
    out = []
    for i, clause in enumerate(formula):
        lits = tuple(int(v) for v in clause)
        if len(lits) != CLAUSE_WIDTH:
            raise ValueError(
                f"clause {i} {lits} has {len(lits)} literals; 6-SAT needs {CLAUSE_WIDTH}"
            )
        for v in lits:
            if v == 0 or abs(v) > n:
                raise ValueError(f"clause {i} {lits}: literal {v} is not one of +-1..+-{n}")
        if len({abs(v) for v in lits}) != CLAUSE_WIDTH:
            raise ValueError(
                f"clause {i} {lits} repeats a variable; Q_i needs six distinct variables"
            )
        out.append(tuple(sorted(lits, key=abs)))
    return tuple(out)


def _check_assignment(s, n: int) -> np.ndarray:
    arr = np.asarray(s)
    if arr.shape != (n,):
        raise ValueError(f"assignment must have shape ({n},); got {arr.shape}")
    if not np.all((arr == 1) | (arr == -1)):
        bad = int(np.flatnonzero((arr != 1) & (arr != -1))[0])
        raise ValueError(f"assignment entries must be +1 / -1; entry {bad} is {arr[bad].item()!r}")
    return arr.astype(np.int64)


def negate(formula: Formula) -> Formula:
    """phi-bar: every literal negated (Definition 6.6)."""
    return tuple(tuple(-v for v in clause) for clause in formula)


def is_complement_closed(formula: Formula) -> bool:
    """Whether the clause set is closed under negating every literal: with phi_i, phi_i-bar is
    a clause too (what App. G.4, Part 1.2 calls reversible)."""
    clauses = {frozenset(c) for c in formula}
    return all(frozenset(-v for v in c) in clauses for c in clauses)


def _literals(formula: Formula) -> tuple[np.ndarray, np.ndarray]:
    lits = np.asarray(formula, dtype=np.int64).reshape(-1, CLAUSE_WIDTH)
    return np.abs(lits) - 1, np.sign(lits)


def _true_counts(formula: Formula, S: np.ndarray) -> np.ndarray:
    """(assignments, clauses): how many of each clause's literals each assignment makes true."""
    idx, sign = _literals(formula)
    return (S[:, idx] == sign[None]).sum(-1)


def satisfies(formula: Formula, s) -> bool:
    """Whether the assignment s in {-1,+1}^n satisfies every clause."""
    n = len(s)
    f = check_formula(formula, n)
    S = _check_assignment(s, n)[None]
    return bool(np.all(_true_counts(f, S) >= 1)) if f else True


def nae_satisfies(formula: Formula, s) -> bool:
    """Whether every clause has a true AND a false literal under s: s satisfies phi and
    phi-bar at once, the property the witness needs (App. G.4, Part 1.2)."""
    n = len(s)
    f = check_formula(formula, n)
    S = _check_assignment(s, n)[None]
    if not f:
        return True
    c = _true_counts(f, S)
    return bool(np.all((c >= 1) & (c <= CLAUSE_WIDTH - 1)))


def all_assignments(n: int) -> np.ndarray:
    """(2^n, n) int array of every s in {-1,+1}^n; row r has s_j = -1 where bit j of r is set,
    so row 0 is all-true."""
    if not 1 <= n <= MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(f"brute force needs 1 <= n <= {MAX_BRUTE_FORCE_VARIABLES}; got n = {n}")
    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    return (1 - 2 * bits).astype(np.int64)


def _satisfied_rows(formula: Formula, n: int, S: np.ndarray) -> np.ndarray:
    ok = np.ones(len(S), bool)
    idx, sign = _literals(formula)
    for i in range(len(formula)):  # one clause at a time: O(2^n) memory
        ok &= np.any(S[:, idx[i]] == sign[i], axis=1)
    return ok


def satisfying_assignments(formula: Formula, n: int) -> np.ndarray:
    """Every solution, by brute force over the 2^n assignments (n <= 16): (k, n) +-1 array."""
    f = check_formula(formula, n)
    S = all_assignments(n)
    return S[_satisfied_rows(f, n, S)]


def is_satisfiable(formula: Formula, n: int) -> bool:
    return len(satisfying_assignments(formula, n)) > 0


def is_reversible(formula: Formula, n: int) -> bool:
    """phi(s) = phi(-s) for every assignment s (brute force): the solution set is closed under
    complement, so every solution NAE-satisfies phi. The reading of Definition 6.6 that the
    proof of Theorem 6.5(2) needs (see the module docstring)."""
    f = check_formula(formula, n)
    S = all_assignments(n)
    return bool(np.array_equal(_satisfied_rows(f, n, S), _satisfied_rows(f, n, -S)))


def printed_definition_holds(formula: Formula, n: int) -> bool:
    """Definition 6.6 as printed: phi and phi-bar are both satisfiable or both not. True for
    every formula (phi-bar(s) = phi(-s)); kept to show that it is vacuous."""
    return is_satisfiable(formula, n) == is_satisfiable(negate(formula), n)


def formula_from_draw(s, variables, patterns, *, complement_closed: bool = True) -> Formula:
    """A formula from drawn arrays (the JAX-side draw of verify/yu2024_hardness.py, or NumPy).

    s: (n,) +-1, the planted assignment. variables: (clauses, 6) distinct 0-based variable
    indices per clause. patterns: (clauses,) integers in [0, 64): bit l says whether literal l
    agrees with s (is true under s). Literal l of clause i is (variables[i, l] + 1) with sign
    s_v if bit l is set, -s_v otherwise. With complement_closed, each clause's negation is
    added. Clauses are sorted by variable and deduplicated (first occurrence kept)."""
    s = np.asarray(s, dtype=np.int64)
    V = np.asarray(variables, dtype=np.int64)
    P = np.asarray(patterns, dtype=np.int64)
    if V.ndim != 2 or V.shape[1] != CLAUSE_WIDTH or P.shape != (V.shape[0],):
        raise ValueError(
            f"variables must be (clauses, {CLAUSE_WIDTH}) and patterns (clauses,); "
            f"got {V.shape} and {P.shape}"
        )
    bits = (P[:, None] >> np.arange(CLAUSE_WIDTH)[None, :]) & 1
    signs = np.where(bits == 1, s[V], -s[V])
    clauses = [tuple(int(v) for v in row) for row in signs * (V + 1)]
    if complement_closed:
        clauses = [c for clause in clauses for c in (clause, tuple(-v for v in clause))]
    f = check_formula(clauses, len(s))
    return tuple(dict.fromkeys(f))


NAE_PATTERNS = (1, 2**CLAUSE_WIDTH - 1)  # [lo, hi): not all literals false, not all true
SAT_PATTERNS = (1, 2**CLAUSE_WIDTH)  # [lo, hi): satisfied by s (all-true allowed)


def random_planted_formula(
    rng: np.random.Generator, n: int, pairs: int, *, reversible: bool = True
) -> tuple[Formula, np.ndarray]:
    """(phi, s): a random formula with a planted solution s. reversible=True: `pairs` clauses
    NAE under s, each with its negation (complement-closed, so reversible, s a solution);
    False: 2 pairs clauses merely satisfied by s (all-true clauses allowed), no negations."""
    if n < CLAUSE_WIDTH or pairs < 0:
        raise ValueError(f"need n >= {CLAUSE_WIDTH} and pairs >= 0; got n = {n}, pairs = {pairs}")
    s = rng.choice(np.array([-1, 1]), size=n)
    count = pairs if reversible else 2 * pairs
    variables = np.argsort(rng.random((count, n)), axis=1)[:, :CLAUSE_WIDTH]
    lo, hi = NAE_PATTERNS if reversible else SAT_PATTERNS
    patterns = rng.integers(lo, hi, size=count)
    return formula_from_draw(s, variables, patterns, complement_closed=reversible), s


def unsatisfiable_formula(n: int, variables: Sequence[int] = (1, 2, 3, 4, 5, 6)) -> Formula:
    """All 64 sign patterns on six variables: complement-closed (so reversible) and
    unsatisfiable, since each assignment violates the clause of its opposite pattern. A k-CNF
    clause removes 2^(n-k) of the 2^n assignments, so no unsatisfiable 6-CNF has fewer than 64
    clauses."""
    vs = [int(v) for v in variables]
    clauses = [
        tuple(sg * v for sg, v in zip(signs, vs))
        for signs in itertools.product((1, -1), repeat=CLAUSE_WIDTH)
    ]
    return check_formula(clauses, n)


def non_reversible_example() -> tuple[Formula, int]:
    """(phi, 6): the 63 clauses on x_1..x_6 other than the all-negative one. Its only solution
    is all-true (every other s violates the clause of pattern -s), under which the all-positive
    clause has six true literals: satisfiable, not NAE-satisfiable, not reversible."""
    clauses = [c for c in unsatisfiable_formula(CLAUSE_WIDTH) if any(v > 0 for v in c)]
    return tuple(clauses), CLAUSE_WIDTH


# ---------------------------------------------------------------------------------------
# The data set D(phi) (App. G.4)


def clause_vectors(formula: Formula, n: int) -> np.ndarray:
    """(m, n) int array: Q_i[j] = +1 if x_j occurs in clause i, -1 if NOT x_j does, else 0."""
    f = check_formula(formula, n)
    Q = np.zeros((len(f), n), dtype=np.int64)
    for i, clause in enumerate(f):
        for v in clause:
            Q[i, abs(v) - 1] = 1 if v > 0 else -1
    return Q


def _as_fraction(name: str, v) -> Fraction:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, Fraction, str)):
        raise TypeError(
            f"{name} must be an int, a Fraction or a string such as '11/30'; got "
            f"{type(v).__name__} {v!r} (floats are not exact)"
        )
    return Fraction(v) if not isinstance(v, np.integer) else Fraction(int(v))


def dataset(formula: Formula, n: int, beta=BETA) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): D(phi) as an object array (4n + m, n) of Fractions and int labels (4n + m,), in
    the paper's order: beta + e_i/3 (+1), beta + 1.1 e_i/3 (-1), beta - e_i/3 (+1),
    beta - 1.1 e_i/3 (-1) for i = 1..n, then beta + Q_i/12 (+1) per clause. beta is a scalar
    (every coordinate; the paper's 1.1/3 by default)."""
    beta = _as_fraction("beta", beta)
    Q = clause_vectors(formula, n)
    X = np.full((4 * n + len(Q), n), beta, dtype=object)  # Fractions are immutable: shared
    diag = np.arange(n)
    for block, value in enumerate(
        (beta + AXIS_STEP, beta + NEGATIVE_STEP, beta - AXIS_STEP, beta - NEGATIVE_STEP)
    ):
        X[block * n + diag, diag] = value
    clause_rows = X[4 * n :]
    clause_rows[Q == 1] = beta + CLAUSE_STEP
    clause_rows[Q == -1] = beta - CLAUSE_STEP
    y = np.concatenate([np.tile(np.repeat([1, -1], n), 2), np.ones(len(Q), np.int64)])
    return X, y.astype(np.int64)


def in_unit_cube(X) -> bool:
    """Whether every coordinate lies in [0, 1] (exactly)."""
    return all(0 <= v <= 1 for v in np.asarray(X, dtype=object).ravel())


def min_opposite_sq_distance(X, y) -> tuple[Fraction, tuple[int, int]]:
    """The exact minimum of ||x_i - x_j||^2 over pairs of opposite labels, and a pair (i
    positive, j negative) attaining it. The separation bound of Definition 3.1 is its root."""
    y = np.asarray(y)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == -1)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("both labels are needed for an opposite-label distance")
    Z, den = exact.common_denominator(X)
    D = ((Z[pos][:, None, :] - Z[neg][None, :, :]) ** 2).sum(-1)  # Python ints: exact
    flat = min(range(D.size), key=lambda k: D.flat[k])
    i, j = divmod(flat, len(neg))
    return Fraction(int(D.flat[flat]), den * den), (int(pos[i]), int(neg[j]))


# ---------------------------------------------------------------------------------------
# First layers, Lemma G.5, the witness


def first_layer(w, b, beta=BETA) -> exact.ExactLayer:
    """relu(w . (x - beta 1) + b) as one exact unit: weight w (n, 1), bias b - beta sum(w)."""
    beta = _as_fraction("beta", beta)
    w = [_as_fraction(f"w[{j}]", v) for j, v in enumerate(w)]
    b = _as_fraction("b", b)
    weight = np.empty((len(w), 1), dtype=object)
    weight[:, 0] = w
    return exact.layer(weight, [b - beta * sum(w)], "relu", name="first layer")


def witness_first_layer(s, beta=BETA) -> exact.ExactLayer:
    """F1(x) = relu(3 s . (x - beta) + 3) (App. G.4, Part 1.2)."""
    s = _check_assignment(s, len(s))
    return first_layer([3 * int(v) for v in s], 3, beta)


def layer_values(layer: exact.ExactLayer, X) -> np.ndarray:
    """A one-unit relu layer's exact values on the rows of X: (rows,) object array of
    Fractions. Computed on X times its common denominator (Python-int dot products), which is
    cheaper than jaxmem.exact.apply's per-entry Fractions; the witness's full network is still
    evaluated by exact.apply, independently."""
    if layer.n_out != 1 or layer.activation != "relu" or layer.mask is not None:
        raise ValueError("layer_values takes one unmasked relu unit")
    Z, den = exact.common_denominator(X)
    w = [Fraction(v) for v in layer.weight[:, 0]]
    wden = math.lcm(*(v.denominator for v in w))
    wint = np.array([v.numerator * (wden // v.denominator) for v in w], dtype=object)
    pre = [Fraction(int(num), den * wden) + Fraction(layer.bias[0]) for num in Z.dot(wint)]
    out = np.empty(len(pre), dtype=object)
    out[:] = [v if v > 0 else Fraction(0) for v in pre]
    return out


def _checked_1d(t, y) -> tuple[list, np.ndarray]:
    t = [Fraction(v) for v in np.asarray(t, dtype=object).ravel()]
    y = np.asarray(y)
    if y.shape != (len(t),):
        raise ValueError(f"t has {len(t)} values but y has shape {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        bad = int(np.flatnonzero((y != 1) & (y != -1))[0])
        raise ValueError(f"labels must be +1 / -1; y[{bad}] = {y[bad].item()!r}")
    for label in (1, -1):
        if not np.any(y == label):
            raise ValueError(f"no point has label {label:+d}: both classes are needed")
    return t, y


def interval_condition(t, y) -> str | None:
    """Lemma G.5's condition on 1-D data: "c1" if a closed interval holds every positive and no
    negative, "c2" if one holds every negative and no positive, None if neither. (The smallest
    candidate interval is the hull of the class, so (c1) iff no negative lies in
    [min positive, max positive].) A positive and a negative on one value fail both."""
    t, y = _checked_1d(t, y)
    for kind, inside in (("c1", 1), ("c2", -1)):
        ins = [v for v, lab in zip(t, y) if lab == inside]
        lo, hi = min(ins), max(ins)
        if not any(lo <= v <= hi for v, lab in zip(t, y) if lab != inside):
            return kind
    return None


def threshold_separable(t, y) -> bool:
    """Whether 1-D data is separated by one threshold (every positive above every negative or
    below every one): the 1-D case of linear separability (Lemma G.4)."""
    t, y = _checked_1d(t, y)
    pos = [v for v, lab in zip(t, y) if lab == 1]
    neg = [v for v, lab in zip(t, y) if lab == -1]
    return min(pos) > max(neg) or max(pos) < min(neg)


def interval_classifier(t, y) -> tuple[exact.ExactLayer, exact.ExactLayer]:
    """Lemma G.5, Part 1: a width-2, depth-2 network R -> 2 -> 1 (7 parameters) with
    Sgn(F(t_i)) = y_i, built as in the proof. For (c1), I = [a, b] the hull of the positives,
    x_-1 the largest negative below a and x_1 the smallest above b:
        F(t) = relu(t - (x_-1 + a)/2) - T relu(t - (x_1 + b)/2) - (a - x_-1)/4.
    Inside I the first unit is >= (a - x_-1)/2 and the second 0: F >= (a - x_-1)/4 > 0. Below,
    both units are 0: F = -(a - x_-1)/4. Above, the second unit is >= (x_1 - b)/2, and the first
    is below span (the data's range): with T = 8 max(1, span)/(x_1 - b), F < span -
    4 max(1, span) < 0. The paper takes T = 8/(x_1 - b): the same on [0, 1] (span <= 1, the
    lemma's domain), too small on some wider ranges (module docstring). A side with no negative
    (the linearly separable cases of the proof) gets a virtual outside point at distance 1.
    (c2) is (c1) with the labels and the output negated. Raises ValueError if neither holds."""
    kind = interval_condition(t, y)
    t, y = _checked_1d(t, y)
    if kind is None:
        raise ValueError(
            "no closed interval holds one class and none of the other (Lemma "
            "G.5): no width-2 depth-2 network memorizes these values"
        )
    inside = 1 if kind == "c1" else -1
    ins = [v for v, lab in zip(t, y) if lab == inside]
    outs = [v for v, lab in zip(t, y) if lab != inside]
    a, b = min(ins), max(ins)
    below, above = [v for v in outs if v < a], [v for v in outs if v > b]
    x_lo = max(below) if below else a - 1
    x_hi = min(above) if above else b + 1
    span = max(max(t), x_hi) - min(min(t), x_lo)
    T = 8 * max(Fraction(1), span) / (x_hi - b)
    t0 = (a - x_lo) / 4
    hidden = exact.layer(
        [[Fraction(1), Fraction(1)]],
        [-(x_lo + a) / 2, -(x_hi + b) / 2],
        "relu",
        name="interval hidden",
    )
    out = exact.layer(
        [[Fraction(inside)], [-inside * T]], [-inside * t0], "identity", name="interval output"
    )
    return hidden, out


def first_layer_completable(layer: exact.ExactLayer, X, y) -> bool:
    """Whether some width-2 depth-2 network on top of this width-1 first layer memorizes
    (X, y): by Lemma G.5, iff the layer's values meet the interval condition."""
    return interval_condition(layer_values(layer, X), y) is not None


def build_witness(formula: Formula, n: int, s, beta=BETA) -> tuple[exact.ExactNetwork, dict]:
    """The n -> 1 -> 2 -> 1 network of App. G.4, Part 1.2 for the assignment s:
    F1 = relu(3 s.(x - beta) + 3), then `interval_classifier` on F1's values over D(phi).

    Returns (net, info); info: F1 (values on D(phi)), interval ("c1"/"c2"), X, y. Raises
    ValueError naming a clause point whose F1 value falls among the negatives when s does not
    NAE-satisfy phi (then no network with this first layer memorizes D(phi))."""
    f = check_formula(formula, n)
    s = _check_assignment(s, n)
    X, y = dataset(f, n, beta)
    F1 = witness_first_layer(s, beta)
    t = layer_values(F1, X)
    kind = interval_condition(t, y)
    if kind is None:
        bad = [4 * n + i for i, c in enumerate(f) if not nae_satisfies((c,), s)]
        where = (
            f"clause point {bad[0]} (clause {bad[0] - 4 * n}) has F1 = {t[bad[0]]}"
            if bad
            else "the axis points overlap"
        )
        raise ValueError(
            f"the first layer of s cannot be completed: {where}, outside "
            f"(1.9, 4.1) where the negatives are; s does not NAE-satisfy phi"
        )
    hidden, out = interval_classifier(t, y)
    net = exact.make([F1, hidden, out])
    return net, dict(F1=t, interval=kind, X=X, y=y)


# ---------------------------------------------------------------------------------------
# Under the construction protocol: the data family "yu2024.gadget" and the construction
# "yu2024.hardness_witness"

GADGET_FAMILY = "yu2024.gadget"
# Complementary clause pairs per set of six variables: a clause is a sign pattern relative to
# s, p in [0, 64) (bit l: literal l true under s), its complement 63 - p; the pair is named by
# its p < 32. Planted: p = 0 (all false under s, complement all true) is left out, so s
# NAE-satisfies every clause.
PATTERN_PAIRS = {True: 31, False: 32}
_COORDINATE_TOLERANCE = 1 / 120  # the coordinates of D(phi) are >= 1/30 apart (module doc)


def gadget_pair_classes(d: int, planted: bool = True) -> int:
    """How many distinct complementary clause pairs the family draws from: C(d, 6) variable
    sets times 31 (planted: NAE under s) or 32 (any) patterns."""
    return math.comb(d, CLAUSE_WIDTH) * PATTERN_PAIRS[bool(planted)]


def gadget_pairs(n: int, d: int, planted: bool = True) -> int:
    """The number of complementary clause pairs of an (n, d) grid point of "yu2024.gadget":
    D(phi) has 4 points per variable and one per clause, so n = 4d + 2 pairs. ValueError
    naming the problem when no formula of distinct clause pairs has n points."""
    extra = positive_int("n", n) - 4 * positive_int("d", d)
    if extra < 0 or extra % 2:
        raise ValueError(
            f"data {GADGET_FAMILY} has n = 4d + 2 pairs points (4 per variable, "
            f"2 per complementary clause pair); n = {n}, d = {d} leaves "
            f"{extra} clause points, which is {'negative' if extra < 0 else 'odd'}"
        )
    pairs, available = extra // 2, gadget_pair_classes(d, planted)
    if pairs > available:
        raise ValueError(
            f"data {GADGET_FAMILY}: n = {n} needs {pairs} distinct clause pairs on "
            f"d = {d} variables; there are C(d, 6) x "
            f"{PATTERN_PAIRS[bool(planted)]} = {available} (a clause has six "
            f"distinct variables)"
        )
    if available >= 2**31:
        raise ValueError(
            f"data {GADGET_FAMILY}: d = {d} has {available} clause pairs, beyond "
            f"the draw's int32 indices (d <= 60 or so)"
        )
    return pairs


def _sample_distinct(key, population: int, m: int):
    """m distinct integers of [0, population), uniformly (Floyd's algorithm: fixed shapes, m
    steps of an m-entry membership test), in random order."""
    if m == 0:
        return jnp.zeros((0,), jnp.int32)

    def step(i, chosen):
        j = population - m + i
        t = jax.random.randint(jax.random.fold_in(key, i), (), 0, j + 1, dtype=jnp.int32)
        return chosen.at[i].set(jnp.where(jnp.any(chosen == t), j, t))

    chosen = jax.lax.fori_loop(0, m, step, jnp.full((m,), -1, jnp.int32))
    return jax.random.permutation(jax.random.fold_in(key, m), chosen)


def _unrank_variable_sets(ranks, d: int):
    """The six-variable sets of the given ranks in [0, C(d, 6)), as sorted 0-based indices
    (ranks.shape + (6,)): the combinatorial number system, rank = sum_k C(c_k, k) with
    c_1 < ... < c_6, each c_k the largest c with C(c, k) <= the remaining rank."""
    table = jnp.asarray(
        [[math.comb(c, k) for k in range(CLAUSE_WIDTH + 1)] for c in range(d)], jnp.int32
    )  # (d, 7)
    r, out = ranks, []
    for k in range(CLAUSE_WIDTH, 0, -1):
        c = jnp.sum(table[None, :, k] <= r[:, None], axis=1) - 1
        r = r - table[c, k]
        out.append(c)
    return jnp.stack(out[::-1], axis=1)


def gadget_clause_vectors(key, d: int, pairs: int, planted: bool = True):
    """(s, Q): a random assignment s in {-1, +1}^d and the clause vectors Q (2 pairs, d) of
    `pairs` distinct complementary clause pairs, each clause followed by its negation, so the
    formula is complement-closed (reversible). planted: every clause is NAE under s (s
    solves phi); otherwise the pairs are drawn from all of them (phi may be unsatisfiable:
    with all 32 pairs on six variables it is, `unsatisfiable_formula`). jit-traceable."""
    k_s, k_c = jax.random.split(key)
    s = jnp.where(jax.random.bernoulli(k_s, 0.5, (d,)), 1, -1).astype(jnp.int32)
    per_set = PATTERN_PAIRS[bool(planted)]
    index = _sample_distinct(k_c, gadget_pair_classes(d, planted), pairs)
    variables = _unrank_variable_sets(index // per_set, d)  # (pairs, 6)
    pattern = index % per_set + (1 if planted else 0)  # in [lo, 32)
    agree = (pattern[:, None] >> jnp.arange(CLAUSE_WIDTH)) & 1
    signs = jnp.where(agree == 1, s[variables], -s[variables])
    Q = jnp.zeros((pairs, d), jnp.int32).at[jnp.arange(pairs)[:, None], variables].set(signs)
    return s, jnp.stack([Q, -Q], axis=1).reshape(2 * pairs, d)


def _axis_values():
    """The four axis offsets and labels of D(phi), in the paper's order (`dataset`)."""
    return ((AXIS_STEP, 1), (NEGATIVE_STEP, -1), (-AXIS_STEP, 1), (-NEGATIVE_STEP, -1))


def draw_gadget(
    key, n: int, d: int, *, labels: str = "sign", dtype=jnp.float64, planted: bool = True
):
    """D(phi) (App. G.4) of a random complement-closed formula phi on d variables with
    (n - 4d) / 2 clause pairs (`gadget_clause_vectors`), as floats (each coordinate the nearest
    float of its exact value) in `dataset`'s order: 4d axis points, then the clause points,
    each clause followed by its negation. Labels +-1 (the family's own; `labels` is ignored).
    jit- and vmap-traceable: n, d, planted fix the shapes."""
    pairs = gadget_pairs(n, d, planted)
    _, Q = gadget_clause_vectors(key, d, pairs, planted)
    beta = float(BETA)
    diagonal = jnp.eye(d, dtype=bool)
    rows, labels_ = [], []
    for step, label in _axis_values():
        rows.append(jnp.where(diagonal, float(BETA + step), beta).astype(dtype))
        labels_.append(jnp.full((d,), label, dtype))
    up, down = float(BETA + CLAUSE_STEP), float(BETA - CLAUSE_STEP)
    rows.append(jnp.where(Q == 1, up, jnp.where(Q == -1, down, beta)).astype(dtype))
    labels_.append(jnp.ones((2 * pairs,), dtype))
    return jnp.concatenate(rows), jnp.concatenate(labels_)


def _check_planted(value, config):
    boolean("planted")(value, config)
    gadget_pairs(config.get("n"), config.get("d"), value)


def register_data_family():
    """Registers `draw_gadget` as the data family "yu2024.gadget" (at import; idempotent: the
    origin is this module either way)."""
    from jaxmem.data import families

    families.data_family(
        GADGET_FAMILY,
        labels=("sign",),
        planted=Option(
            True,
            _check_planted,
            doc=(
                "true: a planted NAE solution; false: any complementary pairs (maybe unsatisfiable)"
            ),
        ),
        description="D(phi) of Yu et al. 2024 App. G.4 for a random complement-closed 6-CNF on "
        "d variables; n = 4d + 2 (clause pairs)",
    )(draw_gadget)


register_data_family()


def decode_dataset(X, y, beta=BETA) -> Formula:
    """The formula phi of a data set D(phi) in `dataset`'s order (4d axis points, then one point
    per clause), read back from its points: Q_i = 12 (x - beta), rounded. Float coordinates
    are accepted within 1/120 of their exact values (distinct values are >= 1/30 apart).
    ValueError naming the first row that is not D(phi)'s."""
    beta = _as_fraction("beta", beta)
    Xf = np.asarray(X, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    if Xf.ndim != 2 or yv.shape != (len(Xf),):
        raise ValueError(f"X must be (points, d) and y (points,); got {Xf.shape} and {yv.shape}")
    N, d = Xf.shape
    if N < 4 * d:
        raise ValueError(f"D(phi) on d = {d} variables has 4d + m >= {4 * d} points; got {N}")
    expected = np.concatenate([float(beta) + np.eye(d) * float(step) for step, _ in _axis_values()])
    labels = np.concatenate([np.full(d, label) for _, label in _axis_values()])
    off = np.abs(Xf[: 4 * d] - expected).max(axis=1) > _COORDINATE_TOLERANCE
    off |= yv[: 4 * d] != labels
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"row {i} is not D(phi)'s axis point {i} (rows 0..4d-1: beta + e_i/3, "
            f"beta + 1.1 e_i/3, beta - e_i/3, beta - 1.1 e_i/3, labels +1, -1, "
            f"+1, -1; beta = {beta})"
        )
    scaled = (Xf[4 * d :] - float(beta)) / float(CLAUSE_STEP)
    Q = np.rint(scaled)
    bad = (
        (np.abs(scaled - Q).max(axis=1, initial=0) > _COORDINATE_TOLERANCE / float(CLAUSE_STEP))
        | (np.abs(Q).max(axis=1, initial=0) > 1)
        | ((Q != 0).sum(axis=1) != CLAUSE_WIDTH)
        | (yv[4 * d :] != 1)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"row {4 * d + i} is not a clause point beta + Q/12 with six entries +-1 and label +1"
        )
    clauses = [tuple(int(q) * (j + 1) for j, q in enumerate(row) if q) for row in Q]
    return check_formula(clauses, d) if clauses else ()


def _nae_assignments(formula: Formula, d: int) -> np.ndarray:
    """Every s in {-1, +1}^d that NAE-satisfies phi (brute force, d <= 16): (k, d)."""
    S = all_assignments(d)
    ok = np.ones(len(S), bool)
    if formula:
        idx, sign = _literals(formula)
        for i in range(len(formula)):
            agree = S[:, idx[i]] == sign[i]
            ok &= agree.any(axis=1) & ~agree.all(axis=1)
    return S[ok]


def _check_solve(value, config):
    boolean("solve")(value, config)
    d = config.get("d")
    if value and isinstance(d, int) and d > MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(
            f"option solve brute-forces the 2^d assignments, d <= "
            f"{MAX_BRUTE_FORCE_VARIABLES}; got d = {d}"
        )


def witness_param_count(d: int) -> int:
    """App. G.4, Part 1.1: the n -> 1 -> 2 -> 1 network has n + 8 parameters (n = d here)."""
    return architecture_param_count(d, (1, 2))


def _witness_info(d: int, **values) -> dict:
    """The witness's info with every key present (records of one sweep share their fields)."""
    info = dict(
        valid=False,
        decoded=False,
        built=False,
        param_count=0,
        nonzero_param_count=0,
        paper_param_count=witness_param_count(d),
        clauses=0,
        complement_closed=False,
        satisfiable=False,
        nae_solutions=0,
        assignment_nae=False,
        reason="",
    )
    info.update(values)
    return info


_WITNESS_RECORD = (
    "valid",
    "decoded",
    "built",
    "clauses",
    "complement_closed",
    "satisfiable",
    "nae_solutions",
    "assignment_nae",
    "param_count",
    "nonzero_param_count",
    "paper_param_count",
)


def witness_trial(key, X, y, *, solve: bool = True) -> dict:
    """The sweep's measurement of one data set (the construction's own `trial`: the witness
    classifies, Sgn(F(x_i)) = y_i, which the generic host measurement's F(x_i) = y_i is not).
    ok: valid, built, every sign right, exactly (`exact.apply` on the points as given, floats at
    their binary values), and the paper's n + 8 parameters. Also memorizes_exact_data (the
    same on D(phi)'s exact rational points), min_margin (min_i y_i F(x_i)), f1_ok (F1 in
    {19/10, 41/10} on the negatives and in [2, 4] on the positives), and the info's counts."""
    net, info = build_witness_from_key(key, X, y, solve=solve)
    out = {name: info[name] for name in _WITNESS_RECORD}
    out.update(
        memorizes=False,
        memorizes_exact_data=False,
        min_margin=math.nan,
        f1_ok=False,
        depth=0,
        hidden_units=0,
    )
    if net is not None:
        labels = np.asarray(y, dtype=np.float64)
        F = exact.apply(net, X, allow_float=True)
        margins = [lab * v for lab, v in zip(labels.astype(int).tolist(), F)]
        exact_F = exact.apply(net, info["X"])
        F1, ey = info["F1"], info["y"]
        out.update(
            memorizes=all(v > 0 for v in margins),
            memorizes_exact_data=all(lab * v > 0 for lab, v in zip(ey.tolist(), exact_F)),
            min_margin=float(min(margins)),
            f1_ok=(
                set(F1[ey == -1]) <= {Fraction(19, 10), Fraction(41, 10)}
                and all(2 <= v <= 4 for v in F1[ey == 1])
            ),
            depth=len(net.layers),
            hidden_units=sum(lay.n_out for lay in net.layers[:-1]),
        )
    out["ok"] = bool(
        out["valid"]
        and out["built"]
        and out["memorizes"]
        and out["param_count"] == out["paper_param_count"]
    )
    out["undecided"] = False  # exact arithmetic decides every point
    return out


@construction(
    "yu2024.hardness_witness",
    citation="Yu et al. 2024, Thm 6.5(2) (App. G.4): the "
    "n -> 1 -> 2 -> 1 network with n + 8 parameters memorizes D(phi) for satisfiable "
    "reversible phi",
    task="binary",
    host=True,
    trial=witness_trial,
    example=dict(data=GADGET_FAMILY, axes=dict(n=[24, 30], d=6)),
    solve=Option(True, _check_solve, doc="false: a random assignment (breaks it)"),
)
def build_witness_from_key(key, X, y, *, solve: bool = True):
    """Theorem 6.5(2)'s witness under the construction protocol, from the data alone: phi is
    read back from the points of D(phi) (`decode_dataset`; floats from "yu2024.gadget" or
    `dataset`'s exact Fractions), an assignment s that NAE-satisfies phi is found by brute
    force over the 2^d assignments (d <= 16; one of them drawn from `key`; for a
    complement-closed phi these are its solutions), and `build_witness(phi, d, s)` is built.
    solve=False takes a uniformly random s from `key` instead (a deliberately wrong option: the
    witness then exists only if that s happens to be NAE).

    Returns (net or None, info); info: valid (the hypotheses: the data are D(phi) of a formula
    on d >= 6 variables that some s NAE-satisfies), decoded, built (a network exists: False
    when solve=False drew a non-NAE s), clauses (m), complement_closed, satisfiable,
    nae_solutions (how many s), assignment_nae (the s used), param_count,
    nonzero_param_count, paper_param_count (n + 8, `witness_param_count`), reason (why not
    valid; "" when valid), and, when built, F1, interval, X, y of `build_witness`.
    """
    if not isinstance(solve, bool):
        raise ValueError(f"option solve must be true or false; got {solve!r}")
    d = np.shape(X)[1] if np.ndim(X) == 2 else 0
    try:
        formula = decode_dataset(X, y)
    except ValueError as err:
        return None, _witness_info(d, reason=f"not a gadget data set D(phi): {err}")
    if d < CLAUSE_WIDTH:
        return None, _witness_info(
            d,
            decoded=True,
            reason=f"the gadget needs n >= {CLAUSE_WIDTH} variables (six per clause); d = {d}",
        )
    if d > MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(
            f"finding s brute-forces the 2^d assignments, d <= "
            f"{MAX_BRUTE_FORCE_VARIABLES}; got d = {d}"
        )
    nae = _nae_assignments(formula, d)
    known = dict(
        decoded=True,
        valid=len(nae) > 0,
        clauses=len(formula),
        complement_closed=is_complement_closed(formula),
        satisfiable=is_satisfiable(formula, d),
        nae_solutions=len(nae),
    )
    if solve:
        if len(nae) == 0:
            return None, _witness_info(
                d,
                **known,
                reason="no assignment NAE-satisfies phi "
                "(for complement-closed phi: phi is unsatisfiable)",
            )
        s = nae[int(jax.random.randint(key, (), 0, len(nae)))]
    else:
        s = np.where(np.asarray(jax.random.bernoulli(key, 0.5, (d,))), 1, -1)
    known["assignment_nae"] = nae_satisfies(formula, s)
    try:
        net, built = build_witness(formula, d, s)
    except ValueError as err:  # s is not NAE: no network with its first layer
        return None, _witness_info(d, **known, reason=str(err))
    return net, _witness_info(
        d,
        **known,
        built=True,
        param_count=exact.param_count(net),
        nonzero_param_count=exact.nonzero_param_count(net),
        **built,
    )


def architecture_param_count(n: int, hidden: Sequence[int]) -> int:
    """Weights plus biases of n -> hidden[0] -> ... -> 1 (sum of n_out (n_in + 1))."""
    sizes = [n, *hidden, 1]
    return sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))


def min_param_architectures(n: int, max_depth: int = 6, max_width: int = 3) -> dict:
    """depth -> (fewest parameters, hidden widths attaining it) over networks of width >= 2
    (some hidden layer of >= 2 units; depth = hidden layers + 1). App. G.4, Part 1.1: depth 2
    needs >= 2n + 5, depth 3 >= n + 8 (n -> 1 -> 2 -> 1 only), depth >= 4 >= n + 10. The count
    grows strictly with every width, so the minima have widths <= 2 and max_width = 3 is a
    complete search for each depth listed."""
    best = {}
    for depth in range(2, max_depth + 1):
        counts = {}
        for hidden in itertools.product(range(1, max_width + 1), repeat=depth - 1):
            if max(hidden) >= 2:
                counts[hidden] = architecture_param_count(n, hidden)
        low = min(counts.values())
        best[depth] = (low, sorted(h for h, c in counts.items() if c == low))
    return best


# ---------------------------------------------------------------------------------------
# Lemma F.1: hypercube-block points


def block_points(n: int, c_squared, block: int | None = None) -> np.ndarray:
    """Lemma F.1's 2^t points in {0,1}^n, t = [n / ceil(c^2)]: block j (coordinates
    j*ceil(c^2) .. (j+1)*ceil(c^2) - 1, 0-based) all equal to bit j of the point's index, the
    other coordinates 0. `block` overrides ceil(c^2) (to break the lemma on purpose)."""
    c2 = _as_fraction("c_squared", c_squared)
    if c2 <= 0:
        raise ValueError(f"c_squared must be positive; got {c2}")
    size = math.ceil(c2) if block is None else int(block)
    if size < 1:
        raise ValueError(f"the block size must be >= 1; got {size}")
    t = n // size
    if t > 20:
        raise ValueError(f"2^{t} points are too many to list (t = [n / block] <= 20)")
    bits = (np.arange(2**t)[:, None] >> np.arange(t)[None, :]) & 1  # (2^t, t)
    P = np.zeros((2**t, n), dtype=np.int64)
    P[:, : t * size] = np.repeat(bits, size, axis=1)
    return P


def min_pairwise_sq_distance(P) -> int | None:
    """The smallest squared distance between two distinct rows of an integer array (exact:
    |a|^2 + |b|^2 - 2 a.b in int64); None for fewer than two rows."""
    P = np.asarray(P, dtype=np.int64)
    if len(P) < 2:
        return None
    sq = (P * P).sum(1)
    D = sq[:, None] + sq[None, :] - 2 * (P @ P.T)
    D[np.diag_indices(len(P))] = np.iinfo(np.int64).max
    return int(D.min())


# ---------------------------------------------------------------------------------------
# Lemma F.2


def _fractions_in_unit_interval(eps, delta) -> tuple[Fraction, Fraction]:
    eps, delta = _as_fraction("eps", eps), _as_fraction("delta", delta)
    for name, v in (("eps", eps), ("delta", delta)):
        if not 0 < v < 1:
            raise ValueError(f"{name} must lie in (0, 1); got {v}")
    return eps, delta


def lemma_f2_x_max(k: int, eps, delta) -> int:
    """The largest integer x with x <= k (1 - 2 eps - delta) (may be <= 0: no x in Z+)."""
    eps, delta = _fractions_in_unit_interval(eps, delta)
    return math.floor(k * (1 - 2 * eps - delta))


def lemma_f2_sides(k: int, x: int, eps, delta) -> tuple[int, Fraction]:
    """(2^x sum_{j=0}^{[k eps]} C(k - x, j), 2^k (1 - delta)), exactly."""
    eps, delta = _fractions_in_unit_interval(eps, delta)
    if not (isinstance(k, (int, np.integer)) and isinstance(x, (int, np.integer)) and 1 <= x <= k):
        raise ValueError(f"need integers 1 <= x <= k; got k = {k!r}, x = {x!r}")
    m = math.floor(k * eps)
    lhs = 2**x * sum(math.comb(k - x, j) for j in range(m + 1))
    return lhs, 2**k * (1 - delta)


def lemma_f2_check(k: int, eps, delta, x_max: int | None = None) -> dict:
    """Lemma F.2 at every x = 1..x_max (default: the lemma's bound [k (1 - 2 eps - delta)]).

    Returns holds (the strict inequality at every x; True when there is no x), cases, worst_x
    and worst_ratio (the largest lhs / rhs, a Fraction; 0 when there is no x). One binomial
    prefix sum per x via S(N + 1, m) = 2 S(N, m) - C(N, m), so a check costs O(k) big-int
    operations."""
    eps, delta = _fractions_in_unit_interval(eps, delta)
    k = positive_int("k", k)
    if x_max is None:
        x_max = lemma_f2_x_max(k, eps, delta)
    x_max = min(int(x_max), k)
    m = math.floor(k * eps)
    rhs = 2**k * (1 - delta)
    worst: tuple[Fraction, int | None] = (Fraction(0), None)
    holds = True
    if x_max >= 1:
        n_lo = k - x_max  # S(N, m) for N = k - x, from N = n_lo upward
        S = sum(math.comb(n_lo, j) for j in range(m + 1))
        for N in range(n_lo, k):
            x = k - N
            lhs = 2**x * S
            if lhs >= rhs:
                holds = False
            ratio = lhs / rhs
            if ratio > worst[0]:
                worst = (ratio, x)
            S = 2 * S - math.comb(N, m)
    return dict(holds=holds, cases=max(x_max, 0), worst_ratio=worst[0], worst_x=worst[1])


def proof_tail_bound_holds(n: int, m: int) -> bool:
    """The first step of the paper's proof of Lemma F.2: sum_{j=0}^{m} C(n, j) <= m 2^n / n for
    m <= n/2. False in general (always at m = 0; n = 2, m = 1; n = 4, m = 2; ...)."""
    if not 0 <= m <= n / 2 or n < 1:
        raise ValueError(f"need n >= 1 and 0 <= m <= n/2; got n = {n}, m = {m}")
    return n * sum(math.comb(n, j) for j in range(m + 1)) <= m * 2**n


__all__ = [
    "AXIS_STEP",
    "BETA",
    "CLAUSE_STEP",
    "CLAUSE_WIDTH",
    "GADGET_FAMILY",
    "MAX_BRUTE_FORCE_VARIABLES",
    "NAE_PATTERNS",
    "NEGATIVE_STEP",
    "PATTERN_PAIRS",
    "SAT_PATTERNS",
    "SEPARATION",
    "all_assignments",
    "architecture_param_count",
    "block_points",
    "build_witness",
    "build_witness_from_key",
    "check_formula",
    "clause_vectors",
    "dataset",
    "decode_dataset",
    "draw_gadget",
    "first_layer",
    "first_layer_completable",
    "formula_from_draw",
    "gadget_clause_vectors",
    "gadget_pair_classes",
    "gadget_pairs",
    "in_unit_cube",
    "interval_classifier",
    "interval_condition",
    "is_complement_closed",
    "is_reversible",
    "is_satisfiable",
    "layer_values",
    "lemma_f2_check",
    "lemma_f2_sides",
    "lemma_f2_x_max",
    "min_opposite_sq_distance",
    "min_pairwise_sq_distance",
    "min_param_architectures",
    "nae_satisfies",
    "negate",
    "non_reversible_example",
    "printed_definition_holds",
    "proof_tail_bound_holds",
    "random_planted_formula",
    "register_data_family",
    "satisfies",
    "satisfying_assignments",
    "threshold_separable",
    "unsatisfiable_formula",
    "witness_first_layer",
    "witness_param_count",
    "witness_trial",
]
