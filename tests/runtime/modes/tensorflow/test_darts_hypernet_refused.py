"""TensorFlow darts refuses alpha(lambda) by its key (PyTorch offers it)."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from nasctl.runtime.errors import ConfigError  # noqa: E402
from nasctl.runtime.modes.tensorflow import DartsBackend  # noqa: E402


def test_hypernet_is_refused_with_its_key():
    with pytest.raises(ConfigError, match="the TensorFlow backend does not offer this darts option yet") as info:
        DartsBackend({"complexity": {"metric": "params", "hypernet": {"knots": 8}, "lambda": [1e-4, 1e-1]}})
    assert info.value.key == "darts.complexity.hypernet"
