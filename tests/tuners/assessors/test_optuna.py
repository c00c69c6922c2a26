"""Optuna's pruners behind the assessor interface: successive halving, Hyperband, any pruner."""

from __future__ import annotations

import optuna
import pytest
from nasctl.tuners.assessors import (
    AssessorError,
    AssessResult,
    HyperbandAssessor,
    OptunaPrunerAssessor,
    SuccessiveHalvingAssessor,
)

Good, Bad = AssessResult.Good, AssessResult.Bad


def test_successive_halving_keeps_the_top_fraction_at_each_rung() -> None:
    assessor = SuccessiveHalvingAssessor(min_resource=1, reduction_factor=2)
    assert assessor.assess_trial("first", [0.9]) is Good          # alone at rung 0: in its top half
    assessor.trial_end("first", True)
    assert assessor.assess_trial("poor", [0.1]) is Bad            # rung 0 holds 0.9, 0.1
    assessor.trial_end("poor", False)
    assert assessor.assess_trial("best", [0.95]) is Good
    states = [trial.state for trial in assessor.study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                      optuna.trial.TrialState.RUNNING]
    # Its values went in at steps 1, 2, ... as reported, only the new ones each time.
    assert assessor.assess_trial("best", [0.95, 0.96]) is Good
    assert assessor.study.trials[2].intermediate_values == {1: 0.95, 2: 0.96}


def test_successive_halving_minimize() -> None:
    assessor = SuccessiveHalvingAssessor(min_resource=1, reduction_factor=2, optimize_mode="minimize")
    assessor.assess_trial("first", [0.1])
    assessor.trial_end("first", True)
    assert assessor.assess_trial("poor", [0.9]) is Bad
    assert assessor.assess_trial("good", [0.05]) is Good


def test_hyperband_prunes_poor_trials_once_brackets_fill() -> None:
    assessor = HyperbandAssessor(min_resource=1, max_resource=9, reduction_factor=3)
    for index in range(12):
        assessor.assess_trial(f"done{index}", [0.5 + index / 100] * 9)
        assessor.trial_end(f"done{index}", True)
    verdicts = [assessor.assess_trial(f"poor{index}", [0.01]) for index in range(12)]
    # A trial in the bracket that never stops early always goes on; the others stop at their first rung.
    assert Bad in verdicts
    assert all(assessor.assess_trial(f"good{i}", [0.99]) is Good for i in range(6))


def test_any_optuna_pruner() -> None:
    assessor = OptunaPrunerAssessor(optuna.pruners.ThresholdPruner(lower=0.2))
    assert assessor.assess_trial("t", [0.5]) is Good
    assert assessor.assess_trial("t", [0.5, 0.1]) is Bad
    with pytest.raises(AssessorError, match=r"expected an optuna.pruners.BasePruner, got str"):
        OptunaPrunerAssessor("MedianPruner")


def test_restore_feeds_a_whole_history() -> None:
    assessor = SuccessiveHalvingAssessor(min_resource=1, reduction_factor=2)
    assessor.restore_trial("old", [0.9, 0.9, 0.9], True)
    assert assessor.study.trials[0].intermediate_values == {1: 0.9, 2: 0.9, 3: 0.9}
    assert assessor.assess_trial("poor", [0.1]) is Bad


@pytest.mark.parametrize(("factory", "kwargs", "message"), [
    (SuccessiveHalvingAssessor, {"reduction_factor": 1}, r"SuccessiveHalving: reduction_factor must be an integer >= 2"),
    (SuccessiveHalvingAssessor, {"min_resource": 0}, r"min_resource must be an integer >= 1 or 'auto', got 0"),
    (SuccessiveHalvingAssessor, {"min_early_stopping_rate": -1}, r"min_early_stopping_rate must be an integer >= 0"),
    (HyperbandAssessor, {"min_resource": "auto"}, r"Hyperband: min_resource must be an integer >= 1, got 'auto'"),
    (HyperbandAssessor, {"optimize_mode": "up"}, r"Hyperband: optimize_mode must be 'maximize' or 'minimize'"),
])
def test_bad_arguments(factory, kwargs: dict, message: str) -> None:
    with pytest.raises(AssessorError, match=message):
        factory(**kwargs)
