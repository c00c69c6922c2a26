"""The policy tuners (`Reinforce`, `PPO`): maths in `_categorical`, orchestration beside it."""

from __future__ import annotations

from ._base import PolicyTuner
from ._ppo import PPOTuner
from ._reinforce import ReinforceTuner

__all__ = ["PolicyTuner", "ReinforceTuner", "PPOTuner"]
