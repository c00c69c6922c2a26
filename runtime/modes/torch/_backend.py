"""The part every one-shot torch backend shares: layer bookkeeping, hooks to the trial runtime.

Life of a backend in a trial (the trial runtime drives it; a test can drive it by hand):

1. `layer(...)` is what `_nas.mutable_layer(...)` resolves to for `(torch, mode)`; `resolve(...)`
   returns the per-call function of one layer on one owner, for a runtime that caches it. The first
   call of a layer on an owner builds its candidates (`LayerCandidates`) and, the first time the layer
   is seen at all, the mode's per-layer state (darts: its architecture weights, shared by owners);
   every call runs `_forward_impl`.
2. `training_update(**kwargs)` is `nas.training_update(...)`: a step of the mode (an architecture
   optimizer step, the next subgraph).
3. `on_final_result(value)` is called by the runtime after each `report_final_result` (enas: the reward
   of the current subgraph); `derived_architecture()` is what the trial reports when it ends.

Hooks the runtime sets, all optional: `reporter(value)` sends the mode's
architecture-weight values (`{"default": ..., "arch_weights": ..., "step": ...}`, an `arch_weights` metric), `fetch_parameters()` asks the dispatcher for the
next parameters (enas), `report_architecture(arch)` sends a derived architecture, and (enas)
`report_reward(value)` reports a reward as a final result.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._optimizer_check import OptimizerCheck
from nasctl.runtime.modes._spec import Architecture, LayerSpec, remember_spec
from nasctl.runtime.modes.torch._cost import CostTerm, count_flops
from nasctl.runtime.modes.torch._layer import CandidateTable, LayerCandidates, first_tensor
from torch import nn

LayerCall = Callable[[list[Any], list[Any]], Any]

_TRAINING_UPDATE_KEYS = frozenset({"loss", "train_loss", "model", "lr", "epoch"})


class TorchOneShotBackend:
    """Base of the enas, oneshot and darts backends for PyTorch; see the module docstring."""

    mode: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.rng = random.Random(seed)
        self.generator = torch.Generator()
        self.generator.manual_seed(self.rng.randrange(2**63))
        self.registry = nn.ModuleDict()
        self.reporter: Callable[[Any], None] | None = None
        self.report_architecture: Callable[[Architecture], None] | None = None
        self.fetch_parameters: Callable[[], Mapping[str, Any] | None] | None = None
        self.specs: dict[tuple[str, str], LayerSpec] = {}
        self.costs: dict[str, CostTerm] = {}  # per layer / nas.nn module: its cost per choice (_cost.py)
        self.count_flops = False  # count each candidate's FLOPs on its first forward (a flops cost model)
        self._owned: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, str], LayerCall]] = (
            weakref.WeakKeyDictionary()
        )
        self._unowned: dict[tuple[str, str], LayerCall] = {}
        self.optimizer_check = OptimizerCheck()

    # -- the layer call -----------------------------------------------------------------------------

    def layer(
        self,
        block_key: str,
        layer_key: str,
        candidates: CandidateTable,
        fixed_inputs: Sequence[Any],
        optional_inputs: Mapping[str, Any],
        optional_input_size: int | Sequence[int],
        owner: Any = None,
    ) -> Any:
        """Run one mutable layer in this backend's mode; arguments as in docs/internals.md."""
        call = self.resolve(block_key, layer_key, candidates, optional_inputs, optional_input_size, owner)
        return call(list(fixed_inputs), list(optional_inputs.values()))

    def resolve(
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
        unknown = sorted(set(kwargs) - _TRAINING_UPDATE_KEYS)
        if unknown:
            raise TrialError(
                f"{self.mode} mode: training_update() got unknown argument(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(_TRAINING_UPDATE_KEYS))}"
            )
        self._training_update_impl(**kwargs)

    def _training_update_impl(self, **kwargs: Any) -> None:
        """Nothing to do by default (oneshot)."""

    def on_final_result(self, value: Any) -> None:
        """Called by the runtime after each `report_final_result(value)`; nothing by default."""

    def arch_parameters(self) -> list[torch.Tensor]:
        """The architecture weights (darts); empty for modes without any."""
        return []

    def derived_architecture(self) -> Architecture | None:
        """The architecture this trial derived so far, in the format of DESIGN.md §3 (None: none yet)."""
        raise NotImplementedError

    def close(self) -> None:
        """The trial is ending: remove the optimizer check's hook."""
        self.optimizer_check.close()

    def finish(self) -> Architecture | None:
        """Derive the architecture and send it through `report_architecture`; returns it (None if none)."""
        if not self.specs:
            return None
        arch = self.derived_architecture()
        if arch is not None and self.report_architecture is not None:
            self.report_architecture(arch)
        return arch
