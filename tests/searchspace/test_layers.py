"""A layer's rules: input-size bounds, checking a layer's choice, sampling one."""

from __future__ import annotations

import random

import pytest

from nasctl.searchspace import (
    ArchitectureError,
    check_layer_choice,
    input_size_bounds,
    sample_inputs,
    sample_layer,
)


@pytest.mark.parametrize(("size", "bounds"), [(0, (0, 0)), (2, (2, 2)), ([0, 1], (0, 1)), ((1, 2), (1, 2))])
def test_input_size_bounds(size, bounds) -> None:
    assert input_size_bounds(size, 2) == bounds


@pytest.mark.parametrize(("size", "message"), [
    (True, "must be an int or \\[low, high\\], got True"),
    ("01", "must be an int or"),
    ([0, True], "must be an int or"),
    ([0, 1, 2], "must be an int or"),
    ([1, 3], r"\[1, 3\] does not fit 2 optional input"),
    ([2, 1], "does not fit"),
    (-1, "does not fit"),
])
def test_malformed_input_sizes_name_the_block_and_layer(size, message) -> None:
    with pytest.raises(ArchitectureError, match=f"architecture key 'b': layer 'l': optional_input_size .*{message}"):
        input_size_bounds(size, 2, "b", "l")
    with pytest.raises(ArchitectureError, match=f"architecture key 'b/l': optional_input_size .*{message}"):
        input_size_bounds(size, 2, "b/l")


LABELS, INPUTS = ("conv(3)", "pool(h, 2)"), ("x", "y", "z")


def test_a_choice_comes_back_as_the_space_spells_it() -> None:
    entry = {"chosen_layer": "pool(h,2)", "chosen_inputs": ["z", "x"]}
    assert check_layer_choice("b", "l", LABELS, INPUTS, [0, 2], entry) == ("pool(h, 2)", ("z", "x"))


@pytest.mark.parametrize(("entry", "message"), [
    ("conv(3)", "layer 'l': expected"),
    ({"chosen_layer": "conv(3)", "extra": 1}, "unknown field\\(s\\) 'extra'"),
    ({"chosen_layer": "conv(5)"}, "chosen_layer 'conv\\(5\\)' is not one of its candidates"),
    ({"chosen_layer": "conv(3)", "chosen_inputs": "x"}, "chosen_inputs must be a list"),
    ({"chosen_layer": "conv(3)", "chosen_inputs": ["w"]}, "chosen input 'w' is not one of its optional_inputs"),
    ({"chosen_layer": "conv(3)", "chosen_inputs": ["x", "x"]}, "name an input twice"),
    ({"chosen_layer": "conv(3)", "chosen_inputs": ["x", "y", "z"]}, "3 chosen input\\(s\\) .* allows 0 to 2"),
])
def test_a_choice_that_does_not_fit_names_the_layer(entry, message) -> None:
    with pytest.raises(ArchitectureError, match=f"architecture key 'b': .*{message}"):
        check_layer_choice("b", "l", LABELS, INPUTS, [0, 2], entry)


def test_sampling_stays_in_range_and_is_seeded() -> None:
    rng = random.Random(0)
    for _ in range(50):
        picked = sample_inputs(rng, 3, 1, 2)
        assert 1 <= len(picked) <= 2 and picked == sorted(set(picked))
        entry = sample_layer(rng, LABELS, INPUTS, [1, 2], "b", "l")
        check_layer_choice("b", "l", LABELS, INPUTS, [1, 2], entry)
    assert sample_layer(random.Random(4), LABELS, INPUTS, 1) == sample_layer(random.Random(4), LABELS, INPUTS, 1)
    with pytest.raises(ArchitectureError, match="does not fit 3"):
        sample_layer(rng, LABELS, INPUTS, 4, "b", "l")
