"""The search space's errors: an architecture that does not fit its space, a malformed space.

`ArchitectureError` is a `nasctl.runtime.errors.NasError` (the runtime re-exports it), so every
`except NasError` catches it:

>>> from nasctl.runtime.errors import NasError
>>> issubclass(ArchitectureError, NasError)
True
"""

from __future__ import annotations

from nasctl._errors import NasctlError, NasError

__all__ = ["ArchitectureError", "SearchSpaceError"]


class ArchitectureError(NasError):
    """An architecture does not match its search space; `key` is the search-space key.

    >>> str(ArchitectureError("is not one of the choices [1, 2]", "m/x/choice"))
    "architecture key 'm/x/choice': is not one of the choices [1, 2]"
    """

    __module__ = "nasctl.searchspace"

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"architecture key '{key}': {message}" if key else message)


class SearchSpaceError(NasctlError):
    """A search space's entry is malformed (`detail` says how, `key` names it).

    Raised by `dimensions()`; the tuners re-raise it as their `SearchSpaceError` (a `TunerError`).
    """

    __module__ = "nasctl.searchspace"

    def __init__(self, detail: str, key: str | None = None) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"search space key '{key}': {detail}" if key else detail)
