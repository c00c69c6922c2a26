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

Hooks the runtime sets, all optional: `reporter(value)` sends an intermediate result (the mode's
architecture-weight values as `{"default": ..., ...}`), `fetch_parameters()` asks the dispatcher for the
next parameters (enas), `report_architecture(arch)` sends a derived architecture, and (enas)
`report_reward(value)` reports a reward as a final result.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from runtime.errors import ArchitectureError, TrialError
from runtime.modes.torch._layer import CandidateTable, LayerCandidates, LayerSpec, input_size_bounds

Architecture = dict[str, Any]
LayerCall = Callable[[list[Any], list[Any]], Any]

_TRAINING_UPDATE_KEYS = frozenset({"loss", "train_loss", "model", "lr"})


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
        self._owned: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, str], LayerCall]] = (
            weakref.WeakKeyDictionary()
        )
        self._unowned: dict[tuple[str, str], LayerCall] = {}

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
            call = layers[(block_key, layer_key)] = lambda fixed, optional: forward(built, fixed, optional)
        return call

    def _build(
        self,
        block_key: str,
        layer_key: str,
        candidates: CandidateTable,
        optional_inputs: Mapping[str, Any],
        optional_input_size: int | Sequence[int],
        owner: Any,
    ) -> LayerCandidates:
        where = f"{block_key}/{layer_key}"
        if not candidates:
            raise ArchitectureError("a mutable layer needs at least one candidate in layer_choice", where)
        low, high = input_size_bounds(optional_input_size, len(optional_inputs), where)
        spec = LayerSpec(block_key, layer_key, tuple(candidates), tuple(optional_inputs), low, high)
        known = self.specs.get((block_key, layer_key))
        if known is not None and known != spec:
            raise ArchitectureError(
                "the same layer key is called with different candidates or inputs; "
                "give each mutable layer its own layer_output",
                where,
            )
        if known is None:
            self.specs[(block_key, layer_key)] = spec
            self._new_layer_impl(spec)
        return LayerCandidates(spec, candidates, owner, self.registry)

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

    def finish(self) -> Architecture | None:
        """Derive the architecture and send it through `report_architecture`; returns it (None if none)."""
        if not self.specs:
            return None
        arch = self.derived_architecture()
        if arch is not None and self.report_architecture is not None:
            self.report_architecture(arch)
        return arch

    # -- helpers shared by the modes ----------------------------------------------------------------

    def uniform_architecture(self) -> Architecture:
        """A uniformly sampled subgraph: a candidate, an input count in range, then that many inputs."""
        arch: Architecture = {}
        for spec in self.specs.values():
            count = self.rng.randint(spec.input_low, spec.input_high)
            picked = sorted(self.rng.sample(range(len(spec.input_labels)), count))
            arch.setdefault(spec.block_key, {})[spec.layer_key] = {
                "chosen_layer": self.rng.choice(spec.labels),
                "chosen_inputs": [spec.input_labels[i] for i in picked],
            }
        return arch

    def decode_choice(self, spec: LayerSpec, architecture: Mapping[str, Any]) -> tuple[int, tuple[int, ...]]:
        """`(candidate index, input indices)` of `spec` in `architecture`, checked against the layer."""
        block = architecture.get(spec.block_key)
        if not isinstance(block, Mapping) or not isinstance(block.get(spec.layer_key), Mapping):
            raise ArchitectureError(f"no choice for layer '{spec.layer_key}'", spec.block_key)
        choice = block[spec.layer_key]
        label = choice.get("chosen_layer")
        if label not in spec.labels:
            raise ArchitectureError(
                f"layer '{spec.layer_key}': chosen_layer {label!r} is not one of {list(spec.labels)}",
                spec.block_key,
            )
        inputs = choice.get("chosen_inputs", [])
        unknown = [name for name in inputs if name not in spec.input_labels]
        if unknown or not spec.input_low <= len(inputs) <= spec.input_high or len(set(inputs)) != len(inputs):
            raise ArchitectureError(
                f"layer '{spec.layer_key}': chosen_inputs {inputs!r} must be {spec.input_low} to "
                f"{spec.input_high} distinct names of {list(spec.input_labels)}",
                spec.block_key,
            )
        return spec.labels.index(label), tuple(spec.input_labels.index(name) for name in inputs)


def top_inputs(spec: LayerSpec, scores: Sequence[float], threshold: float | None) -> list[str]:
    """The optional inputs to keep: by descending score, those above `threshold` clamped to the range.

    With `threshold=None` the count is the range's upper bound.
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    count = spec.input_high if threshold is None else sum(1 for s in scores if s > threshold)
    count = min(max(count, spec.input_low), spec.input_high)
    return [spec.input_labels[i] for i in sorted(order[:count])]
