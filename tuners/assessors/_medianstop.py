"""`Medianstop`: the median stopping rule of Google Vizier (Golovin et al. 2017), as NNI applies it."""

from __future__ import annotations

from typing import Any

from ._base import Assessor, AssessorError, AssessResult, check_optimize_mode

__all__ = ["MedianstopAssessor"]


class MedianstopAssessor(Assessor):
    """Stops a trial at step S when its best result so far is strictly worse than the median, over
    the trials that completed, of their running averages at step S.

    The running average of a completed trial at step S is the mean of its first S intermediate
    results. Only completed trials with at least S results take part; with none, the trial goes
    on. Nothing is stopped before `start_step` results. With an even number of completed trials,
    the median is the middle value that stops fewer trials (NNI's choice: the lower one when
    maximizing, the upper one when minimizing).

    >>> a = MedianstopAssessor(start_step=2)
    >>> _ = a.assess_trial("done", [0.5, 0.6, 0.7])
    >>> a.trial_end("done", True)          # running averages 0.5, 0.55, 0.6
    >>> a.assess_trial("slow", [0.1, 0.2])  # best 0.2 < median 0.55 at step 2
    <AssessResult.Bad: False>
    """

    def __init__(self, optimize_mode: str = "maximize", start_step: int = 0) -> None:
        self.optimize_mode = check_optimize_mode("Medianstop", optimize_mode)
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise AssessorError(f"assessor Medianstop: start_step must be an integer >= 0, got {start_step!r}")
        self.start_step = start_step
        self._running: dict[Any, list[float]] = {}
        self._completed: dict[Any, list[float]] = {}  # trial -> running averages at steps 1, 2, ...

    def assess_trial(self, trial_job_id: Any, trial_history: list[float]) -> AssessResult:
        self._running[trial_job_id] = list(trial_history)
        step = len(trial_history)
        if step == 0 or step < self.start_step:
            return AssessResult.Good
        averages = sorted(history[step - 1] for history in self._completed.values() if len(history) >= step)
        if not averages:
            return AssessResult.Good
        if self.optimize_mode == "maximize":
            median = averages[(len(averages) - 1) // 2]
            worse = max(trial_history) < median
        else:
            median = averages[len(averages) // 2]
            worse = min(trial_history) > median
        return AssessResult.Bad if worse else AssessResult.Good

    def trial_end(self, trial_job_id: Any, success: bool) -> None:
        history = self._running.pop(trial_job_id, None)
        if success and history:
            total = 0.0
            averages = []
            for index, value in enumerate(history, start=1):
                total += value
                averages.append(total / index)  # mean of the first `index` results
            self._completed[trial_job_id] = averages
