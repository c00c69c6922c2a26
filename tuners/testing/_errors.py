"""The kit's one exception: a tuner under test broke a property."""

from __future__ import annotations

from .._errors import TunerError

__all__ = ["TunerConformanceError"]


class TunerConformanceError(TunerError, AssertionError):
    """A tuner broke a conformance property; the message names the property and what went wrong.

    It is an `AssertionError` too, so test runners report it as a failure, not as an error."""
