"""A variable's rules: checking a value, drawing one with NNI's semantics."""

from __future__ import annotations

import math
import random

import pytest

from nasctl.searchspace import SAMPLING_TYPES, ArchitectureError, check_variable, key_random, sample_value

SPECS = {"choice": [1, "a", True], "randint": [2, 5], "uniform": [0, 1], "quniform": [0, 10, 2.5],
         "loguniform": [1e-3, 1], "qloguniform": [1, 100, 5], "normal": [0, 1], "qnormal": [0, 3, 2],
         "lognormal": [0, 1], "qlognormal": [1, 1, 3]}


@pytest.mark.parametrize("type_", SAMPLING_TYPES)
def test_every_sample_passes_its_own_check(type_: str) -> None:
    rng = random.Random(type_)
    for _ in range(200):
        value = sample_value(rng, type_, SPECS[type_])
        check_variable("k", type_, SPECS[type_], value)
        if type_.startswith("q"):
            q = SPECS[type_][2]
            assert math.isclose(value / q, round(value / q)) or value in SPECS[type_][:2]


def test_randint_excludes_its_upper_bound_and_comes_back_as_an_int() -> None:
    assert {sample_value(random.Random(s), "randint", [2, 4]) for s in range(50)} == {2, 3}
    assert check_variable("k", "randint", [2, 4], 3.0) == 3 and isinstance(check_variable("k", "randint", [2, 4], 3.0), int)


def test_a_choice_comes_back_as_the_option_and_true_is_not_one() -> None:
    assert check_variable("k", "choice", [1.0, 2], 1) == 1.0
    with pytest.raises(ArchitectureError, match=r"architecture key 'k': true is not one of the choices \[1, 2\]"):
        check_variable("k", "choice", [1, 2], True)


@pytest.mark.parametrize(("type_", "spec", "value", "message"), [
    ("randint", [0, 3], 3, r"randint value 3 is not an integer in \[0, 3\)"),
    ("randint", [0, 3], 1.5, "randint value 1.5 is not an integer"),
    ("uniform", [0, 1], 1.5, r"uniform value 1.5 is outside \[0, 1\]"),
    ("normal", [0, 1], "x", "normal needs a number, got 'x'"),
    ("normal", [0, 1], True, "normal needs a number"),
    ("normal", [0, 1], float("nan"), "normal value is NaN"),
    ("lognormal", [0, 1], -1, "lognormal value -1 is negative"),
    ("gamma", [0, 1], 1, "unknown search-space type 'gamma'"),
])
def test_a_value_that_does_not_fit_names_the_key(type_, spec, value, message) -> None:
    with pytest.raises(ArchitectureError, match=f"architecture key 'k': {message}"):
        check_variable("k", type_, spec, value)


def test_each_key_has_its_own_seeded_generator() -> None:
    assert key_random(3, "a").random() == key_random(3, "a").random()
    assert key_random(3, "a").random() != key_random(3, "b").random() != key_random(4, "a").random()
    assert key_random(3, "b", "l").random() != key_random(3, "b\x1fl", "").random()
    with pytest.raises(ValueError, match="unknown search-space type 'gamma'"):
        sample_value(random.Random(0), "gamma", [0, 1])
