"""Keys: loop indices, a key's type segment, where a candidate is kept."""

from __future__ import annotations

import re

import pytest

from nasctl.searchspace import (
    candidate_key,
    expand_key,
    index_combinations,
    indexed_key,
    is_function_choice,
    key_type,
    loop_mismatch,
)


def test_loop_keys_are_outermost_first() -> None:
    assert indexed_key("m/h", (1, 0)) == "m/h[1][0]"
    assert list(index_combinations([2, 1])) == [(0, 0), (1, 0)]
    assert expand_key("m/h", []) == ["m/h"]
    assert expand_key("m/h", [3]) == ["m/h[0]", "m/h[1]", "m/h[2]"]


@pytest.mark.parametrize(("indices", "counts", "message"), [
    ((0,), (2, 2), "1 loop index"),
    ((2,), (2,), "repeats this choice 2 times, but the loop reached iteration 3"),
    ((0, 5), (2, 3), r"3 times \(loop 2 of 2\)"),
    ((True,), (2,), "the loop reached iteration 2"),
])
def test_a_loop_that_outruns_its_count_says_by_how_much(indices, counts, message) -> None:
    assert re.search(message, loop_mismatch("k", indices, counts))


def test_an_iteration_inside_the_counts_fits() -> None:
    assert loop_mismatch("k", (1, 2), (2, 3)) is None


@pytest.mark.parametrize(("key", "type_", "function"), [
    ("m/pool/function_choice", "function_choice", True),
    ("m/Net.forward/pool/function_choice[3][0]", "function_choice", True),
    ("m/lr/choice", "choice", False),
    ("m/Net.forward/h1", "h1", False),
    ("function_choice_of_mine", "function_choice_of_mine", False),
])
def test_the_type_segment_says_which_kind_of_entry_a_key_is(key, type_, function) -> None:
    assert key_type(key) == type_
    assert is_function_choice(key) is function


def test_candidate_keys_are_identifiers() -> None:
    assert candidate_key("m.sub/Net.forward/b[2]", "h-1", 3) == "m_sub_Net_forward_b_2___h_1__3"
    assert candidate_key("b", "l", 0).isidentifier()
