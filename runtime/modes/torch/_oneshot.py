"""oneshot mode for PyTorch: the full graph trained through path dropout, or single-path (SPOS).

- `strategy: dropout` (Bender et al. 2018, NNI's oneshot_mode): during training every optional input
  and every candidate output of a layer is dropped independently with probability `r ** (1/k)`
  (`k` = the number of inputs, resp. candidates), so all `k` are dropped with probability `r`
  whatever the fan-in. A dropped input is passed to the candidates as zeros (the input list keeps its
  length); a dropped candidate is not run. When all candidates are dropped the layer's output is
  zero for that step, as in Bender et al. and NNI, where the dropped node contributes nothing to the
  sum; it happens with probability `r`. Kept paths are not rescaled, so a subnet evaluated later runs
  each path at the scale it was trained at. The kept outputs are summed. Outside training nothing is
  dropped.
- `strategy: single_path` (Guo et al. 2019): each training step runs one uniformly sampled subgraph
  per layer: a candidate, an input count uniform in the size range, then that many inputs uniformly;
  the candidate gets exactly the chosen inputs, as in classic mode. Outside training the full graph
  runs at its expectation: the mean of the candidates, each input scaled by its chance of being chosen.
- derivation (`derive(evaluate)`): subnets are fixed one at a time (`fixed` architecture: every layer
  runs its chosen candidate on its chosen inputs, as in classic mode), `evaluate()` scores each with
  the shared weights, and the best is returned. `search: random` samples `budget` distinct subnets uniformly;
  `search: evolution` is regularized evolution (Real et al. 2019) with `population` and `sample_size`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import torch

from runtime.errors import TrialError
from runtime.modes.torch._backend import Architecture, TorchOneShotBackend
from runtime.modes.torch._layer import LayerCandidates, LayerSpec
from runtime.modes.torch._options import OneShotOptions


class OneShotBackend(TorchOneShotBackend):
    """The oneshot mode; see the module docstring."""

    mode = "oneshot"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self.config = OneShotOptions.parse(options)
        self.fixed: Architecture | None = None
        self._fixed_choice: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        self._step_choice: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        self.best: tuple[Architecture, float] | None = None

    def _new_layer_impl(self, spec: LayerSpec) -> None:
        if self.fixed is not None:
            self._fixed_choice[(spec.block_key, spec.layer_key)] = self.decode_choice(spec, self.fixed)

    def drop_rate(self, k: int) -> float:
        """Per-path drop probability `r ** (1/k)`: all `k` paths are dropped with probability `r`."""
        return self.config.r ** (1.0 / k)

    def _forward_impl(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        key = (spec.block_key, spec.layer_key)
        if self.fixed is not None:
            index, inputs = self._fixed_choice[key]
            return layer.call(index, fixed, [optional[i] for i in inputs])
        if not layer.training():
            return self._expected(layer, fixed, optional)
        if self.config.strategy == "single_path":
            return self._single_path(layer, fixed, optional)
        return self._dropout(layer, fixed, optional)

    def _expected(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        """The full graph at the scale training saw it: each path times its probability of being kept."""
        spec = layer.spec
        n = len(spec.labels)
        if self.config.strategy == "single_path":
            keep_input = (spec.input_low + spec.input_high) / 2 / len(optional) if optional else 0.0
            keep_output = 1.0 / n
        else:
            keep_input = 1.0 - self.drop_rate(len(optional)) if optional else 0.0
            keep_output = 1.0 - self.drop_rate(n)
        chosen = [keep_input * x for x in optional] if spec.input_high else []
        return keep_output * _sum(layer.call(i, fixed, chosen) for i in range(n))

    def _dropout(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        if spec.input_high == 0:
            chosen: list[Any] = []
        else:
            rate = self.drop_rate(len(optional))
            chosen = [torch.zeros_like(x) if self.rng.random() < rate else x for x in optional]
        rate = self.drop_rate(len(spec.labels))
        kept = [i for i in range(len(spec.labels)) if self.rng.random() >= rate]
        if not kept:
            return layer.call(0, fixed, chosen) * 0.0  # every path dropped: a zero output of the right shape
        return _sum(layer.call(i, fixed, chosen) for i in kept)

    def _single_path(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        index = self.rng.randrange(len(spec.labels))
        count = self.rng.randint(spec.input_low, spec.input_high)
        inputs = sorted(self.rng.sample(range(len(optional)), count))
        return layer.call(index, fixed, [optional[i] for i in inputs])

    # -- derivation ---------------------------------------------------------------------------------

    def fix(self, architecture: Architecture | None) -> None:
        """Run `architecture` (a subgraph) from now on; None goes back to training the supernet."""
        self.fixed = architecture
        self._fixed_choice = {}
        if architecture is not None:
            for key, spec in self.specs.items():
                self._fixed_choice[key] = self.decode_choice(spec, architecture)

    def derive(
        self,
        evaluate: Callable[[], float],
        budget: int | None = None,
        search: str | None = None,
        *,
        maximize: bool | None = None,
    ) -> Architecture:
        """Score subnets with the shared weights through `evaluate()` and return the best one.

        `evaluate` takes no argument and returns a number (higher is better unless
        `optimize_mode: minimize` or `maximize=False`); the subnet it scores is fixed while it runs.
        """
        if not self.specs:
            raise TrialError("oneshot mode: derive_architecture() was called before any mutable layer ran; "
                             "train (or run one forward pass) first")
        budget = self.config.budget if budget is None else budget
        search = self.config.search if search is None else search
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise TrialError(f"derive_architecture(): budget must be a positive int, got {budget!r}")
        if search not in ("random", "evolution"):
            raise TrialError(f"derive_architecture(): search must be 'random' or 'evolution', got {search!r}")
        sign = 1.0 if (self.config.optimize_mode == "maximize" if maximize is None else maximize) else -1.0
        previous = self.fixed
        self.best = None
        seen: dict[str, float] = {}

        def score(arch: Architecture) -> float:
            key = repr(arch)
            if key not in seen:
                self.fix(arch)
                value = evaluate()
                if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                    raise TrialError(f"derive_architecture(): evaluate() must return a number, got {value!r}")
                seen[key] = sign * float(value)
                if self.best is None or seen[key] > self.best[1]:
                    self.best = (arch, seen[key])
            return seen[key]

        try:
            if search == "random":
                for _ in range(budget):
                    arch = self._unseen(seen)
                    if arch is None:
                        break
                    score(arch)
            else:
                self._evolution(score, budget)
        finally:
            self.fix(previous)
        if self.best is None:  # budget >= 1, so at least one subnet was scored
            raise TrialError("derive_architecture(): no subnet was evaluated")
        return self.best[0]

    def _unseen(self, seen: Mapping[str, float], attempts: int = 100) -> Architecture | None:
        """A uniformly sampled subnet not scored yet; None when `attempts` draws found none."""
        for _ in range(attempts):
            arch = self.uniform_architecture()
            if repr(arch) not in seen:
                return arch
        return None

    def _evolution(self, score: Callable[[Architecture], float], budget: int) -> None:
        """Regularized evolution: tournament of `sample_size`, mutate the winner, drop the oldest."""
        population: deque[tuple[Architecture, float]] = deque()
        size = min(self.config.population, budget)
        for _ in range(size):
            arch = self.uniform_architecture()
            population.append((arch, score(arch)))
        for _ in range(budget - size):
            contenders = self.rng.sample(list(population), min(self.config.sample_size, len(population)))
            parent = max(contenders, key=lambda item: item[1])[0]
            child = self._mutate(parent)
            population.append((child, score(child)))
            population.popleft()

    def _mutate(self, parent: Architecture) -> Architecture:
        child = {block: {layer: dict(choice) for layer, choice in layers.items()} for block, layers in parent.items()}
        spec = self.rng.choice(list(self.specs.values()))
        fresh = self.uniform_architecture()[spec.block_key][spec.layer_key]
        target = child[spec.block_key][spec.layer_key]
        if spec.input_high > 0 and self.rng.random() < 0.5:
            target["chosen_inputs"] = fresh["chosen_inputs"]
        else:
            target["chosen_layer"] = fresh["chosen_layer"]
        return child

    def derived_architecture(self) -> Architecture | None:
        """The best subnet `derive` found; None before any derivation (a trial that never called
        `nas.derive_architecture(evaluate)` reports no architecture: there is nothing to rank by)."""
        return self.best[0] if self.best is not None else None


def _sum(values: Any) -> Any:
    iterator = iter(values)
    total = next(iterator)
    for value in iterator:
        total = total + value
    return total
