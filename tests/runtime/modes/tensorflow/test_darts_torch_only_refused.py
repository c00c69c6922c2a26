"""TensorFlow darts refuses the options only PyTorch offers (alpha(lambda), hard samples) by their key."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from nasctl.runtime.errors import ConfigError  # noqa: E402
from nasctl.runtime.modes.tensorflow import DartsBackend  # noqa: E402


def test_hypernet_is_refused_with_its_key():
    with pytest.raises(ConfigError, match="the TensorFlow backend does not offer this darts option yet") as info:
        DartsBackend({"complexity": {"metric": "params", "hypernet": {"knots": 8}, "lambda": [1e-4, 1e-1]}})
    assert info.value.key == "darts.complexity.hypernet"


def test_hard_samples_are_refused_with_their_key():
    with pytest.raises(ConfigError, match="the TensorFlow backend does not offer this darts option yet") as info:
        DartsBackend({"sampler": "gumbel", "hard": True})
    assert info.value.key == "darts.hard"
