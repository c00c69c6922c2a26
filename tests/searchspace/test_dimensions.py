"""The tuners' view of a space: dimensions, their coordinates, values and priors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasctl.searchspace import (
    Continuous,
    InputSet,
    Options,
    Quantized,
    RandInt,
    SearchSpaceError,
    dimensions,
    randbelow,
)

SPACE = {
    "b": {"_type": "mutable_layer", "_value": {
        "l": {"layer_choice": ["f()", "g()"], "optional_inputs": ["x", "y", "z"], "optional_input_size": [1, 2]}}},
    "c": {"_type": "choice", "_value": [1, "a"]},
    "r": {"_type": "randint", "_value": [2, 5]},
    "q": {"_type": "quniform", "_value": [0, 1, 0.25]},
    "n": {"_type": "qnormal", "_value": [0, 1, 0.5]},
}


def test_a_layer_is_two_dimensions_and_every_other_key_one() -> None:
    dims = dimensions(SPACE)
    assert [type(d) for d in dims] == [Options, InputSet, Options, RandInt, Quantized, Continuous]
    assert [d.name for d in dims[:2]] == ["b/l/chosen_layer", "b/l/chosen_inputs"]
    assert [d.size for d in dims] == [2, 6, 2, 3, 5, None]


def test_every_coordinate_round_trips_through_its_value() -> None:
    rng = np.random.default_rng(0)
    for dim in dimensions(SPACE):
        for _ in range(30):
            coordinate = dim.sample(rng)
            assert dim.encode(dim.value(coordinate)) == coordinate
            if dim.finite:
                assert dim.from_unit(dim.to_unit(coordinate)) == coordinate
                assert dim.mutate(coordinate, rng) != coordinate


def test_input_sets_are_ranked_by_size_then_position() -> None:
    dim = dimensions(SPACE)[1]
    assert [dim.value(i) for i in range(dim.size)] == [["x"], ["y"], ["z"], ["x", "y"], ["x", "z"], ["y", "z"]]
    with pytest.raises(ValueError, match="3 chosen inputs .* allows 1 to 2"):
        dim.encode(["x", "y", "z"])


def test_continuous_priors_invert() -> None:
    dim = dimensions({"u": {"_type": "loguniform", "_value": [1e-3, 1]}})[0]
    assert math.isclose(dim.to_unit(dim.from_unit(0.3)), 0.3)
    with pytest.raises(ValueError, match="outside"):
        dim.encode(2.0)


@pytest.mark.parametrize(("space", "message"), [
    ({"k": {"_type": "choice", "_value": [1, 1.0]}}, "search space key 'k': choice option 1.0 appears twice"),
    ({"k": {"_type": "randint", "_value": [5, 5]}}, "needs upper > lower"),
    ({"k": {"_type": "loguniform", "_value": [0, 1]}}, "needs low > 0"),
    ({"k": {"_type": "normal", "_value": [0, 0]}}, "sigma must be positive"),
    ({"b": {"_type": "mutable_layer", "_value": {"l": {"layer_choice": ["f()"], "optional_inputs": ["x"],
                                                       "optional_input_size": 2}}}},
     "layer 'l': optional_input_size 2 asks for more inputs than the 1"),
])
def test_a_malformed_entry_names_its_key(space, message) -> None:
    with pytest.raises(SearchSpaceError, match=message):
        dimensions(space)


def test_randbelow_reaches_beyond_64_bits() -> None:
    rng = np.random.default_rng(1)
    n = 2**100 + 7
    draws = [randbelow(rng, n) for _ in range(20)]
    assert all(0 <= d < n for d in draws) and max(draws) > 2**64
    assert {randbelow(rng, 3) for _ in range(60)} == {0, 1, 2}
