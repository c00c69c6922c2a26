"""GridSearch: every combination exactly once, continuous types quantised or refused."""

from __future__ import annotations

import itertools
import json

import pytest

from nasctl import tuners


def test_covers_every_combination_exactly_once(kit):
    tuner = tuners.create("GridSearch")
    tuner.update_search_space(kit.FINITE_SPACE)
    seen = [json.dumps(a, sort_keys=True) for a in kit.drive(tuner, kit.FINITE_SIZE)]
    expected = [
        json.dumps({"f/cell/a": {"a": {"chosen_layer": layer, "chosen_inputs": inputs}},
                    "f/k/randint": k, "f/q/quniform": q}, sort_keys=True)
        for layer, inputs, k, q in itertools.product(["op1()", "op2()"], [[], ["x"], ["y"], ["x", "y"]],
                                                     [0, 1, 2], [0.0, 0.5, 1.0])
    ]
    assert seen == expected  # the same set, each once, in itertools.product order
    with pytest.raises(tuners.NoMoreTrialError):
        tuner.generate_parameters(kit.FINITE_SIZE)


def test_continuous_points_quantise_uniform_and_loguniform():
    tuner = tuners.create("GridSearch", continuous_points=3)
    tuner.update_search_space({"u": {"_type": "uniform", "_value": [0, 1]},
                               "l": {"_type": "loguniform", "_value": [1e-3, 1e-1]}})
    grid = [(a["u"], a["l"]) for a in tuner.generate_multiple_parameters(list(range(20)))]
    assert len(grid) == 9
    assert sorted({u for u, _ in grid}) == pytest.approx([0.0, 0.5, 1.0])
    assert sorted({v for _, v in grid}) == pytest.approx([1e-3, 1e-2, 1e-1])


def test_continuous_and_unbounded_types_are_refused_by_name():
    tuner = tuners.create("GridSearch")
    with pytest.raises(tuners.SearchSpaceError, match="key 'u': uniform is continuous and has no grid; use "
                       "quniform/qloguniform, or pass continuous_points"):
        tuner.update_search_space({"u": {"_type": "uniform", "_value": [0, 1]}})
    with pytest.raises(tuners.SearchSpaceError, match="key 'n': qnormal is unbounded and has no grid"):
        tuners.create("GridSearch", continuous_points=4).update_search_space(
            {"n": {"_type": "qnormal", "_value": [0, 1, 1]}})
    with pytest.raises(tuners.TunerArgumentError, match="'continuous_points' must be an integer >= 2"):
        tuners.create("GridSearch", continuous_points=1)
