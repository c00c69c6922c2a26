"""The conformance suite: every built-in tuner passes it through the `builtin` fixture."""

from __future__ import annotations

import json

import pytest

from nasctl import tuners


def test_proposals_are_valid_and_within_the_space(kit, builtin):
    tuner = builtin.make(seed=1)
    tuner.update_search_space(builtin.space)
    for arch in kit.drive(tuner, 25):
        kit.check_proposal(builtin.space, arch)


def test_same_seed_gives_the_same_sequence(kit, builtin):
    runs = []
    for _ in range(2):
        tuner = builtin.make(seed=7)
        tuner.update_search_space(builtin.space)
        runs.append(json.dumps(kit.drive(tuner, 15)))
    assert runs[0] == runs[1]


def test_different_seeds_give_different_sequences(kit, builtin):
    if builtin.name == "GridSearch":
        pytest.skip("the grid's order does not depend on the seed")
    runs = []
    for seed in (1, 2):
        tuner = builtin.make(seed=seed)
        tuner.update_search_space(builtin.space)
        runs.append(json.dumps(kit.drive(tuner, 5)))
    assert runs[0] != runs[1]


def test_failed_trials_are_not_waited_for(kit, builtin):
    tuner = builtin.make(seed=3)
    tuner.update_search_space(builtin.space)
    for parameter_id in range(20):
        parameters = tuner.generate_parameters(parameter_id)
        kit.check_proposal(builtin.space, parameters)
        if parameter_id % 3 == 0:
            tuner.trial_end(parameter_id, False)  # crashed before reporting
        elif parameter_id % 3 == 1:
            tuner.receive_trial_result(parameter_id, parameters, float("nan"))  # diverged
            tuner.trial_end(parameter_id, False)
        else:
            tuner.receive_trial_result(parameter_id, parameters, {"default": kit.objective(parameters), "loss": 1.0})
            tuner.trial_end(parameter_id, True)


def test_results_out_of_order_and_concurrent_proposals(kit, builtin):
    tuner = builtin.make(seed=4)
    tuner.update_search_space(builtin.space)
    pending = {i: tuner.generate_parameters(i) for i in range(8)}
    for parameter_id in (5, 0, 7, 2, 1, 6, 3, 4):
        tuner.receive_trial_result(parameter_id, pending[parameter_id], kit.objective(pending[parameter_id]))
    for arch in kit.drive(tuner, 10, start=8):
        kit.check_proposal(builtin.space, arch)


def test_no_duplicates_and_exhaustion_in_a_finite_space(kit, builtin):
    tuner = builtin.make(seed=5)
    tuner.update_search_space(kit.FINITE_SPACE)
    proposals = kit.drive(tuner, kit.FINITE_SIZE)
    keys = {json.dumps(p, sort_keys=True) for p in proposals}
    assert len(keys) == kit.FINITE_SIZE
    for arch in proposals:
        kit.check_proposal(kit.FINITE_SPACE, arch)
    with pytest.raises(tuners.NoMoreTrialError, match="all 72 architectures"):
        tuner.generate_parameters(kit.FINITE_SIZE)


def test_checkpoint_round_trip_continues_the_same_sequence(kit, builtin, tmp_path):
    tuner = builtin.make(seed=11)
    tuner.update_search_space(builtin.space)
    kit.drive(tuner, 12)
    pending = tuner.generate_parameters(12)  # a trial still running at the checkpoint
    tuner.save_checkpoint(tmp_path / "tuner.ckpt")
    tuner.receive_trial_result(12, pending, kit.objective(pending))
    expected = kit.drive(tuner, 10, start=13)

    resumed = builtin.make(seed=11)
    resumed.load_checkpoint(tmp_path / "tuner.ckpt")
    resumed.update_search_space(builtin.space)  # the manager sends the space again on resume: a no-op
    resumed.receive_trial_result(12, pending, kit.objective(pending))
    assert kit.drive(resumed, 10, start=13) == expected


def test_import_data_seeds_the_search(kit, builtin):
    source = tuners.create("Random", seed=0)
    source.update_search_space(kit.FINITE_SPACE)
    past = [{"parameter": p, "value": kit.objective(p)} for p in kit.drive(source, 20)]
    past[0]["value"] = {"default": past[0]["value"]}

    tuner = builtin.make(seed=6)
    tuner.update_search_space(kit.FINITE_SPACE)
    tuner.import_data(past)
    imported = {json.dumps(d["parameter"], sort_keys=True) for d in past}
    fresh = kit.drive(tuner, kit.FINITE_SIZE - len(past))
    assert not imported & {json.dumps(p, sort_keys=True) for p in fresh}  # imported ones are not proposed again
    with pytest.raises(tuners.NoMoreTrialError):
        tuner.generate_parameters(999)


def test_minimize_mode_is_accepted(kit, builtin):
    tuner = builtin.make(seed=2, optimize_mode="minimize")
    tuner.update_search_space(builtin.space)
    for arch in kit.drive(tuner, 12):
        kit.check_proposal(builtin.space, arch)


def test_bad_inputs_are_clear_errors(kit, builtin):
    tuner = builtin.make(seed=0)
    with pytest.raises(tuners.TunerError, match="update_search_space must be called"):
        tuner.generate_parameters(0)
    tuner.update_search_space(kit.FINITE_SPACE)
    parameters = tuner.generate_parameters(0)
    with pytest.raises(tuners.TunerError, match="parameter 0 is a dict without a 'default' key"):
        tuner.receive_trial_result(0, parameters, {"accuracy": 0.9})
    with pytest.raises(tuners.TunerError, match="import_data entry 1: search space key 'f/k/randint': 3 is outside \\[0, 3\\)"):
        tuner.import_data([{"parameter": parameters, "value": 1.0},
                           {"parameter": {**parameters, "f/k/randint": 3}, "value": 1.0}])
    with pytest.raises(tuners.TunerError, match="import_data entry 0: expected"):
        tuner.import_data([{"params": parameters}])
    with pytest.raises(tuners.TunerError, match="import_data entry 1: the result is 'high'; expected a number or a dict"):
        tuner.import_data([{"parameter": parameters, "value": 1.0}, {"parameter": parameters, "value": "high"}])
    # nothing of the refused calls was used: the pending trial still takes its result, and the search goes on
    tuner.receive_trial_result(0, parameters, 1.0)
    assert len(kit.drive(tuner, kit.FINITE_SIZE - 1, start=1)) == kit.FINITE_SIZE - 1
    with pytest.raises(tuners.TunerArgumentError, match="'optimize_mode' must be 'maximize' or 'minimize'"):
        builtin.make(optimize_mode="max")
    with pytest.raises(tuners.TunerArgumentError, match="'seed' must be a non-negative integer"):
        builtin.make(seed="x")


def test_generate_multiple_parameters_stops_at_exhaustion(kit, builtin):
    tuner = builtin.make(seed=0)
    tuner.update_search_space({"k": {"_type": "choice", "_value": [1, 2, 3]}})
    assert sorted(p["k"] for p in tuner.generate_multiple_parameters([0, 1, 2, 3, 4])) == [1, 2, 3]


def test_very_large_input_sets(kit, builtin):
    """4096 input sets: past the categorical limit of TPE and the policies (they use quantiles)."""
    space = {"b": {"_type": "mutable_layer", "_value": {"l": {
        "layer_choice": ["f()", "g()"], "optional_inputs": [f"i{j}" for j in range(12)], "optional_input_size": [0, 12]}}}}
    tuner = builtin.make(seed=0)
    tuner.update_search_space(space)
    for arch in kit.drive(tuner, 15):
        kit.check_proposal(space, arch)


def test_a_result_after_the_trial_was_declared_failed_is_still_used(kit, builtin):
    tuner = builtin.make(seed=8)
    tuner.update_search_space(builtin.space)
    first = tuner.generate_parameters(0)
    tuner.trial_end(0, False)
    tuner.receive_trial_result(0, first, kit.objective(first))  # late: the manager had given up on it
    tuner.receive_trial_result(0, first, kit.objective(first))  # and reported twice
    for arch in kit.drive(tuner, 8, start=1):
        kit.check_proposal(builtin.space, arch)
    assert json.dumps(first, sort_keys=True) not in {json.dumps(a, sort_keys=True) for a in kit.drive(tuner, 8, start=9)}
