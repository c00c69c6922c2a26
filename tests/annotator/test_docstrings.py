"""The runnable examples in the compiler's docstrings stay true."""

from __future__ import annotations

import doctest

import pytest

from nasctl import annotator


@pytest.mark.parametrize(
    "module", [annotator, annotator._compile, annotator._errors], ids=lambda m: m.__name__
)
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
