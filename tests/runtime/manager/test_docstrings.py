"""The examples in the manager's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["nasctl.runtime.manager._kinds", "nasctl.runtime.manager._outcome", "nasctl.runtime.manager._retrain",
           "nasctl.runtime.manager._config"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.attempted > 0 and result.failed == 0
