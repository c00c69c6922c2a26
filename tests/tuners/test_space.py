"""The shared search-space module: parsing, NNI's sampling semantics, encoding, enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nasctl.tuners import SearchSpace, SearchSpaceError

from nasctl import tuners


def one(type_: str, value: list) -> SearchSpace:
    return SearchSpace({"k": {"_type": type_, "_value": value}})


def draws(type_: str, value: list, n: int = 4000) -> np.ndarray:
    space = one(type_, value)
    rng = np.random.default_rng(0)
    return np.array([space.to_architecture(space.sample(rng))["k"] for _ in range(n)])


def test_quniform_clips_to_low_when_low_rounds_down():
    assert set(draws("quniform", [0.2, 1.0, 0.5]).tolist()) == {0.2, 0.5, 1.0}


def test_randint_excludes_upper():
    values = draws("randint", [3, 7])
    assert set(values.tolist()) == {3, 4, 5, 6}


def test_quniform_is_clipped_rounded_uniform():
    values = draws("quniform", [0.3, 2.0, 0.5])
    # clip(round(U(0.3, 2) / 0.5) * 0.5, 0.3, 2): round(0.6) = 1, so 0.3 itself never comes out
    assert set(values.tolist()) == {0.5, 1.0, 1.5, 2.0}
    expected = {0.5: (0.75 - 0.3) / 1.7, 1.0: 0.5 / 1.7, 1.5: 0.5 / 1.7, 2.0: 0.25 / 1.7}
    for v, p in expected.items():
        assert abs(np.mean(np.isclose(values, v)) - p) < 0.03


def test_loguniform_samples_the_exponent():
    values = draws("loguniform", [1e-4, 1.0])
    assert values.min() >= 1e-4 and values.max() <= 1.0
    assert abs(np.mean(np.log10(values) < -2) - 0.5) < 0.03  # half the mass below the geometric middle


def test_qloguniform_values_are_multiples_within_bounds():
    values = draws("qloguniform", [8, 64, 8])
    assert set(values.tolist()) <= {8.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0, 64.0}
    assert np.mean(values <= 24) > 0.45  # log-uniform: more mass on small values


def test_normal_family():
    normal = draws("normal", [2.0, 0.5])
    assert abs(normal.mean() - 2.0) < 0.05 and abs(normal.std() - 0.5) < 0.05
    lognormal = draws("lognormal", [0.0, 0.5])
    assert lognormal.min() > 0 and abs(np.log(lognormal).std() - 0.5) < 0.05
    qnormal = draws("qnormal", [0.0, 3.0, 2.0])
    assert np.allclose(qnormal / 2.0, np.round(qnormal / 2.0))
    qlognormal = draws("qlognormal", [1.0, 0.5, 1.0])
    assert np.allclose(qlognormal, np.round(qlognormal)) and qlognormal.min() >= 0


def test_choice_keeps_types_and_values():
    space = one("choice", [1, "1", True, {"a": [1]}, None])
    assert [space.dimensions[0].value(i) for i in range(5)] == [1, "1", True, {"a": [1]}, None]
    assert space.from_architecture({"k": True}) == (2,)
    assert space.from_architecture({"k": 1.0}) == (0,)


def test_input_sets_in_order_and_ranked():
    space = SearchSpace({"b": {"_type": "mutable_layer", "_value": {
        "l": {"layer_choice": ["f()"], "optional_inputs": ["a", "b", "c", "d"], "optional_input_size": [1, 3]}}}})
    dim = space.dimensions[1]
    options = [dim.value(i) for i in range(dim.size)]
    expected = [list(c) for k in (1, 2, 3) for c in itertools.combinations("abcd", k)]
    assert options == expected
    assert [dim.encode(o) for o in options] == list(range(dim.size))
    assert dim.encode(["c", "a"]) == options.index(["a", "c"])  # any order is accepted, stored in input order


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), data=st.data())
def test_input_set_rank_unrank_bijection_for_large_sets(n, data):
    low = data.draw(st.integers(0, n))
    high = data.draw(st.integers(low, n))
    inputs = [f"i{j}" for j in range(n)]
    space = SearchSpace({"b": {"_type": "mutable_layer", "_value": {
        "l": {"layer_choice": ["f()"], "optional_inputs": inputs, "optional_input_size": [low, high]}}}})
    dim = space.dimensions[1]
    assert dim.size == sum(math.comb(n, k) for k in range(low, high + 1))
    index = data.draw(st.integers(0, dim.size - 1))
    chosen = dim.value(index)
    assert low <= len(chosen) <= high and chosen == sorted(chosen, key=inputs.index)
    assert dim.encode(chosen) == index


def test_enumerate_rank_and_size(kit):
    space = SearchSpace(kit.FINITE_SPACE)
    points = list(space.enumerate())
    assert len(points) == len(set(points)) == space.size == kit.FINITE_SIZE
    assert [space.rank(p) for p in points] == list(range(space.size))
    assert all(space.unrank(i) == p for i, p in enumerate(points))


def test_mutate_changes_exactly_one_dimension(kit):
    space = SearchSpace(kit.MIXED_SPACE)
    rng = np.random.default_rng(0)
    for _ in range(200):
        point = space.sample(rng)
        child = space.mutate(point, rng)
        assert sum(a != b for a, b in zip(point, child, strict=True)) == 1
        kit.check_proposal(kit.MIXED_SPACE, space.to_architecture(child))


def test_random_unseen_finds_the_last_point_and_reports_exhaustion(kit):
    space = SearchSpace(kit.FINITE_SPACE)
    rng = np.random.default_rng(0)
    everything = set(space.enumerate())
    last = space.unrank(37)
    assert space.random_unseen(rng, everything - {last}) == last
    with pytest.raises(tuners.NoMoreTrialError, match="all 72 architectures"):
        space.random_unseen(rng, everything)


def test_architecture_round_trip(kit):
    space = SearchSpace(kit.MIXED_SPACE)
    rng = np.random.default_rng(1)
    for _ in range(50):
        point = space.sample(rng)
        assert space.from_architecture(space.to_architecture(point)) == point


@pytest.mark.parametrize("document, match", [
    ({}, "the search space is empty"),
    ([1], "must be a JSON object"),
    ({"k": {"_type": "gaussian", "_value": [0, 1]}}, "search space key 'k': _type: 'gaussian' is not one of"),
    ({"m/Net.forward/h1": {"_type": "mutable_layer", "_value": {"l": {"layer_choice": "f()"}}}},
     "search space key 'm/Net.forward/h1': _value.l.layer_choice: 'f\\(\\)' is not of type 'array'"),
    ({"m/Net.forward/h1": {"_type": "choice", "_value": [1], "extra": 2}},
     "search space key 'm/Net.forward/h1': Additional properties are not allowed"),
    ({"k": {"_type": "choice", "_value": []}}, "key 'k': _value: .* should be non-empty"),
    ({"k": {"_type": "choice", "_value": [1, 1.0]}}, "key 'k': choice option 1.0 appears twice"),
    ({"k": {"_type": "randint", "_value": [5, 5]}}, "key 'k': randint .* needs upper > lower"),
    ({"k": {"_type": "randint", "_value": [0.5, 5]}}, "key 'k': .* bounds must be integers"),
    ({"k": {"_type": "uniform", "_value": [1, 0]}}, "key 'k': uniform .* needs low < high"),
    ({"k": {"_type": "loguniform", "_value": [0, 1]}}, "key 'k': .* needs low > 0"),
    ({"k": {"_type": "quniform", "_value": [0, 1, 0]}}, "key 'k': .* q must be positive"),
    ({"k": {"_type": "normal", "_value": [0, -1]}}, "key 'k': .* sigma must be positive"),
    ({"k": {"_type": "uniform", "_value": [0]}}, "key 'k': _value: .* too short"),
    ({"b": {"_type": "mutable_layer", "_value": {"l": {"optional_inputs": []}}}},
     "key 'b': .*'layer_choice' is a required property"),
    ({"b": {"_type": "mutable_layer", "_value": {"l": {"layer_choice": ["f()"], "optional_inputs": ["x"],
                                                       "optional_input_size": 2}}}},
     "key 'b': layer 'l': optional_input_size 2 asks for more inputs than the 1 optional_inputs"),
    ({"b": {"_type": "mutable_layer", "_value": {"l": {"layer_choice": ["f()"], "optional_inputs": ["x", "y"],
                                                       "optional_input_size": [2, 1]}}}},
     "key 'b': layer 'l': optional_input_size \\[2, 1\\] has low > high"),
    ({"b": {"_type": "mutable_layer", "_value": {"l": {"layer_choice": ["f()", "f()"]}}}},
     "key 'b': layer 'l': candidate 'f\\(\\)' appears twice"),
])
def test_malformed_search_spaces_name_the_key(document, match):
    with pytest.raises(SearchSpaceError, match=match):
        SearchSpace(document)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.pop("m/lr/choice"), "key 'm/lr/choice': missing from the architecture"),
    (lambda a: a.update({"m/other": 1}), "key 'm/other': not in the search space"),
    (lambda a: a.update({"m/lr/choice": 0.5}), "key 'm/lr/choice': 0.5 is not one of the options"),
    (lambda a: a["m/Net.forward/h1"]["h1"].update({"chosen_layer": "conv(7)"}),
     "key 'm/Net.forward/h1': layer 'h1' chosen_layer: 'conv\\(7\\)' is not one of the options"),
    (lambda a: a["m/Net.forward/h1"]["h1"].update({"chosen_inputs": ["skip1", "skip2"]}),
     "layer 'h1' chosen_inputs: 2 chosen inputs \\['skip1', 'skip2'\\], but optional_input_size allows 0 to 1"),
    (lambda a: a["m/Net.forward/h1"]["h3"].update({"chosen_inputs": ["x", "x"]}), "repeats an input"),
    (lambda a: a["m/Net.forward/h1"]["h3"].update({"chosen_inputs": ["x", "nope"]}),
     "chosen input 'nope' is not one of the optional_inputs"),
    (lambda a: a["m/Net.forward/h1"].pop("h2"), "layer 'h2' is missing"),
    (lambda a: a.update({"m/batch/quniform": 20.0}), "20.0 is not a value of quniform"),
    (lambda a: a.update({"m/dropout/uniform": 0.9}), "0.9 is outside \\[0.1, 0.5\\]"),
    (lambda a: a.update({"m/shift/qnormal": 0.3}), "0.3 is not a multiple of q=0.5"),
])
def test_foreign_architectures_are_refused_with_the_key(kit, change, match):
    space = SearchSpace(kit.MIXED_SPACE)
    arch = space.to_architecture(space.sample(np.random.default_rng(0)))
    change(arch)
    with pytest.raises(SearchSpaceError, match=match):
        space.from_architecture(arch)


def test_discretized_quantises_bounded_continuous_and_refuses_unbounded(kit):
    space = SearchSpace(kit.BOUNDED_SPACE).discretized(3)
    assert space.size is not None
    dropout = next(d for d in space.dimensions if d.key == "m/dropout/uniform")
    assert [dropout.value(i) for i in range(3)] == pytest.approx([0.1, 0.3, 0.5])
    wd = next(d for d in space.dimensions if d.key == "m/wd/loguniform")
    assert [wd.value(i) for i in range(3)] == pytest.approx([1e-5, 10 ** -3.5, 1e-2])
    with pytest.raises(SearchSpaceError, match="'m/dropout/uniform': uniform is continuous .* continuous_points"):
        SearchSpace(kit.BOUNDED_SPACE).discretized(None)
    with pytest.raises(SearchSpaceError, match="'m/bias/normal': normal is unbounded and has no grid"):
        SearchSpace(kit.MIXED_SPACE).discretized(3)


def test_input_sets_beyond_64_bits():
    inputs = [f"i{j}" for j in range(70)]
    space = SearchSpace({"b": {"_type": "mutable_layer", "_value": {
        "l": {"layer_choice": ["f()"], "optional_inputs": inputs, "optional_input_size": [0, 70]}}}})
    assert space.size == 2**70
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(200):
        point = space.sample(rng)
        chosen = space.to_architecture(point)["b"]["l"]["chosen_inputs"]
        assert space.from_architecture(space.to_architecture(point)) == point
        sizes.append(len(chosen))
    assert 30 < np.mean(sizes) < 40  # uniform over subsets: about half of the 70 inputs


def test_a_narrow_unbounded_space_never_runs_out():
    space = one("qnormal", [0.0, 1.0, 1.0])  # almost all mass on -4..4, but infinitely many values
    rng = np.random.default_rng(0)
    seen: set = set()
    for _ in range(40):
        seen.add(space.random_unseen(rng, seen))
    values = sorted(space.to_architecture(p)["k"] for p in seen)
    assert len(values) == 40 and all(v == round(v) for v in values)
    qlog = one("qlognormal", [0.0, 0.1, 1.0])  # values 0, 1, 2, ...: never negative
    seen = set()
    for _ in range(10):
        seen.add(qlog.random_unseen(rng, seen))
    assert min(p[0] for p in seen) >= 0


@pytest.mark.parametrize("name", ["Random", "Evolution", "TPE"])
def test_proposals_for_a_layer_without_optional_input_size_pass_the_runtimes_check(name):
    """Tuners and trials read an absent `optional_input_size` alike (0), so every proposal validates."""
    from nasctl import searchspace, tuners

    space = {"m/f/h": {"_type": "mutable_layer", "_value": {"h": {
        "layer_choice": ["a()", "b()"], "optional_inputs": ["x", "y"]}}}}
    tuner = tuners.create(name, seed=0)
    tuner.update_search_space(space)
    proposals = []
    with pytest.raises(tuners.NoMoreTrialError, match="all 2 architectures"):
        for parameter_id in range(8):
            proposals.append(tuner.generate_parameters(parameter_id))
            searchspace.validate_architecture(proposals[-1], space)
            tuner.receive_trial_result(parameter_id, proposals[-1], float(parameter_id))
    assert sorted(p["m/f/h"]["h"]["chosen_layer"] for p in proposals) == ["a()", "b()"]
