"""`Curvefitting`: stop a trial whose extrapolated learning curve ends well below the best so far
(NNI's rule, with the simpler fit of `_curves`)."""

from __future__ import annotations

from typing import Any

from ._base import Assessor, AssessorError, AssessResult, check_optimize_mode
from ._curves import predict

__all__ = ["CurvefittingAssessor"]


def _positive_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AssessorError(f"assessor Curvefitting: {name} must be an integer >= {minimum}, got {value!r}")
    return value


class CurvefittingAssessor(Assessor):
    """Predicts each trial's result at epoch `epoch_num` from its curve so far and stops it when the
    prediction is worse than `threshold` times the best completed trial's last result.

    Maximizing, a trial is stopped when `predicted < threshold * best`; minimizing (a positive
    loss), when `predicted > best / threshold`. Nothing is judged before a trial has completed,
    before `start_step` results, nor more often than every `gap` results; a curve the families
    of `nasctl.tuners.assessors._curves` cannot fit goes on.

    >>> a = CurvefittingAssessor(epoch_num=20, start_step=5, threshold=0.95)
    >>> _ = a.assess_trial("done", [1 - 0.5 / x for x in range(1, 21)])
    >>> a.trial_end("done", True)                                          # best: 0.975
    >>> a.assess_trial("flat", [0.5 - 0.3 / x for x in range(1, 6)])       # heads for ~0.49
    <AssessResult.Bad: False>
    """

    def __init__(self, epoch_num: int = 20, start_step: int = 6, threshold: float = 0.95, gap: int = 1,
                 optimize_mode: str = "maximize") -> None:
        self.epoch_num = _positive_int("epoch_num", epoch_num, 1)
        # Three points are the fewest the two-parameter families can be fitted to with a residual.
        self.start_step = max(_positive_int("start_step", start_step, 0), 3)
        self.gap = _positive_int("gap", gap, 1)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
            raise AssessorError(f"assessor Curvefitting: threshold must be a number in (0, 1], got {threshold!r}")
        self.threshold = float(threshold)
        self.optimize_mode = check_optimize_mode("Curvefitting", optimize_mode)
        self.best: float | None = None
        self._last: dict[Any, list[float]] = {}
        self._judged: dict[Any, int] = {}

    def assess_trial(self, trial_job_id: Any, trial_history: list[float]) -> AssessResult:
        self._last[trial_job_id] = list(trial_history)
        step = len(trial_history)
        if self.best is None or step < self.start_step or step >= self.epoch_num:
            return AssessResult.Good
        if trial_job_id in self._judged and step - self._judged[trial_job_id] < self.gap:
            return AssessResult.Good
        self._judged[trial_job_id] = step
        if self.optimize_mode == "maximize":
            predicted = predict(trial_history, self.epoch_num)
            hopeless = predicted is not None and predicted < self.threshold * self.best
        else:
            flipped = predict([-value for value in trial_history], self.epoch_num)
            hopeless = flipped is not None and -flipped > self.best / self.threshold
        return AssessResult.Bad if hopeless else AssessResult.Good

    def trial_end(self, trial_job_id: Any, success: bool) -> None:
        history = self._last.pop(trial_job_id, None)
        self._judged.pop(trial_job_id, None)
        if not success or not history:
            return
        last = history[-1]
        if self.best is None:
            self.best = last
        else:
            self.best = max(self.best, last) if self.optimize_mode == "maximize" else min(self.best, last)

    def restore_trial(self, trial_job_id: Any, trial_history: list[float], success: bool) -> None:
        # Only a completed trial's last result matters here; no curve needs fitting.
        self._last[trial_job_id] = list(trial_history)
        self.trial_end(trial_job_id, success)
