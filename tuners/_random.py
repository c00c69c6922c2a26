"""`Random`: independent draws from the search space's prior, never the same architecture twice."""

from __future__ import annotations

from ._base import BuiltinTuner
from ._space import Point

__all__ = ["RandomTuner"]


class RandomTuner(BuiltinTuner):
    """Random search: every dimension drawn from its prior (NNI's semantics), without repeats.

    >>> tuner = RandomTuner(seed=0)
    >>> tuner.update_search_space({"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]}})
    >>> tuner.generate_parameters(0)
    {'m/lr/choice': 0.01}
    """

    prepares_ahead = True  # a draw never depends on results

    def _propose_impl(self, parameter_id: int) -> Point:
        return self.space.random_unseen(self.rng, self._seen)
