"""The synthetic "one candidate is right" task of the backend kit, in Keras and in graph mode.

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps) and `s1` only adds noise, so each mode must find `conv3` and `s2`.
Tensors are channels-last, `(batch, length, channels)`. Every test module here is skipped where
TensorFlow is not installed (it is the optional `tf` extra).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from nasctl.runtime.modes.testing import task_module

try:
    import keras  # noqa: F401
    import tensorflow  # noqa: F401
except ImportError:
    MISSING = "TensorFlow is not installed (the optional [tf] extra: pip install nasctl[tf])"
else:
    MISSING = None


class _WithoutTensorFlow(pytest.Module):
    def collect(self):
        pytest.skip(MISSING, allow_module_level=True)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Without TensorFlow each test module here is reported as skipped, however pytest is invoked (an
    `importorskip` in this file would be an error when the folder is named on the command line)."""
    return _WithoutTensorFlow.from_parent(parent, path=module_path) if MISSING else None


@pytest.fixture
def kit() -> SimpleNamespace:
    """The task's pieces, for tests (pytest's importlib mode does not let them import this file)."""
    _task = task_module("tensorflow")
    return SimpleNamespace(
        BLOCK=_task.BLOCK, LABELS=_task.LABELS, TARGET=_task.TARGET, Conv=_task.Conv,
        KERAS_CANDIDATES=_task.KERAS_CANDIDATES, GRAPH_CANDIDATES=_task.GRAPH_CANDIDATES,
        graph_conv=_task.graph_conv, Net=_task.Net, Task=_task.Task, mse=_task.mse, keras_train=_task.keras_train,
        GraphNet=_task.GraphNet, uniform_fetch=_task.uniform_fetch,
    )
