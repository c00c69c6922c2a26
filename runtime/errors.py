"""The runtime's exceptions: one root, a subclass per kind of user mistake."""

from __future__ import annotations

from nasctl._errors import NasError
from nasctl.searchspace._errors import ArchitectureError

__all__ = ["ArchitectureError", "ChannelError", "ConfigError", "ExperimentError", "NasError", "TrialError"]


class ConfigError(NasError):
    """An experiment config is invalid; `key` is the dotted path of the offending key."""

    def __init__(self, message: str, key: str | None = None, path: str | None = None) -> None:
        self.key = key
        self.path = path
        where = ", ".join(part for part in (path, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ExperimentError(NasError):
    """An experiment cannot be created, found, resumed or stopped."""


class TrialError(NasError):
    """A trial-side API call cannot be served (wrong platform, missing architecture, ...)."""


class ChannelError(NasError):
    """The channel between a trial and its experiment failed or refused a message."""
