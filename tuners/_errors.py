"""The tuners' exceptions: one root, `TunerError`, with a subclass for each kind of failure."""

from __future__ import annotations

from nasctl._errors import NasctlError

__all__ = ["TunerError", "NoMoreTrialError", "SearchSpaceError", "TunerArgumentError", "CheckpointError"]


class TunerError(NasctlError):
    """The root of every error a tuner raises; the experiment manager prints it without a traceback."""


class NoMoreTrialError(TunerError):
    """The tuner has nothing left to propose: the search space is exhausted or the search is over."""


class SearchSpaceError(TunerError):
    """A search space (or an architecture checked against one) is malformed; `key` names the entry."""

    def __init__(self, message: str, key: str | None = None, where: str | None = None) -> None:
        self.key = key
        self.detail = message
        self.where = where
        text = f"search space key '{key}': {message}" if key else message
        super().__init__(f"{where}: {text}" if where else text)


class TunerArgumentError(TunerError):
    """A tuner name or class argument is not accepted; the message lists what is."""


class CheckpointError(TunerError):
    """A checkpoint file cannot be written, read, or does not belong to this tuner."""
