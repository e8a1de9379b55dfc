"""Declared options (a construction's, a data family's): a default, a check that names the
problem, and whether a sweep traces the value. Kept apart from the constructions so that data
families and constructions can both declare options without importing each other."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Option:
    """A construction option: its default, its check, and whether a sweep traces it."""

    default: Any
    check: Callable[[Any, dict], None] | None = None
    traced: bool = False
    doc: str = ""


# Option checks: check(value, config) raises ValueError naming the option and the value.


def positive_int(name: str) -> Callable[[Any, dict], None]:
    def check(value, config):
        # Imported here: jaxmem.data's modules import this one.
        from jaxmem.data.validate import positive_int as check_positive_int

        check_positive_int(f"option {name}", value)

    return check


def nonnegative_int(name: str) -> Callable[[Any, dict], None]:
    def check(value, config):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"option {name} must be an integer >= 0; got {value!r}")

    return check


def boolean(name: str) -> Callable[[Any, dict], None]:
    def check(value, config):
        if not isinstance(value, bool):
            raise ValueError(f"option {name} must be true or false; got {value!r}")

    return check


def nonnegative(name: str) -> Callable[[Any, dict], None]:
    def check(value, config):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"option {name} must be a finite number >= 0; got {value!r}")

    return check


def in_open_interval(
    name: str, low: float, high: float, why: str = ""
) -> Callable[[Any, dict], None]:
    def check(value, config):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < high:
            raise ValueError(
                f"option {name} must lie in ({low}, {high})"
                + (f" {why}" if why else "")
                + f"; got {value!r}"
            )

    return check


def one_of(name: str, choices) -> Callable[[Any, dict], None]:
    def check(value, config):
        if value not in choices:
            raise ValueError(
                f"option {name} must be one of {', '.join(map(str, choices))}; got {value!r}"
            )

    return check


def optional(check: Callable[[Any, dict], None]) -> Callable[[Any, dict], None]:
    """`check`, except that None (the builder's own default) passes."""

    def checked(value, config):
        if value is not None:
            check(value, config)

    return checked


__all__ = [
    "Option",
    "boolean",
    "in_open_interval",
    "nonnegative",
    "nonnegative_int",
    "one_of",
    "optional",
    "positive_int",
]
