"""Optuna's pruners as assessors: successive halving (ASHA) and Hyperband, used, not rewritten.

Each assessor keeps an in-memory Optuna study; a nasctl trial is one Optuna trial, its intermediate
results are reported at steps 1, 2, ..., and the pruner's `should_prune` is the verdict.
"""

from __future__ import annotations

from typing import Any

from ._base import Assessor, AssessorError, AssessResult, check_optimize_mode

__all__ = ["OptunaPrunerAssessor", "SuccessiveHalvingAssessor", "HyperbandAssessor"]


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:  # pragma: no cover - optuna is a dependency of nasctl
        raise AssessorError("the Optuna pruner assessors need optuna: pip install 'optuna>=3.4'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


class OptunaPrunerAssessor(Assessor):
    """Any `optuna.pruners.BasePruner` behind NNI's assessor interface.

    >>> import optuna
    >>> a = OptunaPrunerAssessor(optuna.pruners.ThresholdPruner(lower=0.2))
    >>> a.assess_trial("t1", [0.5, 0.1])
    <AssessResult.Bad: False>
    """

    def __init__(self, pruner: Any, optimize_mode: str = "maximize", *, label: str = "OptunaPruner") -> None:
        optuna = _optuna()
        self.label = label
        self.optimize_mode = check_optimize_mode(label, optimize_mode)
        if not isinstance(pruner, optuna.pruners.BasePruner):
            raise AssessorError(f"assessor {label}: expected an optuna.pruners.BasePruner, got {type(pruner).__name__}")
        self.pruner = pruner
        # The sampler is never asked for a value; a seeded random one keeps Optuna from building TPE.
        # A fixed study name fixes Hyperband's bracket of each trial (a hash of the name and number).
        self.study = optuna.create_study(study_name="nasctl-assessor", direction=optimize_mode, pruner=pruner,
                                         sampler=optuna.samplers.RandomSampler(seed=0))
        self._trials: dict[Any, Any] = {}
        self._reported: dict[Any, int] = {}
        self._last: dict[Any, float] = {}

    def assess_trial(self, trial_job_id: Any, trial_history: list[float]) -> AssessResult:
        trial = self._trials.get(trial_job_id)
        if trial is None:
            trial = self._trials[trial_job_id] = self.study.ask()
            self._reported[trial_job_id] = 0
        for step in range(self._reported[trial_job_id], len(trial_history)):
            trial.report(float(trial_history[step]), step + 1)
        self._reported[trial_job_id] = len(trial_history)
        if not trial_history:
            return AssessResult.Good
        self._last[trial_job_id] = float(trial_history[-1])
        return AssessResult.Bad if trial.should_prune() else AssessResult.Good

    def trial_end(self, trial_job_id: Any, success: bool) -> None:
        trial = self._trials.pop(trial_job_id, None)
        self._reported.pop(trial_job_id, None)
        last = self._last.pop(trial_job_id, None)
        if trial is None:
            return
        state = _optuna().trial.TrialState
        if success and last is not None:
            self.study.tell(trial, last, state=state.COMPLETE)
        else:
            # Its reported steps still count: a pruned trial's rungs stay in ASHA's tables.
            self.study.tell(trial, state=state.PRUNED)


def _resource(label: str, name: str, value: Any, *, auto: bool) -> Any:
    if auto and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "an integer >= 1 or 'auto'" if auto else "an integer >= 1"
        raise AssessorError(f"assessor {label}: {name} must be {allowed}, got {value!r}")
    return value


def _factor(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise AssessorError(f"assessor {label}: reduction_factor must be an integer >= 2, got {value!r}")
    return value


class SuccessiveHalvingAssessor(OptunaPrunerAssessor):
    """Asynchronous successive halving (ASHA, Li et al. 2020): `optuna.pruners.SuccessiveHalvingPruner`.

    A trial reaching rung k (step `min_resource * reduction_factor**(k + min_early_stopping_rate)`)
    goes on only if it is in the top `1 / reduction_factor` of the trials that reached that rung.

    >>> a = SuccessiveHalvingAssessor(min_resource=1, reduction_factor=2)
    >>> _ = a.assess_trial("good", [0.9]); a.trial_end("good", True)
    >>> a.assess_trial("poor", [0.1])
    <AssessResult.Bad: False>
    """

    def __init__(self, min_resource: int | str = "auto", reduction_factor: int = 4, min_early_stopping_rate: int = 0,
                 optimize_mode: str = "maximize") -> None:
        label = "SuccessiveHalving"
        if isinstance(min_early_stopping_rate, bool) or not isinstance(min_early_stopping_rate, int) \
                or min_early_stopping_rate < 0:
            raise AssessorError(f"assessor {label}: min_early_stopping_rate must be an integer >= 0, "
                                f"got {min_early_stopping_rate!r}")
        pruner = _optuna().pruners.SuccessiveHalvingPruner(
            min_resource=_resource(label, "min_resource", min_resource, auto=True),
            reduction_factor=_factor(label, reduction_factor), min_early_stopping_rate=min_early_stopping_rate)
        super().__init__(pruner, optimize_mode, label=label)


class HyperbandAssessor(OptunaPrunerAssessor):
    """Hyperband (Li et al. 2018) over ASHA brackets: `optuna.pruners.HyperbandPruner`.

    `max_resource` is the number of intermediate results of a full trial (`auto`: that of the first
    trial that completes).
    """

    def __init__(self, min_resource: int = 1, max_resource: int | str = "auto", reduction_factor: int = 3,
                 optimize_mode: str = "maximize") -> None:
        label = "Hyperband"
        pruner = _optuna().pruners.HyperbandPruner(
            min_resource=_resource(label, "min_resource", min_resource, auto=False),
            max_resource=_resource(label, "max_resource", max_resource, auto=True),
            reduction_factor=_factor(label, reduction_factor))
        super().__init__(pruner, optimize_mode, label=label)
