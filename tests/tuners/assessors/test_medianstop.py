"""Medianstop's decision rule against hand-made histories."""

from __future__ import annotations

import pytest
from nasctl.tuners.assessors import AssessorError, AssessResult, MedianstopAssessor

Good, Bad = AssessResult.Good, AssessResult.Bad


def _completed(assessor: MedianstopAssessor, histories: dict[str, list[float]]) -> None:
    for trial_id, history in histories.items():
        assessor.assess_trial(trial_id, history)
        assessor.trial_end(trial_id, True)


def test_no_completed_trial_means_no_stop() -> None:
    assessor = MedianstopAssessor()
    assert assessor.assess_trial("t", [0.0, 0.0, 0.0]) is Good


def test_maximize_stops_below_the_median_of_running_averages_at_the_same_step() -> None:
    assessor = MedianstopAssessor(start_step=1)
    # Running averages at step 2: 0.3, 0.5, 0.7 -> median 0.5.
    _completed(assessor, {"a": [0.2, 0.4, 0.6], "b": [0.4, 0.6, 0.8], "c": [0.6, 0.8, 1.0]})
    assert assessor.assess_trial("x", [0.1, 0.45]) is Bad
    assert assessor.assess_trial("y", [0.1, 0.5]) is Good       # not strictly worse
    assert assessor.assess_trial("z", [0.55, 0.2]) is Good      # its best so far counts, not its last
    # At step 1 the averages are the first values 0.2, 0.4, 0.6 -> median 0.4.
    assert assessor.assess_trial("w", [0.39]) is Bad
    assert assessor.assess_trial("v", [0.41]) is Good


def test_minimize_mirrors_the_rule() -> None:
    assessor = MedianstopAssessor(optimize_mode="minimize")
    # Running averages at step 2: 0.9, 0.5, 0.7 -> median 0.7.
    _completed(assessor, {"a": [1.0, 0.8], "b": [0.6, 0.4], "c": [0.8, 0.6]})
    assert assessor.assess_trial("x", [0.9, 0.75]) is Bad
    assert assessor.assess_trial("y", [0.9, 0.7]) is Good


def test_even_count_takes_the_middle_value_that_stops_fewer_trials() -> None:
    maximize = MedianstopAssessor()
    _completed(maximize, {"a": [0.2], "b": [0.6]})
    assert maximize.assess_trial("x", [0.3]) is Good    # the mean 0.4 would stop it; NNI's lower median does not
    assert maximize.assess_trial("y", [0.1]) is Bad
    minimize = MedianstopAssessor(optimize_mode="minimize")
    _completed(minimize, {"a": [0.2], "b": [0.6]})
    assert minimize.assess_trial("x", [0.5]) is Good
    assert minimize.assess_trial("y", [0.7]) is Bad


def test_start_step_and_shorter_completed_trials() -> None:
    assessor = MedianstopAssessor(start_step=3)
    _completed(assessor, {"a": [0.9, 0.9, 0.9, 0.9], "short": [0.9, 0.9]})
    assert assessor.assess_trial("x", [0.0, 0.0]) is Good         # before start_step
    assert assessor.assess_trial("x", [0.0, 0.0, 0.0]) is Bad
    assert assessor.assess_trial("y", [0.0] * 5) is Good          # no completed trial reached step 5


def test_failed_and_stopped_trials_do_not_count() -> None:
    assessor = MedianstopAssessor()
    assessor.assess_trial("failed", [0.9, 0.9])
    assessor.trial_end("failed", False)
    assert assessor.assess_trial("x", [0.1, 0.1]) is Good
    _completed(assessor, {"done": [0.5, 0.5]})
    assert assessor.assess_trial("x", [0.1, 0.1]) is Bad


def test_restore_counts_a_completed_trial_at_once() -> None:
    assessor = MedianstopAssessor()
    assessor.restore_trial("old", [0.5, 0.7], True)
    assessor.restore_trial("stopped", [0.9], False)
    assert assessor.assess_trial("x", [0.55, 0.55]) is Bad        # running average of "old" at step 2: 0.6
    assert assessor.assess_trial("y", [0.6]) is Good              # "stopped" is not a completed trial


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_step": -1}, r"assessor Medianstop: start_step must be an integer >= 0, got -1"),
    ({"start_step": 2.5}, r"start_step must be an integer >= 0, got 2.5"),
    ({"optimize_mode": "max"}, r"assessor Medianstop: optimize_mode must be 'maximize' or 'minimize', got 'max'"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(AssessorError, match=message):
        MedianstopAssessor(**kwargs)
