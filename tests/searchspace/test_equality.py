"""JSON equality and finding the option a label names."""

from __future__ import annotations

import pytest

from nasctl.searchspace import (
    ArchitectureError,
    choice_index,
    find_label,
    json_equal,
    same_source,
    show_value,
)


@pytest.mark.parametrize(("a", "b", "equal"), [
    (1, 1.0, True), (True, 1, False), (False, 0.0, False), (True, True, True),
    ([1, [2.0]], (1.0, (2,)), True), ({"a": True}, {"a": 1}, False), ({"a": [1]}, {"a": [1.0]}, True),
    ({"a": 1}, {"b": 1}, False), ("1", 1, False), (None, None, True), ([1], [1, 2], False),
])
def test_json_equality(a, b, equal) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


def test_values_whose_equality_is_not_a_bool_compare_by_identity() -> None:
    class Array:
        def __eq__(self, other):
            return self

        def __bool__(self):
            raise ValueError("ambiguous")

    one = Array()
    assert json_equal(one, one) and not json_equal(one, Array())


def test_a_label_is_found_by_value_then_by_source_text() -> None:
    assert find_label(["f(h, 2)", "g(h,2)"], "g(h, 2)") == 1
    assert find_label(["(5 * 6)", "7"], "5*6") == 0
    assert find_label([0.1, 1], 1.0) == 1
    assert find_label([1, 2], True) is None
    assert find_label(["f("], "f(") == 0 and find_label(["f("], "f (") is None
    assert same_source("a+b", "a + b") and not same_source("a", 1)


def test_a_value_that_is_no_option_names_the_key_and_the_options() -> None:
    assert choice_index("k", ["relu", "tanh"], "tanh") == 1
    with pytest.raises(ArchitectureError, match=r"architecture key 'k': 0\.5 is not one of the choices \[0\.1, \"a\"\]"):
        choice_index("k", [0.1, "a"], 0.5)
    assert show_value({1, 2}) == "{1, 2}"
