"""The framework-free part the torch and TensorFlow one-shot backends share (`nasctl.runtime.modes._spec`)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from nasctl.runtime.errors import ArchitectureError, TrialError
from nasctl.runtime.modes._spec import (
    LayerSpec,
    RewardWindow,
    all_architectures,
    drop_rate,
    fetch_subgraph,
    kept_scale,
    mutate_architecture,
    remember_spec,
    sample_layers,
    search_architecture,
    top_inputs,
)

# 3 candidates x 3 input sets ([], [s1], [s2]) = 9 subnets, the torch and TF tests' layer
SPEC = LayerSpec.of_call("task/Net.forward/h", "h", ["Conv(3)", "Conv(3, dilation=2)", "Conv(1)"], ["s1", "s2"],
                         [0, 1])
TARGET = {SPEC.block_key: {"h": {"chosen_layer": "Conv(3)", "chosen_inputs": ["s2"]}}}
OTHER = LayerSpec.of_call("task/Net.forward/g", "g", ["a()", "b()"], [], 0)


def key(arch: dict) -> str:
    return json.dumps(arch, sort_keys=True)


def test_the_spec_lists_its_subgraphs_and_round_trips_a_choice():
    assert SPEC.subsets == ((), (0,), (1,))
    assert len(SPEC.subgraphs) == 9
    assert SPEC.subgraph_index(*SPEC.decode(TARGET)) == 2
    assert SPEC.choice(0, (1,)) == TARGET[SPEC.block_key]["h"]
    assert len({key(a) for a in all_architectures([SPEC, OTHER])}) == 18


def test_bad_layers_and_choices_name_the_layer():
    with pytest.raises(ArchitectureError, match="key 'm/b/h': a mutable layer needs at least one candidate"):
        LayerSpec.of_call("m/b", "h", [], [], 0)
    with pytest.raises(ArchitectureError, match=r"optional_input_size \[1, 3\] does not fit 2 optional input"):
        LayerSpec.of_call("m/b", "h", ["f()"], ["x", "y"], [1, 3])
    specs: dict = {}
    assert remember_spec(specs, SPEC) and not remember_spec(specs, SPEC)
    with pytest.raises(ArchitectureError, match="same layer key is called with different candidates"):
        remember_spec(specs, LayerSpec.of_call(SPEC.block_key, "h", ["Conv(3)"], [], 0))
    with pytest.raises(ArchitectureError, match=r"chosen_inputs \['s1', 's2'\] must be 0 to 1 distinct names"):
        SPEC.decode({SPEC.block_key: {"h": {"chosen_layer": "Conv(1)", "chosen_inputs": ["s1", "s2"]}}})


def test_drop_rate_and_the_scale_of_kept_paths():
    for k in (1, 2, 5):
        assert drop_rate(0.01, k) ** k == pytest.approx(0.01)
        assert kept_scale(drop_rate(0.01, k)) == pytest.approx(1 / (1 - 0.01 ** (1 / k)))
    assert kept_scale(drop_rate(1.0, 3)) == 0.0  # r = 1: every path drops, nothing to scale


def test_top_inputs_clamps_the_count_to_the_range():
    spec = LayerSpec.of_call("m/b", "h", ["f()"], ["a", "b", "c"], [1, 2])
    assert top_inputs(spec, [0.9, 0.8, 0.7], 0.5) == [0, 1]  # three above: clamped to 2
    assert top_inputs(spec, [0.1, 0.3, 0.2], 0.5) == [1]  # none above: at least 1, the best
    assert top_inputs(spec, [0.1, 0.3, 0.2], None) == [1, 2]


def counting(target: dict) -> tuple[list[str], object]:
    seen: list[str] = []

    def evaluate(arch: dict) -> float:
        seen.append(key(arch))
        return 1.0 if arch == target else 0.0

    return seen, evaluate


@pytest.mark.parametrize("seed", range(50))
def test_random_search_scores_distinct_subnets_and_all_of_a_small_space(seed):
    seen, evaluate = counting(TARGET)
    best, score = search_architecture([SPEC], evaluate, budget=20, search="random", maximize=True,
                                      rng=random.Random(seed))
    assert (best, score) == (TARGET, 1.0)  # 9 subnets, budget 20: every one scored, never missed
    assert len(seen) == len(set(seen)) == 9
    seen, evaluate = counting(TARGET)
    search_architecture([SPEC, OTHER], evaluate, budget=10, search="random", maximize=True, rng=random.Random(seed))
    assert len(seen) == len(set(seen)) == 10  # 18 subnets, budget 10: 10 distinct ones


def test_minimize_and_bad_arguments():
    seen, evaluate = counting(TARGET)
    best, score = search_architecture([SPEC], lambda arch: -evaluate(arch), budget=9, search="random",
                                      maximize=False, rng=random.Random(0))
    assert best == TARGET and score == 1.0  # scores are negated when minimizing: higher is better
    rng = random.Random(0)
    with pytest.raises(TrialError, match="before any mutable layer ran"):
        search_architecture([], evaluate, budget=1, search="random", maximize=True, rng=rng)
    with pytest.raises(TrialError, match="budget must be a positive int, got 0"):
        search_architecture([SPEC], evaluate, budget=0, search="random", maximize=True, rng=rng)
    with pytest.raises(TrialError, match="search must be 'random' or 'evolution', got 'grid'"):
        search_architecture([SPEC], evaluate, budget=1, search="grid", maximize=True, rng=rng)
    with pytest.raises(TrialError, match=r"evaluate\(\) must return a number, got nan"):
        search_architecture([SPEC], lambda arch: float("nan"), budget=1, search="random", maximize=True, rng=rng)


@pytest.mark.parametrize("seed", range(10))
def test_evolution_scores_each_subnet_once_and_mutation_always_changes_one_choice(seed):
    rng = random.Random(seed)
    seen, evaluate = counting(TARGET)
    best, _ = search_architecture([SPEC], evaluate, budget=40, search="evolution", maximize=True, rng=rng,
                                  population=4, sample_size=2)
    assert best == TARGET and len(seen) == len(set(seen))
    parent = sample_layers([SPEC, OTHER], rng)
    for _ in range(20):
        child = mutate_architecture([SPEC, OTHER], parent, rng)
        changed = [(b, layer) for b in parent for layer in parent[b] if parent[b][layer] != child[b][layer]]
        assert len(changed) == 1
        block, layer = changed[0]
        assert sum(parent[block][layer][f] != child[block][layer][f] for f in ("chosen_layer", "chosen_inputs")) == 1


def test_reward_window_prefers_repeated_subgraphs_and_ignores_non_numbers():
    a = {"m/b": {"h": {"chosen_layer": "f()", "chosen_inputs": []}}}
    b = {"m/b": {"h": {"chosen_layer": "g()", "chosen_inputs": []}}}
    window = RewardWindow(10)
    assert window.best() is None
    window.add(a, 0.9)  # one lucky reward
    window.add(b, {"default": 0.6})
    window.add(b, 0.5)
    window.add(a, "not a reward")
    assert len(window) == 3 and window.best() == b
    window.add(a, 0.8)
    assert window.best() == a
    low = RewardWindow(10, "minimize")
    low.add(a, 1.0)
    low.add(b, 2.0)
    assert low.best() == a


def test_fetch_subgraph_says_what_is_missing():
    with pytest.raises(TrialError, match="enas mode needs a controller"):
        fetch_subgraph(None, False)
    with pytest.raises(TrialError, match="the tuner sent no subgraph"):
        fetch_subgraph(lambda: None, False)
    assert fetch_subgraph(lambda: None, True) is None  # no more: the current subgraph stays
    assert fetch_subgraph(lambda: {"k": 1}, False) == {"k": 1}


def test_the_shared_module_imports_no_framework():
    code = ("import sys, runtime.modes._spec, runtime.modes._options; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
