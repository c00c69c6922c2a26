"""The root of every exception nasctl raises for a user to catch, and the runtime's root under it."""

from __future__ import annotations

__all__ = ["NasError", "NasctlError"]


class NasctlError(Exception):
    """Base class of nasctl's errors: annotations, configs, tuners, schemas, trials and experiments.

    >>> from nasctl import NasctlError
    >>> from nasctl.runtime.errors import ConfigError
    >>> issubclass(ConfigError, NasctlError)
    True
    """


class NasError(NasctlError):
    """Root of every error the runtime raises for a user mistake or a failed experiment.

    Defined here (re-exported by `nasctl.runtime.errors`) so that the search-space leaf's
    `ArchitectureError` derives from it without importing the runtime.
    """

    __module__ = "nasctl.runtime.errors"
