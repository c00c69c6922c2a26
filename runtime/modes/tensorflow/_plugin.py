"""The TensorFlow backends as entries of the `(framework, mode)` registry (`nasctl.runtime.modes`).

Each entry is a `LayerBackend` that holds one `TensorFlowBackend` per trial context and connects it
to the context: the mode's options come from `NAS_MODE_CONFIG` (`context.mode_config[mode]`), the seed
from the platform, candidates without an owner go to `nas.candidates()`, darts reports its
architecture weights as intermediate results, enas fetches its next subgraph as the trial's next
parameters. The context's hooks reach the backend as `inner` (as for `nasctl.runtime.modes._adapter`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from nasctl.runtime.modes._backend import CandidateTable, LayerBackend, LayerCall, LayerRequest
from nasctl.runtime.modes.tensorflow._backend import ClassicBackend, TensorFlowBackend
from nasctl.runtime.modes.tensorflow._darts import DartsBackend
from nasctl.runtime.modes.tensorflow._enas import EnasBackend
from nasctl.runtime.modes.tensorflow._oneshot import OneShotBackend


class TensorFlowLayerBackend(LayerBackend):
    """A registry entry for `(tensorflow, mode)`: a `TensorFlowBackend` bound to a trial context."""

    framework = "tensorflow"
    implementation: ClassVar[type[TensorFlowBackend]]

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        #: The backend itself; `nas.arch_parameters()` and `nas.derive_architecture()` find it here.
        self.inner = self.implementation(context.mode_options(self.mode), seed=context.platform.seed)
        self.inner.registry = context.candidate_registry("tensorflow")  # type: ignore[assignment]
        self.inner.reporter = context.report_arch_weights
        if context.parameters:
            self.inner.set_architecture(context.parameters)

    def resolve(self, layer: LayerRequest) -> LayerCall:
        inner, block_key, layer_key = self.inner, layer.block_key, layer.layer_key
        size, owner = layer.optional_input_size, layer.owner

        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            return inner.layer(block_key, layer_key, candidates, fixed, optional, size, owner)

        return call

    def on_parameters(self, parameters: dict[str, Any]) -> None:
        self.inner.set_architecture(parameters)

    def training_update(self, **kwargs: Any) -> None:
        self.inner.training_update(**kwargs)

    def on_final_result(self, value: Any) -> None:
        """A final result was reported (enas: the reward of the subgraph that ran)."""
        self.inner.on_final_result(value)

    def derive_architecture(self) -> dict[str, Any] | None:
        if not self.inner.specs:
            return None
        return self.inner.derived_architecture()

    def arch_parameters(self) -> list[Any]:
        """The architecture weights (darts); empty otherwise."""
        return self.inner.arch_parameters()


class TensorFlowClassic(TensorFlowLayerBackend):
    """classic for TensorFlow: the context decides each layer's choice (sampling it standalone)."""

    mode = "classic"
    implementation = ClassicBackend

    def resolve(self, layer: LayerRequest) -> LayerCall:
        self.context.layer_choice(layer)  # checks the choice, or samples it where the platform may
        self.inner.set_architecture(self.context.parameters)
        return super().resolve(layer)

    def derive_architecture(self) -> dict[str, Any] | None:
        return None


class TensorFlowEnas(TensorFlowLayerBackend):
    """enas for TensorFlow: the next subgraph is the trial's next parameter set."""

    mode = "enas"
    implementation = EnasBackend

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.inner.fetch_parameters = context.get_next_parameter


class TensorFlowOneShot(TensorFlowLayerBackend):
    """oneshot for TensorFlow; `nas.derive_architecture(evaluate)` runs `OneShotBackend.derive`."""

    mode = "oneshot"
    implementation = OneShotBackend

    def derive_architecture(self) -> dict[str, Any] | None:
        return self.inner.derived


class TensorFlowDarts(TensorFlowLayerBackend):
    """darts for TensorFlow."""

    mode = "darts"
    implementation = DartsBackend

