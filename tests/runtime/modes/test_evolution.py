"""Regularized evolution over architectures (`evolve_architectures`): generations, mutations, constraints."""

from __future__ import annotations

import random

from nasctl.runtime.modes._spec import (
    LayerSpec,
    evolve_architectures,
    mutate_architecture,
    sample_layers,
)

SPECS = [LayerSpec.of_call("m/b", f"l{i}", ("a", "b", "c", "d"), (), 0) for i in range(6)]


def score_b(arch):
    """The number of layers that chose `b`: the best architecture chooses it everywhere."""
    return sum(choice["chosen_layer"] == "b" for layers in arch.values() for choice in layers.values())


def changed(parent, child):
    return sum(parent["m/b"][k] != child["m/b"][k] for k in parent["m/b"])


def test_mutation_changes_exactly_the_asked_number_of_choices():
    rng = random.Random(0)
    parent = sample_layers(SPECS, rng)
    for count in (1, 2, 4):
        assert {changed(parent, mutate_architecture(SPECS, parent, rng, count)) for _ in range(20)} == {count}


def test_evolution_scores_at_most_population_plus_children_per_generation():
    calls = []
    ranked = evolve_architectures(SPECS, lambda arch: calls.append(1) or score_b(arch), rng=random.Random(1),
                                  population=8, sample_size=3, children=4, generations=5)
    assert len(calls) == len(ranked) <= 8 + 4 * 5
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)


def test_evolution_finds_better_architectures_than_its_random_population():
    ranked = evolve_architectures(SPECS, score_b, rng=random.Random(2), population=10, sample_size=5,
                                  children=4, generations=25, mutations=1)
    start = evolve_architectures(SPECS, score_b, rng=random.Random(2), population=10, sample_size=5,
                                 generations=0)
    assert ranked[0][1] >= 5 > start[0][1]


def test_every_scored_architecture_meets_the_constraint():
    no_d = lambda arch: all(c["chosen_layer"] != "d" for c in arch["m/b"].values())  # noqa: E731
    ranked = evolve_architectures(SPECS, score_b, rng=random.Random(3), population=6, sample_size=2,
                                  children=3, generations=6, mutations=2, valid=no_d)
    assert ranked and all(no_d(arch) for arch, _ in ranked)


def test_an_unsatisfiable_constraint_scores_nothing():
    calls = []
    assert evolve_architectures(SPECS, lambda arch: calls.append(1) or 0.0, rng=random.Random(0), population=2,
                                sample_size=2, generations=1, valid=lambda arch: False, max_draws=50) == []
    assert calls == []


def test_stop_ends_the_search_after_the_current_generation():
    asked = []
    ranked = evolve_architectures(SPECS, score_b, rng=random.Random(4), population=4, sample_size=2, children=2,
                                  generations=100, stop=lambda: asked.append(1) or len(asked) >= 3)
    assert len(asked) == 3 and len(ranked) <= 4 + 2 * 3
