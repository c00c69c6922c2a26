"""`LayerSpec`: a layer as the one-shot modes see it."""

from __future__ import annotations

import random

import pytest

from nasctl.searchspace import ArchitectureError, LayerSpec

SPEC = LayerSpec.of_call("b", "l", ["f()", "g(h, 2)"], ["x", "y"], [0, 1])


def test_subgraphs_are_every_candidate_on_every_allowed_input_set() -> None:
    assert SPEC.subsets == ((), (0,), (1,))
    assert len(SPEC.subgraphs) == 6 and SPEC.subgraph_index(1, [1]) == 5


def test_decode_put_round_trip_and_labels_by_source_text() -> None:
    arch: dict = {}
    SPEC.put(arch, 1, [0])
    assert arch == {"b": {"l": {"chosen_layer": "g(h, 2)", "chosen_inputs": ["x"]}}}
    arch["b"]["l"]["chosen_layer"] = "g(h,2)"
    assert SPEC.decode(arch) == (1, (0,))
    with pytest.raises(ArchitectureError, match="chosen_inputs \\['x', 'y'\\] must be 0 to 1 distinct names"):
        SPEC.decode({"b": {"l": {"chosen_layer": "f()", "chosen_inputs": ["x", "y"]}}})


def test_a_relaxed_variable_holds_its_value_under_its_key() -> None:
    spec = LayerSpec.of_value("m/w/choice", [8, 16])
    arch: dict = {}
    spec.put(arch, 1, ())
    assert arch == {"m/w/choice": 16} and spec.decode(arch) == (1, ()) and spec.where == "m/w/choice"
    with pytest.raises(ArchitectureError, match="True is not one of the options"):
        LayerSpec.of_value("k", [1, 2]).decode({"k": True})
    with pytest.raises(ArchitectureError, match="a choice needs at least one option"):
        LayerSpec.of_value("k", [])


def test_a_layer_without_candidates_or_with_too_many_inputs_is_refused() -> None:
    with pytest.raises(ArchitectureError, match="architecture key 'b/l': a mutable layer needs at least one"):
        LayerSpec.of_call("b", "l", [], [], 0)
    with pytest.raises(ArchitectureError, match="architecture key 'b/l': optional_input_size 2 does not fit 1"):
        LayerSpec.of_call("b", "l", ["f()"], ["x"], 2)


def test_sample_draws_every_subgraph() -> None:
    rng = random.Random(1)
    seen = {SPEC.subgraph_index(*SPEC.sample(rng)) for _ in range(200)}
    assert seen == set(range(6))
