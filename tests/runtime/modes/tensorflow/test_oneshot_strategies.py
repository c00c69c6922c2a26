"""TensorFlow's oneshot backend refuses the sampling strategies only the PyTorch backend has."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.modes.tensorflow import OneShotBackend


@pytest.mark.parametrize("strategy", ["any_path", "full_path"])
def test_pytorch_only_strategies_are_a_clear_error(strategy):
    with pytest.raises(ConfigError, match=f"strategy '{strategy}' is implemented for PyTorch only"):
        OneShotBackend({"strategy": strategy})
