"""A custom tuner in one file: greedy local search with random restarts.

The experiment config names it `className: my_tuner:MyTuner` with `codeDirectory: .`; nasctl imports
this file from that directory and calls NNI's tuner interface on it. An NNI tuner ports by changing
its import to `from tuners import Tuner`. `nasctl.tuners.SearchSpace` parses NNI's search-space JSON
(layers, input sets and the ten hyper-parameter types) so a tuner can work on points instead of
nested dicts.

`test_my_tuner.py` beside it runs nasctl's tuner conformance kit on this class (`pytest test_my_tuner.py`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from nasctl.tuners import NoMoreTrialError, SearchSpace, Tuner, TunerArgumentError, TunerError, scalar_value


class MyTuner(Tuner):
    """Propose a neighbour (one choice changed) of the best architecture so far; with probability
    `restart_probability`, or before any result, a random one. Never proposes an architecture twice."""

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None,
                 restart_probability: float = 0.1) -> None:
        if optimize_mode not in ("maximize", "minimize"):
            raise TunerArgumentError(f"class argument 'optimize_mode' must be maximize or minimize, got {optimize_mode!r}")
        if not 0.0 <= restart_probability <= 1.0:
            raise TunerArgumentError(f"class argument 'restart_probability' must be in [0, 1], got {restart_probability!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise TunerArgumentError(f"class argument 'seed' must be a non-negative integer or null, got {seed!r}")
        self.sign = 1.0 if optimize_mode == "maximize" else -1.0
        self.restart_probability = restart_probability
        self.rng = np.random.default_rng(seed)
        self.space: SearchSpace | None = None

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        space = SearchSpace(search_space)
        if space == self.space:  # sent again on resume: keep the restored search
            return
        self.space = space
        self.seen: set[tuple] = set()
        self.pending: dict[int, tuple] = {}
        self.best: tuple[tuple, float] | None = None

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        if self.space is None:
            raise TunerError("MyTuner: update_search_space must be called before generate_parameters")
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
        score = self.sign * scalar_value(value, parameter_id)
        point = self.pending.pop(parameter_id, None) or self.space.from_architecture(parameters)
        self.seen.add(point)
        self._observe(point, score)

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        self.pending.pop(parameter_id, None)  # a failed trial is not waited for

    def import_data(self, data: list[dict[str, Any]]) -> None:
        points = []  # every entry is checked before any is used
        for index, entry in enumerate(data):
            if not isinstance(entry, dict) or "parameter" not in entry or "value" not in entry:
                raise TunerError(f"import_data entry {index}: expected {{'parameter': ..., 'value': ...}}")
            try:
                points.append((self.space.from_architecture(entry["parameter"]), scalar_value(entry["value"])))
            except TunerError as error:
                raise TunerError(f"import_data entry {index}: {error}") from None
        for point, value in points:
            self.seen.add(point)
            self._observe(point, self.sign * value)

    def _observe(self, point: tuple, score: float) -> None:
        if math.isfinite(score) and (self.best is None or score > self.best[1]):
            self.best = (point, score)
