"""The synthetic "one candidate is right" task of the backend kit, in Keras and in graph mode.

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps) and `s1` only adds noise, so each mode must find `conv3` and `s2`.
Tensors are channels-last, `(batch, length, channels)`. Every test here is skipped where TensorFlow is
not installed (it is the optional `tf` extra).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("tensorflow", reason="TensorFlow is the optional [tf] extra")
pytest.importorskip("keras", reason="TensorFlow is the optional [tf] extra")

from nasctl.runtime.modes.testing import task_module  # noqa: E402

_task = task_module("tensorflow")


@pytest.fixture
def kit() -> SimpleNamespace:
    """The task's pieces, for tests (pytest's importlib mode does not let them import this file)."""
    return SimpleNamespace(
        BLOCK=_task.BLOCK, LABELS=_task.LABELS, TARGET=_task.TARGET, Conv=_task.Conv,
        KERAS_CANDIDATES=_task.KERAS_CANDIDATES, GRAPH_CANDIDATES=_task.GRAPH_CANDIDATES,
        graph_conv=_task.graph_conv, Net=_task.Net, Task=_task.Task, mse=_task.mse, keras_train=_task.keras_train,
        GraphNet=_task.GraphNet, uniform_fetch=_task.uniform_fetch,
    )
