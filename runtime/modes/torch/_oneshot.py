"""oneshot mode for PyTorch: the full graph trained through path dropout, single-path (SPOS), any-path or full-path.

- `strategy: dropout` (Bender et al. 2018, NNI's oneshot_mode): during training every optional input
  and every candidate output of a layer is dropped independently with probability `rate = r ** (1/k)`
  (`k` = the number of inputs, resp. candidates; `nasctl.runtime.modes._spec.drop_rate`), so all `k` are
  dropped with probability `r` whatever the fan-in. A dropped input is passed to the candidates as
  zeros (the input list keeps its length); a dropped candidate is not run. When all candidates are
  dropped the layer's output is zero for that step, as in Bender et al. and NNI, where the dropped node
  contributes nothing to the sum; it happens with probability `r`. The kept outputs are summed.
  Kept paths are scaled by `1 / (1 - rate)` (inverted dropout), as NNI's oneshot_mode does through
  `tf.nn.dropout` and as the TensorFlow backend does, so that both frameworks train the same supernet:
  each path's expected contribution during training is its unscaled value, which is what the full
  graph outside training (nothing dropped, nothing scaled) and a fixed subnet during derivation run.
  Why this rule: the paper, as NNI's documentation quotes it, fixes the rate `r**(1/k)` but no
  rescaling, while NNI's implementation (the reference this mode reproduces) rescales through
  `tf.nn.dropout`; and one rule for both backends matters more than which (the recovery tests pass
  with either).
- `strategy: single_path` (Guo et al. 2019): each training step runs one uniformly sampled subgraph
  per layer: a candidate, an input count uniform in the size range, then that many inputs uniformly;
  the candidate gets exactly the chosen inputs, as in classic mode. Outside training the full graph
  runs at its expectation: the mean of the candidates, each input scaled by its chance of being chosen.
- `strategy: any_path` (NASRec's "binomial" any-path sampling, Zhang et al. 2023): each training step
  keeps each candidate of a layer with probability `p` (at least one: when none is kept, one drawn
  uniformly runs) and each optional input with probability `p` (the count then fitted to the size
  range); the kept candidates' outputs are averaged, so a step trains a random subnet family at the
  scale of one subnet. Outside training: the mean of the candidates, each input scaled by its chance.
- `strategy: full_path`: every candidate on the first `input_high` optional inputs, averaged, at every
  step (and outside training).
- warm-up (`warmup: {steps|samples|epochs}`): how far the script trains the supernet, counted by
  `nasctl.runtime.modes.Warmup`; the supernet checkpoint and the proxy-scored evolution over its
  subnets are `nasctl.runtime.modes.torch.supernet` (`nas.supernet`).
- derivation (`derive(evaluate)`): subnets are fixed one at a time (`fixed` architecture: every layer
  runs its chosen candidate on its chosen inputs, as in classic mode), `evaluate()` scores each with
  the shared weights, and the best is returned. `search: random` scores `budget` distinct uniformly
  sampled subnets (all of them when there are no more than `budget`); `search: evolution` is
  regularized evolution (Real et al. 2019) with `population` and `sample_size`. Both are
  `nasctl.runtime.modes._spec.search_architecture`, shared with the TensorFlow backend. With
  `max_params`, only subnets whose exact parameter count (`_cost.py`) is within it are scored.
- relaxed variables (`nas.nn` sizes): one option drawn uniformly per training step, a slice of the
  shared max-size weight; fixed subnets run their option; outside training the options' mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from nasctl.runtime.modes._options import OneShotOptions
from nasctl.runtime.modes._spec import Architecture, LayerSpec, drop_rate, kept_scale, search_architecture
from nasctl.runtime.modes.torch._backend import TorchOneShotBackend
from nasctl.runtime.modes.torch._layer import LayerCandidates


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
            self._fixed_choice[(spec.block_key, spec.layer_key)] = spec.decode(self.fixed)

    def value_weights(self, spec: LayerSpec, like: Any, training: bool | None) -> int | torch.Tensor:
        """A relaxed variable: the fixed subnet's option; in training one option drawn uniformly per
        step (the module runs that slice of its shared weight); outside training the mean of the options."""
        if self.fixed is not None:
            return self._fixed_choice[(spec.block_key, spec.layer_key)][0]
        if torch.is_grad_enabled() if training is None else training:
            return self.rng.randrange(len(spec.labels))
        device = like.device if isinstance(like, torch.Tensor) else None
        return torch.full((len(spec.labels),), 1.0 / len(spec.labels), device=device)

    def parameters_of(self, architecture: Architecture) -> float:
        """The exact parameter count of the subnet `architecture` (layers and `nas.nn` modules)."""
        from nasctl.runtime.modes.torch._cost import CostModel

        return CostModel("params").of_architecture(self.costs, self.specs, architecture)

    def drop_rate(self, k: int) -> float:
        """Per-path drop probability `r ** (1/k)`: all `k` paths are dropped with probability `r`."""
        return drop_rate(self.config.r, k)

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
        if self.config.strategy == "any_path":
            return self._any_path(layer, fixed, optional)
        if self.config.strategy == "full_path":
            return self._full_path(layer, fixed, optional)
        return self._dropout(layer, fixed, optional)

    def _expected(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        """The full graph at the scale training saw it on average.

        dropout: inverted dropout keeps each path's expected scale, so every candidate runs on every
        input, unscaled, and the outputs are summed. single_path: the mean of the candidates, each input
        scaled by its chance of being chosen.
        """
        spec = layer.spec
        n = len(spec.labels)
        if self.config.strategy == "dropout":
            chosen = list(optional) if spec.input_high else []
            return _sum(layer.call(i, fixed, chosen) for i in range(n))
        if self.config.strategy == "full_path":
            return self._full_path(layer, fixed, optional)
        if self.config.strategy == "any_path" and optional:
            keep_input = min(max(self.config.p * len(optional), spec.input_low), spec.input_high) / len(optional)
        else:
            keep_input = (spec.input_low + spec.input_high) / 2 / len(optional) if optional else 0.0
        chosen = [keep_input * x for x in optional] if spec.input_high else []
        return (1.0 / n) * _sum(layer.call(i, fixed, chosen) for i in range(n))

    def _dropout(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        if spec.input_high == 0:
            chosen: list[Any] = []
        else:
            rate = self.drop_rate(len(optional))
            scale = kept_scale(rate)
            chosen = [torch.zeros_like(x) if self.rng.random() < rate else scale * x for x in optional]
        rate = self.drop_rate(len(spec.labels))
        kept = [i for i in range(len(spec.labels)) if self.rng.random() >= rate]
        if not kept:
            return layer.call(0, fixed, chosen) * 0.0  # every path dropped: a zero output of the right shape
        return kept_scale(rate) * _sum(layer.call(i, fixed, chosen) for i in kept)

    def _single_path(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        index = self.rng.randrange(len(spec.labels))
        count = self.rng.randint(spec.input_low, spec.input_high)
        inputs = sorted(self.rng.sample(range(len(optional)), count))
        return layer.call(index, fixed, [optional[i] for i in inputs])

    def any_path_choice(self, spec: LayerSpec) -> tuple[list[int], list[int]]:
        """any_path's draw for one layer: the kept candidates and the kept optional inputs (indices).

        Each candidate is kept with probability `p` (NASRec's "binomial" sampling); when none is, one
        drawn uniformly runs, so a step always trains a subnet. Each optional input is kept with
        probability `p`, then inputs drawn uniformly are added or removed to fit the size range.
        """
        p = self.config.p
        kept = [i for i in range(len(spec.labels)) if self.rng.random() < p]
        if not kept:
            kept = [self.rng.randrange(len(spec.labels))]
        n = len(spec.input_labels)
        inputs = [i for i in range(n) if self.rng.random() < p]
        if len(inputs) < spec.input_low:
            inputs = sorted(inputs + self.rng.sample([i for i in range(n) if i not in inputs],
                                                     spec.input_low - len(inputs)))
        elif len(inputs) > spec.input_high:
            inputs = sorted(self.rng.sample(inputs, spec.input_high))
        return kept, inputs

    def _any_path(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        """The mean of the kept candidates on the kept inputs: one candidate runs at the scale of a subnet."""
        kept, inputs = self.any_path_choice(layer.spec)
        chosen = [optional[i] for i in inputs]
        return (1.0 / len(kept)) * _sum(layer.call(i, fixed, chosen) for i in kept)

    def _full_path(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        """The mean of every candidate on the most optional inputs the range allows (all, in code order)."""
        spec = layer.spec
        chosen = list(optional[: spec.input_high])
        n = len(spec.labels)
        return (1.0 / n) * _sum(layer.call(i, fixed, chosen) for i in range(n))

    # -- derivation ---------------------------------------------------------------------------------

    def fix(self, architecture: Architecture | None) -> None:
        """Run `architecture` (a subgraph) from now on; None goes back to training the supernet."""
        self.fixed = architecture
        self._fixed_choice = {}
        if architecture is not None:
            for key, spec in self.specs.items():
                self._fixed_choice[key] = spec.decode(architecture)

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
        The search is `nasctl.runtime.modes._spec.search_architecture`, shared with the TensorFlow backend.
        """
        previous = self.fixed

        def score(arch: Architecture) -> Any:
            self.fix(arch)
            return evaluate()

        try:
            self.best = search_architecture(
                list(self.specs.values()), score,
                budget=self.config.budget if budget is None else budget,
                search=self.config.search if search is None else search,
                maximize=self.config.optimize_mode == "maximize" if maximize is None else maximize,
                rng=self.rng, population=self.config.population, sample_size=self.config.sample_size,
                feasible=None if self.config.max_params is None else (
                    lambda arch: self.parameters_of(arch) <= self.config.max_params),
            )
        finally:
            self.fix(previous)
        return self.best[0]

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
