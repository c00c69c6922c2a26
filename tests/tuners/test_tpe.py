"""TPE: Optuna samplers through ask/tell, NNI's priors kept, Optuna kept quiet."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from nasctl import tuners


@pytest.mark.parametrize("sampler", ["QMC", "Random", "TPESampler"])
def test_other_optuna_samplers(kit, sampler, capfd):
    tuner = tuners.create("TPE", sampler=sampler, seed=0)
    tuner.update_search_space(kit.MIXED_SPACE)
    for arch in kit.drive(tuner, 12):
        kit.check_proposal(kit.MIXED_SPACE, arch)
    out, err = capfd.readouterr()
    assert "optuna" not in (out + err).lower()  # no log lines, no warnings on the console


def test_cmaes_runs_or_says_what_to_install(kit):
    if importlib.util.find_spec("cmaes") is None:
        with pytest.raises(tuners.TunerArgumentError, match="CmaEsSampler needs the package\\(s\\) cmaes: pip install cmaes"):
            tuners.create("TPE", sampler="CmaEs")
        return
    tuner = tuners.create("TPE", sampler="CmaEs", seed=0)
    tuner.update_search_space(kit.MIXED_SPACE)
    for arch in kit.drive(tuner, 12):
        kit.check_proposal(kit.MIXED_SPACE, arch)


def test_normal_prior_is_kept_through_the_inverse_cdf():
    tuner = tuners.create("TPE", sampler="Random", seed=0)
    tuner.update_search_space({"n": {"_type": "normal", "_value": [5.0, 2.0]}})
    values = np.array([a["n"] for a in tuner.generate_multiple_parameters(list(range(800)))])
    assert abs(values.mean() - 5.0) < 0.2 and abs(values.std() - 2.0) < 0.2


def late_distances(told, seed: int) -> float:
    tuner = tuners.create("TPE", seed=seed)
    tuner.update_search_space({"x": {"_type": "randint", "_value": [0, 1000]}})
    distances = []
    for i in range(40):
        x = tuner.generate_parameters(i)["x"]
        tuner.receive_trial_result(i, {"x": x}, {"default": told(x)})
        distances.append(abs(x - 700))
    return float(np.mean(distances[-20:]))


def test_tpe_uses_its_results():
    """On a ramp peaking at 700, TPE's last proposals are far closer to the peak than when it is
    told nothing (the same value for every trial): about 110 against 250 on average."""
    told = np.mean([late_distances(lambda x: -abs(x - 700), seed) for seed in range(4)])
    untold = np.mean([late_distances(lambda x: 0.0, seed) for seed in range(4)])
    assert told < 0.6 * untold


@pytest.mark.parametrize("args, match", [
    ({"sampler": "Hyperband"}, "unknown Optuna sampler 'Hyperband'; accepted: TPE, CmaEs, GP, QMC, Random, NSGAII"),
    ({"sampler_args": {"n_startup": 5}}, "TPESampler takes no argument 'n_startup'; accepted: .*n_startup_trials"),
    ({"sampler_args": [1]}, "'sampler_args' must be a mapping"),
])
def test_bad_class_arguments(args, match):
    with pytest.raises(tuners.TunerArgumentError, match=match):
        tuners.create("TPE", **args)

