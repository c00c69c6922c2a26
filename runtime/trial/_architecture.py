"""Architectures against search spaces: sampling one with a seed, validating one, reading one from a file.

NNI's semantics for the sampling types (`randint` is `[lower, upper)`, the `q` types round to a
multiple of `q` and clip to the range, `log` types sample the exponent). Every key gets its own
random generator derived from the seed and the key, so a key's sample does not depend on which other
keys exist or in which order they are sampled: `sample_architecture(space, 3)[k]` is what a trial
that samples `k` on demand with seed 3 gets.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ArchitectureError

__all__ = [
    "check_layer_choice",
    "check_variable",
    "choice_index",
    "find_label",
    "key_random",
    "load_architecture_file",
    "sample_architecture",
    "sample_layer",
    "sample_variable",
    "validate_architecture",
]

VARIABLE_TYPES = ("choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal",
                  "qnormal", "lognormal", "qlognormal")


def key_random(seed: int, *key: str) -> random.Random:
    """The generator of one search-space key (a variable, or a block and a layer) for `seed`."""
    return random.Random("\x1f".join((str(seed), *key)))


def input_size_bounds(size: Any, n_inputs: int, key: str, layer_key: str) -> tuple[int, int]:
    """`optional_input_size` (an int or `[low, high]`) as `(low, high)`, checked against `n_inputs`."""
    if isinstance(size, int) and not isinstance(size, bool):
        low = high = size
    elif (isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in size)):
        low, high = size
    else:
        raise ArchitectureError(
            f"layer '{layer_key}': optional_input_size must be an int or [low, high], got {size!r}", key)
    if not 0 <= low <= high <= n_inputs:
        raise ArchitectureError(
            f"layer '{layer_key}': optional_input_size {size!r} does not fit its {n_inputs} optional input(s)",
            key)
    return low, high


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `1 == 1.0`, but `True` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    try:
        return bool(a == b)
    except Exception:  # an option whose __eq__ does not return a bool (an array)
        return a is b


@functools.lru_cache(maxsize=4096)
def _expression(text: str) -> str | None:
    """The parsed form of a label's source text (None if it is not an expression)."""
    try:
        return ast.dump(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _same_source(label: Any, value: Any) -> bool:
    """Whether two labels are the same source text up to layout: `avg_pool(h, 2)` is `avg_pool(h,2)`
    and `(5 * 6)` (NNI's printing) is `5*6`."""
    if not (isinstance(label, str) and isinstance(value, str)):
        return False
    parsed = _expression(label)
    return parsed is not None and parsed == _expression(value)


def find_label(labels: Sequence[Any], value: Any) -> int | None:
    """The index of `value` among `labels`: the same JSON value, else the same source text."""
    for index, label in enumerate(labels):
        if _same(label, value):
            return index
    for index, label in enumerate(labels):
        if _same_source(label, value):
            return index
    return None


def choice_index(key: str, labels: Sequence[Any], value: Any) -> int:
    """The index of `value` among a choice's `labels`; ArchitectureError naming `key` if it is none."""
    index = find_label(labels, value)
    if index is not None:
        return index
    shown = ", ".join(json.dumps(label) if _is_json(label) else repr(label) for label in labels)
    raise ArchitectureError(f"{json.dumps(value) if _is_json(value) else repr(value)} is not one of the "
                            f"choices [{shown}]", key)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _number(key: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArchitectureError(f"{what} needs a number, got {value!r}", key)
    return value


def check_variable(key: str, type_: str, spec: Sequence[Any], value: Any) -> Any:
    """`value` for variable `key` of `type_` with `_value` `spec`, checked; ints for `randint`."""
    if type_ == "choice":
        return spec[choice_index(key, spec, value)]
    if type_ not in VARIABLE_TYPES:
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


def sample_variable(rng: random.Random, type_: str, spec: Sequence[Any]) -> Any:
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


def sample_layer(rng: random.Random, labels: Sequence[str], input_labels: Sequence[str], size: Any,
                 key: str = "", layer_key: str = "") -> dict[str, Any]:
    """A uniformly chosen candidate and input set for one layer (inputs in the search space's order)."""
    low, high = input_size_bounds(size, len(input_labels), key, layer_key)
    chosen_layer = labels[rng.randrange(len(labels))]
    count = rng.randint(low, high)
    picked = sorted(rng.sample(range(len(input_labels)), count))
    return {"chosen_layer": chosen_layer, "chosen_inputs": [input_labels[i] for i in picked]}


def sample_architecture(search_space: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """A random architecture of `search_space` (NNI's JSON format): uniform choices, NNI's distributions.

    >>> sample_architecture({"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]}}, seed=1)
    {'m/lr/choice': 0.01}
    """
    architecture: dict[str, Any] = {}
    for key, entry in search_space.items():
        type_, spec = entry["_type"], entry["_value"]
        if type_ == "mutable_layer":
            architecture[key] = {
                layer_key: sample_layer(key_random(seed, key, layer_key), layer["layer_choice"],
                                        layer.get("optional_inputs", []), layer.get("optional_input_size", 0),
                                        key, layer_key)
                for layer_key, layer in spec.items()
            }
        else:
            architecture[key] = sample_variable(key_random(seed, key), type_, spec)
    return architecture


def check_layer_choice(key: str, layer_key: str, labels: Sequence[str], input_labels: Sequence[str],
                       size: Any, entry: Any) -> tuple[str, tuple[str, ...]]:
    """`entry` (`{"chosen_layer", "chosen_inputs"}`) checked against one layer; `(label, inputs)`."""
    where = f"layer '{layer_key}'"
    if not isinstance(entry, Mapping):
        raise ArchitectureError(f"{where}: expected {{\"chosen_layer\": ..., \"chosen_inputs\": [...]}}, "
                                f"got {entry!r}", key)
    unknown = sorted(set(entry) - {"chosen_layer", "chosen_inputs"})
    if unknown:
        raise ArchitectureError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}", key)
    label = entry.get("chosen_layer")
    found = find_label(labels, label) if isinstance(label, str) else None
    if found is None:
        raise ArchitectureError(f"{where}: chosen_layer {label!r} is not one of its candidates "
                                f"{list(labels)}", key)
    label = labels[found]
    chosen = entry.get("chosen_inputs", [])
    if not isinstance(chosen, Sequence) or isinstance(chosen, str):
        raise ArchitectureError(f"{where}: chosen_inputs must be a list of input names, got {chosen!r}", key)
    canonical = []
    for name in chosen:
        found = find_label(input_labels, name) if isinstance(name, str) else None
        if found is None:
            raise ArchitectureError(f"{where}: chosen input {name!r} is not one of its optional_inputs "
                                    f"{list(input_labels)}", key)
        canonical.append(input_labels[found])
    chosen = canonical
    if len(set(chosen)) != len(chosen):
        raise ArchitectureError(f"{where}: chosen_inputs {list(chosen)} name an input twice", key)
    low, high = input_size_bounds(size, len(input_labels), key, layer_key)
    if not low <= len(chosen) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise ArchitectureError(f"{where}: {len(chosen)} chosen input(s) {list(chosen)}, but "
                                f"optional_input_size allows {wanted}", key)
    return label, tuple(chosen)


def validate_architecture(architecture: Any, search_space: Mapping[str, Any], *, partial: bool = False,
                          source: str | None = None) -> None:
    """Raise ArchitectureError naming the key where `architecture` does not fit `search_space`.

    Checks unknown keys, candidates and inputs that do not exist, the number of chosen inputs, and
    variable values against their type and range. With `partial`, keys of the space may be missing
    (a trial that samples or is told the rest). `source` (a file name) prefixes the message.
    """
    try:
        _validate(architecture, search_space, partial)
    except ArchitectureError as error:
        if source is None:
            raise
        located = ArchitectureError(f"{source}: {error}")
        located.key = error.key
        raise located from None


def _validate(architecture: Any, search_space: Mapping[str, Any], partial: bool) -> None:
    if not isinstance(architecture, Mapping):
        raise ArchitectureError(f"an architecture is a JSON object of search-space keys, got {architecture!r}")
    for key, value in architecture.items():
        entry = search_space.get(key)
        if entry is None:
            raise ArchitectureError(f"not in the search space (its keys: {', '.join(sorted(search_space))})", key)
        type_, spec = entry["_type"], entry["_value"]
        if type_ != "mutable_layer":
            check_variable(key, type_, spec, value)
            continue
        if not isinstance(value, Mapping):
            raise ArchitectureError(f"a mutable_layer block needs an object of layers, got {value!r}", key)
        for layer_key, choice in value.items():
            layer = spec.get(layer_key)
            if layer is None:
                raise ArchitectureError(f"layer '{layer_key}' is not in this block (its layers: "
                                        f"{', '.join(spec)})", key)
            check_layer_choice(key, layer_key, layer["layer_choice"], layer.get("optional_inputs", []),
                               layer.get("optional_input_size", 0), choice)
        missing = [layer_key for layer_key in spec if layer_key not in value]
        if missing and not partial:
            raise ArchitectureError(f"no choice for layer(s) {', '.join(missing)}", key)
    if not partial:
        missing = [key for key in search_space if key not in architecture]
        if missing:
            raise ArchitectureError(f"the architecture has no value for search-space key(s) "
                                    f"{', '.join(missing)}", missing[0])


def load_architecture_file(path: str | Path) -> dict[str, Any]:
    """An architecture JSON file, read and checked against `schemas/architecture.schema.json`."""
    from nasctl import schemas

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ArchitectureError(f"cannot read architecture file {str(path)!r}: {error}") from None
    try:
        architecture = json.loads(text)
    except json.JSONDecodeError as error:
        raise ArchitectureError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    schemas.validate("architecture", architecture, source=str(path))
    return architecture
