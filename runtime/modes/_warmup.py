"""The supernet warm-up counter: how much of its budget (`oneshot.warmup`) a training loop has used.

SiGeo (seed 001) trains the supernet only partly before searching ("warm-up", 0 to 100% of an
epoch); NASRec's reference counts it in training examples (`--train_limit`). A `Warmup` counts both
steps and samples, so a budget given in either, or in a fraction of an epoch, ends the loop exactly:

>>> from nasctl.runtime.modes import Warmup
>>> warmup = Warmup.of({"samples": 100})
>>> [warmup.take(32) for _ in range(5)]     # the last batch is cut to what is left
[32, 32, 32, 4, 0]
>>> warmup.samples, warmup.done
(100, True)

Framework-free (the torch and TensorFlow backends share it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._options import WarmupBudget

__all__ = ["Warmup"]


class Warmup:
    """Counts a warm-up's steps and samples against a budget; without one it never ends."""

    def __init__(self, max_steps: int | None = None, max_samples: int | None = None) -> None:
        self.max_steps = max_steps
        self.max_samples = max_samples
        self.steps = 0
        self.samples = 0

    @classmethod
    def of(cls, budget: WarmupBudget | Mapping[str, Any] | None, epoch_samples: int | None = None) -> Warmup:
        """The counter of `budget` (`oneshot.warmup`, parsed or not); `epoch_samples` sizes `{epochs: F}`."""
        if budget is not None and not isinstance(budget, WarmupBudget):
            budget = WarmupBudget.parse(budget)
        if budget is None:
            return cls()
        return cls(max_steps=budget.steps, max_samples=budget.sample_limit(epoch_samples))

    @property
    def done(self) -> bool:
        """Whether the budget is used up."""
        return ((self.max_steps is not None and self.steps >= self.max_steps)
                or (self.max_samples is not None and self.samples >= self.max_samples))

    @property
    def fraction(self) -> float | None:
        """The share of the budget used so far, in [0, 1]; None without a budget."""
        if self.max_samples is not None:
            return min(1.0, self.samples / self.max_samples) if self.max_samples else 1.0
        if self.max_steps is not None:
            return min(1.0, self.steps / self.max_steps) if self.max_steps else 1.0
        return None

    def take(self, batch_size: int) -> int:
        """How many examples of the next batch of `batch_size` to train on: the whole batch, the part
        the sample budget has left (the batch is cut), or 0 once the budget is used (stop). Counts them."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise TrialError(f"Warmup.take(batch_size): expected a positive int, got {batch_size!r}")
        if self.done:
            return 0
        size = batch_size if self.max_samples is None else min(batch_size, self.max_samples - self.samples)
        self.steps += 1
        self.samples += size
        return size

    def state(self) -> dict[str, Any]:
        """What a checkpoint records of the warm-up."""
        return {"steps": self.steps, "samples": self.samples, "max_steps": self.max_steps,
                "max_samples": self.max_samples, "fraction": self.fraction}
