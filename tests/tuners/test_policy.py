"""Reinforce and PPO: they learn which options pay, they bin continuous dimensions, and their
class arguments are checked."""

from __future__ import annotations

import numpy as np
import pytest
from nasctl.tuners._policy import _categorical as cat

from nasctl import tuners

SPACE = {
    "b": {"_type": "mutable_layer", "_value": {
        "l": {"layer_choice": ["bad()", "ok()", "good()"], "optional_inputs": ["x", "y"], "optional_input_size": [0, 2]}}},
    "c": {"_type": "choice", "_value": list(range(12))},
    "u": {"_type": "uniform", "_value": [0.0, 1.0]},
}


def reward(arch):
    layer = arch["b"]["l"]
    return (["bad()", "ok()", "good()"].index(layer["chosen_layer"]) + 0.5 * len(layer["chosen_inputs"])
            + (arch["c"] == 7) * 2.0 + arch["u"])


@pytest.mark.parametrize("name, args", [("Reinforce", {}), ("PPO", {"trials_per_update": 8, "minibatch_size": 4})])
def test_policy_moves_towards_the_rewarded_options(kit, name, args):
    tuner = tuners.create(name, seed=0, **args)
    tuner.update_search_space(SPACE)
    kit.drive(tuner, 200, metric=reward)
    layer, inputs, choice, uniform = (cat.softmax(t) for t in tuner.logits)
    assert layer.argmax() == 2 and layer[2] > 0.6
    assert inputs.argmax() == 3  # ["x", "y"]: both inputs
    assert choice.argmax() == 7
    assert len(uniform) == tuner.bins and uniform.argmax() >= tuner.bins - 2  # the top bins of U(0, 1)


def test_minimize_flips_what_the_policy_learns(kit):
    tuner = tuners.create("Reinforce", seed=0, optimize_mode="minimize")
    tuner.update_search_space(SPACE)
    kit.drive(tuner, 200, metric=reward)
    assert cat.softmax(tuner.logits[0]).argmax() == 0


def test_binned_values_keep_the_prior(kit):
    tuner = tuners.create("Reinforce", seed=0, bins=4)
    tuner.update_search_space({"n": {"_type": "normal", "_value": [10.0, 2.0]}})
    values = np.array([tuner.generate_parameters(i)["n"] for i in range(2000)])  # no results: the prior
    assert abs(values.mean() - 10.0) < 0.15 and abs(values.std() - 2.0) < 0.15


@pytest.mark.parametrize("name, args, match", [
    ("Reinforce", {"lr": 0}, "'lr' must be a number in \\(0.0, inf\\]"),
    ("Reinforce", {"baseline_decay": 1.0}, "'baseline_decay' must be below 1"),
    ("Reinforce", {"bins": 1}, "'bins' must be an integer >= 2"),
    ("PPO", {"trials_per_update": 4, "minibatch_size": 8}, "'minibatch_size' \\(8\\) must not exceed"),
    ("PPO", {"cliprange": 0}, "'cliprange' must be a number in \\(0.0, 1.0\\]"),
    ("PPO", {"vf_coef": 0.5}, "NNI's PPO class argument 'vf_coef' is not supported by nasctl; the closest is baseline_decay"),
    ("PPO", {"value_coef": 0.5}, "tuner PPO takes no class argument 'value_coef'; accepted: .*cliprange"),
])
def test_bad_class_arguments(name, args, match):
    with pytest.raises(tuners.TunerArgumentError, match=match):
        tuners.create(name, **args)
