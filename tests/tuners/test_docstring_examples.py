"""The examples in the tuners' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tuners", "nasctl.tuners._space", "nasctl.tuners._base", "nasctl.tuners._random", "nasctl.tuners._grid", "nasctl.tuners._evolution",
           "nasctl.tuners._tpe", "nasctl.tuners._policy._reinforce", "nasctl.tuners._policy._ppo", "nasctl.tuners._registry", "nasctl.tuners._tabular",
           "nasctl.tuners._nni", "nasctl.tuners.testing", "nasctl.tuners.testing._spaces",
           "nasctl.tuners.testing._conformance"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
