"""`GridSearch`: every combination of the search space's options, each exactly once."""

from __future__ import annotations

from ._base import BuiltinTuner, check_int
from ._space import Point, SearchSpace

__all__ = ["GridSearchTuner"]


class GridSearchTuner(BuiltinTuner):
    """Grid search over the discrete parts of the space, in `SearchSpace.enumerate()` order.

    `choice`, `randint`, `quniform`, `qloguniform` and every layer's candidates and input sets
    are enumerated. `uniform` and `loguniform` are refused unless `continuous_points` is given,
    in which case each becomes that many evenly (log-evenly) spaced values; the unbounded
    `normal` family is always refused. Architectures already seen through `import_data` are
    skipped. `seed` is accepted for uniformity and does not change the order.

    >>> tuner = GridSearchTuner()
    >>> tuner.update_search_space({"m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]}})
    >>> [tuner.generate_parameters(i)["m/act/choice"] for i in range(2)]
    ['relu', 'tanh']
    """

    prepares_ahead = True  # a fixed order that results do not change

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None,
                 continuous_points: int | None = None) -> None:
        super().__init__(optimize_mode, seed)
        self.continuous_points = None if continuous_points is None else check_int(
            "continuous_points", continuous_points, 2)
        self._next = 0

    def _prepare_space(self, space: SearchSpace) -> SearchSpace:
        return space.discretized(self.continuous_points)

    def _reset_impl(self) -> None:
        self._next = 0

    def _propose_impl(self, parameter_id: int) -> Point:
        while True:
            point = self.space.unrank(self._next)
            self._next += 1
            if point not in self._seen:
                return point
