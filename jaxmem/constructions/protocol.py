"""One construction protocol: a builder, its options declared once, registered by a decorator.

    @construction("zhang2017", citation="Zhang et al. 2017, Thm 1: 2n + d weights",
                  theta=Option(0.01, in_open_interval("theta", 0, 1), traced=True),
                  directions=Option(1, positive_int("directions")))
    def build(key, X, y, *, theta=0.01, directions=1):
        ...
        return net, info

A builder takes its randomness as a `key` (a JAX PRNG key; host builders draw NumPy seeds
from it) and returns `(net, info)`:

  net   anything with `apply(X)` (the dense jaxmem.network.Network, an implicit network such
        as Yu et al.'s M1, an exact jaxmem.exact.ExactNetwork);
  info  a dict with the standard keys (STANDARD_INFO: `valid`, whether the construction's
        hypotheses held on this dataset; `param_count` and `nonzero_param_count`, weights
        plus biases) and the construction's own diagnostics under its own names.

An option is static (it fixes shapes or branches: an int, a bool, a string; one compile per
value) or traced (a float; a sweep over it compiles once). `check(value, config)` raises
ValueError naming the problem; a grid is checked before anything compiles. A construction
that runs on the host (`host=True`: exact arithmetic, Python control flow) is swept dataset
by dataset on the host, through the same grid, store and resume.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmem.options import (
    Option,
    boolean,
    in_open_interval,
    nonnegative,
    nonnegative_int,
    one_of,
    optional,
    positive_int,
)
from jaxmem.registry import PAPERS_ONLY, PluginError, Registry

STANDARD_INFO = ("valid", "param_count", "nonzero_param_count")
TASKS = ("real", "binary", "multiclass")  # labels a construction fits: real or +-1, +-1, classes


@runtime_checkable
class Net(Protocol):
    """What every construction returns as its network."""

    def apply(self, X) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Construction:
    name: str
    build: Callable
    citation: str = ""
    options: dict = dataclasses.field(default_factory=dict)  # name -> Option
    task: str = "real"
    host: bool = False
    # (key, X, y, **options) -> dict of scalars: a construction's own measurements in place of
    # the generic build + forward-pass check (Dirksen et al.: its bookkeeping is exact).
    trial: Callable | None = None
    # (net, info, X, y) -> dict of scalars: a host construction's own measurement of the
    # network it built (`measure_host`); `invalid` is the row of a dataset outside its
    # hypotheses (HypothesisError), with the same fields.
    measure: Callable | None = None
    invalid: dict | None = None
    # (n, d, options) -> bytes of one dataset's working memory (the sweep's size check);
    # None: points plus n hidden units per point.
    memory: Callable | None = None
    # A tiny grid this construction runs on (the grid's top-level entries, data and labels, and
    # its axes), e.g. dict(data="gaussian", axes=dict(n=8, d=2)): `jaxmem sweep --example
    # NAME` prints it as TOML, and the test suite sweeps it for every registered construction.
    example: dict | None = None

    def __post_init__(self):
        if self.measure is not None and (not self.host or self.trial is not None):
            raise PluginError(
                f"construction {self.name}: measure= is for a host construction without trial="
            )
        if self.task not in TASKS:
            raise PluginError(
                f"construction {self.name}: task must be one of {TASKS}; got {self.task!r}"
            )
        for option_name, option in self.options.items():
            if not isinstance(option, Option):
                raise PluginError(
                    f"construction {self.name}: option {option_name} must be "
                    f"an Option(default, check, traced=...)"
                )

    @property
    def static(self) -> dict:
        return {k: o for k, o in self.options.items() if not o.traced}

    @property
    def dynamic(self) -> dict:
        return {k: o for k, o in self.options.items() if o.traced}

    def check(self, config: dict) -> None:
        """ValueError naming the first option of `config` this construction refuses."""
        for option_name, option in self.options.items():
            if option.check is not None:
                option.check(config.get(option_name, option.default), config)


class HypothesisError(ValueError):
    """The dataset is outside a construction's hypotheses (the message says which): a host
    sweep records it as valid = False instead of stopping."""


def measure_host(entry: Construction, key, X, y, **options) -> dict:
    """One dataset of a host construction that declares `measure`: built from `key` on X
    (floats taken exactly) and measured. Data outside the construction's hypotheses
    (HypothesisError) give its `invalid` row with valid = False and ok = False, instead of
    stopping the sweep. build_seed: the NumPy seed the key gave (`numpy_generator`; the
    network rebuilds from it), -1 for an invalid dataset."""
    assert entry.measure is not None, f"construction {entry.name} declares no measure"
    X, y = np.asarray(X), np.asarray(y)
    try:
        net, info = entry.build(key, X, y, **options)
    except HypothesisError:
        return dict(
            entry.invalid or {},
            ok=False,
            valid=False,
            undecided=False,
            redecided=False,
            build_seed=-1,
        )
    return dict(
        entry.measure(net, info, X, y),
        valid=True,
        undecided=False,
        redecided=False,
        build_seed=info.get("seed", -1),
    )


def numpy_generator(key) -> tuple[np.random.Generator, int | None]:
    """(NumPy generator, its int seed or None) for a host builder's randomness, from a JAX PRNG
    key (typed, or raw uint32 key data), an int seed >= 0, or a numpy Generator (seed None).
    A JAX key gives the seed randint(key, int32) (the same with or without x64), so a swept
    network rebuilds from its record's seed."""
    if isinstance(key, np.random.Generator):
        return key, None
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        if key < 0:
            raise ValueError(f"the seed must be >= 0; got {key}")
        return np.random.default_rng(int(key)), int(key)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and (
        jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
        or (dtype == np.uint32 and np.shape(key)[-1:] == (2,))
    ):
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1, dtype=jnp.int32))
        return np.random.default_rng(seed), seed
    raise TypeError(
        f"key must be a JAX PRNG key, an int seed >= 0 or a numpy.random.Generator; "
        f"got {type(key).__name__}"
    )


CONSTRUCTIONS: Registry[Construction] = Registry(
    "construction", lambda c: c.name, skip_builtin=PAPERS_ONLY
)


def construction(
    name: str,
    *,
    citation: str = "",
    task: str = "real",
    host: bool = False,
    trial: Callable | None = None,
    measure: Callable | None = None,
    invalid: dict | None = None,
    memory: Callable | None = None,
    example: dict | None = None,
    **options: Option,
) -> Callable[[Callable], Callable]:
    """Decorator: registers the builder as construction `name` with its options; returns the
    builder unchanged (it stays a plain function, callable as before)."""

    def decorate(build: Callable) -> Callable:
        entry = Construction(
            name=name,
            build=build,
            citation=citation,
            options=options,
            task=task,
            host=host,
            trial=trial,
            measure=measure,
            invalid=invalid,
            memory=memory,
            example=example,
        )
        CONSTRUCTIONS.add(entry, origin=sys._getframe(1).f_globals.get("__name__"))
        # a function attribute, read back by `resolve`: Callable cannot declare one
        build.construction = entry  # type: ignore[attr-defined]
        return build

    return decorate


def resolve(name: str) -> Construction:
    """A registered construction by name, or `package.module:function` (imported; the function
    registered with @construction, or a plain `build(key, X, y) -> (net, info)` without
    options)."""
    if name in CONSTRUCTIONS:
        return CONSTRUCTIONS.get(name)
    if ":" not in name:
        raise KeyError(
            f"unknown construction {name!r}; known: "
            f"{', '.join(CONSTRUCTIONS.names())} (or package.module:function)"
        )
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise KeyError(f"construction {name!r}: cannot import {module_name} ({err})") from None
    build = getattr(module, attribute, None)
    if not callable(build):
        raise KeyError(f"construction {name!r}: {module_name} has no function {attribute!r}")
    entry = getattr(build, "construction", None)
    if isinstance(entry, Construction):
        return entry
    return CONSTRUCTIONS.add(
        Construction(name=name, build=build, citation=name), origin=module_name
    )


def standard_info(net, info: dict) -> dict:
    """`info` with the standard keys filled in where the builder left them out: valid (True),
    and the parameter counts of a net that can count them (jaxmem.network.Network, an exact
    network, or a net with `param_count()` / `nonzero_param_count()` methods)."""
    from jaxmem import exact, network

    out = dict(info)
    out.setdefault("valid", True)
    if "param_count" not in out or "nonzero_param_count" not in out:
        counts: tuple[Any, Any] | None  # jax.Array counts, or ints for an exact network
        if isinstance(net, network.Network):
            counts = network.param_count(net), network.nonzero_param_count(net)
        elif isinstance(net, exact.ExactNetwork):
            counts = exact.param_count(net), exact.nonzero_param_count(net)
        elif hasattr(net, "param_count") and hasattr(net, "nonzero_param_count"):
            counts = net.param_count(), net.nonzero_param_count()
        else:
            counts = None
        if counts is not None:
            out.setdefault("param_count", counts[0])
            out.setdefault("nonzero_param_count", counts[1])
    return out


__all__ = [
    "CONSTRUCTIONS",
    "HypothesisError",
    "measure_host",
    "numpy_generator",
    "Construction",
    "Net",
    "Option",
    "STANDARD_INFO",
    "TASKS",
    "boolean",
    "construction",
    "in_open_interval",
    "nonnegative",
    "nonnegative_int",
    "one_of",
    "optional",
    "positive_int",
    "resolve",
    "standard_info",
]
