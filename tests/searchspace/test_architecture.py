"""Whole architectures: seeded sampling, validation naming the key."""

from __future__ import annotations

import pytest

from nasctl.searchspace import (
    ArchitectureError,
    key_random,
    sample_architecture,
    sample_value,
    validate_architecture,
)

SPACE = {
    "m/Net.forward/b": {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": ["f()", "g()"], "optional_inputs": ["x", "y"], "optional_input_size": [0, 1]},
        "h2": {"layer_choice": ["f()"]}}},
    "m/lr/loguniform": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]},
}


def test_samples_are_valid_seeded_and_per_key() -> None:
    for seed in range(20):
        validate_architecture(sample_architecture(SPACE, seed), SPACE)
    assert sample_architecture(SPACE, 5) == sample_architecture(SPACE, 5)
    alone = sample_architecture({"m/act/choice": SPACE["m/act/choice"]}, 5)
    assert alone["m/act/choice"] == sample_architecture(SPACE, 5)["m/act/choice"]
    assert alone["m/act/choice"] == sample_value(key_random(5, "m/act/choice"), "choice", ["relu", "tanh"])


GOOD = {"m/Net.forward/b": {"h1": {"chosen_layer": "g()", "chosen_inputs": ["y"]},
                            "h2": {"chosen_layer": "f()", "chosen_inputs": []}},
        "m/lr/loguniform": 0.01, "m/act/choice": "tanh"}


@pytest.mark.parametrize(("change", "key", "message"), [
    ({"m/other": 1}, "m/other", "not in the search space"),
    ({"m/act/choice": "gelu"}, "m/act/choice", "is not one of the choices"),
    ({"m/lr/loguniform": 1.0}, "m/lr/loguniform", "is outside"),
    ({"m/Net.forward/b": [1]}, "m/Net.forward/b", "needs an object of layers"),
    ({"m/Net.forward/b": {"h3": {}}}, "m/Net.forward/b", "layer 'h3' is not in this block"),
    ({"m/Net.forward/b": {"h1": {"chosen_layer": "f()", "chosen_inputs": []}}}, "m/Net.forward/b",
     "no choice for layer\\(s\\) h2"),
])
def test_a_mismatch_names_its_key(change, key, message) -> None:
    with pytest.raises(ArchitectureError, match=message) as caught:
        validate_architecture({**GOOD, **change}, SPACE)
    assert caught.value.key == key


def test_partial_architectures_and_sources() -> None:
    validate_architecture(GOOD, SPACE)
    validate_architecture({"m/act/choice": "relu"}, SPACE, partial=True)
    with pytest.raises(ArchitectureError, match="no value for search-space key\\(s\\) m/Net.forward/b, m/lr"):
        validate_architecture({"m/act/choice": "relu"}, SPACE)
    with pytest.raises(ArchitectureError, match="^arch.json: architecture key 'm/x': not in") as caught:
        validate_architecture({"m/x": 1}, SPACE, source="arch.json")
    assert caught.value.key == "m/x"
    with pytest.raises(ArchitectureError, match="an architecture is a JSON object"):
        validate_architecture([1], SPACE)
