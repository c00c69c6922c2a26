"""`ArchitectureError`: one class, catchable as the runtime's and nasctl's root errors."""

from __future__ import annotations

import pytest
from nasctl.runtime import errors

from nasctl import NasctlError
from nasctl.searchspace import ArchitectureError, SearchSpaceError


def test_the_runtime_re_exports_the_one_architecture_error() -> None:
    assert errors.ArchitectureError is ArchitectureError
    with pytest.raises(errors.NasError, match="architecture key 'm/x/choice': 3 is not"):
        raise ArchitectureError("3 is not one of the choices [1, 2]", "m/x/choice")


def test_the_key_is_kept_and_named_in_the_message() -> None:
    error = ArchitectureError("missing", "m/h")
    assert (error.key, str(error)) == ("m/h", "architecture key 'm/h': missing")
    assert str(ArchitectureError("not a JSON object")) == "not a JSON object"


def test_a_malformed_space_names_its_key() -> None:
    error = SearchSpaceError("needs low < high", "m/lr/uniform")
    assert isinstance(error, NasctlError)
    assert (error.key, error.detail, str(error)) == (
        "m/lr/uniform", "needs low < high", "search space key 'm/lr/uniform': needs low < high")
