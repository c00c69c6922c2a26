"""A search space as independent dimensions: what the tuners sample, mutate, rank and learn over.

A search space in NNI's JSON format (DESIGN.md §3) is flattened into a list of *dimensions*
(`dimensions()`); a `mutable_layer` block contributes two per layer (the chosen layer, and the set
of chosen inputs), every other key one.

Coordinates: an `int` index for a finite dimension (`choice`, a layer's candidates, its input sets,
`randint`, `quniform`, `qloguniform`), the value itself (a `float`) for an infinite one (`uniform`,
`loguniform`, `normal`, `lognormal`, `qnormal`, `qlognormal`). The generators are numpy's
(`numpy.random.Generator`); numpy itself is imported only where a draw needs it.

>>> import numpy as np
>>> dims = dimensions({"m/units/randint": {"_type": "randint", "_value": [16, 64]}})
>>> dims[0].size, dims[0].value(dims[0].sample(np.random.default_rng(0))) in range(16, 64)
(48, True)
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nasctl.searchspace._equality import json_equal
from nasctl.searchspace._errors import SearchSpaceError
from nasctl.searchspace._types import MUTABLE_LAYER

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_CATEGORIES",
    "Continuous",
    "Dimension",
    "InputSet",
    "Options",
    "Quantized",
    "RandInt",
    "dimensions",
    "randbelow",
]

MAX_CATEGORIES = 1000
"""A finite dimension with more options than this is not `categorical`: a learner handles it
through its quantiles (`from_unit`/`to_unit`), like a continuous one."""

_UNIT_EPS = 1e-12


@functools.cache
def _standard_normal() -> Any:
    from statistics import NormalDist  # here: `statistics` imports `random`, which `import nas` avoids

    return NormalDist()


def randbelow(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in [0, n), for any n (input sets of many inputs exceed 64 bits)."""
    if n < 2**62:
        return int(rng.integers(n))
    import numpy as np

    bits = n.bit_length()
    while True:
        words = rng.integers(0, 2**32, size=(bits + 31) // 32, dtype=np.uint64)
        value = int("".join(f"{int(w):032b}" for w in words), 2) >> (32 * len(words) - bits)
        if value < n:
            return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Dimension:
    """One independent decision of a search space.

    `key` is the search-space key, `layer` the layer key inside a block (or None), `part` is
    `"chosen_layer"`, `"chosen_inputs"` or `"value"`, `type` the NNI `_type` (`layer_choice` and
    `input_choice` for the two parts of a layer). `size` is the number of options, None when the
    dimension is continuous or unbounded.
    """

    type: str = ""
    size: int | None = None

    def __init__(self, key: str, layer: str | None = None, part: str = "value") -> None:
        self.key = key
        self.layer = layer
        self.part = part

    @property
    def name(self) -> str:
        """A unique, readable name: the key, or `<block>/<layer>/<part>` inside a block."""
        return self.key if self.layer is None else f"{self.key}/{self.layer}/{self.part}"

    @property
    def finite(self) -> bool:
        return self.size is not None

    @property
    def categorical(self) -> bool:
        """Whether a learner should model this dimension as one categorical over its options."""
        return self.size is not None and self.size <= MAX_CATEGORIES

    def sample(self, rng: np.random.Generator) -> Any:
        """A coordinate drawn from the dimension's prior (NNI's semantics)."""
        return randbelow(rng, self.size)

    def mutate(self, coordinate: Any, rng: np.random.Generator) -> Any:
        """A coordinate different from `coordinate` (a fresh prior draw when infinite)."""
        assert self.size is not None and self.size > 1
        other = randbelow(rng, self.size - 1)
        return other + 1 if other >= coordinate else other

    def value(self, coordinate: Any) -> Any:
        """The architecture's value for a coordinate."""
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        """The coordinate of an architecture's value; `ValueError` saying why when it is not one."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        """The coordinate at quantile `u` of the prior (0 < u < 1)."""
        assert self.size is not None
        return min(int(u * self.size), self.size - 1)

    def to_unit(self, coordinate: Any) -> float:
        """The quantile of a coordinate under the prior (inverse of `from_unit`)."""
        assert self.size is not None
        return (coordinate + 0.5) / self.size

    def describe(self) -> str:
        return f"{self.type} of {self.size} options" if self.finite else self.type

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.describe()}>"


class Options(Dimension):
    """A `choice`, or a layer's `layer_choice`: one of a list of JSON values."""

    def __init__(self, key: str, options: list[Any], type_: str, layer: str | None = None,
                 part: str = "value") -> None:
        super().__init__(key, layer, part)
        self.options = list(options)
        self.type = type_
        self.size = len(self.options)

    def value(self, coordinate: int) -> Any:
        return copy.deepcopy(self.options[coordinate])

    def encode(self, value: Any) -> int:
        for index, option in enumerate(self.options):
            if json_equal(option, value):
                return index
        shown = ", ".join(repr(o) for o in self.options[:10]) + (", ..." if self.size > 10 else "")
        raise ValueError(f"{value!r} is not one of the options [{shown}]")


class InputSet(Dimension):
    """A layer's chosen inputs: a set of distinct `optional_inputs`, of a size in [low, high].

    Options are ordered by size, then lexicographically by position; each is listed in the order
    of `optional_inputs`. They are ranked and unranked arithmetically, never listed.
    """

    type = "input_choice"

    def __init__(self, key: str, layer: str, inputs: list[str], low: int, high: int) -> None:
        super().__init__(key, layer, "chosen_inputs")
        self.inputs = list(inputs)
        self.low, self.high = low, high
        n = len(self.inputs)
        self._counts = [math.comb(n, k) for k in range(low, high + 1)]
        self.size = sum(self._counts)

    def value(self, coordinate: int) -> list[str]:
        n, rest = len(self.inputs), coordinate
        k = self.low
        while rest >= self._counts[k - self.low]:
            rest -= self._counts[k - self.low]
            k += 1
        chosen: list[int] = []
        position = 0
        for slot in range(k):
            while True:
                below = math.comb(n - position - 1, k - slot - 1)
                if rest < below:
                    chosen.append(position)
                    position += 1
                    break
                rest -= below
                position += 1
        return [self.inputs[i] for i in chosen]

    def encode(self, value: Any) -> int:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"chosen_inputs must be a list of input labels, got {value!r}")
        unknown = [v for v in value if v not in self.inputs]
        if unknown:
            raise ValueError(f"chosen input {unknown[0]!r} is not one of the optional_inputs {self.inputs}")
        if len(set(value)) != len(value):
            raise ValueError(f"chosen_inputs {list(value)} repeats an input")
        k = len(value)
        if not self.low <= k <= self.high:
            raise ValueError(f"{k} chosen inputs {list(value)}, but optional_input_size allows "
                             f"{self.low}" + ("" if self.low == self.high else f" to {self.high}"))
        n = len(self.inputs)
        rank = sum(self._counts[: k - self.low])
        positions = sorted(self.inputs.index(v) for v in value)
        previous = -1
        for slot, position in enumerate(positions):
            for skipped in range(previous + 1, position):
                rank += math.comb(n - skipped - 1, k - slot - 1)
            previous = position
        return rank

    def describe(self) -> str:
        return f"{self.size} sets of {self.low}..{self.high} of {self.inputs}"


class RandInt(Dimension):
    """`randint [lower, upper)`: an integer, `upper` excluded (NNI's semantics)."""

    type = "randint"

    def __init__(self, key: str, lower: int, upper: int) -> None:
        super().__init__(key)
        self.lower, self.upper = lower, upper
        self.size = upper - lower

    def value(self, coordinate: int) -> int:
        return self.lower + coordinate

    def encode(self, value: Any) -> int:
        if not _is_number(value) or float(value) != int(value):
            raise ValueError(f"randint value must be an integer, got {value!r}")
        if not self.lower <= int(value) < self.upper:
            raise ValueError(f"{value!r} is outside [{self.lower}, {self.upper})")
        return int(value) - self.lower


class Quantized(Dimension):
    """`quniform`/`qloguniform [low, high, q]`: `clip(round(x / q) * q, low, high)`, x uniform
    (resp. log-uniform) on [low, high]. Finite; option i is `clip((round(low / q) + i) * q)`."""

    def __init__(self, key: str, type_: str, low: float, high: float, q: float) -> None:
        super().__init__(key)
        self.type = type_
        self.low, self.high, self.q = low, high, q
        self.log = type_ == "qloguniform"
        self._kmin = int(round(low / q))
        self.size = int(round(high / q)) - self._kmin + 1

    def _x(self, u: float) -> float:
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def quantize_index(self, x: float) -> int:
        """The index of clip(round(x / q) * q, low, high)."""
        return min(max(int(round(x / self.q)) - self._kmin, 0), self.size - 1)

    def sample(self, rng: np.random.Generator) -> int:
        return self.quantize_index(self._x(float(rng.random())))

    def from_unit(self, u: float) -> int:
        return self.quantize_index(self._x(u))

    def to_unit(self, coordinate: int) -> float:
        v = self.value(coordinate)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def value(self, coordinate: int) -> float:
        return float(min(max((self._kmin + coordinate) * self.q, self.low), self.high))

    def encode(self, value: Any) -> int:
        if not _is_number(value):
            raise ValueError(f"{self.type} value must be a number, got {value!r}")
        guess = self.quantize_index(float(value))
        for index in (guess, guess - 1, guess + 1):
            if 0 <= index < self.size and math.isclose(self.value(index), float(value), rel_tol=1e-9,
                                                       abs_tol=1e-12 * max(1.0, abs(self.q))):
                return index
        raise ValueError(f"{value!r} is not a value of {self.type}({self.low}, {self.high}, {self.q})")


class Continuous(Dimension):
    """`uniform`, `loguniform`, `normal`, `lognormal` and the unbounded `qnormal`, `qlognormal`.

    The coordinate is the value itself. `from_unit` is the prior's inverse CDF, so a sampler that
    works on (0, 1) (a policy's bins, Optuna) keeps NNI's prior.
    """

    def __init__(self, key: str, type_: str, args: list[float]) -> None:
        super().__init__(key)
        self.type = type_
        self.args = [float(a) for a in args]
        self.q = self.args[2] if type_ in ("qnormal", "qlognormal") else None
        self.log = type_ in ("loguniform", "lognormal", "qlognormal")

    def _raw(self, u: float) -> float:
        a, b = self.args[0], self.args[1]
        u = min(max(u, _UNIT_EPS), 1.0 - _UNIT_EPS)
        if self.type == "uniform":
            return a + u * (b - a)
        if self.type == "loguniform":
            return math.exp(math.log(a) + u * (math.log(b) - math.log(a)))
        x = a + b * _standard_normal().inv_cdf(u)  # mu + sigma * Phi^-1(u)
        return math.exp(x) if self.log else x

    def _quantize(self, x: float) -> float:
        return float(round(x / self.q) * self.q) if self.q else float(x)

    def sample(self, rng: np.random.Generator) -> float:
        a, b = self.args[0], self.args[1]
        if self.type == "uniform":
            return float(rng.uniform(a, b))
        if self.type == "loguniform":
            return float(math.exp(rng.uniform(math.log(a), math.log(b))))
        x = float(rng.normal(a, b))
        return self._quantize(math.exp(x) if self.log else x)

    def mutate(self, coordinate: float, rng: np.random.Generator) -> float:
        for _ in range(100):
            new = self.sample(rng)
            if new != coordinate:
                return new
        return new

    def step(self, coordinate: float, k: int) -> float | None:
        """The value `k` steps away from `coordinate`: `k * q` for the q-types, a tiny relative step
        otherwise; None when that leaves the support."""
        a, b = self.args[0], self.args[1]
        if self.q:
            value = coordinate + k * self.q
            return None if self.log and value < 0 else value
        if self.log:  # loguniform, lognormal: a relative step keeps the value positive
            value = coordinate * (1.0 + 1e-9 * k)
        else:  # uniform: relative to its range; normal: relative to sigma
            value = coordinate + 1e-9 * k * ((b - a) if self.type == "uniform" else b)
        if self.type in ("uniform", "loguniform") and not a <= value <= b:
            return None
        return value

    def from_unit(self, u: float) -> float:
        return self._quantize(self._raw(u))

    def to_unit(self, coordinate: float) -> float:
        a, b = self.args[0], self.args[1]
        if self.type == "uniform":
            return (coordinate - a) / (b - a)
        if self.type == "loguniform":
            return (math.log(coordinate) - math.log(a)) / (math.log(b) - math.log(a))
        x = coordinate
        if self.log:
            x = math.log(max(coordinate, 1e-300))
        return min(max(_standard_normal().cdf((x - a) / b), _UNIT_EPS), 1.0 - _UNIT_EPS)

    def value(self, coordinate: float) -> float:
        return float(coordinate)

    def encode(self, value: Any) -> float:
        if not _is_number(value) or not math.isfinite(float(value)):
            raise ValueError(f"{self.type} value must be a finite number, got {value!r}")
        value = float(value)
        a, b = self.args[0], self.args[1]
        if self.type in ("uniform", "loguniform") and not a - 1e-12 * abs(a) <= value <= b + 1e-12 * abs(b):
            raise ValueError(f"{value!r} is outside [{a}, {b}]")
        if self.type == "lognormal" and value <= 0:
            raise ValueError(f"lognormal value must be positive, got {value!r}")
        if self.q and not math.isclose(value, self._quantize(value), abs_tol=1e-9 * max(1.0, abs(value))):
            raise ValueError(f"{value!r} is not a multiple of q={self.q}")
        return value

    def describe(self) -> str:
        return f"{self.type}{self.args}"


def _layer_input_size(key: str, layer: str, spec: Mapping[str, Any]) -> tuple[int, int]:
    inputs = spec.get("optional_inputs", [])
    size = spec.get("optional_input_size", [0, len(inputs)] if inputs else 0)
    low, high = (size, size) if isinstance(size, int) else (size[0], size[1])
    where = f"layer '{layer}': optional_input_size {size!r}"
    if low > high:
        raise SearchSpaceError(f"{where} has low > high", key)
    if high > len(inputs):
        raise SearchSpaceError(f"{where} asks for more inputs than the {len(inputs)} optional_inputs {inputs}", key)
    return low, high


def _check_unique(values: list[Any], what: str, key: str) -> None:
    for i, v in enumerate(values):
        if any(json_equal(v, w) for w in values[:i]):
            raise SearchSpaceError(f"{what} {v!r} appears twice; options must be distinct", key)


def _hyperparameter(key: str, type_: str, args: list[Any]) -> Dimension:
    if type_ == "choice":
        _check_unique(args, "choice option", key)
        return Options(key, args, "choice")
    where = f"{type_} {args}"
    if type_ == "randint":
        lower, upper = args
        if float(lower) != int(lower) or float(upper) != int(upper):
            raise SearchSpaceError(f"{where}: randint bounds must be integers", key)
        if int(upper) <= int(lower):
            raise SearchSpaceError(f"{where}: randint is [lower, upper) and needs upper > lower", key)
        return RandInt(key, int(lower), int(upper))
    if type_ in ("quniform", "qloguniform", "qnormal", "qlognormal") and args[2] <= 0:
        raise SearchSpaceError(f"{where}: q must be positive", key)
    if type_ in ("uniform", "quniform", "loguniform", "qloguniform"):
        low, high = args[0], args[1]
        if not low < high:
            raise SearchSpaceError(f"{where}: needs low < high", key)
        if type_ in ("loguniform", "qloguniform") and low <= 0:
            raise SearchSpaceError(f"{where}: {type_} needs low > 0 (it samples the exponent)", key)
        if type_ in ("quniform", "qloguniform"):
            return Quantized(key, type_, float(low), float(high), float(args[2]))
        return Continuous(key, type_, args)
    if args[1] <= 0:
        raise SearchSpaceError(f"{where}: sigma must be positive", key)
    return Continuous(key, type_, args)


def dimensions(search_space: Mapping[str, Any]) -> list[Dimension]:
    """The dimensions of a search space whose shape is valid (its JSON schema holds), in key order.

    Raises `SearchSpaceError` naming the key where the values do not make a search space: options
    that repeat, empty or inverted ranges, a non-positive `q`, `sigma` or log-range bound, more
    optional inputs asked for than there are.
    """
    dims: list[Dimension] = []
    for key, entry in search_space.items():
        type_, value = entry["_type"], entry["_value"]
        if type_ == MUTABLE_LAYER:
            for layer, spec in value.items():
                _check_unique(spec["layer_choice"], f"layer '{layer}': candidate", key)
                inputs = spec.get("optional_inputs", [])
                _check_unique(inputs, f"layer '{layer}': optional input", key)
                low, high = _layer_input_size(key, layer, spec)
                dims.append(Options(key, spec["layer_choice"], "layer_choice", layer, "chosen_layer"))
                dims.append(InputSet(key, layer, inputs, low, high))
        else:
            dims.append(_hyperparameter(key, type_, list(value)))
    return dims
