"""validate_architecture and load_architecture_file: every mismatch names its search-space key."""

from __future__ import annotations

import json

import pytest
from nasctl.runtime.errors import ArchitectureError
from nasctl.runtime.trial import load_architecture_file, sample_architecture, validate_architecture

SPACE = {
    "mnist/Net.forward/h1": {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": ["conv(3)", "conv(5)", "pool()"], "optional_inputs": ["skip1", "skip2"],
               "optional_input_size": [0, 1]},
        "h2": {"layer_choice": ["relu()", "tanh()"], "optional_inputs": [], "optional_input_size": 0}}},
    "mnist/learning_rate/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
    "mnist/depth/randint": {"_type": "randint", "_value": [1, 4]},
}
GOOD = {
    "mnist/Net.forward/h1": {"h1": {"chosen_layer": "conv(5)", "chosen_inputs": ["skip2"]},
                             "h2": {"chosen_layer": "tanh()", "chosen_inputs": []}},
    "mnist/learning_rate/choice": 0.01,
    "mnist/depth/randint": 3,
}
BLOCK = "mnist/Net.forward/h1"


def _with(key, value):
    architecture = json.loads(json.dumps(GOOD))
    if isinstance(key, tuple):
        architecture[key[0]][key[1]] = value
    else:
        architecture[key] = value
    return architecture


def test_a_matching_architecture_and_every_sample_pass():
    validate_architecture(GOOD, SPACE)
    for seed in range(50):
        validate_architecture(sample_architecture(SPACE, seed), SPACE)


@pytest.mark.parametrize(("architecture", "key", "message"), [
    ({**GOOD, "mnist/lr/choice": 0.1}, "mnist/lr/choice", "not in the search space"),
    (_with((BLOCK, "h1"), {"chosen_layer": "conv(7)", "chosen_inputs": []}), BLOCK,
     r"layer 'h1': chosen_layer 'conv\(7\)' is not one of its candidates"),
    (_with((BLOCK, "h1"), {"chosen_layer": "conv(3)", "chosen_inputs": ["skip1", "skip2"]}), BLOCK,
     r"layer 'h1': 2 chosen input\(s\) \['skip1', 'skip2'\], but optional_input_size allows 0 to 1"),
    (_with((BLOCK, "h1"), {"chosen_layer": "conv(3)", "chosen_inputs": ["skip3"]}), BLOCK,
     "layer 'h1': chosen input 'skip3' is not one of its optional_inputs"),
    (_with((BLOCK, "h1"), {"chosen_layer": "conv(3)", "chosen_inputs": "skip1"}), BLOCK,
     "chosen_inputs must be a list"),
    (_with((BLOCK, "h1"), {"chosen_layer": "conv(3)", "chosen_inputs": [], "extra": 1}), BLOCK,
     "unknown field"),
    (_with((BLOCK, "h9"), {"chosen_layer": "conv(3)", "chosen_inputs": []}), BLOCK,
     "layer 'h9' is not in this block"),
    (_with(BLOCK, {"h1": {"chosen_layer": "conv(3)", "chosen_inputs": []}}), BLOCK, "no choice for layer"),
    (_with(BLOCK, "conv(3)"), BLOCK, "a mutable_layer block needs an object of layers"),
    (_with("mnist/learning_rate/choice", 0.5), "mnist/learning_rate/choice", r"0.5 is not one of the choices"),
    (_with("mnist/depth/randint", 4), "mnist/depth/randint", r"not an integer in \[1, 4\)"),
    ({k: v for k, v in GOOD.items() if k != "mnist/depth/randint"}, "mnist/depth/randint", "has no value"),
])
def test_mismatches_name_the_key(architecture, key, message):
    with pytest.raises(ArchitectureError, match=message) as caught:
        validate_architecture(architecture, SPACE)
    assert caught.value.key == key
    assert f"architecture key '{key}'" in str(caught.value)


def test_too_few_inputs():
    space = {"b": {"_type": "mutable_layer", "_value": {"h": {"layer_choice": ["f()"], "optional_inputs": ["a", "b"],
                                                             "optional_input_size": 2}}}}
    with pytest.raises(ArchitectureError, match=r"1 chosen input\(s\) \['a'\], but optional_input_size allows 2"):
        validate_architecture({"b": {"h": {"chosen_layer": "f()", "chosen_inputs": ["a"]}}}, space)


def test_partial_allows_missing_keys_but_not_wrong_ones():
    validate_architecture({"mnist/learning_rate/choice": 0.1}, SPACE, partial=True)
    with pytest.raises(ArchitectureError, match="not in the search space"):
        validate_architecture({"other": 1}, SPACE, partial=True)


def test_source_prefixes_the_message():
    with pytest.raises(ArchitectureError, match=r"^arch\.json: architecture key 'x': not in the search space") as caught:
        validate_architecture({"x": 1}, SPACE, source="arch.json")
    assert caught.value.key == "x"


def test_load_architecture_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(GOOD))
    assert load_architecture_file(path) == GOOD
    path.write_text('{"a": 1,\n "b": }')
    with pytest.raises(ArchitectureError, match=r"arch\.json:2:7: not valid JSON"):
        load_architecture_file(path)
    with pytest.raises(ArchitectureError, match="cannot read architecture file .*missing.json"):
        load_architecture_file(tmp_path / "missing.json")


def test_load_architecture_file_checks_the_schema(tmp_path):
    from nasctl import schemas

    path = tmp_path / "arch.json"
    path.write_text(json.dumps({BLOCK: {"h1": {"chosen_layer": "conv(3)", "chosen_inputs": [1]}}}))
    with pytest.raises(schemas.SchemaError, match="arch.json"):
        load_architecture_file(path)
