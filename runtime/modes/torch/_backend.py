"""The part every one-shot torch backend shares: layer bookkeeping, the contract's trial side.

Life of a backend in a trial (the trial runtime drives it through the `LayerBackend` contract; a test
can drive it by hand, `Backend(options, seed=...)`):

1. `resolve(layer)` is what `mutable_layer(...)` resolves to for `(torch, mode)`; `layer(...)` runs
   one layer directly (a test, no trial). The first call of a layer on an owner builds its candidates
   (`LayerCandidates`) and, the first time the layer is seen at all, the mode's per-layer state
   (darts: its architecture weights, shared by owners); every call runs `_forward_impl`.
2. `set_architecture(arch)`: the trial received a parameter set (enas: the next subgraph).
3. `training_update(**kwargs)` is `nas.training_update(...)`: a step of the mode (an architecture
   optimizer step, the next subgraph).
4. `on_final_result(value)` is called by the runtime after each `report_final_result` (enas: the reward
   of the current subgraph); `derived_architecture()` is what the trial reports when it ends.

Hooks (`FrameworkBackend`) the trial sets on `attach`, all optional: `reporter(value)` sends the mode's
architecture-weight values (`{"default": ..., "arch_weights": ..., "step": ...}`, an `arch_weights`
metric), `fetch_parameters()` asks the dispatcher for the next parameters (enas),
`report_architecture(arch)` sends a derived architecture, and (enas) `report_reward(value)` reports a
reward as a final result.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from nasctl.runtime.modes._backend import FrameworkBackend, LayerRequest
from nasctl.runtime.modes._backend import LayerCall as TrialLayerCall
from nasctl.runtime.modes._optimizer_check import OptimizerCheck
from nasctl.runtime.modes._spec import LayerSpec, remember_spec
from nasctl.runtime.modes.torch._cost import CostTerm, count_flops
from nasctl.runtime.modes.torch._layer import CandidateTable, LayerCandidates, first_tensor
from torch import nn

LayerCall = Callable[[list[Any], list[Any]], Any]


class TorchOneShotBackend(FrameworkBackend):
    """Base of the enas, oneshot and darts backends for PyTorch; see the module docstring."""

    framework: ClassVar[str | None] = "torch"
    registry_factory = nn.ModuleDict
    update_keys: ClassVar[frozenset[str]] = frozenset({"loss", "train_loss", "model", "lr", "epoch"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self.generator = torch.Generator()
        self.generator.manual_seed(self.rng.randrange(2**63))
        self.costs: dict[str, CostTerm] = {}  # per layer / nas.nn module: its cost per choice (_cost.py)
        self.count_flops = False  # count each candidate's FLOPs on its first forward (a flops cost model)
        self._owned: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, str], LayerCall]] = (
            weakref.WeakKeyDictionary()
        )
        self._unowned: dict[tuple[str, str], LayerCall] = {}
        self.optimizer_check = OptimizerCheck()

    # -- the layer call -----------------------------------------------------------------------------

    def resolve(self, layer: LayerRequest) -> TrialLayerCall:
        """The contract's per-call function of one layer on one owner (see `layer_call`)."""
        run = self.layer_call(layer.block_key, layer.layer_key, layer.candidates, layer.optional_inputs,
                              layer.optional_input_size, layer.owner)

        def call(candidates: CandidateTable, fixed: list[Any], optional: Mapping[str, Any]) -> Any:
            return run(list(fixed), list(optional.values()))

        return call

    def layer_call(
        self,
        block_key: str,
        layer_key: str,
        candidates: CandidateTable,
        optional_inputs: Mapping[str, Any],
        optional_input_size: int | Sequence[int],
        owner: Any = None,
    ) -> LayerCall:
        """The per-call function `call(fixed_values, optional_values)` of one layer on one owner.

        The first resolve of a layer on an owner builds its candidates; later ones return the same.
        """
        layers = self._owned.setdefault(owner, {}) if isinstance(owner, nn.Module) else self._unowned
        call = layers.get((block_key, layer_key))
        if call is None:
            built = self._build(block_key, layer_key, candidates, optional_inputs, optional_input_size, owner)
            forward = self._forward_impl
            name = built.spec.where

            def call(fixed: list[Any], optional: list[Any]) -> Any:
                out = forward(built, fixed, optional)
                if name not in self.costs:
                    self._layer_cost(built, fixed, optional)
                return out

            layers[(block_key, layer_key)] = call
        return call

    def _layer_cost(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> None:
        """Record a layer's cost per candidate (parameters; FLOPs per example when a model needs them)."""
        spec = layer.spec
        chosen = list(optional[: spec.input_high])
        layer.materialize(fixed, chosen)
        params = torch.tensor(layer.parameter_counts(), dtype=torch.float64)
        flops = None
        if self.count_flops:
            like = first_tensor(list(fixed) + chosen)
            batch = int(like.shape[0]) if like is not None and like.dim() else 1
            flops = torch.tensor([count_flops(lambda i=i: layer.call(i, fixed, chosen), batch)
                                  for i in range(len(spec.labels))], dtype=torch.float64)
        self.costs[spec.where] = CostTerm(((spec.block_key, spec.layer_key),), params, flops)

    # -- relaxed variables (nas.nn) -------------------------------------------------------------------

    def value_choice(self, key: str, options: Sequence[Any]) -> LayerSpec:
        """Register the relaxed `choice` variable `key` (first use creates the mode's state); its spec."""
        spec = LayerSpec.of_value(key, options)
        if remember_spec(self.specs, spec):
            self._new_layer_impl(spec)
        return spec

    def value_weights(self, spec: LayerSpec, like: torch.Tensor | None, training: bool | None) -> int | torch.Tensor:
        """How a `nas.nn` module uses its choice `spec` on this call: an option index (run that size),
        or a weight per option to mix (shape `[K]`, or `[batch, K]` per example). `training` None:
        whether autograd records (a function choice has no module to ask)."""
        raise NotImplementedError

    def mix_values(self, weights: torch.Tensor, outputs: Sequence[Any]) -> Any:
        """`sum_k w_k * outputs_k` (per-example weights `[batch, K]` scale each example)."""
        total: Any = 0
        for w, out in zip(weights.unbind(-1), outputs, strict=True):
            if w.dim() and isinstance(out, torch.Tensor):
                w = w.reshape(-1, *([1] * (out.dim() - 1)))
            total = total + w * out
        return total

    def add_cost(self, name: str, term: CostTerm) -> None:
        """Record the cost table of a `nas.nn` module (see `_cost.py`); once per module."""
        self.costs.setdefault(name, term)

    def _build(
        self,
        block_key: str,
        layer_key: str,
        candidates: CandidateTable,
        optional_inputs: Mapping[str, Any],
        optional_input_size: int | Sequence[int],
        owner: Any,
    ) -> LayerCandidates:
        spec = LayerSpec.of_call(block_key, layer_key, tuple(candidates), tuple(optional_inputs),
                                 optional_input_size)
        if remember_spec(self.specs, spec):
            self._new_layer_impl(spec)
        built = LayerCandidates(spec, candidates, owner, self.registry)
        for label, module in zip(candidates, built.modules, strict=True):
            self.optimizer_check.track(owner, module, f"{block_key}/{layer_key}", label)
        return built

    def _new_layer_impl(self, spec: LayerSpec) -> None:
        """Create the mode's state of a layer seen for the first time (any owner)."""

    def _forward_impl(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        """One call of a built layer: `fixed` and `optional` are the values of this call."""
        raise NotImplementedError

    # -- the trial's hooks --------------------------------------------------------------------------

    def training_update(self, **kwargs: Any) -> None:
        """`nas.training_update(...)`: one step of the mode (see each backend)."""
        self.check_update(kwargs, f"{self.mode} mode")
        self._training_update_impl(**kwargs)

    def _training_update_impl(self, **kwargs: Any) -> None:
        """Nothing to do by default (oneshot)."""

    def close(self) -> None:
        """The trial is ending: remove the optimizer check's hook."""
        self.optimizer_check.close()
