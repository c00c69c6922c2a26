"""Regularized evolution: random population first, tournament + one mutation after, ageing."""

from __future__ import annotations

import pytest

from nasctl import tuners

SPACE = {f"k{i}": {"_type": "choice", "_value": list(range(10))} for i in range(4)}


def score(arch):
    return sum(v * 10**i for i, v in enumerate(arch.values()))  # no ties


def differences(a, b):
    return sum(a[k] != b[k] for k in a)


def test_children_mutate_one_choice_of_the_tournament_winner(kit):
    tuner = tuners.EvolutionTuner(population_size=5, sample_size=5, seed=0)
    tuner.update_search_space(SPACE)
    population = kit.drive(tuner, 5, metric=score)
    for parameter_id in range(5, 30):
        best = max(population[-5:], key=score)  # sample_size == population_size: the winner is the best
        child = tuner.generate_parameters(parameter_id)
        assert differences(best, child) == 1
        tuner.receive_trial_result(parameter_id, child, score(child))
        population.append(child)


def test_the_oldest_dies_not_the_worst():
    tuner = tuners.EvolutionTuner(population_size=3, sample_size=1, seed=0)
    tuner.update_search_space(SPACE)
    archs = [tuner.generate_parameters(i) for i in range(3)]
    for i, arch in enumerate(archs):
        tuner.receive_trial_result(i, arch, 1000.0 if i == 0 else 0.0)  # the first is by far the best
    child = tuner.generate_parameters(3)
    tuner.receive_trial_result(3, child, 0.0)
    members = [tuner.space.to_architecture(p) for p, _ in tuner._population]
    assert archs[0] not in members and child in members and len(members) == 3


def test_random_until_the_population_is_full_even_with_trials_running():
    tuner = tuners.EvolutionTuner(population_size=4, sample_size=2, seed=0)
    tuner.update_search_space(SPACE)
    running = [tuner.generate_parameters(i) for i in range(4)]
    assert tuner._initial_pending == {0, 1, 2, 3}
    tuner.trial_end(1, False)  # a failed member is replaced by another random one
    tuner.generate_parameters(4)
    assert tuner._initial_pending == {0, 2, 3, 4}
    for i in (3, 0):  # out of order
        tuner.receive_trial_result(i, running[i], score(running[i]))
    assert tuner._initial_pending == {2, 4} and len(tuner._population) == 2


@pytest.mark.parametrize("args, match", [
    ({"population_size": 1}, "'population_size' must be an integer >= 2, got 1"),
    ({"sample_size": 0}, "'sample_size' must be an integer >= 1"),
    ({"population_size": 4, "sample_size": 5}, "'sample_size' \\(5\\) must not exceed 'population_size' \\(4\\)"),
])
def test_bad_class_arguments(args, match):
    with pytest.raises(tuners.TunerArgumentError, match=match):
        tuners.create("Evolution", **args)
