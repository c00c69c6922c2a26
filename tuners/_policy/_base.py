"""What the policy tuners share: actions over the search space, and a moving-average baseline."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._base import BuiltinTuner, check_float, check_int
from .._errors import TunerArgumentError
from .._space import Point
from . import _categorical as cat

__all__ = ["PolicyTuner"]


class PolicyTuner(BuiltinTuner):
    """A factorised categorical policy over the search space, trained from rewards.

    An action has one entry per dimension: the option's index for a `categorical` dimension, or
    one of `bins` equal-probability bins of the prior for any other (continuous, unbounded, or
    with more than `MAX_CATEGORIES` options; the value is then drawn from the prior within the
    bin). The advantage of a reward is its distance to a moving-average baseline (decay
    `baseline_decay`), in units of the rewards' running standard deviation, so the learning rate
    does not depend on the metric's scale.
    """

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None, lr: float = 0.1,
                 ent_coef: float = 0.0, baseline_decay: float = 0.9, bins: int = 10) -> None:
        super().__init__(optimize_mode, seed)
        self.lr = check_float("lr", lr, 0.0, open_low=True)
        self.ent_coef = check_float("ent_coef", ent_coef, 0.0)
        self.baseline_decay = check_float("baseline_decay", baseline_decay, 0.0, 1.0)
        if self.baseline_decay == 1.0:
            raise TunerArgumentError("class argument 'baseline_decay' must be below 1 (1 never moves the baseline)")
        self.bins = check_int("bins", bins, 2)

    def _reset_impl(self) -> None:
        self._binned = [not d.categorical for d in self.space.dimensions]
        self.logits = [np.zeros(self.bins if binned else d.size)
                       for d, binned in zip(self.space.dimensions, self._binned, strict=True)]
        self._actions: dict[int, tuple[tuple[int, ...], float]] = {}
        self._baseline: float | None = None
        self._count, self._mean, self._m2 = 0, 0.0, 0.0

    # -- actions ------------------------------------------------------------------------------
    def _propose_impl(self, parameter_id: int) -> Point:
        point = self._fresh(self._policy_point)
        action = self._action(point)
        self._actions[parameter_id] = (action, cat.log_prob(self.logits, action))
        return point

    def _policy_point(self) -> Point:
        action = cat.sample(self.logits, self.rng)
        return tuple(dim.from_unit((a + float(self.rng.random())) / self.bins) if binned else a
                     for dim, a, binned in zip(self.space.dimensions, action, self._binned, strict=True))

    def _action(self, point: Point) -> tuple[int, ...]:
        return tuple(min(int(dim.to_unit(c) * self.bins), self.bins - 1) if binned else int(c)
                     for dim, c, binned in zip(self.space.dimensions, point, self._binned, strict=True))

    def _taken(self, parameter_id: int | None, point: Point) -> tuple[tuple[int, ...], float]:
        """The action behind a result and its log-probability when it was taken."""
        if parameter_id is not None and parameter_id in self._actions:
            return self._actions.pop(parameter_id)
        action = self._action(point)
        return action, cat.log_prob(self.logits, action)

    def _fail_impl(self, parameter_id: int, point: Point) -> None:
        self._actions.pop(parameter_id, None)

    # -- rewards ------------------------------------------------------------------------------
    def _advantage(self, score: float) -> float:
        """(score - baseline) / std of the scores seen, clipped to [-3, 3]; updates both."""
        self._count += 1
        delta = score - self._mean
        self._mean += delta / self._count
        self._m2 += delta * (score - self._mean)  # Welford: m2 = sum (x - mean)^2
        std = math.sqrt(self._m2 / self._count)
        if self._baseline is None:
            self._baseline = score
        advantage = 0.0 if std == 0.0 else (score - self._baseline) / std
        self._baseline = self.baseline_decay * self._baseline + (1.0 - self.baseline_decay) * score
        return float(np.clip(advantage, -3.0, 3.0))

    def _step(self, grads: list[Any]) -> None:
        for theta, g in zip(self.logits, grads, strict=True):
            theta += self.lr * g  # gradient ascent: theta <- theta + lr * grad J
