"""Curvefitting's rule and its learning-curve extrapolation against hand-made curves."""

from __future__ import annotations

import numpy as np
import pytest
from nasctl.tuners.assessors import AssessorError, AssessResult, CurvefittingAssessor, _curvefitting, _curves

Good, Bad = AssessResult.Good, AssessResult.Bad


def _curve(final: float, scale: float, steps: int) -> list[float]:
    """A pow3 curve: final - scale / x at x = 1..steps."""
    return [final - scale / x for x in range(1, steps + 1)]


@pytest.mark.parametrize(("family", "curve"), [
    ("pow3", lambda x: 0.95 - 0.6 * x ** -0.8),
    ("exp3", lambda x: 0.9 - 0.5 * np.exp(-0.3 * x)),
    ("ilog2", lambda x: 0.9 - 0.4 / np.log(x + 1)),
    ("log_linear", lambda x: 0.1 * np.log(x) + 0.3),
])
def test_a_curve_of_a_family_is_extrapolated_to_its_value(family: str, curve) -> None:
    points = [float(curve(x)) for x in range(1, 9)]
    fits = {fit.family: fit for fit in _curves.fit_curves(points)}
    assert fits[family].rmse < 1e-6
    assert fits[family](30.0) == pytest.approx(curve(30.0), abs=1e-4)
    assert _curves.predict(points, 30) == pytest.approx(curve(30.0), abs=0.01)


def test_too_few_points_give_no_prediction() -> None:
    assert _curves.predict([0.5, 0.6], 10) is None     # every family has at least 2 parameters


def test_nothing_is_stopped_before_a_trial_completes() -> None:
    assessor = CurvefittingAssessor(epoch_num=20, start_step=5)
    assert assessor.assess_trial("x", _curve(0.1, 0.05, 10)) is Good


def test_maximize_stops_a_curve_heading_below_threshold_times_the_best() -> None:
    assessor = CurvefittingAssessor(epoch_num=20, start_step=5, threshold=0.95)
    assessor.assess_trial("done", _curve(1.0, 0.5, 20))
    assessor.trial_end("done", True)
    assert assessor.best == pytest.approx(0.975)
    assert assessor.assess_trial("poor", _curve(0.6, 0.3, 5)) is Bad           # heads for 0.585 < 0.926
    # Low now (0.78 at step 5) but heading for 0.98 - 1/20 = 0.93 > 0.926: it goes on.
    assert assessor.assess_trial("late", _curve(0.98, 1.0, 5)) is Good
    assert assessor.assess_trial("early", _curve(0.6, 0.3, 4)) is Good         # before start_step


def test_minimize_stops_a_loss_heading_above_best_over_threshold() -> None:
    assessor = CurvefittingAssessor(epoch_num=20, start_step=5, threshold=0.9, optimize_mode="minimize")
    assessor.assess_trial("done", [0.2 + 0.5 / x for x in range(1, 21)])
    assessor.trial_end("done", True)                                                # best 0.225
    assert assessor.assess_trial("poor", [1.0 + 0.5 / x for x in range(1, 6)]) is Bad
    assert assessor.assess_trial("fine", [0.21 + 0.5 / x for x in range(1, 6)]) is Good


def test_failed_trials_do_not_set_the_best() -> None:
    assessor = CurvefittingAssessor(epoch_num=20, start_step=5)
    assessor.assess_trial("failed", _curve(1.0, 0.5, 20))
    assessor.trial_end("failed", False)
    assert assessor.best is None
    assessor.restore_trial("old", _curve(0.8, 0.1, 20), True)
    assert assessor.best == pytest.approx(0.795)


def test_gap_spaces_the_judgements(monkeypatch: pytest.MonkeyPatch) -> None:
    judged = []

    def fake_predict(history, target):
        judged.append(len(history))
        return 1.0

    monkeypatch.setattr(_curvefitting, "predict", fake_predict)
    assessor = CurvefittingAssessor(epoch_num=20, start_step=5, gap=3)
    assessor.assess_trial("done", [0.5] * 20)
    assessor.trial_end("done", True)
    for step in range(1, 15):
        assert assessor.assess_trial("x", [0.5] * step) is Good
    assert judged == [5, 8, 11, 14]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threshold": 0}, r"assessor Curvefitting: threshold must be a number in \(0, 1\], got 0"),
    ({"epoch_num": 0}, r"epoch_num must be an integer >= 1, got 0"),
    ({"gap": 0}, r"gap must be an integer >= 1, got 0"),
    ({"start_step": "6"}, r"start_step must be an integer >= 0, got '6'"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(AssessorError, match=message):
        CurvefittingAssessor(**kwargs)
