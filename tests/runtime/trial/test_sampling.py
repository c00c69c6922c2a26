"""The sampling functions: NNI's semantics, labels, keys, and the checks on the architecture's values."""

from __future__ import annotations

import math

import pytest
from nasctl.runtime.errors import ArchitectureError, TrialError
from nasctl.runtime.trial import sample_architecture

import nas


def relu(x):
    return max(x, 0)


def tanh(x):
    return math.tanh(x)


def test_choice_returns_the_option_the_architecture_names(standalone):
    standalone({"m/lr/choice": 0.01, "m/act/choice": "tanh", "m/n/choice": 2, "m/flag/choice": True})
    assert nas.choice(0.1, 0.01, 0.001, key="m/lr/choice") == 0.01
    assert nas.choice(relu, tanh, key="m/act/choice", labels=["relu", "tanh"]) is tanh
    assert nas.choice(1, 2, 3, name="m/n/choice") == 2  # NNI's name= alias
    assert nas.choice(1, True, key="m/flag/choice") is True  # True is not 1


def test_choice_errors_name_the_key(standalone):
    standalone({"m/act/choice": "gelu", "m/n/choice": 1})
    with pytest.raises(ArchitectureError, match=r"architecture key 'm/act/choice': \"gelu\" is not one of the "
                                                r"choices \[\"relu\", \"tanh\"\]"):
        nas.choice(relu, tanh, key="m/act/choice", labels=["relu", "tanh"])
    with pytest.raises(ArchitectureError, match="architecture key 'm/missing/choice': .*no value for this choice"):
        nas.choice(1, 2, key="m/missing/choice")
    with pytest.raises(ArchitectureError, match="'m/n/choice': true is not one of the choices"):
        standalone({"m/n/choice": True})
        nas.choice(1, 2, key="m/n/choice")


def test_api_misuse_is_a_trial_error(standalone):
    standalone({})
    with pytest.raises(TrialError, match=r"choice\(\) needs key= \(or NNI's name=\)"):
        nas.choice(1, 2)
    with pytest.raises(TrialError, match="disagree"):
        nas.choice(1, 2, key="a", name="b")
    with pytest.raises(TrialError, match="2 labels for 3 options"):
        nas.choice(1, 2, 3, key="k", labels=["a", "b"])
    with pytest.raises(TrialError, match=r"uniform\(\) needs key="):
        nas.uniform(0, 1, key="")
    with pytest.raises(TrialError, match=r"function_choice\(\) for key 'k' needs a non-empty dict"):
        nas.function_choice([lambda: 1], key="k")


@pytest.mark.parametrize(("call", "value", "message"), [
    (lambda: nas.randint(0, 10, key="k"), 10, r"randint value 10 is not an integer in \[0, 10\)"),
    (lambda: nas.randint(0, 10, key="k"), 2.5, "not an integer"),
    (lambda: nas.uniform(0, 1, key="k"), 1.5, r"uniform value 1.5 is outside \[0, 1\]"),
    (lambda: nas.loguniform(1e-4, 1e-1, key="k"), 1.0, "outside"),
    (lambda: nas.lognormal(0, 1, key="k"), -1.0, "negative"),
    (lambda: nas.normal(0, 1, key="k"), "x", "normal needs a number"),
])
def test_values_out_of_range_name_the_key(standalone, call, value, message):
    standalone({"k": value})
    with pytest.raises(ArchitectureError, match="architecture key .k.: .*" + message):
        call()


def test_every_sampling_function_returns_the_architectures_value(standalone):
    standalone({"a": 3, "b": 0.5, "c": 0.4, "d": 0.01, "e": 0.02, "f": -1.2, "g": 2.0, "h": 3.3, "i": 4.0})
    assert nas.randint(0, 10, key="a") == 3 and isinstance(nas.randint(0, 10, key="a"), int)
    assert nas.uniform(0, 1, key="b") == 0.5
    assert nas.quniform(0, 1, 0.2, key="c") == 0.4
    assert nas.loguniform(0.001, 0.1, key="d") == 0.01
    assert nas.qloguniform(0.001, 0.1, 0.01, key="e") == 0.02
    assert nas.normal(0, 1, key="f") == -1.2
    assert nas.qnormal(0, 1, 0.5, key="g") == 2.0
    assert nas.lognormal(0, 1, key="h") == 3.3
    assert nas.qlognormal(0, 1, 1, key="i") == 4.0


SPACE = {
    "choice": {"_type": "choice", "_value": ["a", "b", "c"]},
    "randint": {"_type": "randint", "_value": [2, 5]},
    "uniform": {"_type": "uniform", "_value": [-1, 1]},
    "quniform": {"_type": "quniform", "_value": [0, 10, 2.5]},
    "loguniform": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "qloguniform": {"_type": "qloguniform", "_value": [1, 1000, 10]},
    "normal": {"_type": "normal", "_value": [10, 2]},
    "qnormal": {"_type": "qnormal", "_value": [10, 2, 3]},
    "lognormal": {"_type": "lognormal", "_value": [0, 1]},
    "qlognormal": {"_type": "qlognormal", "_value": [2, 1, 5]},
    "block": {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": ["f()", "g()"], "optional_inputs": ["x", "y", "z"], "optional_input_size": [1, 2]},
        "h2": {"layer_choice": ["f()"], "optional_inputs": ["x"], "optional_input_size": 1},
        "h3": {"layer_choice": ["f()"]}}},
}


def test_sample_architecture_follows_nnis_semantics():
    samples = [sample_architecture(SPACE, seed) for seed in range(400)]
    column = {key: [s[key] for s in samples] for key in SPACE}
    assert set(column["choice"]) == {"a", "b", "c"}
    assert set(column["randint"]) == {2, 3, 4}  # upper bound excluded
    assert all(-1 <= v <= 1 for v in column["uniform"])
    assert set(column["quniform"]) <= {0, 2.5, 5, 7.5, 10} and len(set(column["quniform"])) == 5
    assert all(1e-4 <= v <= 1e-1 for v in column["loguniform"])
    # log-uniform: about as many samples in each decade
    decades = [sum(10 ** -(k + 1) <= v < 10 ** -k for v in column["loguniform"]) for k in (1, 2, 3)]
    assert min(decades) > 90
    assert all((v % 10 == 0 or v == 1) and 1 <= v <= 1000 for v in column["qloguniform"])  # clipped
    mean = sum(column["normal"]) / len(samples)
    assert 9.5 < mean < 10.5
    assert all(v % 3 == 0 for v in column["qnormal"])
    assert all(v > 0 for v in column["lognormal"])
    assert all(v % 5 == 0 for v in column["qlognormal"])
    for block in column["block"]:
        assert block["h1"]["chosen_layer"] in ("f()", "g()")
        inputs = block["h1"]["chosen_inputs"]
        assert 1 <= len(inputs) <= 2 and inputs == sorted(inputs, key="xyz".index)
        assert block["h2"] == {"chosen_layer": "f()", "chosen_inputs": ["x"]}
        assert block["h3"] == {"chosen_layer": "f()", "chosen_inputs": []}
    assert {len(b["h1"]["chosen_inputs"]) for b in column["block"]} == {1, 2}


def test_the_same_seed_gives_the_same_architecture():
    assert sample_architecture(SPACE, 7) == sample_architecture(SPACE, 7)
    assert sample_architecture(SPACE, 7) != sample_architecture(SPACE, 8)
    # a key's value does not depend on the other keys
    assert sample_architecture({"uniform": SPACE["uniform"]}, 7)["uniform"] == sample_architecture(SPACE, 7)["uniform"]


def test_function_choice_calls_the_chosen_function(standalone):
    standalone({"m/pool/choice": "avg(h)"})
    calls = []
    result = nas.function_choice({"max(h)": lambda: calls.append("max") or 1,
                                  "avg(h)": lambda: calls.append("avg") or 2}, key="m/pool/choice")
    assert result == 2 and calls == ["avg"]
    standalone({"m/pool/choice": "min(h)"})
    with pytest.raises(ArchitectureError, match=r"'m/pool/choice': \"min\(h\)\" is not one of the choices"):
        nas.function_choice({"max(h)": lambda: 1}, key="m/pool/choice")
