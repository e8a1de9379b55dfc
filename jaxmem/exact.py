"""Exact evaluation of networks whose weights are Python ints or fractions.Fraction.

The optimal-size memorizers (Vardi et al. 2022; Yu et al. 2024, Theorem 4.1; Park et al. 2021)
store many labels in one number of O(sqrt(N) log N) bits and extract them with bit-extraction
layers. A float holds 24 (float32) or 53 (float64) bits, so no float evaluation can check them
(docs/conventions.md §5.3): this module evaluates them in exact rational arithmetic instead.

An `ExactNetwork` is a tuple of `ExactLayer`s, each an affine map (NumPy object arrays of int /
Fraction) followed by relu, threshold (H(0) = 0, as jaxmem.network), hardtanh (clip to
[-1, 1]) or identity, with an optional unit mask. `apply(net, X)` evaluates a batch of inputs
row by row in exact arithmetic (object-array matrix products: Python integers of any size).
Nothing here is jit-compiled: it is the reference evaluator, not the fast path.

Exactness is asked for, not assumed: a float weight or input raises a TypeError naming where
it is, unless `allow_float=True`, which converts each float to the exact rational value of its
binary representation (Fraction(0.1) = 3602879701896397 / 2^55, not 1/10).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

ACTIVATIONS = ("relu", "threshold", "hardtanh", "identity")


def _is_exact(v) -> bool:
    return isinstance(v, (int, np.integer, Fraction)) and not isinstance(v, (bool, np.bool_))


def exact_array(name: str, values, *, allow_float: bool = False, ndim: int) -> np.ndarray:
    """An object array of int / Fraction; floats are refused (or converted exactly)."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):
        if _is_exact(v):
            out[idx] = int(v) if isinstance(v, np.integer) else v
        elif isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name}{list(idx)} is a bool ({v}); use 0 / 1")
        elif isinstance(v, numbers.Real):
            f = float(v)
            if not np.isfinite(f):
                raise ValueError(f"{name}{list(idx)} is {f}: not a finite number")
            if not allow_float:
                raise TypeError(
                    f"{name}{list(idx)} is a float ({v!r}); exact evaluation needs int or "
                    f"fractions.Fraction entries (pass Fraction({v!r}) or the intended "
                    f"rational, or allow_float=True to use the float's exact binary value)"
                )
            out[idx] = Fraction(f)
        else:
            raise TypeError(
                f"{name}{list(idx)} is a {type(v).__name__} ({v!r}); exact "
                f"evaluation needs int or fractions.Fraction entries"
            )
    return out


@dataclasses.dataclass(frozen=True)
class ExactLayer:
    """act(h @ weight + bias) with object arrays weight (n_in, n_out), bias (n_out,); mask
    (n_out,) bool or None: masked units output exactly 0 (as jaxmem.network's padded layers)."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "relu"
    mask: np.ndarray | None = None

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]


@dataclasses.dataclass(frozen=True)
class ExactNetwork:
    layers: tuple[ExactLayer, ...]

    def apply(self, X) -> np.ndarray:
        """Exact outputs on the rows of X (the construction protocol's method); float inputs
        are taken as the rationals they are."""
        return apply(self, X, allow_float=True)


def layer(
    weight,
    bias,
    activation: str = "relu",
    mask=None,
    *,
    allow_float: bool = False,
    name: str = "layer",
) -> ExactLayer:
    """A checked ExactLayer: entries int or Fraction (floats refused unless allow_float)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    W = exact_array(f"{name}.weight", weight, allow_float=allow_float, ndim=2)
    b = exact_array(f"{name}.bias", bias, allow_float=allow_float, ndim=1)
    if b.shape[0] != W.shape[1]:
        raise ValueError(
            f"{name}: bias has {b.shape[0]} entries but the weight has {W.shape[1]} columns"
        )
    m = None
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != (W.shape[1],):
            raise ValueError(f"{name}: mask must have shape ({W.shape[1]},); got {m.shape}")
    return ExactLayer(W, b, activation, m)


def make(layers: Sequence[ExactLayer]) -> ExactNetwork:
    layers = tuple(layers)
    if not layers:
        raise ValueError("an ExactNetwork needs at least one layer")
    for i in range(1, len(layers)):
        if layers[i].n_in != layers[i - 1].n_out:
            raise ValueError(
                f"layer {i} reads {layers[i].n_in} inputs but layer {i - 1} has "
                f"{layers[i - 1].n_out} units"
            )
    return ExactNetwork(layers)


def from_network(net, *, allow_float: bool = False) -> ExactNetwork:
    """A jaxmem.network.Network as an ExactNetwork. Its weights are floats, so this needs
    allow_float=True (each weight becomes the exact rational value of its float): then
    `apply` gives the outputs the float network would give in infinite precision, which is
    what a rounding-error study compares the float path with."""
    from jaxmem import network

    out = []
    for i, lay in enumerate(net.layers):
        W = np.asarray(network._dense_weight(lay), dtype=np.float64)
        out.append(
            layer(
                W.astype(object),
                np.asarray(lay.bias, np.float64).astype(object),
                lay.activation,
                None if lay.mask is None else np.asarray(lay.mask),
                allow_float=allow_float,
                name=f"layer {i}",
            )
        )
    return make(out)


def _activate(name: str, Z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.where(Z > 0, Z, 0)
    if name == "threshold":
        return np.where(Z > 0, 1, 0)  # Heaviside with H(0) = 0
    if name == "hardtanh":
        return np.where(Z > 1, 1, np.where(Z < -1, -1, Z))
    return Z


def common_denominator(X, *, allow_float: bool = False, name: str = "X") -> tuple[np.ndarray, int]:
    """A 2-D array of exact values as integers over one common denominator: (Xint, D) with
    X = Xint / D, Xint an object array of Python ints (floats refused unless allow_float)."""
    A = exact_array(name, X, allow_float=allow_float, ndim=2)
    D = math.lcm(*(Fraction(v).denominator for v in A.ravel())) if A.size else 1
    Xint = np.empty(A.shape, dtype=object)
    for idx, v in np.ndenumerate(A):
        q = Fraction(v)
        Xint[idx] = q.numerator * (D // q.denominator)
    return Xint, D


def _columns(H: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """A batch of exact values as columns (integer numerators, one common denominator)."""
    cols = []
    for j in range(H.shape[1]):
        den = math.lcm(*(Fraction(v).denominator for v in H[:, j])) if H.shape[0] else 1
        nums = np.empty(H.shape[0], dtype=object)
        for i, v in enumerate(H[:, j]):
            q = Fraction(v)
            nums[i] = q.numerator * (den // q.denominator)
        cols.append((nums, den))
    return cols


def integer_rows(X, denominator) -> np.ndarray:
    """An integer array X (the numerators of X / denominator) as an object array of ints."""
    from jaxmem.data.validate import positive_int  # here: this module needs no JAX

    try:
        denominator = positive_int("denominator", denominator)
    except ValueError as err:
        # As everywhere here, a value of the wrong (inexact) type is a TypeError.
        integral = isinstance(denominator, numbers.Integral) and not isinstance(denominator, bool)
        raise (ValueError if integral else TypeError)(str(err)) from None
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must have 2 dimensions; got shape {arr.shape}")
    if arr.dtype != object and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"with a denominator, X must hold integers (numerators); got dtype {arr.dtype}"
        )
    out = arr.astype(object)  # int64 entries become Python ints
    if arr.dtype == object:
        for idx, v in np.ndenumerate(out):
            if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)):
                raise TypeError(
                    f"X{list(idx)} is a {type(v).__name__} ({v!r}); with a "
                    f"denominator X must hold integers"
                )
            out[idx] = int(v)
    return out


def _reduced(nums: np.ndarray, den: int) -> tuple[np.ndarray, int]:
    """Divides a column by the gcd of its denominator and numerators: keeps the integers small
    where the values are integral on the whole batch (a register at training inputs)."""
    g = math.gcd(den, *nums)
    if g > 1:
        nums = np.array([v // g for v in nums], dtype=object) if len(nums) else nums
        den //= g
    return nums, den


# A column whose common denominator grows past this many bits is reduced by its gcd.
_REDUCE_BITS = 64


def _layer_columns(
    lay: ExactLayer, cols: list[tuple[np.ndarray, int]], batch: int
) -> list[tuple[np.ndarray, int]]:
    """One layer on column form: only the nonzero weights are multiplied, in Python integers,
    and units that share a weight column (ramps relu(x - a), relu(x - a - p) of one x) share
    the product: only their biases differ."""
    groups: dict[tuple, list[int]] = {}
    for k in range(lay.n_out):
        if lay.mask is not None and not lay.mask[k]:
            continue
        terms = tuple(
            (i, Fraction(lay.weight[i, k]) / cols[i][1])
            for i in range(lay.n_in)
            if lay.weight[i, k] != 0
        )
        groups.setdefault(terms, []).append(k)
    out: list = [(np.zeros(batch, dtype=object), 1)] * lay.n_out
    for terms, units in groups.items():
        biases = [Fraction(lay.bias[k]) for k in units]
        den = math.lcm(*(b.denominator for b in biases), *(c.denominator for _, c in terms))
        shared = np.zeros(batch, dtype=object)
        for i, c in terms:
            coef = c.numerator * (den // c.denominator)
            shared = shared + (cols[i][0] if coef == 1 else cols[i][0] * coef)
        for k, b in zip(units, biases):
            out[k] = _activate_column(
                lay.activation, shared + b.numerator * (den // b.denominator), den
            )
    return out


def _activate_column(act: str, Z: np.ndarray, den: int) -> tuple[np.ndarray, int]:
    if act == "relu":
        Z = np.where(Z > 0, Z, 0)
    elif act == "threshold":  # Heaviside with H(0) = 0
        return np.where(Z > 0, 1, 0).astype(object), 1
    elif act == "hardtanh":  # clip Z / den to [-1, 1]
        Z = np.where(Z > den, den, np.where(Z < -den, -den, Z))
    if den > 1 and den.bit_length() > _REDUCE_BITS:
        Z, den = _reduced(Z, den)
    return Z, den


def apply(
    net: ExactNetwork, X, *, allow_float: bool = False, denominator: int | None = None
) -> np.ndarray:
    """Exact outputs on the rows of X: an object array (n,) for one output unit, else (n, k),
    of ints / Fractions. X's entries must be int / Fraction (floats refused unless
    allow_float). With `denominator`, X is an integer array and the inputs are
    X / denominator (pixels / 255), which skips converting every entry to a Fraction.

    Each unit is held as a column of integer numerators over one common denominator for the
    whole batch, and only nonzero weights are multiplied: the bit-extraction memorizers are
    deep, narrow and sparse, and a Python-int product is ~20x cheaper than a Fraction one
    (which reduces by a gcd every time). Where the common denominator outgrows 64 bits the
    column is reduced by its gcd, so values that are integers on the batch stay integers."""
    if denominator is None:
        H = exact_array("X", X, allow_float=allow_float, ndim=2)
    else:
        H = integer_rows(X, denominator)
    if H.shape[1] != net.layers[0].n_in:
        raise ValueError(
            f"X has {H.shape[1]} columns but the network reads {net.layers[0].n_in} inputs"
        )
    if denominator is None:
        cols = _columns(H)
    else:
        cols = [(H[:, j].copy(), int(denominator)) for j in range(H.shape[1])]
    for lay in net.layers:
        cols = _layer_columns(lay, cols, H.shape[0])
    out = np.empty((H.shape[0], len(cols)), dtype=object)
    for k, (nums, den) in enumerate(cols):
        for i, v in enumerate(nums):
            q = Fraction(int(v), den)
            out[i, k] = q.numerator if q.denominator == 1 else q
    return out[:, 0] if net.layers[-1].n_out == 1 else out


def apply_reference(net: ExactNetwork, X, *, allow_float: bool = False) -> np.ndarray:
    """`apply` the plain way (dense object-array products of Fractions): the reference the
    tests hold the column evaluator to."""
    H = exact_array("X", X, allow_float=allow_float, ndim=2)
    if H.shape[1] != net.layers[0].n_in:
        raise ValueError(
            f"X has {H.shape[1]} columns but the network reads {net.layers[0].n_in} inputs"
        )
    for lay in net.layers:
        Z = H.dot(lay.weight) + lay.bias
        H = _activate(lay.activation, Z)
        if lay.mask is not None:
            H = np.where(lay.mask, H, 0)
    return H[:, 0] if net.layers[-1].n_out == 1 else H


def apply_float(
    net: ExactNetwork, X, dtype=np.float64, *, denominator: int | None = None
) -> np.ndarray:
    """The same network with every weight, bias and input rounded to `dtype` and evaluated in
    that precision (NumPy): what a float implementation computes, to hold against `apply`.
    Registers of more bits than the mantissa (53 in float64) come out wrong here; a weight
    beyond the double range is inf. With `denominator`, X holds integers and the inputs are
    X / denominator, each correctly rounded."""
    if denominator is None:
        H = to_float(X).astype(dtype)
    else:
        H = (to_float(integer_rows(X, denominator)) / int(denominator)).astype(dtype)
    with np.errstate(all="ignore"):  # inf - inf in an overflowed register is the point
        return _apply_float(net, H, dtype)


def _apply_float(net: ExactNetwork, H: np.ndarray, dtype) -> np.ndarray:
    for lay in net.layers:
        Z = H @ to_float(lay.weight).astype(dtype) + to_float(lay.bias).astype(dtype)
        H = _activate(lay.activation, Z).astype(dtype)
        if lay.mask is not None:
            H = np.where(lay.mask, H, 0)
    return H[:, 0] if net.layers[-1].n_out == 1 else H


def to_network(net: ExactNetwork, dtype=None):
    """The network as a jaxmem.network.Network with every parameter rounded to `dtype`
    (default float64 when x64 is on): the float path of the same weights, for jit / vmap."""
    import jax.numpy as jnp

    from jaxmem import network

    dtype = jnp.float64 if dtype is None else dtype
    with np.errstate(over="ignore"):
        layers = [
            network.Layer(
                weight=jnp.asarray(to_float(lay.weight).astype(dtype)),
                bias=jnp.asarray(to_float(lay.bias).astype(dtype)),
                mask=None if lay.mask is None else jnp.asarray(lay.mask),
                activation=lay.activation,
            )
            for lay in net.layers
        ]
    return network.make(layers)


def nonzero_param_count(net: ExactNetwork) -> int:
    """Nonzero weights and biases (the sparse count some papers use), masked units excluded."""
    total = 0
    for lay in net.layers:
        keep = np.ones(lay.n_out, bool) if lay.mask is None else lay.mask
        total += int(np.count_nonzero(lay.weight[:, keep] != 0))
        total += int(np.count_nonzero(lay.bias[keep] != 0))
    return total


def param_count(net: ExactNetwork) -> int:
    """Weights plus biases of every layer (docs/conventions.md §6), masked units excluded."""
    total, active_in = 0, net.layers[0].n_in
    for lay in net.layers:
        units = lay.n_out if lay.mask is None else int(lay.mask.sum())
        total += units * (active_in + 1)
        active_in = units
    return total


def max_bit_length(net: ExactNetwork) -> int:
    """The largest bit length of any weight or bias, numerator or denominator: how many bits
    of precision the network's parameters need (24 fit float32, 53 float64)."""
    bits = 0
    for lay in net.layers:
        for v in list(lay.weight.ravel()) + list(lay.bias.ravel()):
            q = Fraction(v)
            bits = max(bits, abs(q.numerator).bit_length(), q.denominator.bit_length())
    return bits


def _nearest_double(v) -> float:
    try:
        return float(v)
    except OverflowError:  # beyond the largest double: IEEE rounds to inf
        return math.inf if v > 0 else -math.inf


def to_float(values) -> np.ndarray:
    """Exact outputs rounded to float64 (each rational to its nearest double; +-inf beyond
    the double range, as IEEE rounding gives)."""
    return np.vectorize(_nearest_double, otypes=[np.float64])(np.asarray(values, dtype=object))


__all__ = [
    "ACTIVATIONS",
    "ExactLayer",
    "ExactNetwork",
    "apply",
    "apply_float",
    "apply_reference",
    "common_denominator",
    "exact_array",
    "from_network",
    "integer_rows",
    "layer",
    "make",
    "max_bit_length",
    "nonzero_param_count",
    "param_count",
    "to_float",
    "to_network",
]
