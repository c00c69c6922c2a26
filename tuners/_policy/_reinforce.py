"""`Reinforce`: the policy is updated after every result by REINFORCE with a moving baseline."""

from __future__ import annotations

from .._space import Point
from . import _categorical as cat
from ._base import PolicyTuner

__all__ = ["ReinforceTuner"]


class ReinforceTuner(PolicyTuner):
    """REINFORCE (Williams 1992) on a factorised categorical policy over the search space.

    After each result: `theta += lr * (A * grad log pi(a) + ent_coef * grad H)`, with `A` the
    reward's advantage over the moving-average baseline (see `PolicyTuner`). Results may arrive
    out of order; each is credited to the action that produced it.

    >>> tuner = ReinforceTuner(seed=0)
    >>> tuner.update_search_space({"m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]}})
    >>> tuner.generate_parameters(0)["m/act/choice"] in ("relu", "tanh")
    True
    """

    # REINFORCE is on-policy: an action should come from the policy after the latest update.
    prepares_ahead = False

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None, lr: float = 0.3,
                 ent_coef: float = 0.0, baseline_decay: float = 0.9, bins: int = 10) -> None:
        super().__init__(optimize_mode, seed, lr, ent_coef, baseline_decay, bins)

    def _observe_impl(self, parameter_id: int | None, point: Point, score: float) -> None:
        action, _ = self._taken(parameter_id, point)
        advantage = self._advantage(score)
        self._step(cat.reinforce_gradient(self.logits, action, advantage, self.ent_coef))
