"""The ENAS controller tuner: NNI's interface, determinism, learning, checkpoints, errors."""

from __future__ import annotations

import pytest
import torch
from nasctl.tuners._enas import ENASTuner
from nasctl.tuners._errors import CheckpointError, SearchSpaceError, TunerArgumentError
from nasctl.tuners._space import SearchSpace

from nasctl import tuners

SPACE = {
    "m/Net.forward/h1": {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": ["conv3()", "conv5()", "pool()"], "optional_inputs": ["x", "skip"],
               "optional_input_size": [0, 1]},
        "h2": {"layer_choice": ["relu()", "tanh()"], "optional_inputs": ["h1", "x", "skip"],
               "optional_input_size": 2},
    }},
    "m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
    "m/units/randint": {"_type": "randint", "_value": [8, 12]},
    "m/dropout/uniform": {"_type": "uniform", "_value": [0.0, 0.5]},
}
BEST = {"h1": {"chosen_layer": "pool()", "chosen_inputs": ["skip"]},
        "h2": {"chosen_layer": "tanh()", "chosen_inputs": ["h1", "skip"]}}


@pytest.fixture(autouse=True)
def one_thread():
    """The controller's tensors are tiny: one intra-op thread is fastest on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reward(arch: dict) -> float:
    """1 per decision that matches BEST, plus 1 for the smallest learning rate."""
    block = arch["m/Net.forward/h1"]
    score = sum(block[layer][part] == BEST[layer][part] for layer in BEST for part in BEST[layer])
    return float(score + (arch["m/lr/choice"] == 0.001))


def make(seed=0, **kwargs) -> ENASTuner:
    tuner = ENASTuner(seed=seed, **kwargs)
    tuner.update_search_space(SPACE)
    return tuner


def test_samples_stay_inside_the_search_space():
    tuner = make()
    space = SearchSpace(SPACE)
    for i in range(30):
        arch = tuner.generate_parameters(i)
        space.from_architecture(arch)  # raises when anything is outside the space
        assert 0.0 <= arch["m/dropout/uniform"] <= 0.5
        assert len(arch["m/Net.forward/h1"]["h2"]["chosen_inputs"]) == 2
        tuner.receive_trial_result(i, arch, reward(arch))


def test_same_seed_same_sequence():
    def run(seed):
        tuner = make(seed, batch_size=3)
        out = []
        for i in range(12):
            arch = tuner.generate_parameters(i)
            tuner.receive_trial_result(i, arch, reward(arch))
            out.append(arch)
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_controller_learns_the_rewarded_architecture():
    tuner = make(0, lr=0.05, batch_size=5, baseline_decay=0.9)
    for i in range(250):
        arch = tuner.generate_parameters(i)
        tuner.receive_trial_result(i, arch, {"default": reward(arch)})
    best = tuner.best_architecture()
    assert best["m/Net.forward/h1"] == BEST
    assert best["m/lr/choice"] == 0.001


def test_minimize_negates_the_reward():
    tuner = make(0, optimize_mode="minimize", lr=0.05, batch_size=5, baseline_decay=0.9)
    for i in range(150):
        arch = tuner.generate_parameters(i)
        tuner.receive_trial_result(i, arch, -reward(arch))
    assert tuner.best_architecture()["m/Net.forward/h1"]["h1"]["chosen_layer"] == "pool()"


def test_failed_trials_and_results_of_unknown_ids_are_tolerated():
    tuner = make(batch_size=2)
    arch = tuner.generate_parameters(0)
    tuner.trial_end(0, success=False)
    assert 0 not in tuner.pending
    tuner.receive_trial_result(7, arch, 1.0)  # not proposed by this instance (a resume): encoded again
    tuner.receive_trial_result(9, arch, float("nan"))  # a diverged trial is skipped
    tuner.receive_trial_result(8, arch, 2.0)
    assert tuner.updates == 1
    assert tuner.best_architecture()  # the policy is still finite


def test_import_data_learns_from_past_results():
    tuner = make(batch_size=2)
    other = make(seed=9)
    data = [{"parameter": other.generate_parameters(i), "value": 1.0} for i in range(4)]
    tuner.import_data(data)
    assert tuner.updates == 2
    with pytest.raises(SearchSpaceError, match="import_data entry 0: search space key 'm/lr/choice': 0.5 is not one of the options"):
        bad = dict(data[0], parameter={**data[0]["parameter"], "m/lr/choice": 0.5})
        tuner.import_data([bad])


def test_checkpoint_round_trip_continues_the_same_sequence(tmp_path):
    tuner = make(seed=1, batch_size=2)
    for i in range(5):
        arch = tuner.generate_parameters(i)
        tuner.receive_trial_result(i, arch, reward(arch))
    tuner.save_checkpoint(tmp_path / "enas.pt")
    after = [tuner.generate_parameters(10 + i) for i in range(4)]
    restored = ENASTuner(seed=123)
    restored.load_checkpoint(tmp_path / "enas.pt")
    assert [restored.generate_parameters(10 + i) for i in range(4)] == after


def test_checkpoint_errors(tmp_path):
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable tuner checkpoint"):
        make().load_checkpoint(tmp_path / "junk.pt")
    tuners.create("Random", seed=0).save_checkpoint(tmp_path / "random.ckpt")
    with pytest.raises(CheckpointError, match="not of nasctl.tuners._enas.ENASTuner"):
        make().load_checkpoint(tmp_path / "random.ckpt")


def test_is_a_tuner_and_created_by_module_and_class():
    tuner = tuners.create("nasctl.tuners._enas:ENASTuner", optimize_mode="minimize", seed=0)
    assert isinstance(tuner, tuners.Tuner) and tuner.optimize_mode == "minimize"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimize_mode": "max"}, "'optimize_mode' must be 'maximize' or 'minimize'"),
    ({"batch_size": 0}, "'batch_size' must be an integer >= 1"),
    ({"lr": -1}, "'lr' must be a number in \\(0.0"),
    ({"baseline_decay": 1.0}, "'baseline_decay' must be a number in"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(TunerArgumentError, match=message):
        ENASTuner(**kwargs)


def test_results_must_be_numbers_and_space_comes_first():
    with pytest.raises(SearchSpaceError, match="update_search_space must be called"):
        ENASTuner().generate_parameters(0)
    tuner = make()
    arch = tuner.generate_parameters(0)
    with pytest.raises(tuners.TunerError, match="the result of parameter 0 is 'high'"):
        tuner.receive_trial_result(0, arch, "high")
