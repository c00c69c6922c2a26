"""The examples in the tuners' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tuners", "tuners._space", "tuners._base", "tuners._random", "tuners._grid", "tuners._evolution",
           "tuners._tpe", "tuners._policy._reinforce", "tuners._policy._ppo", "tuners._registry", "tuners._tabular"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
