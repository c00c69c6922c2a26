"""A variable's rules: checking a value against its sampling type, and drawing one (NNI's semantics).

`randint` is `[lower, upper)`, the `q` types round to a multiple of `q` (and `quniform`/`qloguniform`
clip to their range), the `log` types sample the exponent. Every key gets its own generator derived
from the seed and the key (`key_random`), so a key's sample does not depend on which other keys exist
or in which order they are sampled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasctl.searchspace._equality import choice_index
from nasctl.searchspace._errors import ArchitectureError
from nasctl.searchspace._types import SAMPLING_TYPES

if TYPE_CHECKING:
    import random

__all__ = ["check_variable", "key_random", "sample_value"]


def key_random(seed: int, *key: str) -> random.Random:
    """The generator of one search-space key (a variable, or a block and a layer) for `seed`."""
    import random  # here: `import nas` stays cheap for a trial that samples nothing

    return random.Random("\x1f".join((str(seed), *key)))


def _number(key: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArchitectureError(f"{what} needs a number, got {value!r}", key)
    return value


def check_variable(key: str, type_: str, spec: Sequence[Any], value: Any) -> Any:
    """`value` for variable `key` of `type_` with `_value` `spec`, checked; ints for `randint`.

    A `choice` gives back its option as the search space spells it.

    >>> check_variable("m/n/randint", "randint", [1, 4], 3.0)
    3
    """
    if type_ == "choice":
        return spec[choice_index(key, spec, value)]
    if type_ not in SAMPLING_TYPES:
        raise ArchitectureError(f"unknown search-space type {type_!r}", key)
    number = _number(key, value, type_)
    if math.isnan(number):
        raise ArchitectureError(f"{type_} value is NaN", key)
    if type_ == "randint":
        low, high = spec[0], spec[1]
        if not float(number).is_integer() or not low <= number < high:
            raise ArchitectureError(f"randint value {value!r} is not an integer in [{low}, {high})", key)
        return int(number)
    if type_ in ("uniform", "quniform", "loguniform", "qloguniform"):
        low, high = spec[0], spec[1]
        slack = 1e-9 * max(1.0, abs(low), abs(high))
        if not low - slack <= number <= high + slack:
            raise ArchitectureError(f"{type_} value {value!r} is outside [{low}, {high}]", key)
    elif type_ in ("lognormal", "qlognormal") and number < 0:
        raise ArchitectureError(f"{type_} value {value!r} is negative", key)
    return value


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def sample_value(rng: random.Random, type_: str, spec: Sequence[Any]) -> Any:
    """One value of a variable of `type_` with `_value` `spec`, drawn from `rng` (NNI's semantics)."""
    if type_ == "choice":
        return spec[rng.randrange(len(spec))]
    if type_ == "randint":
        return rng.randrange(int(spec[0]), int(spec[1]))
    if type_ == "uniform":
        return rng.uniform(spec[0], spec[1])
    if type_ == "quniform":
        low, high, q = spec
        return _clip(round(rng.uniform(low, high) / q) * q, low, high)
    if type_ == "loguniform":
        return math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1])))
    if type_ == "qloguniform":
        low, high, q = spec
        return _clip(round(math.exp(rng.uniform(math.log(low), math.log(high))) / q) * q, low, high)
    if type_ == "normal":
        return rng.gauss(spec[0], spec[1])
    if type_ == "qnormal":
        mu, sigma, q = spec
        return round(rng.gauss(mu, sigma) / q) * q
    if type_ == "lognormal":
        return math.exp(rng.gauss(spec[0], spec[1]))
    if type_ == "qlognormal":
        mu, sigma, q = spec
        return round(math.exp(rng.gauss(mu, sigma)) / q) * q
    raise ValueError(f"unknown search-space type {type_!r}")
