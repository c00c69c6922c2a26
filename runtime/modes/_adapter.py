"""Registry entries for the backends of `nasctl.runtime.modes.torch` (enas, oneshot, darts).

Those backends are objects built as `Backend(options, seed=...)` that run a layer with
`layer(block_key, layer_key, candidates, fixed, optional, size, owner)` and take the trial's hooks as
attributes (`reporter`, `fetch_parameters`, `report_architecture`); see their package docstring.
(`nasctl.runtime.modes.tensorflow` brings its own registry entries, `nasctl.runtime.modes.tensorflow.ENTRIES`.)
`ForeignBackend` wraps one as a `LayerBackend`, so a registry entry names it like any other backend.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from nasctl.runtime.modes._backend import CandidateTable, LayerBackend, LayerCall, LayerRequest

__all__ = ["ForeignBackend"]


def _load(target: str) -> type:
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


class ForeignBackend(LayerBackend):
    """A framework package's backend (`target`, `"module:Class"`) driven by the trial context."""

    target: ClassVar[str] = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.inner = _load(self.target)(context.mode_options(self.mode), seed=context.platform.seed)
        self.inner.reporter = context.report_arch_weights
        self.inner.fetch_parameters = context.get_next_parameter
        # The context reports `derive_architecture()` itself, just before the final result.
        self.inner.report_architecture = None
        if hasattr(self.inner, "report_reward"):  # enas: `training_update(loss=...)` reports -loss
            self.inner.report_reward = context.report_final_result
        registry = getattr(self.inner, "registry", None)
        if registry is not None:
            context.candidate_registry(self.framework, lambda: registry)
        self._architecture_set = False

    def engine(self) -> Any:
        """The framework backend, with the trial's architecture set where it runs one (enas); what a
        `nas.nn` module asks for its relaxed choices."""
        inner = self.inner
        if hasattr(inner, "set_architecture") and not self._architecture_set:
            inner.set_architecture(self.context.current_parameters())
            self._architecture_set = True
        return inner

    def resolve(self, layer: LayerRequest) -> LayerCall:
        inner = self.engine()
        block_key, layer_key, size, owner = layer.block_key, layer.layer_key, layer.optional_input_size, layer.owner

        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            return inner.layer(block_key, layer_key, candidates, fixed, optional, size, owner)
        return call

    def on_parameters(self, parameters: dict[str, Any]) -> None:
        if hasattr(self.inner, "set_architecture"):
            self.inner.set_architecture(parameters)
            self._architecture_set = True

    def training_update(self, **kwargs: Any) -> None:
        self.inner.training_update(**kwargs)

    def on_final_result(self, value: Any) -> None:
        self.inner.on_final_result(value)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def derive_architecture(self) -> dict[str, Any] | None:
        if self.mode == "classic" or not getattr(self.inner, "specs", None):
            return None
        return self.inner.derived_architecture()


def _foreign(framework: str, mode: str, target: str) -> type[ForeignBackend]:
    return type(f"{framework.title()}{mode.title()}Backend", (ForeignBackend,),
                {"framework": framework, "mode": mode, "target": target, "__module__": __name__})


TorchEnasBackend = _foreign("torch", "enas", "nasctl.runtime.modes.torch:EnasBackend")
TorchOneshotBackend = _foreign("torch", "oneshot", "nasctl.runtime.modes.torch:OneShotBackend")
TorchDartsBackend = _foreign("torch", "darts", "nasctl.runtime.modes.torch:DartsBackend")
