"""`Evolution`: regularized evolution (Real et al. 2019, "Regularized Evolution for Image
Classifier Architecture Search", Algorithm 1)."""

from __future__ import annotations

from collections import deque

from ._base import BuiltinTuner, check_int
from ._errors import TunerArgumentError
from ._space import Point

__all__ = ["EvolutionTuner"]


class EvolutionTuner(BuiltinTuner):
    """Regularized (ageing) evolution.

    The first `population_size` proposals are random. After that each proposal is a child: draw
    `sample_size` members of the population at random (a tournament), take the best, and mutate
    exactly one of its choices. Every result joins the population as its youngest member and the
    oldest member is removed, however good it is (the "regularization"). Results may arrive in
    any order; a failed trial simply never joins. Imported data joins the population the same
    way.

    >>> tuner = EvolutionTuner(population_size=4, sample_size=2, seed=0)
    >>> tuner.update_search_space({"m/units/randint": {"_type": "randint", "_value": [1, 100]}})
    >>> for i in range(8):
    ...     p = tuner.generate_parameters(i)
    ...     tuner.receive_trial_result(i, p, p["m/units/randint"])
    """

    # A child of the current population is a valid proposal whichever results are still running
    # (Real et al. run their workers asynchronously).
    prepares_ahead = True

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None,
                 population_size: int = 20, sample_size: int = 5) -> None:
        super().__init__(optimize_mode, seed)
        self.population_size = check_int("population_size", population_size, 2)
        self.sample_size = check_int("sample_size", sample_size, 1)
        if self.sample_size > self.population_size:
            raise TunerArgumentError(f"class argument 'sample_size' ({sample_size}) must not exceed "
                                     f"'population_size' ({population_size})")
        self._reset_impl()

    def _reset_impl(self) -> None:
        self._population: deque[tuple[Point, float]] = deque()
        self._initial_pending: set[int] = set()

    def _propose_impl(self, parameter_id: int) -> Point:
        filling = len(self._population) + len(self._initial_pending) < self.population_size
        if filling or not self._population:
            self._initial_pending.add(parameter_id)
            return self.space.random_unseen(self.rng, self._seen)
        return self._fresh(self._child)

    def _child(self) -> Point:
        size = len(self._population)
        contenders = self.rng.choice(size, size=min(self.sample_size, size), replace=False)
        parent = max((self._population[int(i)] for i in contenders), key=lambda member: member[1])
        return self.space.mutate(parent[0], self.rng)

    def _observe_impl(self, parameter_id: int | None, point: Point, score: float) -> None:
        self._initial_pending.discard(parameter_id)
        self._population.append((point, score))
        while len(self._population) > self.population_size:
            self._population.popleft()  # ageing: the oldest dies, not the worst

    def _fail_impl(self, parameter_id: int, point: Point) -> None:
        self._initial_pending.discard(parameter_id)
