"""The search spaces, the toy objective, the driver and the proposal checker of the tuner kit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from nasctl.schemas import SchemaError

from nasctl import schemas

from .._base import Tuner
from ._errors import TunerConformanceError

__all__ = ["BLOCK", "MIXED_SPACE", "BOUNDED_SPACE", "FINITE_SPACE", "FINITE_SIZE", "LARGE_INPUT_SPACE",
           "objective", "drive", "check_proposal"]

BLOCK = "m/Net.forward/h1"
_LAYERS = {
    "h1": {"layer_choice": ["conv(3)", "conv(5)", "pool(3)"], "optional_inputs": ["skip1", "skip2"],
           "optional_input_size": [0, 1]},
    "h2": {"layer_choice": ["relu()", "tanh()"], "optional_inputs": [], "optional_input_size": 0},
    "h3": {"layer_choice": ["a()", "b()"], "optional_inputs": ["x", "h1", "h2"], "optional_input_size": 2},
}
_BOUNDED_HYPERPARAMETERS = {
    "m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
    "m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]},
    "m/units/randint": {"_type": "randint", "_value": [2, 6]},
    "m/dropout/uniform": {"_type": "uniform", "_value": [0.1, 0.5]},
    "m/batch/quniform": {"_type": "quniform", "_value": [16, 64, 16]},
    "m/wd/loguniform": {"_type": "loguniform", "_value": [1e-5, 1e-2]},
    "m/emb/qloguniform": {"_type": "qloguniform", "_value": [8, 64, 8]},
}
_UNBOUNDED_HYPERPARAMETERS = {
    "m/bias/normal": {"_type": "normal", "_value": [0.0, 1.0]},
    "m/shift/qnormal": {"_type": "qnormal", "_value": [0.0, 2.0, 0.5]},
    "m/scale/lognormal": {"_type": "lognormal", "_value": [0.0, 0.5]},
    "m/steps/qlognormal": {"_type": "qlognormal", "_value": [2.0, 0.5, 1.0]},
}
MIXED_SPACE: dict[str, Any] = {BLOCK: {"_type": "mutable_layer", "_value": _LAYERS}, **_BOUNDED_HYPERPARAMETERS,
                               **_UNBOUNDED_HYPERPARAMETERS}
"""Every `_type`, a block with an int and a ranged optional_input_size: an infinite space."""

BOUNDED_SPACE: dict[str, Any] = {BLOCK: {"_type": "mutable_layer", "_value": _LAYERS}, **_BOUNDED_HYPERPARAMETERS}
"""MIXED_SPACE without the unbounded normal family (for a tuner that needs bounds, like a grid)."""

FINITE_SPACE: dict[str, Any] = {
    "f/cell/a": {"_type": "mutable_layer", "_value": {
        "a": {"layer_choice": ["op1()", "op2()"], "optional_inputs": ["x", "y"], "optional_input_size": [0, 2]},
    }},
    "f/k/randint": {"_type": "randint", "_value": [0, 3]},
    "f/q/quniform": {"_type": "quniform", "_value": [0.0, 1.0, 0.5]},
}
"""2 layers x 4 input sets x 3 ints x 3 quantised values = 72 architectures."""
FINITE_SIZE = 72

LARGE_INPUT_SPACE: dict[str, Any] = {"b": {"_type": "mutable_layer", "_value": {"l": {
    "layer_choice": ["f()", "g()"], "optional_inputs": [f"i{j}" for j in range(12)], "optional_input_size": [0, 12]}}}}
"""One layer with 4096 input sets: past any categorical limit, so a learner must use quantiles."""


def objective(arch: Mapping[str, Any]) -> float:
    """A deterministic toy metric of an architecture of the kit's spaces, for driving tuners."""
    layers = arch[BLOCK] if BLOCK in arch else arch.get("f/cell/a", {})
    score = sum(len(layer["chosen_layer"]) + 0.5 * len(layer["chosen_inputs"]) for layer in layers.values())
    for value in arch.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            score += math.tanh(float(value)) * 0.1
    return score


def drive(tuner: Tuner, n: int, start: int = 0,
          metric: Callable[[dict[str, Any]], float] = objective) -> list[dict[str, Any]]:
    """Run `n` trials one after the other (ids from `start`), each reporting `metric`; the proposals.

    >>> from nasctl import tuners
    >>> tuner = tuners.create("Random", seed=0)
    >>> tuner.update_search_space(FINITE_SPACE)
    >>> len(drive(tuner, 3))
    3
    """
    proposals = []
    for parameter_id in range(start, start + n):
        parameters = tuner.generate_parameters(parameter_id)
        tuner.receive_trial_result(parameter_id, parameters, metric(parameters))
        tuner.trial_end(parameter_id, True)
        proposals.append(parameters)
    return proposals


def check_proposal(space: Mapping[str, Any], arch: Any, where: str = "a proposal") -> None:
    """Raise `TunerConformanceError` unless `arch` is an architecture of `space` (NNI's semantics of
    every `_type`, DESIGN.md §3); the message names `where`, the key and what is wrong.

    >>> check_proposal(FINITE_SPACE, {"f/cell/a": {"a": {"chosen_layer": "op1()", "chosen_inputs": []}},
    ...                               "f/k/randint": 3, "f/q/quniform": 0.5})
    Traceback (most recent call last):
    ...
    nasctl.tuners.testing._errors.TunerConformanceError: a proposal: key 'f/k/randint': 3 is not an int in [0, 3)
    """
    def fail(key: str | None, what: str) -> None:
        raise TunerConformanceError(f"{where}: key {key!r}: {what}" if key else f"{where}: {what}")

    if not isinstance(arch, Mapping):
        fail(None, f"expected a dict (an architecture), got {type(arch).__name__}")
    try:
        schemas.validate("architecture", arch)
    except SchemaError as error:
        fail(None, f"not an architecture (DESIGN.md §3): {error}")
    if set(arch) != set(space):
        fail(None, f"its keys differ from the search space's: missing {sorted(set(space) - set(arch))}, "
                   f"extra {sorted(set(arch) - set(space))}")
    for key, entry in space.items():
        type_, args, value = entry["_type"], entry["_value"], arch[key]
        if type_ == "mutable_layer":
            _check_layers(key, args, value, fail)
        elif type_ == "choice":
            if not any(value == a and type(value) is type(a) for a in args):
                fail(key, f"{value!r} is not one of {args!r}")
        elif type_ == "randint":
            if isinstance(value, bool) or not isinstance(value, int) or not args[0] <= value < args[1]:
                fail(key, f"{value!r} is not an int in [{args[0]}, {args[1]})")
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            fail(key, f"{value!r} is not a finite number")
        elif type_ in ("uniform", "loguniform") and not args[0] <= value <= args[1]:
            fail(key, f"{value!r} is outside [{args[0]}, {args[1]}]")
        elif type_ in ("quniform", "qloguniform"):
            low, high, q = args
            on_grid = value in (low, high) or math.isclose(value / q, round(value / q), abs_tol=1e-9)
            if not (low <= value <= high and on_grid):
                fail(key, f"{value!r} is not a multiple of {q} in [{low}, {high}]")
        elif type_ in ("qnormal", "qlognormal"):
            if not math.isclose(value / args[2], round(value / args[2]), abs_tol=1e-9):
                fail(key, f"{value!r} is not a multiple of {args[2]}")
            if type_ == "qlognormal" and value < 0:
                fail(key, f"{value!r} is negative")
        elif type_ == "lognormal" and value <= 0:
            fail(key, f"{value!r} is not positive")


def _check_layers(key: str, layers: Mapping[str, Any], value: Any, fail: Callable[[str, str], None]) -> None:
    if not isinstance(value, Mapping):
        fail(key, f"{value!r} is not a dict of layers")
    if set(value) != set(layers):
        fail(key, f"layers {sorted(value)} differ from the block's {sorted(layers)}")
    for layer, spec in layers.items():
        chosen = value[layer]
        if not isinstance(chosen, Mapping) or set(chosen) != {"chosen_layer", "chosen_inputs"} \
                or not isinstance(chosen["chosen_inputs"], list):
            fail(key, f"layer {layer!r}: {chosen!r} is not {{'chosen_layer': label, 'chosen_inputs': [names]}}")
        if chosen["chosen_layer"] not in spec["layer_choice"]:
            fail(key, f"layer {layer!r}: chosen_layer {chosen['chosen_layer']!r} is not one of {spec['layer_choice']}")
        inputs = spec.get("optional_inputs", [])
        size = spec.get("optional_input_size", 0)
        low, high = (size, size) if isinstance(size, int) else size
        picked = chosen["chosen_inputs"]
        if not low <= len(picked) <= high or len(set(picked)) != len(picked):
            fail(key, f"layer {layer!r}: chosen_inputs {picked} is not {low} to {high} distinct names")
        if picked != [name for name in inputs if name in picked]:
            fail(key, f"layer {layer!r}: chosen_inputs {picked} are not optional inputs {inputs} in their order")
