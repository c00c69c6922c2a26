"""The backend kit's one exception: a backend broke a conformance property."""

from __future__ import annotations

from nasctl._errors import NasctlError

__all__ = ["BackendConformanceError"]


class BackendConformanceError(NasctlError, AssertionError):
    """A (framework, mode) backend failed a synthetic task; the message names the pair and what went
    wrong. It is an `AssertionError` too, so test runners report it as a failure."""
