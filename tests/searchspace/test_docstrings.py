"""The examples in the search-space package's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["nasctl.searchspace", "nasctl.searchspace._architecture", "nasctl.searchspace._dimensions",
           "nasctl.searchspace._equality", "nasctl.searchspace._errors", "nasctl.searchspace._keys",
           "nasctl.searchspace._layers", "nasctl.searchspace._types", "nasctl.searchspace._values"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.attempted > 0 and result.failed == 0
