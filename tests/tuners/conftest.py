"""Shared fixtures of the tuner tests: search spaces, the built-ins, and a checker for proposals."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nasctl import schemas, tuners

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "benchmarks" / "data"

BLOCK = "m/Net.forward/h1"
LAYERS = {
    "h1": {"layer_choice": ["conv(3)", "conv(5)", "pool(3)"], "optional_inputs": ["skip1", "skip2"],
           "optional_input_size": [0, 1]},
    "h2": {"layer_choice": ["relu()", "tanh()"], "optional_inputs": [], "optional_input_size": 0},
    "h3": {"layer_choice": ["a()", "b()"], "optional_inputs": ["x", "h1", "h2"], "optional_input_size": 2},
}
BOUNDED_HYPERPARAMETERS = {
    "m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
    "m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]},
    "m/units/randint": {"_type": "randint", "_value": [2, 6]},
    "m/dropout/uniform": {"_type": "uniform", "_value": [0.1, 0.5]},
    "m/batch/quniform": {"_type": "quniform", "_value": [16, 64, 16]},
    "m/wd/loguniform": {"_type": "loguniform", "_value": [1e-5, 1e-2]},
    "m/emb/qloguniform": {"_type": "qloguniform", "_value": [8, 64, 8]},
}
UNBOUNDED_HYPERPARAMETERS = {
    "m/bias/normal": {"_type": "normal", "_value": [0.0, 1.0]},
    "m/shift/qnormal": {"_type": "qnormal", "_value": [0.0, 2.0, 0.5]},
    "m/scale/lognormal": {"_type": "lognormal", "_value": [0.0, 0.5]},
    "m/steps/qlognormal": {"_type": "qlognormal", "_value": [2.0, 0.5, 1.0]},
}
MIXED_SPACE = {BLOCK: {"_type": "mutable_layer", "_value": LAYERS}, **BOUNDED_HYPERPARAMETERS,
               **UNBOUNDED_HYPERPARAMETERS}
"""Every `_type`, a block with an int and a ranged optional_input_size: an infinite space."""

BOUNDED_SPACE = {BLOCK: {"_type": "mutable_layer", "_value": LAYERS}, **BOUNDED_HYPERPARAMETERS}
"""MIXED_SPACE without the unbounded normal family (what GridSearch can quantise)."""

FINITE_SPACE = {
    "f/cell/a": {"_type": "mutable_layer", "_value": {
        "a": {"layer_choice": ["op1()", "op2()"], "optional_inputs": ["x", "y"], "optional_input_size": [0, 2]},
    }},
    "f/k/randint": {"_type": "randint", "_value": [0, 3]},
    "f/q/quniform": {"_type": "quniform", "_value": [0.0, 1.0, 0.5]},
}
"""2 layers x 4 input sets x 3 ints x 3 quantised values = 72 architectures."""
FINITE_SIZE = 72

BUILTIN_FACTORIES: dict[str, Callable[..., tuners.Tuner]] = {
    "Random": lambda **kw: tuners.create("Random", **kw),
    "GridSearch": lambda **kw: tuners.create("GridSearch", continuous_points=3, **kw),
    "Evolution": lambda **kw: tuners.create("Evolution", population_size=6, sample_size=3, **kw),
    "TPE": lambda **kw: tuners.create("TPE", **kw),
    "Reinforce": lambda **kw: tuners.create("Reinforce", **kw),
    "PPO": lambda **kw: tuners.create("PPO", trials_per_update=4, minibatch_size=2, **kw),
}


class Builtin:
    """A built-in tuner under test: `make(**class_args)` and the richest space it accepts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.make = BUILTIN_FACTORIES[name]
        self.space = BOUNDED_SPACE if name == "GridSearch" else MIXED_SPACE


@pytest.fixture(params=list(BUILTIN_FACTORIES))
def builtin(request: pytest.FixtureRequest) -> Builtin:
    return Builtin(request.param)


def objective(arch: dict[str, Any]) -> float:
    """A deterministic toy metric of an architecture, for driving tuners."""
    layers = arch[BLOCK] if BLOCK in arch else arch.get("f/cell/a", {})
    score = sum(len(layer["chosen_layer"]) + 0.5 * len(layer["chosen_inputs"]) for layer in layers.values())
    for value in arch.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            score += math.tanh(float(value)) * 0.1
    return score


def drive(tuner: tuners.Tuner, n: int, start: int = 0, metric: Callable[[dict], float] = objective) -> list[dict]:
    """`n` trials with results, ids from `start`; the proposals."""
    proposals = []
    for parameter_id in range(start, start + n):
        parameters = tuner.generate_parameters(parameter_id)
        tuner.receive_trial_result(parameter_id, parameters, metric(parameters))
        tuner.trial_end(parameter_id, True)
        proposals.append(parameters)
    return proposals


def check_proposal(space: dict[str, Any], arch: dict[str, Any]) -> None:
    """Assert that `arch` is a valid architecture of `space`, with NNI's semantics for every type."""
    schemas.validate("architecture", arch)
    assert set(arch) == set(space)
    for key, entry in space.items():
        type_, args, value = entry["_type"], entry["_value"], arch[key]
        if type_ == "mutable_layer":
            assert set(value) == set(args)
            for layer, spec in args.items():
                chosen = value[layer]
                assert chosen["chosen_layer"] in spec["layer_choice"]
                inputs = spec.get("optional_inputs", [])
                size = spec.get("optional_input_size", 0)
                low, high = (size, size) if isinstance(size, int) else size
                assert low <= len(chosen["chosen_inputs"]) <= high
                assert len(set(chosen["chosen_inputs"])) == len(chosen["chosen_inputs"])
                assert chosen["chosen_inputs"] == [i for i in inputs if i in chosen["chosen_inputs"]]
        elif type_ == "choice":
            assert value in args and type(value) in {type(a) for a in args if a == value}
        elif type_ == "randint":
            assert isinstance(value, int) and args[0] <= value < args[1]
        elif type_ in ("uniform", "loguniform"):
            assert args[0] <= value <= args[1]
        elif type_ in ("quniform", "qloguniform"):
            low, high, q = args
            assert low <= value <= high
            assert value in (low, high) or math.isclose(value / q, round(value / q), abs_tol=1e-9)
        elif type_ in ("qnormal", "qlognormal"):
            assert math.isclose(value / args[2], round(value / args[2]), abs_tol=1e-9)
            if type_ == "qlognormal":
                assert value >= 0
        elif type_ == "lognormal":
            assert value > 0
        else:
            assert isinstance(value, float) and math.isfinite(value)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The shared spaces and helpers (test files cannot import each other under importlib mode)."""
    return SimpleNamespace(
        REPO=REPO, DATA=DATA, BLOCK=BLOCK, MIXED_SPACE=MIXED_SPACE, BOUNDED_SPACE=BOUNDED_SPACE,
        FINITE_SPACE=FINITE_SPACE, FINITE_SIZE=FINITE_SIZE, objective=objective, drive=drive,
        check_proposal=check_proposal, Builtin=Builtin, BUILTIN_NAMES=list(BUILTIN_FACTORIES))
