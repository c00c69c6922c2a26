"""`Assessor`, NNI's assessor interface: what decides, from a running trial's intermediate results,
whether it is worth finishing."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any

from nasctl.tuners._errors import TunerError

__all__ = ["Assessor", "AssessResult", "AssessorError", "check_optimize_mode", "scalar_history"]


class AssessorError(TunerError):
    """An assessor name or class argument is not accepted, or an assessor is not usable."""


class AssessResult(enum.Enum):
    """An assessor's verdict on a running trial (NNI's values: `Good` is True, `Bad` is False)."""

    Good = True
    Bad = False


class Assessor:
    """NNI's assessor interface: stops trials whose learning curves are hopeless.

    Port an NNI assessor by changing `from nni.assessor import Assessor, AssessResult` to
    `from nasctl.tuners.assessors import Assessor, AssessResult`. The experiment manager calls,
    always from one thread and in this order for each trial:

    1. `assess_trial(trial_job_id, trial_history)` after every intermediate result the trial
       reports; `trial_history` is the list of the trial's intermediate results so far, as numbers
       (the `default` of a dict result). Return `AssessResult.Bad` to stop the trial: it is killed
       and recorded `EARLY_STOPPED`, and the tuner receives its last intermediate result as its
       result. The trial keeps running while this method thinks.
    2. `trial_end(trial_job_id, success)` when the trial's process has ended; `success` is True
       only for a trial that finished by itself (not failed, not stopped early).

    `restore_trial(trial_job_id, trial_history, success)` replays a trial that ended before the
    experiment was resumed; by default it is one `assess_trial` with the whole history (its verdict
    ignored) and one `trial_end`.

    >>> class StopBelow(Assessor):
    ...     def assess_trial(self, trial_job_id, trial_history):
    ...         return AssessResult.Bad if trial_history[-1] < 0.1 else AssessResult.Good
    >>> StopBelow().assess_trial("t1", [0.5, 0.05])
    <AssessResult.Bad: False>
    """

    def assess_trial(self, trial_job_id: str, trial_history: list[float]) -> AssessResult:
        """Whether trial `trial_job_id` should go on, given its intermediate results so far."""
        raise NotImplementedError(f"{type(self).__name__} does not implement assess_trial")

    def trial_end(self, trial_job_id: str, success: bool) -> None:
        """Trial `trial_job_id` has ended; `success` is False when it failed or was stopped."""

    def restore_trial(self, trial_job_id: str, trial_history: list[float], success: bool) -> None:
        """Learn from a trial that ended before a resume (its whole history at once)."""
        if trial_history:
            self.assess_trial(trial_job_id, list(trial_history))
        self.trial_end(trial_job_id, success)


def check_optimize_mode(owner: str, value: Any) -> str:
    """`value` if it is `maximize` or `minimize`, else an `AssessorError` naming `owner`."""
    if value not in ("maximize", "minimize"):
        raise AssessorError(f"assessor {owner}: optimize_mode must be 'maximize' or 'minimize', got {value!r}")
    return value


def scalar_history(values: Sequence[Any]) -> list[float]:
    """Intermediate results as numbers: a number, or the `default` of a dict; others are skipped.

    >>> scalar_history([0.5, {"default": 0.6, "loss": 1.2}, {"arch_weights": {}}])
    [0.5, 0.6]
    """
    out = []
    for value in values:
        if isinstance(value, Mapping):
            value = value.get("default")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
    return out
