"""Information-plane estimates by binning (Shwartz-Ziv & Tishby 2017, "Opening the black box
of deep neural networks via information"; the information bottleneck of the lecture slides,
docs/papers/README.md item 4).

Setting: a finite dataset of N samples, X uniform over them (each row one equally likely
input, as Shwartz-Ziv & Tishby's 4096 input patterns), labels Y, and a layer's activations T of
shape (N, width). Each activation is binned into `bins` equal-width intervals over a range;
the binned row is T's value. Saxe et al. (ICLR 2018, Sec. 2), replicating Shwartz-Ziv &
Tishby, bin tanh outputs "into 30 equal intervals between -1 and 1": bins=30 is the default and
value_range=(-1, 1) is that setting. With value_range=None each layer is binned over its own
[min, max] (the usual choice for unbounded activations such as ReLU); values outside a given
range go to the end bins.

Because T is a deterministic function of X (and X is uniform over its samples),
  I(X;T) = H(T)                 (H(T|X) = 0),
  I(T;Y) = H(T) - H(T|Y),
  I(X;Y) = H(Y)                 (the ceiling for I(T;Y), by the data processing inequality
                                 for the Markov chain Y - X - T),
all of the empirical distribution of the binned rows. The entropies are computed without
unique(), with static shapes, by counting equal rows:
  H(T)   = -(1/N) sum_i log(c_i / N),        c_i   = #{j : T_j = T_i (every coordinate)},
  H(T|Y) = -(1/N) sum_i log(c^Y_i / N_y_i),  c^Y_i = #{j : T_j = T_i and y_j = y_i},
  H(Y)   = -(1/N) sum_i log(N_y_i / N),      N_y_i = #{j : y_j = y_i}.
(Grouping the i with equal rows gives -sum_t p(t) log p(t).) This is O(N^2 width) work but
jittable and vmappable; `chunk` bounds memory to (chunk, N) booleans for N of several
thousand (row blocks are processed in sequence, and columns are compared one at a time).
Before counting, the bin indices of several columns are packed into one integer (exact: g
digits of b bits, 2^b >= bins, no hashing), which divides the width by g (12 for 30 bins
under x64). bins and the range are traced arguments: changing them recompiles nothing unless
g (a shape) changes.

Results are in bits (unit="nats" for nats). Sampling caveat: with N distinct samples and fine
bins every binned row is distinct and I(X;T) = log2 N whatever the network does; the estimate
measures the binning as much as the layer (Saxe et al.'s critique). These are plug-in
estimates of the empirical distribution, not of a population.

Inputs are checked on the host before anything compiles (ValueError naming the offending
layer, checkpoint or row); inside jit/vmap they are tracers and the checks are skipped.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.data.validate import _rows, is_traced, positive_int

__all__ = [
    "UNITS",
    "bin_activations",
    "binned_entropy",
    "checkpoint_information",
    "information_plane",
    "label_entropy",
    "layer_information",
]

UNITS = {"bits": 1 / math.log(2), "nats": 1.0}


# ---------------------------------------------------------------------------- input checks


def _unit(unit):
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {tuple(UNITS)}")
    return UNITS[unit]


def _code_dtype():
    return jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32


def _bins(bins) -> int:
    bins = positive_int("bins", bins)
    # Bin indices are floor(u * bins) in floating point: exact integers only up to 2^24 in
    # float32 (far more bins than samples is meaningless anyway: every row is distinct).
    if bins > 2**24:
        raise ValueError(
            f"bins must be at most 2**24 (bin indices are computed in floating point); got {bins}"
        )
    return bins


def _chunk(chunk, n):
    """None (all pairs at once) or a block size, capped at n (a static shape, so capping
    shares one compiled program between every chunk >= n)."""
    return None if chunk is None else min(positive_int("chunk", chunk), n)


def _finite_rows(A, what):
    """A (N, w) or (C, N, w) real and finite; names the first checkpoint and its bad rows."""
    if not np.issubdtype(A.dtype, np.number) or np.issubdtype(A.dtype, np.complexfloating):
        raise ValueError(f"{what} must be real numbers; got dtype {A.dtype}")
    bad = ~np.isfinite(A)
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    if A.ndim == 3:
        at, rows = f"checkpoint {where[0]}, ", np.flatnonzero(bad[where[0]].any(-1))
    else:
        at, rows = "", np.flatnonzero(bad.any(-1))
    raise ValueError(
        f"{what} has NaN or inf ({at}rows {_rows(rows)}; row {where[-2]}, "
        f"column {where[-1]} is {A[where]})"
    )


def _check_activations(T, what="T", ndim=2):
    """T of shape (N, width) (or (C, N, width) with ndim=3), N, width >= 1, finite."""
    if is_traced(T):
        return jnp.asarray(T)
    A = np.asarray(T)
    shape = (
        "(C, N, width) (checkpoints, samples, units)"
        if ndim == 3
        else "(N, width) (one row of activations per sample)"
    )
    if A.ndim != ndim:
        raise ValueError(f"{what} must have shape {shape}; got shape {A.shape}")
    if 0 in A.shape:
        raise ValueError(
            f"{what} must have shape {shape} with every size >= 1; got shape {A.shape}"
        )
    _finite_rows(A, what)
    return jnp.asarray(T)


def _check_labels(labels, n):
    """One finite label per sample; any real values (classes are compared for equality)."""
    if is_traced(labels):
        return jnp.asarray(labels)
    y = np.asarray(labels)
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        want = f"({n},), one label per row of activations" if n is not None else "(N,)"
        raise ValueError(f"labels must have shape {want}; got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError("labels is empty: there are no samples")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.issubdtype(
        y.dtype, np.complexfloating
    ):
        raise ValueError(f"labels must be real numbers (class ids); got dtype {y.dtype}")
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"labels has NaN or inf in rows {_rows(rows)} (row {rows[0]} is {y[rows[0]]})"
        )
    return jnp.asarray(labels)


def _check_range(value_range, what="value_range"):
    """None (the activations' own [min, max]) or a finite pair lo < hi."""
    if value_range is None or is_traced(*jax.tree.leaves(value_range)):
        return value_range
    r = np.asarray(value_range, dtype=float) if not isinstance(value_range, str) else None
    if r is None or r.shape != (2,):
        raise ValueError(f"{what} must be None or a pair (lo, hi); got {value_range!r}")
    lo, hi = float(r[0]), float(r[1])
    if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
        raise ValueError(f"{what} must be finite with lo < hi; got ({lo!r}, {hi!r})")
    return (lo, hi)


# ------------------------------------------------------------------------------------ core


def _binning(bins, value_range):
    """The traced description of a binning: (bins, bits per packed digit, lo, hi, own range).

    Everything is a traced argument of the compiled programs (no recompile per bins or per
    range); with own=True the range is the activations' [min, max], computed inside."""
    bits = max(1, (bins - 1).bit_length())  # 2^bits >= bins: bin indices fit in bits bits
    if value_range is None:
        return (bins, bits, 0.0, 0.0, True)
    return (bins, bits, value_range[0], value_range[1], False)


def _digits(bins, width):
    """Packed digits per integer code, a static shape: as many bits-wide digits as fit the
    code type without its sign bit, at most the width."""
    bits = max(1, (bins - 1).bit_length())
    return min(max(1, (jnp.iinfo(_code_dtype()).bits - 1) // bits), width)


def _bin_indices(T, binning):
    """Bin index in 0..bins-1 of every activation, equal-width bins over [lo, hi].

    u = (t - lo) / (hi - lo) is computed once and then scaled by bins, so for bins = 2^k and
    2^(k+1) the finer index is exactly 2 x the coarser one or that + 1 (scaling by a power of
    two is exact): the bins are nested. t = hi falls in the last bin, values outside [lo, hi]
    in the end bins; a constant layer with its own range (lo = hi) is a single bin."""
    bins, _, lo, hi, own = binning
    T = jnp.asarray(T)
    T = T.astype(jnp.result_type(T.dtype, jnp.float32))
    lo = jnp.where(own, jnp.min(T), jnp.asarray(lo, T.dtype))
    hi = jnp.where(own, jnp.max(T), jnp.asarray(hi, T.dtype))
    span = jnp.where(hi > lo, hi - lo, jnp.ones_like(hi))
    u = (T - lo) / span
    bins = jnp.asarray(bins, T.dtype)
    return jnp.clip(jnp.floor(u * bins), 0, bins - 1).astype(_code_dtype())


def _pack(index, bits, digits):
    """(N, w) bin indices -> (N, ceil(w/digits)) integer codes, `digits` indices of `bits`
    bits each per code.

    Exact, no hashing (distinct rows give distinct code rows): every index is < 2^bits and
    digits * bits fit the integer type without its sign bit (`_digits`)."""
    N, w = index.shape
    m = -(-w // digits)
    index = jnp.pad(index, ((0, 0), (0, m * digits - w)))
    shifts = jnp.asarray(bits, index.dtype) * jnp.arange(digits, dtype=index.dtype)
    return jnp.sum(jnp.left_shift(index.reshape(N, m, digits), shifts), axis=-1)


def _counts(codes, labels, chunk):
    """c_i, c^Y_i and N_y_i (see the module docstring) for every row i, each shape (N,).

    chunk=None compares all pairs at once ((N, N, m) booleans for m packed code columns).
    Otherwise row blocks of `chunk` query rows are compared against all N rows in sequence
    (lax.map), one code column at a time (fori_loop), so the largest intermediate is
    (chunk, N)."""
    N, m = codes.shape
    if chunk is None:
        same_label = labels[:, None] == labels[None, :]
        # Unchunked: one (N, N, m) comparison, a smaller program (faster to compile) for
        # moderate N; m = ceil(width / digits) is small after packing.
        equal = jnp.all(codes[:, None, :] == codes[None, :, :], axis=-1)
        return (
            jnp.sum(equal, axis=1),
            jnp.sum(equal & same_label, axis=1),
            jnp.sum(same_label, axis=1),
        )
    blocks = -(-N // chunk)
    pad = blocks * chunk - N
    # Padded query rows are dummies whose counts are dropped; every counted j is a real row.
    q_codes = jnp.pad(codes, ((0, pad), (0, 0))).reshape(blocks, chunk, m)
    q_labels = jnp.pad(labels, (0, pad)).reshape(blocks, chunk)

    def block(args):
        bc, bl = args
        same_label = bl[:, None] == labels[None, :]

        def column(k, equal):
            return equal & (bc[:, k][:, None] == codes[:, k][None, :])

        equal = jax.lax.fori_loop(0, m, column, jnp.ones((chunk, N), bool))
        return (
            jnp.sum(equal, axis=1),
            jnp.sum(equal & same_label, axis=1),
            jnp.sum(same_label, axis=1),
        )

    c, c_y, n_y = jax.lax.map(block, (q_codes, q_labels))
    return c.reshape(-1)[:N], c_y.reshape(-1)[:N], n_y.reshape(-1)[:N]


def _entropies(T, labels, binning, digits, chunk):
    """(H(T), H(T|Y), H(Y)) in nats."""
    codes = _pack(_bin_indices(T, binning), binning[1], digits)
    c, c_y, n_y = _counts(codes, labels, chunk)
    N = codes.shape[0]
    dtype = jnp.result_type(jnp.asarray(T).dtype, jnp.float32)
    c, c_y, n_y = (x.astype(dtype) for x in (c, c_y, n_y))
    return (-jnp.mean(jnp.log(c / N)), -jnp.mean(jnp.log(c_y / n_y)), -jnp.mean(jnp.log(n_y / N)))


@jax.jit
def _label_entropy(labels):
    # One-column codes that are all equal make c_i = N: only N_y_i matters here.
    return _entropies(jnp.zeros((labels.shape[0], 1)), labels, _binning(1, None), 1, None)[2]


def _information(T, labels, binning, digits, chunk):
    h_t, h_t_y, h_y = _entropies(T, labels, binning, digits, chunk)
    # I(T;Y) = H(T) - H(T|Y) >= 0 exactly; the difference of two rounded sums can be a few
    # ulps below 0, which is reported as computed (not clipped).
    return dict(I_XT=h_t, I_TY=h_t - h_t_y, H_T_given_Y=h_t_y, H_Y=h_y)


_information_jit = jax.jit(_information, static_argnames=("digits", "chunk"))


def _in_unit(tree, factor):
    return jax.tree.map(lambda v: v * jnp.asarray(factor, v.dtype), tree)


# ---------------------------------------------------------------------------------- public


def bin_activations(T, bins: int = 30, value_range=None) -> jax.Array:
    """(N, width) bin indices in 0..bins-1: `bins` equal-width intervals over value_range
    (None: T's own [min, max]); values outside a given range go to the end bins."""
    bins = _bins(bins)
    T = _check_activations(T)
    return _bin_indices_jit(T, _binning(bins, _check_range(value_range)))


_bin_indices_jit = jax.jit(_bin_indices)


def binned_entropy(
    T, bins: int = 30, value_range=None, *, chunk: int | None = None, unit: str = "bits"
) -> jax.Array:
    """H(T_binned) of the rows of T (N, width), each row one of N equally likely samples:
    I(X;T) for a deterministic layer. log2 N when all binned rows differ, 0 when all agree."""
    factor, bins = _unit(unit), _bins(bins)
    T = _check_activations(T)
    chunk = _chunk(chunk, T.shape[0])
    value_range = _check_range(value_range)
    labels = jnp.zeros(T.shape[0], _code_dtype())  # one class (the dtype of integer labels)
    out = _information_jit(T, labels, _binning(bins, value_range), _digits(bins, T.shape[1]), chunk)
    return _in_unit(out["I_XT"], factor)


def label_entropy(labels, *, unit: str = "bits") -> jax.Array:
    """H(Y) of the empirical label distribution = I(X;Y) on a deterministic dataset (one
    label per sample): the ceiling for every layer's I(T;Y)."""
    factor = _unit(unit)
    return _in_unit(_label_entropy(_check_labels(labels, None)), factor)


def layer_information(
    T, labels, bins: int = 30, value_range=None, *, chunk: int | None = None, unit: str = "bits"
) -> dict:
    """One layer's information-plane point: dict of scalars I_XT = H(T), I_TY = H(T) -
    H(T|Y), H_T_given_Y and H_Y (= I(X;Y)), T (N, width), labels (N,) any class ids."""
    factor, bins = _unit(unit), _bins(bins)
    T = _check_activations(T)
    chunk = _chunk(chunk, T.shape[0])
    labels = _check_labels(labels, T.shape[0])
    value_range = _check_range(value_range)
    out = _information_jit(T, labels, _binning(bins, value_range), _digits(bins, T.shape[1]), chunk)
    return _in_unit(out, factor)


def checkpoint_information(
    T_stack,
    labels,
    bins: int = 30,
    value_range=None,
    *,
    chunk: int | None = None,
    unit: str = "bits",
) -> dict:
    """`layer_information` for one layer at C checkpoints, vmapped: T_stack (C, N, width)
    -> dict of (C,) arrays (a trajectory in the information plane). With value_range=None
    each checkpoint is binned over its own [min, max]; a given range is shared by all. The
    vmap batches the work, so memory is C times one checkpoint's ((C, chunk, N) booleans
    with chunk): pass slices of the stack when C * N^2 is too large."""
    factor, bins = _unit(unit), _bins(bins)
    T_stack = _check_activations(T_stack, "T_stack", ndim=3)
    chunk = _chunk(chunk, T_stack.shape[1])
    labels = _check_labels(labels, T_stack.shape[1])
    value_range = _check_range(value_range)
    out = _checkpoints_jit(
        T_stack, labels, _binning(bins, value_range), _digits(bins, T_stack.shape[2]), chunk
    )
    return _in_unit(out, factor)


def _checkpoints(T_stack, labels, binning, digits, chunk):
    return jax.vmap(lambda T: _information(T, labels, binning, digits, chunk))(T_stack)


_checkpoints_jit = jax.jit(_checkpoints, static_argnames=("digits", "chunk"))


def _layer_ranges(ranges, L):
    """None, one (lo, hi) pair for every layer, or a list of L entries (None or a pair)."""
    if ranges is None:
        return [None] * L
    if (
        isinstance(ranges, (tuple, list, np.ndarray, jax.Array))
        and len(ranges) == 2
        and all(r is not None and not isinstance(r, str) and np.ndim(r) == 0 for r in ranges)
    ):
        pair = _check_range(ranges, "ranges")
        return [pair] * L
    try:
        entries = list(ranges)
    except TypeError:
        raise ValueError(
            f"ranges must be None, a pair (lo, hi), or one entry per layer; got {ranges!r}"
        ) from None
    if len(entries) != L:
        raise ValueError(
            f"ranges has {len(entries)} entries but there are {L} layers (give "
            f"one (lo, hi) or None per layer, or a single pair for all)"
        )
    return [_check_range(r, f"ranges[{l}] (layer {l})") for l, r in enumerate(entries)]


def information_plane(
    layers, labels, bins: int = 30, ranges=None, *, chunk: int | None = None, unit: str = "bits"
) -> dict:
    """Every layer's information-plane point: layers is a list of L arrays (N, width_l) (the
    activations on the same N samples), labels (N,). Returns I_XT and I_TY, arrays of shape
    (L,), and H_Y (= I(X;Y), the ceiling of every I_TY).

    ranges: None (each layer over its own [min, max]), one (lo, hi) for all layers (e.g.
    (-1, 1) for tanh, as Shwartz-Ziv & Tishby), or a list of L entries, each None or a pair."""
    factor, bins = _unit(unit), _bins(bins)
    if isinstance(layers, (jax.Array, np.ndarray)) or not isinstance(layers, (list, tuple)):
        raise ValueError(
            "layers must be a list of (N, width_l) arrays, one per layer (for one "
            "layer at many checkpoints use checkpoint_information)"
        )
    if not layers:
        raise ValueError("layers is empty: give at least one layer's activations")
    checked = [_check_activations(T, f"layer {l}") for l, T in enumerate(layers)]
    N = checked[0].shape[0]
    for l, T in enumerate(checked):
        if T.shape[0] != N:
            raise ValueError(
                f"layer {l} has {T.shape[0]} rows but layer 0 has {N}: every "
                f"layer must hold the activations of the same samples"
            )
    labels = _check_labels(labels, N)
    chunk = _chunk(chunk, N)
    per_layer = [
        _information_jit(T, labels, _binning(bins, r), _digits(bins, T.shape[1]), chunk)
        for T, r in zip(checked, _layer_ranges(ranges, len(checked)))
    ]
    out = dict(
        I_XT=jnp.stack([d["I_XT"] for d in per_layer]),
        I_TY=jnp.stack([d["I_TY"] for d in per_layer]),
        H_Y=per_layer[0]["H_Y"],
    )
    return _in_unit(out, factor)
