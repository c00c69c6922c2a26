"""NNI's built-in tuner names (v1 and v2 spellings) and the class arguments its docs list."""

from __future__ import annotations

import numpy as np
import pytest

from nasctl import tuners

SPACE = {"lr": {"_type": "choice", "_value": [1e-4, 1e-3, 1e-2]},
         "width": {"_type": "choice", "_value": [16, 32, 64]}}

# Every name in NNI's builtin_algorithms.yml (v2.10) and NNI v1's builtinTunerName list.
RUN = {"TPE": "TPETuner", "TPE_legacy": "TPETuner", "Random": "RandomTuner", "Evolution": "EvolutionTuner",
       "RegularizedEvolutionTuner": "EvolutionTuner", "GridSearch": "GridSearchTuner", "GPTuner": "TPETuner",
       "GP": "TPETuner", "PPOTuner": "PPOTuner", "PPO": "PPOTuner"}
REFUSED = {"Anneal": "TPE", "BatchTuner": "GridSearch", "Batch": "GridSearch", "MetisTuner": "GPTuner",
           "Metis": "GPTuner", "SMAC": "TPE", "NetworkMorphism": "Evolution", "PBTTuner": "Evolution",
           "DNGOTuner": "GPTuner", "Hyperband": "Random", "BOHB": "TPE"}


@pytest.mark.parametrize("name", sorted(RUN))
def test_supported_names_run(name: str) -> None:
    tuner = tuners.create(name, optimize_mode="maximize", seed=0)
    assert type(tuner).__name__ == RUN[name]
    tuner.update_search_space(SPACE)
    params = tuner.generate_parameters(0)
    assert set(params) == set(SPACE)
    tuner.receive_trial_result(0, params, 0.5)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_names_say_what_comes_closest(name: str) -> None:
    with pytest.raises(tuners.TunerArgumentError,
                       match=f"NNI's {name} is not supported by nasctl; the closest is {REFUSED[name]}"):
        tuners.create(name, optimize_mode="maximize")


def test_gp_tuner_is_optunas_gp_sampler_and_learns() -> None:
    tuner = tuners.create("GPTuner", optimize_mode="maximize", seed=0, cold_start_num=3)
    assert (tuner.sampler_name, tuner.sampler_args) == ("GPSampler", {"n_startup_trials": 3})
    tuner.update_search_space({"x": {"_type": "uniform", "_value": [0.0, 1.0]}})
    for i in range(8):
        x = tuner.generate_parameters(i)["x"]
        tuner.receive_trial_result(i, {"x": x}, -(x - 0.7) ** 2)
    with pytest.raises(tuners.TunerArgumentError, match="GPTuner class argument 'utility' is not supported"):
        tuners.create("GPTuner", utility="ei")


def test_tpe_arguments_of_nni_v1_and_v2() -> None:
    v1 = tuners.create("TPE", optimize_mode="maximize", parallel_optimize=False, constant_liar_type="min")
    assert v1.sampler_args == {"constant_liar": False}
    v2 = tuners.create("TPE", optimize_mode="maximize", tpe_args={"n_startup_jobs": 5, "constant_liar_type": None})
    assert v2.sampler_args == {"n_startup_trials": 5, "constant_liar": False}
    with pytest.raises(tuners.TunerArgumentError, match="tpe_args.linear_forgetting' is not supported by nasctl"):
        tuners.create("TPE", tpe_args={"linear_forgetting": 25})


@pytest.mark.parametrize("argument", ["vf_coef", "gamma", "lam"])
def test_ppo_value_network_arguments_are_refused(argument: str) -> None:
    with pytest.raises(tuners.TunerArgumentError,
                       match=f"NNI's PPO class argument '{argument}' is not supported by nasctl; the closest is "
                       "baseline_decay"):
        tuners.create("PPOTuner", **{argument: 0.9})


def test_ppo_max_grad_norm_clips_the_step() -> None:
    tuner = tuners.create("PPOTuner", max_grad_norm=0.5, ent_coef=0.01, cliprange=0.2, lr=1.0, minibatch_size=1,
                          trials_per_update=1, epochs_per_update=1, seed=0)
    grads = [np.array([3.0, 4.0]), np.array([0.0])]
    clipped = tuner._clipped(grads)
    assert np.linalg.norm(np.concatenate(clipped)) == pytest.approx(0.5)
    assert tuner._clipped([np.array([0.3, 0.0])])[0].tolist() == [0.3, 0.0]  # within the norm: unchanged
    tuner.update_search_space({"width": SPACE["width"]})
    before = [theta.copy() for theta in tuner.logits]
    params = tuner.generate_parameters(0)
    tuner.receive_trial_result(0, params, 100.0)  # a huge advantage: the step is at most lr * max_grad_norm
    moved = np.concatenate([a - b for a, b in zip(tuner.logits, before, strict=True)])
    assert 0 < np.linalg.norm(moved) <= 0.5 + 1e-9
