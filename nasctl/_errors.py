"""The root of every exception nasctl raises for a user to catch."""

from __future__ import annotations

__all__ = ["NasctlError"]


class NasctlError(Exception):
    """Base class of nasctl's errors: annotations, configs, tuners, schemas, trials and experiments.

    >>> from nasctl import NasctlError
    >>> from nasctl.runtime.errors import ConfigError
    >>> issubclass(ConfigError, NasctlError)
    True
    """
