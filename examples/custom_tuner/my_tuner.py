"""A custom tuner in one file: greedy local search with random restarts.

The experiment config names it `className: my_tuner:MyTuner` with `codeDirectory: .`; nasctl imports
this file from that directory and calls NNI's tuner interface on it. An NNI tuner ports by changing
its import to `from tuners import Tuner`. `nasctl.tuners.SearchSpace` parses NNI's search-space JSON
(layers, input sets and the ten hyper-parameter types) so a tuner can work on points instead of
nested dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from nasctl.tuners import NoMoreTrialError, SearchSpace, Tuner, TunerArgumentError, scalar_value


class MyTuner(Tuner):
    """Propose a neighbour (one choice changed) of the best architecture so far; with probability
    `restart_probability`, or before any result, a random one. Never proposes an architecture twice."""

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None,
                 restart_probability: float = 0.1) -> None:
        if optimize_mode not in ("maximize", "minimize"):
            raise TunerArgumentError(f"class argument 'optimize_mode' must be maximize or minimize, got {optimize_mode!r}")
        if not 0.0 <= restart_probability <= 1.0:
            raise TunerArgumentError(f"class argument 'restart_probability' must be in [0, 1], got {restart_probability!r}")
        self.sign = 1.0 if optimize_mode == "maximize" else -1.0
        self.restart_probability = restart_probability
        self.rng = np.random.default_rng(seed)
        self.space: SearchSpace | None = None

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        self.space = SearchSpace(search_space)
        self.seen: set[tuple] = set()
        self.pending: dict[int, tuple] = {}
        self.best: tuple[tuple, float] | None = None

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        if self.space.size is not None and len(self.seen) >= self.space.size:
            raise NoMoreTrialError(f"MyTuner: all {self.space.size} architectures tried")
        point = None
        if self.best is not None and self.rng.random() >= self.restart_probability:
            for _ in range(20):
                candidate = self.space.mutate(self.best[0], self.rng)
                if candidate not in self.seen:
                    point = candidate
                    break
        if point is None:
            point = self.space.random_unseen(self.rng, self.seen)
        self.seen.add(point)
        self.pending[parameter_id] = point
        return self.space.to_architecture(point)

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any,
                             **kwargs: Any) -> None:
        point = self.pending.pop(parameter_id, None) or self.space.from_architecture(parameters)
        score = self.sign * scalar_value(value, parameter_id)
        if self.best is None or score > self.best[1]:
            self.best = (point, score)

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        self.pending.pop(parameter_id, None)  # a failed trial is not waited for
