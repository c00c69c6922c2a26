"""Shared fixtures of the tuner tests: the built-ins, and the spaces and helpers of `nasctl.tuners.testing`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from nasctl.tuners.testing import (
    BLOCK,
    BOUNDED_SPACE,
    FINITE_SIZE,
    FINITE_SPACE,
    MIXED_SPACE,
    check_proposal,
    drive,
    objective,
)

from nasctl import tuners

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "benchmarks" / "data"

BUILTIN_FACTORIES: dict[str, Callable[..., tuners.Tuner]] = {
    "Random": lambda **kw: tuners.create("Random", **kw),
    "GridSearch": lambda **kw: tuners.create("GridSearch", continuous_points=3, **kw),
    "Evolution": lambda **kw: tuners.create("Evolution", population_size=6, sample_size=3, **kw),
    "TPE": lambda **kw: tuners.create("TPE", **kw),
    "Reinforce": lambda **kw: tuners.create("Reinforce", **kw),
    "PPO": lambda **kw: tuners.create("PPO", trials_per_update=4, minibatch_size=2, **kw),
}
EXCLUDED = {"ENAS": "the enas-mode controller repeats subgraphs on purpose and never runs out"}
"""Built-ins the conformance kit does not apply to, with the reason."""


class Builtin:
    """A built-in tuner under test: `make(**class_args)` and the richest space it accepts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.make = BUILTIN_FACTORIES[name]
        self.space = BOUNDED_SPACE if name == "GridSearch" else MIXED_SPACE
        self.skip = {"different_seeds_differ": "the grid's order does not depend on the seed"} \
            if name == "GridSearch" else {}


@pytest.fixture(params=list(BUILTIN_FACTORIES))
def builtin(request: pytest.FixtureRequest) -> Builtin:
    return Builtin(request.param)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The shared spaces and helpers (test files cannot import each other under importlib mode)."""
    return SimpleNamespace(
        REPO=REPO, DATA=DATA, BLOCK=BLOCK, MIXED_SPACE=MIXED_SPACE, BOUNDED_SPACE=BOUNDED_SPACE,
        FINITE_SPACE=FINITE_SPACE, FINITE_SIZE=FINITE_SIZE, objective=objective, drive=drive,
        check_proposal=check_proposal, Builtin=Builtin, BUILTIN_NAMES=list(BUILTIN_FACTORIES), EXCLUDED=EXCLUDED)
