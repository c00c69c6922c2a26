"""The synthetic "one candidate is right" task of the backend kit (`nasctl.runtime.modes.testing`).

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps), and `s1` only adds noise, so each mode must find `conv3` and `s2`.
tests/runtime/modes/test_conformance.py runs the kit's searches; the tests here use its pieces.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from nasctl.runtime.modes.testing import task_module

_task = task_module("torch")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is fastest, and kinder to a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def kit() -> SimpleNamespace:
    """The task's pieces, for tests (pytest's importlib mode does not let them import this file)."""
    return SimpleNamespace(Task=_task.Task, Net=_task.Net, Conv=_task.Conv, BLOCK=_task.BLOCK,
                           CANDIDATES=_task.CANDIDATES, TARGET=_task.TARGET, SEARCH_SPACE=_task.SEARCH_SPACE)
