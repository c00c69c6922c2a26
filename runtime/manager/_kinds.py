"""The manager's vocabulary: trial and experiment statuses, metric kinds, tuner events, channel messages.

Each is a `StrEnum`, so a member is the string stored in the database, written in exports and sent
on the channel (`TrialStatus.SUCCEEDED == "SUCCEEDED"`, `json.dumps` writes `"SUCCEEDED"`): the
stored data and the wire format are the strings they always were.

>>> import json
>>> TrialStatus("EARLY_STOPPED").finished
True
>>> json.dumps({"kind": MetricKind.FINAL})
'{"kind": "final"}'
"""

from __future__ import annotations

import enum

__all__ = ["ExperimentStatus", "MetricKind", "Reply", "Request", "TrialStatus", "TunerEvent", "TRIAL_STATUSES",
           "FINISHED_STATUSES", "FAILED_STATUSES"]


class TrialStatus(enum.StrEnum):
    """Where a trial is: WAITING to run (new, or interrupted and to run again), RUNNING, or finished."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"  # killed after maxTrialDuration
    USER_CANCELED = "USER_CANCELED"  # running when maxExperimentDuration was reached
    EARLY_STOPPED = "EARLY_STOPPED"  # stopped by the assessor

    @property
    def finished(self) -> bool:
        """Whether the trial has ended for good (it will not run again)."""
        return self not in (TrialStatus.WAITING, TrialStatus.RUNNING)

    @property
    def failed(self) -> bool:
        """Whether the trial ended without its result through its own fault (an error or its time limit)."""
        return self in (TrialStatus.FAILED, TrialStatus.TIMEOUT)


TRIAL_STATUSES = tuple(TrialStatus)
FINISHED_STATUSES = tuple(status for status in TrialStatus if status.finished)
FAILED_STATUSES = tuple(status for status in TrialStatus if status.failed)


class ExperimentStatus(enum.StrEnum):
    """Where an experiment is. NEW (no database yet) and INTERRUPTED (stored RUNNING, but its manager
    is gone) are read, never stored."""

    NEW = "NEW"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    STOPPED = "STOPPED"  # SIGINT/SIGTERM (nasctl stop); resumable
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def resumable(self) -> bool:
        """Whether `nasctl resume` carries on a run that did not end (stopped, or its manager died)."""
        return self in (ExperimentStatus.STOPPED, ExperimentStatus.INTERRUPTED)


class MetricKind(enum.StrEnum):
    """What a trial's metric is (the channel's `kind`, the `metrics.kind` column)."""

    INTERMEDIATE = "intermediate"
    FINAL = "final"
    ARCH_WEIGHTS = "arch_weights"  # darts: the architecture weights, for the view; never assessed


class TunerEvent(enum.StrEnum):
    """A tuner call as stored in `tuner_events`, replayed in order on resume."""

    GENERATE = "generate"  # generate_parameters; payload: the parameters
    RESULT = "result"  # receive_trial_result; payload: {"parameters", "value"}
    END = "end"  # trial_end; payload: success


class Request(enum.StrEnum):
    """A trial's request on the channel (its `type`)."""

    GET_PARAMETER = "get_parameter"
    METRIC = "metric"
    ARCHITECTURE = "architecture"  # a one-shot trial's derived architecture
    LOG = "log"


class Reply(enum.StrEnum):
    """The manager's answer on the channel (its `type`)."""

    PARAMETER = "parameter"
    NO_MORE_PARAMETERS = "no_more_parameters"
    ACK = "ack"
    ERROR = "error"
