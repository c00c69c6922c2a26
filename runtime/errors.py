"""The runtime's exceptions: one root, a subclass per kind of user mistake."""

from __future__ import annotations

from nasctl._errors import NasctlError


class NasError(NasctlError):
    """Root of every error the runtime raises for a user mistake or a failed experiment."""


class ConfigError(NasError):
    """An experiment config is invalid; `key` is the dotted path of the offending key."""

    def __init__(self, message: str, key: str | None = None, path: str | None = None) -> None:
        self.key = key
        self.path = path
        where = ", ".join(part for part in (path, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ArchitectureError(NasError):
    """An architecture does not match its search space; `key` is the search-space key."""

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"architecture key '{key}': {message}" if key else message)


class ExperimentError(NasError):
    """An experiment cannot be created, found, resumed or stopped."""


class TrialError(NasError):
    """A trial-side API call cannot be served (wrong platform, missing architecture, ...)."""


class ChannelError(NasError):
    """The channel between a trial and its experiment failed or refused a message."""
