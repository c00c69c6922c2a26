"""`PPO`: the policy is updated in batches with PPO's clipped surrogate objective."""

from __future__ import annotations

import numpy as np

from .._base import check_float, check_int
from .._errors import TunerArgumentError
from .._space import Point
from . import _categorical as cat
from ._base import PolicyTuner

__all__ = ["PPOTuner"]


class PPOTuner(PolicyTuner):
    """Proximal policy optimisation (Schulman et al. 2017) on a factorised categorical policy.

    Results are collected until `trials_per_update` have arrived; then, for `epochs_per_update`
    epochs over shuffled minibatches of `minibatch_size`, the logits take a gradient-ascent step of
    size `lr` on `mean min(r A, clip(r, 1 - cliprange, 1 + cliprange) A) + ent_coef * H`, where
    `r = pi(a) / pi_old(a)` is measured against the policy that proposed `a`; with `max_grad_norm` the
    step's gradient is scaled down to that global norm. Argument names follow NNI's `PPOTuner`.

    >>> tuner = PPOTuner(seed=0, trials_per_update=4, minibatch_size=2)
    >>> tuner.update_search_space({"m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]}})
    >>> tuner.generate_parameters(0)["m/act/choice"] in ("relu", "tanh")
    True
    """

    # The ratio r is measured against the policy that proposed the action, however old.
    prepares_ahead = True

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None, trials_per_update: int = 5,
                 epochs_per_update: int = 4, minibatch_size: int = 5, lr: float = 0.5, ent_coef: float = 0.0,
                 cliprange: float = 0.2, baseline_decay: float = 0.9, bins: int = 10,
                 max_grad_norm: float | None = None) -> None:
        super().__init__(optimize_mode, seed, lr, ent_coef, baseline_decay, bins)
        self.max_grad_norm = None if max_grad_norm is None else check_float(
            "max_grad_norm", max_grad_norm, 0.0, open_low=True)
        self.trials_per_update = check_int("trials_per_update", trials_per_update, 1)
        self.epochs_per_update = check_int("epochs_per_update", epochs_per_update, 1)
        self.minibatch_size = check_int("minibatch_size", minibatch_size, 1)
        if self.minibatch_size > self.trials_per_update:
            raise TunerArgumentError(f"class argument 'minibatch_size' ({minibatch_size}) must not exceed "
                                     f"'trials_per_update' ({trials_per_update})")
        self.cliprange = check_float("cliprange", cliprange, 0.0, 1.0, open_low=True)

    def _reset_impl(self) -> None:
        super()._reset_impl()
        self._batch: list[tuple[tuple[int, ...], float, float]] = []

    def _observe_impl(self, parameter_id: int | None, point: Point, score: float) -> None:
        action, old_log_prob = self._taken(parameter_id, point)
        self._batch.append((action, old_log_prob, self._advantage(score)))
        if len(self._batch) >= self.trials_per_update:
            self._update()

    def _update(self) -> None:
        actions = [b[0] for b in self._batch]
        old = np.array([b[1] for b in self._batch])
        advantages = np.array([b[2] for b in self._batch])
        self._batch = []
        for _ in range(self.epochs_per_update):
            order = self.rng.permutation(len(actions))
            for start in range(0, len(order), self.minibatch_size):
                idx = order[start:start + self.minibatch_size]
                grads = cat.ppo_gradient(self.logits, [actions[i] for i in idx], old[idx], advantages[idx],
                                         self.cliprange, self.ent_coef)
                self._step(self._clipped(grads))

    def _clipped(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """`grads` scaled so that their global norm is at most `max_grad_norm` (NNI's PPO argument)."""
        if self.max_grad_norm is None:
            return grads
        norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))  # ||g||_2 over every logit
        if norm <= self.max_grad_norm:
            return grads
        return [g * (self.max_grad_norm / norm) for g in grads]
