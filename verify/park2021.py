"""Claims of Park, Lee, Yun, Shin (COLT 2021), "Provable memorization via deep neural networks
using sub-linear parameters" (the M2 of Yu et al. 2024, Table 4), checked on PLYS-R, the
reconstruction in jaxmem.constructions.park2021.

What the claims rest on. The paper's abstract (read): O(N^(2/3)) parameters memorize N pairs
"under a mild condition on the separation of input points", deep networks of small width.
The paper's theorem statements and construction could not be read (see the construction's
docstring), so these claims check the abstract's two statements on the reconstruction, whose
correctness and sizes are proved there; they do not check a constant of the paper.

  park2021.memorizes  (Universal) f(x_i) = y_i exactly, in rational arithmetic, on every drawn
                      dataset of distinct points (pixel-valued p/255 inputs as in Yu et al.'s
                      MNIST use, uniform float inputs taken at their exact binary values;
                      binary and 5-class labels); the built depth, widths and dense parameter
                      count equal the construction's formulas.
  park2021.params     (Scaling) the dense parameter count grows like N^(2/3) (fitted exponent's
                      interval inside [0.6, 0.8]).

The trials draw the data with jax.random (JAX-traceable, vmapped over dataset keys) and return
it; the exact build and evaluation run per dataset in the `host` hook (Python integers and
Fractions: no float can hold the bit-packed registers).
"""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.constructions import park2021
from jaxmem.claims import Claim, Scaling, Universal, register
from jaxmem.falsify import Domain, Falsifiable, construction_key

CITATION = ("Park, Lee, Yun, Shin. Provable memorization via deep neural networks using "
            "sub-linear parameters. COLT 2021 (arXiv 2010.13363). Checked on PLYS-R, a "
            "reconstruction (jaxmem.constructions.park2021): the paper's construction "
            "could not be read.")

PIXEL_LEVELS = 255


def dataset(key, N, d, data="pixels", classes=2, **_):
    """pixels: entries p/255, p uniform in 0..255 (returned as the integers p); cube: uniform
    in [0, 1)^d (float64 when x64 is on). Labels -1/+1 (classes = 2) or 0..classes-1.
    Distinct points are not enforced, only overwhelmingly likely at the grids' shapes (pixel
    data has d >= 16: a repeat has probability < N^2 / 2^129); a repeated point with two labels
    would make the build raise, not pass silently."""
    kx, ky = jax.random.split(jax.random.fold_in(key, 0))
    if data == "pixels":
        X = jax.random.randint(kx, (N, d), 0, PIXEL_LEVELS + 1)
    elif data == "cube":
        X = jax.random.uniform(kx, (N, d))
    else:
        raise ValueError(f"unknown data {data!r}; expected 'pixels' or 'cube'")
    if classes == 2:
        y = jnp.where(jax.random.bernoulli(ky, 0.5, (N,)), 1, -1)
    else:
        y = jax.random.randint(ky, (N,), 0, classes)
    return X, y


def draw_check(build_key, X, y, N, d, data="pixels", classes=2, table_size=0):
    """The dataset and the seed of its projection direction, drawn from the construction's
    key (table_size is read by the host: 0 means the construction's own choice)."""
    seed = jax.random.randint(build_key, (), 0, 2 ** 31 - 1)
    return dict(X=X, y=y, build_seed=seed)


def trial(key, N, d, data="pixels", classes=2, table_size=0):
    return draw_check(construction_key(key), *dataset(key, N, d, data, classes), N=N, d=d,
                      data=data, classes=classes, table_size=table_size)


def _inputs(X: np.ndarray, data: str):
    """(X, denominator) as the construction reads them: pixels as integers over 255 (the
    inputs p / 255, exactly), cube floats as the Fractions of their binary values."""
    if data == "pixels":
        return X.astype(np.int64), PIXEL_LEVELS
    return np.array([[Fraction(v) for v in row] for row in X.tolist()], dtype=object), None


def _build_one(X, y, seed, config):
    X, den = _inputs(np.asarray(X), config.get("data", "pixels"))
    y = [int(v) for v in np.asarray(y)]
    table = config.get("table_size", 0) or None
    net, info = park2021.build(int(seed), X, y, table_size=table, denominator=den)
    return X, den, y, net, info


def _build(outs, i, config):
    return _build_one(outs["X"][i], outs["y"][i], outs["build_seed"][i], config)


MEASURED = ("ok", "memorizes", "sizes_ok", "param_count", "nonzero_param_count", "groups",
            "table_size", "register_bits", "max_weight_bits", "depth", "width",
            "float64_max_error", "float64_ok")


def measure_one(X, y, seed, config) -> dict:
    """One dataset's network built and evaluated exactly (`park2021.measure`, the sweep's
    measurement too), with the float64 path of the same weights (reported, not part of the
    verdict): the record's columns, `MEASURED`."""
    X, den, y, net, info = _build_one(X, y, seed, config)
    measured = dict(park2021.measure(net, info, X, y, denominator=den))
    measured["table_size"] = measured.pop("buckets")
    return {k: measured[k] for k in MEASURED}


def memorizes_host(outs, config):
    """Builds and evaluates each dataset's network exactly (`measure_one`)."""
    n = len(outs["build_seed"])
    cols = {k: [] for k in MEASURED}
    for i in range(n):
        measured = measure_one(outs["X"][i], outs["y"][i], outs["build_seed"][i], config)
        for k in cols:
            cols[k].append(measured[k])
    for k in ("X", "y", "build_seed"):
        outs.pop(k)
    outs.update({k: np.asarray(v) for k, v in cols.items()})
    return outs


def inside(X, y, data="pixels") -> bool:
    """The claim's hypothesis on a searched dataset, exactly: distinct rows, integer labels,
    and for pixel data every entry one of the integers 0..255 (the inputs p / 255)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        return False
    if data == "pixels" and not (np.all(X == np.round(X)) and np.all((X >= 0)
                                                                    & (X <= PIXEL_LEVELS))):
        return False
    return len(np.unique(X, axis=0)) == len(X)


# dtypes of the record's columns (`MEASURED`), for the callback
_KINDS = dict(ok=bool, memorizes=bool, sizes_ok=bool, float64_ok=bool, float64_max_error=float)


def memorizes_check(build_key, X, y, N, d, data="pixels", classes=2, table_size=0):
    """The claim on a given dataset (for `jaxmem falsify`): `memorizes_host`'s decision of this
    one dataset, run on the host through a callback (the build is exact, in Python integers
    and Fractions), with the same columns as its record. hypothesis: `inside`. score: the
    largest weight's bit length, which grows as projected points crowd together (the
    construction's exactness is what is at stake; not differentiable)."""
    config = dict(data=data, classes=classes, table_size=table_size)
    seed = draw_check(build_key, X, y, N, d, **config)["build_seed"]

    def decide(X, y, seed):
        ok = inside(X, y, data)
        if ok:
            Xr = np.round(np.asarray(X, np.float64)).astype(np.int64) if data == "pixels" else X
            measured = measure_one(Xr, np.round(np.asarray(y, np.float64)), seed, config)
        else:  # outside the theorem: nothing built
            measured = {k: 0 for k in MEASURED}
        return (np.bool_(ok),) + tuple(np.asarray(measured[k], _KINDS.get(k, np.int64))
                                       for k in MEASURED)

    shapes = (jax.ShapeDtypeStruct((), jnp.bool_),) + tuple(
        jax.ShapeDtypeStruct((), jnp.float64 if _KINDS.get(k) is float
                             else jnp.bool_ if _KINDS.get(k) is bool else jnp.int64)
        for k in MEASURED)
    hypothesis, *values = jax.pure_callback(
        decide, shapes, jax.lax.stop_gradient(X), jax.lax.stop_gradient(y), seed,
        vmap_method="sequential")
    out = dict(zip(MEASURED, values))
    return dict(out, hypothesis=hypothesis,
                score=out["max_weight_bits"].astype(jnp.float64))


def params_host(outs, config):
    """Builds each dataset's network (no evaluation: the count is a property of the build) and
    checks it against the construction's formula."""
    counts, ok, groups, tables = [], [], [], []
    for i in range(len(outs["build_seed"])):
        *_, info = _build(outs, i, config)
        counts.append(info["param_count"])
        ok.append(park2021.sizes_ok(info))
        groups.append(info["groups"])
        tables.append(info["table_size"])
    for k in ("X", "y", "build_seed"):
        outs.pop(k)
    outs.update(param_count=np.asarray(counts, float), sizes_ok=np.asarray(ok),
                groups=np.asarray(groups), table_size=np.asarray(tables))
    return outs


MEMORIZES = Claim(
    id="park2021.memorizes",
    citation=CITATION,
    statement=("A deep ReLU network of constant width with bit-packed label registers fits "
               "every dataset of distinct points exactly: f(x_i) = y_i in rational arithmetic "
               "(PLYS-R; its depth, widths and dense parameter count equal its formulas)."),
    trial=trial,
    grids=dict(
        quick=[dict(data="pixels", N=8, d=16, datasets=4),
               dict(data="pixels", N=128, d=16, datasets=4),
               dict(data="cube", N=48, d=3, classes=5, datasets=4)],
        full=[dict(data=data, N=N, d=d, datasets=16)
              for data, d in (("pixels", 16), ("pixels", 64), ("cube", 3), ("cube", 64))
              for N in (16, 128, 512)]
        + [dict(data="pixels", N=1000, d=784, datasets=4),
           dict(data="pixels", N=256, d=16, classes=10, datasets=16)]),
    rule=Universal(),
    host=memorizes_host,
    dataset=dataset,
    # The check is the exact build itself (a host callback), so no separate exact step.
    # Domain: any distinct rational points (cube data at their binary values; pixel data must
    # stay integers 0..255, `inside`), +-1 labels searched by sign (with classes > 2 the
    # searched labels are +-1, still integer labels the claim covers). Search the cube
    # configs: pixel data are integers, which the gradient searcher cannot step.
    falsify=Falsifiable(check=memorizes_check, domain=Domain(points="real", labels="sign"),
                        score="score", sizes=("N", "d")),
)

PARAMS = Claim(
    id="park2021.params",
    citation=CITATION,
    statement=("The parameter count grows like N^(2/3): the fitted exponent of the dense "
               "count in N lies in [0.6, 0.8] (PLYS-R: G ~ N/q groups, tables of ~q^2 buckets)."),
    trial=trial,
    grids=dict(quick=[dict(data="cube", N=N, d=4, datasets=2) for N in (128, 512, 2048)],
               full=[dict(data="cube", N=N, d=4, datasets=8)
                     for N in (64, 128, 256, 512, 1024, 2048, 4096, 8192)]),
    rule=Scaling(x="N", y="param_count", predicted=park2021.PREDICTED_EXPONENT,
                 band=(0.6, 0.8)),
    host=params_host,
    dataset=dataset,
)

CLAIMS = [MEMORIZES, PARAMS]

register(*CLAIMS)
