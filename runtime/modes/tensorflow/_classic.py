"""classic mode for TensorFlow: only the chosen candidate is built and run, on the chosen inputs.

In a trial, each layer's choice is the trial context's (`layer_choice`: checked, or sampled where a
standalone trial may); driven by hand, the backend runs the architecture it was given
(`ClassicBackend(architecture=...)` or `set_architecture`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._backend import LayerCall, LayerRequest
from nasctl.runtime.modes._spec import Architecture
from nasctl.runtime.modes.tensorflow._backend import Layer, TensorFlowBackend

__all__ = ["ClassicBackend"]


class ClassicBackend(TensorFlowBackend):
    """classic: only the chosen candidate is built and run, on the chosen inputs in the chosen order.

    In graph style only the chosen candidate's ops and variables enter the graph.
    """

    mode = "classic"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 architecture: Architecture | None = None) -> None:
        self._decoded: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        super().__init__(options, seed=seed, architecture=architecture)

    def resolve(self, layer: LayerRequest) -> LayerCall:
        if self.context is not None:
            self.context.layer_choice(layer)  # checks the choice, or samples it where the platform may
            assert self.context.parameters is not None
            self.set_architecture(self.context.parameters)
        return super().resolve(layer)

    def _architecture_impl(self, architecture: Architecture) -> None:
        self._decoded.clear()

    def _forward_impl(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        if self.architecture is None:
            raise TrialError(
                f"classic mode: layer '{layer.spec.where}' ran before the trial received an architecture; "
                "call nas.get_next_parameter() first, or run with --arch FILE"
            )
        key = (layer.spec.block_key, layer.spec.layer_key)
        decoded = self._decoded.get(key)
        if decoded is None:
            decoded = self._decoded[key] = layer.spec.decode(self.architecture)
        candidate, inputs = decoded
        return layer.call(candidate, fixed, [optional[i] for i in inputs])
